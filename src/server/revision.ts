import type { FastifyReply, FastifyRequest } from 'fastify'
import { z } from 'zod'
import { isOpenSyncError, OpenSyncError } from '../sdk/errors.ts'

/** The `If-Match` request header of an edit, for the OpenAPI document (other headers pass). */
export const ifMatchHeaders = z.looseObject({
  'if-match': z
    .string()
    .max(100)
    .optional()
    .describe('The ETag (revision) the edit is based on; a newer stored revision answers 412.'),
})

/** The ETag of a task revision. */
export function etagOf(revision: number): string {
  return `"${revision}"`
}

/** Sends the task's revision as its ETag. */
export function setEtag(reply: FastifyReply, revision: number): void {
  void reply.header('etag', etagOf(revision))
}

/**
 * The revision an edit is based on, from `If-Match` (`"3"`, `W/"3"` or `3`); undefined
 * without the header or with `*`. OSY_INVALID_REQUEST for anything else.
 */
export function expectedRevision(request: FastifyRequest): number | undefined {
  const header = request.headers['if-match']
  if (header === undefined || header.trim() === '*') return undefined
  const match = /^\s*(?:W\/)?"?(\d{1,15})"?\s*$/.exec(String(header))
  if (!match) {
    throw new OpenSyncError(
      'OSY_INVALID_REQUEST',
      `If-Match must be a task's ETag, not ${header}`,
      {
        details: { field: 'If-Match' },
      },
    )
  }
  return Number(match[1])
}

/** A stale revision as 412 (the store's OSY_REVISION_CONFLICT is a 409 for the CLI). */
export function staleAs412(error: unknown): never {
  if (isOpenSyncError(error) && error.code === 'OSY_REVISION_CONFLICT') {
    throw new OpenSyncError('OSY_STALE_REVISION', error.message, {
      cause: error,
      details: error.details,
    })
  }
  throw error
}

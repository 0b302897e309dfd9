import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod'
import { z } from 'zod'
import {
  coerceError,
  ERRORS,
  type ErrorCode,
  isOpenSyncError,
  OpenSyncError,
} from '../sdk/errors.ts'

/** The media type of every error response (RFC 9457). */
export const PROBLEM_TYPE = 'application/problem+json'

/** An error response: RFC 9457's members plus the stable `code` of the error catalogue. */
export const problemSchema = z
  .object({
    type: z.string().describe('urn:opensync:error:<code>'),
    title: z.string().describe("The catalogue's title of the code."),
    status: z.int(),
    detail: z.string().describe('What went wrong, for a person.'),
    code: z
      .string()
      .describe('The stable error code (src/sdk/errors.ts), e.g. OSY_TASK_NOT_FOUND.'),
    instance: z.string().optional().describe('The request path.'),
    issues: z
      .array(z.object({ path: z.string(), message: z.string() }))
      .optional()
      .describe('Each problem of an invalid request or task document.'),
    details: z.record(z.string(), z.unknown()).optional(),
  })
  .meta({ id: 'Problem' })

/** An error response's body. */
export type Problem = z.infer<typeof problemSchema>

/** The problem of an OpenSyncError; internals (5xx messages, causes, stacks) stay out. */
export function toProblem(error: OpenSyncError, instance?: string): Problem {
  const def = ERRORS[error.code]
  // A server-side failure's message may name tables, hosts or statements: only its title goes out.
  const internal = error.status >= 500 && error.kind !== 'user'
  const { issues, ...details } = error.details as Record<string, unknown>
  return {
    type: `urn:opensync:error:${error.code}`,
    title: def.title,
    status: error.status,
    detail: internal ? `${def.title}; the service log has the details` : error.message,
    code: error.code,
    ...(instance !== undefined ? { instance } : {}),
    ...(Array.isArray(issues) && !internal ? { issues: issues.map(issueOf) } : {}),
    ...(!internal && Object.keys(details).length > 0 ? { details } : {}),
  }
}

function issueOf(issue: unknown): { path: string; message: string } {
  const i = issue as { path?: unknown; message?: unknown }
  return { path: String(i.path ?? ''), message: String(i.message ?? '') }
}

/** Sends the problem of `error` with its status. */
export function sendProblem(reply: FastifyReply, error: OpenSyncError): FastifyReply {
  const problem = toProblem(error, reply.request.url.split('?')[0])
  return reply.code(problem.status).type(PROBLEM_TYPE).send(JSON.stringify(problem))
}

/** Fastify's own error codes that are the client's fault, with ours. */
const FASTIFY_CODES: Readonly<Record<string, ErrorCode>> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'OSY_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'OSY_INVALID_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'OSY_INVALID_REQUEST',
  FST_ERR_CTP_BODY_TOO_LARGE: 'OSY_INVALID_REQUEST',
  FST_ERR_CTP_INVALID_JSON_BODY: 'OSY_INVALID_REQUEST',
  FST_ERR_VALIDATION: 'OSY_INVALID_REQUEST',
  FST_ERR_BAD_URL: 'OSY_INVALID_REQUEST',
  FST_ERR_MAX_PARAM_LENGTH: 'OSY_INVALID_REQUEST',
}

/**
 * Everything a route throws as an OpenSyncError: catalogue errors as they are, schema
 * validation as OSY_INVALID_REQUEST with one issue per problem, Fastify's client errors
 * (malformed JSON, wrong media type, a body too large) with their status, and anything
 * else as OSY_INTERNAL.
 */
export function coerceRequestError(error: unknown): OpenSyncError {
  if (isOpenSyncError(error)) return error
  if (hasZodFastifySchemaValidationErrors(error)) {
    const where = (error as { validationContext?: string }).validationContext ?? 'request'
    const issues = error.validation.map((v) => ({
      path: `${where}${v.instancePath.replaceAll('/', '.')}`,
      message: v.message ?? 'invalid',
    }))
    return new OpenSyncError(
      'OSY_INVALID_REQUEST',
      `the request is not valid: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
      { details: { issues } },
    )
  }
  const fe = error as Partial<FastifyError>
  const code = fe.code !== undefined ? FASTIFY_CODES[fe.code] : undefined
  if (code !== undefined) return new OpenSyncError(code, fe.message ?? 'invalid request')
  if (
    typeof fe.statusCode === 'number' &&
    fe.statusCode >= 400 &&
    fe.statusCode < 500 &&
    fe.statusCode !== 429
  ) {
    const error = new OpenSyncError('OSY_INVALID_REQUEST', fe.message ?? 'invalid request')
    return Object.assign(error, { status: fe.statusCode })
  }
  if (fe.statusCode === 429) return new OpenSyncError('OSY_RATE_LIMITED', 'too many requests')
  return coerceError(error)
}

/** The error handler of the server: every error leaves as problem+json, 5xx ones logged. */
export function errorHandler(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const e = coerceRequestError(error)
  if (e.status >= 500) {
    request.log.error({ err: e.toJSON(), cause: causeOf(e) }, 'request failed')
  }
  void sendProblem(reply, e)
}

function causeOf(error: OpenSyncError): string | undefined {
  return error.cause instanceof Error ? error.cause.message : undefined
}

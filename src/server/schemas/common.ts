import { z } from 'zod'
import { problemSchema } from '../problem.ts'

/** The description of each error status in the OpenAPI document. */
const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad request: the body, the query or the path is not valid',
  401: 'No valid credentials (sign in, or send a Bearer token)',
  403: 'Not permitted (the role, the token scope, or a missing CSRF token)',
  404: 'Not found (or not visible to you)',
  409: 'In conflict with the current state',
  412: 'The If-Match revision is stale: reload and apply the change again',
  415: 'Unsupported media type',
  429: 'Too many requests',
  503: 'The service is not ready',
}

/** One error response: a Problem, as application/problem+json. */
export interface ProblemResponse {
  readonly description: string
  readonly content: {
    readonly 'application/problem+json': { readonly schema: typeof problemSchema }
  }
}

/** The error responses of a route, for its `response` schema: each status is a Problem. */
export function problems(...statuses: readonly number[]): Record<number, ProblemResponse> {
  const out: Record<number, ProblemResponse> = {}
  for (const status of statuses) {
    out[status] = {
      description: STATUS_TEXT[status] ?? 'An error',
      content: { 'application/problem+json': { schema: problemSchema } },
    }
  }
  return out
}

/** The problems of every authenticated route. */
export const AUTH_PROBLEMS = [400, 401, 403] as const

/** A task id in a path: the slug of the task file, nothing that leaves its folder. */
export const taskIdParam = z
  .string()
  .regex(/^[a-z0-9]+(?:[-_][a-z0-9]+)*$/, 'a task id is a slug')
  .max(200)

/** A whole number in a path or query (an execution id, a cursor). */
export const idParam = z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER)

import { z } from 'zod'
import { problemSchema } from '../problem.ts'

/**
 * The error responses of a route, for its `response` schema: each status is a Problem. 400,
 * 401, 403 and 500 come with every route that is not public.
 */
export function problems(...statuses: readonly number[]): Record<number, typeof problemSchema> {
  const out: Record<number, typeof problemSchema> = {}
  for (const status of statuses) out[status] = problemSchema
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

import { z } from 'zod'

const counts = z.object({
  read: z.number(),
  created: z.number(),
  updated: z.number(),
  deleted: z.number(),
  unchanged: z.number(),
  conflicts: z.number(),
  errors: z.number(),
  unlinked: z.number(),
})
const direction = z.enum(['0->1', '1->0'])
const executionCounts = z.record(z.string(), z.record(direction, counts))

/**
 * Every live event, as a zod schema: the one source of the SSE route's OpenAPI description
 * and of the check on payloads that arrive from other processes (LISTEN/NOTIFY).
 */
export const hubEventDataSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('execution.queued'),
    executionId: z.number(),
    taskId: z.string(),
    trigger: z.string(),
  }),
  z.object({
    type: z.literal('execution.started'),
    executionId: z.number(),
    taskId: z.string(),
    trigger: z.string(),
  }),
  z.object({
    type: z.literal('execution.progress'),
    executionId: z.number(),
    taskId: z.string(),
    pairId: z.string(),
    direction,
    phase: z.enum(['read', 'deletes']),
    counts,
  }),
  z.object({
    type: z.literal('execution.ended'),
    executionId: z.number(),
    taskId: z.string(),
    status: z.enum(['succeeded', 'partial', 'failed', 'cancelled']),
    counts: executionCounts,
    error: z.object({ code: z.string(), message: z.string() }).optional(),
  }),
  z.object({
    type: z.literal('task.changed'),
    taskId: z.string(),
    change: z.enum(['saved', 'activated', 'deactivated', 'paused', 'deleted']),
    revision: z.number().optional(),
    /** Why the change happened when no person made it (a plan that paused itself). */
    reason: z.string().optional(),
  }),
  z.object({
    type: z.literal('conflict.parked'),
    executionId: z.number(),
    taskId: z.string(),
    pairId: z.string(),
    direction,
    /** Conflicts parked since the last event of this pair and direction. */
    parked: z.number(),
  }),
])

/** What a publisher says happened; the hub adds `id` and `at`. */
export type HubEventData = z.output<typeof hubEventDataSchema>

/** The kinds of live event. */
export type HubEventType = HubEventData['type']

/** A live event as subscribers see it: monotonically increasing `id` per hub, and when. */
export type HubEvent = HubEventData & { readonly id: number; readonly at: string }

/** The schema of a stamped event (the `data` of one SSE message). */
export const hubEventSchema = z.intersection(
  hubEventDataSchema,
  z.object({ id: z.number(), at: z.string() }),
)

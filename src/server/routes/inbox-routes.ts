import type { FastifyRequest } from 'fastify'
import { z } from 'zod'
import { OpenSyncError } from '../../sdk/errors.ts'
import { Inbox } from '../../service/inbox.ts'
import type { RecordErrorPosition } from '../../store/index.ts'
import { actorOf } from '../access/permissions.ts'
import { visibleTaskIds } from '../access/task-access.ts'
import { canSeeTask } from '../access/task-visibility.ts'
import { AUTH_PROBLEMS, problems, taskIdParam } from '../schemas/common.ts'
import { pageOf } from '../schemas/task-schemas.ts'
import { principalOf, type ServerContext } from '../server-context.ts'
import type { RoutePlugin } from './route-plugin.ts'

const pairId = z.string().min(1).max(200)
const systemKey = z.string().regex(/^[a-z][a-z0-9_]*$/, 'a system key of the task')
const recordKey = z.string().min(1).max(2000)

const conflictSchema = z
  .object({
    id: z.int(),
    pairId: z.string(),
    mapping: z.string().describe('The field mapping in conflict.'),
    sides: z
      .record(
        z.string(),
        z.object({
          key: z.string(),
          values: z.unknown(),
          base: z
            .unknown()
            .describe(
              'The values last synced (before both edits), by field; null when not known (a first sync, a long value kept as a hash).',
            ),
        }),
      )
      .describe("Per system key: the record's key, its values of the mapping's fields, the base."),
    createdAt: z.string(),
    updatedAt: z.string(),
    winner: z.string().optional().describe('The system whose value wins, once decided.'),
    value: z.unknown().optional().describe('The value decided instead of a winner.'),
  })
  .meta({ id: 'Conflict' })

const recordErrorSchema = z
  .object({
    pairId: z.string(),
    from: z.string().describe('The system the record came from.'),
    to: z.string(),
    key: z.string().describe("The record's key in `from`."),
    code: z.string(),
    message: z.string(),
    attempts: z.int(),
    quarantined: z.boolean().describe('Runs stopped retrying it until someone retries it.'),
    firstAt: z.string(),
    lastAt: z.string(),
  })
  .meta({ id: 'RecordError' })

const taskRecordErrorSchema = recordErrorSchema
  .extend({ taskId: z.string(), subject: z.string().describe("The task's subject.") })
  .meta({ id: 'TaskRecordError' })

/** A page position as the API hands it out: opaque text (base64url of the position). */
const recordErrorCursor = z
  .string()
  .max(4000)
  .regex(/^[A-Za-z0-9_-]+$/, 'a cursor from the previous page')

function encodeCursor(position: RecordErrorPosition): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url')
}

const positionSchema = z.tuple([
  z.string(),
  z.string(),
  z.string(),
  z.union([z.literal(0), z.literal(1)]),
  z.string(),
])

function decodeCursor(cursor: string): RecordErrorPosition {
  try {
    return positionSchema.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')))
  } catch {
    throw new OpenSyncError('OSY_INVALID_REQUEST', 'cursor is not one of a previous page', {
      details: { field: 'querystring.cursor' },
    })
  }
}

const recordRefs = z.strictObject({
  records: z
    .array(z.strictObject({ pairId, from: systemKey, key: recordKey }))
    .min(1)
    .max(1000),
})

const checkpointSchema = z
  .object({
    pairId: z.string(),
    system: z.string(),
    checkpoint: z
      .object({
        cursorField: z.string(),
        position: z.array(z.union([z.string(), z.number(), z.boolean(), z.null()])).readonly(),
        readAt: z.string().optional(),
      })
      .optional()
      .describe('Where the next run reads on (cursor value, then key); absent: from the start.'),
  })
  .meta({ id: 'SideCheckpoint' })

const taskParams = z.object({ taskId: taskIdParam })

/**
 * The inboxes of a task: conflicts (list; decide one or many), failed records (list; retry
 * now; ignore), checkpoints per pair and side (show; reset a pair). Decisions are audit
 * events. A caller limited to profiles sees only the tasks made from them.
 */
export const inboxRoutes: RoutePlugin = async (app, { ctx }) => {
  const inbox = new Inbox({ store: ctx.store, tasks: ctx.tasks })
  const tags = ['inbox']

  app.get(
    '/api/conflicts',
    {
      config: { access: 'read' },
      schema: {
        tags,
        summary: 'Open conflicts of every task the caller may see, by task',
        querystring: z.object({
          limit: z.coerce
            .number()
            .int()
            .min(1)
            .max(1000)
            .default(100)
            .describe('At most this many conflicts of each task (its oldest).'),
        }),
        response: {
          200: z.object({
            items: z.array(
              z.object({
                taskId: z.string(),
                subject: z.string(),
                count: z.int().describe('How many conflicts of the task wait for a decision.'),
                conflicts: z.array(conflictSchema),
              }),
            ),
          }),
          ...problems(...AUTH_PROBLEMS),
        },
      },
    },
    async (request) => {
      const principal = principalOf(request)
      const visible = async (taskId: string) => {
        const task = await ctx.store.taskDefs.get(taskId)
        return task !== undefined && canSeeTask(principal, JSON.parse(task.document))
      }
      return { items: await inbox.allConflicts(visible, request.query.limit) }
    },
  )

  app.get(
    '/api/tasks/:taskId/conflicts',
    {
      config: { access: 'read' },
      schema: {
        tags,
        summary: 'Open conflicts of a task, oldest first',
        params: taskParams,
        querystring: z.object({ pair: pairId.optional() }),
        response: {
          200: z.object({ items: z.array(conflictSchema) }),
          ...problems(...AUTH_PROBLEMS, 404),
        },
      },
    },
    async (request) => {
      await visibleTask(ctx, request, request.params.taskId)
      return { items: await inbox.conflicts(request.params.taskId, request.query.pair) }
    },
  )

  app.post(
    '/api/tasks/:taskId/conflicts/decisions',
    {
      config: { access: 'operate' },
      schema: {
        tags,
        summary: 'Decides conflicts: which system wins each, or a value; the next run applies them',
        params: taskParams,
        body: z.strictObject({
          decisions: z
            .array(
              z.union([
                z.strictObject({ id: z.int().positive(), winner: systemKey }),
                z
                  .strictObject({
                    id: z.int().positive(),
                    value: z.unknown().refine((v) => v !== undefined, 'is required'),
                  })
                  .describe('A value of your own, as the first system holds it.'),
              ]),
            )
            .min(1)
            .max(1000),
        }),
        response: {
          200: z.object({ items: z.array(conflictSchema) }),
          ...problems(...AUTH_PROBLEMS, 404),
        },
      },
    },
    async (request) => {
      const { taskId } = request.params
      await visibleTask(ctx, request, taskId)
      const items = await inbox.decide(taskId, request.body.decisions)
      await ctx.store.audit.add({
        actor: actorOf(request.principal),
        action: 'conflict.decided',
        taskId,
        target: items.map((c) => c.id).join(','),
        detail: { decisions: request.body.decisions },
      })
      return { items }
    },
  )

  app.get(
    '/api/record-errors',
    {
      config: { access: 'read' },
      schema: {
        tags,
        summary:
          'Records that failed, of every task the caller may see (or of one), newest first by when they first failed',
        querystring: z.object({
          task: taskIdParam.optional().describe('Only the errors of this task.'),
          cursor: recordErrorCursor.optional(),
          limit: z.coerce.number().int().min(1).max(500).default(50),
        }),
        response: {
          200: pageOf(taskRecordErrorSchema),
          ...problems(...AUTH_PROBLEMS, 404),
        },
      },
    },
    async (request) => {
      const { task, cursor, limit } = request.query
      let taskIds: readonly string[] | undefined
      if (task !== undefined) {
        await visibleTask(ctx, request, task)
        taskIds = [task]
      } else {
        taskIds = await visibleTaskIds(request, ctx)
      }
      const page = await inbox.recordErrorPage({
        limit,
        ...(taskIds !== undefined ? { taskIds } : {}),
        ...(cursor !== undefined ? { after: decodeCursor(cursor) } : {}),
      })
      return {
        items: page.items,
        ...(page.next ? { nextCursor: encodeCursor(page.next) } : {}),
      }
    },
  )

  app.get(
    '/api/tasks/:taskId/record-errors',
    {
      config: { access: 'read' },
      schema: {
        tags,
        summary: 'Records of a task that failed to sync',
        params: taskParams,
        response: {
          200: z.object({ items: z.array(recordErrorSchema) }),
          ...problems(...AUTH_PROBLEMS, 404),
        },
      },
    },
    async (request) => {
      await visibleTask(ctx, request, request.params.taskId)
      return { items: await inbox.recordErrors(request.params.taskId) }
    },
  )

  app.post(
    '/api/tasks/:taskId/record-errors/retry',
    {
      config: { access: 'operate' },
      schema: {
        tags,
        summary: 'Retries failed records now: out of quarantine, and a run is queued',
        params: taskParams,
        body: recordRefs,
        response: {
          202: z.object({ released: z.int(), executionId: z.int() }),
          ...problems(...AUTH_PROBLEMS, 404, 409),
        },
      },
    },
    async (request, reply) => {
      const { taskId } = request.params
      await visibleTask(ctx, request, taskId)
      const result = await inbox.retry(taskId, request.body.records)
      await ctx.store.audit.add({
        actor: actorOf(request.principal),
        action: 'record-error.retried',
        taskId,
        target: String(result.executionId),
        detail: { records: request.body.records },
      })
      return reply.code(202).send(result)
    },
  )

  app.post(
    '/api/tasks/:taskId/record-errors/ignore',
    {
      config: { access: 'operate' },
      schema: {
        tags,
        summary: 'Ignores failed records: their errors are forgotten, they sync when they change',
        params: taskParams,
        body: recordRefs,
        response: {
          200: z.object({ ignored: z.int() }),
          ...problems(...AUTH_PROBLEMS, 404),
        },
      },
    },
    async (request) => {
      const { taskId } = request.params
      await visibleTask(ctx, request, taskId)
      const ignored = await inbox.ignore(taskId, request.body.records)
      await ctx.store.audit.add({
        actor: actorOf(request.principal),
        action: 'record-error.ignored',
        taskId,
        detail: { records: request.body.records },
      })
      return { ignored }
    },
  )

  app.get(
    '/api/tasks/:taskId/checkpoints',
    {
      config: { access: 'read' },
      schema: {
        tags,
        summary: 'The checkpoint of each side of each pair',
        params: taskParams,
        response: {
          200: z.object({ items: z.array(checkpointSchema) }),
          ...problems(...AUTH_PROBLEMS, 404),
        },
      },
    },
    async (request) => {
      await visibleTask(ctx, request, request.params.taskId)
      return { items: await inbox.checkpoints(request.params.taskId) }
    },
  )

  app.delete(
    '/api/tasks/:taskId/checkpoints/:pairId',
    {
      config: { access: 'edit' },
      schema: {
        tags,
        summary:
          'Resets a pair: its next run reads both sides from the start and links, never duplicates',
        params: z.object({ taskId: taskIdParam, pairId }),
        response: {
          200: z.object({ items: z.array(checkpointSchema) }),
          ...problems(...AUTH_PROBLEMS, 404, 409),
        },
      },
    },
    async (request) => {
      const { taskId, pairId } = request.params
      await visibleTask(ctx, request, taskId)
      const items = await inbox.resetPair(taskId, pairId)
      await ctx.store.audit.add({
        actor: actorOf(request.principal),
        action: 'checkpoints.reset',
        taskId,
        target: pairId,
      })
      return { items }
    },
  )
}

/** The task, if the caller may see it; else OSY_TASK_NOT_FOUND, as if there were none. */
async function visibleTask(ctx: ServerContext, request: FastifyRequest, taskId: string) {
  const task = await ctx.store.taskDefs.get(taskId)
  if (!task || !canSeeTask(principalOf(request), JSON.parse(task.document)))
    throw new OpenSyncError('OSY_TASK_NOT_FOUND', `no task "${taskId}"`)
  return task
}

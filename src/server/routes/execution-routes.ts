import { z } from 'zod'
import { OpenSyncError } from '../../sdk/errors.ts'
import type { ExecutionStatus } from '../../store/index.ts'
import { visibleExecution, visibleTaskIds } from '../access/task-access.ts'
import { recordAudit } from '../audit.ts'
import { AUTH_PROBLEMS, idParam, problems, taskIdParam } from '../schemas/common.ts'
import {
  changeSchema,
  cursorQuery,
  executionDetailSchema,
  executionSchema,
  lineSchema,
  linesOf,
  pageOf,
} from '../schemas/task-schemas.ts'
import { changeOut, executionDetailOut, executionOut, lineOut, systemKeys } from '../views.ts'
import type { RoutePlugin } from './route-plugin.ts'

const params = z.object({ id: idParam })
const tags = ['executions']
const STATUSES = ['queued', 'running', 'succeeded', 'partial', 'failed', 'cancelled'] as const
const isoTime = z.iso.datetime({ offset: true })

/** `/api/executions`: list (cursor paging, filters), one with its counts, cancel, protocol lines, record-level changes. */
export const executionRoutes: RoutePlugin = async (app, { ctx }) => {
  app.get(
    '/api/executions',
    {
      config: { access: 'read' },
      schema: {
        tags,
        summary: 'Executions newest first, by task, status, trigger and time',
        querystring: z.object({
          task: taskIdParam.optional(),
          status: z
            .union([z.enum(STATUSES), z.array(z.enum(STATUSES)).max(6)])
            .optional()
            .describe('One status, or several (status=failed&status=partial).'),
          trigger: z.string().max(100).optional(),
          from: isoTime.optional().describe('Started (or queued) at or after this time.'),
          to: isoTime.optional().describe('Started (or queued) before this time.'),
          ...cursorQuery,
        }),
        response: { 200: pageOf(executionSchema), ...problems(...AUTH_PROBLEMS) },
      },
    },
    async (request) => {
      const { task, status, trigger, from, to, cursor, limit } = request.query
      const visible = await visibleTaskIds(request, ctx)
      const taskIds =
        task !== undefined
          ? visible === undefined || visible.includes(task)
            ? [task]
            : []
          : visible
      const statuses = status === undefined ? undefined : Array.isArray(status) ? status : [status]
      const rows = await ctx.store.executions.page({
        ...(taskIds !== undefined ? { taskIds } : {}),
        ...(statuses ? { statuses: statuses as ExecutionStatus[] } : {}),
        ...(trigger !== undefined ? { trigger } : {}),
        ...(from !== undefined ? { from: new Date(from).toISOString() } : {}),
        ...(to !== undefined ? { to: new Date(to).toISOString() } : {}),
        ...(cursor !== undefined ? { before: Number(cursor) } : {}),
        limit,
      })
      return {
        items: rows.map(executionOut),
        ...(rows.length === limit ? { nextCursor: String(rows.at(-1)!.id) } : {}),
      }
    },
  )

  app.get(
    '/api/executions/:id',
    {
      config: { access: 'read' },
      schema: {
        tags,
        summary: 'One execution with its counts per pair and direction (named by system keys)',
        params,
        response: { 200: executionDetailSchema, ...problems(...AUTH_PROBLEMS, 404) },
      },
    },
    async (request) => {
      const { execution, task } = await visibleExecution(request, ctx, request.params.id)
      return executionDetailOut(execution, systemKeys(task.document))
    },
  )

  app.post(
    '/api/executions/:id/cancel',
    {
      config: { access: 'operate' },
      schema: {
        tags,
        summary:
          'Cancels a queued execution at once, or asks a running one to stop after its batch',
        params,
        response: {
          200: z.object({
            outcome: z.enum(['cancelled', 'requested', 'finished']),
            execution: executionSchema,
          }),
          ...problems(...AUTH_PROBLEMS, 404),
        },
      },
    },
    async (request) => {
      const { execution } = await visibleExecution(request, ctx, request.params.id)
      const outcome = await ctx.store.executions.requestCancel(execution.id)
      if (outcome === 'not-found') {
        throw new OpenSyncError('OSY_EXECUTION_NOT_FOUND', `no execution ${execution.id}`)
      }
      if (outcome !== 'finished') {
        await recordAudit(request, ctx, {
          action: 'execution.cancelled',
          taskId: execution.taskId,
          target: String(execution.id),
          detail: { outcome },
        })
      }
      const now = await ctx.store.executions.get(execution.id)
      return { outcome, execution: executionOut(now ?? execution) }
    },
  )

  app.get(
    '/api/executions/:id/lines',
    {
      config: { access: 'read' },
      schema: {
        tags,
        summary: "The execution's protocol lines in order, after= the last line seen",
        params,
        querystring: z.object({
          after: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
          limit: z.coerce.number().int().min(1).max(1000).default(200),
        }),
        response: { 200: linesOf(lineSchema), ...problems(...AUTH_PROBLEMS, 404) },
      },
    },
    async (request) => {
      const { execution } = await visibleExecution(request, ctx, request.params.id)
      const { after, limit } = request.query
      const lines = await ctx.store.executions.lines(execution.id, { after, limit })
      const last = lines.at(-1)?.id ?? (after > 0 ? after : undefined)
      return { items: lines.map(lineOut), ...(last !== undefined ? { nextAfter: last } : {}) }
    },
  )

  app.get(
    '/api/executions/:id/changes',
    {
      config: { access: 'read' },
      schema: {
        tags,
        summary:
          'The records the execution created, updated, deleted, met in conflict or failed, by key',
        params,
        querystring: z.object({
          after: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
          op: z
            .enum(['create', 'update', 'delete', 'conflict', 'error', 'unlink', 'flag'])
            .optional(),
          pair: z.string().max(200).optional(),
          key: z
            .string()
            .max(1000)
            .optional()
            .describe('Only the record with this key, on either side.'),
        }),
        response: { 200: linesOf(changeSchema), ...problems(...AUTH_PROBLEMS, 404) },
      },
    },
    async (request) => {
      const { execution, task } = await visibleExecution(request, ctx, request.params.id)
      const { after, limit, op, pair, key } = request.query
      const rows = await ctx.store.changes.list(execution.id, {
        after,
        limit,
        ...(op !== undefined ? { op } : {}),
        ...(pair !== undefined ? { pairId: pair } : {}),
        ...(key !== undefined ? { key } : {}),
      })
      const keys = systemKeys(task.document)
      const last = rows.at(-1)?.id ?? (after > 0 ? after : undefined)
      return {
        items: rows.map((r) => changeOut(r, keys)),
        ...(last !== undefined ? { nextAfter: last } : {}),
      }
    },
  )
}

import { z } from 'zod'
import { visibleTask, visibleTaskIds } from '../access/task-access.ts'
import { AUTH_PROBLEMS, problems, taskIdParam } from '../schemas/common.ts'
import { auditEventSchema, cursorQuery, pageOf } from '../schemas/task-schemas.ts'
import type { RoutePlugin } from './route-plugin.ts'

/**
 * `/api/audit`: every audit event, newest first, for admins (sign-in failures and user
 * changes are among them); an admin limited to profiles sees those of their tasks only.
 * `/api/audit/tasks`: the events of tasks, across the tasks the caller may see, for readers
 * (a task's own events are also `/api/tasks/{id}/audit`).
 */
export const auditRoutes: RoutePlugin = async (app, { ctx }) => {
  app.get(
    '/api/audit',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['audit'],
        summary: 'Every audit event, newest first',
        querystring: z.object({
          task: taskIdParam.optional(),
          action: z.string().max(100).optional(),
          ...cursorQuery,
        }),
        response: { 200: pageOf(auditEventSchema), ...problems(...AUTH_PROBLEMS) },
      },
    },
    async (request) => {
      const { task, action, cursor, limit } = request.query
      const visible = await visibleTaskIds(request, ctx)
      const rows = await ctx.store.audit.list({
        limit,
        ...(task !== undefined ? { taskId: task } : {}),
        ...(action !== undefined ? { action } : {}),
        ...(cursor !== undefined ? { before: Number(cursor) } : {}),
      })
      // A caller limited to profiles sees the events of their tasks and those of no task.
      const items = visible
        ? rows.filter((e) => e.taskId === undefined || visible.includes(e.taskId))
        : rows
      return {
        items,
        ...(rows.length === limit ? { nextCursor: String(rows.at(-1)!.id) } : {}),
      }
    },
  )

  app.get(
    '/api/audit/tasks',
    {
      config: { access: 'read' },
      schema: {
        tags: ['audit'],
        summary: 'The audit events of every task the caller may see (or of one), newest first',
        querystring: z.object({
          task: taskIdParam.optional().describe('Only the events of this task.'),
          action: z.string().max(100).optional(),
          ...cursorQuery,
        }),
        response: { 200: pageOf(auditEventSchema), ...problems(...AUTH_PROBLEMS, 404) },
      },
    },
    async (request) => {
      const { task, action, cursor, limit } = request.query
      if (task !== undefined) await visibleTask(request, ctx, task)
      // Filtered in the query, not after it: a page is full unless it is the last.
      const visible = task === undefined ? await visibleTaskIds(request, ctx) : undefined
      const items = await ctx.store.audit.list({
        limit,
        ofTasks: true,
        ...(task !== undefined ? { taskId: task } : {}),
        ...(visible !== undefined ? { taskIds: visible } : {}),
        ...(action !== undefined ? { action } : {}),
        ...(cursor !== undefined ? { before: Number(cursor) } : {}),
      })
      return {
        items,
        ...(items.length === limit ? { nextCursor: String(items.at(-1)!.id) } : {}),
      }
    },
  )
}

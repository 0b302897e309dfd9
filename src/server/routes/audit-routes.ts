import { z } from 'zod'
import { AUTH_PROBLEMS, problems, taskIdParam } from '../schemas/common.ts'
import { auditEventSchema, cursorQuery, pageOf } from '../schemas/task-schemas.ts'
import type { RoutePlugin } from './route-plugin.ts'

/**
 * `/api/audit`: every audit event, newest first, for admins (sign-in failures and user
 * changes are among them). A task's own events are `/api/tasks/{id}/audit`, for readers.
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
      const items = await ctx.store.audit.list({
        limit,
        ...(task !== undefined ? { taskId: task } : {}),
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

import { z } from 'zod'
import { AUTH_PROBLEMS, problems } from '../schemas/common.ts'
import type { RoutePlugin } from './route-plugin.ts'

/** `/metrics`: the Prometheus text of this process, for a token with the `metrics` scope. */
export const metricsRoutes: RoutePlugin = async (app, { ctx }) => {
  app.get(
    '/metrics',
    {
      config: { access: 'metrics' },
      schema: {
        tags: ['service'],
        summary: 'Runs, records and durations per task (Prometheus text format 0.0.4)',
        security: [{ bearer: [] }],
        response: {
          200: {
            description: 'Prometheus text',
            content: { 'text/plain': { schema: z.string() } },
          },
          ...problems(...AUTH_PROBLEMS),
        },
      },
    },
    async (_request, reply) =>
      reply.type('text/plain; version=0.0.4; charset=utf-8').send(ctx.metrics()),
  )
}

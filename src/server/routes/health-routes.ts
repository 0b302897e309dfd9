import { z } from 'zod'
import { OpenSyncError } from '../../sdk/errors.ts'
import { problems } from '../schemas/common.ts'
import type { RoutePlugin } from './route-plugin.ts'

const healthSchema = z.object({ status: z.literal('ok') }).meta({ id: 'Health' })
const readinessSchema = z
  .object({
    status: z.literal('ready'),
    store: z.enum(['sqlite', 'postgres']),
  })
  .meta({ id: 'Readiness' })

/** `/healthz` (the process answers) and `/readyz` (the store answers and is migrated), public. */
export const healthRoutes: RoutePlugin = async (app, { ctx }) => {
  app.get(
    '/healthz',
    {
      config: { access: 'public' },
      schema: {
        tags: ['service'],
        summary: 'The process is alive',
        security: [],
        response: { 200: healthSchema },
      },
    },
    async () => ({ status: 'ok' as const }),
  )

  app.get(
    '/readyz',
    {
      config: { access: 'public' },
      schema: {
        tags: ['service'],
        summary: 'The metadata store is reachable and its migrations are current',
        security: [],
        response: { 200: readinessSchema, ...problems(503) },
      },
    },
    async () => {
      const pending = await ctx.store.pendingMigrations().catch((cause: unknown) => {
        throw new OpenSyncError('OSY_STORE_ERROR', 'the metadata store does not answer', {
          cause,
        })
      })
      if (pending.length > 0) {
        throw new OpenSyncError(
          'OSY_STORE_ERROR',
          `the metadata store lacks migrations: ${pending.join(', ')}`,
          { kind: 'user', details: { pending } },
        )
      }
      return { status: 'ready' as const, store: ctx.store.dialect }
    },
  )
}

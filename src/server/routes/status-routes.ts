import { z } from 'zod'
import { OPENSYNC_VERSION } from '../../service/version.ts'
import { AUTH_PROBLEMS, problems } from '../schemas/common.ts'
import type { RoutePlugin } from './route-plugin.ts'

/** The roles of processes that run executions (`opensync start` and `opensync worker`). */
const RUNNING_ROLES = new Set(['service', 'worker'])

const instanceSchema = z
  .object({
    id: z.int(),
    host: z.string(),
    pid: z.int(),
    version: z.string(),
    role: z.string().describe('service (scheduler and worker), worker, api, …'),
    startedAt: z.string(),
    heartbeatAt: z.string().describe('Its latest heartbeat (database clock).'),
  })
  .meta({ id: 'ServiceInstance' })

const statusSchema = z
  .object({
    version: z.string().describe('The OpenSync version of this API process.'),
    store: z.enum(['sqlite', 'postgres']),
    instances: z
      .array(instanceSchema)
      .describe('Processes whose heartbeat is recent, oldest first.'),
    workers: z.int().describe('Of those, how many run executions.'),
    message: z
      .string()
      .optional()
      .describe('Said when no process runs executions: planned executions will not happen.'),
  })
  .meta({ id: 'ServiceStatus' })

/** `GET /api/status`: the service instances and workers that run now (the store's registry). */
export const statusRoutes: RoutePlugin = async (app, { ctx }) => {
  app.get(
    '/api/status',
    {
      config: { access: 'read' },
      schema: {
        tags: ['service'],
        summary: 'The service instances and workers that run now',
        response: { 200: statusSchema, ...problems(...AUTH_PROBLEMS, 503) },
      },
    },
    async () => {
      const instances = await ctx.store.instances.list()
      const workers = instances.filter((i) => RUNNING_ROLES.has(i.role)).length
      return {
        version: OPENSYNC_VERSION,
        store: ctx.store.dialect,
        instances: instances.map((i) => ({ ...i })),
        workers,
        ...(workers === 0
          ? {
              message:
                'no service is running: planned executions will not happen (start one: opensync start, or opensync worker)',
            }
          : {}),
      }
    },
  )
}

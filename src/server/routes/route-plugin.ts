import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import type { ServerContext } from '../server-context.ts'

/**
 * A file of routes: a Fastify plugin that gets the server's context as `opts.ctx`, with zod
 * schemas as its type provider. Every route it adds declares `config.access` and its
 * request and response schemas, from which the OpenAPI document is made.
 *
 * @example
 * export const widgetRoutes: RoutePlugin = async (app, { ctx }) => {
 *   app.get('/api/widgets/:id', {
 *     config: { access: 'read' },
 *     schema: {
 *       tags: ['widgets'],
 *       summary: 'One widget',
 *       params: z.object({ id: z.string() }),
 *       response: { 200: widgetSchema, ...problems(404) },
 *     },
 *   }, async (request) => ctx.store.widgets.get(request.params.id))
 * }
 */
export type RoutePlugin = FastifyPluginAsyncZod<{ readonly ctx: ServerContext }>

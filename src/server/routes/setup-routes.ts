import { setupSchema, setupStatusSchema, userSchema } from '../schemas/access-schemas.ts'
import { problems } from '../schemas/common.ts'
import type { RoutePlugin } from './route-plugin.ts'
import { SIGN_IN_RATE } from './session-routes.ts'

/**
 * `/api/setup`: the first administrator, made once with the one-time token the first start
 * printed (in its setup URL). Open only while there is no user.
 */
export const setupRoutes: RoutePlugin = async (app, { ctx }) => {
  app.get(
    '/api/setup',
    {
      config: { access: 'public' },
      schema: {
        tags: ['access'],
        summary: 'Whether the first administrator still has to be created',
        security: [],
        response: { 200: setupStatusSchema },
      },
    },
    async () => ({ needed: await ctx.access.needsSetup() }),
  )

  app.post(
    '/api/setup',
    {
      config: { access: 'public', rateLimit: SIGN_IN_RATE },
      schema: {
        tags: ['access'],
        summary: 'Creates the first administrator with the one-time setup token',
        security: [],
        body: setupSchema,
        response: { 201: userSchema, ...problems(400, 403, 409, 429) },
      },
    },
    async (request, reply) => {
      const { token, username, password } = request.body
      const user = await ctx.access.completeSetup(token, { username, password })
      return reply
        .code(201)
        .send({ ...user, profiles: user.profiles ? [...user.profiles] : undefined })
    },
  )
}

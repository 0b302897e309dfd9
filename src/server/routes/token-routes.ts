import { z } from 'zod'
import type { TokenView } from '../../service/access/access-manager.ts'
import { actorOf } from '../access/permissions.ts'
import { createdTokenSchema, newTokenSchema, tokenSchema } from '../schemas/access-schemas.ts'
import { AUTH_PROBLEMS, idParam, problems } from '../schemas/common.ts'
import { principalOf } from '../server-context.ts'
import type { RoutePlugin } from './route-plugin.ts'

function tokenOut(t: TokenView): z.infer<typeof tokenSchema> {
  return {
    id: t.id,
    name: t.name,
    ...(t.user !== undefined ? { user: t.user } : {}),
    scopes: [...t.scopes],
    ...(t.profiles ? { profiles: [...t.profiles] } : {}),
    createdAt: t.createdAt,
    ...(t.expiresAt !== undefined ? { expiresAt: t.expiresAt } : {}),
    ...(t.lastUsedAt !== undefined ? { lastUsedAt: t.lastUsedAt } : {}),
  }
}

/** `/api/tokens`: API tokens (Authorization: Bearer), for admins; a token is shown once. */
export const tokenRoutes: RoutePlugin = async (app, { ctx }) => {
  const tags = ['access']
  app.get(
    '/api/tokens',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'Every API token (never the tokens themselves)',
        response: { 200: z.object({ items: z.array(tokenSchema) }), ...problems(...AUTH_PROBLEMS) },
      },
    },
    async () => ({ items: (await ctx.access.listTokens()).map(tokenOut) }),
  )

  app.post(
    '/api/tokens',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: "Creates an API token for a user (default: you), within that user's role",
        body: newTokenSchema,
        response: { 201: createdTokenSchema, ...problems(...AUTH_PROBLEMS, 404) },
      },
    },
    async (request, reply) => {
      const { name, user, scopes, profiles, expiresInDays } = request.body
      const principal = principalOf(request)
      const username = user ?? principal.username
      const created = await ctx.access.createToken(
        {
          name,
          scopes,
          ...(username !== undefined ? { username } : {}),
          ...(profiles !== undefined ? { profiles } : {}),
          ...(expiresInDays !== undefined ? { expiresInDays } : {}),
        },
        actorOf(principal),
      )
      return reply.code(201).send({ token: created.token, info: tokenOut(created.view) })
    },
  )

  app.delete(
    '/api/tokens/:id',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'Revokes an API token',
        params: z.object({ id: idParam }),
        response: { 204: z.undefined(), ...problems(...AUTH_PROBLEMS, 404) },
      },
    },
    async (request, reply) => {
      await ctx.access.revokeToken(request.params.id, actorOf(request.principal))
      return reply.code(204).send()
    },
  )
}

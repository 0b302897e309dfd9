import { z } from 'zod'
import type { UserView } from '../../service/access/access-manager.ts'
import { actorOf } from '../access/permissions.ts'
import {
  newUserSchema,
  passwordSchema,
  userChangeSchema,
  userSchema,
} from '../schemas/access-schemas.ts'
import { AUTH_PROBLEMS, problems } from '../schemas/common.ts'
import type { RoutePlugin } from './route-plugin.ts'

const usernameParams = z.object({ username: z.string().min(1).max(64) })

/** A user for a response: arrays copied (the views are read-only). */
export function userOut(user: UserView): z.infer<typeof userSchema> {
  return {
    id: user.id,
    username: user.username,
    role: user.role,
    ...(user.profiles ? { profiles: [...user.profiles] } : {}),
    locked: user.locked,
    createdAt: user.createdAt,
  }
}

/** `/api/users`: the users, their roles and profile limits, for admins. */
export const userRoutes: RoutePlugin = async (app, { ctx }) => {
  const tags = ['access']
  app.get(
    '/api/users',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'Every user',
        response: { 200: z.object({ items: z.array(userSchema) }), ...problems(...AUTH_PROBLEMS) },
      },
    },
    async () => ({ items: (await ctx.access.listUsers()).map(userOut) }),
  )

  app.post(
    '/api/users',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'Adds a user',
        body: newUserSchema,
        response: { 201: userSchema, ...problems(...AUTH_PROBLEMS, 409) },
      },
    },
    async (request, reply) => {
      const user = await ctx.access.addUser(request.body, actorOf(request.principal))
      return reply.code(201).send(userOut(user))
    },
  )

  app.get(
    '/api/users/:username',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'One user',
        params: usernameParams,
        response: { 200: userSchema, ...problems(...AUTH_PROBLEMS, 404) },
      },
    },
    async (request) => userOut(await ctx.access.getUser(request.params.username)),
  )

  app.patch(
    '/api/users/:username',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: "Changes a user's role or profile limit (their sessions end)",
        params: usernameParams,
        body: userChangeSchema,
        response: { 200: userSchema, ...problems(...AUTH_PROBLEMS, 404) },
      },
    },
    async (request) => {
      const { role, profiles } = request.body
      return userOut(
        await ctx.access.updateUser(
          request.params.username,
          {
            ...(role !== undefined ? { role } : {}),
            ...(profiles !== undefined ? { profiles } : {}),
          },
          actorOf(request.principal),
        ),
      )
    },
  )

  app.put(
    '/api/users/:username/password',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: "Sets a user's password (their sessions end)",
        params: usernameParams,
        body: passwordSchema,
        response: { 204: z.undefined(), ...problems(...AUTH_PROBLEMS, 404) },
      },
    },
    async (request, reply) => {
      await ctx.access.setPassword(
        request.params.username,
        request.body.password,
        actorOf(request.principal),
      )
      return reply.code(204).send()
    },
  )

  app.delete(
    '/api/users/:username',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'Removes a user with their sessions and tokens',
        params: usernameParams,
        response: { 204: z.undefined(), ...problems(...AUTH_PROBLEMS, 404) },
      },
    },
    async (request, reply) => {
      await ctx.access.removeUser(request.params.username, actorOf(request.principal))
      return reply.code(204).send()
    },
  )
}

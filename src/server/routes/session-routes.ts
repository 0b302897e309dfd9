import { z } from 'zod'
import {
  type Permission,
  type Principal,
  ROLE_PERMISSIONS,
  type Role,
} from '../../service/access/permissions.ts'
import { SESSION_COOKIE } from '../access/authentication-hook.ts'
import { sessionSchema, signInSchema } from '../schemas/access-schemas.ts'
import { AUTH_PROBLEMS, problems } from '../schemas/common.ts'
import { principalOf } from '../server-context.ts'
import type { RoutePlugin } from './route-plugin.ts'

/** Sign-in attempts per client address and minute, before the per-user lock-out. */
export const SIGN_IN_RATE = { max: 10, timeWindow: '1 minute' } as const

/** `/api/session`: sign in (a console session cookie), who am I, sign out. */
export const sessionRoutes: RoutePlugin = async (app, { ctx }) => {
  app.post(
    '/api/session',
    {
      config: { access: 'public', rateLimit: SIGN_IN_RATE },
      schema: {
        tags: ['access'],
        summary: 'Sign in: opens a console session (HttpOnly, SameSite=Strict cookie)',
        description:
          'Answers with the CSRF token that every state-changing request of the session repeats in X-CSRF-Token. After 5 failures in a row the user is locked for 15 minutes; each client address may try 10 times a minute.',
        security: [],
        body: signInSchema,
        response: { 200: sessionSchema, ...problems(400, 401, 429) },
      },
    },
    async (request, reply) => {
      const { username, password } = request.body
      const signed = await ctx.access.signIn(username, password, request.ip)
      reply.setCookie(SESSION_COOKIE, signed.cookie, {
        httpOnly: true,
        sameSite: 'strict',
        secure: request.protocol === 'https',
        path: '/',
        expires: new Date(signed.expiresAt),
      })
      return {
        via: 'session' as const,
        username: signed.user.username,
        role: signed.user.role,
        permissions: [...permissionsOf(signed.user.role)],
        ...(signed.user.profiles ? { profiles: [...signed.user.profiles] } : {}),
        csrfToken: signed.csrfToken,
        expiresAt: signed.expiresAt,
      }
    },
  )

  app.get(
    '/api/session',
    {
      config: { access: 'authenticated' },
      schema: {
        tags: ['access'],
        summary: 'Who is calling: user, role, permissions (and the CSRF token of a session)',
        response: { 200: sessionSchema, ...problems(...AUTH_PROBLEMS) },
      },
    },
    async (request) => sessionOf(principalOf(request)),
  )

  app.delete(
    '/api/session',
    {
      config: { access: 'authenticated' },
      schema: {
        tags: ['access'],
        summary: 'Sign out: ends the console session',
        response: { 204: z.undefined(), ...problems(...AUTH_PROBLEMS) },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request)
      if (principal.sessionId) await ctx.access.signOut(principal.sessionId)
      reply.clearCookie(SESSION_COOKIE, { path: '/' })
      return reply.code(204).send()
    },
  )
}

function permissionsOf(role: Role): readonly Permission[] {
  return ROLE_PERMISSIONS[role]
}

function sessionOf(p: Principal): z.infer<typeof sessionSchema> {
  return {
    via: p.via,
    ...(p.username !== undefined ? { username: p.username } : {}),
    ...(p.role !== undefined ? { role: p.role } : {}),
    ...(p.tokenName !== undefined ? { token: p.tokenName } : {}),
    permissions: [...p.permissions],
    ...(p.profiles !== undefined ? { profiles: [...p.profiles] } : {}),
    ...(p.csrfToken !== undefined ? { csrfToken: p.csrfToken } : {}),
  }
}

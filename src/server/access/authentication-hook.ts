import type { FastifyInstance, FastifyRequest } from 'fastify'
import { OpenSyncError } from '../../sdk/errors.ts'
import { DOCS_PREFIX } from '../openapi.ts'
import type { Credentials, ServerContext } from '../server-context.ts'

/** The cookie of a console session. */
export const SESSION_COOKIE = 'osy_session'
/** The header a session's state-changing requests repeat its CSRF token in. */
export const CSRF_HEADER = 'x-csrf-token'

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/**
 * Authentication and authorization of every route, before its body is read: the route's
 * `config.access` names what it needs; credentials are a Bearer token or the session cookie
 * (whose state-changing requests must carry the session's CSRF token in X-CSRF-Token, which
 * a cross-site form cannot set). 401 without valid credentials, 403 without the permission.
 * Routes that do not declare their access are refused when they are added (fail closed).
 */
export function registerAuthentication(app: FastifyInstance, ctx: ServerContext): void {
  app.addHook('onRoute', (route) => {
    // The reference page's own routes (its HTML, scripts and styles) are as public as the
    // document it shows.
    if (route.url === DOCS_PREFIX || route.url.startsWith(`${DOCS_PREFIX}/`)) {
      route.config = { ...route.config, access: 'public' }
    }
    if (route.config?.access === undefined) {
      throw new Error(`route ${route.method} ${route.url} does not declare config.access`)
    }
  })
  app.decorateRequest('principal', undefined)
  app.addHook('onRequest', async (request) => {
    const access = request.routeOptions.config.access
    // Fastify's 404 handler has no route options: nothing to guard.
    if (access === undefined) return
    const credentials = credentialsOf(request)
    if (credentials.bearer === undefined && credentials.session === undefined) {
      if (access === 'public') return
      throw new OpenSyncError(
        'OSY_UNAUTHENTICATED',
        'sign in (POST /api/session) or send an API token as Authorization: Bearer <token>',
      )
    }
    const principal = await ctx.access.authenticate(credentials)
    if (!principal) {
      // Wrong credentials on a public route (sign-in with a stale cookie) are ignored there.
      if (access === 'public') return
      throw new OpenSyncError(
        'OSY_UNAUTHENTICATED',
        credentials.bearer !== undefined
          ? 'the API token is not valid (unknown, revoked or expired)'
          : 'the session has ended: sign in again',
      )
    }
    if (principal.via === 'session' && !SAFE_METHODS.has(request.method)) {
      const sent = request.headers[CSRF_HEADER]
      if (typeof sent !== 'string' || sent !== principal.csrfToken) {
        throw new OpenSyncError(
          'OSY_CSRF',
          `a state-changing request of a console session must repeat the session's CSRF token in ${CSRF_HEADER}`,
        )
      }
    }
    request.principal = principal
    if (access === 'public' || access === 'authenticated') return
    if (!principal.permissions.has(access)) {
      throw new OpenSyncError('OSY_FORBIDDEN', `this needs the "${access}" permission`, {
        details: { permission: access },
      })
    }
  })
}

/** The Bearer token and the session cookie of a request, as sent. */
function credentialsOf(request: FastifyRequest): Credentials {
  const header = request.headers.authorization
  const bearer = header?.match(/^Bearer\s+(\S+)\s*$/i)?.[1]
  const session = request.cookies?.[SESSION_COOKIE]
  return {
    ...(bearer !== undefined ? { bearer } : {}),
    ...(session ? { session } : {}),
  }
}

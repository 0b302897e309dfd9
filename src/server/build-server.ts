import cookie from '@fastify/cookie'
import helmet from '@fastify/helmet'
import rateLimit from '@fastify/rate-limit'
import Fastify, { type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify'
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod'
import { OpenSyncError } from '../sdk/errors.ts'
import { registerAuthentication } from './access/authentication-hook.ts'
import { registerOpenApi } from './openapi.ts'
import { coerceRequestError, errorHandler, sendProblem } from './problem.ts'
import { ROUTES } from './routes/index.ts'
import type { RoutePlugin } from './routes/route-plugin.ts'
import type { ServerContext } from './server-context.ts'

/** Options of {@link buildServer}. */
export interface BuildServerOptions extends ServerContext {
  /** Fastify's logger: false (default, for tests), true, or pino options / a pino logger. */
  readonly logger?: FastifyServerOptions['logger'] | FastifyServerOptions['loggerInstance']
  /** Routes besides the built-in ones (tests, embedders). */
  readonly routes?: readonly RoutePlugin[]
  /** The largest request body in bytes (default 1 MiB). */
  readonly bodyLimit?: number
  /**
   * Behind a reverse proxy: trust its X-Forwarded-For/-Proto (Fastify's `trustProxy`: true,
   * or the proxies' addresses, comma-separated), so the sign-in limit counts each client and session cookies
   * are Secure when the proxy speaks HTTPS. Default false.
   */
  readonly trustProxy?: boolean | string
}

/**
 * The HTTP API as a Fastify instance, ready but not listening: tests call `app.inject()`,
 * the CLI calls `app.listen()`. Routes come from src/server/routes/index.ts.
 *
 * @example
 * const app = await buildServer({ store, tasks, registry, metrics: () => service.metrics.text(), access })
 * const res = await app.inject({ method: 'GET', url: '/healthz' })
 */
export async function buildServer(options: BuildServerOptions): Promise<FastifyInstance> {
  const { logger, routes = [], bodyLimit = 1024 * 1024, trustProxy = false, ...ctx } = options
  const app = Fastify({
    ...(isLoggerInstance(logger) ? { loggerInstance: logger } : { logger: logger ?? false }),
    bodyLimit,
    trustProxy,
    // No line per request: URLs may carry a setup token in their query.
    logController: new LogController({ disableRequestLogging: true }),
    // Paths and their ids are case-sensitive slugs; `//` is not a path.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 500 },
    // Bad URLs and overlong ids are answered before routing: as problems too.
    frameworkErrors: (error, _request, reply) => sendProblem(reply, coerceRequestError(error)),
  }).withTypeProvider()
  app.setValidatorCompiler(validatorCompiler)
  app.setSerializerCompiler(serializerCompiler)
  app.setErrorHandler(errorHandler)
  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      reply,
      new OpenSyncError('OSY_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`),
    ),
  )
  // The console is served from the same origin; its pages get a CSP that allows only that.
  await app.register(helmet, { global: true })
  await app.register(cookie)
  await app.register(rateLimit, { global: false })
  registerAuthentication(app, ctx)
  app.decorateRequest('writtenBody', undefined)
  // Validation returns a new value with the schema's defaults; keep what the client wrote.
  app.addHook('preValidation', async (request) => {
    request.writtenBody = request.body
  })
  await registerOpenApi(app)
  for (const plugin of [...ROUTES, ...routes]) await app.register(plugin, { ctx })
  await app.ready()
  return app
}

function isLoggerInstance(
  logger: BuildServerOptions['logger'],
): logger is NonNullable<FastifyServerOptions['loggerInstance']> {
  return (
    typeof logger === 'object' &&
    logger !== null &&
    typeof (logger as { child?: unknown }).child === 'function'
  )
}

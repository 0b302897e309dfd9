import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
import {
  createJsonSchemaTransform,
  createJsonSchemaTransformObject,
} from 'fastify-type-provider-zod'
import { OPENSYNC_VERSION } from '../service/version.ts'

/** Where the OpenAPI document and the interactive reference are served. */
export const OPENAPI_PATH = '/api/openapi.json'
export const DOCS_PREFIX = '/api/docs'

/**
 * The OpenAPI 3.1 document, generated from the zod schemas the routes validate with (zod 4's
 * JSON Schema output, draft 2020-12, through fastify-type-provider-zod); schemas with a
 * `.meta({ id })` become components. Nothing in it is written by hand but titles.
 */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'OpenSync API',
        version: OPENSYNC_VERSION,
        description:
          'Tasks, executions and access of an OpenSync service. Errors are application/problem+json with a stable `code`. See docs/api.md.',
      },
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description: 'An API token (`opensync tokens create`), shown once when created.',
          },
          session: {
            type: 'apiKey',
            in: 'cookie',
            name: 'osy_session',
            description:
              'A console session (POST /api/session); state-changing requests also send X-CSRF-Token.',
          },
        },
      },
      security: [{ bearer: [] }, { session: [] }],
    },
    transform: createJsonSchemaTransform({
      skipList: [OPENAPI_PATH, `${DOCS_PREFIX}`, `${DOCS_PREFIX}/`, `${DOCS_PREFIX}/*`],
    }),
    transformObject: createJsonSchemaTransformObject({}),
  })
  await app.register(swaggerUi, {
    routePrefix: DOCS_PREFIX,
    staticCSP: true,
    uiConfig: { deepLinking: true },
  })
  app.get(OPENAPI_PATH, { schema: { hide: true }, config: { access: 'public' } }, () =>
    app.swagger(),
  )
}

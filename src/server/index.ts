/**
 * The HTTP API: Fastify with zod schemas, the OpenAPI document generated from them, access
 * by session or API token. See docs/api.md.
 * @module
 */
export * from './access/permissions.ts'
export { type BuildServerOptions, buildServer } from './build-server.ts'
export { DEFAULT_PORT, type ListenAddress, parseListen, urlOf } from './listen.ts'
export { DOCS_PREFIX, OPENAPI_PATH } from './openapi.ts'
export { PROBLEM_TYPE, type Problem, problemSchema, toProblem } from './problem.ts'
export type { RoutePlugin } from './routes/route-plugin.ts'
export type { Credentials, ServerContext } from './server-context.ts'

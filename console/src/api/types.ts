import type { paths } from './schema.d.ts'

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete'

/** The JSON body of a route's success answer (200, 201 or 202), read from the OpenAPI types. */
export type Ok<P extends keyof paths, M extends Method = 'get'> = paths[P][M] extends {
  responses: infer R
}
  ? R extends { 200: { content: { 'application/json': infer T } } }
    ? T
    : R extends { 201: { content: { 'application/json': infer T } } }
      ? T
      : R extends { 202: { content: { 'application/json': infer T } } }
        ? T
        : never
  : never

/** The JSON body a route takes. */
export type Body<P extends keyof paths, M extends Method = 'post'> = paths[P][M] extends {
  requestBody?: { content: { 'application/json': infer T } }
}
  ? T
  : never

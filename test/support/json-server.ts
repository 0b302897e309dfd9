/**
 * json-server (a real REST server from npm) for the REST bridge's tests and bench: started
 * in this process on a free port of 127.0.0.1 with the data given, kept in memory.
 */
import type { Server } from 'node:http'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)

interface JsonServerModule {
  create(): import('node:http').RequestListener & {
    use(...handlers: unknown[]): void
    listen(port: number, host: string, cb: () => void): Server
  }
  defaults(options: { logger: boolean; noCors?: boolean }): unknown[]
  router(data: object): { db: { get(name: string): { value(): Record<string, unknown>[] } } }
}

/** A running json-server. */
export interface JsonServer {
  readonly url: string
  /** The records of a resource, as json-server holds them. */
  rows(resource: string): Record<string, unknown>[]
  close(): Promise<void>
}

/** Starts json-server with `data` (`{ contacts: [...] }`). */
export async function startJsonServer(data: Record<string, unknown[]>): Promise<JsonServer> {
  const jsonServer = require('json-server') as JsonServerModule
  const app = jsonServer.create()
  app.use(jsonServer.defaults({ logger: false, noCors: true }))
  const router = jsonServer.router(structuredClone(data))
  app.use(router)
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s))
  })
  server.keepAliveTimeout = 30_000
  const { port } = server.address() as { port: number }
  return {
    url: `http://127.0.0.1:${port}`,
    rows: (resource) => router.db.get(resource).value(),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** The REST manifest of a json-server resource with an `updatedAt` the bridge stamps on writes. */
export function jsonServerManifest(
  resource: string,
  fields: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    rest: 1,
    title: 'json-server',
    retries: { max: 5, backoff: 0.05, maxWait: 5 },
    concurrency: 8,
    recordTypes: {
      [resource]: {
        path: `/${resource}`,
        fields: { id: { type: 'integer', readOnly: true }, updatedAt: 'timestamptz', ...fields },
        writeStamp: 'updatedAt',
        list: { pagination: { type: 'link', param: '_page', sizeParam: '_limit' }, pageSize: 500 },
        incremental: {
          param: 'updatedAt_gte',
          format: 'iso-ms',
          field: 'updatedAt',
          ordered: true,
          keyset: true,
          query: { _sort: 'updatedAt,id' },
        },
        fetch: {},
        filterParams: { id: 'id', email: 'email' },
        multiValueFilters: true,
        create: {},
        update: { method: 'PATCH' },
        delete: {},
      },
    },
  }
}

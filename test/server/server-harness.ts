import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import pg from 'pg'
import { createRegistry } from '../../src/bridges/index.ts'
import type { BridgeRegistry } from '../../src/sdk/index.ts'
import { type BuildServerOptions, buildServer } from '../../src/server/index.ts'
import { AccessManager } from '../../src/service/access/access-manager.ts'
import { ROLE_PERMISSIONS, type Role } from '../../src/service/access/permissions.ts'
import { Metrics } from '../../src/service/metrics.ts'
import { openSecretBox } from '../../src/service/secrets.ts'
import { TaskManager } from '../../src/service/task-manager.ts'
import { Worker } from '../../src/service/worker.ts'
import { openStore, type Store } from '../../src/store/index.ts'
import { PG_URL } from '../support/postgres-harness.ts'

/** A server on a fresh SQLite store in a folder of its own, for app.inject(). */
export interface TestServer {
  readonly app: FastifyInstance
  readonly store: Store
  readonly tasks: TaskManager
  readonly metrics: Metrics
  readonly access: AccessManager
  readonly registry: BridgeRegistry
  /** Runs the next queued execution to its end (as a worker would); false when none is queued. */
  runNext(): Promise<boolean>
  /** An API token of a new user with the role (and profile limit), all of the role's scopes. */
  tokenFor(role: Role, profiles?: readonly string[]): Promise<string>
  readonly dir: string
  close(): Promise<void>
}

/** Builds the API on a fresh store; `close()` removes everything. */
export async function testServer(
  overrides: Partial<BuildServerOptions> = {},
  options: { readonly postgres?: boolean } = {},
): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'osy-api-'))
  // PostgreSQL: a schema of its own in the test database, dropped by close().
  const schema = options.postgres ? `osy_api_${randomBytes(5).toString('hex')}` : undefined
  const store = await openStore(
    schema ? { url: PG_URL, schema } : { url: join(dir, 'opensync.db') },
  )
  const registry = await createRegistry()
  const box = await openSecretBox({ dataDir: dir, generate: true })
  const tasks = new TaskManager({ store, registry, box, env: {} })
  const metrics = new Metrics()
  const access = new AccessManager({ store })
  let users = 0
  const app = await buildServer({
    store,
    tasks,
    registry,
    metrics: () => metrics.text(),
    access,
    ...overrides,
  })
  return {
    app,
    store,
    tasks,
    metrics,
    access,
    registry,
    runNext: () => new Worker({ store, registry, tasks }).runNext(),
    async tokenFor(role, profiles) {
      const username = `${role}-${++users}`
      await access.addUser(
        { username, password: PASSWORD, role, ...(profiles ? { profiles } : {}) },
        'test',
      )
      const { token } = await access.createToken(
        {
          name: `${username}-token`,
          username,
          scopes: ROLE_PERMISSIONS[role],
          ...(profiles ? { profiles } : {}),
        },
        'test',
      )
      return token
    },
    dir,
    async close() {
      await app.close()
      await store.close()
      if (schema) {
        const client = new pg.Client({ connectionString: PG_URL })
        await client.connect()
        await client.query(`DROP SCHEMA "${schema}" CASCADE`)
        await client.end()
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** A password long enough for the API's rule. */
export const PASSWORD = 'correct horse battery'

/** Signs in through the API; returns what a browser would send back: cookie and CSRF token. */
export async function signIn(
  app: FastifyInstance,
  username: string,
  password = PASSWORD,
): Promise<{ readonly cookie: string; readonly csrf: string }> {
  const res = await app.inject({
    method: 'POST',
    url: '/api/session',
    payload: { username, password },
  })
  if (res.statusCode !== 200)
    throw new Error(`sign-in of ${username}: ${res.statusCode} ${res.body}`)
  const cookie = res.cookies.find((c) => c.name === 'osy_session')
  if (!cookie) throw new Error('no session cookie')
  return {
    cookie: `osy_session=${cookie.value}`,
    csrf: (res.json() as { csrfToken: string }).csrfToken,
  }
}

/** The headers of a session's request: the cookie, and for state changes the CSRF token. */
export function sessionHeaders(s: { cookie: string; csrf: string }): Record<string, string> {
  return { cookie: s.cookie, 'x-csrf-token': s.csrf }
}

/** The Authorization header of an API token. */
export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` }
}

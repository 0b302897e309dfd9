import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { createRegistry } from '../../src/bridges/index.ts'
import { type BuildServerOptions, buildServer } from '../../src/server/index.ts'
import { Metrics } from '../../src/service/metrics.ts'
import { openSecretBox } from '../../src/service/secrets.ts'
import { TaskManager } from '../../src/service/task-manager.ts'
import { openStore, type Store } from '../../src/store/index.ts'

/** A server on a fresh SQLite store in a folder of its own, for app.inject(). */
export interface TestServer {
  readonly app: FastifyInstance
  readonly store: Store
  readonly tasks: TaskManager
  readonly metrics: Metrics
  readonly dir: string
  close(): Promise<void>
}

/** Builds the API on a fresh store; `close()` removes everything. */
export async function testServer(overrides: Partial<BuildServerOptions> = {}): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'osy-api-'))
  const store = await openStore({ url: join(dir, 'opensync.db') })
  const registry = await createRegistry()
  const box = await openSecretBox({ dataDir: dir, generate: true })
  const tasks = new TaskManager({ store, registry, box, env: {} })
  const metrics = new Metrics()
  const app = await buildServer({
    store,
    tasks,
    registry,
    metrics: () => metrics.text(),
    authenticate: async () => undefined,
    ...overrides,
  })
  return {
    app,
    store,
    tasks,
    metrics,
    dir,
    async close() {
      await app.close()
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

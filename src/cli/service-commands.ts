import { existsSync } from 'node:fs'
import type { ResolvedTask } from '../engine/task/resolved-task.ts'
import type { BridgeRegistry } from '../sdk/index.ts'
import type { EventHub } from '../service/event-hub.ts'
import { usage } from './cli-kit.ts'

/** Where the embedded service keeps its store, key file and lock: OPENSYNC_DATA_DIR or ./.data. */
export function dataDir(): string {
  return process.env.OPENSYNC_DATA_DIR ?? '.data'
}

/** What the service commands need. */
export interface ServiceCommandContext {
  readonly registry: () => Promise<BridgeRegistry>
  readonly storeUrl?: string
  /** `start --demo`: store the demo task (and create its databases) when it is not there. */
  readonly demo?: boolean
}

/**
 * The store (`storeUrl`, else the data folder's SQLite file), the bridges, and the task
 * manager with the secret key (telling `events` of every change). The caller closes the store.
 */
export async function openAll(
  ctx: Pick<ServiceCommandContext, 'registry' | 'storeUrl'> & {
    /** False for commands that only read: the store is neither created nor migrated. */
    readonly migrate?: boolean
  },
  events?: EventHub,
) {
  const { openStore } = await import('../store/index.ts')
  const { openSecretBox } = await import('../service/secrets.ts')
  const { TaskManager } = await import('../service/task-manager.ts')
  const store = await openStore({
    url: ctx.storeUrl ? ctx.storeUrl : `${dataDir()}/opensync.db`,
    ...(ctx.migrate === false ? { migrate: false } : {}),
  })
  try {
    const registry = await ctx.registry()
    // Only the embedded default may create a key; processes sharing a server store must share one.
    const box = await openSecretBox({
      dataDir: dataDir(),
      generate: !ctx.storeUrl?.startsWith('postgres'),
    })
    return {
      store,
      registry,
      tasks: new TaskManager({ store, registry, box, ...(events ? { events } : {}) }),
    }
  } catch (error) {
    await store.close()
    throw error
  }
}

/** A stored task as the engine runs it (secrets decrypted, `${VAR}` from the environment). */
export async function resolveStoredTask(
  id: string,
  ctx: Pick<ServiceCommandContext, 'registry' | 'storeUrl'>,
): Promise<ResolvedTask> {
  const { store, tasks } = await openAll(ctx)
  try {
    return await tasks.resolve(id)
  } finally {
    await store.close()
  }
}

/** A stored task for listings (id, subject, systems, pairs), without opening its secrets. */
export async function outlineStoredTask(
  id: string,
  ctx: Pick<ServiceCommandContext, 'registry' | 'storeUrl'>,
): Promise<ResolvedTask> {
  const { store, tasks } = await openAll(ctx)
  try {
    return await tasks.outline(id)
  } finally {
    await store.close()
  }
}

/**
 * `opensync start`: the scheduler and worker in this process, until SIGINT/SIGTERM. On a
 * PostgreSQL store it joins the cluster, as `opensync worker` does.
 */
export async function startCommand(ctx: ServiceCommandContext): Promise<number> {
  return serve(ctx, isPostgres(ctx.storeUrl), { api: true })
}

/**
 * `opensync api`: the HTTP API alone, no scheduler and no worker; in cluster mode beside
 * `opensync worker` processes on one PostgreSQL store (runs it queues are theirs to run).
 */
export async function apiCommand(ctx: ServiceCommandContext): Promise<number> {
  const { pino } = await import('pino')
  const log = pino({ name: 'opensync' })
  const events = await liveEvents(ctx, isPostgres(ctx.storeUrl), log)
  const { store, registry, tasks } = await openAll(ctx, events.hub)
  events.readFrom(store)
  const { Metrics } = await import('../service/metrics.ts')
  const metrics = new Metrics()
  let api: Awaited<ReturnType<typeof listenApi>>
  try {
    await events.hub.start()
    api = await listenApi({
      store,
      registry,
      tasks,
      log,
      events: events.hub,
      metrics: () => metrics.text(),
    })
  } catch (error) {
    await events.hub.stop().catch(() => {})
    await store.close()
    throw error
  }
  log.info({ url: api.url, store: store.dialect }, `OpenSync API at ${api.url}`)
  await untilSignal(log)
  await api.close()
  await events.hub.stop()
  await store.close()
  log.info('OpenSync API stopped')
  return 0
}

/**
 * `opensync worker`: one of any number of processes sharing the runs of a PostgreSQL store
 * through pg-boss (no data folder, no lock: the store's leases keep runs apart).
 */
export async function workerCommand(ctx: ServiceCommandContext): Promise<number> {
  if (!isPostgres(ctx.storeUrl)) {
    throw usage(
      'worker: cluster mode needs a PostgreSQL store; set OPENSYNC_DATABASE_URL (or --store) to a postgres:// URL',
    )
  }
  return serve(ctx, true, { api: false })
}

function isPostgres(url: string | undefined): boolean {
  return /^postgres(ql)?:/.test(url ?? '')
}

/** A whole positive number from the environment, or the default. */
function envInt(name: string): number | undefined {
  const text = process.env[name]
  if (text === undefined || text === '') return undefined
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1) throw usage(`${name} must be a whole number above 0`)
  return n
}

async function serve(
  ctx: ServiceCommandContext,
  cluster: boolean,
  options: { readonly api: boolean },
): Promise<number> {
  // Tuning from the environment, so a deployment (or a test) sets it per process.
  const leaseMs = envInt('OPENSYNC_LEASE_MS')
  const batchSize = envInt('OPENSYNC_BATCH_SIZE')
  const concurrency = envInt('OPENSYNC_CONCURRENCY')
  const retentionDays = envInt('OPENSYNC_RETENTION_DAYS')
  const retentionKeep = envInt('OPENSYNC_RETENTION_KEEP')
  const { pino } = await import('pino')
  const log = pino({ name: 'opensync' })
  const events = await liveEvents(ctx, cluster, log)
  const { store, registry, tasks } = await openAll(ctx, events.hub)
  events.readFrom(store)
  const { Service } = await import('../service/service.ts')
  // The quick start: the demo's databases, MailingPro demo API and tasks (src/cli/demo.ts).
  // Without --demo, a store that holds the demo's newsletter task still gets its demo API.
  const folder = `${dataDir()}/demo`
  const demo =
    ctx.demo || existsSync(folder)
      ? await import('./demo.ts')
          .then((m) =>
            ctx.demo
              ? m.startDemo({ folder, tasks, registry, log })
              : m.serveDemoApi({ folder, tasks, registry, log }),
          )
          .catch(async (error: unknown) => {
            await events.hub.stop().catch(() => {})
            await store.close()
            throw error
          })
      : undefined
  const transport = cluster
    ? new (await import('../service/pg-boss-transport.ts')).PgBossTransport({
        url: ctx.storeUrl!,
        ...(process.env.OPENSYNC_BOSS_SCHEMA ? { schema: process.env.OPENSYNC_BOSS_SCHEMA } : {}),
        ...(concurrency ? { concurrency } : {}),
        log,
      })
    : undefined
  const service = new Service({
    store,
    registry,
    tasks,
    log,
    // `opensync start` serves the API too; `opensync worker` runs runs only.
    role: options.api ? 'service' : 'worker',
    events: events.hub,
    ...(ctx.storeUrl ? {} : { dataDir: dataDir() }),
    ...(transport ? { transport } : {}),
    ...(leaseMs ? { leaseMs } : {}),
    ...(batchSize ? { batchSize } : {}),
    ...(concurrency ? { concurrency } : {}),
    retention: {
      ...(retentionDays ? { days: retentionDays } : {}),
      ...(retentionKeep ? { keepPerTask: retentionKeep } : {}),
    },
  })
  let api: Awaited<ReturnType<typeof listenApi>> | undefined
  try {
    await events.hub.start()
    await service.start()
    if (options.api)
      api = await listenApi({
        store,
        registry,
        tasks,
        log,
        events: events.hub,
        metrics: () => service.metrics.text(),
      })
  } catch (error) {
    await service.stop().catch(() => {})
    await demo?.close().catch(() => {})
    await events.hub.stop().catch(() => {})
    await store.close()
    throw error
  }
  const list = await tasks.list()
  log.info(
    {
      tasks: list.length,
      active: list.filter((t) => t.active && !t.draft).length,
      store: store.dialect,
      mode: cluster ? 'cluster' : 'embedded',
      owner: service.worker.owner,
      ...(api ? { url: api.url } : {}),
    },
    api ? `OpenSync started: API at ${api.url}` : 'OpenSync started',
  )
  await untilSignal(log)
  // The API first: no new starts arrive while the worker finishes its batches.
  await api?.close()
  await service.stop()
  // After the worker: a run in flight may still be writing to the MailingPro demo API.
  await demo?.close()
  await events.hub.stop()
  await store.close()
  log.info('OpenSync stopped')
  return 0
}

/** Resolves on the first SIGINT or SIGTERM. */
function untilSignal(log: { info(obj: object, msg: string): void }): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'stopping after the batches in flight')
      resolve()
    }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
}

/**
 * Builds the API and listens on OPENSYNC_LISTEN (default 127.0.0.1:8080); prints its URL
 * (and, while there are no users, the one-time setup URL). `close()` stops accepting
 * requests and waits for those in flight.
 */
/**
 * The live events of this process: in cluster mode (a PostgreSQL store) those of every
 * process too, through LISTEN/NOTIFY. `readFrom` lets it read events sent by reference.
 */
async function liveEvents(
  ctx: Pick<ServiceCommandContext, 'storeUrl'>,
  cluster: boolean,
  log: import('pino').Logger,
) {
  const { EventHub } = await import('../service/event-hub.ts')
  const { PgEventRelay, storeEventLoader } = await import('../service/pg-event-relay.ts')
  let load: ReturnType<typeof storeEventLoader> | undefined
  const relay = cluster
    ? new PgEventRelay({
        url: ctx.storeUrl!,
        load: (ref) => load?.(ref) ?? Promise.resolve(undefined),
        log,
      })
    : undefined
  return {
    hub: new EventHub({ log, ...(relay ? { relay } : {}) }),
    readFrom(store: import('../store/index.ts').Store) {
      load = storeEventLoader(store)
    },
  }
}

async function listenApi(deps: {
  readonly store: import('../store/index.ts').Store
  readonly registry: BridgeRegistry
  readonly tasks: import('../service/task-manager.ts').TaskManager
  readonly log: import('pino').Logger
  readonly metrics: () => string
  readonly events: EventHub
}): Promise<{ readonly url: string; close(): Promise<void> }> {
  const { buildServer, parseListen, urlOf } = await import('../server/index.ts')
  const { AccessManager } = await import('../service/access/access-manager.ts')
  const address = parseListen(process.env.OPENSYNC_LISTEN)
  // OPENSYNC_TRUST_PROXY: `true`, or the proxies' addresses, comma-separated (docs/api.md).
  const proxy = process.env.OPENSYNC_TRUST_PROXY?.trim()
  const trustProxy =
    proxy === undefined || proxy === '' || proxy === 'false' ? undefined : proxy === 'true' || proxy
  const access = new AccessManager({ store: deps.store })
  const adminPassword = process.env.OPENSYNC_ADMIN_PASSWORD
  if (adminPassword) {
    const username = process.env.OPENSYNC_ADMIN_USER || 'admin'
    const made = await access.ensureAdmin(username, adminPassword)
    if (made) deps.log.info({ username }, 'created the first admin from OPENSYNC_ADMIN_PASSWORD')
  }
  const app = await buildServer({
    store: deps.store,
    tasks: deps.tasks,
    registry: deps.registry,
    metrics: deps.metrics,
    access,
    events: deps.events,
    logger: deps.log.child({ component: 'api' }),
    ...(trustProxy !== undefined ? { trustProxy } : {}),
  })
  try {
    await app.listen({ host: address.host, port: address.port })
  } catch (error) {
    await app.close()
    throw error
  }
  const bound = app.server.address()
  const port = typeof bound === 'object' && bound ? bound.port : address.port
  const url = urlOf({ host: address.host, port })
  process.stdout.write(
    `OpenSync console: ${url}/\nOpenSync API: ${url}/api  (reference: ${url}/api/docs)\n`,
  )
  // Printed, never logged: whoever opens it first becomes the admin.
  const setup = await access.setupToken()
  if (setup) {
    process.stdout.write(
      `No users yet: create the first admin at ${url}/setup?token=${setup}\n  (or: curl -X POST ${url}/api/setup -H 'content-type: application/json' -d '{"token":"${setup}","username":"admin","password":"…"}')\n`,
    )
  }
  return { url, close: () => app.close() }
}

/** Rows as a table of columns padded to their widest cell. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}

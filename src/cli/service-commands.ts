import { createInterface } from 'node:readline/promises'
import { stringify } from 'yaml'
import type { ResolvedTask } from '../engine/task/resolved-task.ts'
import type { BridgeRegistry } from '../sdk/index.ts'
import { executionsTable, localTime } from './format.ts'

/** Where the embedded service keeps its store, key file and lock: OPENSYNC_DATA_DIR or ./.data. */
export function dataDir(): string {
  return process.env.OPENSYNC_DATA_DIR ?? '.data'
}

/** What the service commands need from main.ts. */
export interface ServiceCommandContext {
  readonly registry: () => Promise<BridgeRegistry>
  readonly storeUrl?: string
  readonly json: boolean
  readonly yes: boolean
  readonly draft: boolean
  /** `start --demo`: store the demo task (and create its databases) when it is not there. */
  readonly demo?: boolean
  readonly write: (text: string) => void
  readonly usage: (message: string) => Error
}

async function openAll(ctx: Pick<ServiceCommandContext, 'registry' | 'storeUrl'>) {
  const { openStore } = await import('../store/index.ts')
  const { openSecretBox } = await import('../service/secrets.ts')
  const { TaskManager } = await import('../service/task-manager.ts')
  const store = await openStore(
    ctx.storeUrl ? { url: ctx.storeUrl } : { url: `${dataDir()}/opensync.db` },
  )
  try {
    const registry = await ctx.registry()
    // Only the embedded default may create a key; processes sharing a server store must share one.
    const box = await openSecretBox({
      dataDir: dataDir(),
      generate: !ctx.storeUrl?.startsWith('postgres'),
    })
    return { store, registry, tasks: new TaskManager({ store, registry, box }) }
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

/** `opensync tasks <list|show|import|export|activate|deactivate|delete|start> …` */
export async function tasksCommand(
  sub: string,
  args: readonly string[],
  ctx: ServiceCommandContext,
): Promise<number> {
  const { store, tasks } = await openAll(ctx)
  const { describePlan, describeNext } = await import('../service/timekeeper.ts')
  const need = (what: string) => {
    if (!args[0]) throw ctx.usage(`tasks ${sub}: ${what} is missing; see opensync --help`)
    return args[0]
  }
  try {
    switch (sub) {
      case 'list': {
        const list = await tasks.list()
        if (ctx.json)
          return done(
            ctx,
            list.map(({ document: _d, ...t }) => t),
          )
        if (list.length === 0)
          return done(ctx, 'No stored tasks. Add one: opensync tasks import <task file>')
        const now = new Date()
        const rows = [['id', 'subject', 'state', 'plan', 'next run', 'last run']]
        for (const t of list) {
          const last = (await store.executions.list(t.id, 1))[0]
          rows.push([
            t.id,
            t.subject,
            t.draft ? 'draft' : t.active ? 'active' : 'inactive',
            t.plan ? describePlan(t.plan) : '—',
            t.nextRunAt ? describeNext(new Date(t.nextRunAt), now) : '—',
            last ? `${last.status} ${localTime(last.startedAt)}` : 'never executed',
          ])
        }
        return done(ctx, table(rows))
      }
      case 'show': {
        const t = await tasks.get(need('the task id'))
        const runs = await store.executions.list(t.id, 5)
        if (ctx.json) return done(ctx, { ...t, executions: runs })
        const lines = [
          `${t.subject} (task ${t.id}, revision ${t.revision})`,
          `  state:     ${t.draft ? 'draft — not scheduled until complete' : t.active ? 'active' : 'inactive (manual starts only)'}`,
          `  plan:      ${t.plan ? describePlan(t.plan) : '—'}`,
          `  next run:  ${t.nextRunAt ? `${localTime(t.nextRunAt)} (${describeNext(new Date(t.nextRunAt), new Date())})` : 'not scheduled'}`,
        ]
        for (const issue of t.issues) lines.push(`  missing:   ${issue.path}: ${issue.message}`)
        lines.push(
          '',
          runs.length > 0 ? executionsTable(runs) : 'Never executed.',
          '',
          stringify(t.document).trimEnd(),
        )
        return done(ctx, lines.join('\n'))
      }
      case 'import': {
        const { readFile } = await import('node:fs/promises')
        const file = need('the task file')
        const text = await readFile(file, 'utf8').catch(() => {
          throw ctx.usage(`tasks import: cannot read ${file}`)
        })
        const t = await tasks.save(text, { draft: ctx.draft })
        if (ctx.json) return done(ctx, t)
        return done(
          ctx,
          t.draft
            ? `Saved "${t.subject}" as draft ${t.id}: ${t.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`
            : `Saved "${t.subject}" as task ${t.id} (revision ${t.revision}, ${t.active ? 'active' : 'inactive'}).`,
        )
      }
      case 'export': {
        const doc = await tasks.export(need('the task id'))
        return done(ctx, ctx.json ? JSON.stringify(doc, null, 2) : stringify(doc).trimEnd(), true)
      }
      case 'activate':
      case 'deactivate': {
        const t =
          sub === 'activate'
            ? await tasks.activate(need('the task id'))
            : await tasks.deactivate(need('the task id'))
        return done(
          ctx,
          ctx.json
            ? t
            : `Task ${t.id} is ${t.active ? 'active: it runs on its plan' : 'inactive: it runs only when started by hand'}.`,
        )
      }
      case 'delete': {
        const id = need('the task id')
        const t = await tasks.get(id)
        if (!ctx.yes) {
          if (!process.stdin.isTTY)
            throw ctx.usage(
              `tasks delete: add --yes to delete task ${id} and all its links without asking`,
            )
          const rl = createInterface({ input: process.stdin, output: process.stderr })
          const answer = await rl.question(
            `Delete "${t.subject}" (${id}) with its links, checkpoints and protocols? [y/N] `,
          )
          rl.close()
          if (!/^y(es)?$/i.test(answer.trim())) return done(ctx, 'Nothing deleted.')
        }
        await tasks.remove(id)
        return done(ctx, ctx.json ? { deleted: id } : `Deleted task ${id} and its metadata.`)
      }
      case 'start': {
        const id = need('the task id')
        await tasks.get(id)
        const { id: executionId, created } = await store.executions.enqueue({
          taskId: id,
          trigger: 'manual',
        })
        const running = await store.executions.running(id)
        const text = created
          ? `Queued execution ${executionId} of task ${id}${running ? `, after the running execution ${running.id}` : ''}; a running service picks it up.`
          : `Execution ${executionId} of task ${id} is queued already; it runs once.`
        return done(ctx, ctx.json ? { executionId, created } : text)
      }
      case 'cancel': {
        const id = need('the task id')
        await tasks.get(id)
        const target = (await store.executions.running(id)) ?? (await store.executions.queued(id))
        if (!target)
          return done(
            ctx,
            ctx.json ? { cancelled: null } : `Task ${id} has no running or queued execution.`,
          )
        const outcome = await store.executions.requestCancel(target.id)
        const text =
          outcome === 'requested'
            ? `Asked execution ${target.id} to stop: it ends as cancelled after the batch in flight.`
            : outcome === 'cancelled'
              ? `Cancelled the queued execution ${target.id}.`
              : `Execution ${target.id} had already ended.`
        return done(ctx, ctx.json ? { executionId: target.id, outcome } : text)
      }
      default:
        throw ctx.usage(
          `tasks: unknown subcommand "${sub}"; the subcommands are list, show, import, export, activate, deactivate, delete, start and cancel`,
        )
    }
  } finally {
    await store.close()
  }
}

/**
 * `opensync start`: the scheduler and worker in this process, until SIGINT/SIGTERM. On a
 * PostgreSQL store it joins the cluster, as `opensync worker` does.
 */
export async function startCommand(ctx: ServiceCommandContext): Promise<number> {
  return serve(ctx, isPostgres(ctx.storeUrl))
}

/**
 * `opensync worker`: one of any number of processes sharing the runs of a PostgreSQL store
 * through pg-boss (no data folder, no lock: the store's leases keep runs apart).
 */
export async function workerCommand(ctx: ServiceCommandContext): Promise<number> {
  if (!isPostgres(ctx.storeUrl)) {
    throw ctx.usage(
      'worker: cluster mode needs a PostgreSQL store; set OPENSYNC_DATABASE_URL (or --store) to a postgres:// URL',
    )
  }
  return serve(ctx, true)
}

function isPostgres(url: string | undefined): boolean {
  return /^postgres(ql)?:/.test(url ?? '')
}

/** A whole positive number from the environment, or the default. */
function envInt(ctx: ServiceCommandContext, name: string): number | undefined {
  const text = process.env[name]
  if (text === undefined || text === '') return undefined
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1) throw ctx.usage(`${name} must be a whole number above 0`)
  return n
}

async function serve(ctx: ServiceCommandContext, cluster: boolean): Promise<number> {
  // Tuning from the environment, so a deployment (or a test) sets it per process.
  const leaseMs = envInt(ctx, 'OPENSYNC_LEASE_MS')
  const batchSize = envInt(ctx, 'OPENSYNC_BATCH_SIZE')
  const concurrency = envInt(ctx, 'OPENSYNC_CONCURRENCY')
  const retentionDays = envInt(ctx, 'OPENSYNC_RETENTION_DAYS')
  const retentionKeep = envInt(ctx, 'OPENSYNC_RETENTION_KEEP')
  const { store, registry, tasks } = await openAll(ctx)
  const { Service } = await import('../service/service.ts')
  const { pino } = await import('pino')
  const log = pino({ name: 'opensync' })
  if (ctx.demo && !(await tasks.list()).some((t) => t.id.startsWith('demo-'))) {
    // The quick start: demo CRM and ERP databases in the data folder, their task stored.
    const { createDemo } = await import('./demo.ts')
    const { readFile } = await import('node:fs/promises')
    const file = createDemo(`${dataDir()}/demo`)
    const task = await tasks.save(await readFile(file, 'utf8'))
    log.info(
      { taskId: task.id, file },
      'created the demo CRM and ERP and stored their task: it runs every 15 minutes; edit a record and run: opensync tasks start <id>',
    )
  }
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
  try {
    await service.start()
  } catch (error) {
    await service.stop().catch(() => {})
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
    },
    'OpenSync started',
  )
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'stopping after the batches in flight')
      resolve()
    }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
  await service.stop()
  await store.close()
  log.info('OpenSync stopped')
  return 0
}

function done(ctx: ServiceCommandContext, value: unknown, raw = false): number {
  ctx.write(
    typeof value === 'string' && (raw || !ctx.json) ? value : JSON.stringify(value, null, 2),
  )
  return 0
}

function table(rows: readonly (readonly string[])[]): string {
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

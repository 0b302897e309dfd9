import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import type { RunResult } from '../engine/run-task.ts'
import type { ResolvedTask } from '../engine/task/index.ts'
import {
  type BridgeLogger,
  type BridgeRegistry,
  coerceError,
  OpenSyncError,
  silentLogger,
} from '../sdk/index.ts'
import { type ExecutionRow, INSTANCE_HEARTBEAT_MS, type Store } from '../store/index.ts'
import type { EventHub } from './event-hub.ts'
import { Metrics } from './metrics.ts'
import { Notifier } from './notifications.ts'
import type { RunTransport } from './pg-boss-transport.ts'
import { RunEvents } from './run-events.ts'
import type { TaskManager } from './task-manager.ts'
import { dueRun, nextRun } from './timekeeper.ts'
import { OPENSYNC_VERSION } from './version.ts'
import { Worker } from './worker.ts'

/** Options of the service. */
export interface ServiceOptions {
  readonly store: Store
  readonly registry: BridgeRegistry
  readonly tasks: TaskManager
  /** Embedded mode: the data folder this process owns (a lock file keeps a second one out). */
  readonly dataDir?: string
  /** How often the planner looks for due runs and free slots. Default 1 s. */
  readonly tickMs?: number
  readonly leaseMs?: number
  readonly concurrency?: number
  readonly batchSize?: number
  readonly log?: BridgeLogger
  /**
   * Cluster mode: how queued executions reach the workers of every process (pg-boss). Without
   * it this process's worker claims from the store itself on each tick (embedded mode).
   */
  readonly transport?: RunTransport
  /** Executions older than `days` (default 30) are pruned, keeping the newest `keepPerTask` (default 100). */
  readonly retention?: { readonly days?: number; readonly keepPerTask?: number }
  /** Live events of this process (queued, started, progress, ended; the plan paused). */
  readonly events?: EventHub
  /** At most one progress event per execution this often. Default 250 ms. */
  readonly progressMs?: number
  /** How long a notification webhook may take. Default 10 s. */
  readonly webhookTimeoutMs?: number
  /**
   * What this process is called in the instance registry (`store.instances`): `service`
   * (`opensync start`, the default) or `worker` (`opensync worker`).
   */
  readonly role?: string
  /** How often the instance registry hears from this process. Default 10 s. */
  readonly heartbeatMs?: number
  /** The clock, for tests. */
  readonly now?: () => Date
}

/**
 * The scheduler and worker of one process. `start()` and `stop()` are idempotent and share
 * one in-flight promise each (as pg-boss does). Every tick: leases that expired are failed
 * and their tasks queued again, tasks whose plan is due are queued (one queued run per task
 * at most, however many slots were missed), and the worker claims what it has room for.
 */
export class Service {
  readonly worker: Worker
  /** Runs, records and durations per task, for `/metrics` (Prometheus text: `metrics.text()`). */
  readonly metrics = new Metrics()
  /** Webhooks on failure and recovery; the plan that pauses itself (a task's `notify:`). */
  readonly notifier: Notifier
  readonly #events: RunEvents | undefined
  #lastPrune = 0
  readonly #o: ServiceOptions
  #starting?: Promise<void>
  #stopping?: Promise<void>
  #timer?: NodeJS.Timeout
  #ticking?: Promise<void>
  #lockFile?: string
  /** This process's entry in the instance registry, while it runs. */
  #instance?: number
  #lastBeat = 0

  constructor(options: ServiceOptions) {
    this.#o = options
    this.#events = options.events
      ? new RunEvents(options.events, {
          ...(options.progressMs !== undefined ? { progressMs: options.progressMs } : {}),
        })
      : undefined
    this.notifier = new Notifier({
      store: options.store,
      tasks: options.tasks,
      ...(options.events ? { events: options.events } : {}),
      ...(options.webhookTimeoutMs ? { timeoutMs: options.webhookTimeoutMs } : {}),
      ...(options.log ? { log: options.log } : {}),
    })
    this.worker = new Worker({
      store: options.store,
      registry: options.registry,
      tasks: options.tasks,
      ...(options.leaseMs ? { leaseMs: options.leaseMs } : {}),
      ...(options.concurrency ? { concurrency: options.concurrency } : {}),
      ...(options.batchSize ? { batchSize: options.batchSize } : {}),
      ...(options.log ? { log: options.log } : {}),
      ...(this.#events ? { events: this.#events } : {}),
      onFinished: (execution, result, task) => this.#finished(execution, result, task),
    })
  }

  start(): Promise<void> {
    this.#starting ??= (async () => {
      if (this.#o.dataDir) this.#lockFile = lockDataDir(this.#o.dataDir)
      await this.#register()
      const { transport } = this.#o
      if (transport) {
        await transport.start()
        // A job is a wake-up: its handler claims the oldest claimable execution, which is
        // the job's own unless that one is running elsewhere or was taken by another job.
        await transport.work(async () => {
          await this.worker.runNext()
        })
      }
      await this.tick()
      this.#timer = setInterval(() => {
        void this.tick()
      }, this.#o.tickMs ?? 1000)
    })()
    return this.#starting
  }

  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      if (this.#timer) clearInterval(this.#timer)
      await this.#ticking
      // The worker first: it stops claiming and its runs end after their batch in flight, so
      // the transport's graceful stop only waits for handlers that are about to return.
      await this.worker.stop()
      await this.notifier.idle()
      await this.#o.transport?.stop()
      if (this.#lockFile) rmSync(this.#lockFile, { force: true })
      if (this.#instance !== undefined) {
        const id = this.#instance
        this.#instance = undefined
        await this.#o.store.instances.remove(id).catch(() => {})
      }
    })()
    return this.#stopping
  }

  /** The id of this process in the instance registry, once started. */
  get instanceId(): number | undefined {
    return this.#instance
  }

  async #register(): Promise<void> {
    this.#instance = await this.#o.store.instances.register({
      host: hostname(),
      pid: process.pid,
      version: OPENSYNC_VERSION,
      role: this.#o.role ?? 'service',
    })
    this.#lastBeat = Date.now()
  }

  /** Tells the instance registry this process is alive (registering again if it was swept). */
  async #heartbeat(): Promise<void> {
    if (this.#instance === undefined || this.#stopping) return
    if (Date.now() - this.#lastBeat < (this.#o.heartbeatMs ?? INSTANCE_HEARTBEAT_MS)) return
    this.#lastBeat = Date.now()
    try {
      if (!(await this.#o.store.instances.heartbeat(this.#instance))) await this.#register()
    } catch (error) {
      ;(this.#o.log ?? silentLogger).warn(
        { err: coerceError(error).toJSON() },
        'instance heartbeat failed',
      )
    }
  }

  /** One round of planning and claiming; ticks never overlap. */
  tick(): Promise<void> {
    if (this.#ticking) return this.#ticking
    this.#ticking = this.#tick()
      .catch((error) =>
        (this.#o.log ?? silentLogger).error(
          { err: coerceError(error).toJSON() },
          'planner tick failed',
        ),
      )
      .finally(() => {
        this.#ticking = undefined
      })
    return this.#ticking
  }

  async #tick(): Promise<void> {
    const { store } = this.#o
    const now = this.#now()
    await this.#heartbeat()
    await this.#prune(now)
    // Leases run on the database clock: expire() without a time uses it, so hosts whose
    // clocks drift apart never expire each other's live leases.
    for (const lost of await store.executions.expire()) {
      ;(this.#o.log ?? silentLogger).warn(
        { executionId: lost.id, taskId: lost.taskId },
        'a run lost its lease: queued again',
      )
      const queued = await store.executions.enqueue({ taskId: lost.taskId, trigger: lost.trigger })
      if (queued.created) this.#events?.queued({ ...lost, id: queued.id })
    }
    for (const task of await store.taskDefs.list()) {
      if (!task.active || task.draft) continue
      const plan = (await this.#o.tasks.get(task.taskId)).plan
      if (!plan || plan.kind === 'manual') continue
      const state = {
        ...(task.lastScheduledFor ? { lastScheduledFor: new Date(task.lastScheduledFor) } : {}),
        idleRuns: task.idleRuns,
      }
      if (!task.nextRunAt) {
        // Armed now (new, edited, reactivated; or continuous between runs): plan from here,
        // so slots that passed while the plan was off are not made up.
        if (
          plan.kind === 'continuous' &&
          ((await store.executions.running(task.taskId)) ||
            (await store.executions.queued(task.taskId)))
        )
          continue
        const next = nextRun(plan, { ...state, notBefore: now }, now)
        if (next) await store.taskDefs.setSchedule(task.taskId, { nextRunAt: next.toISOString() })
        if (!next || next > now) continue
      }
      const notBefore = new Date(task.nextRunAt ?? now)
      const slot = dueRun(plan, { ...state, notBefore }, now)
      if (!slot) continue
      const queued = await store.executions.enqueue({
        taskId: task.taskId,
        trigger: 'plan',
        scheduledFor: slot.toISOString(),
      })
      if (queued.created)
        this.#events?.queued({ id: queued.id, taskId: task.taskId, trigger: 'plan' })
      // Continuous plans are planned again when the run ends (see #finished).
      const next =
        plan.kind === 'continuous'
          ? undefined
          : nextRun(plan, { ...state, lastScheduledFor: slot }, now)
      await store.taskDefs.setSchedule(task.taskId, {
        nextRunAt: next ? next.toISOString() : null,
        lastScheduledFor: slot.toISOString(),
      })
    }
    if (this.#stopping) return
    if (this.#o.transport) await this.#notifyQueued()
    else await this.worker.poll()
  }

  /**
   * Cluster mode: a job for every queued execution. Scanning the rows rather than sending
   * once per enqueue also delivers the runs queued by `opensync tasks start`, by a worker that
   * shut down, or whose job was lost; the transport keeps one waiting job per task.
   */
  async #notifyQueued(): Promise<void> {
    const { store, transport } = this.#o
    for (const task of await store.taskDefs.list()) {
      const queued = await store.executions.queued(task.taskId)
      if (queued && !this.#stopping) await transport!.notify(queued.id, task.taskId)
    }
  }

  /** Once an hour: old executions and their protocols go, the newest of each task stay. */
  async #prune(now: Date): Promise<void> {
    if (now.getTime() - this.#lastPrune < 3_600_000) return
    this.#lastPrune = now.getTime()
    const { days = 30, keepPerTask = 100 } = this.#o.retention ?? {}
    const olderThan = new Date(now.getTime() - days * 86_400_000).toISOString()
    const pruned = await this.#o.store.executions.prune({ olderThan, keepPerTask })
    if (pruned > 0)
      (this.#o.log ?? silentLogger).info(
        { pruned, olderThan, keepPerTask },
        'pruned old executions',
      )
  }

  /** Continuous plans schedule their next run when the last one ends (backing off when idle). */
  async #finished(
    execution: ExecutionRow,
    result: RunResult | undefined,
    resolved: ResolvedTask | undefined,
  ): Promise<void> {
    const { store } = this.#o
    await this.notifier
      .runEnded(execution, resolved)
      .catch((error) =>
        (this.#o.log ?? silentLogger).error(
          { err: coerceError(error).toJSON(), taskId: execution.taskId },
          'notifications failed',
        ),
      )
    if (result) {
      const late = execution.scheduledFor
        ? (Date.parse(result.startedAt) - Date.parse(execution.scheduledFor)) / 1000
        : undefined
      this.metrics.observe({
        taskId: execution.taskId,
        status: result.status,
        seconds: (Date.parse(result.endedAt) - Date.parse(result.startedAt)) / 1000,
        totals: result.totals,
        ...(late !== undefined ? { lateSeconds: Math.max(0, late) } : {}),
      })
    }
    const changed = result
      ? result.totals.created + result.totals.updated + result.totals.deleted > 0
      : false
    const task = await store.taskDefs.get(execution.taskId)
    if (!task?.active || task.draft) return
    const view = await this.#o.tasks.get(task.taskId)
    if (view.plan?.kind !== 'continuous') return
    const idleRuns = changed ? 0 : task.idleRuns + 1
    const now = this.#now()
    const next = nextRun(view.plan, { lastEndedAt: now, lastRunChanged: changed, idleRuns }, now)
    await store.taskDefs.setSchedule(task.taskId, {
      nextRunAt: (next ?? now).toISOString(),
      idleRuns,
    })
    void this.tick()
  }

  #now(): Date {
    return this.#o.now?.() ?? new Date()
  }
}

/**
 * Takes the data folder for this process: a lock file with our pid. A live process holding
 * it refuses the start; a lock left by a dead process (kill -9) is taken over.
 */
export function lockDataDir(dataDir: string): string {
  mkdirSync(dataDir, { recursive: true })
  const file = join(dataDir, 'opensync.lock')
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600)
      writeSync(fd, String(process.pid))
      closeSync(fd)
      return file
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      const pid = Number(readFileSync(file, 'utf8'))
      if (pid && pid !== process.pid && isAlive(pid)) {
        throw new OpenSyncError(
          'OSY_ALREADY_STARTED',
          `OpenSync is already running on ${dataDir} (process ${pid}); stop it first, or use another data folder (OPENSYNC_DATA_DIR)`,
        )
      }
      rmSync(file, { force: true })
    }
  }
  throw new OpenSyncError('OSY_ALREADY_STARTED', `cannot lock ${file}`)
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

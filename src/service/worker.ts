import { processOwner } from '../engine/lease.ts'
import { type RunResult, runTask } from '../engine/run-task.ts'
import type { ResolvedTask } from '../engine/task/index.ts'
import {
  type BridgeLogger,
  type BridgeRegistry,
  coerceError,
  OpenSyncError,
  silentLogger,
} from '../sdk/index.ts'
import type { ExecutionRow, Store } from '../store/index.ts'
import type { RunEvents } from './run-events.ts'
import type { TaskManager } from './task-manager.ts'

/** Options of a {@link Worker}. */
export interface WorkerOptions {
  readonly store: Store
  readonly registry: BridgeRegistry
  readonly tasks: TaskManager
  /** Who holds the leases: unique per process. Default `<host>:<pid>:<random>`. */
  readonly owner?: string
  /** How long a lease lasts without renewal. Default 30 s; renewed every third of it. */
  readonly leaseMs?: number
  /** Runs at once. Default 2. */
  readonly concurrency?: number
  readonly batchSize?: number
  readonly log?: BridgeLogger
  /** Live events of the runs (started, progress, ended, conflicts parked). */
  readonly events?: RunEvents
  /**
   * Called when a run ends, with its execution, its result (absent when the task could not
   * even be resolved) and the resolved task, if it was.
   */
  readonly onFinished?: (
    execution: ExecutionRow,
    result: RunResult | undefined,
    task: ResolvedTask | undefined,
  ) => Promise<void> | void
}

/**
 * Claims queued executions and runs them, at most `concurrency` at once. The engine renews
 * each run's lease while it runs: a run whose lease is lost (the process stalled past it
 * and another worker took over) is aborted and its commits are fenced off by the store; a
 * run whose cancellation was requested stops after the batch in flight.
 */
export class Worker {
  readonly owner: string
  readonly #o: WorkerOptions
  readonly #leaseMs: number
  readonly #running = new Map<number, { abort: AbortController; done: Promise<void> }>()
  #stopping = false

  constructor(options: WorkerOptions) {
    this.#o = options
    this.owner = options.owner ?? processOwner()
    this.#leaseMs = options.leaseMs ?? 30_000
  }

  /** Runs in flight. */
  get active(): number {
    return this.#running.size
  }

  /** Claims and starts as many queued executions as there are free slots; returns how many. */
  async poll(): Promise<number> {
    let started = 0
    while (!this.#stopping && this.#running.size < (this.#o.concurrency ?? 2)) {
      const execution = await this.#o.store.executions.claim(this.owner, this.#leaseMs)
      if (!execution) break
      void this.#launch(execution)
      started++
    }
    return started
  }

  /**
   * Claims one queued execution and runs it to its end: the handler of a cluster transport's
   * job, whose concurrency the transport bounds. False when nothing was claimable (the run
   * the job named is running elsewhere, or was claimed already) or the worker is stopping.
   */
  async runNext(): Promise<boolean> {
    if (this.#stopping) return false
    const execution = await this.#o.store.executions.claim(this.owner, this.#leaseMs)
    if (!execution) return false
    await this.#launch(execution)
    return true
  }

  #launch(execution: ExecutionRow): Promise<void> {
    const abort = new AbortController()
    const done = this.#run(execution, abort).finally(() => this.#running.delete(execution.id))
    this.#running.set(execution.id, { abort, done })
    return done
  }

  /**
   * Stops claiming, asks every run to stop after its batch in flight (whose commit lands),
   * and waits for them. Their executions end as cancelled and are queued again.
   */
  async stop(): Promise<void> {
    this.#stopping = true
    for (const r of this.#running.values())
      r.abort.abort(new OpenSyncError('OSY_ABORTED', 'the worker is shutting down'))
    await Promise.all([...this.#running.values()].map((r) => r.done))
  }

  async #run(execution: ExecutionRow, abort: AbortController): Promise<void> {
    const { store, tasks, events } = this.#o
    const log = this.#o.log ?? silentLogger
    let result: RunResult | undefined
    let task: ResolvedTask | undefined
    events?.started(execution)
    try {
      task = await tasks.resolve(execution.taskId)
      log.info({ taskId: task.id, executionId: execution.id }, 'run started')
      result = await runTask(task, {
        store,
        registry: this.#o.registry,
        trigger: execution.trigger,
        signal: abort.signal,
        execution: { id: execution.id, owner: this.owner },
        leaseMs: this.#leaseMs,
        ...(this.#o.batchSize ? { batchSize: this.#o.batchSize } : {}),
        ...(events ? { onProgress: (p) => events.progress(execution.id, p) } : {}),
        log,
      })
      events?.ended(execution, result)
      const ended = {
        taskId: task.id,
        executionId: execution.id,
        status: result.status,
        totals: result.totals,
      }
      // A failed run says why on its own line, at error level, so an alert on errors sees it.
      if (result.status === 'failed' && result.error) {
        log.error(
          { ...ended, err: result.error },
          `run failed: ${result.error.message} [${result.error.code}]`,
        )
      } else if (result.status === 'partial') {
        // Some records failed: the run is not a plain success, so it says so at warn level.
        log.warn(ended, `run ended partial: ${result.totals.errors} record(s) failed`)
      } else {
        log.info(ended, 'run ended')
      }
      if (this.#stopping && result.status === 'cancelled') {
        // Interrupted by shutdown, not by a person: it runs again when a worker is back.
        const queued = await store.executions.enqueue({
          taskId: execution.taskId,
          trigger: execution.trigger,
        })
        if (queued.created) events?.queued({ ...execution, id: queued.id })
      }
    } catch (error) {
      // The task could not even be resolved (deleted, draft, a missing ${VAR}): the run fails.
      const e = coerceError(error)
      log.error(
        { err: e.toJSON(), taskId: execution.taskId, executionId: execution.id },
        `run could not start: ${e.message} [${e.code}]`,
      )
      await store.executions
        .finish(execution.id, {
          status: 'failed',
          counts: {},
          error: { code: e.code, message: e.message },
          owner: this.owner,
        })
        .catch(() => {})
      if (!result)
        events?.ended(execution, {
          status: 'failed',
          counts: {},
          error: { code: e.code, message: e.message },
        })
    }
    await this.#o.onFinished?.(execution, result, task)
  }
}

import { PgBoss } from 'pg-boss'
import { type BridgeLogger, coerceError, silentLogger } from '../sdk/index.ts'

/** What a delivered run job names: the execution row that was queued and its task. */
export interface RunJob {
  readonly executionId: number
  readonly taskId: string
}

/**
 * How queued executions reach the workers of a cluster. The execution rows stay the protocol
 * and the fencing token (claim, lease, fence); a transport only wakes a worker to claim one,
 * spreads the work over the processes, and retries a delivery whose handler failed.
 */
export interface RunTransport {
  start(): Promise<void>
  /** Asks for a worker to claim a queued execution of the task. Idempotent per task. */
  notify(executionId: number, taskId: string): Promise<void>
  /** Runs `handler` for each delivered job; a handler that throws is retried with back-off. */
  work(handler: (job: RunJob) => Promise<void>): Promise<void>
  /** Stops fetching, waits for the handlers in flight, and closes the connections. */
  stop(): Promise<void>
}

/** Options of {@link PgBossTransport}. */
export interface PgBossTransportOptions {
  /** The store's PostgreSQL URL; its `?schema=` (the store's schema) is not pg-boss's. */
  readonly url: string
  /** pg-boss's own schema in the same database. Default `osy_boss`. */
  readonly schema?: string
  /** Jobs handled at once by this process. Default 2. */
  readonly concurrency?: number
  /** How often an idle worker looks for jobs when no NOTIFY wakes it. Default 1 s. */
  readonly pollingSeconds?: number
  readonly log?: BridgeLogger
}

/** The pg-boss queue that carries run jobs. */
export const RUN_QUEUE = 'opensync-runs'

/**
 * The cluster transport on pg-boss, in its own schema of the store's database. The queue's
 * `short` policy keeps one waiting job per task (`singletonKey`: the task id), however often
 * the planners of every process notify it, while leaving active jobs unlimited: a job held by
 * a dead worker must not hold back the job of the run that replaces it — the store's lease
 * and its one-running-per-task index already keep runs of a task apart.
 */
export class PgBossTransport implements RunTransport {
  readonly #o: PgBossTransportOptions
  readonly #boss: PgBoss
  #starting?: Promise<void>
  #stopping?: Promise<void>

  constructor(options: PgBossTransportOptions) {
    this.#o = options
    const url = new URL(options.url)
    url.searchParams.delete('schema')
    this.#boss = new PgBoss({
      connectionString: url.toString(),
      schema: options.schema ?? 'osy_boss',
      application_name: 'opensync-worker',
      max: 4,
      // OpenSync plans runs itself (timekeeper.ts); pg-boss's cron would only add polling.
      schedule: false,
      useListenNotify: true,
    })
    // An EventEmitter without an 'error' listener throws: log pg-boss's background failures.
    this.#boss.on('error', (error) =>
      this.#log.error({ err: coerceError(error).toJSON() }, 'pg-boss error'),
    )
  }

  get #log(): BridgeLogger {
    return this.#o.log ?? silentLogger
  }

  start(): Promise<void> {
    this.#starting ??= (async () => {
      await this.#boss.start({ attempts: 5 })
      try {
        await this.#boss.createQueue(RUN_QUEUE, {
          policy: 'short',
          notify: true,
          // A delivery fails only when its claim could not reach the store: retry it.
          retryLimit: 5,
          retryDelay: 1,
          retryBackoff: true,
          retryDelayMax: 30,
          // Runs outlive their lease (it is renewed); the lease, not this, detects a dead
          // worker, so an expiry here would only cause a needless second delivery.
          expireInSeconds: 3600,
        })
      } catch (error) {
        // Another process created it at the same moment.
        if (!(await this.#boss.getQueue(RUN_QUEUE))) throw error
      }
    })()
    return this.#starting
  }

  async notify(executionId: number, taskId: string): Promise<void> {
    // null: a job for this task is waiting already (the `short` policy); it claims this run.
    await this.#boss.send(RUN_QUEUE, { executionId, taskId } satisfies RunJob, {
      singletonKey: taskId,
    })
  }

  async work(handler: (job: RunJob) => Promise<void>): Promise<void> {
    await this.#boss.work<RunJob>(
      RUN_QUEUE,
      {
        batchSize: 1,
        localConcurrency: this.#o.concurrency ?? 2,
        pollingIntervalSeconds: this.#o.pollingSeconds ?? 1,
        notifyPollingIntervalSeconds: this.#o.pollingSeconds ?? 1,
      },
      async (jobs) => {
        for (const job of jobs) await handler(job.data)
      },
    )
  }

  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      await this.#starting?.catch(() => {})
      await this.#boss.stop({ graceful: true, close: true })
    })()
    return this.#stopping
  }
}

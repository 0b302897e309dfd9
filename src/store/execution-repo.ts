import { type Expression, type Kysely, type Selectable, sql } from 'kysely'
import { OpenSyncError } from '../sdk/errors.ts'
import { chunks, fromJsonText, IN_LIST_SIZE, rowsPerStatement, toJsonText } from './batching.ts'
import { clockNow, clockPlus } from './store-clock.ts'
import type { RepoContext } from './store-context.ts'
import { isUniqueViolation } from './store-errors.ts'
import type { ExecutionLogTable, ExecutionTable, StoreTables } from './tables.ts'

/**
 * Where an execution is in its life. `partial`: the run finished, but some records failed
 * (they are retried by the next run); `succeeded` means every record read went through.
 */
export type ExecutionStatus =
  | 'queued'
  | 'running'
  | 'succeeded'
  | 'partial'
  | 'failed'
  | 'cancelled'

/**
 * What happened in one direction of one pair. A type rather than an interface, so counts pass
 * where a plain `Record<string, number>` is expected (totals, JSON output).
 */
export type Counts = {
  read: number
  created: number
  updated: number
  deleted: number
  unchanged: number
  conflicts: number
  errors: number
  unlinked: number
}

/** Counts per pair and per direction (`'0->1'`: from side 0 to side 1). */
export type ExecutionCounts = Record<string, Record<'0->1' | '1->0', Counts>>

/** One line of an execution's readable protocol. */
export interface LogEntry {
  readonly at: string
  readonly level: 'info' | 'warn' | 'error'
  readonly pairId?: string
  readonly message: string
  /** Any JSON-able detail. */
  readonly data?: unknown
}

/** A protocol line with its id, the cursor of the next page. */
export interface LogLine extends LogEntry {
  readonly id: number
}

/** Which executions {@link ExecutionRepo.page} lists. */
export interface ExecutionQuery {
  /** Only these tasks (an empty list matches none). */
  readonly taskIds?: readonly string[]
  readonly statuses?: readonly ExecutionStatus[]
  readonly trigger?: string
  /** Started (or queued) at or after this ISO time. */
  readonly from?: string
  /** Started (or queued) before this ISO time. */
  readonly to?: string
  /** Only ids below this one (the next page). */
  readonly before?: number
  /** At most this many (default 50, at most 500). */
  readonly limit?: number
}

/** A task's latest executions. */
export interface LatestExecutions {
  readonly finished?: ExecutionRow
  readonly running?: ExecutionRow
  readonly queued?: ExecutionRow
}

/** One execution as stored. */
export interface ExecutionRow {
  readonly id: number
  readonly taskId: string
  /** Who or what started it: `'cli'`, `'manual'`, `'plan'`, … */
  readonly trigger: string
  readonly dryRun: boolean
  readonly status: ExecutionStatus
  /** When it started running; while it is queued, when it was queued. */
  readonly startedAt: string
  readonly endedAt?: string
  readonly counts: ExecutionCounts
  readonly error?: { readonly code: string; readonly message: string }
  /** When it was queued; absent for a run started directly (`start`, `begin`). */
  readonly queuedAt?: string
  /** The plan slot a scheduled run stands for. */
  readonly scheduledFor?: string
  /** The worker (or CLI process) that runs or ran it. */
  readonly owner?: string
  /** Until when the owner's lease holds (database clock); absent for runs without a lease. */
  readonly leaseUntil?: string
  /** Someone asked the run to stop; its worker learns it at its next heartbeat. */
  readonly cancelRequested: boolean
}

/** A run that starts at once, outside the queue. */
export interface DirectStart {
  readonly taskId: string
  readonly trigger: string
  readonly dryRun: boolean
  /** Who runs it, named in the OSY_TASK_RUNNING of anyone who tries to start it meanwhile. */
  readonly owner?: string
  /** With `owner`: the run holds a lease this long and must renew it with `heartbeat`. */
  readonly leaseMs?: number
}

/** What `requestCancel` did. */
export type CancelOutcome = 'cancelled' | 'requested' | 'not-found' | 'finished'

/**
 * Executions of tasks, their protocols, and the run queue. At most one execution of a task
 * is queued and at most one runs, across every process: two partial unique indexes say so,
 * and every method that queues or starts a run goes through them.
 *
 * Leases are measured on the database clock (see store-clock.ts): a running execution with
 * an owner and a lease belongs to that owner until `lease_until`; `expire` fails it after
 * that, and from then on its owner can neither `fence` a commit nor `finish` it.
 */
export interface ExecutionRepo {
  /**
   * Records a running execution (the engine's CLI runs); returns its id. OSY_TASK_RUNNING
   * when the task already runs; a running execution whose lease ran out does not count, it
   * is failed as `expire` would. Without `owner` and `leaseMs` the run never expires.
   */
  start(e: DirectStart): Promise<number>
  /**
   * A direct start under a lease (CLI `run` next to a service): like `start`, with the owner
   * and lease required. OSY_TASK_RUNNING names the running execution and its owner.
   */
  begin(e: DirectStart & { readonly owner: string; readonly leaseMs: number }): Promise<number>
  /**
   * Records how an execution ended. With `owner`, only while the execution still runs under
   * that owner, else OSY_LEASE_LOST: a stale worker must not overwrite the outcome of the run
   * that replaced it. A missing execution is OSY_STORE_ERROR (a bug).
   */
  finish(
    id: number,
    e: {
      status: ExecutionStatus
      counts: ExecutionCounts
      error?: { code: string; message: string }
      owner?: string
    },
  ): Promise<void>
  get(id: number): Promise<ExecutionRow | undefined>
  /** The task's latest executions (queued ones too), newest first. */
  list(taskId: string, limit?: number): Promise<ExecutionRow[]>
  /**
   * Executions of any task, newest first, filtered; a page ends before `before` (the id the
   * last page ended at). Served by the primary key and the task index.
   */
  page(query: ExecutionQuery): Promise<ExecutionRow[]>
  /**
   * Per task, what the overview shows: the latest finished execution, and the running and
   * queued one, in three statements whatever the number of tasks.
   */
  latest(): Promise<Map<string, LatestExecutions>>
  /** Protocol lines after the line `after` (0: from the start), at most `limit` (default 200, at most 1000). */
  lines(
    id: number,
    query?: { readonly after?: number; readonly limit?: number },
  ): Promise<LogLine[]>
  /** Appends protocol lines in one multi-row insert. */
  log(id: number, entries: readonly LogEntry[]): Promise<void>
  /** The protocol lines of an execution, in the order they were logged. */
  logs(id: number): Promise<LogEntry[]>

  /**
   * Queues a run of the task. While one is queued already, returns that one's id with
   * `created: false` (a task waits with one run at most, however often it is asked for).
   */
  enqueue(e: {
    taskId: string
    trigger: string
    scheduledFor?: string
  }): Promise<{ id: number; created: boolean }>
  /**
   * Takes the oldest queued execution whose task is not running and starts it under `owner`
   * with a lease of `leaseMs`. Undefined when there is none. Safe from any number of processes
   * at once: a candidate taken by someone else, or whose task started meanwhile, is skipped.
   */
  claim(owner: string, leaseMs: number): Promise<ExecutionRow | undefined>
  /**
   * Renews the lease while the execution runs under `owner` and the lease has not run out.
   * `alive: false` means the lease is lost: stop without committing anything more.
   */
  heartbeat(
    id: number,
    owner: string,
    leaseMs: number,
  ): Promise<{ alive: boolean; cancelRequested: boolean }>
  /**
   * Call inside `store.transaction` before a batch commits: OSY_LEASE_LOST unless the
   * execution runs under `owner` with its lease unexpired. On PostgreSQL it locks the row
   * until the commit, so `expire` elsewhere waits for the batch instead of interleaving.
   */
  fence(id: number, owner: string): Promise<void>
  /**
   * Fails running executions whose lease ran out before `now` (default: the database clock)
   * with OSY_LEASE_LOST, and returns them: their tasks need a new run.
   */
  expire(now?: string): Promise<ExecutionRow[]>
  /** A queued execution is cancelled at once; a running one is asked to stop. */
  requestCancel(id: number): Promise<CancelOutcome>
  /** The task's running execution. */
  running(taskId: string): Promise<ExecutionRow | undefined>
  /** The task's queued execution. */
  queued(taskId: string): Promise<ExecutionRow | undefined>
  /**
   * Deletes finished executions (and their protocols) that ended before `olderThan`, except
   * the newest `keepPerTask` finished ones of each task; never a queued or running one.
   * Returns how many executions went.
   */
  prune(e: { olderThan: string; keepPerTask: number }): Promise<number>
  /**
   * The database clock as ISO text: the clock of leases (on SQLite, the host's). Judge a
   * lease against it, never against the process clock of another host.
   */
  clock(): Promise<string>
}

const LOG_COLUMNS = 6

/** Attempts of one claim: each failed one removed a candidate, so more is rarely needed. */
const CLAIM_ATTEMPTS = 10

/** Attempts of a start or enqueue that met a run which ended before it could be read. */
const INSERT_ATTEMPTS = 5

type Db = Kysely<StoreTables>

/** The execution repository on a connection. */
export function executionRepo(ctx: RepoContext): ExecutionRepo {
  const { dialect } = ctx
  const clock = () => clockNow(dialect)

  const startRunning = (operation: string, e: DirectStart) =>
    ctx.run(operation, async (db) => {
      for (let attempt = 1; ; attempt++) {
        const row = await db
          .insertInto('osy_executions')
          .values({
            task_id: e.taskId,
            trigger: e.trigger,
            dry_run: e.dryRun ? 1 : 0,
            status: 'running',
            started_at: clock(),
            ended_at: null,
            counts: '{}',
            error_code: null,
            error_message: null,
            owner: e.owner ?? null,
            lease_until:
              e.owner !== undefined && e.leaseMs !== undefined
                ? clockPlus(dialect, e.leaseMs)
                : null,
            scheduled_for: null,
            queued_at: null,
            cancel_requested: 0,
          })
          .onConflict((oc) => oc.column('task_id').where(isRunning).doNothing())
          .returning('id')
          .executeTakeFirst()
        if (row !== undefined) return row.id
        const running = await byStatus(db, e.taskId, 'running')
        // A run whose lease ran out is dead, whether or not a sweep has said so yet: without a
        // service to sweep, a crashed CLI run would otherwise block its task for good.
        const takenOver =
          running !== undefined && (await expireWhere(db, clock(), running.id)).length > 0
        if (running !== undefined && !takenOver) throw taskRunning(running)
        // The run that stood in the way ended meanwhile, or was expired just now: try again.
        if (attempt === INSERT_ATTEMPTS) throw contended(operation, e.taskId)
      }
    })

  return {
    start: (e) => startRunning('executions.start', e),
    begin: (e) => startRunning('executions.begin', e),

    finish(id, e) {
      return ctx.run('executions.finish', async (db) => {
        let update = db
          .updateTable('osy_executions')
          .set({
            status: e.status,
            ended_at: clock(),
            counts: toJsonText(e.counts),
            error_code: e.error?.code ?? null,
            error_message: e.error?.message ?? null,
          })
          .where('id', '=', id)
        if (e.owner !== undefined) {
          update = update.where(isRunning).where('owner', '=', e.owner)
        }
        const result = await update.executeTakeFirst()
        if (result.numUpdatedRows > 0n) return
        if (e.owner !== undefined && (await find(db, id)) !== undefined) {
          throw await leaseLost(db, id, e.owner)
        }
        // A lost outcome would show a run as running forever; say so instead.
        throw new OpenSyncError('OSY_STORE_ERROR', `metadata store: no execution ${id}`, {
          kind: 'bug',
        })
      })
    },

    get(id) {
      return ctx.run('executions.get', async (db) => {
        const row = await find(db, id)
        return row === undefined ? undefined : toExecution(row)
      })
    },

    list(taskId, limit = 20) {
      return ctx.run('executions.list', async (db) => {
        const rows = await db
          .selectFrom('osy_executions')
          .selectAll()
          .where('task_id', '=', taskId)
          .orderBy('id', 'desc')
          .limit(limit)
          .execute()
        return rows.map(toExecution)
      })
    },

    page(query) {
      return ctx.run('executions.page', async (db) => {
        if (query.taskIds !== undefined && query.taskIds.length === 0) return []
        let q = db.selectFrom('osy_executions').selectAll()
        if (query.taskIds !== undefined) q = q.where('task_id', 'in', [...query.taskIds])
        if (query.statuses !== undefined && query.statuses.length > 0)
          q = q.where('status', 'in', [...query.statuses])
        if (query.trigger !== undefined) q = q.where('trigger', '=', query.trigger)
        if (query.from !== undefined) q = q.where('started_at', '>=', query.from)
        if (query.to !== undefined) q = q.where('started_at', '<', query.to)
        if (query.before !== undefined) q = q.where('id', '<', query.before)
        const limit = Math.min(Math.max(1, query.limit ?? 50), 500)
        const rows = await q.orderBy('id', 'desc').limit(limit).execute()
        return rows.map(toExecution)
      })
    },

    latest() {
      return ctx.run('executions.latest', async (db) => {
        const out = new Map<
          string,
          { finished?: ExecutionRow; running?: ExecutionRow; queued?: ExecutionRow }
        >()
        const entry = (taskId: string) => {
          const e = out.get(taskId) ?? {}
          out.set(taskId, e)
          return e
        }
        // Per stored task, the newest execution that is neither queued nor running: a walk
        // down the (task_id, id) index that stops at once (at most two newer rows are
        // unfinished), instead of grouping every execution of every task.
        const latestIds = await db
          .selectFrom('osy_task_defs as t')
          .select((eb) =>
            eb
              .selectFrom('osy_executions as x')
              .select('x.id')
              .whereRef('x.task_id', '=', 't.task_id')
              .where('x.status', 'not in', ['queued', 'running'])
              .orderBy('x.id', 'desc')
              .limit(1)
              .as('id'),
          )
          .execute()
        const ids = latestIds.map((r) => r.id).filter((id): id is number => id !== null)
        const finished = []
        for (const slice of chunks(ids, IN_LIST_SIZE)) {
          finished.push(
            ...(await db
              .selectFrom('osy_executions')
              .selectAll()
              .where('id', 'in', slice)
              .execute()),
          )
        }
        for (const row of finished) entry(row.task_id).finished = toExecution(row)
        for (const row of await db
          .selectFrom('osy_executions')
          .selectAll()
          .where(isRunning)
          .execute())
          entry(row.task_id).running = toExecution(row)
        for (const row of await db
          .selectFrom('osy_executions')
          .selectAll()
          .where(isQueued)
          .execute())
          entry(row.task_id).queued = toExecution(row)
        return out
      })
    },

    lines(id, query = {}) {
      return ctx.run('executions.lines', async (db) => {
        const limit = Math.min(Math.max(1, query.limit ?? 200), 1000)
        const rows = await db
          .selectFrom('osy_execution_logs')
          .selectAll()
          .where('execution_id', '=', id)
          .where('id', '>', query.after ?? 0)
          .orderBy('id')
          .limit(limit)
          .execute()
        return rows.map((row) => ({ id: Number(row.id), ...toLogEntry(row) }))
      })
    },

    log(id, entries) {
      if (entries.length === 0) return Promise.resolve()
      const size = rowsPerStatement(LOG_COLUMNS)
      return ctx.write('executions.log', Math.ceil(entries.length / size), async (db) => {
        for (const slice of chunks(entries, size)) {
          await db
            .insertInto('osy_execution_logs')
            .values(
              slice.map((entry) => ({
                execution_id: id,
                at: entry.at,
                level: entry.level,
                pair_id: entry.pairId ?? null,
                message: entry.message,
                data: entry.data === undefined ? null : toJsonText(entry.data),
              })),
            )
            .execute()
        }
      })
    },

    logs(id) {
      return ctx.run('executions.logs', async (db) => {
        const rows = await db
          .selectFrom('osy_execution_logs')
          .selectAll()
          .where('execution_id', '=', id)
          .orderBy('id')
          .execute()
        return rows.map(toLogEntry)
      })
    },

    enqueue(e) {
      return ctx.run('executions.enqueue', async (db) => {
        for (let attempt = 1; ; attempt++) {
          const row = await db
            .insertInto('osy_executions')
            .values({
              task_id: e.taskId,
              trigger: e.trigger,
              dry_run: 0,
              status: 'queued',
              started_at: clock(),
              ended_at: null,
              counts: '{}',
              error_code: null,
              error_message: null,
              owner: null,
              lease_until: null,
              scheduled_for: e.scheduledFor ?? null,
              queued_at: clock(),
              cancel_requested: 0,
            })
            .onConflict((oc) => oc.column('task_id').where(isQueued).doNothing())
            .returning('id')
            .executeTakeFirst()
          if (row !== undefined) return { id: row.id, created: true }
          const queued = await byStatus(db, e.taskId, 'queued')
          if (queued !== undefined) return { id: queued.id, created: false }
          // The queued one was claimed between the two statements: queue a new one.
          if (attempt === INSERT_ATTEMPTS) throw contended('executions.enqueue', e.taskId)
        }
      })
    },

    claim(owner, leaseMs) {
      return ctx.run('executions.claim', async (db) => {
        const start = { status: 'running', owner, lease_until: clockPlus(dialect, leaseMs) }
        if (dialect === 'sqlite') {
          // One statement: SQLite takes its write lock before reading, so the candidate
          // cannot change hands, nor its task start, before the update lands.
          const row = await db
            .updateTable('osy_executions')
            .set({ ...start, started_at: clock() })
            .where('id', '=', candidates(db, []))
            .returningAll()
            .executeTakeFirst()
          return row === undefined ? undefined : toExecution(row)
        }
        // PostgreSQL: lock one candidate that nobody else holds, then start it. Its task may
        // have started meanwhile (a `begin` that committed after our snapshot): the unique
        // index refuses the update, and the next attempt leaves that candidate out.
        const skipped: number[] = []
        for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
          let candidate: number | undefined
          try {
            const row = await atomically(db, async (trx) => {
              const found = await candidates(trx, skipped)
                .forUpdate()
                .skipLocked()
                .executeTakeFirst()
              if (found === undefined) return undefined
              candidate = found.id
              return trx
                .updateTable('osy_executions')
                .set({ ...start, started_at: clock() })
                .where('id', '=', found.id)
                .returningAll()
                .executeTakeFirstOrThrow()
            })
            return row === undefined ? undefined : toExecution(row)
          } catch (cause) {
            if (candidate === undefined || !isUniqueViolation(cause)) throw cause
            skipped.push(candidate)
          }
        }
        // Every attempt met a task that had just started; the next poll tries again.
        return undefined
      })
    },

    heartbeat(id, owner, leaseMs) {
      return ctx.run('executions.heartbeat', async (db) => {
        const row = await db
          .updateTable('osy_executions')
          .set({ lease_until: clockPlus(dialect, leaseMs) })
          .where('id', '=', id)
          .where(isRunning)
          .where('owner', '=', owner)
          .where('lease_until', '>=', clock())
          .returning('cancel_requested')
          .executeTakeFirst()
        return row === undefined
          ? { alive: false, cancelRequested: false }
          : { alive: true, cancelRequested: row.cancel_requested === 1 }
      })
    },

    fence(id, owner) {
      return ctx.run('executions.fence', async (db) => {
        // A no-op update rather than a select: it takes the row lock that makes `expire`
        // in another process wait until this transaction ends.
        const row = await db
          .updateTable('osy_executions')
          .set((eb) => ({ lease_until: eb.ref('lease_until') }))
          .where('id', '=', id)
          .where(isRunning)
          .where('owner', '=', owner)
          .where('lease_until', '>=', clock())
          .returning('id')
          .executeTakeFirst()
        if (row === undefined) throw await leaseLost(db, id, owner)
      })
    },

    expire(at) {
      return ctx.run('executions.expire', async (db) => {
        const cutoff = at === undefined ? clock() : sql<string>`${at}`
        const rows = await expireWhere(db, cutoff)
        return rows.map(toExecution).sort((a, b) => a.id - b.id)
      })
    },

    requestCancel(id) {
      return ctx.run('executions.requestCancel', async (db) => {
        const cancelled = await db
          .updateTable('osy_executions')
          .set({ status: 'cancelled', ended_at: clock() })
          .where('id', '=', id)
          .where(isQueued)
          .executeTakeFirst()
        if (cancelled.numUpdatedRows > 0n) return 'cancelled'
        // Claimed meanwhile, if it was queued: then it runs now and is asked to stop.
        const requested = await db
          .updateTable('osy_executions')
          .set({ cancel_requested: 1 })
          .where('id', '=', id)
          .where(isRunning)
          .executeTakeFirst()
        if (requested.numUpdatedRows > 0n) return 'requested'
        return (await find(db, id)) === undefined ? 'not-found' : 'finished'
      })
    },

    running(taskId) {
      return ctx.run('executions.running', async (db) => {
        const row = await byStatus(db, taskId, 'running')
        return row === undefined ? undefined : toExecution(row)
      })
    },

    queued(taskId) {
      return ctx.run('executions.queued', async (db) => {
        const row = await byStatus(db, taskId, 'queued')
        return row === undefined ? undefined : toExecution(row)
      })
    },

    prune({ olderThan, keepPerTask }) {
      return ctx.write('executions.prune', 3, async (db) => {
        const doomed = db
          .selectFrom((eb) =>
            eb
              .selectFrom('osy_executions')
              .select([
                'id',
                'ended_at',
                sql<number>`row_number() over (partition by task_id order by id desc)`.as('rank'),
              ])
              .where('status', 'not in', ['queued', 'running'])
              .as('finished'),
          )
          .select('finished.id')
          .where('finished.rank', '>', keepPerTask)
          .where('finished.ended_at', '<', olderThan)
        // Logs first, by the same question: the foreign key would cascade, but one bulk
        // delete is cheaper than a lookup per execution.
        await db.deleteFrom('osy_execution_logs').where('execution_id', 'in', doomed).execute()
        await db.deleteFrom('osy_execution_changes').where('execution_id', 'in', doomed).execute()
        const result = await db
          .deleteFrom('osy_executions')
          .where('id', 'in', doomed)
          .executeTakeFirst()
        return Number(result.numDeletedRows)
      })
    },

    clock() {
      return ctx.run('executions.clock', async (db) => {
        const row = await db.selectNoFrom(clock().as('now')).executeTakeFirstOrThrow()
        return row.now
      })
    },
  }
}

/**
 * The status predicates of the partial unique indexes, as literals: a bound parameter would
 * hide from both planners (and from ON CONFLICT) that the index answers the query.
 */
const isRunning = sql<boolean>`status = 'running'`
const isQueued = sql<boolean>`status = 'queued'`

/** The oldest queued execution whose task is not running (the claim's candidates). */
function candidates(db: Db, skipped: readonly number[]) {
  let query = db
    .selectFrom('osy_executions as q')
    .select('q.id')
    .where(sql<boolean>`q.status = 'queued'`)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('osy_executions as r')
            .select('r.id')
            .whereRef('r.task_id', '=', 'q.task_id')
            .where(sql<boolean>`r.status = 'running'`),
        ),
      ),
    )
  if (skipped.length > 0) query = query.where('q.id', 'not in', skipped)
  return query.orderBy('q.queued_at').orderBy('q.id').limit(1)
}

/** Fails the running executions (or the one with `id`) whose lease ran out before `cutoff`. */
function expireWhere(
  db: Db,
  cutoff: Expression<string>,
  id?: number,
): Promise<Selectable<ExecutionTable>[]> {
  let update = db
    .updateTable('osy_executions')
    .set({
      status: 'failed',
      ended_at: cutoff,
      error_code: 'OSY_LEASE_LOST',
      error_message: sql<string>`'the worker ' || coalesce(owner, '(unnamed)') || ' stopped renewing its lease, which ran out at ' || lease_until`,
    })
    .where(isRunning)
    .where('lease_until', '<', cutoff)
  if (id !== undefined) update = update.where('id', '=', id)
  return update.returningAll().execute()
}

function find(db: Db, id: number): Promise<Selectable<ExecutionTable> | undefined> {
  return db.selectFrom('osy_executions').selectAll().where('id', '=', id).executeTakeFirst()
}

function byStatus(
  db: Db,
  taskId: string,
  status: 'running' | 'queued',
): Promise<Selectable<ExecutionTable> | undefined> {
  return db
    .selectFrom('osy_executions')
    .selectAll()
    .where('task_id', '=', taskId)
    .where(status === 'running' ? isRunning : isQueued)
    .executeTakeFirst()
}

/**
 * Runs fn all-or-nothing: in a transaction of its own, or inside the caller's transaction
 * under a savepoint, so that a statement refused by an index undoes fn without aborting it.
 */
async function atomically<T>(db: Db, fn: (db: Db) => Promise<T>): Promise<T> {
  if (!db.isTransaction) return db.transaction().execute(fn)
  await sql`savepoint osy_atomically`.execute(db)
  try {
    const result = await fn(db)
    await sql`release savepoint osy_atomically`.execute(db)
    return result
  } catch (error) {
    await sql`rollback to savepoint osy_atomically`.execute(db)
    await sql`release savepoint osy_atomically`.execute(db)
    throw error
  }
}

function taskRunning(row: Selectable<ExecutionTable>): OpenSyncError {
  const by = row.owner === null ? 'started without an owner' : `run by ${row.owner}`
  return new OpenSyncError(
    'OSY_TASK_RUNNING',
    `task ${row.task_id} is already running: execution ${row.id}, ${by}, since ${row.started_at}`,
    { details: { taskId: row.task_id, executionId: row.id, owner: row.owner } },
  )
}

/** OSY_LEASE_LOST, saying why `owner` may no longer write for the execution. */
async function leaseLost(db: Db, id: number, owner: string): Promise<OpenSyncError> {
  const row = await find(db, id)
  const why =
    row === undefined
      ? 'it no longer exists'
      : row.status !== 'running'
        ? `it is ${row.status} now`
        : row.owner !== owner
          ? `it runs under ${row.owner ?? 'no owner'} now`
          : `its lease ran out at ${row.lease_until}`
  return new OpenSyncError(
    'OSY_LEASE_LOST',
    `execution ${id} is no longer ${owner}'s to write for: ${why}`,
    { details: { executionId: id, owner } },
  )
}

function contended(operation: string, taskId: string): OpenSyncError {
  return new OpenSyncError(
    'OSY_STORE_ERROR',
    `metadata store: ${operation} of task ${taskId} kept meeting runs that ended at once; try again`,
  )
}

function toExecution(row: Selectable<ExecutionTable>): ExecutionRow {
  return {
    id: row.id,
    taskId: row.task_id,
    trigger: row.trigger,
    dryRun: row.dry_run === 1,
    status: row.status as ExecutionStatus,
    startedAt: row.started_at,
    ...(row.ended_at !== null ? { endedAt: row.ended_at } : {}),
    counts: fromJsonText(row.counts) as ExecutionCounts,
    ...(row.error_code !== null
      ? { error: { code: row.error_code, message: row.error_message ?? '' } }
      : {}),
    ...(row.queued_at !== null ? { queuedAt: row.queued_at } : {}),
    ...(row.scheduled_for !== null ? { scheduledFor: row.scheduled_for } : {}),
    ...(row.owner !== null ? { owner: row.owner } : {}),
    ...(row.lease_until !== null ? { leaseUntil: row.lease_until } : {}),
    cancelRequested: row.cancel_requested === 1,
  }
}

function toLogEntry(row: Selectable<ExecutionLogTable>): LogEntry {
  return {
    at: row.at,
    level: row.level as LogEntry['level'],
    ...(row.pair_id !== null ? { pairId: row.pair_id } : {}),
    message: row.message,
    ...(row.data !== null ? { data: fromJsonText(row.data) } : {}),
  }
}

import type { Selectable } from 'kysely'
import { OpenSyncError } from '../sdk/errors.ts'
import { chunks, fromJsonText, now, rowsPerStatement, toJsonText } from './batching.ts'
import type { RepoContext } from './store-context.ts'
import type { ExecutionLogTable, ExecutionTable } from './tables.ts'

/** Where an execution is in its life. */
export type ExecutionStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled'

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

/** One execution as stored. */
export interface ExecutionRow {
  readonly id: number
  readonly taskId: string
  /** Who or what started it: `'cli'`, `'manual'`, `'plan'`, … */
  readonly trigger: string
  readonly dryRun: boolean
  readonly status: ExecutionStatus
  readonly startedAt: string
  readonly endedAt?: string
  readonly counts: ExecutionCounts
  readonly error?: { readonly code: string; readonly message: string }
}

/** Executions of tasks and their protocols. */
export interface ExecutionRepo {
  /** Records a running execution; returns its id. */
  start(e: { taskId: string; trigger: string; dryRun: boolean }): Promise<number>
  /** Records how an execution ended. */
  finish(
    id: number,
    e: {
      status: ExecutionStatus
      counts: ExecutionCounts
      error?: { code: string; message: string }
    },
  ): Promise<void>
  get(id: number): Promise<ExecutionRow | undefined>
  /** The task's latest executions, newest first. */
  list(taskId: string, limit?: number): Promise<ExecutionRow[]>
  /** Appends protocol lines in one multi-row insert. */
  log(id: number, entries: readonly LogEntry[]): Promise<void>
  /** The protocol lines of an execution, in the order they were logged. */
  logs(id: number): Promise<LogEntry[]>
}

const LOG_COLUMNS = 6

/** The execution repository on a connection. */
export function executionRepo(ctx: RepoContext): ExecutionRepo {
  return {
    start(e) {
      return ctx.run('executions.start', async (db) => {
        const row = await db
          .insertInto('osy_executions')
          .values({
            task_id: e.taskId,
            trigger: e.trigger,
            dry_run: e.dryRun ? 1 : 0,
            status: 'running',
            started_at: now(),
            ended_at: null,
            counts: '{}',
            error_code: null,
            error_message: null,
          })
          .returning('id')
          .executeTakeFirstOrThrow()
        return row.id
      })
    },

    finish(id, e) {
      return ctx.run('executions.finish', async (db) => {
        const result = await db
          .updateTable('osy_executions')
          .set({
            status: e.status,
            ended_at: now(),
            counts: toJsonText(e.counts),
            error_code: e.error?.code ?? null,
            error_message: e.error?.message ?? null,
          })
          .where('id', '=', id)
          .executeTakeFirst()
        // A lost outcome would show a run as running forever; say so instead.
        if (result.numUpdatedRows === 0n) {
          throw new OpenSyncError('OSY_STORE_ERROR', `metadata store: no execution ${id}`, {
            kind: 'bug',
          })
        }
      })
    },

    get(id) {
      return ctx.run('executions.get', async (db) => {
        const row = await db
          .selectFrom('osy_executions')
          .selectAll()
          .where('id', '=', id)
          .executeTakeFirst()
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
  }
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

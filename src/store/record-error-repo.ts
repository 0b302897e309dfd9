import type { Selectable } from 'kysely'
import {
  chunks,
  distinct,
  IN_LIST_SIZE,
  lastByIdentity,
  now,
  rowsPerStatement,
} from './batching.ts'
import type { RepoContext } from './store-context.ts'
import type { RecordErrorTable } from './tables.ts'
import type { Side } from './types.ts'

/** A record that failed to sync, as reported by the engine. */
export interface RecordErrorEntry {
  readonly taskId: string
  readonly pairId: string
  /** The source side: the record flowed from this side when it failed. */
  readonly direction: Side
  /** The record's key on the source side. */
  readonly key: string
  readonly code: string
  readonly message: string
}

/** The state of a failing record after {@link RecordErrorRepo.record}. */
export interface RecordErrorState {
  readonly key: string
  readonly attempts: number
  /** True once the record has failed often enough that runs stop retrying it. */
  readonly quarantined: boolean
}

/** The last error of a failing record. */
export interface RecordErrorRow extends RecordErrorEntry, RecordErrorState {
  readonly firstAt: string
  readonly lastAt: string
}

/**
 * Where a row is in the order of {@link RecordErrorRepo.page}: when it first failed, then
 * its identity. A position, not an offset: errors recorded meanwhile do not shift a page.
 */
export type RecordErrorPosition = readonly [
  firstAt: string,
  taskId: string,
  pairId: string,
  direction: Side,
  key: string,
]

/** Which errors {@link RecordErrorRepo.page} lists. */
export interface RecordErrorPageQuery {
  /** Only the errors of these tasks; undefined: of every task. */
  readonly taskIds?: readonly string[]
  /** Only rows after this one (the last row of the page before). */
  readonly after?: RecordErrorPosition
  readonly limit: number
}

/** Per-record errors: retried on later runs, quarantined after repeated failures. */
export interface RecordErrorRepo {
  /**
   * Counts one more failed attempt for each record (a key listed twice in one call counts
   * once, with its last message) and quarantines those with `attempts >= quarantineAfter`.
   * Returns the new state of each record, in the order of first appearance.
   */
  record(entries: readonly RecordErrorEntry[], quarantineAfter: number): Promise<RecordErrorState[]>
  /** Keys of records with an error that are not quarantined: the ones to retry. */
  pending(taskId: string, pairId: string, direction: Side): Promise<string[]>
  /** Forgets the errors of records that synced (quarantined ones too). */
  clear(taskId: string, pairId: string, direction: Side, keys: readonly string[]): Promise<void>
  /** Every error of the task, by pair, direction and key. */
  list(taskId: string): Promise<RecordErrorRow[]>
  /**
   * A page of the errors of many tasks, newest first (by when the record first failed; its
   * identity orders the rest), the next page after the last row's {@link positionOf}.
   */
  page(query: RecordErrorPageQuery): Promise<RecordErrorRow[]>
  /**
   * Takes records out of quarantine with their attempts counted from zero, so the next run
   * retries them (a person asked to). Returns how many of the keys had an error.
   */
  release(taskId: string, pairId: string, direction: Side, keys: readonly string[]): Promise<number>
}

const ERROR_COLUMNS = 10

/** The record error repository on a connection. */
export function recordErrorRepo(ctx: RepoContext): RecordErrorRepo {
  return {
    async record(entries, quarantineAfter) {
      if (entries.length === 0) return []
      const identity = (e: { taskId: string; pairId: string; direction: number; key: string }) =>
        JSON.stringify([e.taskId, e.pairId, e.direction, e.key])
      const unique = lastByIdentity(entries, identity)
      const size = rowsPerStatement(ERROR_COLUMNS)
      const states = await ctx.write(
        'recordErrors.record',
        Math.ceil(unique.length / size),
        async (db) => {
          const states = new Map<string, RecordErrorState>()
          const at = now()
          for (const slice of chunks(unique, size)) {
            const rows = await db
              .insertInto('osy_record_errors')
              .values(
                slice.map((e) => ({
                  task_id: e.taskId,
                  pair_id: e.pairId,
                  direction: e.direction,
                  record_key: e.key,
                  code: e.code,
                  message: e.message,
                  attempts: 1,
                  quarantined: 1 >= quarantineAfter ? 1 : 0,
                  first_at: at,
                  last_at: at,
                })),
              )
              .onConflict((oc) =>
                oc.columns(['task_id', 'pair_id', 'direction', 'record_key']).doUpdateSet((eb) => {
                  // Qualified: PostgreSQL finds a bare `attempts` ambiguous beside `excluded`.
                  const attempts = eb(eb.ref('osy_record_errors.attempts'), '+', 1)
                  return {
                    code: eb.ref('excluded.code'),
                    message: eb.ref('excluded.message'),
                    attempts,
                    quarantined: eb
                      .case()
                      .when(attempts, '>=', quarantineAfter)
                      .then(1)
                      .else(0)
                      .end(),
                    last_at: eb.ref('excluded.last_at'),
                  }
                }),
              )
              .returning([
                'task_id',
                'pair_id',
                'direction',
                'record_key',
                'attempts',
                'quarantined',
              ])
              .execute()
            for (const row of rows) {
              states.set(
                identity({
                  taskId: row.task_id,
                  pairId: row.pair_id,
                  direction: row.direction,
                  key: row.record_key,
                }),
                { key: row.record_key, attempts: row.attempts, quarantined: row.quarantined === 1 },
              )
            }
          }
          return states
        },
      )
      return unique.map((e) => states.get(identity(e))!)
    },

    pending(taskId, pairId, direction) {
      return ctx.run('recordErrors.pending', async (db) => {
        const rows = await db
          .selectFrom('osy_record_errors')
          .select('record_key')
          .where('task_id', '=', taskId)
          .where('pair_id', '=', pairId)
          .where('direction', '=', direction)
          .where('quarantined', '=', 0)
          .orderBy('record_key')
          .execute()
        return rows.map((r) => r.record_key)
      })
    },

    clear(taskId, pairId, direction, keys) {
      if (keys.length === 0) return Promise.resolve()
      const unique = distinct(keys)
      return ctx.write(
        'recordErrors.clear',
        Math.ceil(unique.length / IN_LIST_SIZE),
        async (db) => {
          for (const slice of chunks(unique, IN_LIST_SIZE)) {
            await db
              .deleteFrom('osy_record_errors')
              .where('task_id', '=', taskId)
              .where('pair_id', '=', pairId)
              .where('direction', '=', direction)
              .where('record_key', 'in', slice)
              .execute()
          }
        },
      )
    },

    release(taskId, pairId, direction, keys) {
      if (keys.length === 0) return Promise.resolve(0)
      const unique = distinct(keys)
      return ctx.write(
        'recordErrors.release',
        Math.ceil(unique.length / IN_LIST_SIZE),
        async (db) => {
          let released = 0
          for (const slice of chunks(unique, IN_LIST_SIZE)) {
            const result = await db
              .updateTable('osy_record_errors')
              .set({ quarantined: 0, attempts: 0 })
              .where('task_id', '=', taskId)
              .where('pair_id', '=', pairId)
              .where('direction', '=', direction)
              .where('record_key', 'in', slice)
              .executeTakeFirst()
            released += Number(result.numUpdatedRows)
          }
          return released
        },
      )
    },

    page({ taskIds, after, limit }) {
      if (taskIds?.length === 0) return Promise.resolve([])
      return ctx.run('recordErrors.page', async (db) => {
        let q = db.selectFrom('osy_record_errors').selectAll()
        if (taskIds !== undefined) q = q.where('task_id', 'in', [...taskIds])
        if (after !== undefined) {
          q = q.where((eb) =>
            eb(
              eb.refTuple('first_at', 'task_id', 'pair_id', 'direction', 'record_key'),
              '<',
              eb.tuple(...after),
            ),
          )
        }
        const rows = await q
          .orderBy('first_at', 'desc')
          .orderBy('task_id', 'desc')
          .orderBy('pair_id', 'desc')
          .orderBy('direction', 'desc')
          .orderBy('record_key', 'desc')
          .limit(limit)
          .execute()
        return rows.map(toRow)
      })
    },

    list(taskId) {
      return ctx.run('recordErrors.list', async (db) => {
        const rows = await db
          .selectFrom('osy_record_errors')
          .selectAll()
          .where('task_id', '=', taskId)
          .orderBy('pair_id')
          .orderBy('direction')
          .orderBy('record_key')
          .execute()
        return rows.map(toRow)
      })
    },
  }
}

function toRow(row: Selectable<RecordErrorTable>): RecordErrorRow {
  return {
    taskId: row.task_id,
    pairId: row.pair_id,
    direction: row.direction as Side,
    key: row.record_key,
    code: row.code,
    message: row.message,
    attempts: row.attempts,
    quarantined: row.quarantined === 1,
    firstAt: row.first_at,
    lastAt: row.last_at,
  }
}

/** The position of a row in the order of {@link RecordErrorRepo.page}. */
export function positionOf(row: RecordErrorRow): RecordErrorPosition {
  return [row.firstAt, row.taskId, row.pairId, row.direction, row.key]
}

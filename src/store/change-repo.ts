import type { Selectable } from 'kysely'
import { chunks, fromJsonText, rowsPerStatement, toJsonText } from './batching.ts'
import type { RepoContext } from './store-context.ts'
import type { ExecutionChangeTable } from './tables.ts'
import type { Side } from './types.ts'

/** What an execution did to one record. */
export type ChangeOp = 'create' | 'update' | 'delete' | 'conflict' | 'error' | 'unlink' | 'flag'

/** One record an execution touched, by key (never its values: they may be personal data). */
export interface ChangeEntry {
  readonly pairId: string
  /** The side the change came from: 0 when it went from the first system to the second. */
  readonly direction: Side
  readonly op: ChangeOp
  readonly sourceKey: string
  readonly targetKey?: string
  /** A conflict's mapping, a failure's code and message. */
  readonly detail?: { readonly mapping?: string; readonly code?: string; readonly message?: string }
}

/** A stored change, with the id that pages through them. */
export interface ChangeRow extends ChangeEntry {
  readonly id: number
  readonly executionId: number
}

/** Which of an execution's changes to list. */
export interface ChangeQuery {
  /** Only changes after this id (paging). */
  readonly after?: number
  /** At most this many (default 100, at most 1000). */
  readonly limit?: number
  readonly op?: ChangeOp
  readonly pairId?: string
  /** Only changes of the record with this key, on either side. */
  readonly key?: string
}

/** The records each execution touched (src/engine/protocol.ts bounds how many per kind). */
export interface ChangeRepo {
  /** Appends changes of an execution, in a handful of statements whatever their number. */
  add(executionId: number, changes: readonly ChangeEntry[]): Promise<void>
  /** An execution's changes in order, filtered and paged. */
  list(executionId: number, query?: ChangeQuery): Promise<ChangeRow[]>
}

const COLUMNS = 7

/** The change repository on a connection. */
export function changeRepo(ctx: RepoContext): ChangeRepo {
  return {
    add(executionId, changes) {
      if (changes.length === 0) return Promise.resolve()
      const size = rowsPerStatement(COLUMNS)
      return ctx.write('changes.add', Math.ceil(changes.length / size), async (db) => {
        for (const slice of chunks(changes, size)) {
          await db
            .insertInto('osy_execution_changes')
            .values(
              slice.map((c) => ({
                execution_id: executionId,
                pair_id: c.pairId,
                direction: c.direction,
                op: c.op,
                source_key: c.sourceKey,
                target_key: c.targetKey ?? null,
                detail: c.detail === undefined ? null : toJsonText(c.detail),
              })),
            )
            .execute()
        }
      })
    },

    list(executionId, query = {}) {
      return ctx.run('changes.list', async (db) => {
        let q = db
          .selectFrom('osy_execution_changes')
          .selectAll()
          .where('execution_id', '=', executionId)
        if (query.after !== undefined) q = q.where('id', '>', query.after)
        if (query.op !== undefined) q = q.where('op', '=', query.op)
        if (query.pairId !== undefined) q = q.where('pair_id', '=', query.pairId)
        const key = query.key
        if (key !== undefined)
          q = q.where((eb) => eb.or([eb('source_key', '=', key), eb('target_key', '=', key)]))
        const limit = Math.min(Math.max(1, query.limit ?? 100), 1000)
        const rows = await q.orderBy('id').limit(limit).execute()
        return rows.map(toChange)
      })
    },
  }
}

function toChange(row: Selectable<ExecutionChangeTable>): ChangeRow {
  return {
    id: Number(row.id),
    executionId: Number(row.execution_id),
    pairId: row.pair_id,
    direction: row.direction as Side,
    op: row.op as ChangeOp,
    sourceKey: row.source_key,
    ...(row.target_key !== null ? { targetKey: row.target_key } : {}),
    ...(row.detail !== null ? { detail: fromJsonText(row.detail) as ChangeEntry['detail'] } : {}),
  }
}

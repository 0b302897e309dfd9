import type { Selectable } from 'kysely'
import {
  chunks,
  distinct,
  fromJsonText,
  IN_LIST_SIZE,
  now,
  rowsPerStatement,
  toJsonText,
} from './batching.ts'
import type { RepoContext } from './store-context.ts'
import type { IntentTable } from './tables.ts'
import type { Side } from './types.ts'

/** A create about to be sent to the target of a pair. */
export interface IntentEntry {
  readonly taskId: string
  readonly pairId: string
  /** The source side: the record is created on the other one. */
  readonly direction: Side
  /** The record's key on the source side. */
  readonly sourceKey: string
  /**
   * What finds the record on the target if the create went through (match values, external
   * ID); JSON-able.
   */
  readonly match: unknown
}

/** A stored intent. */
export interface IntentRow extends IntentEntry {
  readonly id: number
  readonly createdAt: string
}

/**
 * Crash safety for creates: an intent is recorded before a create is sent and removed when its
 * link is committed, so an intent still open at the start of a run is a create whose outcome
 * is unknown, to be looked up before anything is created again.
 */
export interface IntentRepo {
  /** Records intents; returns their ids in the order of `entries`. */
  add(entries: readonly IntentEntry[]): Promise<number[]>
  /** Open intents of one pair and direction, oldest first. */
  open(taskId: string, pairId: string, direction: Side): Promise<IntentRow[]>
  remove(ids: readonly number[]): Promise<void>
}

const INTENT_COLUMNS = 6

/** The intent repository on a connection. */
export function intentRepo(ctx: RepoContext): IntentRepo {
  return {
    add(entries) {
      if (entries.length === 0) return Promise.resolve([])
      const size = rowsPerStatement(INTENT_COLUMNS)
      return ctx.write('intents.add', Math.ceil(entries.length / size), async (db) => {
        const ids: number[] = []
        const at = now()
        for (const slice of chunks(entries, size)) {
          const rows = await db
            .insertInto('osy_intents')
            .values(
              slice.map((e) => ({
                task_id: e.taskId,
                pair_id: e.pairId,
                direction: e.direction,
                source_key: e.sourceKey,
                match: toJsonText(e.match),
                created_at: at,
              })),
            )
            .returning('id')
            .execute()
          // Neither database promises RETURNING order, but both hand out the ids of one
          // statement ascending in VALUES order, so sorted ids line up with the entries.
          ids.push(...rows.map((r) => r.id).sort((a, b) => a - b))
        }
        return ids
      })
    },

    open(taskId, pairId, direction) {
      return ctx.run('intents.open', async (db) => {
        const rows = await db
          .selectFrom('osy_intents')
          .selectAll()
          .where('task_id', '=', taskId)
          .where('pair_id', '=', pairId)
          .where('direction', '=', direction)
          .orderBy('id')
          .execute()
        return rows.map(toIntent)
      })
    },

    remove(ids) {
      if (ids.length === 0) return Promise.resolve()
      const unique = distinct(ids)
      return ctx.write('intents.remove', Math.ceil(unique.length / IN_LIST_SIZE), async (db) => {
        for (const slice of chunks(unique, IN_LIST_SIZE)) {
          await db.deleteFrom('osy_intents').where('id', 'in', slice).execute()
        }
      })
    },
  }
}

function toIntent(row: Selectable<IntentTable>): IntentRow {
  return {
    id: row.id,
    taskId: row.task_id,
    pairId: row.pair_id,
    direction: row.direction as Side,
    sourceKey: row.source_key,
    match: fromJsonText(row.match),
    createdAt: row.created_at,
  }
}

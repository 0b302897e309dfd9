import type { Selectable } from 'kysely'
import { OpenSyncError } from '../sdk/errors.ts'
import { parseJson, stringifyJson } from '../sdk/json.ts'
import {
  chunks,
  distinct,
  fromJsonText,
  IN_LIST_SIZE,
  lastByIdentity,
  now,
  rowsPerStatement,
  toJsonText,
} from './batching.ts'
import type { RepoContext } from './store-context.ts'
import type { ConflictTable } from './tables.ts'
import type { Side } from './types.ts'

/** A field changed on both sides to different values, parked for a person to decide. */
export interface ConflictEntry {
  readonly taskId: string
  readonly pairId: string
  /** The record's key on side 0 and on side 1. */
  readonly keys: readonly [string, string]
  /** The field mapping in conflict, by its id. */
  readonly mapping: string
  /** The value on side 0 and on side 1; JSON-able. */
  readonly values: readonly [unknown, unknown]
  /**
   * The base: each side's value as last synced, before both edits (null where it is not
   * known); JSON-able. Kept while the conflict is open.
   */
  readonly base?: readonly [unknown, unknown]
}

/** A stored conflict: open, resolved (winner chosen), or applied by a later run. */
export interface ConflictRow extends ConflictEntry {
  readonly id: number
  readonly createdAt: string
  readonly updatedAt: string
  /** The side whose value wins, when the decision is a winner. */
  readonly winner?: Side
  /**
   * The value decided, when the decision is a value (present, possibly `null`, only then):
   * the mapping's value as side 0 holds it (side 1 when the pair does not flow from side 0);
   * the engine writes it there and, converted by the mapping, on the other side.
   */
  readonly value?: unknown
  readonly resolvedAt?: string
  readonly appliedAt?: string
}

/** A person's decision on a parked conflict: a side wins, or a value of their own. */
export type ConflictDecision = Side | { readonly winner: Side } | { readonly value: unknown }

/** Conflicts of the manual strategy: parked by runs, resolved by people, applied by runs. */
export interface ConflictRepo {
  /** Parks conflicts; an open one for the same record and mapping gets the new values. */
  park(entries: readonly ConflictEntry[]): Promise<void>
  /** Open conflicts of the task (or of one pair; of every task without one), oldest first. */
  open(taskId: string | undefined, pairId?: string): Promise<ConflictRow[]>
  /** How many conflicts of the task (or of one pair) wait for a decision. */
  countOpen(taskId: string, pairId?: string): Promise<number>
  /** One conflict, whatever its state. */
  get(id: number): Promise<ConflictRow | undefined>
  /**
   * Decides a conflict: a winner (a side, or `{ winner }`) or `{ value }`. Allowed until the
   * decision is applied (a later call replaces an earlier one); OSY_RECORD_NOT_FOUND after.
   */
  resolve(id: number, decision: ConflictDecision): Promise<void>
  /** Decides every open conflict of the task (or of one pair) for `winner`; returns how many. */
  resolveAll(taskId: string, winner: Side, pairId?: string): Promise<number>
  /** Resolved conflicts of a pair that no run has applied yet, oldest first (at most `limit`). */
  decided(taskId: string, pairId: string, limit?: number): Promise<ConflictRow[]>
  /** Resolved conflicts of these records (by key on side 0) that no run has applied yet. */
  resolvedFor(taskId: string, pairId: string, key0s: readonly string[]): Promise<ConflictRow[]>
  /** Marks resolutions as applied, so they are not applied again. */
  markApplied(ids: readonly number[]): Promise<void>
}

const CONFLICT_COLUMNS = 9

/** The conflict repository on a connection. */
export function conflictRepo(ctx: RepoContext): ConflictRepo {
  return {
    async park(entries) {
      if (entries.length === 0) return
      const unique = lastByIdentity(entries, (e) =>
        JSON.stringify([e.taskId, e.pairId, e.keys[0], e.mapping]),
      )
      const size = rowsPerStatement(CONFLICT_COLUMNS)
      await ctx.write('conflicts.park', Math.ceil(unique.length / size), async (db) => {
        const at = now()
        for (const slice of chunks(unique, size)) {
          await db
            .insertInto('osy_conflicts')
            .values(
              slice.map((e) => ({
                task_id: e.taskId,
                pair_id: e.pairId,
                key0: e.keys[0],
                key1: e.keys[1],
                mapping: e.mapping,
                value0: toJsonText(e.values[0]),
                value1: toJsonText(e.values[1]),
                // While the conflict is open, the decision's column keeps the base (see toConflict).
                decided_value: e.base !== undefined ? stringifyJson({ base: e.base }) : null,
                created_at: at,
                updated_at: at,
              })),
            )
            .onConflict((oc) =>
              oc
                .columns(['task_id', 'pair_id', 'key0', 'mapping'])
                // The arbiter is the partial unique index of open conflicts.
                .where('resolved_at', 'is', null)
                .doUpdateSet((eb) => ({
                  key1: eb.ref('excluded.key1'),
                  value0: eb.ref('excluded.value0'),
                  value1: eb.ref('excluded.value1'),
                  updated_at: eb.ref('excluded.updated_at'),
                })),
            )
            .execute()
        }
      })
    },

    open(taskId, pairId) {
      return ctx.run('conflicts.open', async (db) => {
        let query = db.selectFrom('osy_conflicts').selectAll().where('resolved_at', 'is', null)
        if (taskId !== undefined) query = query.where('task_id', '=', taskId)
        if (pairId !== undefined) query = query.where('pair_id', '=', pairId)
        const rows = await query.orderBy('id').execute()
        return rows.map(toConflict)
      })
    },

    countOpen(taskId, pairId) {
      return ctx.run('conflicts.countOpen', async (db) => {
        let query = db
          .selectFrom('osy_conflicts')
          .select((eb) => eb.fn.countAll<number | string | bigint>().as('n'))
          .where('task_id', '=', taskId)
          .where('resolved_at', 'is', null)
        if (pairId !== undefined) query = query.where('pair_id', '=', pairId)
        const row = await query.executeTakeFirst()
        return Number(row?.n ?? 0)
      })
    },

    get(id) {
      return ctx.run('conflicts.get', async (db) => {
        const row = await db
          .selectFrom('osy_conflicts')
          .selectAll()
          .where('id', '=', id)
          .executeTakeFirst()
        return row ? toConflict(row) : undefined
      })
    },

    resolveAll(taskId, winner, pairId) {
      return ctx.run('conflicts.resolveAll', async (db) => {
        let update = db
          .updateTable('osy_conflicts')
          .set({ winner, decided_value: null, resolved_at: now() })
          .where('task_id', '=', taskId)
          .where('resolved_at', 'is', null)
        if (pairId !== undefined) update = update.where('pair_id', '=', pairId)
        const result = await update.executeTakeFirst()
        return Number(result.numUpdatedRows)
      })
    },

    resolve(id, decision) {
      const set =
        typeof decision === 'number'
          ? { winner: decision, decided_value: null }
          : 'winner' in decision
            ? { winner: decision.winner, decided_value: null }
            : { winner: null, decided_value: stringifyJson(decision.value ?? null) }
      return ctx.run('conflicts.resolve', async (db) => {
        const result = await db
          .updateTable('osy_conflicts')
          .set({ ...set, resolved_at: now() })
          .where('id', '=', id)
          .where('applied_at', 'is', null)
          .executeTakeFirst()
        if (result.numUpdatedRows === 0n) {
          throw new OpenSyncError(
            'OSY_RECORD_NOT_FOUND',
            `conflict ${id} does not exist or was already applied`,
            { details: { field: 'id' } },
          )
        }
      })
    },

    decided(taskId, pairId, limit = 10_000) {
      return ctx.run('conflicts.decided', async (db) => {
        const rows = await db
          .selectFrom('osy_conflicts')
          .selectAll()
          .where('task_id', '=', taskId)
          .where('pair_id', '=', pairId)
          .where('resolved_at', 'is not', null)
          .where('applied_at', 'is', null)
          .orderBy('id')
          .limit(limit)
          .execute()
        return rows.map(toConflict)
      })
    },

    resolvedFor(taskId, pairId, key0s) {
      if (key0s.length === 0) return Promise.resolve([])
      return ctx.run('conflicts.resolvedFor', async (db) => {
        const out: ConflictRow[] = []
        for (const slice of chunks(distinct(key0s), IN_LIST_SIZE)) {
          const rows = await db
            .selectFrom('osy_conflicts')
            .selectAll()
            .where('task_id', '=', taskId)
            .where('pair_id', '=', pairId)
            .where('key0', 'in', slice)
            .where('resolved_at', 'is not', null)
            .where('applied_at', 'is', null)
            .orderBy('id')
            .execute()
          out.push(...rows.map(toConflict))
        }
        return out
      })
    },

    markApplied(ids) {
      if (ids.length === 0) return Promise.resolve()
      const unique = distinct(ids)
      return ctx.write(
        'conflicts.markApplied',
        Math.ceil(unique.length / IN_LIST_SIZE),
        async (db) => {
          const at = now()
          for (const slice of chunks(unique, IN_LIST_SIZE)) {
            await db
              .updateTable('osy_conflicts')
              .set({ applied_at: at })
              .where('id', 'in', slice)
              .where('applied_at', 'is', null)
              .execute()
          }
        },
      )
    },
  }
}

function toConflict(row: Selectable<ConflictTable>): ConflictRow {
  return {
    id: row.id,
    taskId: row.task_id,
    pairId: row.pair_id,
    keys: [row.key0, row.key1],
    mapping: row.mapping,
    values: [fromJsonText(row.value0), fromJsonText(row.value1)],
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    ...(row.winner !== null ? { winner: row.winner as Side } : {}),
    ...(row.decided_value === null
      ? {}
      : row.resolved_at === null
        ? baseOf(row.decided_value)
        : { value: parseJson(row.decided_value) }),
    ...(row.resolved_at !== null ? { resolvedAt: row.resolved_at } : {}),
    ...(row.applied_at !== null ? { appliedAt: row.applied_at } : {}),
  }
}

/**
 * The base kept in an open conflict's decision column (no decision yet, so the column is
 * free until one is made, and a re-park keeps the first base: the value last synced).
 */
function baseOf(text: string): { base?: readonly [unknown, unknown] } {
  const stored = parseJson(text) as { base?: unknown } | null
  const base = stored?.base
  return Array.isArray(base) && base.length === 2 ? { base: [base[0], base[1]] } : {}
}

import { type Kysely, type Selectable, sql } from 'kysely'
import type { LinkTable, StoreTables } from './tables.ts'
import type { Side, StoreDialect } from './types.ts'

/**
 * Looks a pair's links up by key, one statement per slice of keys, in a form the planner gets
 * right.
 *
 * Both links indexes start with the pair's ref, so a planner that believes a pair is
 * small reads every link of the pair and filters by key instead of probing the key: 10 to 20 ms
 * instead of 1 to 3 ms per 500 keys at 100,000 links, growing with the table, so a first sync
 * turns quadratic. SQLite believes it whenever it has no statistics, which is always unless
 * someone runs ANALYZE: by key0 the primary key wins anyway, and by key1 INDEXED BY names the
 * index (and fails the statement, rather than going slow, if it ever goes missing).
 * PostgreSQL believes it of a table or a pair its statistics have not seen;
 * planner-statistics.ts keeps them current.
 */
export interface LinkLookup {
  /** The links whose key on the side is one of `keys`. */
  select(keys: readonly string[]): Promise<Selectable<LinkTable>[]>
  /** Deletes them; returns how many went. */
  delete(keys: readonly string[]): Promise<number>
}

const KEY_COLUMN = ['key0', 'key1'] as const

/** Lookups of one pair's links, by its ref (`osy_pairs.id`), by the key of `side`. */
export function linkLookup(
  db: Kysely<StoreTables>,
  dialect: StoreDialect,
  pair: number,
  side: Side,
): LinkLookup {
  const column = KEY_COLUMN[side]
  const table =
    side === 1 && dialect === 'sqlite'
      ? // Kysely has no INDEXED BY; the raw table expression stands in for the table name.
        (sql`${sql.table('osy_links')} indexed by ${sql.id('osy_links_key1')}` as unknown as 'osy_links')
      : 'osy_links'
  return {
    select: (keys) =>
      db.selectFrom(table).selectAll().where('pair', '=', pair).where(column, 'in', keys).execute(),
    async delete(keys) {
      const result = await db
        .deleteFrom(table)
        .where('pair', '=', pair)
        .where(column, 'in', keys)
        .executeTakeFirst()
      return Number(result.numDeletedRows)
    },
  }
}

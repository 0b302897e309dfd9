import type { SqliteDatabase, SqliteStatement } from 'kysely'

/** better-sqlite3's statement: `busy` while an `iterate()` over it is unfinished. */
type BusyStatement = SqliteStatement & { readonly busy: boolean }

/** How many prepared statements a store keeps: its repos issue a few dozen distinct texts. */
const CACHE_SIZE = 128

/**
 * A better-sqlite3 database whose `prepare` keeps the statements it made, by SQL text, for
 * Kysely's SQLite driver (which prepares each query afresh). Preparing a batch's multi-row
 * link insert (thousands of parameters) cost as much as running it: 1.2 s of a 1,000,000-link
 * initial sync. Least recently used statements go first; a statement still iterating (a
 * streamed select) is never handed out twice, a new one is prepared instead.
 */
export function statementCachingDatabase(
  database: { close(): void; prepare(sql: string): BusyStatement },
  size = CACHE_SIZE,
): SqliteDatabase {
  const cache = new Map<string, BusyStatement>()
  return {
    close: () => {
      cache.clear()
      database.close()
    },
    prepare(sql: string) {
      const cached = cache.get(sql)
      if (cached !== undefined && !cached.busy) {
        // Most recent last: Map keeps insertion order.
        cache.delete(sql)
        cache.set(sql, cached)
        return cached
      }
      const statement = database.prepare(sql)
      cache.set(sql, statement)
      if (cache.size > size) cache.delete(cache.keys().next().value as string)
      return statement
    },
  }
}

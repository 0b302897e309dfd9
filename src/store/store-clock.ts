import { type RawBuilder, sql } from 'kysely'
import type { StoreDialect } from './types.ts'

/**
 * The clock of leases: the database's, not the process's. In cluster mode the workers and
 * API processes run on different hosts whose clocks drift apart; a lease written by one and
 * judged by another must be measured on one clock, and the database is the one they share.
 * (On SQLite that is the host's clock, the only one there is.)
 *
 * Both expressions yield the ISO form of every other timestamp in the store
 * (`2024-05-01T10:00:00.000Z`), so times from either clock compare as text. PostgreSQL reads
 * `statement_timestamp()`: `now()` would be the start of the transaction, stale inside a
 * long one, and it would tell a fence late in a batch that an expired lease still holds.
 */
export function clockNow(dialect: StoreDialect): RawBuilder<string> {
  return clockPlus(dialect, 0)
}

/** The database clock `ms` milliseconds from now, as ISO text. */
export function clockPlus(dialect: StoreDialect, ms: number): RawBuilder<string> {
  if (dialect === 'postgres') {
    const at =
      ms === 0
        ? sql`statement_timestamp()`
        : sql`statement_timestamp() + make_interval(secs => ${ms / 1000})`
    return sql<string>`to_char((${at}) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
  }
  return ms === 0
    ? sql<string>`strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`
    : sql<string>`strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ${`${(ms / 1000).toFixed(3)} seconds`})`
}

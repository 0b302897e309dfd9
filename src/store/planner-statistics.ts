import { type Kysely, sql } from 'kysely'
import type { StoreTables } from './tables.ts'
import type { StoreDialect } from './types.ts'

/**
 * Keeps PostgreSQL's statistics of the links table in step with a pair's growth.
 *
 * PostgreSQL estimates `pair = ?` from its statistics, and a pair they have not seen (a table
 * never analyzed, or a new pair's first sync into a store that holds others) counts as nearly
 * absent. The planner then finds 500 links by reading every link of the pair
 * and filtering (see link-lookup.ts). Autovacuum re-analyzes only after a tenth of the table
 * has changed, which in a large store can be a whole first sync later.
 *
 * So the store counts the links it adds per pair and analyzes the table whenever a pair
 * crosses a power of ten from 1,000 on: a handful of ANALYZEs per first sync, each sampling at
 * most 30,000 rows, after which an estimate is never more than ten times off. A pair below
 * 1,000 links is cheap to read whole anyway. Links updated in place do not count: they change
 * no estimate, and a 1% run over a million links paid two ANALYZEs (0.6 s) when they did. SQLite needs none of this: it keeps no statistics
 * unless told, and its lookups name their index.
 */
export interface PlannerStatistics {
  /** Counts links added to a pair; true when the table is due for ANALYZE. */
  noteLinks(taskId: string, pairId: string, written: number): boolean
  /** Analyzes the links table. Never throws: statistics only make queries faster. */
  analyzeLinks(db: Kysely<StoreTables>): Promise<void>
}

const FIRST_THRESHOLD = 1000

/** The statistics keeper of one open store. */
export function plannerStatistics(
  dialect: StoreDialect,
  schema: string | undefined,
): PlannerStatistics {
  if (dialect === 'sqlite') {
    return { noteLinks: () => false, analyzeLinks: async () => undefined }
  }
  const written = new Map<string, number>()
  return {
    noteLinks(taskId, pairId, count) {
      const pair = JSON.stringify([taskId, pairId])
      const before = written.get(pair) ?? 0
      const after = before + count
      written.set(pair, after)
      for (let threshold = FIRST_THRESHOLD; threshold <= after; threshold *= 10) {
        if (before < threshold) return true
      }
      return false
    },
    async analyzeLinks(db) {
      const table = schema === undefined ? sql.id('osy_links') : sql.id(schema, 'osy_links')
      try {
        await sql`analyze ${table}`.execute(db)
      } catch {
        // A broken connection shows in the next real query; a missing privilege (ANALYZE
        // needs the table's owner) only costs speed.
      }
    },
  }
}

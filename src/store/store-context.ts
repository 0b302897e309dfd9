import { AsyncLocalStorage } from 'node:async_hooks'
import type { Kysely } from 'kysely'
import { OpenSyncError } from '../sdk/errors.ts'
import {
  type PairRefCache,
  type PairRefs,
  storePairRefs,
  transactionPairRefs,
} from './pair-refs.ts'
import type { PlannerStatistics } from './planner-statistics.ts'
import { storeError } from './store-errors.ts'
import type { StoreTables } from './tables.ts'
import type { StoreDialect } from './types.ts'

/** The connection a repository runs on: the whole store, or one transaction of it. */
export interface RepoContext {
  readonly dialect: StoreDialect
  /** Runs one store operation: refused inside a foreign transaction, errors wrapped. */
  run<T>(operation: string, fn: (db: Kysely<StoreTables>) => Promise<T>): Promise<T>
  /**
   * Like {@link run} for a write of `statements` statements: when there is more than one, they
   * commit together (a new transaction, or the current one). Besides all-or-nothing, that is
   * one commit and one fsync for a chunked batch instead of one per chunk.
   */
  write<T>(
    operation: string,
    statements: number,
    fn: (db: Kysely<StoreTables>) => Promise<T>,
  ): Promise<T>
  /** Reports links added per pair, so planner statistics follow the pairs' growth. */
  linksWritten(pairs: ReadonlyMap<string, PairGrowth>): Promise<void>
  /** The refs of pairs in the links table, as this connection may keep them. */
  readonly pairs: PairRefs
}

/** How many links a write added to one pair (updated ones do not count). */
export interface PairGrowth {
  readonly taskId: string
  readonly pairId: string
  readonly count: number
}

function due(statistics: PlannerStatistics, pairs: ReadonlyMap<string, PairGrowth>): boolean {
  let result = false
  for (const p of pairs.values()) {
    // Every pair is counted, so no short-circuit.
    result = statistics.noteLinks(p.taskId, p.pairId, p.count) || result
  }
  return result
}

/**
 * Marks the async context of a running `transaction(fn)` with its store, so the store can tell
 * when fn reaches past its own repos. On SQLite that call would queue behind the transaction
 * that holds the only connection and never return; failing at once is kinder.
 */
const activeTransaction = new AsyncLocalStorage<object>()

/** Runs fn in the async context of a transaction of the store identified by `owner`. */
export function insideTransaction<T>(owner: object, fn: () => Promise<T>): Promise<T> {
  return activeTransaction.run(owner, fn)
}

/** True while the caller runs inside a transaction of the store identified by `owner`. */
export function isInsideTransaction(owner: object): boolean {
  return activeTransaction.getStore() === owner
}

/** The context of the store itself; `owner` identifies the store to the transaction guard. */
export function rootContext(
  db: Kysely<StoreTables>,
  dialect: StoreDialect,
  owner: object,
  statistics: PlannerStatistics,
  pairCache: PairRefCache,
): RepoContext {
  const run = async <T>(operation: string, fn: (db: Kysely<StoreTables>) => Promise<T>) => {
    if (isInsideTransaction(owner)) throw misuse(operation)
    try {
      return await fn(db)
    } catch (cause) {
      throw storeError(operation, cause)
    }
  }
  return {
    dialect,
    run,
    write: (operation, statements, fn) =>
      statements > 1 ? run(operation, () => db.transaction().execute(fn)) : run(operation, fn),
    async linksWritten(pairs) {
      if (due(statistics, pairs)) await statistics.analyzeLinks(db)
    },
    pairs: storePairRefs(pairCache),
  }
}

/**
 * The context of one transaction: every statement runs on its connection. `afterCommit` runs
 * what waits for the commit: the pair refs the transaction created become the store's (before,
 * a rollback could still take their rows away), and ANALYZE inside the transaction would hold
 * its lock on the table until then, while the statistics only matter to the next batch.
 */
export function transactionContext(
  db: Kysely<StoreTables>,
  root: Kysely<StoreTables>,
  dialect: StoreDialect,
  statistics: PlannerStatistics,
  pairCache: PairRefCache,
): { readonly ctx: RepoContext; afterCommit(): Promise<void> } {
  const pairs = transactionPairRefs(pairCache)
  let analyze = false
  const run = async <T>(operation: string, fn: (db: Kysely<StoreTables>) => Promise<T>) => {
    try {
      return await fn(db)
    } catch (cause) {
      throw storeError(operation, cause)
    }
  }
  return {
    ctx: {
      dialect,
      run,
      write: (operation, _statements, fn) => run(operation, fn),
      async linksWritten(growth) {
        analyze = due(statistics, growth) || analyze
      },
      pairs: pairs.refs,
    },
    afterCommit: async () => {
      pairs.commit()
      if (analyze) await statistics.analyzeLinks(root)
    },
  }
}

function misuse(operation: string): OpenSyncError {
  return new OpenSyncError(
    'OSY_INTERNAL',
    `metadata store: ${operation} was called on the store inside store.transaction(); use the repos passed to the transaction function`,
  )
}

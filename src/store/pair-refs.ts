import type { Kysely } from 'kysely'
import type { StoreTables } from './tables.ts'

/**
 * The integer refs that key a pair's links (`osy_pairs.id`), resolved once per pair and kept
 * for as long as the store is open.
 *
 * Only a committed ref is kept: one created in a transaction that then rolls back names no row,
 * and the pair's next creation, here or in another process, gets a different number. So a ref
 * a transaction creates stays with that transaction until it commits, and one created in a
 * statement group the store wraps in a transaction of its own is used but not kept. A kept ref
 * can still go stale when another process removes the task; links.upsert sees that (its
 * statement joins the pair's row and writes nothing without it), and `count` and `exists`,
 * which a run asks first, read the ref afresh.
 */
export interface PairRefs {
  /** The pair's ref, or undefined when it has no row; never creates one. */
  find(db: Kysely<StoreTables>, taskId: string, pairId: string): Promise<number | undefined>
  /** The pair's ref, its row created when missing. */
  resolve(db: Kysely<StoreTables>, taskId: string, pairId: string): Promise<number>
  /** Takes note of what a fresh read of the pair's row found: its ref, or none. */
  seen(db: Kysely<StoreTables>, taskId: string, pairId: string, ref: number | undefined): void
  /** Forgets the pair's ref, found to name no row. */
  forget(taskId: string, pairId: string): void
  /** Forgets the refs of the task's pairs, whose rows were removed. */
  forgetTask(taskId: string): void
}

/** The committed refs of one open store, by pair; shared by the store and its transactions. */
export type PairRefCache = Map<string, PairRef>

interface PairRef {
  readonly taskId: string
  readonly ref: number
}

/** The refs as the store itself uses them, outside `store.transaction()`. */
export function storePairRefs(cache: PairRefCache): PairRefs {
  return pairRefs(cache, undefined)
}

/**
 * The refs as one transaction uses them; `commit` hands what it created to the store once the
 * transaction has committed.
 */
export function transactionPairRefs(cache: PairRefCache): {
  readonly refs: PairRefs
  commit(): void
} {
  const own: Own = { created: new Map(), removedTasks: new Set() }
  return {
    refs: pairRefs(cache, own),
    commit() {
      // The store's own repos may have kept a removed pair's ref before this transaction's delete
      // was visible; drop those first, then publish the refs created after the removal.
      for (const taskId of own.removedTasks) dropTask(cache, taskId)
      for (const [key, ref] of own.created) cache.set(key, ref)
    },
  }
}

/** What a transaction did to pairs that nobody else can see before it commits. */
interface Own {
  readonly created: Map<string, PairRef>
  readonly removedTasks: Set<string>
}

function pairRefs(cache: PairRefCache, own: Own | undefined): PairRefs {
  // Outside a store transaction, `db` is in a transaction only when the store wrapped a group of
  // statements in one; a row read there may be that transaction's own, so nothing is kept.
  const keep = (db: Kysely<StoreTables>, key: string, value: PairRef) => {
    if (own === undefined ? !db.isTransaction : !own.created.has(key)) cache.set(key, value)
  }
  const known = (key: string) => own?.created.get(key)?.ref ?? cache.get(key)?.ref
  const select = async (db: Kysely<StoreTables>, taskId: string, pairId: string) => {
    const row = await db
      .selectFrom('osy_pairs')
      .select('id')
      .where('task_id', '=', taskId)
      .where('pair_id', '=', pairId)
      .executeTakeFirst()
    return row?.id
  }
  const refs: PairRefs = {
    async find(db, taskId, pairId) {
      const key = pairKey(taskId, pairId)
      const ref = known(key) ?? (await select(db, taskId, pairId))
      if (ref !== undefined) keep(db, key, { taskId, ref })
      return ref
    },

    async resolve(db, taskId, pairId) {
      const found = await refs.find(db, taskId, pairId)
      if (found !== undefined) return found
      // Two processes may create the pair at once: the second insert waits for the first and
      // does nothing, and both then read the same row.
      const created = await db
        .insertInto('osy_pairs')
        .values({ task_id: taskId, pair_id: pairId })
        .onConflict((oc) => oc.columns(['task_id', 'pair_id']).doNothing())
        .returning('id')
        .executeTakeFirst()
      const key = pairKey(taskId, pairId)
      if (created !== undefined) {
        const value = { taskId, ref: created.id }
        if (own !== undefined) own.created.set(key, value)
        else keep(db, key, value)
        return created.id
      }
      const ref = await select(db, taskId, pairId)
      if (ref === undefined) throw new Error(`the pair ${key} was removed while it was created`)
      keep(db, key, { taskId, ref })
      return ref
    },

    seen(db, taskId, pairId, ref) {
      const key = pairKey(taskId, pairId)
      if (ref === undefined) refs.forget(taskId, pairId)
      else keep(db, key, { taskId, ref })
    },

    forget(taskId, pairId) {
      const key = pairKey(taskId, pairId)
      own?.created.delete(key)
      cache.delete(key)
    },

    forgetTask(taskId) {
      if (own !== undefined) {
        for (const [key, value] of own.created) if (value.taskId === taskId) own.created.delete(key)
        own.removedTasks.add(taskId)
      }
      dropTask(cache, taskId)
    },
  }
  return refs
}

function dropTask(cache: PairRefCache, taskId: string): void {
  for (const [key, value] of cache) if (value.taskId === taskId) cache.delete(key)
}

/** The key of a pair in maps: the two ids, unambiguous whatever characters they hold. */
export function pairKey(taskId: string, pairId: string): string {
  return JSON.stringify([taskId, pairId])
}

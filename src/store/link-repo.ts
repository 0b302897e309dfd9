import { type OnConflictBuilder, type Selectable, sql } from 'kysely'
import { chunks, distinct, IN_LIST_SIZE, lastByIdentity, rowsPerStatement } from './batching.ts'
import { linkLookup } from './link-lookup.ts'
import type { Side } from './store.ts'
import type { PairGrowth, RepoContext } from './store-context.ts'
import type { LinkTable, StoreTables } from './tables.ts'

/** The stored pairing of a record of side 0 with a record of side 1, plus its base state. */
export interface Link {
  readonly taskId: string
  readonly pairId: string
  /** The record's key on side 0 and on side 1. */
  readonly keys: readonly [string, string]
  /** JSON text of the per-field hashes last synced, per side; opaque to the store. */
  readonly base: readonly [string, string]
  /** When the pair was last synced, ISO text. */
  readonly syncedAt: string
  /** A side whose record is gone while the link is kept as a tombstone. */
  readonly deleted?: Side | null
}

/** Links of a task's pairs. Every method is a handful of statements, whatever the batch size. */
export interface LinkRepo {
  /** The links whose key on `side` is one of `keys`, by that key. */
  find(
    taskId: string,
    pairId: string,
    side: Side,
    keys: readonly string[],
  ): Promise<Map<string, Link>>
  /** Inserts links, or updates the link with the same key on side 0 (its key1 may change). */
  upsert(links: readonly Link[]): Promise<void>
  /** Removes the links whose key on `side` is one of `keys`; returns how many were removed. */
  remove(taskId: string, pairId: string, side: Side, keys: readonly string[]): Promise<number>
  /** How many links the pair has. */
  count(taskId: string, pairId: string): Promise<number>
  /** Every link of the pair in key0 order, in batches (keyset paging; default 1000 a batch). */
  scan(taskId: string, pairId: string, batchSize?: number): AsyncIterable<Link[]>
  /**
   * Removes ALL metadata of the task: links, checkpoints, errors, conflicts, intents, executions
   * and their logs, and its task meta row. Other tasks are untouched.
   */
  removeTask(taskId: string): Promise<void>
}

const KEY_COLUMN = ['key0', 'key1'] as const
const LINK_COLUMNS = 8
/** Links per unnest statement on PostgreSQL (its arrays have no parameter limit). */
const UNNEST_ROWS = 10_000

/** Every table with a task_id column; execution logs go first, by their executions. */
const TASK_TABLES = [
  'osy_executions',
  'osy_links',
  'osy_checkpoints',
  'osy_record_errors',
  'osy_conflicts',
  'osy_intents',
  'osy_task_meta',
] as const

/** The link repository on a connection. */
export function linkRepo(ctx: RepoContext): LinkRepo {
  return {
    find(taskId, pairId, side, keys) {
      return ctx.run('links.find', async (db) => {
        const found = new Map<string, Link>()
        const lookup = linkLookup(db, ctx.dialect, taskId, pairId, side)
        for (const slice of chunks(distinct(keys), IN_LIST_SIZE)) {
          for (const row of await lookup.select(slice))
            found.set(row[KEY_COLUMN[side]], toLink(row))
        }
        return found
      })
    },

    async upsert(links) {
      if (links.length === 0) return
      const unique = lastByIdentity(links, (l) => JSON.stringify([l.taskId, l.pairId, l.keys[0]]))
      const size = rowsPerStatement(LINK_COLUMNS)
      const pairs = new Map<string, PairGrowth>()
      for (const l of unique) {
        const pair = JSON.stringify([l.taskId, l.pairId])
        const count = (pairs.get(pair)?.count ?? 0) + 1
        pairs.set(pair, { taskId: l.taskId, pairId: l.pairId, count })
      }
      const conflict = (oc: OnConflictBuilder<StoreTables, 'osy_links'>) =>
        oc.columns(['task_id', 'pair_id', 'key0']).doUpdateSet((eb) => ({
          key1: eb.ref('excluded.key1'),
          base0: eb.ref('excluded.base0'),
          base1: eb.ref('excluded.base1'),
          synced_at: eb.ref('excluded.synced_at'),
          deleted: eb.ref('excluded.deleted'),
        }))
      if (ctx.dialect === 'postgres') {
        // One array parameter per column (unnest) instead of eight per row: the statement
        // is parsed once and binding 1,000 links costs 8 parameters, not 8,000.
        await ctx.write('links.upsert', Math.ceil(unique.length / UNNEST_ROWS), async (db) => {
          for (const slice of chunks(unique, UNNEST_ROWS)) {
            const rows = slice.map(toRow)
            const col = <K extends keyof LinkTable>(k: K) => rows.map((r) => r[k])
            await db
              .insertInto('osy_links')
              .columns([
                'task_id',
                'pair_id',
                'key0',
                'key1',
                'base0',
                'base1',
                'synced_at',
                'deleted',
              ])
              .expression(
                sql`select * from unnest(${col('task_id')}::text[], ${col('pair_id')}::text[], ${col('key0')}::text[], ${col('key1')}::text[], ${col('base0')}::text[], ${col('base1')}::text[], ${col('synced_at')}::text[], ${col('deleted')}::integer[])`,
              )
              .onConflict(conflict)
              .execute()
          }
        })
        await ctx.linksWritten(pairs)
        return
      }
      await ctx.write('links.upsert', Math.ceil(unique.length / size), async (db) => {
        for (const slice of chunks(unique, size)) {
          await db.insertInto('osy_links').values(slice.map(toRow)).onConflict(conflict).execute()
        }
      })
      await ctx.linksWritten(pairs)
    },

    remove(taskId, pairId, side, keys) {
      if (keys.length === 0) return Promise.resolve(0)
      const unique = distinct(keys)
      return ctx.write('links.remove', Math.ceil(unique.length / IN_LIST_SIZE), async (db) => {
        const lookup = linkLookup(db, ctx.dialect, taskId, pairId, side)
        let removed = 0
        for (const slice of chunks(unique, IN_LIST_SIZE)) removed += await lookup.delete(slice)
        return removed
      })
    },

    count(taskId, pairId) {
      return ctx.run('links.count', async (db) => {
        const row = await db
          .selectFrom('osy_links')
          .select((eb) => eb.fn.countAll<number | string>().as('n'))
          .where('task_id', '=', taskId)
          .where('pair_id', '=', pairId)
          .executeTakeFirstOrThrow()
        return Number(row.n)
      })
    },

    async *scan(taskId, pairId, batchSize = 1000) {
      let after: string | undefined
      for (;;) {
        const from = after
        const rows = await ctx.run('links.scan', (db) => {
          let query = db
            .selectFrom('osy_links')
            .selectAll()
            .where('task_id', '=', taskId)
            .where('pair_id', '=', pairId)
          if (from !== undefined) query = query.where('key0', '>', from)
          return query.orderBy('key0').limit(batchSize).execute()
        })
        if (rows.length === 0) return
        yield rows.map(toLink)
        if (rows.length < batchSize) return
        after = rows[rows.length - 1]!.key0
      }
    },

    removeTask(taskId) {
      return ctx.write('links.removeTask', TASK_TABLES.length + 1, async (db) => {
        await db
          .deleteFrom('osy_execution_logs')
          .where('execution_id', 'in', (eb) =>
            eb.selectFrom('osy_executions').select('id').where('task_id', '=', taskId),
          )
          .execute()
        for (const table of TASK_TABLES) {
          await db.deleteFrom(table).where('task_id', '=', taskId).execute()
        }
      })
    },
  }
}

function toRow(link: Link): LinkTable {
  return {
    task_id: link.taskId,
    pair_id: link.pairId,
    key0: link.keys[0],
    key1: link.keys[1],
    base0: link.base[0],
    base1: link.base[1],
    synced_at: link.syncedAt,
    deleted: link.deleted ?? null,
  }
}

function toLink(row: Selectable<LinkTable>): Link {
  const link: Link = {
    taskId: row.task_id,
    pairId: row.pair_id,
    keys: [row.key0, row.key1],
    base: [row.base0, row.base1],
    syncedAt: row.synced_at,
  }
  // Absent rather than null when live, so a link reads back exactly as the engine wrote it.
  return row.deleted === null ? link : { ...link, deleted: row.deleted as Side }
}

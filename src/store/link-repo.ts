import {
  type AliasedRawBuilder,
  CompiledQuery,
  type Kysely,
  type QueryCreator,
  type Selectable,
  sql,
} from 'kysely'
import { chunks, distinct, IN_LIST_SIZE, lastByIdentity, rowsPerStatement } from './batching.ts'
import { linkLookup } from './link-lookup.ts'
import { pairKey } from './pair-refs.ts'
import { int4Array, textArray } from './pg-binary-array.ts'
import type { PairGrowth, RepoContext } from './store-context.ts'
import type { LinkTable, StoreTables } from './tables.ts'
import type { Side, StoreDialect } from './types.ts'

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
  /**
   * A side whose record is outside its filter: the link is dormant, so neither record is
   * written while it lasts, and the base is kept for the merge when the record comes back.
   */
  readonly outside?: Side | null
}

/**
 * The `deleted` column holds a link's state: null (live), 0 or 1 (that side's record is
 * gone, a tombstone), or {@link OUTSIDE} + side (that side's record is outside its filter).
 * One column rather than two keeps every link statement as it was.
 */
const OUTSIDE = 2

function stateOf(link: Link): number | null {
  if (link.deleted !== undefined && link.deleted !== null) return link.deleted
  if (link.outside !== undefined && link.outside !== null) return OUTSIDE + link.outside
  return null
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
  /**
   * Inserts links the caller knows are new: no link of their pair has the same key on either
   * side (a create's). Fails on a duplicate instead of updating it, and skips the conflict
   * check per row that makes an upsert ~25% dearer on PostgreSQL.
   */
  insert(links: readonly Link[]): Promise<void>
  /**
   * Writes the base, synced-at and state of links the caller found stored with the same keys
   * on both sides (a linked record's update), without the conflict checks of an upsert; a link
   * that is not there so (gone, or its key1 changed) is upserted instead.
   */
  update(links: readonly Link[]): Promise<void>
  /** Removes the links whose key on `side` is one of `keys`; returns how many were removed. */
  remove(taskId: string, pairId: string, side: Side, keys: readonly string[]): Promise<number>
  /** How many links the pair has. Reads all of them: ask {@link exists} when any will do. */
  count(taskId: string, pairId: string): Promise<number>
  /** Whether the pair has a link at all; one index probe, however many links it has. */
  exists(taskId: string, pairId: string): Promise<boolean>
  /**
   * Every link of the pair once, in batches (keyset paging; default 1000 a batch): in key0
   * order on PostgreSQL, in the order the links were first written on SQLite (its rows lie in
   * that order, so the scan reads them page after page).
   */
  scan(taskId: string, pairId: string, batchSize?: number): AsyncIterable<Link[]>
  /**
   * Removes ALL metadata of the task: links, checkpoints, errors, conflicts, intents, executions
   * and their logs, and its task meta row. Other tasks are untouched.
   */
  removeTask(taskId: string): Promise<void>
}

const KEY_COLUMN = ['key0', 'key1'] as const
/**
 * Values of a link that differ from row to row; the pair ref and synced_at are bound once per
 * statement.
 */
const ROW_VALUES = 5
/** Links per unnest statement on PostgreSQL (its arrays have no parameter limit). */
const UNNEST_ROWS = 10_000

/** Every other table with a task_id column; execution logs go first, by their executions. */
const TASK_TABLES = [
  'osy_executions',
  'osy_checkpoints',
  'osy_record_errors',
  'osy_conflicts',
  'osy_intents',
  'osy_task_meta',
] as const

/** Links of one pair synced at one time: what one upsert statement binds once. */
interface LinkGroup {
  readonly taskId: string
  readonly pairId: string
  readonly syncedAt: string
  readonly links: Link[]
}

/** The link repository on a connection. */
export function linkRepo(ctx: RepoContext): LinkRepo {
  /** The pair's ref, or undefined when it has none (and so no links). */
  const findPair = (operation: string, taskId: string, pairId: string) =>
    ctx.run(operation, (db) => ctx.pairs.find(db, taskId, pairId))

  /** Writes links as upserts, plain inserts or updates in place; see {@link LinkRepo}. */
  const write = async (operation: string, links: readonly Link[], fresh: WriteMode) => {
    if (links.length === 0) return
    const groups = groupLinks(links)
    const size = ctx.dialect === 'postgres' ? UNNEST_ROWS : rowsPerStatement(ROW_VALUES)
    const statements = groups.reduce((n, g) => n + Math.ceil(g.links.length / size), 0)
    // Resolved ahead of the write: outside a transaction a new pair's row then commits on its
    // own, and its ref can be kept whether or not the write succeeds.
    const refs = await ctx.run(operation, async (db) => {
      const refs: number[] = []
      for (const g of groups) refs.push(await ctx.pairs.resolve(db, g.taskId, g.pairId))
      return refs
    })
    // Links the pair did not have before, per group: what its planner statistics follow.
    const added = groups.map(() => 0)
    await ctx.write(operation, statements, async (db) => {
      added.fill(0)
      for (const [i, group] of groups.entries()) {
        let pair = refs[i]!
        for (const slice of chunks(group.links, size)) {
          let written = await writeLinks(db, ctx.dialect, pair, group.syncedAt, slice, fresh)
          if (written.rows < slice.length) {
            // The statement writes nothing when the pair's row is gone: another process removed
            // the task after this one kept the ref. The pair starts over under a new ref.
            ctx.pairs.forget(group.taskId, group.pairId)
            pair = await ctx.pairs.resolve(db, group.taskId, group.pairId)
            written = await writeLinks(db, ctx.dialect, pair, group.syncedAt, slice, fresh)
            if (written.rows < slice.length) {
              throw new Error(`the pair ${pairKey(group.taskId, group.pairId)} was removed again`)
            }
          }
          added[i]! += written.added
        }
      }
    })
    const growth = new Map<string, PairGrowth>()
    for (const [i, { taskId, pairId }] of groups.entries()) {
      const key = pairKey(taskId, pairId)
      growth.set(key, { taskId, pairId, count: (growth.get(key)?.count ?? 0) + added[i]! })
    }
    await ctx.linksWritten(growth)
  }

  return {
    async find(taskId, pairId, side, keys) {
      const found = new Map<string, Link>()
      if (keys.length === 0) return found
      const pair = await findPair('links.find', taskId, pairId)
      if (pair === undefined) return found
      return ctx.run('links.find', async (db) => {
        const lookup = linkLookup(db, ctx.dialect, pair, side)
        for (const slice of chunks(distinct(keys), IN_LIST_SIZE)) {
          for (const row of await lookup.select(slice))
            found.set(row[KEY_COLUMN[side]], toLink(taskId, pairId, row))
        }
        return found
      })
    },

    upsert(links) {
      return write(
        'links.upsert',
        lastByIdentity(links, (l) => `${l.taskId}\u0000${l.pairId}\u0000${l.keys[0]}`),
        'upsert',
      )
    },

    insert(links) {
      return write('links.insert', links, 'insert')
    },

    update(links) {
      return write(
        'links.update',
        lastByIdentity(links, (l) => `${l.taskId}\u0000${l.pairId}\u0000${l.keys[0]}`),
        'update',
      )
    },

    async remove(taskId, pairId, side, keys) {
      if (keys.length === 0) return 0
      const pair = await findPair('links.remove', taskId, pairId)
      if (pair === undefined) return 0
      const unique = distinct(keys)
      return ctx.write('links.remove', Math.ceil(unique.length / IN_LIST_SIZE), async (db) => {
        const lookup = linkLookup(db, ctx.dialect, pair, side)
        let removed = 0
        for (const slice of chunks(unique, IN_LIST_SIZE)) removed += await lookup.delete(slice)
        return removed
      })
    },

    // count and exists read the pair's ref afresh with the answer, at no extra cost: a run asks
    // one of them first, so it never goes on with a ref that another process removed since.
    count(taskId, pairId) {
      return ctx.run('links.count', async (db) => {
        const row = await db
          .selectFrom('osy_pairs')
          .select((eb) => [
            'osy_pairs.id',
            eb
              .selectFrom('osy_links')
              .select((eb) => eb.fn.countAll<number | string>().as('n'))
              .whereRef('osy_links.pair', '=', 'osy_pairs.id')
              .as('n'),
          ])
          .where('task_id', '=', taskId)
          .where('pair_id', '=', pairId)
          .executeTakeFirst()
        ctx.pairs.seen(db, taskId, pairId, row?.id)
        return Number(row?.n ?? 0)
      })
    },

    exists(taskId, pairId) {
      return ctx.run('links.exists', async (db) => {
        const row = await db
          .selectFrom('osy_pairs')
          .select((eb) => [
            'osy_pairs.id',
            eb
              .exists(
                eb
                  .selectFrom('osy_links')
                  .select(sql.lit(1).as('one'))
                  .whereRef('osy_links.pair', '=', 'osy_pairs.id')
                  .limit(1),
              )
              .as('linked'),
          ])
          .where('task_id', '=', taskId)
          .where('pair_id', '=', pairId)
          .executeTakeFirst()
        ctx.pairs.seen(db, taskId, pairId, row?.id)
        // A boolean on PostgreSQL, 0 or 1 on SQLite.
        return Boolean(row?.linked)
      })
    },

    async *scan(taskId, pairId, batchSize = 1000) {
      const pair = await findPair('links.scan', taskId, pairId)
      if (pair === undefined) return
      if (ctx.dialect === 'sqlite') {
        let after = 0
        for (;;) {
          const from = after
          const rows = await ctx.run('links.scan', (db) =>
            db
              .selectFrom(
                // The (pair, rowid) index, by name: without statistics SQLite could take the
                // primary key's instead, and read the rows in key order again.
                sql`${sql.table('osy_links')} indexed by ${sql.id('osy_links_pair')}` as unknown as 'osy_links',
              )
              .selectAll()
              .select(sql<number>`rowid`.as('row_id'))
              .where('pair', '=', pair)
              .where(sql.ref('rowid'), '>', from)
              .orderBy(sql.ref('rowid'))
              .limit(batchSize)
              .execute(),
          )
          if (rows.length === 0) return
          yield rows.map((row) => toLink(taskId, pairId, row))
          if (rows.length < batchSize) return
          after = rows[rows.length - 1]!.row_id
        }
      }
      let after: string | undefined
      for (;;) {
        const from = after
        const rows = await ctx.run('links.scan', (db) => {
          let query = db.selectFrom('osy_links').selectAll().where('pair', '=', pair)
          if (from !== undefined) query = query.where('key0', '>', from)
          return query.orderBy('key0').limit(batchSize).execute()
        })
        if (rows.length === 0) return
        yield rows.map((row) => toLink(taskId, pairId, row))
        if (rows.length < batchSize) return
        after = rows[rows.length - 1]!.key0
      }
    },

    async removeTask(taskId) {
      await ctx.write('links.removeTask', TASK_TABLES.length + 4, async (db) => {
        for (const table of ['osy_execution_logs', 'osy_execution_changes'] as const) {
          await db
            .deleteFrom(table)
            .where('execution_id', 'in', (eb) =>
              eb.selectFrom('osy_executions').select('id').where('task_id', '=', taskId),
            )
            .execute()
        }
        await db
          .deleteFrom('osy_links')
          .where('pair', 'in', (eb) =>
            eb.selectFrom('osy_pairs').select('id').where('task_id', '=', taskId),
          )
          .execute()
        await db.deleteFrom('osy_pairs').where('task_id', '=', taskId).execute()
        for (const table of TASK_TABLES) {
          await db.deleteFrom(table).where('task_id', '=', taskId).execute()
        }
      })
      ctx.pairs.forgetTask(taskId)
    },
  }
}

/** Links by pair and synced_at, in order of first appearance. */
function groupLinks(links: readonly Link[]): LinkGroup[] {
  const groups = new Map<string, LinkGroup>()
  // A batch's links mostly share one group: the last one is checked before building a key.
  let last: LinkGroup | undefined
  for (let i = 0; i < links.length; i++) {
    const link = links[i]!
    let group =
      last !== undefined &&
      last.syncedAt === link.syncedAt &&
      last.pairId === link.pairId &&
      last.taskId === link.taskId
        ? last
        : undefined
    if (group === undefined) {
      const key = `${link.taskId}\u0000${link.pairId}\u0000${link.syncedAt}`
      group = groups.get(key)
      if (group === undefined) {
        group = { taskId: link.taskId, pairId: link.pairId, syncedAt: link.syncedAt, links: [] }
        groups.set(key, group)
      }
      last = group
    }
    group.links.push(link)
  }
  return [...groups.values()]
}

/** What one {@link writeLinks} call wrote: rows inserted or updated, and of them inserted. */
interface Written {
  readonly rows: number
  /**
   * Links the pair did not have. Exact on PostgreSQL, whose planner statistics follow it
   * (planner-statistics.ts); SQLite keeps none, and there an upsert counts every row.
   */
  readonly added: number
}

/**
 * Upserts links of one pair in one statement; says how many it wrote. The statement joins the
 * pair's row, so it writes none when the ref is stale instead of links that nothing names.
 */
async function writeLinks(
  db: Kysely<StoreTables>,
  dialect: StoreDialect,
  pair: number,
  syncedAt: string,
  links: readonly Link[],
  mode: WriteMode,
): Promise<Written> {
  if (mode === 'update') {
    // PostgreSQL's upsert costs what its UPDATE … FROM unnest would; SQLite's upsert checks
    // both keys and rewrites the key1 index entry, a third dearer than an update by key0.
    if (dialect === 'postgres') return writeLinks(db, dialect, pair, syncedAt, links, 'upsert')
    let updated = 0
    for (let at = 0; at < links.length; ) {
      const rows = sqliteStatementRows(links.length - at)
      const params: unknown[] = [syncedAt]
      for (let i = at; i < at + rows; i++) {
        const l = links[i]!
        params.push(l.keys[0], l.keys[1], l.base[0], l.base[1], stateOf(l))
      }
      params.push(pair)
      const result = await db.executeQuery(CompiledQuery.raw(sqliteLinkUpdate(rows), params))
      updated += Number(result.numAffectedRows ?? 0)
      at += rows
    }
    // Rare: a link gone or moved since it was found. The upsert writes every one again.
    if (updated === links.length) return { rows: updated, added: 0 }
    return writeLinks(db, dialect, pair, syncedAt, links, 'upsert')
  }
  const fresh = mode === 'insert'
  if (dialect === 'sqlite') {
    let written = 0
    for (let at = 0; at < links.length; ) {
      const rows = sqliteStatementRows(links.length - at)
      const params: unknown[] = [syncedAt]
      for (let i = at; i < at + rows; i++) {
        const l = links[i]!
        params.push(l.keys[0], l.keys[1], l.base[0], l.base[1], stateOf(l))
      }
      params.push(pair)
      const sqlText = sqliteLinkWrite(rows, fresh)
      const result = await db.executeQuery(CompiledQuery.raw(sqlText, params))
      written += Number(result.numAffectedRows ?? 0)
      at += rows
    }
    return { rows: written, added: written }
  }
  const insert = (db: QueryCreator<StoreTables>) =>
    db
      .insertInto('osy_links')
      .columns(['pair', 'key0', 'key1', 'base0', 'base1', 'synced_at', 'deleted'])
      .expression(
        db
          .selectFrom(['osy_pairs', linkRows(dialect, links)])
          .select([
            'osy_pairs.id',
            'r.key0',
            'r.key1',
            'r.base0',
            'r.base1',
            sql<string>`cast(${syncedAt} as text)`.as('synced_at'),
            'r.deleted',
          ])
          .where('osy_pairs.id', '=', pair),
      )
  if (fresh) {
    const result = await insert(db).executeTakeFirst()
    const rows = Number(result.numInsertedOrUpdatedRows ?? 0)
    return { rows, added: rows }
  }
  // A row the upsert inserted has no xmax; one it updated has the updating transaction's.
  const counts = await db
    .with('w', (db) =>
      insert(db)
        .onConflict((oc) =>
          oc.columns(['pair', 'key0']).doUpdateSet((eb) => ({
            key1: eb.ref('excluded.key1'),
            base0: eb.ref('excluded.base0'),
            base1: eb.ref('excluded.base1'),
            synced_at: eb.ref('excluded.synced_at'),
            deleted: eb.ref('excluded.deleted'),
          })),
        )
        .returning(sql<boolean>`xmax = 0`.as('added')),
    )
    .selectFrom('w')
    .select([
      sql<string>`count(*)`.as('rows'),
      sql<string>`count(*) filter (where added)`.as('added'),
    ])
    .executeTakeFirstOrThrow()
  return { rows: Number(counts.rows), added: Number(counts.added) }
}

/** The SQLite statement texts of {@link writeLinks}, by row count and kind. */
const sqliteLinkWrites = new Map<string, string>()

/**
 * Rows for the next SQLite link statement when `left` remain: the most a statement takes, or
 * the largest power of two that fits, so every slice is written with a dozen statement texts
 * at most, each prepared once (src/store/sqlite-statement-cache.ts).
 */
function sqliteStatementRows(left: number): number {
  const most = rowsPerStatement(ROW_VALUES)
  if (left >= most) return most
  return 2 ** Math.floor(Math.log2(left))
}

/**
 * SQLite's link write as text, the same statement Kysely builds for PostgreSQL but written
 * once per row count: compiling 1,000 rows of VALUES through Kysely's query tree cost more
 * than SQLite took to insert them. Parameters: synced_at, then five per link, then the pair.
 */
function sqliteLinkWrite(rows: number, fresh: boolean): string {
  const id = `${rows}:${fresh}`
  let text = sqliteLinkWrites.get(id)
  if (text === undefined) {
    text =
      'insert into "osy_links" ("pair", "key0", "key1", "base0", "base1", "synced_at", "deleted") ' +
      'select "osy_pairs"."id", "r"."column1", "r"."column2", "r"."column3", "r"."column4", cast(? as text), "r"."column5" ' +
      `from "osy_pairs", (values ${Array.from({ length: rows }, () => '(?, ?, ?, ?, ?)').join(', ')}) as "r" ` +
      'where "osy_pairs"."id" = ?' +
      (fresh
        ? ''
        : ' on conflict ("pair", "key0") do update set "key1" = "excluded"."key1", "base0" = "excluded"."base0", "base1" = "excluded"."base1", "synced_at" = "excluded"."synced_at", "deleted" = "excluded"."deleted"')
    sqliteLinkWrites.set(id, text)
  }
  return text
}

/** How {@link writeLinks} writes: upserts, plain inserts (fresh links), or updates in place. */
type WriteMode = 'upsert' | 'insert' | 'update'

/** The SQLite statement texts of the update, by row count. */
const sqliteLinkUpdates = new Map<number, string>()

/**
 * SQLite's update of links in place, one statement per slice: the stored row is found by its
 * primary key and must have the same key1, so a link whose key1 changed counts as missing.
 * Parameters: synced_at, then key0, key1, base0, base1 and state per link, then the pair.
 */
function sqliteLinkUpdate(rows: number): string {
  let text = sqliteLinkUpdates.get(rows)
  if (text === undefined) {
    text =
      'update "osy_links" set "base0" = "r"."column3", "base1" = "r"."column4", "synced_at" = ?, "deleted" = "r"."column5" ' +
      `from (values ${Array.from({ length: rows }, () => '(?, ?, ?, ?, ?)').join(', ')}) as "r" ` +
      'where "osy_links"."pair" = ? and "osy_links"."key0" = "r"."column1" and "osy_links"."key1" = "r"."column2"'
    sqliteLinkUpdates.set(rows, text)
  }
  return text
}

/** The values of a link that vary by row. */
interface LinkRow {
  key0: string
  key1: string
  base0: string
  base1: string
  deleted: number | null
}

/**
 * The links as a table `r` of {@link LinkRow}. PostgreSQL: one binary array parameter per column
 * (unnest), so binding 1,000 links costs 5 parameters, not 5,000, and the statement's text stays
 * the same. Per 1,000 links that took 2.4 ms against 5.9 ms for text arrays and 8.6 ms for one
 * JSON parameter (json_array_elements; json_to_recordset 10 ms), which PostgreSQL parses slowly
 * (docs/store.md). SQLite: multi-row VALUES, 5 parameters a link.
 */
function linkRows(dialect: StoreDialect, links: readonly Link[]): AliasedRawBuilder<LinkRow, 'r'> {
  if (dialect === 'postgres') {
    const text = (value: (l: Link) => string) => textArray(links.map(value))
    const deleted = int4Array(links.map(stateOf))
    return sql<LinkRow>`unnest(${text((l) => l.keys[0])}::text[], ${text((l) => l.keys[1])}::text[], ${text((l) => l.base[0])}::text[], ${text((l) => l.base[1])}::text[], ${deleted}::integer[])`.as<'r'>(
      sql`r(key0, key1, base0, base1, deleted)`,
    )
  }
  const values = links.map(
    (l) => sql`(${l.keys[0]}, ${l.keys[1]}, ${l.base[0]}, ${l.base[1]}, ${stateOf(l)})`,
  )
  // SQLite names VALUES columns column1…columnN and takes no column list on an alias.
  return sql<LinkRow>`(select column1 as key0, column2 as key1, column3 as base0, column4 as base1, column5 as deleted from (values ${sql.join(values)}))`.as(
    'r',
  )
}

function toLink(taskId: string, pairId: string, row: Selectable<LinkTable>): Link {
  const link: Link = {
    taskId,
    pairId,
    keys: [row.key0, row.key1],
    base: [row.base0, row.base1],
    syncedAt: row.synced_at,
  }
  // Absent rather than null when live, so a link reads back exactly as the engine wrote it.
  if (row.deleted === null) return link
  return row.deleted >= OUTSIDE
    ? { ...link, outside: (row.deleted - OUTSIDE) as Side }
    : { ...link, deleted: row.deleted as Side }
}

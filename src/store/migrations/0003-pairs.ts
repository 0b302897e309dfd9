import { type Kysely, sql } from 'kysely'
import type { MigrationContext } from '../types.ts'

/**
 * Links keyed by an integer pair ref instead of (task_id, pair_id): both links indexes repeated
 * the two text ids in every entry, which made them twice as large and a first sync's inserts
 * nearly twice as slow on PostgreSQL (see docs/store.md). `osy_pairs` maps the ref to the ids.
 * The other tables keep their text ids: they hold few rows, or rows that live briefly.
 */
export async function up(db: Kysely<unknown>, ctx: MigrationContext): Promise<void> {
  // SQLite's DDL is transactional too (see 0002): a failed copy leaves the old links in place.
  if (db.isTransaction) await migrate(db, ctx)
  else await db.transaction().execute((trx) => migrate(trx, ctx))
}

async function migrate(db: Kysely<unknown>, ctx: MigrationContext): Promise<void> {
  const pg = ctx.dialect === 'postgres'
  const keyType = pg ? sql`text collate "C"` : sql`text`
  const withoutRowid = pg ? sql`` : sql`without rowid`
  // The query builder, not raw SQL, so that the store's schema qualifies the tables.
  const tables = db as unknown as Kysely<Tables>

  await db.schema
    .createTable('osy_pairs')
    // A 4-byte ref: 8 bytes would widen every links index entry again. Refs are never reused
    // (identity; AUTOINCREMENT on SQLite), so a process holding the ref of a removed pair
    // finds nothing under it rather than another pair's links.
    .addColumn('id', 'integer', (c) =>
      pg ? c.generatedAlwaysAsIdentity().primaryKey() : c.primaryKey().autoIncrement(),
    )
    .addColumn('task_id', keyType, (c) => c.notNull())
    .addColumn('pair_id', keyType, (c) => c.notNull())
    .addUniqueConstraint('osy_pairs_names', ['task_id', 'pair_id'])
    .execute()
  // The new table takes the old one's index and constraint names, which PostgreSQL keeps per
  // schema; the copy reads the old table whole and needs neither.
  await db.schema.dropIndex('osy_links_key1').execute()
  await db.schema.alterTable('osy_links').renameTo('osy_links_0002').execute()
  if (pg) await db.schema.alterTable('osy_links_0002').dropConstraint('osy_links_pk').execute()

  await tables
    .insertInto('osy_pairs')
    .columns(['task_id', 'pair_id'])
    .expression(
      tables
        .selectFrom('osy_links_0002')
        .select(['task_id', 'pair_id'])
        .distinct()
        .orderBy('task_id')
        .orderBy('pair_id'),
    )
    .execute()

  await db.schema
    .createTable('osy_links')
    .addColumn('pair', 'integer', (c) => c.notNull())
    .addColumn('key0', keyType, (c) => c.notNull())
    .addColumn('key1', keyType, (c) => c.notNull())
    .addColumn('base0', 'text', (c) => c.notNull())
    .addColumn('base1', 'text', (c) => c.notNull())
    .addColumn('synced_at', 'text', (c) => c.notNull())
    .addColumn('deleted', 'integer')
    .addPrimaryKeyConstraint('osy_links_pk', ['pair', 'key0'])
    .modifyEnd(withoutRowid)
    .execute()
  await tables
    .insertInto('osy_links')
    .columns(['pair', 'key0', 'key1', 'base0', 'base1', 'synced_at', 'deleted'])
    .expression(
      tables
        .selectFrom('osy_links_0002 as l')
        .innerJoin('osy_pairs as p', (join) =>
          join.onRef('p.task_id', '=', 'l.task_id').onRef('p.pair_id', '=', 'l.pair_id'),
        )
        .select(['p.id', 'l.key0', 'l.key1', 'l.base0', 'l.base1', 'l.synced_at', 'l.deleted'])
        // In key order, so both dialects append to the primary key instead of splitting pages.
        .orderBy('p.id')
        .orderBy('l.key0'),
    )
    .execute()
  await db.schema.dropTable('osy_links_0002').execute()
  // Built after the copy: one sorted build instead of a million inserts.
  await db.schema
    .createIndex('osy_links_key1')
    .on('osy_links')
    .columns(['pair', 'key1'])
    .unique()
    .execute()
}

/** The tables as this migration finds (osy_links_0002, renamed) and leaves them. */
interface Tables {
  readonly osy_pairs: { id: number; task_id: string; pair_id: string }
  readonly osy_links: {
    pair: number
    key0: string
    key1: string
    base0: string
    base1: string
    synced_at: string
    deleted: number | null
  }
  readonly osy_links_0002: {
    task_id: string
    pair_id: string
    key0: string
    key1: string
    base0: string
    base1: string
    synced_at: string
    deleted: number | null
  }
}

import type { Kysely } from 'kysely'
import type { MigrationContext } from '../types.ts'

/**
 * SQLite's links table as an ordinary (rowid) table, its primary key an index beside it.
 *
 * WITHOUT ROWID kept every link's whole row (its base texts, ~250 bytes) in primary-key order,
 * so a batch of links whose keys are spread over the key range — a source read in
 * `updated_at` order rather than key order, as most are — dirtied a leaf page per link, and
 * every commit wrote them all to the WAL. A rowid table appends the rows in the order they
 * come and spreads only the short index entries. A 200,000-link first sync in random key order
 * stored its links in 4.3 s instead of 10.4 s (1,000 a commit, better-sqlite3 alone), one in
 * key order in 1.1 s instead of 1.6 s (docs/benchmarks.md, session 9). A lookup by key then
 * reads the index and the row, two B-trees instead of one: a few microseconds a link; a scan
 * goes by a third index, in the order the links were written (see link-repo.ts `scan`).
 * PostgreSQL's tables are heaps already; it has nothing to do.
 */
export async function up(db: Kysely<unknown>, ctx: MigrationContext): Promise<void> {
  if (ctx.dialect !== 'sqlite') return
  // SQLite's DDL is transactional (see 0002): a failed copy leaves the old links in place.
  if (db.isTransaction) await migrate(db)
  else await db.transaction().execute((trx) => migrate(trx))
}

async function migrate(db: Kysely<unknown>): Promise<void> {
  const tables = db as unknown as Kysely<Tables>
  await db.schema.dropIndex('osy_links_key1').execute()
  await db.schema.alterTable('osy_links').renameTo('osy_links_0007').execute()
  await db.schema
    .createTable('osy_links')
    .addColumn('pair', 'integer', (c) => c.notNull())
    .addColumn('key0', 'text', (c) => c.notNull())
    .addColumn('key1', 'text', (c) => c.notNull())
    .addColumn('base0', 'text', (c) => c.notNull())
    .addColumn('base1', 'text', (c) => c.notNull())
    .addColumn('synced_at', 'text', (c) => c.notNull())
    .addColumn('deleted', 'integer')
    .addPrimaryKeyConstraint('osy_links_pk', ['pair', 'key0'])
    .execute()
  await tables
    .insertInto('osy_links')
    .columns(['pair', 'key0', 'key1', 'base0', 'base1', 'synced_at', 'deleted'])
    .expression(
      tables
        .selectFrom('osy_links_0007')
        .select(['pair', 'key0', 'key1', 'base0', 'base1', 'synced_at', 'deleted'])
        // The old table's order: both the rows and the primary key are appended.
        .orderBy('pair')
        .orderBy('key0'),
    )
    .execute()
  await db.schema.dropTable('osy_links_0007').execute()
  // Built after the copy: one sorted build instead of an insert per link.
  await db.schema
    .createIndex('osy_links_key1')
    .on('osy_links')
    .columns(['pair', 'key1'])
    .unique()
    .execute()
  // (pair, rowid): a scan of a pair's links reads its rows in the order they were written,
  // page after page, instead of jumping through the table in key order (1.1–1.3 s instead of
  // 4.1–4.4 s for a million links written in random key order). Appended to, never split.
  await db.schema.createIndex('osy_links_pair').on('osy_links').column('pair').execute()
  // The old table's pages stay in the file as free pages, which the next links reuse: no
  // VACUUM, which on a large store would hold the write lock for minutes.
}

/** The links table as this migration finds it (renamed) and leaves it. */
interface LinkRow {
  pair: number
  key0: string
  key1: string
  base0: string
  base1: string
  synced_at: string
  deleted: number | null
}
interface Tables {
  readonly osy_links: LinkRow
  readonly osy_links_0007: LinkRow
}

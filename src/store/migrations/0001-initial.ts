import { type ColumnDefinitionBuilder, type Kysely, sql } from 'kysely'
import type { MigrationContext } from '../types.ts'

/**
 * The first schema: links with their base state, checkpoints, executions and their
 * protocol, per-record errors, conflicts, and create intents.
 */
export async function up(db: Kysely<unknown>, ctx: MigrationContext): Promise<void> {
  const pg = ctx.dialect === 'postgres'
  // Keys compare byte-wise on both dialects (SQLite's BINARY is byte order), so keyset paging
  // visits links in the same order everywhere and PostgreSQL skips locale-aware comparison.
  const keyType = pg ? sql`text collate "C"` : sql`text`
  // SQLite makes `integer primary key` the rowid; AUTOINCREMENT keeps ids of removed rows
  // from coming back, so a stale id in a console never names a different conflict.
  const id = (col: ColumnDefinitionBuilder) =>
    pg ? col.generatedAlwaysAsIdentity().primaryKey() : col.primaryKey().autoIncrement()
  const idType = pg ? 'bigint' : 'integer'
  // Clustering links on their primary key puts a pair's links together on disk (SQLite only;
  // PostgreSQL has no clustered tables and its heap is fine).
  const withoutRowid = pg ? sql`` : sql`without rowid`

  await db.schema
    .createTable('osy_links')
    .addColumn('task_id', keyType, (c) => c.notNull())
    .addColumn('pair_id', keyType, (c) => c.notNull())
    .addColumn('key0', keyType, (c) => c.notNull())
    .addColumn('key1', keyType, (c) => c.notNull())
    .addColumn('base0', 'text', (c) => c.notNull())
    .addColumn('base1', 'text', (c) => c.notNull())
    .addColumn('synced_at', 'text', (c) => c.notNull())
    .addColumn('deleted', 'integer')
    .addPrimaryKeyConstraint('osy_links_pk', ['task_id', 'pair_id', 'key0'])
    .modifyEnd(withoutRowid)
    .execute()
  await db.schema
    .createIndex('osy_links_key1')
    .on('osy_links')
    .columns(['task_id', 'pair_id', 'key1'])
    .unique()
    .execute()

  await db.schema
    .createTable('osy_checkpoints')
    .addColumn('task_id', keyType, (c) => c.notNull())
    .addColumn('pair_id', keyType, (c) => c.notNull())
    .addColumn('side', 'integer', (c) => c.notNull())
    .addColumn('checkpoint', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('osy_checkpoints_pk', ['task_id', 'pair_id', 'side'])
    .execute()

  await db.schema
    .createTable('osy_executions')
    .addColumn('id', idType, id)
    .addColumn('task_id', keyType, (c) => c.notNull())
    .addColumn('trigger', 'text', (c) => c.notNull())
    .addColumn('dry_run', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('started_at', 'text', (c) => c.notNull())
    .addColumn('ended_at', 'text')
    .addColumn('counts', 'text', (c) => c.notNull())
    .addColumn('error_code', 'text')
    .addColumn('error_message', 'text')
    .execute()
  // Newest-first lists of a task read this index backwards.
  await db.schema
    .createIndex('osy_executions_task')
    .on('osy_executions')
    .columns(['task_id', 'id'])
    .execute()

  await db.schema
    .createTable('osy_execution_logs')
    .addColumn('id', idType, id)
    .addColumn('execution_id', idType, (c) =>
      c.notNull().references('osy_executions.id').onDelete('cascade'),
    )
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('level', 'text', (c) => c.notNull())
    .addColumn('pair_id', 'text')
    .addColumn('message', 'text', (c) => c.notNull())
    .addColumn('data', 'text')
    .execute()
  await db.schema
    .createIndex('osy_execution_logs_execution')
    .on('osy_execution_logs')
    .columns(['execution_id', 'id'])
    .execute()

  await db.schema
    .createTable('osy_record_errors')
    .addColumn('task_id', keyType, (c) => c.notNull())
    .addColumn('pair_id', keyType, (c) => c.notNull())
    .addColumn('direction', 'integer', (c) => c.notNull())
    .addColumn('record_key', keyType, (c) => c.notNull())
    .addColumn('code', 'text', (c) => c.notNull())
    .addColumn('message', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('quarantined', 'integer', (c) => c.notNull())
    .addColumn('first_at', 'text', (c) => c.notNull())
    .addColumn('last_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('osy_record_errors_pk', [
      'task_id',
      'pair_id',
      'direction',
      'record_key',
    ])
    .execute()

  await db.schema
    .createTable('osy_conflicts')
    .addColumn('id', idType, id)
    .addColumn('task_id', keyType, (c) => c.notNull())
    .addColumn('pair_id', keyType, (c) => c.notNull())
    .addColumn('key0', keyType, (c) => c.notNull())
    .addColumn('key1', keyType, (c) => c.notNull())
    .addColumn('mapping', keyType, (c) => c.notNull())
    .addColumn('value0', 'text', (c) => c.notNull())
    .addColumn('value1', 'text', (c) => c.notNull())
    .addColumn('winner', 'integer')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('resolved_at', 'text')
    .addColumn('applied_at', 'text')
    .execute()
  // At most one open conflict per record and mapping: parking it again updates that row.
  await db.schema
    .createIndex('osy_conflicts_open')
    .on('osy_conflicts')
    .columns(['task_id', 'pair_id', 'key0', 'mapping'])
    .where(sql.ref('resolved_at'), 'is', null)
    .unique()
    .execute()
  await db.schema
    .createIndex('osy_conflicts_key0')
    .on('osy_conflicts')
    .columns(['task_id', 'pair_id', 'key0'])
    .execute()

  await db.schema
    .createTable('osy_intents')
    .addColumn('id', idType, id)
    .addColumn('task_id', keyType, (c) => c.notNull())
    .addColumn('pair_id', keyType, (c) => c.notNull())
    .addColumn('direction', 'integer', (c) => c.notNull())
    .addColumn('source_key', 'text', (c) => c.notNull())
    .addColumn('match', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute()
  await db.schema
    .createIndex('osy_intents_pair')
    .on('osy_intents')
    .columns(['task_id', 'pair_id', 'direction', 'id'])
    .execute()

  await db.schema
    .createTable('osy_task_meta')
    .addColumn('task_id', keyType, (c) => c.primaryKey())
    .addColumn('last_run_at', 'text')
    .execute()
}

import { type ColumnDefinitionBuilder, type Kysely, sql } from 'kysely'
import type { MigrationContext } from '../types.ts'

/**
 * The records each execution touched — created, updated, deleted, met in conflict, failed,
 * unlinked — by key, a bounded number per kind (the counts say how many there were).
 */
export async function up(db: Kysely<unknown>, ctx: MigrationContext): Promise<void> {
  const pg = ctx.dialect === 'postgres'
  const keyType = pg ? sql`text collate "C"` : sql`text`
  const id = (col: ColumnDefinitionBuilder) =>
    pg ? col.generatedAlwaysAsIdentity().primaryKey() : col.primaryKey().autoIncrement()
  const idType = pg ? 'bigint' : 'integer'
  await db.schema
    .createTable('osy_execution_changes')
    .addColumn('id', idType, id)
    .addColumn('execution_id', idType, (c) =>
      c.notNull().references('osy_executions.id').onDelete('cascade'),
    )
    .addColumn('pair_id', keyType, (c) => c.notNull())
    .addColumn('direction', 'integer', (c) => c.notNull())
    .addColumn('op', 'text', (c) => c.notNull())
    .addColumn('source_key', keyType, (c) => c.notNull())
    .addColumn('target_key', keyType)
    .addColumn('detail', 'text')
    .execute()
  await db.schema
    .createIndex('osy_execution_changes_execution')
    .on('osy_execution_changes')
    .columns(['execution_id', 'id'])
    .execute()
  // A record's changes in one execution, by the key on either side.
  await db.schema
    .createIndex('osy_execution_changes_source')
    .on('osy_execution_changes')
    .columns(['execution_id', 'source_key'])
    .execute()
  await db.schema
    .createIndex('osy_execution_changes_target')
    .on('osy_execution_changes')
    .columns(['execution_id', 'target_key'])
    .execute()
}

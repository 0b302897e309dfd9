import { type ColumnDefinitionBuilder, type Kysely, sql } from 'kysely'
import type { MigrationContext } from '../types.ts'

/**
 * The running service processes (`opensync start`, `worker`, `api`): each registers itself,
 * heartbeats while it runs and removes itself when it stops, so `tasks list` and the API can
 * tell whether anything will run the plans. A crashed process stops heartbeating and expires.
 */
export async function up(db: Kysely<unknown>, ctx: MigrationContext): Promise<void> {
  const pg = ctx.dialect === 'postgres'
  const keyType = pg ? sql`text collate "C"` : sql`text`
  const id = (col: ColumnDefinitionBuilder) =>
    pg ? col.generatedAlwaysAsIdentity().primaryKey() : col.primaryKey().autoIncrement()
  await db.schema
    .createTable('osy_instances')
    .addColumn('id', pg ? 'bigint' : 'integer', id)
    .addColumn('host', 'text', (c) => c.notNull())
    .addColumn('pid', 'integer', (c) => c.notNull())
    .addColumn('version', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('started_at', keyType, (c) => c.notNull())
    .addColumn('heartbeat_at', keyType, (c) => c.notNull())
    .execute()
  await db.schema
    .createIndex('osy_instances_heartbeat')
    .on('osy_instances')
    .column('heartbeat_at')
    .execute()
}

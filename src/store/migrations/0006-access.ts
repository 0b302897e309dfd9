import { type ColumnDefinitionBuilder, type Kysely, sql } from 'kysely'
import type { MigrationContext } from '../types.ts'

/**
 * Access to the API: users with a role (and optionally a list of system profiles they are
 * limited to), console sessions, API tokens, and the audit events of every change. Secrets
 * are stored as hashes only: scrypt for passwords, SHA-256 for session and API tokens (random
 * 256-bit values, which need no slow hash).
 */
export async function up(db: Kysely<unknown>, ctx: MigrationContext): Promise<void> {
  if (db.isTransaction) await migrate(db, ctx)
  else await db.transaction().execute((trx) => migrate(trx, ctx))
}

async function migrate(db: Kysely<unknown>, ctx: MigrationContext): Promise<void> {
  const pg = ctx.dialect === 'postgres'
  const keyType = pg ? sql`text collate "C"` : sql`text`
  const id = (col: ColumnDefinitionBuilder) =>
    pg ? col.generatedAlwaysAsIdentity().primaryKey() : col.primaryKey().autoIncrement()
  const idType = pg ? 'bigint' : 'integer'

  await db.schema
    .createTable('osy_users')
    .addColumn('id', idType, id)
    .addColumn('username', keyType, (c) => c.notNull().unique())
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    // JSON text of the profile ids the user is limited to; null: not limited.
    .addColumn('profiles', 'text')
    .addColumn('failed_sign_ins', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('locked_until', keyType)
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute()

  await db.schema
    .createTable('osy_sessions')
    // SHA-256 (hex) of the cookie's value: a stolen copy of the store opens no session.
    .addColumn('id', keyType, (c) => c.primaryKey())
    .addColumn('user_id', idType, (c) => c.notNull().references('osy_users.id').onDelete('cascade'))
    .addColumn('csrf_token', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', keyType, (c) => c.notNull())
    .execute()
  await db.schema.createIndex('osy_sessions_user').on('osy_sessions').column('user_id').execute()

  await db.schema
    .createTable('osy_api_tokens')
    .addColumn('id', idType, id)
    .addColumn('name', keyType, (c) => c.notNull())
    .addColumn('token_hash', keyType, (c) => c.notNull().unique())
    // The user the token acts for (its role bounds the scopes); null for a service token.
    .addColumn('user_id', idType, (c) => c.references('osy_users.id').onDelete('cascade'))
    .addColumn('scopes', 'text', (c) => c.notNull())
    .addColumn('profiles', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', keyType)
    .addColumn('last_used_at', 'text')
    .execute()

  await db.schema
    .createTable('osy_audit_events')
    .addColumn('id', idType, id)
    .addColumn('at', keyType, (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('action', keyType, (c) => c.notNull())
    .addColumn('task_id', keyType)
    .addColumn('target', 'text')
    // JSON text: a task's diff, a decision; never a secret.
    .addColumn('detail', 'text')
    .execute()
  await db.schema
    .createIndex('osy_audit_events_task')
    .on('osy_audit_events')
    .columns(['task_id', 'id'])
    .execute()
}

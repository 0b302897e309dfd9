import { type Kysely, sql } from 'kysely'
import type { MigrationContext } from '../types.ts'

/**
 * What the service needs: stored task definitions with their schedule, and a run queue with
 * leases on the executions table. One queued and one running execution per task at most,
 * enforced by partial unique indexes so that every process (and the CLI) obeys them.
 */
export async function up(db: Kysely<unknown>, ctx: MigrationContext): Promise<void> {
  // Kysely runs PostgreSQL migrations in a transaction but not SQLite's; SQLite's DDL is
  // transactional too, so a failure half-way leaves no half-altered table behind.
  if (db.isTransaction) await migrate(db, ctx)
  else await db.transaction().execute((trx) => migrate(trx, ctx))
}

async function migrate(db: Kysely<unknown>, ctx: MigrationContext): Promise<void> {
  const pg = ctx.dialect === 'postgres'
  // Ids, and ISO times that are compared: byte order on both dialects (see 0001).
  const keyType = pg ? sql`text collate "C"` : sql`text`

  // SQLite adds one column per statement.
  for (const [column, type] of [
    ['owner', sql`text`],
    ['lease_until', keyType],
    ['scheduled_for', keyType],
    ['queued_at', keyType],
  ] as const) {
    await db.schema.alterTable('osy_executions').addColumn(column, type).execute()
  }
  await db.schema
    .alterTable('osy_executions')
    .addColumn('cancel_requested', 'integer', (c) => c.notNull().defaultTo(0))
    .execute()

  // Before 0002 nothing stopped two runs of a task at once, and a crashed CLI run stays
  // 'running' forever. The newest one may still be alive; the older ones cannot all be.
  const at = new Date().toISOString()
  // The query builder, not raw SQL, so that the store's schema qualifies the table.
  const executions = db as unknown as Kysely<ExecutionsAt0001>
  await executions
    .updateTable('osy_executions')
    .set({
      status: 'failed',
      ended_at: at,
      error_code: 'OSY_LEASE_LOST',
      error_message: 'the run never ended: found beside a newer run when the store was upgraded',
    })
    .where('status', '=', 'running')
    .where('id', '<', (eb) =>
      eb
        .selectFrom('osy_executions as r')
        .select((eb) => eb.fn.max('r.id').as('newest'))
        .whereRef('r.task_id', '=', 'osy_executions.task_id')
        .where('r.status', '=', 'running'),
    )
    .execute()
  await executions
    .updateTable('osy_executions')
    .set({ status: 'cancelled', ended_at: at })
    .where('status', '=', 'queued')
    .where('id', '>', (eb) =>
      eb
        .selectFrom('osy_executions as q')
        .select((eb) => eb.fn.min('q.id').as('oldest'))
        .whereRef('q.task_id', '=', 'osy_executions.task_id')
        .where('q.status', '=', 'queued'),
    )
    .execute()

  // The predicates are literals: both planners match a partial index (and an ON CONFLICT
  // target) only when the query repeats its predicate as written.
  for (const status of ['running', 'queued']) {
    await db.schema
      .createIndex(`osy_executions_one_${status}`)
      .on('osy_executions')
      .column('task_id')
      .where(sql.ref('status'), '=', sql.lit(status))
      .unique()
      .execute()
  }

  await db.schema
    .createTable('osy_task_defs')
    .addColumn('task_id', keyType, (c) => c.primaryKey())
    .addColumn('subject', keyType, (c) => c.notNull())
    .addColumn('document', 'text', (c) => c.notNull())
    .addColumn('draft', 'integer', (c) => c.notNull())
    .addColumn('active', 'integer', (c) => c.notNull())
    .addColumn('next_run_at', keyType)
    .addColumn('last_scheduled_for', keyType)
    .addColumn('idle_runs', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('revision', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute()
  // The scheduler's question, "which plans are due?", reads only schedulable tasks.
  await db.schema
    .createIndex('osy_task_defs_due')
    .on('osy_task_defs')
    .columns(['next_run_at', 'task_id'])
    .where(sql<boolean>`active = 1 and draft = 0`)
    .execute()
}

/** The columns of osy_executions this migration touches, as 0001 made them. */
interface ExecutionsAt0001 {
  readonly osy_executions: {
    id: number
    task_id: string
    status: string
    ended_at: string | null
    error_code: string | null
    error_message: string | null
  }
}

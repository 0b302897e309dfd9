import type { Kysely } from 'kysely'

/**
 * A parked conflict can be decided by a value as well as by a winner: `decided_value` is the
 * JSON text of that value (SQL NULL when the decision is a winner, or none yet).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('osy_conflicts').addColumn('decided_value', 'text').execute()
}

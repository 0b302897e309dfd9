import type { Kysely } from 'kysely'
import {
  type Migration,
  type MigrationProvider,
  type MigrationResultSet,
  Migrator,
} from 'kysely/migration'
import * as m0001 from './migrations/0001-initial.ts'
import * as m0002 from './migrations/0002-service.ts'
import * as m0003 from './migrations/0003-pairs.ts'
import * as m0004 from './migrations/0004-conflict-decisions.ts'
import * as m0005 from './migrations/0005-service-instances.ts'
import * as m0006 from './migrations/0006-access.ts'
import * as m0007 from './migrations/0007-execution-changes.ts'
import * as m0008 from './migrations/0008-sqlite-links-rowid.ts'
import type { MigrationContext } from './types.ts'

/** One migration module: `up` gets the dialect besides the database. */
interface StoreMigration {
  up(db: Kysely<unknown>, ctx: MigrationContext): Promise<void>
}

/**
 * Every migration, by name. Names sort in order of application; add new files as
 * `migrations/NNNN-name.ts` and list them here. Never edit or rename an applied one.
 * Numbers are handed out ahead of time, so a store may have applied a later number before an
 * earlier one lands: the migrator runs whatever has not run yet (each migration stands on
 * its own, touching only its own tables and columns).
 */
const MIGRATIONS: Readonly<Record<string, StoreMigration>> = {
  '0001-initial': m0001,
  '0002-service': m0002,
  '0003-pairs': m0003,
  '0004-conflict-decisions': m0004,
  '0005-service-instances': m0005,
  '0006-access': m0006,
  '0007-execution-changes': m0007,
  '0008-sqlite-links-rowid': m0008,
}

/** The names of every migration, in order of application. */
export const MIGRATION_NAMES: readonly string[] = Object.keys(MIGRATIONS).sort()

/** The migration table names; fixed forever, since Kysely finds applied migrations by them. */
export const MIGRATION_TABLE = 'osy_migrations'
/** The table Kysely locks so that two processes never migrate at once. */
export const MIGRATION_LOCK_TABLE = 'osy_migrations_lock'

/**
 * An in-code provider (no directory scan), so migrations ship inside the bundle and work
 * wherever the package is installed.
 */
export function migrationProvider(ctx: MigrationContext): MigrationProvider {
  return {
    async getMigrations() {
      const out: Record<string, Migration> = {}
      for (const [name, migration] of Object.entries(MIGRATIONS)) {
        out[name] = { up: (db) => migration.up(db as Kysely<unknown>, ctx) }
      }
      return out
    },
  }
}

/**
 * The migrator of a store: its migrations and migration tables, in `schema` when given
 * (PostgreSQL; `db` is then scoped to it too).
 */
export function storeMigrator(
  db: Kysely<unknown>,
  ctx: MigrationContext,
  schema: string | undefined,
): Migrator {
  return new Migrator({
    db,
    provider: migrationProvider(ctx),
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
    // Numbers are handed out to parallel lines of work ahead of time (0006 may land after
    // 0007): a store that applied a later number first still takes the earlier one.
    allowUnorderedMigrations: true,
    ...(schema !== undefined ? { migrationTableSchema: schema } : {}),
  })
}

/** SQLSTATEs of a catalogue read that raced another session's DDL (see {@link migrateRetrying}). */
const CATALOGUE_RACES = new Set(['42P01', '42703', '3F000'])

/**
 * Runs a migration, again when it failed because a table elsewhere in the database changed
 * while Kysely's migrator read the catalogue: to find its own tables it reads the columns of
 * every table of every schema, and a table another session drops meanwhile fails that read
 * with "relation … does not exist" (42P01), a column it drops or renames with "column … does
 * not exist" (42703, from `pg_get_serial_sequence`), and a whole schema dropped with "schema …
 * does not exist" (3F000, from `has_schema_privilege` by name: the commonest of the three, 679
 * of 685 such failures in 8,835 reads while another session created and dropped schemas).
 * Nothing was migrated then, and on PostgreSQL each migration runs in a transaction, so a
 * second attempt starts clean; a migration that really names a missing column fails the same
 * way five times.
 */
export async function migrateRetrying(
  run: () => Promise<MigrationResultSet>,
): Promise<MigrationResultSet> {
  for (let attempt = 1; ; attempt++) {
    const result = await run()
    const code = (result.error as { code?: unknown } | undefined)?.code
    if (!CATALOGUE_RACES.has(String(code)) || attempt === 5) return result
    await new Promise((resolve) => setTimeout(resolve, 20 * attempt))
  }
}

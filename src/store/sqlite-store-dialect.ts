import Database from 'better-sqlite3'
import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  SqliteAdapter,
  SqliteDialect,
  type SqliteDialectConfig,
  SqliteDriver,
} from 'kysely'

/**
 * Kysely's SQLite adapter takes no migration lock ("one connection"), which holds within a
 * process only: two processes opening a fresh store at once (two CLI commands, a service and
 * a CLI) both found a migration unapplied and the second failed ("table already exists").
 * The lock here is an exclusive transaction on a small lock database beside the store
 * (`<store>-migrate.lock`), held while the migrator reads which migrations ran and runs the
 * rest; the other process waits for it, then finds them applied. SQLite drops the lock when
 * a process dies, so a crash never leaves a store locked. (The store's own write lock cannot
 * serve: some migrations open their own transaction on the migrator's connection.)
 */
class MigrationLockingSqliteAdapter extends SqliteAdapter {
  readonly #lockFile: string | undefined
  #lock: Database.Database | undefined

  constructor(lockFile: string | undefined) {
    super()
    this.#lockFile = lockFile
  }

  override async acquireMigrationLock(): Promise<void> {
    if (!this.#lockFile) return
    const lock = new Database(this.#lockFile, { timeout: 0 })
    // Ask again without blocking the event loop; a first migration on a loaded machine may
    // take a while, so keep asking for a few minutes.
    const deadline = Date.now() + 300_000
    for (;;) {
      try {
        lock.exec('BEGIN EXCLUSIVE')
        this.#lock = lock
        return
      } catch (error) {
        if ((error as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() > deadline) {
          lock.close()
          throw error
        }
        await new Promise((resolve) => setTimeout(resolve, 25))
      }
    }
  }

  override async releaseMigrationLock(): Promise<void> {
    const lock = this.#lock
    this.#lock = undefined
    if (!lock) return
    lock.exec('COMMIT')
    lock.close()
  }
}

/**
 * Kysely's SQLite driver, whose transactions take the write lock when they begin (`begin
 * immediate`). Every store transaction writes. Begun deferred, one that had read first
 * (a pair's ref) failed its first write at once with SQLITE_BUSY whenever another process had
 * committed since its read, busy timeout or not: its snapshot was stale. Immediate, it waits
 * for the other writer at `begin` instead, up to the busy timeout.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'))
  }
}

/**
 * Kysely's SQLite dialect for the store: migrations lock across processes (`file`: the
 * store's), and transactions begin immediate.
 */
export class StoreSqliteDialect extends SqliteDialect {
  readonly #lockFile: string | undefined
  readonly #config: SqliteDialectConfig

  constructor(config: SqliteDialectConfig, file: string) {
    super(config)
    this.#config = config
    this.#lockFile = file === ':memory:' ? undefined : `${file}-migrate.lock`
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config)
  }

  override createAdapter(): SqliteAdapter {
    return new MigrationLockingSqliteAdapter(this.#lockFile)
  }
}

import { existsSync, mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import Database from 'better-sqlite3'
import { CompiledQuery, type Dialect, Kysely, type LogConfig, PostgresDialect } from 'kysely'
import type { Migrator } from 'kysely/migration'
import pg from 'pg'
import { OpenSyncError } from '../sdk/errors.ts'
import { apiTokenRepo } from './api-token-repo.ts'
import { auditRepo } from './audit-repo.ts'
import { changeRepo } from './change-repo.ts'
import { checkpointRepo } from './checkpoint-repo.ts'
import { conflictRepo } from './conflict-repo.ts'
import { executionRepo } from './execution-repo.ts'
import { instanceRepo } from './instance-repo.ts'
import { intentRepo } from './intent-repo.ts'
import { linkRepo } from './link-repo.ts'
import { migrateRetrying, storeMigrator } from './migration-provider.ts'
import type { PairRefCache } from './pair-refs.ts'
import { type PlannerStatistics, plannerStatistics } from './planner-statistics.ts'
import { recordErrorRepo } from './record-error-repo.ts'
import { sessionRepo } from './session-repo.ts'
import { statementCachingDatabase } from './sqlite-statement-cache.ts'
import { StoreSqliteDialect } from './sqlite-store-dialect.ts'
import type { Store, StoreDialect, StoreRepos } from './store.ts'
import {
  insideTransaction,
  isInsideTransaction,
  type RepoContext,
  rootContext,
  transactionContext,
} from './store-context.ts'
import { storeError } from './store-errors.ts'
import type { StoreTables } from './tables.ts'
import { taskDefRepo } from './task-def-repo.ts'
import { taskMetaRepo } from './task-meta-repo.ts'
import { userRepo } from './user-repo.ts'

/** Where the store lives. */
export interface StoreOptions {
  /**
   * `undefined`: the SQLite file `.data/opensync.db` under the working directory.
   * `sqlite:/path/file.db` or a plain path: that SQLite file.
   * `postgres://…` or `postgresql://…`: a PostgreSQL database (`?schema=` may name the schema).
   */
  readonly url?: string
  /** PostgreSQL only: the schema that holds every table, created if missing. */
  readonly schema?: string
  /** Kysely's log option: levels to log, or a function that sees every query and its duration. */
  readonly log?: LogConfig
  /**
   * Apply pending migrations (default). With `false` the store is opened only as it is, for
   * commands that just read: a SQLite file that does not exist is not created
   * (OSY_STORE_ERROR with `details.missing`), and a store with pending migrations is
   * OSY_STORE_ERROR (`details.pending`) instead of being migrated.
   */
  readonly migrate?: boolean
}

/** The SQLite file used when no URL is given, relative to the working directory. */
export const DEFAULT_SQLITE_FILE = '.data/opensync.db'

/**
 * Opens the metadata store and applies pending migrations before returning, so a store in
 * hand always has the current schema. Concurrent openers are safe: Kysely's migrator locks.
 *
 * @example
 * const store = await openStore({ url: process.env.OPENSYNC_DATABASE_URL })
 * try {
 *   await store.transaction(async (tx) => {
 *     await tx.links.upsert(links)
 *     await tx.checkpoints.set(taskId, pairId, 0, checkpoint)
 *   })
 * } finally {
 *   await store.close()
 * }
 */
export async function openStore(options: StoreOptions = {}): Promise<Store> {
  const target = parseTarget(options)
  const migrating = options.migrate !== false
  if (
    !migrating &&
    target.dialect === 'sqlite' &&
    target.file !== ':memory:' &&
    !existsSync(target.file)
  ) {
    throw new OpenSyncError(
      'OSY_STORE_ERROR',
      `there is no metadata store at ${target.file} yet (a command that stores something creates it, e.g. opensync tasks import)`,
      { kind: 'user', details: { missing: true, field: 'store' } },
    )
  }
  let db: Kysely<StoreTables>
  try {
    db = new Kysely<StoreTables>({
      dialect:
        target.dialect === 'sqlite'
          ? sqliteDialect(target.file, migrating)
          : postgresDialect(target.url),
      ...(options.log !== undefined ? { log: options.log } : {}),
    })
  } catch (cause) {
    throw unreachable(target, storeError('open', cause))
  }
  const scoped =
    target.dialect === 'postgres' && target.schema !== undefined ? db.withSchema(target.schema) : db
  const schema = target.dialect === 'postgres' ? target.schema : undefined
  const migrator = storeMigrator(scoped as Kysely<unknown>, { dialect: target.dialect }, schema)
  try {
    if (migrating) await migrate(scoped, target)
    else {
      const pending = (await migrator.getMigrations())
        .filter((m) => m.executedAt === undefined)
        .map((m) => m.name)
      if (pending.length > 0) {
        throw new OpenSyncError(
          'OSY_STORE_ERROR',
          `the metadata store ${describeTarget(target)} is not up to date (${pending.length} migration${pending.length === 1 ? '' : 's'} pending): run opensync migrate with the same --store`,
          { kind: 'user', details: { pending, field: 'store' } },
        )
      }
    }
  } catch (cause) {
    await db.destroy().catch(() => undefined)
    throw unreachable(target, storeError('migrate', cause))
  }
  return createStore(
    scoped,
    db,
    target.dialect,
    plannerStatistics(target.dialect, schema),
    migrator,
  )
}

type Target =
  | { readonly dialect: 'sqlite'; readonly file: string }
  | { readonly dialect: 'postgres'; readonly url: string; readonly schema: string | undefined }

function parseTarget(options: StoreOptions): Target {
  const url = options.url
  if (url === undefined || url === '') {
    if (options.schema !== undefined) throw schemaOnSqlite()
    return { dialect: 'sqlite', file: resolve(DEFAULT_SQLITE_FILE) }
  }
  if (/^postgres(ql)?:\/\//i.test(url)) {
    let parsed: URL
    try {
      parsed = new URL(url)
    } catch (cause) {
      throw new OpenSyncError('OSY_INVALID_OPTION', 'the store URL is not a valid URL', {
        cause,
        details: { field: 'url' },
      })
    }
    const fromUrl = parsed.searchParams.get('schema') ?? undefined
    // pg would pass an unknown parameter on to the server, which rejects it.
    parsed.searchParams.delete('schema')
    // An empty schema means the default one, as if none were given.
    const schema = (options.schema ?? fromUrl) || undefined
    return { dialect: 'postgres', url: parsed.toString(), schema }
  }
  if (options.schema !== undefined) throw schemaOnSqlite()
  if (/^sqlite:/i.test(url)) {
    // sqlite:/abs/file.db, sqlite:///abs/file.db and sqlite:relative.db all name a file.
    const path = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '')
    return { dialect: 'sqlite', file: path === ':memory:' ? path : resolve(path) }
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    throw new OpenSyncError(
      'OSY_INVALID_OPTION',
      `the store URL must be postgres://…, sqlite:… or a file path, not ${url.split(':')[0]}:`,
      { details: { field: 'url' } },
    )
  }
  return { dialect: 'sqlite', file: url === ':memory:' ? url : resolve(url) }
}

/** The store for a person: the SQLite file, or PostgreSQL's host, port, database (no password). */
function describeTarget(target: Target): string {
  if (target.dialect === 'sqlite') return `(SQLite ${target.file})`
  const url = new URL(target.url)
  const where = `${url.hostname || 'localhost'}:${url.port || '5432'}${url.pathname || '/'}`
  return `(PostgreSQL ${url.username ? `${decodeURIComponent(url.username)}@` : ''}${where}${target.schema ? `, schema ${target.schema}` : ''})`
}

/** System codes of a store that cannot be reached or opened at all. */
const UNREACHABLE =
  /^(ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|ETIMEDOUT|ECONNRESET|28P01|28000|3D000|SQLITE_CANTOPEN|SQLITE_NOTADB|SQLITE_PERM|SQLITE_READONLY|SQLITE_IOERR.*)$/

/**
 * A store that cannot be reached: the message names it and what to check. Other errors
 * (a failed migration) pass unchanged.
 */
function unreachable(target: Target, error: OpenSyncError): OpenSyncError {
  const code = String(error.details.systemCode ?? '')
  if (!UNREACHABLE.test(code) && !/connect|getaddrinfo|timeout/i.test(error.message)) return error
  const reason = error.message.replace(/^metadata store: \w+ failed: /, '')
  const check =
    target.dialect === 'sqlite'
      ? 'check that the file is an OpenSync store (or a new name) and that its folder exists and may be written'
      : code === '3D000'
        ? 'check the database name (create the database first: createdb …)'
        : /^28/.test(code)
          ? 'check the user name and password in the URL'
          : 'check that PostgreSQL runs at that host and port and accepts connections from here'
  return new OpenSyncError(
    'OSY_STORE_ERROR',
    `cannot reach the metadata store ${describeTarget(target)}: ${reason}; ${check}. The store is --store, else $OPENSYNC_DATABASE_URL, else .data/opensync.db`,
    { cause: error, details: { ...error.details, field: 'store' }, kind: error.kind },
  )
}

function schemaOnSqlite(): OpenSyncError {
  return new OpenSyncError('OSY_INVALID_OPTION', 'a store schema applies only to PostgreSQL', {
    details: { field: 'schema' },
  })
}

/**
 * The settings of every SQLite store connection.
 * - WAL lets readers (the console) go on while a run writes.
 * - `synchronous = full`: a committed link must survive a power cut, or the next run would
 *   create its record a second time. In WAL mode better-sqlite3's build defaults to NORMAL,
 *   which syncs only at checkpoints (every ~4 MB of pages): a power cut could take the last
 *   batches' links while their records stay written in the other system.
 * - `temp_store = memory` keeps each statement's journal (the undo of a multi-row insert that
 *   fails halfway) in memory: on disk it was a third of the store's page writes (strace of a
 *   200,000-link initial sync: 396,000 → 261,000 pwrite calls).
 * - Foreign keys are off by default in SQLite; the busy timeout makes a second process wait
 *   for the write lock instead of failing.
 */
export const SQLITE_PRAGMAS = [
  'pragma journal_mode = wal',
  'pragma synchronous = full',
  'pragma temp_store = memory',
  'pragma foreign_keys = on',
  'pragma busy_timeout = 5000',
]

function sqliteDialect(file: string, create = true): Dialect {
  if (file !== ':memory:' && create) mkdirSync(dirname(file), { recursive: true })
  return new StoreSqliteDialect(
    {
      database: statementCachingDatabase(
        new Database(file, { fileMustExist: !create && file !== ':memory:' }),
      ),
      async onCreateConnection(connection) {
        for (const pragma of SQLITE_PRAGMAS)
          await connection.executeQuery(CompiledQuery.raw(pragma))
      },
    },
    file,
  )
}

/** PostgreSQL's OID of bigint (int8): ids and counts. */
const INT8_OID = 20

function postgresDialect(url: string): Dialect {
  const pool = new pg.Pool({
    connectionString: url,
    // Ids and counts are bigint, which pg returns as text; they stay far below 2^53, and the
    // store's API speaks numbers on both dialects. Set per pool, so no other pg user changes.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID && format !== 'binary'
          ? Number
          : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  })
  // An idle client whose server went away emits 'error'; unhandled, it would end the process.
  // The next query on the pool fails and is reported as a store error instead.
  pool.on('error', () => undefined)
  // A client in use whose session the server ends (a restart, pg_terminate_backend, or
  // idle_in_transaction_session_timeout ending the transaction of a worker paused past its
  // lease) emits 'error' too, outside any query; the statement in flight or the next one
  // fails and is reported instead of the process ending.
  pool.on('connect', (client) => client.on('error', () => undefined))
  return new PostgresDialect({ pool })
}

async function migrate(db: Kysely<StoreTables>, target: Target): Promise<void> {
  const schema = target.dialect === 'postgres' ? target.schema : undefined
  const migrator = storeMigrator(db as Kysely<unknown>, { dialect: target.dialect }, schema)
  const { error } = await migrateRetrying(() => migrator.migrateToLatest())
  if (error !== undefined) throw error
}

function createRepos(ctx: RepoContext): StoreRepos {
  return {
    links: linkRepo(ctx),
    checkpoints: checkpointRepo(ctx),
    executions: executionRepo(ctx),
    changes: changeRepo(ctx),
    recordErrors: recordErrorRepo(ctx),
    conflicts: conflictRepo(ctx),
    intents: intentRepo(ctx),
    tasks: taskMetaRepo(ctx),
    taskDefs: taskDefRepo(ctx),
    users: userRepo(ctx),
    sessions: sessionRepo(ctx),
    apiTokens: apiTokenRepo(ctx),
    audit: auditRepo(ctx),
    instances: instanceRepo(ctx),
  }
}

function createStore(
  db: Kysely<StoreTables>,
  root: Kysely<StoreTables>,
  dialect: StoreDialect,
  statistics: PlannerStatistics,
  migrator: Migrator,
): Store {
  // Identifies this store to the guard that refuses its own repos inside its transactions.
  const owner = {}
  const pairs: PairRefCache = new Map()
  let closing: Promise<void> | undefined
  return {
    dialect,
    ...createRepos(rootContext(db, dialect, owner, statistics, pairs)),

    async transaction<T>(fn: (tx: StoreRepos) => Promise<T>): Promise<T> {
      if (isInsideTransaction(owner)) {
        throw new OpenSyncError(
          'OSY_INTERNAL',
          'metadata store: store.transaction() was called inside a transaction; nested transactions are not supported',
        )
      }
      let failed: { readonly error: unknown } | undefined
      let afterCommit: (() => Promise<void>) | undefined
      let result: T
      try {
        result = await db.transaction().execute((trx) =>
          insideTransaction(owner, async () => {
            const tx = transactionContext(trx, db, dialect, statistics, pairs)
            afterCommit = tx.afterCommit
            try {
              return await fn(createRepos(tx.ctx))
            } catch (error) {
              failed = { error }
              throw error
            }
          }),
        )
      } catch (error) {
        // The function's own error goes back unchanged; only begin/commit failures are wrapped.
        if (failed !== undefined && failed.error === error) throw error
        throw storeError('transaction', error)
      }
      await afterCommit?.()
      return result
    },

    async pendingMigrations() {
      try {
        const migrations = await migrator.getMigrations()
        return migrations.filter((m) => m.executedAt === undefined).map((m) => m.name)
      } catch (cause) {
        throw storeError('pendingMigrations', cause)
      }
    },

    close() {
      closing ??= root.destroy().catch((cause: unknown) => {
        throw storeError('close', cause)
      })
      return closing
    },
  }
}

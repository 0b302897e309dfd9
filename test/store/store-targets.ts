import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { Kysely, type LogEvent, PostgresDialect, SqliteDialect } from 'kysely'
import pg from 'pg'
import type { StoreOptions } from '../../src/store/index.ts'
import { migrateRetrying, storeMigrator } from '../../src/store/migration-provider.ts'

/** The test server: `PG_URL` or the local trust-auth cluster. */
export const PG_URL = process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

/** One SQL statement the store sent, as Kysely logged it. */
export interface Statement {
  readonly sql: string
  readonly parameters: readonly unknown[]
}

/** A database the store can live in, with raw access for looking behind the store's back. */
export interface Target {
  /** Options that open a store on this database. */
  readonly options: StoreOptions
  /**
   * Rows of a raw query (tables unqualified; the store's schema is on the search path); none
   * for a write.
   */
  query(sql: string): Promise<Record<string, unknown>[]>
  /** The plan of a statement the store sent, one line per step. */
  explain(statement: Statement): Promise<string[]>
  /** How often the links table's planner statistics were gathered (SQLite keeps none: 0). */
  linksAnalyzed(): Promise<number>
  /** Applies the store's migrations up to and including `name`, as an older release would. */
  migrateTo(name: string): Promise<void>
  teardown(): Promise<void>
}

export interface Dialect {
  readonly name: 'sqlite' | 'postgres'
  setup(): Promise<Target>
  /** A plan line that reads a whole table. */
  readonly fullScan: RegExp
  /** A plan line that looks `column` up through an index. */
  keyLookup(column: string): RegExp
}

export const dialects: readonly Dialect[] = [
  {
    name: 'sqlite',
    async setup() {
      const dir = mkdtempSync(join(tmpdir(), 'osy-store-'))
      const file = join(dir, 'store.db')
      let raw: Database.Database | undefined
      const db = () => (raw ??= new Database(file))
      return {
        options: { url: file },
        async query(sql) {
          const statement = db().prepare(sql)
          if (statement.reader) return statement.all() as Record<string, unknown>[]
          statement.run()
          return []
        },
        async explain({ sql, parameters }) {
          const rows = db()
            .prepare(`explain query plan ${sql}`)
            .all(...parameters) as { detail: string }[]
          return rows.map((r) => r.detail)
        },
        async linksAnalyzed() {
          return 0
        },
        async migrateTo(name) {
          const kysely = new Kysely<unknown>({
            dialect: new SqliteDialect({ database: new Database(file) }),
          })
          try {
            await migrateTo(kysely, 'sqlite', undefined, name)
          } finally {
            await kysely.destroy()
          }
        },
        async teardown() {
          raw?.close()
          rmSync(dir, { recursive: true, force: true })
        },
      }
    },
    fullScan: /^SCAN osy_/,
    keyLookup: (column) => new RegExp(`^SEARCH osy_links USING .*\\b${column}=\\?`),
  },
  {
    name: 'postgres',
    async setup() {
      const schema = `osy_store_${randomBytes(5).toString('hex')}`
      const client = new pg.Client({ connectionString: PG_URL })
      await client.connect()
      // The store creates the schema; the client reads it once it exists.
      const onPath = async () => {
        await client.query(`set search_path to "${schema}"`)
        // With sequential scans priced out, a plan still scans a table only when no index fits.
        await client.query('set enable_seqscan = off')
      }
      let ready: Promise<void> | undefined
      const session = () => {
        ready ??= onPath()
        return ready
      }
      return {
        options: { url: PG_URL, schema },
        async query(sql) {
          await session()
          return (await client.query(sql)).rows
        },
        async explain({ sql, parameters }) {
          await session()
          const { rows } = await client.query(`explain ${sql}`, parameters as unknown[])
          return rows.map((r: { 'QUERY PLAN': string }) => r['QUERY PLAN'].trim())
        },
        async linksAnalyzed() {
          const { rows } = await client.query(
            `select analyze_count from pg_stat_user_tables where schemaname = $1 and relname = 'osy_links'`,
            [schema],
          )
          return Number(rows[0]?.analyze_count ?? 0)
        },
        async migrateTo(name) {
          const kysely = new Kysely<unknown>({
            dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: PG_URL }) }),
          })
          try {
            await migrateTo(kysely.withSchema(schema), 'postgres', schema, name)
          } finally {
            await kysely.destroy()
          }
        },
        async teardown() {
          await client.query(`drop schema if exists "${schema}" cascade`)
          await client.end()
        },
      }
    },
    fullScan: /Seq Scan on osy_/,
    keyLookup: (column) => new RegExp(`Index Cond: .*\\b${column} = `),
  },
]

async function migrateTo(
  db: Kysely<unknown>,
  dialect: 'sqlite' | 'postgres',
  schema: string | undefined,
  name: string,
): Promise<void> {
  const migrator = storeMigrator(db, { dialect }, schema)
  const { error } = await migrateRetrying(() => migrator.migrateTo(name))
  if (error !== undefined) throw error
}

/** Collects the statements the store sends while a piece of code runs. */
export class Recorder {
  #current: Statement[] | undefined

  readonly log = (event: LogEvent): void => {
    if (event.level === 'query') {
      this.#current?.push({ sql: event.query.sql, parameters: event.query.parameters })
    }
  }

  async during<T>(fn: () => Promise<T>): Promise<{ result: T; statements: Statement[] }> {
    const statements: Statement[] = []
    this.#current = statements
    try {
      return { result: await fn(), statements }
    } finally {
      this.#current = undefined
    }
  }
}

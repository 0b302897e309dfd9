/**
 * The small structural slice of `better-sqlite3` this bridge uses (Kysely's `SqliteDatabase`
 * idea): the connection code depends on these few methods, not on the driver package, so a
 * caller can hand in any compatible handle factory.
 */
import Database from 'better-sqlite3'

/** One prepared statement. Parameters are bound positionally from an array. */
export interface SqliteStatement {
  all(params: readonly unknown[]): unknown[]
  get(params: readonly unknown[]): unknown
  run(params?: readonly unknown[]): unknown
  /** Rows as arrays in column order instead of objects (only for statements that return rows). */
  raw(toggle?: boolean): this
}

/** One open database handle. */
export interface SqliteDatabase {
  prepare(sql: string): SqliteStatement
  /** Runs SQL without parameters or results (pragmas, BEGIN/COMMIT). */
  exec(sql: string): unknown
  /** Makes every statement of the handle read INTEGER values as bigint. */
  defaultSafeIntegers(toggle?: boolean): unknown
  close(): unknown
  readonly open: boolean
  readonly inTransaction: boolean
}

/** How to open a handle; `timeout` is SQLite's busy timeout in milliseconds. */
export interface SqliteOpenOptions {
  readonly readonly: boolean
  readonly fileMustExist: boolean
  readonly timeout: number
}

/** Opens a database handle on a file. */
export type SqliteOpen = (file: string, options: SqliteOpenOptions) => SqliteDatabase

/** Opens a handle with better-sqlite3. */
export const openBetterSqlite3: SqliteOpen = (file, options) =>
  new Database(file, {
    readonly: options.readonly,
    fileMustExist: options.fileMustExist,
    timeout: options.timeout,
  }) as unknown as SqliteDatabase

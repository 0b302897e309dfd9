import { existsSync } from 'node:fs'
import { dirname } from 'node:path'
import { setImmediate as nextTurn } from 'node:timers/promises'
import {
  type BridgeConnection,
  type BridgeLogger,
  encodeKey,
  type Filter,
  OpenSyncError,
  type ReadKeysOptions,
  type ReadOptions,
  type RecordBatch,
  type SourceRecord,
  sqliteDialect,
  throwIfAborted,
  type Value,
  type WriteOp,
  type WriteOptions,
  type WriteResult,
} from '../../sdk/index.ts'
import { countSql } from '../shared/count-query.ts'
import { keysetPageSql } from '../shared/keyset-query.ts'
import { checkpointAfter, keyedType, planRead } from '../shared/read-plan.ts'
import type { SqliteDatabase, SqliteOpen, SqliteStatement } from './sqlite-driver.ts'
import { classifySystemError, type SqliteTarget, unknownDatabase } from './sqlite-errors.ts'
import { introspect, introspectOne, type SqliteRecordType } from './sqlite-introspector.ts'
import { codecFor, type FieldCodec } from './sqlite-values.ts'
import { type WriteTarget, writeBatch } from './sqlite-writer.ts'

const q = sqliteDialect.quoteIdentifier
/** Idle read handles kept open for the next read; more are opened while reads overlap. */
const IDLE_READERS = 2
/** Prepared statements kept per handle; past this the cache starts over. */
const STATEMENT_CACHE = 256

/** The validated connection values of one SQLite database. */
export interface SqliteConnectionOptions extends SqliteTarget {
  /** Make the file when it is missing. */
  readonly create: boolean
  /** Never write: the file is opened read-only and every record type is read-only. */
  readonly readOnly: boolean
  readonly open: SqliteOpen
  readonly log: BridgeLogger
}

/** A record type as the connection caches it: its description and one codec per field. */
type TypeEntry = WriteTarget

/**
 * A connection to one SQLite file. The file is opened on first use. SQLite allows one
 * transaction per handle, and a read holds its snapshot across the pages it yields, so
 * each read runs on a handle of its own (from a small pool) while writes and schema
 * questions use the main handle: a write during a read neither waits for it nor breaks
 * its snapshot (WAL lets readers and the writer proceed side by side).
 */
export class SqliteConnection implements BridgeConnection {
  readonly #options: SqliteConnectionOptions
  #main?: SqliteDatabase
  readonly #statements = new Map<string, SqliteStatement>()
  readonly #idleReaders: SqliteDatabase[] = []
  readonly #busyReaders = new Set<SqliteDatabase>()
  readonly #types = new Map<string, TypeEntry>()
  #schemaVersion?: unknown
  #closed = false

  constructor(options: SqliteConnectionOptions) {
    this.#options = options
  }

  async check(): Promise<void> {
    this.#system(() => {
      this.#prepare('SELECT count(*) FROM sqlite_schema', true).get([])
    })
  }

  async discover(): Promise<readonly SqliteRecordType[]> {
    return this.#system(() =>
      introspect(this.#database(), {
        readOnly: this.#options.readOnly,
        onBroken: (name, error) =>
          this.#options.log.warn(
            { recordType: name, error: String(error) },
            'skipping a view that no longer compiles',
          ),
      }),
    )
  }

  async *read(type: string, options: ReadOptions = {}): AsyncIterable<RecordBatch> {
    const found = this.#system(() => this.#recordType(type), type)
    const entry = { ...found, type: keyedType(found.type, options.keyFields) }
    const plan = planRead(entry.type, options, sqliteDialect)
    const columns = plan.columns.map((f) => f.name)
    const order = plan.order.map((f) => f.name)
    const codecs = columns.map((name) => entry.codecs.get(name)!)
    const orderAt = order.map((name) => columns.indexOf(name))
    const keyAt = entry.type.keyFields.map((name) => columns.indexOf(name))
    const param = (value: Parameters<FieldCodec['param']>[0], field: string) =>
      entry.codecs.get(field)!.param(value)
    // Positions from a checkpoint are canonical values; later pages reuse the stored ones.
    let after: unknown[] | undefined = plan.after?.map((v, i) => param(v, order[i]!))
    const atLeast = plan.atLeast === undefined ? undefined : param(plan.atLeast, order[0]!)

    const reader = this.#system(() => this.#acquireReader())
    try {
      // One read transaction for every page: in WAL mode that is one consistent snapshot.
      this.#system(() => reader.exec('BEGIN'))
      while (true) {
        throwIfAborted(options.signal)
        const page = keysetPageSql({
          dialect: sqliteDialect,
          from: q(entry.type.name),
          columns,
          order,
          limit: plan.batchSize,
          ...(plan.filter ? { filter: plan.filter } : {}),
          ...(after ? { after } : atLeast !== undefined ? { atLeast } : {}),
        })
        const rows = this.#system(
          () => reader.prepare(page.sql).raw(true).all(page.params) as unknown[][],
          type,
        )
        if (rows.length === 0) break
        const records: SourceRecord[] = new Array(rows.length)
        for (let r = 0; r < rows.length; r++) {
          const row = rows[r]!
          const values: Record<string, Value> = {}
          for (let c = 0; c < columns.length; c++) values[columns[c]!] = codecs[c]!.read(row[c])
          records[r] = { key: encodeKey(keyAt.map((c) => values[columns[c]!]!)), values }
        }
        const last = rows[rows.length - 1]!
        const checkpoint = checkpointAfter(plan, records[records.length - 1]!.values)
        yield checkpoint ? { records, checkpoint } : { records }
        if (rows.length < plan.batchSize) break
        after = orderAt.map((c) => last[c])
        // The driver is synchronous: give timers and sockets a turn between pages.
        await nextTurn()
      }
    } finally {
      this.#releaseReader(reader)
    }
  }

  async count(type: string, options: { readonly filter?: Filter } = {}): Promise<number> {
    const found = this.#system(() => this.#recordType(type), type)
    const { sql, params } = countSql(sqliteDialect, q(found.type.name), found.type, options.filter)
    const reader = this.#system(() => this.#acquireReader())
    try {
      const row = this.#system(() => reader.prepare(sql).get(params), type) as { n: number }
      return Number(row.n)
    } finally {
      this.#releaseReader(reader)
    }
  }

  async *readKeys(type: string, options: ReadKeysOptions = {}): AsyncIterable<readonly string[]> {
    const entry = this.#system(() => this.#recordType(type), type)
    const keyFields = keyedType(entry.type, options.keyFields).keyFields
    for await (const batch of this.read(type, { ...options, fields: keyFields })) {
      yield batch.records.map((r) => r.key)
    }
  }

  async write(
    type: string,
    ops: readonly WriteOp[],
    options: WriteOptions = {},
  ): Promise<readonly WriteResult[]> {
    throwIfAborted(options.signal)
    return this.#system(() => {
      const entry = this.#recordType(type)
      if (entry.type.readOnly) {
        const why = this.#options.readOnly
          ? 'the connection is read-only'
          : entry.type.kind === 'view'
            ? 'it is a view'
            : 'it has no primary key'
        throw new OpenSyncError(
          'OSY_READ_ONLY_RECORD_TYPE',
          `"${entry.type.name}" can be read but not written: ${why}`,
          { details: { recordType: entry.type.name } },
        )
      }
      if (ops.length === 0) return []
      return writeBatch(this.#database(), (sql, rows) => this.#prepare(sql, rows), entry, ops)
    }, type)
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const db of [...this.#idleReaders, ...this.#busyReaders]) closeQuietly(db)
    this.#idleReaders.length = 0
    this.#busyReaders.clear()
    if (this.#main) closeQuietly(this.#main)
    this.#main = undefined
    this.#statements.clear()
  }

  /** The record type by name, described again whenever the schema changed. */
  #recordType(name: string): TypeEntry {
    const version = this.#prepare('PRAGMA schema_version', true).get([])
    if (!Array.isArray(version) || version[0] !== this.#schemaVersion) {
      this.#types.clear()
      this.#statements.clear()
      this.#schemaVersion = Array.isArray(version) ? version[0] : undefined
    }
    let entry = this.#types.get(name)
    if (!entry) {
      const type = introspectOne(this.#database(), name, { readOnly: this.#options.readOnly })
      if (!type) {
        throw new OpenSyncError(
          'OSY_RECORD_TYPE_NOT_FOUND',
          `no table or view "${name}" in ${this.#options.file}`,
          { details: { recordType: name } },
        )
      }
      const codecs = new Map(type.fields.map((f) => [f.name, codecFor(f, type.name)]))
      entry = { type, codecs }
      this.#types.set(name, entry)
    }
    return entry
  }

  #database(): SqliteDatabase {
    if (this.#closed) throw new OpenSyncError('OSY_INTERNAL', 'the SQLite connection is closed')
    this.#main ??= this.#open('main')
    return this.#main
  }

  #prepare(sql: string, rows: boolean): SqliteStatement {
    let statement = this.#statements.get(sql)
    if (!statement) {
      if (this.#statements.size >= STATEMENT_CACHE) this.#statements.clear()
      statement = this.#database().prepare(sql)
      if (rows) statement.raw(true)
      this.#statements.set(sql, statement)
    }
    return statement
  }

  #acquireReader(): SqliteDatabase {
    this.#database()
    const reader = this.#idleReaders.pop() ?? this.#open('reader')
    this.#busyReaders.add(reader)
    return reader
  }

  #releaseReader(reader: SqliteDatabase): void {
    this.#busyReaders.delete(reader)
    if (!reader.open) return
    try {
      if (reader.inTransaction) reader.exec('COMMIT')
    } catch {
      closeQuietly(reader)
      return
    }
    if (this.#closed || this.#idleReaders.length >= IDLE_READERS) closeQuietly(reader)
    else this.#idleReaders.push(reader)
  }

  /**
   * Opens a handle. The main one switches the file to WAL (a property of the file, so it
   * sticks) and turns on foreign keys; readers are query-only, so nothing read through them
   * can ever change the file.
   */
  #open(role: 'main' | 'reader'): SqliteDatabase {
    const { file, create, readOnly, busyTimeout, open } = this.#options
    if (!create || role === 'reader') {
      if (!existsSync(file)) throw unknownDatabase(file)
    } else if (!existsSync(dirname(file))) {
      throw new OpenSyncError(
        'OSY_UNKNOWN_DATABASE',
        `the folder of SQLite database file ${file} does not exist`,
        { details: { field: 'file' } },
      )
    }
    let db: SqliteDatabase | undefined
    try {
      db = open(file, {
        readonly: readOnly,
        fileMustExist: !create || role === 'reader',
        timeout: busyTimeout,
      })
      // 64-bit integers arrive as bigint, so none is rounded; codecs narrow safe ones to number.
      db.defaultSafeIntegers(true)
      if (role === 'reader') db.exec('PRAGMA query_only = ON')
      else if (!readOnly) db.exec('PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON')
      // Read the header now, so a file that is not a database fails here with a clear error.
      db.prepare('SELECT count(*) FROM sqlite_schema').get([])
      return db
    } catch (error) {
      if (db) closeQuietly(db)
      throw error
    }
  }

  /** Runs driver work and turns what it throws into a classified error. */
  #system<T>(work: () => T, recordType?: string): T {
    try {
      return work()
    } catch (error) {
      throw classifySystemError(error, this.#options, recordType)
    }
  }
}

function closeQuietly(db: SqliteDatabase): void {
  try {
    if (db.open) db.close()
  } catch {
    // Closing is best effort: the handle is dropped either way.
  }
}

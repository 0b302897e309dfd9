import {
  type BridgeConnection,
  type BridgeLogger,
  type Checkpoint,
  type FieldInfo,
  type Filter,
  type FilterExpr,
  mysqlDialect,
  OpenSyncError,
  type ReadKeysOptions,
  type ReadOptions,
  type RecordBatch,
  type RecordTypeInfo,
  type RecordValues,
  throwIfAborted,
  type WriteOp,
  type WriteOptions,
  type WriteResult,
} from '../../sdk/index.ts'
import { countSql } from '../shared/count-query.ts'
import { groupOps, type OpGroup, writeIsolated } from '../shared/isolated-write.ts'
import { keysetPageSql } from '../shared/keyset-query.ts'
import { checkpointAfter, keyedType, keyOf, planRead, type ReadPlan } from '../shared/read-plan.ts'
import { RecordTypeCache } from '../shared/record-type-cache.ts'
import {
  mysqlSealHash,
  type RunSeal,
  sealed,
  sealSql,
  unsealedStart,
  withoutAtLeast,
} from '../shared/window-seal.ts'
import type { MysqlPool, MysqlPoolConnection, MysqlRow } from './mysql-driver.ts'
import {
  classifyConnectionError,
  classifyRecordError,
  isConnectionLost,
  type MysqlTarget,
} from './mysql-errors.ts'
import { introspect, type MysqlRecordType, publicRecordType } from './mysql-introspector.ts'
import { loadCreates } from './mysql-load-data.ts'
import { canStream, streamRows } from './mysql-row-stream.ts'
import { fieldLiterals, readerFor, toDriver, type ValueReader } from './mysql-values.ts'
import {
  applyOps,
  MAX_PARAMS,
  type OpOutcome,
  paramsPerOp,
  textSizeOf,
  updateIfAllExist,
  type WriterServer,
} from './mysql-writer.ts'

type UpdateOp = Extract<WriteOp, { op: 'update' }>

const q = mysqlDialect.quoteIdentifier

/**
 * The SQL mode of every session. Strict for all engines, so a bad value fails its record
 * instead of being truncated or zeroed; and it must never contain NO_BACKSLASH_ESCAPES or
 * ANSI_QUOTES, because `mysql2` escapes bound values client-side with backslashes.
 */
export const SESSION_SQL_MODE =
  'STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'

/** Facts about the server, learnt once from the first session. */
export interface MysqlServerInfo extends WriterServer {
  readonly version: string
  readonly mariadb: boolean
  /** `@@max_allowed_packet`: the largest statement the server accepts. */
  readonly maxPacket: number
  /** `@@local_infile`: whether the server takes `LOAD DATA LOCAL INFILE` (creates in bulk). */
  readonly localInfile: boolean
  /** `@@innodb_autoinc_lock_mode`, undefined on a server without it (see mysql-load-data.ts). */
  readonly autoIncLockMode: number | undefined
}

/**
 * Refusals of `LOAD DATA LOCAL` by a server or client that has it switched off (MariaDB's
 * "command not allowed", MySQL 8's "loading local data is disabled", the client's own).
 */
const LOCAL_INFILE_REFUSED = new Set([1148, 2068, 3948])

/** A connection to one MySQL or MariaDB database through a lazily created pool. */
export class MysqlConnection implements BridgeConnection {
  readonly #createPool: () => MysqlPool
  readonly #target: MysqlTarget
  readonly #secret: string | undefined
  readonly #log: BridgeLogger
  /** The session set-up of each driver connection, run once when it is first checked out. */
  readonly #sessions = new WeakMap<object, Promise<void>>()
  /** No such table (1146), unknown column (1054): the schema changed since it was described. */
  readonly #types = new RecordTypeCache<MysqlRecordType>((error) => {
    const errno = (error as { errno?: number }).errno
    return errno === 1146 || errno === 1054
  })
  #pool?: MysqlPool
  #server?: MysqlServerInfo
  /** Creates go as LOAD DATA LOCAL until the server or the driver refuses it once. */
  #bulkLoad = true
  #closed?: Promise<void>

  /**
   * @param createPool makes the pool on first use, so `connect()` contacts nothing.
   * @param secret the password, only to scrub it from any message.
   */
  constructor(
    createPool: () => MysqlPool,
    target: MysqlTarget,
    log: BridgeLogger,
    secret?: string,
  ) {
    this.#createPool = createPool
    this.#target = target
    this.#log = log
    this.#secret = secret || undefined
  }

  async check(): Promise<void> {
    const conn = await this.#acquire()
    try {
      await conn.query('SELECT 1')
    } catch (error) {
      throw this.#classify(error)
    } finally {
      conn.release()
    }
  }

  async discover(): Promise<RecordTypeInfo[]> {
    const conn = await this.#acquire()
    try {
      const types = await introspect(conn, { mariadb: this.#server!.mariadb })
      this.#types.fill(types)
      return types.map(publicRecordType)
    } catch (error) {
      throw this.#classify(error)
    } finally {
      conn.release()
    }
  }

  async *read(type: string, options: ReadOptions = {}): AsyncIterable<RecordBatch> {
    let previous: Checkpoint | undefined
    for await (const { rows, plan, recordType, seal, final } of this.#pages(type, options)) {
      if (rows.length === 0) {
        // The last page was full and nothing followed: hand over the seal on its own.
        const withSeal = previous ? await sealed(previous, plan, seal) : undefined
        if (withSeal && withSeal !== previous) yield { records: [], checkpoint: withSeal }
        continue
      }
      const records = rows.map((values) => ({ key: keyOf(recordType, values), values }))
      let checkpoint = checkpointAfter(plan, rows[rows.length - 1]!)
      if (final && checkpoint) checkpoint = await sealed(checkpoint, plan, seal)
      yield checkpoint ? { records, checkpoint } : { records }
      previous = checkpoint
    }
  }

  /**
   * The databases (schemas) the user can see, without the server's own: information_schema
   * lists only those the user has some privilege on.
   */
  async listDatabases(): Promise<readonly string[]> {
    const conn = await this.#acquire()
    try {
      const [rows] = await conn.query(
        `SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA
         WHERE SCHEMA_NAME NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')
         ORDER BY SCHEMA_NAME`,
      )
      return (rows as MysqlRow[]).map((r) => String(r.name))
    } catch (error) {
      throw this.#classify(error)
    } finally {
      conn.release()
    }
  }

  async count(type: string, options: { readonly filter?: Filter } = {}): Promise<number> {
    const conn = await this.#acquire()
    try {
      const rt = await this.#describe(conn, type)
      const { sql, params } = countSql(mysqlDialect, q(rt.name), rt, options.filter)
      const [rows] = await conn.query(sql, params).catch((error: unknown) => {
        throw this.#classify(error)
      })
      return Number((rows as MysqlRow[])[0]?.n ?? 0)
    } finally {
      conn.release()
    }
  }

  async hasIndexOn(type: string, field: string): Promise<boolean | undefined> {
    const conn = await this.#acquire()
    try {
      const rt = await this.#describe(conn, type)
      // Base tables only: a view's reads go to tables this cannot see.
      const [rows] = await conn.query(
        `SELECT t.TABLE_TYPE AS kind, EXISTS (
           SELECT 1 FROM information_schema.STATISTICS s
           WHERE s.TABLE_SCHEMA = t.TABLE_SCHEMA AND s.TABLE_NAME = t.TABLE_NAME
             AND s.COLUMN_NAME = ? AND s.SEQ_IN_INDEX = 1) AS indexed
         FROM information_schema.TABLES t
         WHERE t.TABLE_SCHEMA = DATABASE() AND t.TABLE_NAME = ?`,
        [field, rt.name],
      )
      const row = (rows as MysqlRow[])[0]
      return row && row.kind === 'BASE TABLE' ? Number(row.indexed) === 1 : undefined
    } catch {
      return undefined
    } finally {
      conn.release()
    }
  }

  async *readKeys(type: string, options: ReadKeysOptions = {}): AsyncIterable<readonly string[]> {
    for await (const { rows, recordType } of this.#pages(type, options, true)) {
      if (rows.length > 0) yield rows.map((values) => keyOf(recordType, values))
    }
  }

  async write(
    type: string,
    ops: readonly WriteOp[],
    options: WriteOptions = {},
  ): Promise<readonly WriteResult[]> {
    throwIfAborted(options.signal)
    const groups = groupOps(ops)
    const named = [...new Set(groups.flatMap((group) => group.fields))]
    const conn = await this.#acquire()
    let open = false
    let healthy = true
    try {
      return await this.#types.use(
        type,
        async () => {
          // After a failed first run: undo it before the type is described anew.
          if (open) await conn.query('ROLLBACK')
          open = false
          return this.#describe(conn, type)
        },
        async (recordType) => {
          if (recordType.readOnly) {
            throw new OpenSyncError(
              'OSY_READ_ONLY_RECORD_TYPE',
              `"${type}" is a ${recordType.kind === 'view' ? 'view' : 'table without a primary key'}: it can be read but not written`,
              { details: { recordType: type } },
            )
          }
          if (ops.length === 0) return []
          const alone = await this.#alone(conn, recordType, groups)
          if (alone) return alone
          // One transaction per write, one savepoint per attempt: a failed group leaves nothing.
          await conn.query('START TRANSACTION')
          open = true
          const results = await this.#applyGroups(conn, recordType, groups, options.signal)
          await conn.query('COMMIT')
          open = false
          return results
        },
        // A field the remembered type lacks may have been added since it was described.
        (recordType) => named.every((name) => recordType.fields.some((f) => f.name === name)),
      )
    } catch (error) {
      healthy = !isConnectionLost(error)
      throw this.#classify(error)
    } finally {
      await this.#finish(conn, open, healthy)
    }
  }

  async close(): Promise<void> {
    this.#closed ??= this.#pool ? this.#pool.end() : Promise.resolve()
    return this.#closed
  }

  /**
   * Pages through a record type by keyset, all pages inside one read-only transaction with
   * a consistent snapshot on one connection, so the pages agree with each other. The
   * connection goes back to the pool when the consumer stops early, too.
   */
  async *#pages(
    type: string,
    options: ReadOptions,
    keysOnly = false,
  ): AsyncGenerator<{
    rows: RecordValues[]
    plan: ReadPlan
    recordType: MysqlRecordType
    /** The window-seal digest, in this read's snapshot (src/bridges/shared/window-seal.ts). */
    seal: RunSeal
    /** No batch follows this one (an empty one only when the read found nothing). */
    final: boolean
  }> {
    throwIfAborted(options.signal)
    const conn = await this.#acquire()
    let open = false
    let healthy = true
    /** The read's rows while they are being streamed: a connection left mid-result is closed. */
    let stream: AsyncGenerator<unknown> | undefined
    try {
      // Only the first page can run again on a fresh description of the type: once records
      // are handed out, a schema change fails the read.
      const { read, first, seal, rows } = await this.#types.use(
        type,
        async () => {
          // After a failed first run: end its snapshot, which predates the change.
          if (open) await conn.query('ROLLBACK')
          open = false
          return this.#describe(conn, type)
        },
        async (recordType) => {
          let read = pageRead(recordType, options, keysOnly)
          await conn.query('START TRANSACTION READ ONLY, WITH CONSISTENT SNAPSHOT')
          open = true
          const seal = this.#sealRunner(conn, read, type)
          // A window sealed by the last read and unchanged since: continue after its position.
          const sealedStart = keysOnly ? undefined : await unsealedStart(read.plan, seal)
          if (sealedStart) {
            const { atLeast: _, ...rest } = read
            const plan = { ...withoutAtLeast(read.plan), after: sealedStart.after }
            read = {
              ...rest,
              plan,
              after: sealedStart.after.map((v, i) => toDriver(v, plan.order[i]!)),
            }
          }
          const rows = this.#stream(conn, read, read.after, type)
          // The first batch inside: a field dropped since the description fails it here.
          const first = await rows.next()
          return { read, seal, rows, first: first.done ? { rows: [], last: true } : first.value }
        },
      )
      stream = rows
      const { plan, recordType } = read
      let batch = first
      for (;;) {
        for (const row of batch.rows)
          for (const [name, convert] of read.readers) row[name] = convert(row[name])
        yield { rows: batch.rows as RecordValues[], plan, recordType, seal, final: batch.last }
        if (batch.last) break
        throwIfAborted(options.signal)
        const next = await rows.next()
        if (next.done) break
        batch = next.value
      }
      stream = undefined
      await conn.query('COMMIT')
      open = false
    } catch (error) {
      healthy = !isConnectionLost(error)
      throw this.#classify(error)
    } finally {
      if (stream) {
        healthy = false
        await stream.return(undefined)
      }
      await this.#finish(conn, open, healthy)
    }
  }

  /**
   * The rows after the keyset position `after` (from the start when absent) as one streamed
   * statement, in batches (src/bridges/mysql/mysql-row-stream.ts). Errors keep the messages of
   * {@link #query}.
   */
  async *#stream(
    conn: MysqlPoolConnection,
    read: PageRead,
    after: readonly unknown[] | undefined,
    type: string,
  ): AsyncGenerator<{ rows: MysqlRow[]; last: boolean }> {
    const statement = keysetPageSql({
      dialect: mysqlDialect,
      from: q(read.recordType.name),
      columns: read.columns,
      order: read.order,
      ...(read.filter ? { filter: read.filter } : {}),
      ...(after ? { after } : {}),
      ...(read.atLeast !== undefined ? { atLeast: read.atLeast } : {}),
    })
    if (!canStream(conn.connection)) {
      // A pool without streaming: the whole read as keyset pages.
      let position = after
      for (;;) {
        const rows = await this.#rawPage(conn, read, position, type)
        const last = rows.length < read.plan.batchSize
        yield { rows, last }
        if (last) return
        // The consumer converted the page's values in place before asking for the next.
        const end = rows[rows.length - 1] as RecordValues
        position = read.plan.order.map((f: FieldInfo) => toDriver(end[f.name], f))
      }
    }
    const { batches } = streamRows(
      conn.connection,
      statement.sql,
      statement.params,
      read.plan.batchSize,
    )
    try {
      yield* batches
    } catch (error) {
      throw mysqlReadError(error, type)
    }
  }

  /** The window-seal digest of a read, run on its connection, in its snapshot. */
  #sealRunner(conn: MysqlPoolConnection, read: PageRead, type: string): RunSeal {
    return async (lower, upper) => {
      const cursor = read.plan.order[0]!
      const { sql, params } = sealSql({
        dialect: mysqlDialect,
        from: q(read.recordType.name),
        plan: read.plan,
        ...(read.filter ? { filter: read.filter } : {}),
        hash: mysqlSealHash,
        lower: toDriver(lower, cursor),
        upper: toDriver(upper, cursor),
      })
      const [result] = await this.#query(conn, sql, params, type)
      const row = (result as MysqlRow[])[0]!
      return { count: Number(row.n), digest: String(row.d) }
    }
  }

  /** Reads one page after the keyset position `after` (from the start when absent). */
  async #rawPage(
    conn: MysqlPoolConnection,
    read: PageRead,
    after: readonly unknown[] | undefined,
    type: string,
  ): Promise<MysqlRow[]> {
    const page = keysetPageSql({
      dialect: mysqlDialect,
      from: q(read.recordType.name),
      columns: read.columns,
      order: read.order,
      limit: read.plan.batchSize,
      ...(read.filter ? { filter: read.filter } : {}),
      ...(after ? { after } : {}),
      ...(read.atLeast !== undefined ? { atLeast: read.atLeast } : {}),
    })
    const [result] = await this.#query(conn, page.sql, page.params, type)
    return result as MysqlRow[]
  }

  /** Checks a connection out of the pool, setting its session up the first time. */
  async #acquire(): Promise<MysqlPoolConnection> {
    if (this.#closed) {
      throw new OpenSyncError('OSY_INTERNAL', 'the MySQL connection was used after close()')
    }
    let conn: MysqlPoolConnection
    try {
      this.#pool ??= this.#createPool()
      conn = await this.#pool.getConnection()
    } catch (error) {
      throw this.#classify(error)
    }
    let setup = this.#sessions.get(conn.connection)
    if (!setup) {
      setup = this.#setUpSession(conn)
      this.#sessions.set(conn.connection, setup)
    }
    try {
      await setup
      return conn
    } catch (error) {
      // A session whose settings failed would escape values wrongly: never reuse it.
      conn.destroy()
      throw this.#classify(error)
    }
  }

  /**
   * UTC, so TIMESTAMP text is UTC; the strict SQL mode; REPEATABLE READ, the isolation
   * level under which `WITH CONSISTENT SNAPSHOT` means anything.
   */
  async #setUpSession(conn: MysqlPoolConnection): Promise<void> {
    // A streamed read pauses the socket while the engine writes a batch elsewhere; the server
    // gives up on a client that does not read for net_write_timeout (60 s by default).
    await conn.query(
      `SET time_zone = '+00:00', sql_mode = '${SESSION_SQL_MODE}', net_write_timeout = ${READ_PAUSE_LIMIT}`,
    )
    await conn.query('SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ')
    if (this.#server) return
    const [result] = await conn.query(
      'SELECT VERSION() AS version, @@max_allowed_packet AS maxPacket, @@auto_increment_increment AS step, @@local_infile AS localInfile',
    )
    const row = (result as MysqlRow[])[0]!
    // A server without InnoDB's setting (a fork) still connects; it only loads no generated keys.
    const lockMode = await conn
      .query('SELECT @@innodb_autoinc_lock_mode AS mode')
      .then(([rows]) => Number((rows as MysqlRow[])[0]!.mode))
      .catch(() => undefined)
    const version = String(row.version)
    const mariadb = /mariadb/i.test(version)
    const [major = 0, minor = 0] = version.split(/[.-]/).map(Number)
    this.#server = {
      version,
      mariadb,
      returning: mariadb && (major > 10 || (major === 10 && minor >= 5)),
      maxPacket: Number(row.maxPacket),
      autoIncrementStep: Number(row.step) || 1,
      localInfile: Number(row.localInfile) === 1,
      autoIncLockMode: Number.isInteger(lockMode) ? lockMode : undefined,
    }
    this.#log.debug({ version, mariadb }, 'mysql bridge: first session')
  }

  /** Writes the groups of one batch inside the open transaction; one result per op. */
  async #applyGroups(
    conn: MysqlPoolConnection,
    recordType: MysqlRecordType,
    groups: readonly OpGroup<WriteOp['op']>[],
    signal: AbortSignal | undefined,
  ): Promise<WriteResult[]> {
    const type = recordType.name
    const target = { db: conn, type: recordType, server: this.#server! }
    const byName = new Map(recordType.fields.map((f) => [f.name, f]))
    const results: WriteResult[] = []
    for (const group of groups) {
      const unknown = group.fields.find((name) => !byName.has(name))
      if (unknown !== undefined) {
        const error = new OpenSyncError(
          'OSY_FIELD_NOT_FOUND',
          `record type "${type}" has no field "${unknown}"`,
          { details: { recordType: type, field: unknown } },
        )
        for (const index of group.indexes) results[index] = { ok: false, error }
        continue
      }
      const fields = group.fields.map((name) => byName.get(name)!)
      const perOp = paramsPerOp(group.op, fields.length, recordType.keyFields.length)
      const maxBytes = Math.max(1 << 20, Math.floor(this.#server!.maxPacket / 2))
      for (const part of chunkBy(group.indexes, group.ops, perOp, maxBytes)) {
        const apply = (slice: readonly WriteOp[]) =>
          this.#inSavepoint(conn, () => applyOps(target, group.op, fields, slice))
        const outcomes = await writeIsolated(part.ops, apply, classifyRecordError, signal)
        outcomes.forEach((result, i) => {
          results[part.indexes[i]!] = result
        })
      }
    }
    return results
  }

  /**
   * The common batches, creates (or upserts) or updates of one shape that fit one statement,
   * sent as that statement alone: InnoDB applies a statement wholly or not at all, so it needs
   * no transaction and no savepoint, one round trip instead of five. Updates go without the
   * locking read of their keys too, and count on the rows the statement matched. Undefined
   * when the batch is not like that, a record failed it, or an update's record was missing;
   * the caller then writes it the careful way (the updates that landed are set again).
   */
  async #alone(
    conn: MysqlPoolConnection,
    recordType: MysqlRecordType,
    groups: readonly OpGroup<WriteOp['op']>[],
  ): Promise<WriteResult[] | undefined> {
    const [group] = groups
    if (groups.length !== 1 || group!.op === 'delete') return undefined
    const byName = new Map(recordType.fields.map((f) => [f.name, f]))
    if (!group!.fields.every((name) => byName.has(name))) return undefined
    const fields = group!.fields.map((name) => byName.get(name)!)
    // A load streams its rows, so no statement size has to stay under the packet limit.
    let outcomes: OpOutcome[] | undefined =
      group!.op === 'create' ? await this.#load(conn, recordType, fields, group!.ops) : undefined
    if (!outcomes) {
      const perOp = paramsPerOp(group!.op, fields.length, recordType.keyFields.length)
      const maxBytes = Math.max(1 << 20, Math.floor(this.#server!.maxPacket / 2))
      if (chunkBy(group!.indexes, group!.ops, perOp, maxBytes).length !== 1) return undefined
      const target = { db: conn, type: recordType, server: this.#server! }
      try {
        outcomes =
          group!.op === 'update'
            ? await updateIfAllExist(target, fields, group!.ops as UpdateOp[])
            : await applyOps(target, group!.op, fields, group!.ops)
      } catch (error) {
        if (classifyRecordError(error)) return undefined
        throw error
      }
    }
    if (!outcomes) return undefined
    const results: WriteResult[] = new Array(outcomes.length)
    outcomes.forEach((outcome, i) => {
      results[group!.indexes[i]!] =
        typeof outcome === 'string' ? { ok: true, key: outcome } : { ok: false, error: outcome }
    })
    return results
  }

  /**
   * Creates through LOAD DATA LOCAL (see mysql-load-data.ts); undefined when the batch cannot
   * go that way or did not load cleanly, and it is then inserted as before.
   */
  async #load(
    conn: MysqlPoolConnection,
    recordType: MysqlRecordType,
    fields: readonly FieldInfo[],
    ops: readonly WriteOp[],
  ): Promise<OpOutcome[] | undefined> {
    if (!this.#bulkLoad || !this.#server!.localInfile) return undefined
    try {
      return await loadCreates(conn, recordType, fields, ops, this.#server!)
    } catch (error) {
      if (LOCAL_INFILE_REFUSED.has((error as { errno?: number }).errno ?? 0)) {
        this.#bulkLoad = false
        this.#log.debug(
          { error: (error as Error).message },
          'mysql bridge: LOAD DATA LOCAL refused',
        )
        return undefined
      }
      if (classifyRecordError(error)) return undefined
      throw error
    }
  }

  /** Describes one record type from the catalogue; throws when there is none. */
  async #describe(conn: MysqlPoolConnection, type: string): Promise<MysqlRecordType> {
    let found: MysqlRecordType | undefined
    try {
      const types = await introspect(conn, { mariadb: this.#server!.mariadb, only: type })
      found = types[0]
    } catch (error) {
      throw this.#classify(error)
    }
    if (!found) {
      throw new OpenSyncError(
        'OSY_RECORD_TYPE_NOT_FOUND',
        `no table or view "${type}" in database "${this.#target.database ?? ''}"`,
        { details: { recordType: type } },
      )
    }
    return found
  }

  /** Runs a read statement; a table or column dropped since it was described is named. */
  async #query(conn: MysqlPoolConnection, sql: string, params: readonly unknown[], type: string) {
    try {
      return await conn.query(sql, params)
    } catch (error) {
      throw mysqlReadError(error, type)
    }
  }

  async #inSavepoint<T>(conn: MysqlPoolConnection, fn: () => Promise<T>): Promise<T> {
    await conn.query('SAVEPOINT osy_write')
    try {
      const result = await fn()
      await conn.query('RELEASE SAVEPOINT osy_write')
      return result
    } catch (error) {
      // A deadlock rolls the whole transaction back and the savepoint with it; the
      // original error is the one to report.
      if (!isConnectionLost(error))
        await conn.query('ROLLBACK TO SAVEPOINT osy_write').catch(() => {})
      throw error
    }
  }

  /** Ends an open transaction and returns the connection, or closes it when in doubt. */
  async #finish(conn: MysqlPoolConnection, open: boolean, healthy: boolean): Promise<void> {
    if (open && healthy) {
      try {
        await conn.query('ROLLBACK')
      } catch {
        healthy = false
      }
    }
    if (healthy) conn.release()
    else conn.destroy()
  }

  #classify(error: unknown): OpenSyncError {
    return classifyConnectionError(error, this.#target, this.#secret)
  }
}

/** Seconds a streamed read may wait for the engine before the server drops it: an hour. */
const READ_PAUSE_LIMIT = 3600

/** A read's error, with what it means when the table or a field went away meanwhile. */
function mysqlReadError(error: unknown, type: string): unknown {
  const errno = (error as { errno?: number }).errno
  if (errno === 1146) {
    return new OpenSyncError(
      'OSY_RECORD_TYPE_NOT_FOUND',
      `table "${type}" was dropped while it was being read`,
      { cause: error, details: { recordType: type } },
    )
  }
  if (errno === 1054) {
    return new OpenSyncError(
      'OSY_FIELD_NOT_FOUND',
      `a field of "${type}" was dropped while it was being read: ${(error as Error).message}`,
      { cause: error, details: { recordType: type } },
    )
  }
  return error
}

/** Chunks a group so no statement binds more than {@link MAX_PARAMS} or grows past `maxBytes`. */
function chunkBy(
  indexes: readonly number[],
  ops: readonly WriteOp[],
  paramsPerOp: number,
  maxBytes: number,
): { indexes: number[]; ops: WriteOp[] }[] {
  const perChunk = Math.max(1, Math.floor(MAX_PARAMS / paramsPerOp))
  const out: { indexes: number[]; ops: WriteOp[] }[] = []
  let current: { indexes: number[]; ops: WriteOp[] } = { indexes: [], ops: [] }
  let bytes = 0
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!
    const size = textSizeOf(op)
    if (current.ops.length === perChunk || (current.ops.length > 0 && bytes + size > maxBytes)) {
      out.push(current)
      current = { indexes: [], ops: [] }
      bytes = 0
    }
    current.indexes.push(indexes[i]!)
    current.ops.push(op)
    bytes += size
  }
  if (current.ops.length > 0) out.push(current)
  return out
}

/** A read planned against one description of its record type, ready to page through. */
interface PageRead {
  readonly recordType: MysqlRecordType
  readonly plan: ReadPlan
  /** Converters of the columns whose driver values are not canonical. */
  readonly readers: readonly (readonly [string, ValueReader])[]
  readonly filter?: FilterExpr
  readonly columns: readonly string[]
  readonly order: readonly string[]
  readonly atLeast?: unknown
  /** The checkpoint's position, in driver values. */
  readonly after?: readonly unknown[]
}

/** Plans a read (or a key scan) and turns its values into what the driver binds. */
function pageRead(type: MysqlRecordType, options: ReadOptions, keysOnly: boolean): PageRead {
  const recordType = keyedType(type, options.keyFields)
  const plan = planRead(
    recordType,
    keysOnly
      ? {
          fields: recordType.keyFields,
          ...(options.filter ? { filter: options.filter } : {}),
          ...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
        }
      : options,
    mysqlDialect,
  )
  const readers = plan.columns.flatMap((f): [string, ValueReader][] => {
    const read = readerFor(f)
    return read ? [[f.name, read]] : []
  })
  const filter = plan.filter
    ? fieldLiterals(plan.filter, new Map(recordType.fields.map((f) => [f.name, f])))
    : undefined
  return {
    recordType,
    plan,
    readers,
    columns: plan.columns.map((f) => f.name),
    order: plan.order.map((f) => f.name),
    ...(filter ? { filter } : {}),
    ...(plan.atLeast !== undefined ? { atLeast: toDriver(plan.atLeast, plan.order[0]!) } : {}),
    ...(plan.after ? { after: plan.after.map((v, i) => toDriver(v, plan.order[i]!)) } : {}),
  }
}

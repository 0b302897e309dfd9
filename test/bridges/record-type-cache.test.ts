/**
 * A connection describes each record type once and reuses the description for the rest of
 * its life (one run of a task). These tests count the descriptions, and change the schema
 * between calls to check that the cache never makes a call behave otherwise than it would
 * with a fresh description. Every bridge runs the schema-change cases; the counting cases
 * wrap the driver pool of the bridges whose description is a server round trip.
 */
import pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { PostgresConnection, type PostgresPool } from '../../src/bridges/postgres/index.ts'
import { typeParsers } from '../../src/bridges/postgres/postgres-values.ts'
import {
  type BridgeConnection,
  isOpenSyncError,
  type OpenSyncError,
  type RecordBatch,
  type SourceRecord,
  silentLogger,
  type WriteOp,
} from '../../src/sdk/index.ts'
import type { BridgeHarness, HarnessDb } from '../support/harness.ts'
import { harnesses } from '../support/harnesses.ts'
import { watchedMysqlConnection } from '../support/mysql-harness.ts'
import { PG_URL } from '../support/postgres-harness.ts'

async function collect(batches: AsyncIterable<RecordBatch>): Promise<SourceRecord[]> {
  const records: SourceRecord[] = []
  for await (const batch of batches) records.push(...batch.records)
  return records
}

async function errorOf(promise: Promise<unknown>): Promise<OpenSyncError> {
  try {
    await promise
  } catch (error) {
    if (isOpenSyncError(error)) return error
    throw new Error(`expected an OpenSyncError, got ${String(error)}`, { cause: error })
  }
  throw new Error('expected an error, but the call succeeded')
}

/** The error codes of a write, whether it failed as a whole or op by op ('ok' for a success). */
async function writeCodes(
  conn: BridgeConnection,
  type: string,
  ops: readonly WriteOp[],
): Promise<string[]> {
  try {
    return (await conn.write(type, ops)).map((r) => (r.ok ? 'ok' : r.error.code))
  } catch (error) {
    if (isOpenSyncError(error)) return ops.map(() => error.code)
    throw error
  }
}

/**
 * A connection whose driver pool counts the catalogue queries that describe record types:
 * one per description on either bridge.
 */
interface Counted {
  readonly conn: BridgeConnection
  readonly descriptions: () => number
}

const counted: Record<string, (db: HarnessDb) => Counted> = {
  postgres(db) {
    let descriptions = 0
    const driver = new pg.Pool({
      connectionString: PG_URL,
      max: 2,
      options: '-c TimeZone=UTC -c DateStyle=ISO',
      types: typeParsers,
    }) as unknown as PostgresPool
    const counting: PostgresPool = {
      query: <R>(sql: string, params?: readonly unknown[]) => driver.query<R>(sql, params),
      async connect() {
        const client = await driver.connect()
        return {
          query<R>(sql: string, params?: readonly unknown[]) {
            if (sql.includes('FROM pg_class')) descriptions++
            return client.query<R>(sql, params)
          },
          release: (destroy?: boolean | Error) => client.release(destroy),
        }
      },
      end: () => driver.end(),
    }
    const schema = String(db.values.schema)
    const conn = new PostgresConnection(counting, { database: 'test', schema })
    return { conn, descriptions: () => descriptions }
  },
  mysql(db) {
    let descriptions = 0
    const conn = watchedMysqlConnection(String(db.values.database), (sql) => {
      if (sql.includes('information_schema.TABLES')) descriptions++
      return undefined
    })
    return { conn, descriptions: () => descriptions }
  },
}

/** A statement that changes a column's type, where the system can do that. */
const retype: Record<string, ((table: string, column: string) => string) | undefined> = {
  postgres: (t, c) => `ALTER TABLE "${t}" ALTER COLUMN "${c}" TYPE integer USING "${c}"::integer`,
}

describe.each(harnesses)('record type cache: $name', (harness: BridgeHarness) => {
  let db: HarnessDb
  let open: BridgeConnection[] = []
  let tableNo = 0
  const q = (name: string) => harness.quote(name)

  /** A fresh table `things(id integer primary key, name, note)` with one row, id 1. */
  async function thingsTable(): Promise<string> {
    const table = `things_${++tableNo}`
    await db.exec(
      `CREATE TABLE ${q(table)} (id INTEGER PRIMARY KEY, name VARCHAR(50), note VARCHAR(50))`,
    )
    await db.exec(`INSERT INTO ${q(table)} (id, name, note) VALUES (1, 'one', '11')`)
    return table
  }

  async function connect(): Promise<BridgeConnection> {
    const conn = await harness.bridge.connect(db.values, { log: silentLogger })
    open.push(conn)
    return conn
  }

  beforeAll(async () => {
    db = await harness.setup()
  })

  afterEach(async () => {
    for (const conn of open) await conn.close()
    open = []
  })

  afterAll(async () => {
    await db?.teardown()
  })

  it.runIf(counted[harness.name])(
    'describes a record type once per connection, however many calls use it',
    async () => {
      const table = await thingsTable()
      const { conn, descriptions } = counted[harness.name]!(db)
      open.push(conn)
      for (let i = 2; i <= 4; i++) {
        const results = await conn.write(table, [
          { op: 'create', values: { id: i, name: `n${i}` } },
        ])
        expect(results[0]!.ok).toBe(true)
      }
      expect(await conn.write(table, [{ op: 'update', key: '2', values: { note: 'x' } }])).toEqual([
        { ok: true, key: '2' },
      ])
      expect(await collect(conn.read(table, { batchSize: 2 }))).toHaveLength(4)
      expect(await collect(conn.read(table, { filter: { keyValue: { name: 'n3' } } }))).toEqual([
        expect.objectContaining({ key: '3' }),
      ])
      const keys: string[] = []
      for await (const batch of conn.readKeys!(table)) keys.push(...batch)
      expect(keys).toEqual(['1', '2', '3', '4'])
      expect(descriptions()).toBe(1)

      // A discovery describes every type at once; the calls after it need no description.
      const other = await thingsTable()
      await conn.discover()
      expect(descriptions()).toBe(2)
      expect(await collect(conn.read(other))).toHaveLength(1)
      expect((await conn.write(other, [{ op: 'delete', key: '1' }]))[0]!.ok).toBe(true)
      expect(descriptions()).toBe(2)
    },
  )

  it('sees a column added during the connection as soon as a call names it', async () => {
    const table = await thingsTable()
    const conn = await connect()
    expect(await collect(conn.read(table))).toHaveLength(1)
    await db.exec(`ALTER TABLE ${q(table)} ADD COLUMN city VARCHAR(50)`)
    expect(
      await writeCodes(conn, table, [{ op: 'update', key: '1', values: { city: 'Oslo' } }]),
    ).toEqual(['ok'])
    const [record] = await collect(conn.read(table, { fields: ['city'] }))
    expect(record!.values.city).toBe('Oslo')
    // A field that is still missing is reported as before.
    expect(
      await writeCodes(conn, table, [{ op: 'update', key: '1', values: { town: 'x' } }]),
    ).toEqual(['OSY_FIELD_NOT_FOUND'])
  })

  it('reads on after a column was dropped, and reports the dropped field when a write names it', async () => {
    const table = await thingsTable()
    // Two connections, so each meets the dropped column with the description from before.
    const reader = await connect()
    const writer = await connect()
    for (const conn of [reader, writer]) expect(await collect(conn.read(table))).toHaveLength(1)
    await db.exec(`ALTER TABLE ${q(table)} DROP COLUMN note`)
    const records = await collect(reader.read(table))
    expect(records.map((r) => r.values)).toEqual([{ id: 1, name: 'one' }])
    // The create comes first and succeeds before the update trips over the dropped column:
    // the write runs again on the fresh description without applying the create twice.
    const codes = await writeCodes(writer, table, [
      { op: 'create', values: { id: 2, name: 'two' } },
      { op: 'update', key: '1', values: { note: 'x' } },
    ])
    expect(codes[1]).toBe('OSY_FIELD_NOT_FOUND')
    expect(['ok', 'OSY_FIELD_NOT_FOUND']).toContain(codes[0])
    const rows = await db.query(`SELECT id FROM ${q(table)} ORDER BY id`)
    expect(rows.map((r) => Number(r.id))).toEqual(codes[0] === 'ok' ? [1, 2] : [1])
  })

  it('reports a table dropped during the connection as not found, and finds it once re-created', async () => {
    const table = await thingsTable()
    const conn = await connect()
    expect(await collect(conn.read(table))).toHaveLength(1)
    await db.exec(harness.ddl.drop(table))
    const read = await errorOf(collect(conn.read(table)))
    expect(read.code).toBe('OSY_RECORD_TYPE_NOT_FOUND')
    expect(read.message).toContain(table)
    expect(await writeCodes(conn, table, [{ op: 'create', values: { id: 2, name: 'x' } }])).toEqual(
      ['OSY_RECORD_TYPE_NOT_FOUND'],
    )
    // Not found is not remembered: the table is there again, with other columns.
    await db.exec(`CREATE TABLE ${q(table)} (code INTEGER PRIMARY KEY, title VARCHAR(50))`)
    expect(
      await writeCodes(conn, table, [{ op: 'create', values: { code: 7, title: 'seven' } }]),
    ).toEqual(['ok'])
    const records = await collect(conn.read(table))
    expect(records.map((r) => [r.key, r.values])).toEqual([['7', { code: 7, title: 'seven' }]])
  })

  it('writes by the new key after a table was re-created with another primary key', async () => {
    const table = await thingsTable()
    const conn = await connect()
    expect(await collect(conn.read(table))).toHaveLength(1)
    await db.exec(harness.ddl.drop(table))
    await db.exec(`CREATE TABLE ${q(table)} (code INTEGER PRIMARY KEY, name VARCHAR(50))`)
    await db.exec(`INSERT INTO ${q(table)} (code, name) VALUES (7, 'seven')`)
    expect(
      await writeCodes(conn, table, [{ op: 'update', key: '7', values: { name: 'SEVEN' } }]),
    ).toEqual(['ok'])
    const keys: string[] = []
    for await (const batch of conn.readKeys!(table)) keys.push(...batch)
    expect(keys).toEqual(['7'])
  })

  it.runIf(retype[harness.name])(
    'writes with the new type after a column changed its type',
    async () => {
      const table = await thingsTable()
      const conn = await connect()
      expect(await collect(conn.read(table))).toHaveLength(1)
      await db.exec(retype[harness.name]!(table, 'note'))
      expect(
        await writeCodes(conn, table, [{ op: 'update', key: '1', values: { note: 42 } }]),
      ).toEqual(['ok'])
      const [record] = await collect(conn.read(table))
      expect(record!.values.note).toBe(42)
    },
  )
})

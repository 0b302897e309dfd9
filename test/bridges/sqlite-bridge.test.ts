/**
 * What the SQLite bridge does beyond the contract suite: files, locks and read-only mode,
 * SQLite's loose typing, and the write paths that only SQLite schemas can reach.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import { sqliteBridge } from '../../src/bridges/sqlite/index.ts'
import { declaredType } from '../../src/bridges/sqlite/sqlite-introspector.ts'
import {
  canonicalTimestamp,
  plainDecimal,
  withScale,
} from '../../src/bridges/sqlite/sqlite-values.ts'
import {
  type BridgeConnection,
  type ConnectionValues,
  isOpenSyncError,
  type OpenSyncError,
  type RecordBatch,
  type SourceRecord,
  silentLogger,
} from '../../src/sdk/index.ts'

const folder = mkdtempSync(join(tmpdir(), 'osy-sqlite-bridge-'))
let fileNo = 0
let open: BridgeConnection[] = []
let raws: Database.Database[] = []

afterEach(async () => {
  for (const c of open) await c.close()
  for (const r of raws) r.close()
  open = []
  raws = []
})
afterAll(() => rmSync(folder, { recursive: true, force: true }))

/** A fresh database file with the given schema, and a raw connection to it. */
function fresh(ddl = ''): { file: string; raw: Database.Database } {
  const file = join(folder, `db-${++fileNo}.db`)
  const raw = new Database(file)
  raws.push(raw)
  if (ddl) raw.exec(ddl)
  return { file, raw }
}

async function connect(values: ConnectionValues): Promise<BridgeConnection> {
  const c = await sqliteBridge.connect(values, { log: silentLogger })
  open.push(c)
  return c
}

async function errorOf(promise: Promise<unknown>): Promise<OpenSyncError> {
  try {
    await promise
  } catch (error) {
    if (isOpenSyncError(error)) return error
    throw error
  }
  throw new Error('expected an error, but the call succeeded')
}

async function all(batches: AsyncIterable<RecordBatch>): Promise<SourceRecord[]> {
  const out: SourceRecord[] = []
  for await (const batch of batches) out.push(...batch.records)
  return out
}

describe('sqlite bridge: files', () => {
  it('refuses a missing file unless create is set, then makes it', async () => {
    const file = join(folder, 'made-on-demand.db')
    const missing = await errorOf((await connect({ file })).check())
    expect(missing.code).toBe('OSY_UNKNOWN_DATABASE')
    expect(missing.message).toContain(file)
    const c = await connect({ file, create: true })
    await expect(c.check()).resolves.toBeUndefined()
    await expect(c.discover()).resolves.toEqual([])
  })

  it('tells a file that is not a database', async () => {
    const file = join(folder, 'not-a-db.db')
    writeFileSync(file, 'these are not the bytes of an SQLite database, not at all, no.')
    const error = await errorOf((await connect({ file })).check())
    expect(error.code).toBe('OSY_INVALID_CONNECTION')
    expect(error.message).toMatch(/not an SQLite database/)
  })

  it('tells a database locked beyond busyTimeout as a timeout', async () => {
    const { file, raw } = fresh('CREATE TABLE t (id INTEGER PRIMARY KEY)')
    raw.exec('BEGIN EXCLUSIVE')
    try {
      const error = await errorOf((await connect({ file, busyTimeout: 50 })).check())
      expect(error.code).toBe('OSY_TIMEOUT')
      expect(error.kind).toBe('transient')
    } finally {
      raw.exec('ROLLBACK')
    }
  })

  it('rejects a busyTimeout that is not a whole number of milliseconds', async () => {
    const error = await errorOf(connect({ file: 'x.db', busyTimeout: -1 }))
    expect(error.code).toBe('OSY_INVALID_CONNECTION')
    expect(error.details.field).toBe('busyTimeout')
  })

  it('reads but never writes in readOnly mode', async () => {
    const { file } = fresh(
      "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a')",
    )
    const c = await connect({ file, readOnly: true })
    const [t] = await c.discover()
    expect(t?.readOnly).toBe(true)
    expect((await all(c.read('t'))).map((r) => r.values)).toEqual([{ id: 1, v: 'a' }])
    const error = await errorOf(c.write('t', [{ op: 'create', values: { v: 'b' } }]))
    expect(error.code).toBe('OSY_READ_ONLY_RECORD_TYPE')
  })
})

describe('sqlite bridge: values', () => {
  it('maps declared type names the way their authors meant them', () => {
    expect(declaredType('DECIMAL(10, 2)')).toEqual({ type: 'decimal', scale: 2 })
    expect(declaredType('numeric')).toEqual({ type: 'decimal' })
    expect(declaredType('NVARCHAR(70)')).toEqual({ type: 'string', maxLength: 70 })
    expect(declaredType('timestamp(6) with time zone')).toEqual({ type: 'timestamptz' })
    expect(declaredType('DATETIME')).toEqual({ type: 'timestamp' })
    expect(declaredType('UNSIGNED BIG INT')).toEqual({ type: 'integer' })
    expect(declaredType('DOUBLE PRECISION')).toEqual({ type: 'float' })
    expect(declaredType('')).toEqual({ type: 'string' })
    expect(declaredType('GEOMETRY')).toEqual({ type: 'other' })
  })

  it('reads what other programs stored in the canonical form of the declared type', async () => {
    const { file, raw } = fresh(`CREATE TABLE t (id INTEGER PRIMARY KEY, amount DECIMAL(10,2),
      at DATETIME, seen TIMESTAMPTZ, flag BOOLEAN, doc JSON)`)
    raw.exec(`INSERT INTO t VALUES (1, 12.5, '2024-01-02 03:04:05', '2024-01-02 05:04:05+02:00', 1, '[1]');
      INSERT INTO t VALUES (2, '7', '2024-01-02T03:04:05.1Z', '2024-01-02T03:04:05Z', 0, 42);
      INSERT INTO t VALUES (3, 0.125, NULL, NULL, NULL, NULL)`)
    const c = await connect({ file })
    const values = (await all(c.read('t'))).map((r) => r.values)
    expect(values).toEqual([
      {
        id: 1,
        amount: '12.50',
        at: '2024-01-02T03:04:05.000000',
        seen: '2024-01-02T03:04:05.000000Z',
        flag: true,
        doc: [1],
      },
      {
        id: 2,
        amount: '7.00',
        at: '2024-01-02T03:04:05.100000',
        seen: '2024-01-02T03:04:05.000000Z',
        flag: false,
        doc: 42,
      },
      { id: 3, amount: '0.13', at: null, seen: null, flag: null, doc: null },
    ])
  })

  it('refuses a decimal a double would round, and keeps 64-bit integers in decimals exact', async () => {
    const { file } = fresh('CREATE TABLE t (id INTEGER PRIMARY KEY, amount NUMERIC(30,2))')
    const c = await connect({ file })
    const results = await c.write('t', [
      { op: 'create', values: { amount: '123456789012345678.91' } },
      { op: 'create', values: { amount: '9223372036854775807' } },
      { op: 'create', values: { amount: '0.10' } },
    ])
    expect(results.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual(['OSY_WRONG_TYPE', 'ok', 'ok'])
    const values = (await all(c.read('t'))).map((r) => r.values.amount)
    expect(values).toEqual(['9223372036854775807.00', '0.10'])
  })

  it('stores instants as canonical UTC text whatever offset they were given with', async () => {
    const { file, raw } = fresh('CREATE TABLE t (id INTEGER PRIMARY KEY, at TIMESTAMPTZ)')
    const c = await connect({ file })
    await c.write('t', [{ op: 'create', values: { at: '2024-06-01T02:00:00.5+02:00' } }])
    expect(raw.prepare('SELECT at FROM t').pluck().get()).toBe('2024-06-01T00:00:00.500000Z')
  })
})

describe('sqlite bridge: reads', () => {
  it('keeps its snapshot while the same connection writes', async () => {
    const { file } = fresh('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)')
    const c = await connect({ file })
    await c.write(
      't',
      Array.from({ length: 6 }, (_, i) => ({ op: 'create' as const, values: { v: `v${i}` } })),
    )
    const seen: SourceRecord[] = []
    for await (const batch of c.read('t', { batchSize: 2 })) {
      seen.push(...batch.records)
      if (seen.length === 2) {
        const r = await c.write('t', [{ op: 'create', values: { v: 'late' } }])
        expect(r[0]?.ok).toBe(true)
      }
    }
    expect(seen.map((r) => r.values.v)).toEqual(['v0', 'v1', 'v2', 'v3', 'v4', 'v5'])
    expect(await all(c.read('t'))).toHaveLength(7)
  })

  it('stops at an abort between pages and releases its snapshot', async () => {
    const { file, raw } = fresh('CREATE TABLE t (id INTEGER PRIMARY KEY)')
    raw.exec(
      'WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10) INSERT INTO t SELECT i FROM n',
    )
    const c = await connect({ file })
    const controller = new AbortController()
    const error = await errorOf(
      (async () => {
        for await (const _ of c.read('t', { batchSize: 3, signal: controller.signal }))
          controller.abort()
      })(),
    )
    expect(error.code).toBe('OSY_ABORTED')
    // The raw connection can checkpoint and write: no read transaction was left open.
    raw.exec('INSERT INTO t VALUES (11)')
    expect(raw.pragma('wal_checkpoint(TRUNCATE)', { simple: false })).toEqual([
      { busy: 0, log: 0, checkpointed: 0 },
    ])
  })
})

describe('sqlite bridge: writes', () => {
  let file: string
  let c: BridgeConnection
  beforeEach(async () => {
    ;({ file } = fresh(`
      CREATE TABLE parent (id INTEGER PRIMARY KEY);
      INSERT INTO parent VALUES (1);
      CREATE TABLE child (id INTEGER PRIMARY KEY, parent INTEGER
        REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);
      CREATE TABLE strict_code (code TEXT PRIMARY KEY ON CONFLICT ROLLBACK, n INTEGER);
      CREATE TABLE audited (id INTEGER PRIMARY KEY, v TEXT);
      CREATE TABLE audit (v TEXT);
      CREATE TRIGGER audited_log BEFORE INSERT ON audited BEGIN
        INSERT INTO audit VALUES (NEW.v);
        SELECT RAISE(FAIL, 'no bad values') WHERE NEW.v = 'bad';
      END;`))
    c = await connect({ file })
  })

  const codes = (results: readonly { ok: boolean; error?: OpenSyncError }[]) =>
    results.map((r) => (r.ok ? 'ok' : r.error!.code))

  it('finds the one record that breaks a deferred foreign key at commit', async () => {
    const results = await c.write('child', [
      { op: 'create', values: { parent: 1 } },
      { op: 'create', values: { parent: 99 } },
      { op: 'create', values: { parent: 1 } },
    ])
    expect(codes(results)).toEqual(['ok', 'OSY_CONSTRAINT_VIOLATION', 'ok'])
    expect(await all(c.read('child'))).toHaveLength(2)
  })

  it('keeps the good records when a constraint rolls back the whole transaction', async () => {
    const results = await c.write('strict_code', [
      { op: 'create', values: { code: 'a', n: 1 } },
      { op: 'create', values: { code: 'a', n: 2 } },
      { op: 'create', values: { code: 'b', n: 3 } },
    ])
    expect(codes(results)).toEqual(['ok', 'OSY_CONSTRAINT_VIOLATION', 'ok'])
    expect((await all(c.read('strict_code'))).map((r) => r.key)).toEqual(['a', 'b'])
  })

  it('undoes what a failing record’s trigger had done already', async () => {
    const results = await c.write('audited', [
      { op: 'create', values: { v: 'good' } },
      { op: 'create', values: { v: 'bad' } },
    ])
    expect(codes(results)).toEqual(['ok', 'OSY_CONSTRAINT_VIOLATION'])
    const raw = new Database(file, { readonly: true })
    raws.push(raw)
    expect(raw.prepare('SELECT v FROM audit').pluck().all()).toEqual(['good'])
  })

  it('tells unknown fields and bad keys per op, and deletes idempotently', async () => {
    const results = await c.write('parent', [
      { op: 'create', values: { nope: 1 } },
      { op: 'update', key: 'x', values: {} },
      { op: 'delete', key: '12345' },
      { op: 'upsert', values: { id: 1 } },
    ])
    expect(codes(results)).toEqual(['OSY_FIELD_NOT_FOUND', 'OSY_RECORD_NOT_FOUND', 'ok', 'ok'])
  })
})

describe('sqlite bridge: value text', () => {
  it('formats decimals and timestamps exactly', () => {
    expect(plainDecimal('1.5e3')).toBe('1500')
    expect(plainDecimal('-1e-7')).toBe('-0.0000001')
    expect(withScale('99.995', 2)).toBe('100.00')
    expect(withScale('-0.004', 2)).toBe('0.00')
    expect(canonicalTimestamp('2024-02-29 23:59:59.9999996-01:00', true)).toBe(
      '2024-03-01T01:00:00.000000Z',
    )
    expect(canonicalTimestamp('2023-02-29 00:00:00', false)).toBeUndefined()
    expect(canonicalTimestamp('0001-01-01T00:00:00Z', false)).toBe('0001-01-01T00:00:00.000000')
  })
})

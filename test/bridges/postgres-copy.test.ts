/**
 * Large create groups with their keys go into PostgreSQL through COPY: the same values as
 * the INSERT path stores, a bad row still fails alone, and keys come back as INSERT's would.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { COPY_MIN_ROWS, copyText } from '../../src/bridges/postgres/postgres-copy.ts'
import {
  type BridgeConnection,
  parseJson,
  type RecordValues,
  silentLogger,
  type WriteOp,
} from '../../src/sdk/index.ts'
import type { HarnessDb } from '../support/harness.ts'
import { postgresHarness } from '../support/postgres-harness.ts'

const TRICKY = [
  'tab\there',
  'line\nbreak',
  'back\\slash',
  'cr\rhere',
  '\\N',
  'Zoë 😀',
  "O'Neil",
  '',
]

function row(i: number): RecordValues {
  return {
    id: i + 1,
    email: `p${i}@example.com`,
    name: i % 10 === 0 ? null : `${TRICKY[i % TRICKY.length]} ${i}`,
    score: i % 7 === 0 ? null : `${i}.1250`,
    big: i % 3 === 0 ? 9007199254740993n : i,
    active: i % 2 === 0,
    born: '1990-02-28',
    updated_at: '2024-03-01T12:34:56.500000Z',
    created: '2024-03-01T12:34:56.000001',
    photo: i % 5 === 0 ? null : new Uint8Array([0, 92, 9, 10, 255, i % 256]),
    doc:
      i % 4 === 0 ? null : parseJson(`{"n": 12345678901234567890, "s": "a\\tb\\\\c", "i": ${i}}`),
    note: `note\t${i}\n`,
  }
}

describe('PostgreSQL COPY for large create groups', () => {
  let db: HarnessDb
  let conn: BridgeConnection

  beforeAll(async () => {
    db = await postgresHarness.setup()
    conn = await postgresHarness.bridge.connect(db.values, { log: silentLogger })
    await db.exec(postgresHarness.ddl.people('copied'))
    await db.exec(postgresHarness.ddl.people('inserted'))
  })
  afterAll(async () => {
    await conn?.close()
    await db?.teardown()
  })

  const creates = (from: number, n: number): WriteOp[] =>
    Array.from({ length: n }, (_, i) => ({ op: 'create', values: row(from + i) }))

  it('stores what INSERT stores, value for value, and returns the keys sent', async () => {
    const n = COPY_MIN_ROWS + 50
    const copied = await conn.write('copied', creates(0, n))
    // Below the threshold each group is an INSERT: the same rows in slices.
    const inserted = []
    for (let i = 0; i < n; i += COPY_MIN_ROWS - 1) {
      inserted.push(
        ...(await conn.write('inserted', creates(i, Math.min(COPY_MIN_ROWS - 1, n - i)))),
      )
    }
    expect(copied.map((r) => (r.ok ? r.key : r.error.code))).toEqual(
      inserted.map((r) => (r.ok ? r.key : r.error.code)),
    )
    expect(copied.every((r) => r.ok)).toBe(true)
    const cols =
      'id, email, name, score, big, active, born, updated_at, created, photo, doc::text AS doc, note'
    const a = await db.query(`SELECT ${cols} FROM copied ORDER BY id`)
    const b = await db.query(`SELECT ${cols} FROM inserted ORDER BY id`)
    expect(a).toHaveLength(n)
    expect(a).toEqual(b)
    const first = a[1] as Record<string, unknown>
    expect(first.name).toBe(`${TRICKY[1]} 1`)
    expect(String(first.doc)).toContain('12345678901234567890')
  })

  it('isolates a bad row: the others are created, the duplicate fails alone', async () => {
    await db.exec(postgresHarness.ddl.people('dupes'))
    const ops = creates(1000, COPY_MIN_ROWS + 20)
    const bad = ops[17] as { op: 'create'; values: RecordValues }
    bad.values = { ...bad.values, email: 'p1000@example.com' }
    const results = await conn.write('dupes', ops)
    expect(results.filter((r) => !r.ok)).toHaveLength(1)
    expect(results[17]!.ok).toBe(false)
    const [{ n }] = (await db.query('SELECT count(*)::int AS n FROM dupes')) as [{ n: number }]
    expect(n).toBe(ops.length - 1)
  })

  it('escapes COPY text: NULL, backslash, tab, newline, carriage return, bytea', () => {
    expect(copyText(null)).toBe('\\N')
    expect(copyText('\\N')).toBe('\\\\N')
    expect(copyText('a\tb\nc\rd\\e')).toBe('a\\tb\\nc\\rd\\\\e')
    expect(copyText(true)).toBe('t')
    expect(copyText(Buffer.from([0, 255]))).toBe('\\\\x00ff')
    expect(copyText(12n)).toBe('12')
  })
})

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MysqlConnection } from '../../src/bridges/mysql/index.ts'
import type { WriteOp } from '../../src/sdk/index.ts'
import type { HarnessDb } from '../support/harness.ts'
import { mysqlHarness, watchedMysqlConnection } from '../support/mysql-harness.ts'

/**
 * Creates go to MySQL/MariaDB as LOAD DATA LOCAL INFILE (src/bridges/mysql/mysql-load-data.ts).
 * LOCAL makes the server skip duplicates and coerce bad values with a warning instead of an
 * error, so a load that warns must leave nothing and the batch must go the INSERT way, which
 * reports the bad record alone. The statements are counted on the client, per connection.
 */
const TABLE = `CREATE TABLE %s (
  id INT NOT NULL PRIMARY KEY, email VARCHAR(40) NOT NULL UNIQUE, name VARCHAR(200),
  score DECIMAL(14,4), big BIGINT, active BOOLEAN, born DATE, updated_at TIMESTAMP(6) NULL,
  created DATETIME(6), doc JSON, note TEXT)`

/** Values the text format gives a meaning to, and values that look like its NULL. */
const TRICKY = [
  'tab\there',
  'line\nbreak',
  'carriage\rreturn',
  'back\\slash\\',
  'nul\u0000byte',
  '\\N',
  'NULL',
  '',
  'Grüße, 東京 🎉',
  '\\t literally',
]

function ops(from: number, count: number): WriteOp[] {
  return Array.from({ length: count }, (_, i) => {
    const n = from + i
    return {
      op: 'create',
      values: {
        id: n,
        email: `p${n}@example.com`,
        name: TRICKY[n % TRICKY.length]!,
        score: n % 3 === 0 ? null : `${n}.${String(n % 10000).padStart(4, '0')}`,
        big: 2n ** 62n + BigInt(n),
        active: n % 2 === 0,
        born: '1990-02-28',
        updated_at: '2026-03-29T01:30:00.123456Z',
        created: '2026-03-29T01:30:00.5',
        doc: { n, text: TRICKY[(n + 1) % TRICKY.length]!, list: [1, null, 'x\ty'] },
        note: n % 5 === 0 ? null : `note ${n}\n${TRICKY[(n + 2) % TRICKY.length]}`,
      },
    }
  })
}

/** A bridge connection whose statements are recorded; `refuse` answers LOAD DATA as a server with local_infile off. */
function connection(db: HarnessDb, refuse = false) {
  const statements: string[] = []
  const conn = watchedMysqlConnection(String(db.values.database), (sql) => {
    statements.push(sql)
    if (!refuse || !sql.startsWith('LOAD DATA')) return undefined
    const error = Object.assign(new Error('The used command is not allowed'), { errno: 1148 })
    return Promise.reject(error)
  })
  const count = (prefix: string) => statements.filter((s) => s.startsWith(prefix)).length
  return { conn, count }
}

describe('mysql bridge: creates as LOAD DATA LOCAL INFILE', () => {
  let db: HarnessDb
  const open: MysqlConnection[] = []
  let tableNo = 0

  async function table(ddl = TABLE): Promise<string> {
    const name = `load_${++tableNo}`
    await db.exec(ddl.replace('%s', `\`${name}\``))
    return name
  }
  function connect(refuse = false) {
    const c = connection(db, refuse)
    open.push(c.conn)
    return c
  }
  const rows = (t: string) => db.query(`SELECT * FROM \`${t}\` ORDER BY id`)

  beforeAll(async () => {
    db = await mysqlHarness.setup()
  })
  afterAll(async () => {
    for (const conn of open) await conn.close()
    await db.teardown()
  })

  it('loads a batch in one statement and stores exactly what INSERT stores', async () => {
    const loaded = await table()
    const inserted = await table()
    const bulk = connect()
    const plain = connect(true)
    const batch = ops(1, 500)

    const results = await bulk.conn.write(loaded, batch)
    expect(results.every((r) => r.ok)).toBe(true)
    expect(results.map((r) => r.ok && r.key)).toEqual(batch.map((_, i) => String(i + 1)))
    expect(bulk.count('LOAD DATA')).toBe(1)
    expect(bulk.count('INSERT')).toBe(0)

    // A server that refuses LOCAL INFILE: the batch is inserted, and the next one is not
    // offered to LOAD DATA again.
    expect((await plain.conn.write(inserted, batch)).every((r) => r.ok)).toBe(true)
    expect(plain.count('LOAD DATA')).toBe(1)
    expect(plain.count('INSERT')).toBe(1)
    expect((await plain.conn.write(inserted, ops(501, 10))).every((r) => r.ok)).toBe(true)
    expect(plain.count('LOAD DATA')).toBe(1)
    await db.exec(`DELETE FROM \`${inserted}\` WHERE id > 500`)

    const a = await rows(loaded)
    expect(a).toHaveLength(500)
    expect(a).toEqual(await rows(inserted))
    // The values the format could mistake: NULL stays NULL, '\N' and 'NULL' stay text.
    expect(a.slice(0, 10).map((r) => r.name)).toEqual([...TRICKY.slice(1), TRICKY[0]])
    expect(a.find((r) => r.id === 3)!.score).toBeNull()
    expect(a.find((r) => r.id === 5)!.note).toBeNull()
  })

  it('a duplicate key in the batch leaves nothing loaded and fails that record alone', async () => {
    const t = await table()
    const { conn, count } = connect()
    expect((await conn.write(t, ops(1, 5))).every((r) => r.ok)).toBe(true)
    const batch = [...ops(6, 10), ...ops(3, 1), ...ops(16, 10)]
    const results = await conn.write(t, batch)
    expect(count('LOAD DATA')).toBe(2)
    expect(results.filter((r) => !r.ok)).toHaveLength(1)
    expect(results[10]!.ok).toBe(false)
    const ids = (await rows(t)).map((r) => r.id)
    expect(ids).toEqual(Array.from({ length: 25 }, (_, i) => i + 1))
  })

  it('a value the column cannot hold fails that record alone, not coerced with a warning', async () => {
    const t = await table()
    const { conn, count } = connect()
    const batch = ops(1, 20)
    const long = batch[7] as { op: 'create'; values: Record<string, unknown> }
    long.values = { ...long.values, email: `${'x'.repeat(60)}@example.com` }
    const results = await conn.write(t, batch)
    expect(count('LOAD DATA')).toBe(1)
    expect(results.map((r) => r.ok)).toEqual(batch.map((_, i) => i !== 7))
    const stored = await rows(t)
    expect(stored.map((r) => r.id)).toEqual(batch.map((_, i) => i + 1).filter((id) => id !== 8))
  })

  it('generated keys: the load reports the first, the others follow it', async () => {
    const t = await table(
      'CREATE TABLE %s (id INT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(40) UNIQUE) AUTO_INCREMENT = 41',
    )
    const { conn, count } = connect()
    const created = (from: number, n: number): WriteOp[] =>
      Array.from({ length: n }, (_, i) => ({
        op: 'create',
        values: { email: `g${from + i}@example.com` },
      }))
    const first = await conn.write(t, created(0, 3))
    expect(first.map((r) => r.ok && r.key)).toEqual(['41', '42', '43'])
    await db.exec(`INSERT INTO \`${t}\` (id, email) VALUES (100, 'other@example.com')`)
    const second = await conn.write(t, created(3, 300))
    expect(count('LOAD DATA')).toBe(2)
    const stored = await db.query(`SELECT id, email FROM \`${t}\` WHERE id <> 100 ORDER BY id`)
    const keys = second.map((r) => (r.ok ? r.key : 'failed'))
    expect(keys.slice(0, 2)).toEqual(['101', '102'])
    // Each key names the row holding that record's values.
    expect(stored.slice(3).map((r) => String(r.id))).toEqual(keys)
    expect(stored.slice(3).map((r) => r.email)).toEqual(
      Array.from({ length: 300 }, (_, i) => `g${3 + i}@example.com`),
    )
  })

  it('generated keys beyond 2^53 stay exact', async () => {
    const t = await table(
      'CREATE TABLE %s (id BIGINT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(40)) AUTO_INCREMENT = 9007199254740990',
    )
    const { conn, count } = connect()
    const results = await conn.write(
      t,
      Array.from({ length: 4 }, (_, i) => ({
        op: 'create',
        values: { email: `x${i}@example.com` },
      })),
    )
    expect(count('LOAD DATA')).toBe(1)
    const expected = [
      '9007199254740990',
      '9007199254740991',
      '9007199254740992',
      '9007199254740993',
    ]
    expect(results.map((r) => r.ok && r.key)).toEqual(expected)
    const stored = await db.query(`SELECT CAST(id AS CHAR) AS id FROM \`${t}\` ORDER BY id`)
    expect(stored.map((r) => r.id)).toEqual(expected)
  })

  it('a batch with bytes is inserted as before', async () => {
    const t = await table('CREATE TABLE %s (id INT PRIMARY KEY, email VARCHAR(40), photo BLOB)')
    const { conn, count } = connect()
    const bytes = await conn.write(t, [
      {
        op: 'create',
        values: { id: 10, email: 'c@example.com', photo: new Uint8Array([0, 9, 10, 92]) },
      },
    ])
    expect(bytes.map((r) => r.ok && r.key)).toEqual(['10'])
    expect(count('LOAD DATA')).toBe(0)
    const [row] = await db.query(`SELECT HEX(photo) AS hex FROM \`${t}\` WHERE id = 10`)
    expect(row!.hex).toBe('00090A5C')
  })
})

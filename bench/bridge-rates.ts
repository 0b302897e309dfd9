/**
 * Read and write rates of each bridge on N people-like rows, next to the raw driver doing
 * the same work without OpenSync (PostgreSQL: COPY in, plain SELECT out; MySQL: multi-row
 * INSERT of 5000 rows, plain SELECT; SQLite: prepared INSERT in one transaction, SELECT).
 *
 *   node bench/bridge-rates.ts [rows=100000] [bridges=postgres,mysql,sqlite]
 */
import Database from 'better-sqlite3'
import mysql from 'mysql2/promise'
import pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { type RecordValues, silentLogger, type WriteOp } from '../src/sdk/index.ts'
import { harnesses } from '../test/support/harnesses.ts'

const N = Number(process.argv[2] ?? 100_000)
const only = (process.argv[3] ?? 'postgres,mysql,sqlite').split(',')
const BATCH = 5000

function row(i: number): RecordValues {
  return {
    email: `p${i}@example.com`,
    name: `Person ${i} Müller`,
    score: `${i % 1000}.${String(i % 10000).padStart(4, '0')}`,
    big: i * 1000,
    active: i % 2 === 0,
    born: '1990-02-28',
    updated_at: new Date(Date.UTC(2024, 0, 1) + i * 1000).toISOString().replace('Z', '000Z'),
    note: i % 3 === 0 ? null : 'a note',
  }
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now()
  await fn()
  return (performance.now() - start) / 1000
}

const rate = (s: number) => Math.round(N / s)
const results: Record<string, string | number>[] = []

for (const harness of harnesses.filter((h) => only.includes(h.name))) {
  const db = await harness.setup()
  await db.exec(harness.ddl.people('bench_bridge'))
  await db.exec(harness.ddl.people('bench_raw'))
  const conn = await harness.bridge.connect(db.values, { log: silentLogger })
  const rows = Array.from({ length: N }, (_, i) => row(i))

  const write = await time(async () => {
    for (let i = 0; i < N; i += BATCH) {
      const results = await conn.write(
        'bench_bridge',
        rows.slice(i, i + BATCH).map((values) => ({ op: 'create', values }) as WriteOp),
      )
      if (results.some((r) => !r.ok)) throw new Error('write failed')
    }
  })
  let count = 0
  const read = await time(async () => {
    for await (const batch of conn.read('bench_bridge', { batchSize: BATCH }))
      count += batch.records.length
  })
  if (count !== N) throw new Error(`read ${count} of ${N}`)
  const readCursor = await time(async () => {
    for await (const _ of conn.read('bench_bridge', { batchSize: BATCH, cursor: 'updated_at' })) {
    }
  })
  await conn.close()

  const cols = ['email', 'name', 'score', 'big', 'active', 'born', 'updated_at', 'note'] as const
  const rawValues = rows.map((r) =>
    cols.map((c) => (c === 'updated_at' ? String(r[c]).replace('T', ' ').replace('Z', '') : r[c])),
  )
  let rawWrite: number
  let rawRead: number
  if (harness.name === 'postgres') {
    const client = new pg.Client({ connectionString: String(db.values.url) })
    await client.connect()
    await client.query(`SET search_path = "${db.values.schema}"`)
    rawWrite = await time(async () => {
      const stream = client.query(copyFrom(`COPY bench_raw (${cols.join(', ')}) FROM STDIN`))
      const done = new Promise<void>((resolve, reject) =>
        stream.on('finish', resolve).on('error', reject),
      )
      for (let i = 0; i < N; i += BATCH) {
        const text = rawValues
          .slice(i, i + BATCH)
          .map((v) => `${v.map((x) => (x === null ? '\\N' : String(x))).join('\t')}\n`)
        if (!stream.write(text.join('')))
          await new Promise((resolve) => stream.once('drain', resolve))
      }
      stream.end()
      await done
    })
    rawRead = await time(() => client.query('SELECT * FROM bench_raw'))
    await client.end()
  } else if (harness.name === 'mysql') {
    const c = await mysql.createConnection({
      host: String(db.values.host),
      port: Number(db.values.port),
      user: 'root',
      password: '',
      database: String(db.values.database),
    })
    rawWrite = await time(async () => {
      for (let i = 0; i < N; i += BATCH) {
        const chunk = rawValues.slice(i, i + BATCH)
        await c.query(`INSERT INTO bench_raw (${cols.join(', ')}) VALUES ?`, [chunk])
      }
    })
    rawRead = await time(() => c.query('SELECT * FROM bench_raw'))
    await c.end()
  } else {
    const s = new Database(String(db.values.file))
    const insert = s.prepare(
      `INSERT INTO bench_raw (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`,
    )
    rawWrite = await time(async () => {
      s.transaction(() => {
        for (const v of rawValues)
          insert.run(...v.map((x) => (typeof x === 'boolean' ? Number(x) : x)))
      })()
    })
    rawRead = await time(async () => s.prepare('SELECT * FROM bench_raw').all())
    s.close()
  }
  await db.teardown()
  results.push({
    bridge: harness.name,
    'write rows/s': rate(write),
    'raw write rows/s': rate(rawWrite),
    'write ratio': (rawWrite / write).toFixed(2),
    'read rows/s': rate(read),
    'read by cursor rows/s': rate(readCursor),
    'raw read rows/s': rate(rawRead),
    'read ratio': (rawRead / read).toFixed(2),
  })
}
console.log(`${N} rows, batches of ${BATCH} (ratio = bridge rate / raw driver rate)`)
console.table(results)

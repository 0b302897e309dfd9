/**
 * The REST bridge's rates against the fixture server (its own process, cursor pages of 500,
 * batch creates of 200), next to plain `fetch` loops over the same API — the raw limit:
 *
 * - read: a paged GET loop that parses each page, vs the bridge's `read`, vs an OpenSync
 *   run API → PostgreSQL (a fresh table, a fresh SQLite store, match by e-mail);
 * - write: a loop POSTing the same batches one after the other, vs the bridge's `write`,
 *   vs an OpenSync run PostgreSQL → API (the records just read, into an empty collection);
 *   best of three rounds each, alternating, each round into a collection of its own;
 * - the store alone: N links into a new SQLite store and nothing else, the floor under
 *   both runs (bench/support/store-floor.ts).
 *
 *   node bench/rest-rates.ts [records=100000]
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { createRegistry } from '../src/bridges/index.ts'
import { restBridge } from '../src/bridges/rest/index.ts'
import { runTask } from '../src/engine/run-task.ts'
import { parseTaskFile } from '../src/engine/task/index.ts'
import { silentLogger, type WriteOp } from '../src/sdk/index.ts'
import { openStore } from '../src/store/index.ts'
import { postgresHarness } from '../test/support/postgres-harness.ts'
import { storeAlone } from './support/floors.ts'

const N = Number(process.argv[2] ?? 100_000)
const PAGE = 500
const BATCH = 200

const child = spawn(
  process.execPath,
  [new URL('../test/support/rest-fixture-main.ts', import.meta.url).pathname, 'people', String(N)],
  { stdio: ['pipe', 'pipe', 'inherit'] },
)
const url: string = await new Promise((resolve) => {
  createInterface({ input: child.stdout! }).once('line', (line) => resolve(JSON.parse(line).url))
})

const manifest = (collection: string) => ({
  rest: 1,
  concurrency: 4,
  recordTypes: {
    [collection]: {
      path: `/api/${collection}`,
      inferFields: false,
      fields: {
        id: { type: 'integer', readOnly: true },
        email: 'string',
        name: 'string',
        city: 'string',
        updatedAt: { type: 'timestamptz', readOnly: true },
      },
      list: {
        records: 'data',
        pagination: { type: 'cursor', tokenPath: 'next', sizeParam: 'limit' },
        pageSize: PAGE,
      },
      incremental: { param: 'updated_since', field: 'updatedAt', ordered: true },
      filterParams: { id: 'id', email: 'email' },
      multiValueFilters: true,
      create: { keyPath: 'data.id' },
      update: {},
      delete: {},
      batch: { create: { body: { items: '{{records}}' }, results: 'results', size: BATCH } },
    },
  },
})

async function time(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now()
  await fn()
  return (performance.now() - start) / 1000
}
const rows: { what: string; seconds: number; perSecond: number; vsRaw: string }[] = []
function report(what: string, seconds: number, raw?: number) {
  rows.push({
    what,
    seconds: Number(seconds.toFixed(2)),
    perSecond: Math.round(N / seconds),
    vsRaw: raw ? `${(seconds / raw).toFixed(2)}×` : '1.00× (raw)',
  })
}

// ---------------------------------------------------------------- read
let count = 0
async function rawReadOnce(): Promise<number> {
  count = 0
  const seconds = await time(async () => {
    let cursor: string | null = null
    do {
      const page: Response = await fetch(
        `${url}/api/people?limit=${PAGE}${cursor ? `&cursor=${cursor}` : ''}`,
      )
      const body = (await page.json()) as { data: unknown[]; next: string | null }
      count += body.data.length
      cursor = body.next
    } while (cursor)
  })
  if (count !== N) throw new Error(`raw read ${count} of ${N}`)
  return seconds
}
const conn = await restBridge.connect(
  { baseUrl: url },
  { log: silentLogger, settings: { manifest: manifest('people') } },
)
async function bridgeReadOnce(): Promise<number> {
  count = 0
  const seconds = await time(async () => {
    for await (const batch of conn.read('people', { batchSize: 1000 }))
      count += batch.records.length
  })
  if (count !== N) throw new Error(`bridge read ${count} of ${N}`)
  return seconds
}
// Alternating, best of three each: the machine is shared, and the first pass warms up both sides.
let rawRead = Number.POSITIVE_INFINITY
let bridgeRead = Number.POSITIVE_INFINITY
for (let i = 0; i < 3; i++) {
  rawRead = Math.min(rawRead, await rawReadOnce())
  bridgeRead = Math.min(bridgeRead, await bridgeReadOnce())
}
report('read: plain fetch loop (best of 3)', rawRead)
report('read: REST bridge (best of 3)', bridgeRead, rawRead)

const pg = await postgresHarness.setup()
await pg.exec(`CREATE TABLE contacts (id serial PRIMARY KEY, email varchar(80) UNIQUE, name varchar(100),
  city varchar(60), updated_at timestamptz(6) NOT NULL DEFAULT clock_timestamp())`)
const registry = await createRegistry()
const task = (collection: string, direction: string) =>
  parseTaskFile(
    JSON.stringify({
      id: `bench-${collection}`,
      subject: 'REST bench',
      systems: {
        db: { bridge: 'postgres', connection: pg.values },
        web: {
          bridge: 'rest',
          connection: { baseUrl: url },
          settings: { manifest: manifest(collection) },
        },
      },
      pairs: [
        {
          db: { type: 'contacts', cursor: 'updated_at' },
          web: { type: collection, cursor: 'updatedAt' },
          fields: { email: 'email', name: 'name', city: 'city' },
          match: ['email'],
          direction,
        },
      ],
    }),
    { format: 'json', env: {} },
  )
const storeDir = mkdtempSync(join(tmpdir(), 'osy-rest-bench-'))
const store = await openStore({ url: join(storeDir, 'store.db') })
let result: Awaited<ReturnType<typeof runTask>> | undefined
const syncIn = await time(async () => {
  result = await runTask(task('people', 'web->db'), { store, registry, batchSize: 2000 })
})
if (result?.status !== 'succeeded' || result.totals.created !== N)
  throw new Error(`sync in: ${result?.status} ${JSON.stringify(result?.totals)}`)
report('API → PostgreSQL: opensync run', syncIn, rawRead)

// The same run between two PostgreSQL tables: what the engine and PostgreSQL cost without an API.
await pg.exec(`CREATE TABLE contacts_copy (id serial PRIMARY KEY, email varchar(80) UNIQUE, name varchar(100),
  city varchar(60), updated_at timestamptz(6) NOT NULL DEFAULT clock_timestamp())`)
const sqlTask = parseTaskFile(
  JSON.stringify({
    id: 'bench-sql',
    subject: 'REST bench reference',
    systems: {
      a: { bridge: 'postgres', connection: pg.values },
      b: { bridge: 'postgres', connection: pg.values },
    },
    pairs: [
      {
        a: { type: 'contacts', cursor: 'updated_at' },
        b: { type: 'contacts_copy', cursor: 'updated_at' },
        fields: { email: 'email', name: 'name', city: 'city' },
        match: ['email'],
        direction: 'a->b',
      },
    ],
  }),
  { format: 'json', env: {} },
)
const syncSql = await time(async () => {
  result = await runTask(sqlTask, { store, registry, batchSize: 2000 })
})
if (result?.status !== 'succeeded' || result.totals.created !== N)
  throw new Error(`sync sql: ${result?.status} ${JSON.stringify(result?.totals)}`)
report('PostgreSQL → PostgreSQL: opensync run (reference)', syncSql, rawRead)

// ---------------------------------------------------------------- write
const items = Array.from({ length: N }, (_, i) => ({
  email: `w${i}@example.com`,
  name: `Writer ${i}`,
  city: 'Graz',
}))
async function rawWriteOnce(round: number): Promise<number> {
  return time(async () => {
    for (let i = 0; i < N; i += BATCH) {
      const response = await fetch(`${url}/api/raw${round}/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ items: items.slice(i, i + BATCH) }),
      })
      await response.json()
    }
  })
}
async function bridgeWriteOnce(round: number): Promise<number> {
  const collection = `out${round}`
  const out = await restBridge.connect(
    { baseUrl: url },
    { log: silentLogger, settings: { manifest: manifest(collection) } },
  )
  try {
    return await time(async () => {
      for (let i = 0; i < N; i += 2000) {
        const results = await out.write(
          collection,
          items.slice(i, i + 2000).map((values) => ({ op: 'create', values }) as WriteOp),
        )
        if (results.some((r) => !r.ok)) throw new Error('bridge write failed')
      }
    })
  } finally {
    await out.close()
  }
}
async function syncOutOnce(round: number): Promise<number> {
  const seconds = await time(async () => {
    result = await runTask(task(`back${round}`, 'db->web'), { store, registry, batchSize: 2000 })
  })
  if (result?.status !== 'succeeded' || result.totals.created !== N)
    throw new Error(`sync out: ${result?.status} ${JSON.stringify(result?.totals)}`)
  return seconds
}
// Alternating, best of three each, every round into an empty collection of its own.
let rawWrite = Number.POSITIVE_INFINITY
let bridgeWrite = Number.POSITIVE_INFINITY
let syncOut = Number.POSITIVE_INFINITY
for (let round = 0; round < 3; round++) {
  rawWrite = Math.min(rawWrite, await rawWriteOnce(round))
  bridgeWrite = Math.min(bridgeWrite, await bridgeWriteOnce(round))
  syncOut = Math.min(syncOut, await syncOutOnce(round))
}
report('write: plain fetch loop (batches of 200, best of 3)', rawWrite)
report('write: REST bridge (best of 3)', bridgeWrite, rawWrite)
report('PostgreSQL → API: opensync run (best of 3)', syncOut, rawWrite)
// The floor a run's links put under both runs: N links into a new SQLite store and nothing
// else, in a process of its own (bench/support/store-floor.ts).
const floorDir = mkdtempSync(join(tmpdir(), 'osy-rest-floor-'))
const floor = await storeAlone(join(floorDir, 'store.db'), N, { shape: 'contacts' })
rmSync(floorDir, { recursive: true, force: true })
report(`the store alone: ${N} links, nothing else (vs the raw write loop)`, floor, rawWrite)

await store.close()
rmSync(storeDir, { recursive: true, force: true })
await conn.close()
await pg.teardown()
child.stdin!.end()
console.log(
  `REST bridge, ${N} records, fixture server in its own process, pages of ${PAGE}, batch creates of ${BATCH}`,
)
console.table(rows)

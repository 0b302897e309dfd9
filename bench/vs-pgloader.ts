/**
 * MariaDB → PostgreSQL: `opensync run` next to pgloader, the bulk loader, in one run on one
 * machine (issue 14; figures in docs/benchmarks.md).
 *
 *   node bench/vs-pgloader.ts [N=1000000] [--store=sqlite|pg|both] [--cursor-index] [--datetime] [--shuffled] [--keep]
 *
 * Builds a 9-column customers table of N rows in a fresh MariaDB database (one INSERT …
 * SELECT, so every row has the same updated_at, as a bulk load gives them; the cursor column
 * is a TIMESTAMP(6), an instant, or with --datetime a DATETIME(6), a wall clock; it has no
 * index unless --cursor-index; with --shuffled every row gets its own updated_at, at random
 * within the last eleven days, so the sync reads the rows in random key order, as a table that
 * has lived is read, instead of in key order), then:
 *
 *   pgloader   `pgloader mysql://… pgsql://…` into a fresh PostgreSQL database (creates the
 *              table, copies, builds the indexes; it writes no links); the bench checks
 *              that it loaded N rows, because pgloader exits 0 when it could not even
 *              create the table (it cannot translate MariaDB's CURRENT_TIMESTAMP(6)
 *              default, so the source's updated_at is set explicitly instead)
 *   initial    `opensync run` of a task customers → customers (cursor updated_at, match on
 *              email) into another fresh PostgreSQL database whose table exists, empty, with
 *              its primary key and unique e-mail index; the metadata store is the CLI's
 *              default SQLite file (and, with --store=pg or both, a fresh PostgreSQL schema)
 *   no-op      `opensync run` right after it: nothing changed
 *   1%         `opensync run` after UPDATE … WHERE id % 100 = 0 on the source
 *   warm-up    a dry run of ten rows, so the processes below find their code in the compile cache
 *   start      `opensync --version`: what a process start costs, for the no-op target; each
 *              run's own time (its summary's startedAt to endedAt: the process without
 *              loading its code) is printed beside its wall time
 *   store alone  N links written into a new store of the same kind through the store's API,
 *              as the initial sync's commits write them, and nothing else
 *              (bench/support/store-floor.ts): the part of the initial sync no engine work
 *              can take away while links are written on its main thread, printed as a
 *              ratio to pgloader too
 *
 * Every opensync figure is a whole CLI process (wall time, peak RSS from /proc VmHWM). The
 * ratio is opensync's initial sync over pgloader's time. pgloader is installed from Debian's
 * packages when it is missing (as root). Exits 0 whether or not the targets are met: a missed
 * target is marked MISS.
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import mysql from 'mysql2/promise'
import pg from 'pg'
import { storeAlone } from './support/floors.ts'
import { measureProcess } from './support/measure-process.ts'
import { warmCompileCache } from './support/warm-compile-cache.ts'

const args = process.argv.slice(2)
const N = Number(args.find((a) => !a.startsWith('--')) ?? 1_000_000)
if (!Number.isSafeInteger(N) || N < 100) throw new Error(`N must be an integer ≥ 100, not ${N}`)
const storeArg = args.find((a) => a.startsWith('--store='))?.slice('--store='.length) ?? 'both'
if (!['sqlite', 'pg', 'both'].includes(storeArg)) throw new Error('--store is sqlite, pg or both')
const KEEP = args.includes('--keep')
const CURSOR_INDEX = args.includes('--cursor-index')
const CURSOR_TYPE = args.includes('--datetime') ? 'DATETIME(6)' : 'TIMESTAMP(6)'
const SHUFFLED = args.includes('--shuffled')
/** The source's updated_at as loaded: one stamp for all rows, or one at random per row. */
const loadedStamp = (at: string) =>
  SHUFFLED ? `TIMESTAMPADD(MICROSECOND, -FLOOR(RAND(1) * 950400000000), ${at})` : at

const PG = process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const MY = { host: '127.0.0.1', port: 3306, user: 'root', password: '' }
const root = fileURLToPath(new URL('..', import.meta.url))
const suffix = randomBytes(4).toString('hex')
const source = `osy_src_${suffix}`
const loaded = `osy_pgloader_${suffix}`
const synced = `osy_sync_${suffix}`
const work = mkdtempSync(join(tmpdir(), 'osy-vs-pgloader-'))

/** A child process's wall time and peak RSS, from the repository's root by default. */
const measure = (
  command: string,
  argv: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
) =>
  measureProcess(command, argv, {
    cwd: options.cwd ?? root,
    ...(options.env ? { env: options.env } : {}),
  })

function ensurePgloader(): string {
  const found = spawnSync('sh', ['-c', 'command -v pgloader'], { encoding: 'utf8' })
  if (found.status === 0) return found.stdout.trim()
  console.log('pgloader is missing: installing it from Debian’s packages')
  for (const cmd of [
    'apt-get install -y pgloader',
    'apt-get update && apt-get install -y pgloader',
  ]) {
    if (spawnSync('sh', ['-c', cmd], { stdio: 'inherit' }).status === 0) return 'pgloader'
  }
  throw new Error('could not install pgloader (apt-get install -y pgloader, as root)')
}

/**
 * Seconds the store alone takes for N links (bench/support/store-floor.ts), in a store of the
 * same kind beside the run's: a SQLite file of its own, or a schema of its own, dropped after.
 */
async function storeFloor(name: string, store: string): Promise<number> {
  if (name === 'sqlite') return storeAlone(join(work, 'floor.db'), N)
  try {
    return await storeAlone(store.replace(/schema=([^&]+)/, 'schema=$1_floor'), N)
  } finally {
    const admin = new pg.Client({ connectionString: PG })
    await admin.connect()
    await admin.query(`DROP SCHEMA IF EXISTS osy_store_${suffix}_floor CASCADE`)
    await admin.end()
  }
}

async function main(): Promise<void> {
  const pgloader = ensurePgloader()
  console.log(
    `N = ${N.toLocaleString('en')} customers, MariaDB → PostgreSQL, cursor ${CURSOR_TYPE}${CURSOR_INDEX ? ' (indexed)' : ''}${SHUFFLED ? ', rows in random key order' : ''}; load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  )
  const admin = new pg.Client({ connectionString: PG })
  await admin.connect()
  const my = await mysql.createConnection({ ...MY, multipleStatements: true })
  const results: Record<string, string> = {}
  try {
    await my.query(`CREATE DATABASE ${source}`)
    await my.query(`USE ${source}`)
    await my.query(`CREATE TABLE customers (
      id INT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(80) NOT NULL UNIQUE,
      first_name VARCHAR(40), last_name VARCHAR(40), city VARCHAR(40), zip VARCHAR(10),
      balance DECIMAL(12,2), active BOOLEAN,
      updated_at ${CURSOR_TYPE} NOT NULL${CURSOR_INDEX ? ', KEY (updated_at)' : ''})`)
    const filled = performance.now()
    await my.query(`INSERT INTO customers (email, first_name, last_name, city, zip, balance, active, updated_at)
      SELECT CONCAT('c', seq, '@example.com'), CONCAT('First', seq MOD 1000), CONCAT('Last', seq),
             ELT(1 + seq MOD 5, 'Berlin', 'Karlsruhe', 'Köln', 'München', 'Hamburg'),
             LPAD(seq MOD 99999, 5, '0'), (seq MOD 100000) / 100, seq MOD 2, ${loadedStamp('NOW(6)')}
      FROM seq_1_to_${N}`)
    console.log(`source filled in ${((performance.now() - filled) / 1000).toFixed(1)} s`)

    for (const db of [loaded, synced]) await admin.query(`CREATE DATABASE ${db}`)
    const targetUrl = (db: string) => PG.replace(/\/[^/]*$/, `/${db}`)
    const target = new pg.Client({ connectionString: targetUrl(synced) })
    await target.connect()
    await target.query(`CREATE TABLE customers (
      id integer PRIMARY KEY, email varchar(80) NOT NULL UNIQUE,
      first_name varchar(40), last_name varchar(40), city varchar(40), zip varchar(10),
      balance numeric(12,2), active boolean, updated_at ${CURSOR_TYPE === 'DATETIME(6)' ? 'timestamp(6)' : 'timestamptz(6)'} NOT NULL)`)

    const pgl = await measure(pgloader, [
      '--quiet',
      `mysql://root@127.0.0.1:3306/${source}`,
      `pgsql://postgres@127.0.0.1:5432/${loaded}`,
    ])
    const check = new pg.Client({ connectionString: targetUrl(loaded) })
    await check.connect()
    const copied = await check
      .query(`SELECT count(*)::int AS n FROM ${source}.customers`)
      .then((r) => r.rows[0].n as number)
      .catch(() => 0)
      .finally(() => check.end())
    if (copied !== N) throw new Error(`pgloader loaded ${copied} rows, not ${N}`)
    console.log(`pgloader   ${pgl.seconds.toFixed(2)} s (${copied.toLocaleString('en')} rows)`)

    writeFileSync(
      join(work, 'customers.task.yaml'),
      `subject: Customers MariaDB → PostgreSQL
systems:
  shop: { bridge: mysql, connection: { host: 127.0.0.1, user: root, database: ${source} } }
  dwh: { bridge: postgres, connection: { url: "${targetUrl(synced)}" } }
pairs:
  - shop: { type: customers, cursor: updated_at }
    dwh: { type: customers }
    direction: shop->dwh
    fields: { id: id, email: email, first_name: first_name, last_name: last_name, city: city, zip: zip, balance: balance, active: active, updated_at: updated_at }
    match: [email]
`,
    )
    const cli = (...more: string[]) => [
      '--max-semi-space-size=16',
      join(root, 'bin/opensync.js'),
      ...more,
    ]
    await warmCompileCache({
      root,
      work,
      task: join(work, 'customers.task.yaml'),
      small: (text) =>
        text.replace(
          '{ type: customers, cursor: updated_at }',
          '{ type: customers, cursor: updated_at, filter: { sql: "id <= 10" } }',
        ),
    })
    const start = await measure(process.execPath, cli('--version'))
    console.log(`start      ${start.seconds.toFixed(2)} s (opensync --version)`)
    results.pgloader = `${pgl.seconds.toFixed(2)} s`
    results.start = `${start.seconds.toFixed(2)} s`

    const stores: [string, string][] = []
    if (storeArg !== 'pg') stores.push(['sqlite', join(work, 'store.db')])
    if (storeArg !== 'sqlite') {
      await admin.query(`CREATE SCHEMA IF NOT EXISTS osy_store_${suffix}`)
      stores.push(['pg', `${PG}?schema=osy_store_${suffix}`])
    }
    let round = 0
    for (const [name, store] of stores) {
      if (round++ > 0) {
        // Each store starts from an empty target and a source as the bulk load left it.
        await target.query('TRUNCATE customers')
        await my.query(
          `UPDATE customers SET updated_at = ${loadedStamp("'2026-01-01 00:00:00'")} WHERE 1`,
        )
      }
      const run = (label: string) =>
        measure(
          process.execPath,
          cli('run', join(work, 'customers.task.yaml'), '--json', '--store', store),
        ).then((r) => {
          const summary = JSON.parse(r.stdout) as {
            status: string
            totals: Record<string, number>
            startedAt: string
            endedAt: string
          }
          // The run inside the process, as its summary times it: without loading the code.
          const inRun = (Date.parse(summary.endedAt) - Date.parse(summary.startedAt)) / 1000
          console.log(
            `${label.padEnd(10)} ${r.seconds.toFixed(2)} s (the run itself ${inRun.toFixed(2)} s), ${r.rssMb.toFixed(0)} MB peak RSS (${name} store): ${summary.status}, ${JSON.stringify(summary.totals)}`,
          )
          return { ...r, inRun }
        })
      const floor = await storeFloor(name, store)
      console.log(
        `${'store alone'.padEnd(10)} ${floor.toFixed(2)} s (${N.toLocaleString('en')} links into a new ${name} store, nothing else) = ${(floor / pgl.seconds).toFixed(2)}× pgloader`,
      )
      const initial = await run('initial')
      const noop = await run('no-op')
      await my.query(
        "UPDATE customers SET city = CONCAT(city, '*'), updated_at = NOW(6) WHERE id % 100 = 0",
      )
      const one = await run('1%')
      const ratio = initial.seconds / pgl.seconds
      const mark = (ok: boolean) => (ok ? 'ok' : 'MISS')
      results[`initial (${name} store) / pgloader`] =
        `${ratio.toFixed(2)}× ${mark(ratio <= 1)} (target ≤ 1.0×); the store alone ${(floor / pgl.seconds).toFixed(2)}×`
      results[`no-op (${name} store)`] =
        `${noop.seconds.toFixed(2)} s = start + ${(noop.seconds - start.seconds).toFixed(2)} s ${mark(noop.seconds - start.seconds <= 0.3)} (target ≤ 0.3 s + start); the run itself ${noop.inRun.toFixed(2)} s ${mark(noop.inRun <= 0.3)}`
      results[`1% (${name} store)`] =
        `${one.seconds.toFixed(2)} s ${mark(one.seconds <= 1.5)} (target ≤ 1.5 s)`
      results[`peak RSS (${name} store)`] =
        `${Math.max(initial.rssMb, noop.rssMb, one.rssMb).toFixed(0)} MB ${mark(Math.max(initial.rssMb, noop.rssMb, one.rssMb) <= 250)} (target ≤ 250 MB)`
    }
    const rows = await target.query('SELECT count(*)::int AS n FROM customers')
    if (rows.rows[0].n !== N) throw new Error(`the target holds ${rows.rows[0].n} rows, not ${N}`)
    await target.end()
    console.log('\nsummary')
    for (const [k, v] of Object.entries(results)) console.log(`  ${k.padEnd(36)} ${v}`)
  } finally {
    if (!KEEP) {
      await my.query(`DROP DATABASE IF EXISTS ${source}`).catch(() => {})
      for (const db of [loaded, synced])
        await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch(() => {})
      await admin.query(`DROP SCHEMA IF EXISTS osy_store_${suffix} CASCADE`).catch(() => {})
      rmSync(work, { recursive: true, force: true })
    }
    await my.end()
    await admin.end()
  }
}

await main()

import { randomBytes } from 'node:crypto'
import {
  createReadStream,
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { chmod } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { csvParseAlone, storeAlone } from './support/floors.ts'
import { measureProcess } from './support/measure-process.ts'
import { warmCompileCache } from './support/warm-compile-cache.ts'

const args = process.argv.slice(2)
const N = Number(args.find((a) => !a.startsWith('--')) ?? 1_000_000)
if (!Number.isSafeInteger(N) || N < 100) throw new Error(`N must be an integer ≥ 100, not ${N}`)
const PROFILE = args.includes('--profile')
const KEEP = args.includes('--keep')
const BATCH = args.find((a) => a.startsWith('--batch-size='))?.slice('--batch-size='.length)

const PG = process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const root = fileURLToPath(new URL('..', import.meta.url))
const suffix = randomBytes(4).toString('hex')
const database = `osy_csvload_${suffix}`
const work = mkdtempSync(join(tmpdir(), 'osy-csv-load-'))
const folder = join(work, 'files')
const csvFile = join(folder, 'customers.csv')

const TABLE = (name: string) => `CREATE TABLE ${name} (
  id integer PRIMARY KEY, email varchar(80) NOT NULL UNIQUE,
  first_name varchar(40), last_name varchar(40), city varchar(40), zip varchar(10),
  balance numeric(12,2), active boolean, updated_at timestamp(6) NOT NULL)`

/** Writes a customers file of n rows, every fifth city quoted (it holds the delimiter). */
async function writeFile(file: string, n: number): Promise<number> {
  const out = createWriteStream(file)
  out.write('id,email,first_name,last_name,city,zip,balance,active,updated_at\n')
  const cities = ['Berlin', 'Karlsruhe', 'Köln', 'München', '"Frankfurt, Main"']
  let chunk = ''
  for (let i = 1; i <= n; i++) {
    chunk += `${i},c${i}@example.com,First${i % 1000},Last${i},${cities[i % 5]},${String(i % 99999).padStart(5, '0')},${((i % 100000) / 100).toFixed(2)},${i % 2 === 0},2026-01-01 00:00:${String(i % 60).padStart(2, '0')}.${String(i % 1_000_000).padStart(6, '0')}\n`
    if (chunk.length > 1 << 16) {
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()))
      chunk = ''
    }
  }
  await new Promise<void>((resolve, reject) =>
    out.end(chunk, () => resolve()).once('error', reject),
  )
  return statSync(file).size
}

/** A child process's wall time and peak RSS, in the bench's folder. */
const measure = (command: string, argv: readonly string[]) =>
  measureProcess(command, argv, { cwd: work })

/** COPY from the file as the server reads it, or through the client when it cannot. */
async function copy(client: pg.Client): Promise<{ seconds: number; how: string }> {
  const started = performance.now()
  try {
    await client.query(`COPY copied FROM '${csvFile}' (FORMAT csv, HEADER true)`)
    return { seconds: (performance.now() - started) / 1000, how: 'FROM file (server-side)' }
  } catch (error) {
    console.log(`server-side COPY failed (${(error as Error).message}): copying FROM STDIN`)
  }
  await client.query('TRUNCATE copied')
  const again = performance.now()
  await pipeline(
    createReadStream(csvFile),
    client.query(copyFrom('COPY copied FROM STDIN (FORMAT csv, HEADER true)')),
  )
  return { seconds: (performance.now() - again) / 1000, how: 'FROM STDIN (pg-copy-streams)' }
}

async function main(): Promise<void> {
  console.log(
    `N = ${N.toLocaleString('en')} rows, CSV file → PostgreSQL; load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  )
  mkdirSync(folder)
  const written = performance.now()
  const bytes = await writeFile(csvFile, N)
  // The server's own process reads the file for COPY … FROM '<file>'.
  await chmod(work, 0o755)
  await chmod(folder, 0o755)
  console.log(
    `file written: ${(bytes / 1e6).toFixed(0)} MB in ${((performance.now() - written) / 1000).toFixed(1)} s`,
  )
  const admin = new pg.Client({ connectionString: PG })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${database}`)
  const url = PG.replace(/\/[^/]*$/, `/${database}`)
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query(`${TABLE('copied')}; ${TABLE('customers')}`)
    const copied = await copy(client)
    const [{ n }] = (await client.query('SELECT count(*)::int AS n FROM copied')).rows
    console.log(`COPY       ${copied.seconds.toFixed(2)} s ${copied.how}, ${n} rows`)
    // The floors: what the parser alone and the store alone take for the same rows, each in
    // a process of its own; no engine work can take them away (docs/benchmarks.md).
    const parsed = await csvParseAlone(csvFile)
    console.log(
      `csv-parse  ${parsed.toFixed(2)} s alone (the file parsed, nothing done with the rows) = ${(parsed / copied.seconds).toFixed(2)}× COPY`,
    )
    const stored = await storeAlone(join(work, 'floor.db'), N)
    console.log(
      `store      ${stored.toFixed(2)} s alone (${N.toLocaleString('en')} links into a new SQLite store, nothing else) = ${(stored / copied.seconds).toFixed(2)}× COPY`,
    )

    writeFileSync(
      join(work, 'customers.task.yaml'),
      `subject: Customers file → PostgreSQL
systems:
  files:
    bridge: csv
    connection: { folder: "${folder}" }
    settings:
      recordTypes:
        customers:
          key: [id]
          fields: { id: integer, balance: decimal, active: boolean, updated_at: timestamp }
  db: { bridge: postgres, connection: { url: "${url}" } }
pairs:
  - files: { type: customers }
    db: { type: customers }
    direction: files->db
    fields: { id: id, email: email, first_name: first_name, last_name: last_name, city: city, zip: zip, balance: balance, active: active, updated_at: updated_at }
`,
    )
    // The warm-up's task reads a ten-row file of the same shape.
    const warmFolder = join(work, 'warm')
    mkdirSync(warmFolder)
    await writeFile(join(warmFolder, 'customers.csv'), 10)
    await warmCompileCache({
      root,
      work,
      task: join(work, 'customers.task.yaml'),
      small: (text) => text.replace(JSON.stringify(folder), JSON.stringify(warmFolder)),
    })
    const profileDir = join(work, 'profile')
    const run = (label: string, profile: boolean) =>
      measure(process.execPath, [
        '--max-semi-space-size=16',
        ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
        join(root, 'bin/opensync.js'),
        'run',
        join(work, 'customers.task.yaml'),
        '--json',
        '--store',
        join(work, 'store.db'),
        ...(BATCH ? ['--batch-size', BATCH] : []),
      ]).then((r) => {
        const summary = JSON.parse(r.stdout) as { status: string; totals: Record<string, number> }
        console.log(
          `${label.padEnd(10)} ${r.seconds.toFixed(2)} s, ${r.rssMb.toFixed(0)} MB peak RSS: ${summary.status}, ${JSON.stringify(summary.totals)}`,
        )
        return r
      })
    const initial = await run('initial', PROFILE)
    const again = await run('again', false)
    const [{ m }] = (await client.query('SELECT count(*)::int AS m FROM customers')).rows
    const same = (
      await client.query(
        'SELECT count(*)::int AS d FROM (SELECT * FROM copied EXCEPT SELECT * FROM customers) x',
      )
    ).rows[0].d as number
    const ratio = initial.seconds / copied.seconds
    const mark = (ok: boolean) => (ok ? 'ok' : 'MISS')
    console.log('\nsummary')
    console.log(`  rows in the target        ${m} (rows differing from COPY's: ${same})`)
    console.log(
      `  initial / COPY            ${ratio.toFixed(2)}× ${mark(ratio <= 2)} (target ≤ 2×); csv-parse alone ${(parsed / copied.seconds).toFixed(2)}×, the store alone ${(stored / copied.seconds).toFixed(2)}×, together ${((parsed + stored) / copied.seconds).toFixed(2)}×`,
    )
    console.log(
      `  peak RSS, initial         ${initial.rssMb.toFixed(0)} MB ${mark(initial.rssMb < 250)} (target < 250 MB)`,
    )
    console.log(
      `  second run (file re-read) ${again.seconds.toFixed(2)} s, ${again.rssMb.toFixed(0)} MB`,
    )
    if (PROFILE) {
      const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'))!
      console.log(`\nCPU profile of the initial run: ${join(profileDir, file)}`)
      const summary = await measure(process.execPath, [
        join(root, 'bench/cpuprofile-summary.ts'),
        join(profileDir, file),
        '30',
      ])
      console.log(summary.stdout)
    }
  } finally {
    await client.end()
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
    await admin.end()
    if (!KEEP) rmSync(work, { recursive: true, force: true })
    else console.log(`kept ${work}`)
  }
}

await main()

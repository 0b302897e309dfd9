/**
 * The sync engine on N customer rows, PostgreSQL → MariaDB, next to the raw driver limit on
 * the same machine (see docs/benchmarks.md).
 *
 *   node bench/sync-1m.ts [N=1000000] [--batch=<engine batch size>] [--profile[=dir]]
 *                         [--plain] [--keep] [--store=pg|sqlite] [--rounds=K]
 *
 * Generates N rows server-side in a fresh PostgreSQL schema, an empty table in a fresh MariaDB
 * database and a task crm->erp (cursor on both sides, match on email, deletes ignored) whose
 * metadata store is a fresh schema on the same PostgreSQL (or, with --store=sqlite, a fresh SQLite
 * file in the temp folder: the service's embedded default). Then measures, each with wall time,
 * CPU seconds of node / postgres / mariadbd, and peak RSS and heap (sampled every 50 ms):
 *
 *   raw     keyset SELECT of pages of 10,000 (pg) + multi-row INSERT of 5,000 (mysql2), no engine
 *   initial the first full sync (runTask)
 *   no-op   a run right after it
 *   1%      a run after UPDATE … WHERE id % 100 = 0 on the source, once the servers are idle
 *   no-op'  a run right after that one (the lag window re-reads the rows just updated)
 *   1% #k   with --rounds=K, K-1 more 1% runs on other rows (id % 100 = k-1), last: 1% runs wait on
 *           MariaDB's disk and vary from run to run, so one figure says little
 *   raw'    the raw copy once more; the faster of raw and raw' is the limit the ratio uses
 *   raw 1%  the same 1% with the drivers alone (keyset read, INSERT … ON DUPLICATE KEY UPDATE)
 *
 * The raw copy runs in a child process, so the engine's peak RSS is its own.
 *
 * Each engine phase is also broken down by where its time went: awaits on the source's stream,
 * on the target's lookups and writes, on each store call; the rest is the engine's own work.
 * Short phases (the 1% runs) also get a timeline of those awaits, 50 ms a column, which shows
 * what overlapped what. `--plain` leaves the wrappers that measure this out. `--profile`
 * writes a V8 CPU profile of each engine phase (the format of `node --cpu-prof`; summarise
 * with `node bench/cpuprofile-summary.ts <file>`). `--keep` leaves the schemas and database
 * behind.
 *
 * Always exits 0 when the runs succeed: targets missed are marked MISS, not failed.
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { cpus, loadavg, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import mysql from 'mysql2/promise'
import pg from 'pg'
import { createRegistry } from '../src/bridges/index.ts'
import { type RunResult, runTask } from '../src/engine/run-task.ts'
import { parseTaskFile } from '../src/engine/task/index.ts'
import {
  type Bridge,
  type BridgeConnection,
  BridgeRegistry,
  type ReadOptions,
} from '../src/sdk/index.ts'
import { openStore, type Store, type StoreRepos } from '../src/store/index.ts'

// ---------------------------------------------------------------- options

const args = process.argv.slice(2)
const flag = (name: string): string | true | undefined => {
  const hit = args.find((a) => a === `--${name}` || a.startsWith(`--${name}=`))
  if (hit === undefined) return undefined
  return hit.includes('=') ? hit.slice(hit.indexOf('=') + 1) : true
}
const N = Number(args.find((a) => !a.startsWith('--')) ?? 1_000_000)
if (!Number.isSafeInteger(N) || N < 100) throw new Error(`N must be an integer ≥ 100, not ${N}`)
const batchFlag = flag('batch')
const BATCH = typeof batchFlag === 'string' ? Number(batchFlag) : undefined
const profileFlag = flag('profile')
const PROFILE_DIR =
  profileFlag === undefined
    ? undefined
    : profileFlag === true
      ? join(tmpdir(), `sync-1m-profiles-${N}`)
      : profileFlag
const PLAIN = flag('plain') === true
/** Samples allocations (collected ones too) during the engine phases and prints the top sites. */
const ALLOC = flag('alloc') === true
const storeFlag = flag('store')
if (storeFlag !== undefined && storeFlag !== 'pg' && storeFlag !== 'sqlite')
  throw new Error(`--store must be pg or sqlite, not ${String(storeFlag)}`)
const STORE_KIND: 'pg' | 'sqlite' = storeFlag ?? 'pg'
const KEEP = flag('keep') === true
const roundsFlag = flag('rounds')
/** How many 1% runs, each on another hundredth of the rows (the target counts the first). */
const ROUNDS = typeof roundsFlag === 'string' ? Number(roundsFlag) : 1
if (!Number.isSafeInteger(ROUNDS) || ROUNDS < 1 || ROUNDS > 99)
  throw new Error(`--rounds must be an integer from 1 to 99, not ${String(roundsFlag)}`)

const PG_URL = process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const MYSQL = {
  host: process.env.MYSQL_HOST ?? '127.0.0.1',
  port: Number(process.env.MYSQL_PORT ?? 3306),
  user: 'root',
  password: '',
}

/** Raw baseline: rows per SELECT page and per INSERT statement. */
const RAW_PAGE = 10_000
const RAW_INSERT = 5_000

const TARGETS = { initialRatio: 2, noopSeconds: 1, onePercentSeconds: 3, rssMb: 300 }

// ---------------------------------------------------------------- gc and memory

setFlagsFromString('--expose-gc')
// As bin/opensync.js does, so the engine phases run with the CLI's heap settings.
setFlagsFromString('--heap-growing-percent=100')
const gc = runInNewContext('gc') as () => void

/** Peak RSS, heap and off-heap (Buffers) since the last reset, sampled every 50 ms. */
const memory = {
  rss: 0,
  heap: 0,
  external: 0,
  sample() {
    const m = process.memoryUsage()
    if (m.rss > this.rss) this.rss = m.rss
    if (m.heapUsed > this.heap) this.heap = m.heapUsed
    if (m.external > this.external) this.external = m.external
  },
  reset() {
    this.rss = 0
    this.heap = 0
    this.external = 0
    this.sample()
  },
}
setInterval(() => memory.sample(), 50).unref()

// ---------------------------------------------------------------- CPU of the servers

const MB = 1024 * 1024
const CLK_TCK = 100

/**
 * CPU seconds used so far by every process of a server (`comm` as in /proc/<pid>/stat),
 * including children that exited: the root process has reaped them, so their time shows in
 * its children's times (PostgreSQL runs a process per connection; MariaDB only threads).
 */
function serverCpu(comm: string): number {
  const procs = new Map<string, { ppid: string; own: number; children: number }>()
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue
    let stat: string
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    } catch {
      continue
    }
    const close = stat.lastIndexOf(')')
    if (stat.slice(stat.indexOf('(') + 1, close) !== comm) continue
    // After the command: state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14).
    const f = stat.slice(close + 2).split(' ')
    procs.set(pid, {
      ppid: f[1]!,
      own: Number(f[11]) + Number(f[12]),
      children: Number(f[13]) + Number(f[14]),
    })
  }
  let ticks = 0
  for (const p of procs.values()) ticks += p.own + (procs.has(p.ppid) ? 0 : p.children)
  return ticks / CLK_TCK
}

/** Main-thread GC pauses so far, in seconds (V8's own report). */
let gcPauses = 0
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcPauses += entry.duration / 1000
}).observe({ entryTypes: ['gc'] })

/** The machine's CPU time stolen by the hypervisor so far, and all CPU time, in ticks. */
function ticksNow(): { steal: number; all: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1)
  const ticks = fields.map(Number)
  return { steal: ticks[7] ?? 0, all: ticks.reduce((a, b) => a + b, 0) }
}

/**
 * Pages InnoDB has read from disk so far: buffer pool misses, which with MariaDB's default
 * O_DIRECT bypass the OS cache too. Updates of scattered rows (the 1% phases) wait on them.
 */
async function innodbDiskReads(): Promise<number> {
  return (await innodbStatus('Innodb_buffer_pool_reads')).Innodb_buffer_pool_reads ?? 0
}

/** MariaDB's global status counters of these names. */
async function innodbStatus(...names: string[]): Promise<Record<string, number>> {
  const [rows] = await my.query('SHOW GLOBAL STATUS WHERE Variable_name IN (?)', [names])
  const status = rows as { Variable_name: string; Value: string }[]
  return Object.fromEntries(status.map((r) => [r.Variable_name, Number(r.Value)]))
}

function cpuNow(): { node: number; postgres: number; mariadb: number } {
  const u = process.cpuUsage()
  return {
    node: (u.user + u.system) / 1e6,
    postgres: serverCpu('postgres'),
    mariadb: serverCpu('mariadbd'),
  }
}

// ---------------------------------------------------------------- time breakdown

/** Time awaited per label in the current phase. */
const breakdown = new Map<string, { ms: number; calls: number }>()

/** Each awaited call of the current phase: label, start and end (ms, performance.now()). */
let spans: { label: string; start: number; end: number }[] = []

function note(label: string, ms: number): void {
  const entry = breakdown.get(label) ?? { ms: 0, calls: 0 }
  entry.ms += ms
  entry.calls++
  breakdown.set(label, entry)
  const end = performance.now()
  spans.push({ label, start: end - ms, end })
}

/**
 * A phase's awaited calls over time, one line per kind of call, one column per `step` ms:
 * what overlapped what, and where nothing was awaited (the engine's own work, or a gap).
 */
function printTimeline(
  name: string,
  list: readonly { label: string; start: number; end: number }[],
  from: number,
  to: number,
): void {
  const step = Math.max(25, Math.ceil((to - from) / 100 / 25) * 25)
  const columns = Math.ceil((to - from) / step)
  const labels = [...new Set(list.map((x) => x.label))].filter((l) => !l.startsWith('sql: '))
  console.log(
    `\ntimeline of "${name}" (one column = ${step} ms; █ awaited the whole column, ▄ part of it):`,
  )
  for (const label of labels) {
    const cover = new Array<number>(columns).fill(0)
    for (const x of list) {
      if (x.label !== label) continue
      for (let c = Math.floor((x.start - from) / step); c < columns; c++) {
        const lo = from + c * step
        const hi = lo + step
        if (x.end <= lo) break
        cover[c]! += Math.min(hi, x.end) - Math.max(lo, x.start)
      }
    }
    const line = cover.map((ms) => (ms >= step * 0.9 ? '█' : ms > 0 ? '▄' : '·')).join('')
    console.log(`  ${label.padEnd(30).slice(0, 30)} ${line}`)
  }
}

async function* timedIterable<T>(source: AsyncIterable<T>, label: string): AsyncIterable<T> {
  const it = source[Symbol.asyncIterator]()
  let done = false
  try {
    while (true) {
      const start = performance.now()
      const step = await it.next()
      note(label, performance.now() - start)
      if (step.done) {
        done = true
        return
      }
      yield step.value
    }
  } finally {
    if (!done) await it.return?.()
  }
}

function timed<R>(label: string, fn: () => R): R {
  const start = performance.now()
  const out = fn()
  if (out instanceof Promise) {
    return out.finally(() => note(label, performance.now() - start)) as R
  }
  if (out !== null && typeof out === 'object' && Symbol.asyncIterator in out) {
    return timedIterable(out as AsyncIterable<unknown>, label) as R
  }
  note(label, performance.now() - start)
  return out
}

/** A store statement without its parameters and value lists, to group by. */
function statementShape(sql: string): string {
  return sql
    .replace(/"[a-z_0-9]+"\./g, '')
    .replace(/\(\$\d+(, \$\d+)*\)(, \(\$\d+(, \$\d+)*\))*/g, '(…)')
    .replace(/\$\d+/g, '?')
    .replace(/\s+/g, ' ')
    .slice(0, 90)
}

/** What kind of read the engine made: its change stream, or a lookup by key or match values. */
function readKind(options: ReadOptions | undefined): string {
  if (options?.cursor) return 'stream'
  const filter = options?.filter
  if (filter && 'expr' in filter) return filter.expr.kind === 'in' ? 'by key' : 'by match'
  return filter ? 'filtered' : 'full'
}

/** A connection whose every call is timed under `system.…`. */
function timedConnection(conn: BridgeConnection, system: string): BridgeConnection {
  const wrapped: BridgeConnection = {
    check: () => timed(`${system} check/discover`, () => conn.check()),
    discover: () => timed(`${system} check/discover`, () => conn.discover()),
    read: (type, options) =>
      timed(`${system} read (${readKind(options)})`, () => conn.read(type, options)),
    write: (type, ops, options) =>
      timed(`${system} write (${ops[0]?.op ?? 'none'})`, () => conn.write(type, ops, options)),
    close: () => timed(`${system} close`, () => conn.close()),
  }
  if (conn.readKeys) {
    const readKeys = conn.readKeys.bind(conn)
    wrapped.readKeys = (type, options) => timed(`${system} readKeys`, () => readKeys(type, options))
  }
  return wrapped
}

function timedRegistry(registry: BridgeRegistry, names: Record<string, string>): BridgeRegistry {
  const out = new BridgeRegistry()
  for (const name of Object.keys(names)) {
    const bridge = registry.get(name)
    const wrapped: Bridge = {
      ...bridge,
      connect: async (values, ctx) =>
        timedConnection(
          await timed(`${names[name]} connect`, () => bridge.connect(values, ctx)),
          names[name]!,
        ),
    }
    out.register(wrapped)
  }
  return out
}

const REPOS = [
  'links',
  'checkpoints',
  'executions',
  'changes',
  'recordErrors',
  'conflicts',
  'intents',
  'tasks',
  'taskDefs',
] as const satisfies readonly (keyof StoreRepos)[]

function timedRepos(repos: StoreRepos, prefix: string): StoreRepos {
  const out: Record<string, unknown> = {}
  for (const name of REPOS) {
    const methods: Record<string, unknown> = {}
    for (const [method, fn] of Object.entries(repos[name])) {
      methods[method] =
        typeof fn === 'function'
          ? (...a: unknown[]) =>
              timed(`${prefix}${name}.${method}`, () => (fn as (...x: unknown[]) => unknown)(...a))
          : fn
    }
    out[name] = methods
  }
  return out as unknown as StoreRepos
}

/** The store with every call timed; calls inside a transaction are timed as `store tx …`. */
function timedStore(store: Store): Store {
  return {
    ...timedRepos(store, 'store '),
    dialect: store.dialect,
    transaction: (fn) =>
      timed('store transaction (total)', () =>
        store.transaction((tx) => fn(timedRepos(tx, '  in tx: '))),
      ),
    pendingMigrations: () => store.pendingMigrations(),
    close: () => store.close(),
  }
}

// ---------------------------------------------------------------- phases

interface Phase {
  readonly name: string
  readonly wall: number
  readonly rssMb: number
  readonly heapMb: number
  /** Peak memory outside the JS heap that V8 knows of (Buffers of the drivers' sockets). */
  readonly externalMb: number
  readonly rssBeforeMb: number
  readonly cpu: { node: number; postgres: number; mariadb: number }
  /** Seconds the engine's main thread paused for GC. */
  readonly gc: number
  /** Share of the machine's CPU time the hypervisor took (steal), in percent. */
  readonly steal: number
  /** Pages MariaDB read from disk (buffer pool misses). */
  readonly diskReads: number
  readonly breakdown: Map<string, { ms: number; calls: number }>
  readonly spans: readonly { label: string; start: number; end: number }[]
  readonly span: { readonly start: number; readonly end: number }
  /** Milliseconds of each batch of the change stream, in order. */
  readonly batches: readonly number[]
  /** Heap still used after the run and a full GC. */
  readonly retainedMb: number
  /** The machine's 1-minute load average at the end: above ~2 (cores) means others competed. */
  readonly load: number
  readonly result?: RunResult
}

/** Ends of batches of the running phase (the engine reports progress once a batch). */
let batchEnds: number[] = []

const phases: Phase[] = []
let profiler: Session | undefined

async function phase(
  name: string,
  fn: () => Promise<RunResult | ChildReport | undefined>,
  profile = false,
): Promise<Phase> {
  gc()
  await new Promise((r) => setTimeout(r, 100))
  breakdown.clear()
  spans = []
  batchEnds = []
  const rssBefore = process.memoryUsage().rss
  memory.reset()
  if (profile && PROFILE_DIR) {
    profiler ??= new Session()
    profiler.connect()
    await profiler.post('Profiler.enable')
    await profiler.post('Profiler.start')
  }
  let sampler: Session | undefined
  if (profile && ALLOC) {
    sampler = new Session()
    sampler.connect()
    await sampler.post('HeapProfiler.enable')
    await sampler.post('HeapProfiler.startSampling', {
      samplingInterval: 16384,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    })
  }
  const reads0 = await innodbDiskReads()
  const cpu0 = cpuNow()
  const gc0 = gcPauses
  const ticks0 = ticksNow()
  const start = performance.now()
  const outcome = await fn()
  if (sampler) {
    const { profile: heap } = await sampler.post('HeapProfiler.stopSampling')
    sampler.disconnect()
    printAllocations(name, heap.head as AllocationNode)
  }
  const wall = (performance.now() - start) / 1000
  const cpu1 = cpuNow()
  const gcSeconds = gcPauses - gc0
  const ticks1 = ticksNow()
  const reads1 = await innodbDiskReads()
  memory.sample()
  const child = outcome && 'nodeCpu' in outcome ? outcome : undefined
  const result = child ? undefined : (outcome as RunResult | undefined)
  if (profile && PROFILE_DIR && profiler) {
    const { profile: data } = await profiler.post('Profiler.stop')
    mkdirSync(PROFILE_DIR, { recursive: true })
    const file = join(PROFILE_DIR, `${N}-${name.replace(/[^a-z0-9]+/gi, '_')}.cpuprofile`)
    writeFileSync(file, JSON.stringify(data))
    await profiler.post('Profiler.disable')
    profiler.disconnect()
    profiler = undefined
    console.log(`  profile: ${file}`)
  }
  const batches = batchEnds.map((t, i) => t - (i === 0 ? start : batchEnds[i - 1]!))
  gc()
  const p: Phase = {
    name,
    wall: child?.wall ?? wall,
    rssMb: child?.rssMb ?? memory.rss / MB,
    heapMb: child?.heapMb ?? memory.heap / MB,
    externalMb: child ? 0 : memory.external / MB,
    rssBeforeMb: child ? 0 : rssBefore / MB,
    batches,
    retainedMb: child ? 0 : process.memoryUsage().heapUsed / MB,
    load: loadavg()[0]!,
    cpu: {
      node: child?.nodeCpu ?? cpu1.node - cpu0.node,
      postgres: cpu1.postgres - cpu0.postgres,
      mariadb: cpu1.mariadb - cpu0.mariadb,
    },
    gc: child ? 0 : gcSeconds,
    steal: (100 * (ticks1.steal - ticks0.steal)) / Math.max(1, ticks1.all - ticks0.all),
    diskReads: reads1 - reads0,
    breakdown: new Map(breakdown),
    spans,
    span: { start, end: start + wall * 1000 },
    ...(result ? { result } : {}),
  }
  phases.push(p)
  const t = result?.totals
  console.log(
    `  ${name}: ${p.wall.toFixed(2)} s, peak RSS ${p.rssMb.toFixed(0)} MB` +
      (t
        ? ` (${result!.status}; read ${t.read}, created ${t.created}, updated ${t.updated}, unchanged ${t.unchanged}, errors ${t.errors})`
        : ''),
  )
  if (result && result.status !== 'succeeded') {
    throw new Error(`${name} ${result.status}: ${JSON.stringify(result.error)}`)
  }
  return p
}

// ---------------------------------------------------------------- allocations

interface AllocationNode {
  callFrame: { functionName: string; url: string; lineNumber: number }
  selfSize: number
  children: AllocationNode[]
}

/** The functions that allocated most during a phase (sampled), by bytes allocated. */
function printAllocations(phase: string, head: AllocationNode): void {
  const bySite = new Map<string, number>()
  let total = 0
  const walk = (node: AllocationNode) => {
    const { functionName, url, lineNumber } = node.callFrame
    const site = `${functionName || '(anonymous)'}  ${url.replace(/^.*\/(src|node_modules)\//, '$1/')}:${lineNumber + 1}`
    bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize)
    total += node.selfSize
    for (const child of node.children) walk(child)
  }
  walk(head)
  console.log(`\nallocated during "${phase}" (sampled): ${(total / MB).toFixed(0)} MB`)
  for (const [site, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, 30))
    console.log(`  ${(bytes / MB).toFixed(1).padStart(8)} MB  ${site}`)
}

// ---------------------------------------------------------------- data

const suffix = randomBytes(4).toString('hex')
const PG_SCHEMA = `bench_crm_${suffix}`
const STORE_SCHEMA = `bench_store_${suffix}`
const MY_DB = `bench_erp_${suffix}`

/** Source columns, in order, and the MariaDB column each maps to. */
const MAPPING: readonly (readonly [string, string])[] = [
  ['customer_no', 'kunden_nr'],
  ['company_name', 'firma'],
  ['contact_name', 'ansprechpartner'],
  ['email', 'email'],
  ['street', 'strasse'],
  ['zip', 'plz'],
  ['city', 'ort'],
  ['country', 'land'],
  ['phone', 'telefon'],
  ['credit_limit', 'kreditlimit'],
  ['active', 'aktiv'],
]

const PG_DDL = `
CREATE TABLE customers (
  id integer NOT NULL,
  customer_no varchar(20) NOT NULL,
  company_name varchar(120) NOT NULL,
  contact_name varchar(80),
  email varchar(120) NOT NULL,
  street varchar(120),
  zip varchar(10),
  city varchar(60),
  country char(2),
  phone varchar(30),
  credit_limit numeric(12,2),
  active boolean NOT NULL DEFAULT true,
  updated_at timestamptz(6) NOT NULL DEFAULT clock_timestamp()
)`

/** Rows generated by the server; updated_at one second apart, so the lag window holds a few. */
const PG_FILL = `
INSERT INTO customers
SELECT i,
  'K' || lpad(i::text, 8, '0'),
  (ARRAY['Müller','Schmidt','Schneider','Fischer','Weber','Meyer','Wagner','Becker'])[1 + i % 8]
    || ' ' || (ARRAY['GmbH','AG','KG','GmbH & Co. KG','e.K.'])[1 + i % 5] || ' ' || i,
  (ARRAY['Anna','Ben','Clara','David','Eva','Felix','Greta','Hans'])[1 + (i / 8) % 8] || ' '
    || (ARRAY['Kraus','Lang','Vogel','Roth','Frank','Berg'])[1 + (i / 64) % 6],
  'kunde' || i || '@example.com',
  (ARRAY['Hauptstraße','Bahnhofstraße','Gartenweg','Schulstraße'])[1 + i % 4] || ' ' || (1 + i % 200),
  lpad(((i::bigint * 7919) % 99999)::text, 5, '0'),
  (ARRAY['Berlin','Hamburg','München','Köln','Frankfurt am Main','Karlsruhe'])[1 + i % 6],
  (ARRAY['DE','AT','CH'])[1 + i % 3],
  '+49 ' || (100 + i % 900) || ' ' || lpad(i::text, 7, '0'),
  round(((i * 37) % 100000) * 10.25, 2),
  i % 10 <> 0,
  timestamptz '2025-01-01 00:00:00+00' + i * interval '1 second'
FROM generate_series(1, $1::integer) AS i`

const PG_INDEXES = `
ALTER TABLE customers ADD PRIMARY KEY (id);
ALTER TABLE customers ADD CONSTRAINT customers_email_key UNIQUE (email);
CREATE INDEX customers_updated_at_id ON customers (updated_at, id);
CREATE FUNCTION touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN NEW.updated_at := clock_timestamp(); RETURN NEW; END $$;
CREATE TRIGGER customers_touch BEFORE UPDATE ON customers
  FOR EACH ROW EXECUTE FUNCTION touch_updated_at()`

const myDdl = (table: string) => `
CREATE TABLE ${table} (
  id INT AUTO_INCREMENT PRIMARY KEY,
  kunden_nr VARCHAR(20) NOT NULL,
  firma VARCHAR(120) NOT NULL,
  ansprechpartner VARCHAR(80),
  email VARCHAR(120) NOT NULL,
  strasse VARCHAR(120),
  plz VARCHAR(10),
  ort VARCHAR(60),
  land CHAR(2),
  telefon VARCHAR(30),
  kreditlimit DECIMAL(12,2),
  aktiv BOOLEAN NOT NULL DEFAULT TRUE,
  geaendert_am TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  UNIQUE KEY ${table}_email (email),
  KEY ${table}_geaendert (geaendert_am, id)
) ENGINE=InnoDB CHARACTER SET utf8mb4`

// ---------------------------------------------------------------- raw driver limit

/** What the raw copy's process measured of itself. */
interface ChildReport {
  readonly wall: number
  readonly rssMb: number
  readonly heapMb: number
  readonly nodeCpu: number
}

/** Copies the N rows with the drivers alone: keyset pages from pg, multi-row INSERTs by mysql2. */
async function rawCopy(schema: string, database: string): Promise<void> {
  const cols = MAPPING.map(([c]) => c)
  const src = new pg.Client({ connectionString: PG_URL })
  await src.connect()
  const dst = await mysql.createConnection({ ...MYSQL, database, charset: 'utf8mb4' })
  const insert = `INSERT INTO kunden_raw (${MAPPING.map(([, c]) => c).join(', ')}) VALUES ?`
  let last = 0
  let copied = 0
  for (;;) {
    const { rows } = await src.query<unknown[]>({
      text: `SELECT id, ${cols.join(', ')} FROM ${schema}.customers WHERE id > $1 ORDER BY id LIMIT ${RAW_PAGE}`,
      values: [last],
      rowMode: 'array',
    })
    if (rows.length === 0) break
    for (let i = 0; i < rows.length; i += RAW_INSERT) {
      await dst.query(insert, [rows.slice(i, i + RAW_INSERT).map((r) => r.slice(1))])
    }
    copied += rows.length
    last = rows[rows.length - 1]![0] as number
  }
  await src.end()
  await dst.end()
  if (copied !== N) throw new Error(`raw copied ${copied} of ${N}`)
}

const rawChild = flag('raw-child')
if (typeof rawChild === 'string') {
  const [schema, database] = rawChild.split(',') as [string, string]
  memory.reset()
  const cpu0 = process.cpuUsage()
  const start = performance.now()
  await rawCopy(schema, database)
  const wall = (performance.now() - start) / 1000
  memory.sample()
  const cpu = process.cpuUsage(cpu0)
  const report: ChildReport = {
    wall,
    rssMb: memory.rss / MB,
    heapMb: memory.heap / MB,
    nodeCpu: (cpu.user + cpu.system) / 1e6,
  }
  process.stdout.write(JSON.stringify(report))
  process.exit(0)
}

/**
 * Lets both servers finish the background work the phase before left them, at most a
 * minute: PostgreSQL's autovacuum, and InnoDB's dirty pages, which MariaDB (its
 * `innodb_max_dirty_pages_pct_lwm` is 0) does not flush while idle. A page read into a pool
 * full of dirty pages first writes one out, which made 1% runs vary between 2.9 and 4.7 s
 * by what ran before them. InnoDB is made to flush by lowering `innodb_max_dirty_pages_pct`
 * to 0 for the wait and restoring it after. No PostgreSQL CHECKPOINT: it would make the
 * engine's store (not the raw 1%, which writes MariaDB only) log a full page image of every
 * link row page it updates first.
 */
async function settle(): Promise<void> {
  const t = performance.now()
  const dirty = async () => {
    const v = await innodbStatus('Innodb_buffer_pool_pages_dirty', 'Innodb_buffer_pool_pages_total')
    return v.Innodb_buffer_pool_pages_dirty! / v.Innodb_buffer_pool_pages_total!
  }
  const vacuuming = async () =>
    (
      await admin.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'",
      )
    ).rows[0]!.n
  const [[{ pct }]] = (await my.query(
    'SELECT @@GLOBAL.innodb_max_dirty_pages_pct AS pct',
  )) as unknown as [[{ pct: string }]]
  await my.query('SET GLOBAL innodb_max_dirty_pages_pct = 0')
  try {
    for (;;) {
      const [share, workers] = [await dirty(), await vacuuming()]
      if ((share < 0.01 && workers === 0) || performance.now() - t > 60_000) {
        console.log(
          `  settled in ${((performance.now() - t) / 1000).toFixed(1)} s (InnoDB ${(share * 100).toFixed(1)}% dirty, ${workers} autovacuum worker(s))`,
        )
        return
      }
      await new Promise((r) => setTimeout(r, 250))
    }
  } finally {
    await my.query('SET GLOBAL innodb_max_dirty_pages_pct = ?', [Number(pct)])
  }
}

// ---------------------------------------------------------------- main

const git = (...a: string[]) =>
  spawnSync('git', a, { cwd: import.meta.dirname, encoding: 'utf8' }).stdout?.trim() ?? ''
const dirty = git('status', '--porcelain', '--', '../src').split('\n').filter(Boolean).length
console.log(
  `sync-1m: N=${N}, engine batch ${BATCH ?? 'default'}, ${cpus().length} CPUs, ${(totalmem() / 1024 ** 3).toFixed(1)} GiB, node ${process.version}, commit ${git('rev-parse', '--short', 'HEAD') || '?'}${dirty ? ` + ${dirty} changed file(s) in src/` : ''}`,
)
const admin = new pg.Client({ connectionString: PG_URL })
await admin.connect()
await admin.query('SET TIME ZONE UTC')
const my = await mysql.createConnection({ ...MYSQL, multipleStatements: true, charset: 'utf8mb4' })
{
  const [rows] = await my.query(
    "SHOW VARIABLES WHERE Variable_name IN ('innodb_buffer_pool_size', 'innodb_flush_method', 'version')",
  )
  const v = Object.fromEntries(
    (rows as { Variable_name: string; Value: string }[]).map((r) => [r.Variable_name, r.Value]),
  )
  const pgShared = (await admin.query<{ shared_buffers: string }>('SHOW shared_buffers')).rows[0]
    ?.shared_buffers
  console.log(
    `  MariaDB ${v.version}: buffer pool ${Number(v.innodb_buffer_pool_size) / MB} MB, ${v.innodb_flush_method}; PostgreSQL shared_buffers ${pgShared}`,
  )
}

let store: Store | undefined
try {
  // ------------------------------------------------------------ set-up
  let t = performance.now()
  await admin.query(`CREATE SCHEMA ${PG_SCHEMA}`)
  await admin.query(`SET search_path = ${PG_SCHEMA}`)
  await admin.query(PG_DDL)
  await admin.query(PG_FILL, [N])
  await admin.query(PG_INDEXES)
  await admin.query('VACUUM ANALYZE customers')
  await my.query(`CREATE DATABASE ${MY_DB} CHARACTER SET utf8mb4`)
  await my.query(`USE ${MY_DB}`)
  await my.query(myDdl('kunden'))
  console.log(`  set-up: ${N} rows generated in ${((performance.now() - t) / 1000).toFixed(1)} s`)

  // ------------------------------------------------------------ raw driver limit
  // In a process of its own, so its memory is not the engine's high-water mark (RSS never shrinks).
  // Run twice, before and after the engine's runs; the faster one is the limit, so a slow
  // moment of the machine (CPU steal on a shared host) cannot flatter the engine's ratio.
  const rawCopy = async (name: string) => {
    await my.query('DROP TABLE IF EXISTS kunden_raw')
    await my.query(myDdl('kunden_raw'))
    await phase(name, async () => {
      const child = spawnSync(
        process.execPath,
        [import.meta.filename, String(N), `--raw-child=${PG_SCHEMA},${MY_DB}`],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
      )
      if (child.status !== 0) throw new Error(`raw copy failed (exit ${child.status})`)
      return JSON.parse(child.stdout) as ChildReport
    })
    await my.query('DROP TABLE kunden_raw')
  }
  await rawCopy('raw')

  // ------------------------------------------------------------ engine
  const plainStore = await openStore({
    ...(STORE_KIND === 'pg'
      ? { url: PG_URL, schema: STORE_SCHEMA }
      : { url: `sqlite:${join(tmpdir(), `${STORE_SCHEMA}.db`)}` }),
    // Every store statement by its shape, with the time the client waited for it.
    ...(PLAIN
      ? {}
      : {
          log: (event: { query: { sql: string }; queryDurationMillis: number }) =>
            note(`sql: ${statementShape(event.query.sql)}`, event.queryDurationMillis),
        }),
  })
  store = plainStore
  const runStore = PLAIN ? plainStore : timedStore(plainStore)
  const builtins = await createRegistry()
  const registry = PLAIN ? builtins : timedRegistry(builtins, { postgres: 'crm', mysql: 'erp' })
  const task = parseTaskFile(
    JSON.stringify({
      id: `bench-sync-${suffix}`,
      subject: `Benchmark customers CRM → ERP (${N})`,
      systems: {
        crm: { bridge: 'postgres', connection: { url: PG_URL, schema: PG_SCHEMA } },
        erp: { bridge: 'mysql', connection: { ...MYSQL, database: MY_DB } },
      },
      pairs: [
        {
          crm: { type: 'customers', cursor: 'updated_at' },
          erp: { type: 'kunden', cursor: 'geaendert_am' },
          direction: 'crm->erp',
          fields: Object.fromEntries(MAPPING),
          match: ['email'],
          deletes: 'ignore',
        },
      ],
    }),
    { format: 'json', env: {} },
  )
  const run = () =>
    runTask(task, {
      store: runStore,
      registry,
      trigger: 'bench',
      ...(BATCH ? { batchSize: BATCH } : {}),
      onProgress: (progress) => {
        if (progress.phase === 'read') batchEnds.push(performance.now())
      },
    })

  const initial = await phase('initial', run, true)
  if (initial.result!.totals.created !== N) throw new Error('initial sync did not create N rows')
  const noop = await phase('no-op', run, true)
  t = performance.now()
  const { rowCount } = await admin.query(
    `UPDATE customers SET credit_limit = credit_limit + 1, phone = phone || '-1' WHERE id % 100 = 0`,
  )
  console.log(
    `  updated ${rowCount} source rows in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  )
  await settle()
  const onePercent = await phase('1%', run, true)
  await phase("no-op'", run, true)

  // ------------------------------------------------------------ check
  const [[mine]] = (await my.query(
    'SELECT COUNT(*) AS n, SUM(kreditlimit) AS s FROM kunden WHERE telefon LIKE "%-1"',
  )) as unknown as [[{ n: number; s: string }]]
  const { rows: theirs } = await admin.query<{ s: string }>(
    'SELECT SUM(credit_limit)::text AS s FROM customers WHERE id % 100 = 0',
  )
  const [[all]] = (await my.query('SELECT COUNT(*) AS n FROM kunden')) as unknown as [
    [{ n: number }],
  ]
  const consistent =
    Number(all.n) === N && Number(mine.n) === N / 100 && Number(mine.s) === Number(theirs[0]!.s)
  console.log(
    `  check: ${all.n} rows in MariaDB, ${mine.n} carry the update, sums ${consistent ? 'match' : `DIFFER (${mine.s} vs ${theirs[0]!.s})`}`,
  )

  await rawCopy("raw'")

  // ------------------------------------------------------------ raw 1%
  // The same 1% with the drivers alone, after the engine's runs (so it cannot pre-empt their
  // work): read the changed rows by keyset, upsert them by e-mail 5,000 a statement. A value
  // differs from what the engine wrote, so every row really changes.
  const since = new Date(Date.UTC(2025, 0, 1) + N * 1000).toISOString()
  await settle()
  const rawUpdated = await phase('raw 1%', async () => {
    const src = new pg.Client({ connectionString: PG_URL })
    await src.connect()
    const dst = await mysql.createConnection({ ...MYSQL, database: MY_DB, charset: 'utf8mb4' })
    const cols = MAPPING.map(([c]) => c)
    const phone = cols.indexOf('phone')
    const upsert =
      `INSERT INTO kunden (${MAPPING.map(([, c]) => c).join(', ')}) VALUES ? ON DUPLICATE KEY UPDATE ` +
      MAPPING.filter(([, c]) => c !== 'email')
        .map(([, c]) => `${c} = VALUES(${c})`)
        .join(', ')
    let after: [string, number] = [since, 0]
    let copied = 0
    for (;;) {
      const { rows } = await src.query<unknown[]>({
        text: `SELECT updated_at::text, id, ${cols.join(', ')} FROM ${PG_SCHEMA}.customers WHERE (updated_at, id) > ($1::timestamptz, $2) ORDER BY updated_at, id LIMIT ${RAW_PAGE}`,
        values: after,
        rowMode: 'array',
      })
      if (rows.length === 0) break
      const values = rows.map((r) => {
        const v = r.slice(2)
        v[phone] = `${String(v[phone])}+`
        return v
      })
      for (let i = 0; i < values.length; i += RAW_INSERT) {
        await dst.query(upsert, [values.slice(i, i + RAW_INSERT)])
      }
      copied += rows.length
      const last = rows[rows.length - 1]!
      after = [last[0] as string, last[1] as number]
    }
    await src.end()
    await dst.end()
    if (copied < N / 100) throw new Error(`raw 1% read ${copied} rows, not ${N / 100}`)
    return undefined
  })

  for (let round = 2; round <= ROUNDS; round++) {
    // Another hundredth each round, after the raw 1% (which reads every row changed since).
    await admin.query(
      `UPDATE customers SET credit_limit = credit_limit + 1, phone = phone || '-2' WHERE id % 100 = $1`,
      [round - 1],
    )
    await settle()
    await phase(`1% #${round}`, run, true)
    // As no-op' after the first: the lag window's one re-read, so the next round reads its own.
    await run()
  }

  // ------------------------------------------------------------ report
  report(initial, noop, onePercent, rawUpdated)
} finally {
  await store?.close()
  if (!KEEP) {
    await admin.query(`DROP SCHEMA IF EXISTS ${PG_SCHEMA} CASCADE`).catch(() => {})
    await admin.query(`DROP SCHEMA IF EXISTS ${STORE_SCHEMA} CASCADE`).catch(() => {})
    for (const ext of ['', '-wal', '-shm'])
      rmSync(join(tmpdir(), `${STORE_SCHEMA}.db${ext}`), { force: true })
    await my.query(`DROP DATABASE IF EXISTS ${MY_DB}`).catch(() => {})
  } else {
    console.log(`kept: pg schemas ${PG_SCHEMA}, ${STORE_SCHEMA}; MariaDB database ${MY_DB}`)
  }
  await admin.end()
  await my.end()
}

/** The copy of all N rows by the drivers alone, run before (raw) and after (raw') the engine. */
function isRawCopy(name: string): boolean {
  return name === 'raw' || name === "raw'"
}

function report(initial: Phase, noop: Phase, onePercent: Phase, raw1: Phase): void {
  const raws = phases.filter((p) => isRawCopy(p.name))
  const raw = raws.reduce((a, b) => (b.wall < a.wall ? b : a))
  const engine = phases.filter((p) => !p.name.startsWith('raw'))
  const versus: Record<string, string> = {
    [raw.name]: '1.00×',
    initial: `${(initial.wall / raw.wall).toFixed(2)}×`,
    'raw 1%': '1.00×',
    '1%': `${(onePercent.wall / raw1.wall).toFixed(2)}×`,
  }
  const peakRss = Math.max(...engine.map((p) => p.rssMb))
  const mark = (ok: boolean) => (ok ? 'PASS' : 'MISS')
  const ratio = initial.wall / raw.wall
  const targets: Record<string, string> = {
    initial: `≤ ${TARGETS.initialRatio}× raw: ${mark(ratio <= TARGETS.initialRatio)}`,
    'no-op': `< ${TARGETS.noopSeconds} s: ${mark(noop.wall < TARGETS.noopSeconds)}`,
    '1%': `< ${TARGETS.onePercentSeconds} s: ${mark(onePercent.wall < TARGETS.onePercentSeconds)}`,
  }
  const rows = phases.map((p) => {
    const t = p.result?.totals
    return {
      phase: p.name,
      'wall s': Number(p.wall.toFixed(2)),
      'rows/s': Math.round((t?.read ?? (isRawCopy(p.name) ? N : N / 100)) / p.wall),
      'vs raw': versus[p.name] ?? '',
      read: t?.read ?? (isRawCopy(p.name) ? N : N / 100),
      written: t ? t.created + t.updated : isRawCopy(p.name) ? N : N / 100,
      'CPU s node/pg/maria': `${p.cpu.node.toFixed(1)}/${p.cpu.postgres.toFixed(1)}/${p.cpu.mariadb.toFixed(1)}`,
      'GC s': p.name.startsWith('raw') ? '' : Number(p.gc.toFixed(2)),
      'steal %': Number(p.steal.toFixed(0)),
      'maria disk reads': p.diskReads,
      'RSS before MB': isRawCopy(p.name) ? '(own process)' : Math.round(p.rssBeforeMb),
      'peak RSS MB': Math.round(p.rssMb),
      'peak heap MB': Math.round(p.heapMb),
      'peak Buffers MB': isRawCopy(p.name) ? '' : Math.round(p.externalMb),
      'heap after MB': isRawCopy(p.name) ? '' : Math.round(p.retainedMb),
      load: Number(p.load.toFixed(1)),
      target: targets[p.name] ?? '',
    }
  })
  console.log(
    `\nN=${N} customers, PostgreSQL → MariaDB, engine batch ${BATCH ?? 'default (1000)'}; raw = keyset SELECT ${RAW_PAGE}/page + INSERT ${RAW_INSERT}/statement, run before (raw) and after (raw') the engine; the limit is the faster, ${raw.name}`,
  )
  console.table(rows)
  console.log(`initial sync / raw limit: ${ratio.toFixed(2)}× (target ≤ ${TARGETS.initialRatio}×)`)
  console.log(`1% run / raw 1%: ${(onePercent.wall / raw1.wall).toFixed(2)}× (for information)`)
  const rounds = phases.filter((p) => p.name === '1%' || p.name.startsWith('1% #'))
  if (rounds.length > 1) {
    const walls = rounds.map((p) => p.wall).sort((a, b) => a - b)
    console.log(
      `1% runs: ${rounds.map((p) => p.wall.toFixed(2)).join(', ')} s; median ${walls[Math.floor(walls.length / 2)]!.toFixed(2)} s`,
    )
  }
  console.log(
    `peak RSS over all engine runs: ${peakRss.toFixed(0)} MB (target < ${TARGETS.rssMb} MB): ${mark(peakRss < TARGETS.rssMb)}`,
  )
  if (PLAIN) return
  for (const p of engine) {
    console.log(`\nwhere the time of "${p.name}" went (${p.wall.toFixed(2)} s wall):`)
    let awaited = 0
    const lines = [...p.breakdown].sort((a, b) => b[1].ms - a[1].ms)
    for (const [label, { ms, calls }] of lines) {
      if (label.startsWith('sql: ')) continue
      if (!label.startsWith('  in tx')) awaited += ms
      if (ms < p.wall * 5) continue // below 0.5 % of the phase
      console.log(
        `  ${label.padEnd(36)} ${(ms / 1000).toFixed(2).padStart(8)} s ${((ms / 10 / p.wall) | 0).toString().padStart(3)} %  ${calls} calls`,
      )
    }
    const sql = lines.filter(([label, { ms }]) => label.startsWith('sql: ') && ms >= p.wall * 5)
    if (sql.length > 0) console.log('  store statements (included above):')
    for (const [label, { ms, calls }] of sql) {
      console.log(
        `    ${(ms / 1000).toFixed(2).padStart(6)} s ${((ms / 10 / p.wall) | 0).toString().padStart(3)} % ${String(calls).padStart(5)}×  ${label.slice(5)}`,
      )
    }
    if (p.batches.length >= 10) {
      const tenth = Math.max(1, Math.floor(p.batches.length / 10))
      const avg = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
      const tenths = Array.from({ length: 10 }, (_, i) =>
        avg(p.batches.slice(i * tenth, i === 9 ? undefined : (i + 1) * tenth)).toFixed(1),
      )
      console.log(`  ${p.batches.length} batches, ms each by tenth of the run: ${tenths.join(' ')}`)
    }
    const own = p.wall - awaited / 1000
    console.log(
      `  ${'engine own work (not awaited)'.padEnd(36)} ${own.toFixed(2).padStart(8)} s ${((own * 100) / p.wall) | 0} %`,
    )
    if (p.wall < 20 && p.batches.length > 1)
      printTimeline(p.name, p.spans, p.span.start, p.span.end)
  }
}

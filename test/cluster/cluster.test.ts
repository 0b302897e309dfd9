/**
 * Cluster mode: real `opensync worker` processes sharing one PostgreSQL store through pg-boss.
 * Systems are SQLite files (fast); the store and pg-boss each get a fresh schema.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import Database from 'better-sqlite3'
import pg from 'pg'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { createRegistry } from '../../src/bridges/index.ts'
import { sumCounts } from '../../src/engine/protocol.ts'
import { openSecretBox } from '../../src/service/secrets.ts'
import { TaskManager } from '../../src/service/task-manager.ts'
import { type ExecutionRow, openStore, type Store } from '../../src/store/index.ts'
import { PG_URL } from '../support/postgres-harness.ts'

const ROOT = resolve(import.meta.dirname, '../..')
const KEY = randomBytes(32).toString('hex')
const BOSS_SCHEMA = `osy_boss_${randomBytes(4).toString('hex')}`
const schemas: string[] = [BOSS_SCHEMA]

interface Worker {
  readonly child: ChildProcess
  readonly pid: number
  out: string
  readonly exited: Promise<number | null>
}

const workers: Worker[] = []

/** Starts `opensync worker` on the store's schema; its pino log lines collect in `out`. */
function startWorker(url: string, env: Record<string, string> = {}): Worker {
  const child = spawn(process.execPath, ['bin/opensync.js', 'worker'], {
    cwd: ROOT,
    env: {
      ...process.env,
      OPENSYNC_DATABASE_URL: url,
      OPENSYNC_SECRET_KEY: KEY,
      OPENSYNC_BOSS_SCHEMA: BOSS_SCHEMA,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const worker: Worker = {
    child,
    pid: child.pid!,
    out: '',
    exited: new Promise((r) => child.once('exit', (code) => r(code))),
  }
  child.stdout!.on('data', (chunk: Buffer) => {
    worker.out += chunk.toString()
  })
  child.stderr!.on('data', (chunk: Buffer) => {
    worker.out += chunk.toString()
  })
  workers.push(worker)
  return worker
}

/** Polls `fn` until it returns something truthy; fails with `what` after `ms`. */
async function until<T>(
  what: string | (() => string),
  fn: () => Promise<T> | T,
  ms = 30_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await fn()
    if (value) return value as NonNullable<T>
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${ms} ms waiting for ${typeof what === 'string' ? what : what()}`,
      )
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** A fresh store schema, its URL for the workers, and a task manager with the shared key. */
async function cluster() {
  const schema = `osy_cl_${randomBytes(4).toString('hex')}`
  schemas.push(schema)
  const store = await openStore({ url: PG_URL, schema })
  const registry = await createRegistry()
  const dir = mkdtempSync(join(tmpdir(), 'osy-cluster-'))
  const box = await openSecretBox({
    dataDir: dir,
    env: { OPENSYNC_SECRET_KEY: KEY },
    generate: false,
  })
  const tasks = new TaskManager({ store, registry, box })
  // A paused worker may hold a store transaction open (between its fence and its commit);
  // the server ends such a session so the fence's row lock cannot stall the others' expire.
  const options = encodeURIComponent('-c idle_in_transaction_session_timeout=1500')
  const url = `${PG_URL}?schema=${schema}&options=${options}`
  return { store, tasks, dir, url }
}

function systemsDb(dir: string, name: string, rows: number): { crm: string; erp: string } {
  const crm = join(dir, `${name}-crm.db`)
  const erp = join(dir, `${name}-erp.db`)
  for (const file of [crm, erp]) {
    const db = new Database(file)
    db.pragma('journal_mode = WAL')
    db.exec(`CREATE TABLE people (id INTEGER PRIMARY KEY AUTOINCREMENT, email VARCHAR(80) UNIQUE, name VARCHAR(80),
      updated_at TIMESTAMPTZ NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')))`)
    if (file === crm) {
      const insert = db.prepare('INSERT INTO people (email, name) VALUES (?, ?)')
      db.transaction(() => {
        for (let i = 0; i < rows; i++) insert.run(`p${i}@example.com`, `Person ${i}`)
      })()
    }
    db.close()
  }
  return { crm, erp }
}

function taskYaml(id: string, files: { crm: string; erp: string }, plan: string): string {
  return `id: ${id}
subject: People ${id}
systems:
  crm: { bridge: sqlite, connection: { file: ${JSON.stringify(files.crm)} } }
  erp: { bridge: sqlite, connection: { file: ${JSON.stringify(files.erp)} } }
pairs:
  - crm: { type: people, cursor: updated_at }
    erp: { type: people, cursor: updated_at }
    fields: { email: email, name: name }
    match: [email]
plan: ${plan}
`
}

function people(file: string): { rows: number; emails: number } {
  const db = new Database(file, { readonly: true })
  const row = db
    .prepare('SELECT COUNT(*) AS rows, COUNT(DISTINCT email) AS emails FROM people')
    .get() as { rows: number; emails: number }
  db.close()
  return row
}

/** Runs of a task that started (not the queued one), oldest first. */
async function runs(store: Store, taskId: string): Promise<ExecutionRow[]> {
  return (await store.executions.list(taskId, 10_000))
    .filter((e) => e.status !== 'queued')
    .sort((a, b) => a.id - b.id)
}

/** No run of the task started before the one before it had ended. */
function expectNoOverlap(list: readonly ExecutionRow[]): void {
  const byStart = [...list].sort((a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt))
  for (let i = 1; i < byStart.length; i++) {
    const previous = byStart[i - 1]!
    expect(previous.endedAt, `run ${previous.id} has ended`).toBeDefined()
    expect(Date.parse(byStart[i]!.startedAt)).toBeGreaterThanOrEqual(Date.parse(previous.endedAt!))
  }
}

const pidOf = (owner: string | undefined) => Number(owner?.split(':')[1])

afterEach(async () => {
  for (const w of workers.splice(0)) {
    if (w.child.exitCode === null && w.child.signalCode === null) {
      w.child.kill('SIGCONT')
      w.child.kill('SIGKILL')
    }
    await w.exited
  }
})

afterAll(async () => {
  const client = new pg.Client({ connectionString: PG_URL })
  await client.connect()
  for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  await client.end()
})

describe('cluster mode', () => {
  it('three workers share 20 continuous tasks: no task runs twice at once, every task runs again and again, SIGTERM ends cleanly', async () => {
    const { store, tasks, dir, url } = await cluster()
    try {
      const files: { crm: string; erp: string }[] = []
      for (let i = 0; i < 20; i++) {
        const id = `t${String(i).padStart(2, '0')}`
        files.push(systemsDb(dir, id, 5))
        await tasks.save(taskYaml(id, files[i]!, '{ kind: continuous }'))
      }
      // Each task's source keeps changing, so continuous runs follow each other without the
      // idle back-off: the workers are saturated and the figure below is their throughput.
      const writers = files.map((f) => new Database(f.crm))
      let tick = 0
      const pump = setInterval(() => {
        tick++
        for (const db of writers)
          db.prepare(
            `UPDATE people SET name = ?, updated_at = strftime('%Y-%m-%dT%H:%M:%f000Z', 'now') WHERE id = ?`,
          ).run(`Person v${tick}`, 1 + (tick % 5))
      }, 250)
      const env = { OPENSYNC_LEASE_MS: '10000' }
      const trio = [startWorker(url, env), startWorker(url, env), startWorker(url, env)]
      const ids = files.map((_, i) => `t${String(i).padStart(2, '0')}`)
      const firstRun = await until('a first run', async () => {
        for (const id of ids) {
          const started = (await runs(store, id))[0]
          if (started) return started.startedAt
        }
        return undefined
      })
      const windowStart = Date.parse(firstRun)
      await new Promise((r) => setTimeout(r, 18_000))
      clearInterval(pump)
      for (const db of writers) db.close()
      const windowEnd = Date.now()

      for (const w of trio) w.child.kill('SIGTERM')
      const codes = await Promise.all(
        trio.map((w) =>
          Promise.race([w.exited, new Promise((r) => setTimeout(() => r('timeout'), 20_000))]),
        ),
      )
      expect(codes).toEqual([0, 0, 0])

      const lateness: number[] = []
      let ended = 0
      const owners = new Set<number>()
      for (const id of ids) {
        const list = await runs(store, id)
        expectNoOverlap(list)
        // Every due run happened: a continuous task whose source changes runs again and again.
        expect(list.filter((e) => e.status === 'succeeded').length).toBeGreaterThanOrEqual(3)
        // Shutdown left nothing running, and failed nothing: an interrupted run is cancelled.
        expect(
          list.map((e) => e.status).filter((s) => s !== 'succeeded' && s !== 'cancelled'),
        ).toEqual([])
        expect(people(files[ids.indexOf(id)]!.erp).rows).toBe(5)
        for (const e of list) {
          owners.add(pidOf(e.owner))
          if (e.endedAt && Date.parse(e.endedAt) <= windowEnd) ended++
          if (e.scheduledFor) lateness.push(Date.parse(e.startedAt) - Date.parse(e.scheduledFor))
        }
      }
      // The work was shared.
      expect(owners).toEqual(new Set(trio.map((w) => w.pid)))
      lateness.sort((a, b) => a - b)
      const q = (p: number) =>
        lateness[Math.min(lateness.length - 1, Math.floor(p * lateness.length))]
      const perMinute = Math.round((ended * 60_000) / (windowEnd - windowStart))
      console.log(
        `cluster: ${ended} runs in ${((windowEnd - windowStart) / 1000).toFixed(1)} s by 3 workers = ${perMinute} runs/min; lateness after the planned time p50 ${q(0.5)} ms, p95 ${q(0.95)} ms, max ${lateness.at(-1)} ms (${lateness.length} plan runs)`,
      )
    } finally {
      await store.close()
    }
  }, 75_000)

  it('a run whose worker is killed (kill -9) is finished by another worker after the lease, with no duplicates', async () => {
    const { store, tasks, dir, url } = await cluster()
    try {
      const { files, pair, first, running } = await bigRunUnderWay(store, tasks, dir, url)
      const victim = pair.find((w) => w.pid === pidOf(running.owner))!
      victim.child.kill('SIGKILL')
      await victim.exited
      const done = await until(
        'the run to be finished by the other worker',
        async () => (await runs(store, 'big')).find((e) => e.status === 'succeeded'),
        45_000,
      )
      const list = await runs(store, 'big')
      expect(list[0]).toMatchObject({ id: first, status: 'failed' })
      expect(list[0]!.error?.code).toBe('OSY_LEASE_LOST')
      expect(pidOf(done.owner)).not.toBe(victim.pid)
      expectNoOverlap(list)
      expect(people(files.erp)).toEqual({ rows: 20_000, emails: 20_000 })
      expect(await store.links.count('big', 'people-people')).toBe(20_000)
    } finally {
      await store.close()
    }
  }, 60_000)

  it('a worker stopped by SIGTERM mid-run commits its batch in flight, exits 0, and another worker finishes the run', async () => {
    const { store, tasks, dir, url } = await cluster()
    try {
      const { files, pair, first, running } = await bigRunUnderWay(store, tasks, dir, url)
      const stopping = pair.find((w) => w.pid === pidOf(running.owner))!
      const t0 = Date.now()
      stopping.child.kill('SIGTERM')
      const code = await Promise.race([
        stopping.exited,
        new Promise((r) => setTimeout(() => r('timeout'), 20_000)),
      ])
      const stoppedMs = Date.now() - t0
      expect(code).toBe(0)
      // It stopped after its batch in flight, not at the end of the run.
      const stopped = await store.executions.get(first)
      expect(stopped).toMatchObject({ status: 'cancelled' })
      const linkedByIt = sumCounts(stopped!.counts).created
      expect(linkedByIt).toBeGreaterThanOrEqual(1_000)
      expect(linkedByIt).toBeLessThan(20_000)
      const done = await until(
        'the run to be finished by the other worker',
        async () =>
          (await runs(store, 'big')).find((e) => e.id !== first && e.status === 'succeeded'),
        45_000,
      )
      expect(pidOf(done.owner)).not.toBe(stopping.pid)
      expectNoOverlap(await runs(store, 'big'))
      // What the stopped run wrote, it also committed: the rest was created, none matched again.
      expect(sumCounts(done.counts)).toMatchObject({ created: 20_000 - linkedByIt })
      expect(people(files.erp)).toEqual({ rows: 20_000, emails: 20_000 })
      expect(await store.links.count('big', 'people-people')).toBe(20_000)
      console.log(
        `cluster: SIGTERM ended the worker in ${stoppedMs} ms after ${linkedByIt} of 20,000 records; the other worker created the remaining ${20_000 - linkedByIt}`,
      )
    } finally {
      await store.close()
    }
  }, 60_000)

  it('a paused worker that lost its lease commits nothing once resumed', async () => {
    const { store, tasks, dir, url } = await cluster()
    try {
      const { files, pair, first, running } = await bigRunUnderWay(store, tasks, dir, url)
      const stale = pair.find((w) => w.pid === pidOf(running.owner))!
      stale.child.kill('SIGSTOP')
      // The other worker takes over and commits batches of its own.
      const lost = await until('the lease to be lost', async () => {
        const e = await store.executions.get(first)
        return e?.status === 'failed' ? e : undefined
      })
      const takeover = await until('the takeover run', async () =>
        (await runs(store, 'big')).find((e) => e.id !== first && e.status === 'running'),
      )
      expect(pidOf(takeover.owner)).not.toBe(stale.pid)
      stale.child.kill('SIGCONT')
      // Resumed, the stale worker notices and ends its run without writing.
      const ended = await until(
        () => `the stale worker to end its run; its log:\n${stale.out.slice(-4000)}`,
        () =>
          stale.out.split('\n').find(
            // A failed run's line says why (`run failed: …`); any other says `run ended`.
            (line) =>
              /"msg":"run (ended|failed)/.test(line) && line.includes(`"executionId":${first}`),
          ),
        20_000,
      )
      expect(JSON.parse(ended)).toMatchObject({ status: 'failed' })
      await until(
        'the takeover run to succeed',
        async () => (await store.executions.get(takeover.id))?.status === 'succeeded',
        45_000,
      )
      // The stale run's outcome was not overwritten, and every record is linked exactly once.
      expect(await store.executions.get(first)).toMatchObject({
        status: 'failed',
        endedAt: lost.endedAt,
        error: { code: 'OSY_LEASE_LOST' },
      })
      expectNoOverlap(await runs(store, 'big'))
      expect(people(files.erp)).toEqual({ rows: 20_000, emails: 20_000 })
      expect(await store.links.count('big', 'people-people')).toBe(20_000)
    } finally {
      await store.close()
    }
  }, 60_000)
})

/**
 * Two workers with a short lease and small batches, and a 20,000-record run that one of them
 * has under way (at least 1,000 links committed).
 */
async function bigRunUnderWay(store: Store, tasks: TaskManager, dir: string, url: string) {
  const files = systemsDb(dir, 'big', 20_000)
  await tasks.save(taskYaml('big', files, '{ kind: manual }'))
  const env = { OPENSYNC_LEASE_MS: '3000', OPENSYNC_BATCH_SIZE: '50' }
  const pair = [startWorker(url, env), startWorker(url, env)]
  const { id: first } = await store.executions.enqueue({ taskId: 'big', trigger: 'manual' })
  const running = await until('the run under way', async () => {
    const e = await store.executions.get(first)
    return e?.status === 'running' && (await store.links.count('big', 'people-people')) >= 1_000
      ? e
      : undefined
  })
  return { files, pair, first, running }
}

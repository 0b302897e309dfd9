/**
 * The service: stored tasks with sealed secrets, drafts, the run queue, plans driving runs,
 * and the embedded data-folder lock — against real SQLite (store, systems) and PostgreSQL.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { pino } from 'pino'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createRegistry } from '../../src/bridges/index.ts'
import type { BridgeRegistry } from '../../src/sdk/index.ts'
import { openSecretBox } from '../../src/service/secrets.ts'
import { lockDataDir, Service } from '../../src/service/service.ts'
import { TaskManager } from '../../src/service/task-manager.ts'
import { openStore, type Store } from '../../src/store/index.ts'
import { PG_URL, postgresHarness } from '../support/postgres-harness.ts'

const PASSWORD = 'S3cr3t-pw!'
// A ${VAR} reference as written in a task file (not a template string).
const ERP_REF = ['$', '{ERP_PW}'].join('')

function systemsDb(dir: string, rows: number): { crm: string; erp: string } {
  const crm = join(dir, 'crm.db')
  const erp = join(dir, 'erp.db')
  for (const file of [crm, erp]) {
    const db = new Database(file)
    db.exec(`CREATE TABLE people (id INTEGER PRIMARY KEY AUTOINCREMENT, email VARCHAR(80) UNIQUE, name VARCHAR(80),
      updated_at TIMESTAMPTZ NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')))`)
    if (file === crm) {
      const insert = db.prepare('INSERT INTO people (email, name) VALUES (?, ?)')
      for (let i = 0; i < rows; i++) insert.run(`p${i}@example.com`, `Person ${i}`)
    }
    db.close()
  }
  return { crm, erp }
}

function taskYaml(
  id: string,
  files: { crm: string; erp: string },
  plan: string,
  extraCrm = '',
): string {
  return `id: ${id}
subject: People ${id}
systems:
  crm: { bridge: sqlite, connection: { file: ${JSON.stringify(files.crm)}${extraCrm} } }
  erp: { bridge: sqlite, connection: { file: ${JSON.stringify(files.erp)} } }
pairs:
  - crm: { type: people, cursor: updated_at }
    erp: { type: people, cursor: updated_at }
    fields: { email: email, name: name }
    match: [email]
plan: ${plan}
`
}

const count = (file: string) => {
  const db = new Database(file, { readonly: true })
  const n = (db.prepare('SELECT COUNT(*) AS n FROM people').get() as { n: number }).n
  db.close()
  return n
}

describe('service', () => {
  let dir: string
  let store: Store
  let registry: BridgeRegistry
  let tasks: TaskManager

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'osy-service-'))
    store = await openStore({ url: join(dir, 'store.db') })
    registry = await createRegistry()
    tasks = new TaskManager({ store, registry, box: await openSecretBox({ dataDir: dir }) })
  })
  afterEach(async () => {
    await store.close()
  })

  it('stores secrets encrypted, shows and exports them masked, keeps them when the placeholder comes back', async () => {
    const yaml = `id: pg
subject: PostgreSQL people
systems:
  crm: { bridge: postgres, connection: { url: "${PG_URL}", password: "${PASSWORD}" } }
  erp: { bridge: mysql, connection: { host: 127.0.0.1, user: root, password: "\${ERP_PW}", database: test } }
pairs:
  - crm: { type: people }
    erp: { type: people }
    fields: { email: email }
plan: { kind: manual }
`
    const saved = await tasks.save(yaml)
    expect(saved.draft).toBe(false)
    const row = await store.taskDefs.get('pg')
    expect(row!.document).not.toContain(PASSWORD)
    expect(row!.document).toContain(ERP_REF) // a reference is not a secret
    const shown = JSON.stringify(await tasks.get('pg'))
    expect(shown).not.toContain(PASSWORD)
    expect(shown).toContain('********')
    const exported = JSON.stringify(await tasks.export('pg'))
    expect(exported).not.toContain(PASSWORD)
    expect(exported).toContain(ERP_REF)

    // The console/API edit flow: the masked document comes back with a change elsewhere.
    const edited = JSON.parse(JSON.stringify((await tasks.get('pg')).document)) as {
      subject: string
    }
    edited.subject = 'Renamed'
    await tasks.save(edited)
    const withEnv = new TaskManager({
      store,
      registry,
      box: await openSecretBox({ dataDir: dir }),
      env: { ERP_PW: 'x' },
    })
    const resolved = await withEnv.resolve('pg')
    expect(resolved.subject).toBe('Renamed')
    expect(resolved.systems[0].connection.password).toBe(PASSWORD)
    // The store file itself holds no plain secret anywhere.
    expect(readFileSync(join(dir, 'store.db')).includes(Buffer.from(PASSWORD))).toBe(false)
  })

  it('keeps an incomplete task as a draft, never schedules it, and refuses to activate it', async () => {
    await expect(tasks.save({ subject: 'Half done', systems: {} })).rejects.toMatchObject({
      code: 'OSY_INVALID_TASK',
    })
    const draft = await tasks.save(
      { subject: 'Half done', systems: { crm: { bridge: 'sqlite' } } },
      { draft: true },
    )
    expect(draft).toMatchObject({ id: 'half-done', draft: true, active: false })
    expect(draft.issues.length).toBeGreaterThan(0)
    await expect(tasks.activate('half-done')).rejects.toMatchObject({ code: 'OSY_TASK_DRAFT' })
    // A draft cannot be started either: no run is queued that could only fail.
    const refused = tasks.start('half-done')
    await expect(refused).rejects.toMatchObject({ code: 'OSY_TASK_DRAFT' })
    await expect(refused).rejects.toThrow(
      /task half-done is a draft: complete it before starting it \(.*systems/,
    )
    expect(await store.executions.queued('half-done')).toBeUndefined()
    const service = new Service({ store, registry, tasks, now: () => new Date() })
    await service.tick()
    expect(await store.executions.list('half-done')).toHaveLength(0)
    await service.stop()
  })

  it('runs tasks on their plan, queues manual starts behind a running one, and deletes a task with its metadata', async () => {
    const files = systemsDb(dir, 300)
    await tasks.save(taskYaml('every-minute', files, '{ kind: interval, every: 1, unit: minutes }'))
    let now = new Date('2026-01-05T10:00:00Z')
    const service = new Service({ store, registry, tasks, now: () => now, batchSize: 20 })
    const settle = async () => {
      for (
        let i = 0;
        i < 200 &&
        ((await store.executions.running('every-minute')) ||
          (await store.executions.queued('every-minute')));
        i++
      ) {
        await service.tick()
        await new Promise((r) => setTimeout(r, 20))
      }
    }
    await service.tick() // armed: due at once, never ran
    await service.tick()
    // While the first run is going, two manual starts queue one run, not two.
    const first = await store.executions.enqueue({ taskId: 'every-minute', trigger: 'manual' })
    const second = await store.executions.enqueue({ taskId: 'every-minute', trigger: 'manual' })
    expect(second).toEqual({ id: first.id, created: false })
    await settle()
    const runs = await store.executions.list('every-minute')
    expect(runs.map((r) => r.status)).toEqual(['succeeded', 'succeeded'])
    expect(runs.map((r) => r.trigger).sort()).toEqual(['manual', 'plan'])
    expect(count(files.erp)).toBe(300)
    // No two runs of the task overlapped.
    const [later, earlier] = runs
    expect(Date.parse(later!.startedAt)).toBeGreaterThanOrEqual(Date.parse(earlier!.endedAt!))

    expect((await tasks.get('every-minute')).nextRunAt).toBe('2026-01-05T10:01:00.000Z')
    now = new Date('2026-01-05T10:00:30Z')
    await service.tick()
    expect(await store.executions.list('every-minute')).toHaveLength(2)
    // Down for an hour: the missed slots make one run, not sixty.
    now = new Date('2026-01-05T11:00:10Z')
    await service.tick()
    await settle()
    expect(await store.executions.list('every-minute')).toHaveLength(3)
    expect((await tasks.get('every-minute')).nextRunAt).toBe('2026-01-05T11:01:00.000Z')

    await tasks.deactivate('every-minute')
    now = new Date('2026-01-05T12:00:00Z')
    await service.tick()
    expect(await store.executions.list('every-minute')).toHaveLength(3)

    await service.stop()
    await tasks.remove('every-minute')
    expect(await store.taskDefs.get('every-minute')).toBeUndefined()
    expect(await store.links.count('every-minute', 'people-people')).toBe(0)
    expect(await store.executions.list('every-minute')).toHaveLength(0)
  })

  it('refuses a second service on the same data folder while the first lives, and takes over a dead one', async () => {
    const lock = join(dir, 'data')
    const holder = spawn('sleep', ['30'])
    try {
      lockDataDir(lock)
      writeFileSync(join(lock, 'opensync.lock'), String(holder.pid))
      expect(() => lockDataDir(lock)).toThrow(/already running on .* \(process \d+\)/)
    } finally {
      holder.kill()
    }
    await new Promise((r) => holder.once('exit', r))
    expect(lockDataDir(lock)).toBe(join(lock, 'opensync.lock'))
    expect(readFileSync(join(lock, 'opensync.lock'), 'utf8')).toBe(String(process.pid))
  })

  it('cancels a running execution after its batch in flight; the next run finishes the work', async () => {
    const files = systemsDb(dir, 6000)
    await tasks.save(taskYaml('slow', files, '{ kind: manual }'))
    // A short lease: a cancel request is seen at the next renewal, a third of the lease later.
    const service = new Service({
      store,
      registry,
      tasks,
      batchSize: 10,
      tickMs: 20,
      leaseMs: 1000,
    })
    await store.executions.enqueue({ taskId: 'slow', trigger: 'manual' })
    await service.start()
    try {
      // Deadlines, not counts of polls: on a loaded machine each poll itself takes a while.
      let running = await store.executions.running('slow')
      for (const until = Date.now() + 30_000; !running && Date.now() < until; ) {
        await new Promise((r) => setTimeout(r, 10))
        running = await store.executions.running('slow')
      }
      expect(running).toBeDefined()
      expect(await store.executions.requestCancel(running!.id)).toBe('requested')
      for (const until = Date.now() + 60_000; Date.now() < until; ) {
        if (!(await store.executions.running('slow'))) break
        await new Promise((r) => setTimeout(r, 10))
      }
      const [cancelled] = await store.executions.list('slow')
      expect(cancelled!.status).toBe('cancelled')
      expect(count(files.erp)).toBeLessThan(6000)
      await store.executions.enqueue({ taskId: 'slow', trigger: 'manual' })
      // 600 batches of 10: give a busy machine time (a deadline, not a count of polls).
      const deadline = Date.now() + 150_000
      while (
        Date.now() < deadline &&
        (await store.executions.list('slow'))[0]!.status !== 'succeeded'
      ) {
        await new Promise((r) => setTimeout(r, 50))
      }
      expect(count(files.erp)).toBe(6000)
      // The service counted both runs for /metrics.
      const metrics = service.metrics.text()
      expect(metrics).toContain('opensync_runs_total{task="slow",status="cancelled"} 1')
      expect(metrics).toContain('opensync_runs_total{task="slow",status="succeeded"} 1')
    } finally {
      await service.stop()
    }
  }, 300_000)

  it("logs a failed run's reason at error level", async () => {
    const files = systemsDb(dir, 0)
    await tasks.save(
      taskYaml('broken', { ...files, crm: join(dir, 'gone.db') }, '{ kind: manual }'),
    )
    const lines: string[] = []
    const log = pino({}, { write: (line: string) => lines.push(line) })
    const service = new Service({ store, registry, tasks, log, tickMs: 20 })
    await tasks.start('broken')
    await service.start()
    for (let i = 0; i < 500 && (await store.executions.list('broken'))[0]?.status !== 'failed'; i++)
      await new Promise((r) => setTimeout(r, 20))
    await service.stop()
    const entries = lines.map((l) => JSON.parse(l) as { level: number; msg: string; err?: unknown })
    const failed = entries.find((e) => /^run failed/.test(e.msg))
    expect(failed, lines.join('')).toMatchObject({
      level: 50,
      msg: expect.stringMatching(
        new RegExp(
          `^run failed: SQLite database file ${join(dir, 'gone.db')} does not exist.*\\[OSY_UNKNOWN_DATABASE\\]$`,
        ),
      ),
      err: { code: 'OSY_UNKNOWN_DATABASE' },
      taskId: 'broken',
    })
    expect(entries.some((e) => e.msg === 'run ended')).toBe(false)
  })

  it('puts no plain secret in logs, protocols, task output or the store; a wrong key fails closed', async () => {
    const pg = await postgresHarness.setup()
    try {
      await pg.exec(postgresHarness.ddl.contacts('people'))
      await pg.exec(
        `INSERT INTO people (email, name) SELECT 'p' || g || '@example.com', 'P ' || g FROM generate_series(1, 50) g`,
      )
      const files = systemsDb(dir, 0)
      const yaml = `id: secret
subject: Secret
systems:
  crm: { bridge: postgres, connection: { url: "${PG_URL}", schema: "${pg.values.schema}", password: "${PASSWORD}" } }
  erp: { bridge: sqlite, connection: { file: ${JSON.stringify(files.erp)} } }
pairs:
  - crm: { type: people, cursor: updated_at }
    erp: { type: people, cursor: updated_at }
    fields: { email: email, name: name }
plan: { kind: manual }
`
      await tasks.save(yaml)
      const lines: string[] = []
      const log = pino({ level: 'debug' }, { write: (line: string) => lines.push(line) })
      const service = new Service({ store, registry, tasks, log, tickMs: 20 })
      await store.executions.enqueue({ taskId: 'secret', trigger: 'manual' })
      await service.start()
      for (
        let i = 0;
        i < 500 && (await store.executions.list('secret'))[0]?.status !== 'succeeded';
        i++
      ) {
        await new Promise((r) => setTimeout(r, 20))
      }
      await service.stop()
      const [run] = await store.executions.list('secret')
      expect(run!.status).toBe('succeeded')
      expect(count(files.erp)).toBe(50)
      const everything = [
        lines.join('\n'),
        JSON.stringify(await store.executions.logs(run!.id)),
        JSON.stringify(await tasks.get('secret')),
        JSON.stringify(await tasks.export('secret')),
        readFileSync(join(dir, 'store.db')).toString('latin1'),
      ].join('\n')
      expect(lines.length).toBeGreaterThan(0)
      expect(everything).not.toContain(PASSWORD)

      // Another key cannot read the stored secret, and saving with it changes nothing.
      const otherDir = mkdtempSync(join(tmpdir(), 'osy-otherkey-'))
      const wrong = new TaskManager({
        store,
        registry,
        box: await openSecretBox({ dataDir: otherDir }),
      })
      await expect(wrong.resolve('secret')).rejects.toMatchObject({
        code: 'OSY_SECRET_KEY_MISMATCH',
      })
      const before = (await store.taskDefs.get('secret'))!.document
      await expect(wrong.save((await tasks.get('secret')).document)).rejects.toMatchObject({
        code: 'OSY_SECRET_KEY_MISMATCH',
      })
      expect((await store.taskDefs.get('secret'))!.document).toBe(before)
    } finally {
      await pg.teardown()
    }
  })
})

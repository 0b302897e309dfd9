/**
 * Live events: the hub's ring buffer and resume, the run lifecycle of a real service run
 * (SQLite store and systems), progress throttling, and two hubs on separate PostgreSQL
 * connections that hear each other through LISTEN/NOTIFY.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import pg from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import { createRegistry } from '../../src/bridges/index.ts'
import type { PairProgress } from '../../src/engine/pair-run.ts'
import { EventHub } from '../../src/service/event-hub.ts'
import type { HubEvent } from '../../src/service/events.ts'
import { PgEventRelay, storeEventLoader } from '../../src/service/pg-event-relay.ts'
import { RunEvents } from '../../src/service/run-events.ts'
import { openSecretBox } from '../../src/service/secrets.ts'
import { Service } from '../../src/service/service.ts'
import { TaskManager } from '../../src/service/task-manager.ts'
import { type ExecutionRow, openStore } from '../../src/store/index.ts'
import { PG_URL } from '../support/postgres-harness.ts'

const cleanup: (() => Promise<unknown>)[] = []
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!()
})

/** Resolves with the first event `hub` hears that `match` accepts. */
function next(hub: EventHub, match: (e: HubEvent) => boolean, ms = 5000): Promise<HubEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sub.close()
      reject(new Error('no such event arrived'))
    }, ms)
    const sub = hub.subscribe((e) => {
      if (!match(e)) return
      clearTimeout(timer)
      sub.close()
      resolve(e)
    })
  })
}

describe('event hub', () => {
  it('numbers events monotonically and resumes after the last id a subscriber saw', () => {
    const hub = new EventHub({ capacity: 3, lastId: 100 })
    const seen: number[] = []
    const live = hub.subscribe((e) => seen.push(e.id))
    for (const taskId of ['a', 'b', 'c', 'd']) hub.publish(taskChanged(taskId))
    expect(seen).toEqual([101, 102, 103, 104])
    live.close()
    hub.publish(taskChanged('e'))
    expect(seen).toHaveLength(4)

    // Resuming after 103: 104 and 105 are still in the buffer.
    const resumed: HubEvent[] = []
    const sub = hub.subscribe((e) => resumed.push(e), 103)
    expect(sub.complete).toBe(true)
    expect(resumed.map((e) => e.id)).toEqual([104, 105])
    hub.publish(taskChanged('f'))
    expect(resumed.map((e) => e.id)).toEqual([104, 105, 106])
    sub.close()

    // 101 fell out of the ring (capacity 3: 104–106): the subscriber is told it missed some.
    const late: number[] = []
    const gap = hub.subscribe((e) => late.push(e.id), 101)
    expect(gap.complete).toBe(false)
    expect(late).toEqual([104, 105, 106])
    gap.close()
    // An id this hub never gave (another process, an earlier start) is a gap too.
    expect(hub.since(5000).complete).toBe(false)
    expect(hub.since(50).complete).toBe(false)
    expect(hub.since(106)).toEqual({ events: [], complete: true })
  })

  it('keeps delivering when one subscriber throws', () => {
    const hub = new EventHub()
    const seen: string[] = []
    hub.subscribe(() => {
      throw new Error('closed socket')
    })
    hub.subscribe((e) => seen.push(e.type))
    hub.publish(taskChanged('a'))
    expect(seen).toEqual(['task.changed'])
  })

  it('throttles progress per execution, shows the latest counts before the end, and reports parked conflicts', async () => {
    let now = 0
    const hub = new EventHub()
    const events: HubEvent[] = []
    hub.subscribe((e) => events.push(e))
    const run = new RunEvents(hub, { progressMs: 250, now: () => now })
    const execution = row(7, 'people')
    run.started(execution)
    const counts = { ...zero() }
    const progress = (): PairProgress => ({
      pairId: 'p',
      direction: '0->1',
      phase: 'read',
      counts,
    })
    counts.read = 100
    run.progress(7, progress()) // shown at once
    now = 100
    counts.read = 200
    run.progress(7, progress()) // within 250 ms: held back
    now = 200
    counts.read = 300
    counts.conflicts = 2
    run.progress(7, progress()) // held back, but its two conflicts are news now
    const shown = () =>
      events
        .filter((e) => e.type === 'execution.progress')
        .map((e) => ('counts' in e ? e.counts : undefined))
    expect(shown().map((c) => c?.read)).toEqual([100])
    expect(events.filter((e) => e.type === 'conflict.parked')).toMatchObject([
      { executionId: 7, taskId: 'people', pairId: 'p', direction: '0->1', parked: 2 },
    ])
    now = 260
    counts.read = 400
    run.progress(7, progress()) // 260 ms after the last one shown: shown
    expect(shown().map((c) => c?.read)).toEqual([100, 400])
    now = 300
    counts.read = 500
    run.progress(7, progress()) // held back …
    run.ended(execution, { status: 'succeeded', counts: { p: { '0->1': counts, '1->0': zero() } } })
    // … and shown before the end, so nobody sees stale counts next to "ended".
    expect(shown().map((c) => c?.read)).toEqual([100, 400, 500])
    expect(events.map((e) => e.type)).toEqual([
      'execution.started',
      'execution.progress',
      'conflict.parked',
      'execution.progress',
      'execution.progress',
      'execution.ended',
    ])
    // The engine reuses its counts object: each event kept its own moment.
    counts.read = 999
    expect(shown().map((c) => c?.read)).toEqual([100, 400, 500])
  })

  it('hears a real run from queue to end: queued, started, progress per batch, ended; task changes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'osy-events-'))
    const files = systemsDb(dir, 250)
    const store = await openStore({ url: join(dir, 'store.db') })
    cleanup.push(() => store.close())
    const registry = await createRegistry()
    const hub = new EventHub()
    const events: HubEvent[] = []
    hub.subscribe((e) => events.push(e))
    const tasks = new TaskManager({
      store,
      registry,
      box: await openSecretBox({ dataDir: dir }),
      events: hub,
    })
    await tasks.save(taskYaml('people', files))
    const service = new Service({
      store,
      registry,
      tasks,
      events: hub,
      batchSize: 50,
      progressMs: 0,
      tickMs: 50,
    })
    cleanup.push(() => service.stop())
    await service.start()
    const ended = next(hub, (e) => e.type === 'execution.ended')
    const { executionId } = await tasks.start('people')
    const end = await ended
    expect(end).toMatchObject({ type: 'execution.ended', executionId, status: 'succeeded' })
    const mine = events.filter((e) => !('executionId' in e) || e.executionId === executionId)
    expect(mine[0]).toMatchObject({
      type: 'task.changed',
      taskId: 'people',
      change: 'saved',
      revision: 1,
    })
    expect(mine.slice(1, 3)).toMatchObject([
      { type: 'execution.queued', executionId, taskId: 'people', trigger: 'manual' },
      { type: 'execution.started', executionId, taskId: 'people', trigger: 'manual' },
    ])
    // 250 records in batches of 50: progress after each batch of the first direction.
    const reads = events
      .filter((e) => e.type === 'execution.progress' && e.direction === '0->1')
      .map((e) => (e.type === 'execution.progress' ? e.counts.read : 0))
    expect(reads).toEqual([50, 100, 150, 200, 250])
    if (end.type !== 'execution.ended') throw new Error('unreachable')
    expect(end.counts['people-people']?.['0->1'].created).toBe(250)
    // Ids increase with every event.
    const ids = events.map((e) => e.id)
    expect(ids).toEqual([...ids].sort((a, b) => a - b))
    expect(new Set(ids).size).toBe(ids.length)

    await tasks.deactivate('people')
    await tasks.activate('people')
    await tasks.remove('people')
    expect(
      events.filter((e) => e.type === 'task.changed').map((e) => 'change' in e && e.change),
    ).toEqual(['saved', 'deactivated', 'activated', 'deleted'])
  })

  it('crosses processes through PostgreSQL LISTEN/NOTIFY: each hub hears the other, never itself twice, other stores not at all', async () => {
    const schema = `osy_events_${randomBytes(4).toString('hex')}`
    const other = `osy_events_${randomBytes(4).toString('hex')}`
    const store = await openStore({ url: PG_URL, schema })
    cleanup.push(async () => {
      await store.close()
      const admin = new pg.Client({ connectionString: PG_URL })
      await admin.connect()
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
      await admin.end()
    })
    const url = `${PG_URL}?schema=${schema}`
    const hubOf = async (storeUrl: string, maxPayload?: number) => {
      const hub = new EventHub({
        relay: new PgEventRelay({
          url: storeUrl,
          load: storeEventLoader(store),
          ...(maxPayload ? { maxPayload } : {}),
        }),
      })
      await hub.start()
      cleanup.push(() => hub.stop())
      const heard: HubEvent[] = []
      hub.subscribe((e) => heard.push(e))
      return { hub, heard }
    }
    const a = await hubOf(url, 600)
    const b = await hubOf(url)
    const c = await hubOf(`${PG_URL}?schema=${other}`)

    const arrived = next(b.hub, (e) => e.type === 'task.changed')
    const sent = a.hub.publish(taskChanged('from-a'))
    const got = await arrived
    expect(got).toMatchObject({
      type: 'task.changed',
      taskId: 'from-a',
      change: 'saved',
      at: sent.at,
    })
    // Numbered by the hub that received it: b's ids, monotonic for b's subscribers.
    expect(got.id).toBe(b.hub.lastId)

    const back = next(a.hub, (e) => e.type === 'execution.queued')
    b.hub.publish({ type: 'execution.queued', executionId: 1, taskId: 't', trigger: 'plan' })
    await back

    // An event too large for one notification goes by reference and is read from the store.
    const executionId = await store.executions.start({
      taskId: 'big',
      trigger: 'manual',
      dryRun: false,
    })
    const counts = Object.fromEntries(
      Array.from({ length: 20 }, (_, i) => [`pair-${i}`, { '0->1': zero(), '1->0': zero() }]),
    )
    await store.executions.finish(executionId, { status: 'succeeded', counts })
    const big = next(b.hub, (e) => e.type === 'execution.ended')
    a.hub.publish({
      type: 'execution.ended',
      executionId,
      taskId: 'big',
      status: 'succeeded',
      counts,
    })
    expect(JSON.stringify(counts).length).toBeGreaterThan(600)
    const loaded = await big
    expect(loaded).toMatchObject({
      type: 'execution.ended',
      executionId,
      taskId: 'big',
      status: 'succeeded',
      counts,
    })

    // Something else on the channel that is no event reaches nobody.
    const raw = new pg.Client({ connectionString: PG_URL })
    await raw.connect()
    cleanup.push(() => raw.end())
    await raw.query('SELECT pg_notify($1, $2)', [
      `opensync_events:${schema}`,
      '{"o":"x","e":{"type":"nope"}}',
    ])
    const marker = next(b.hub, (e) => e.type === 'task.changed' && e.taskId === 'marker')
    a.hub.publish(taskChanged('marker'))
    await marker

    // Each hub heard its own events once and the other's once; the store of another schema none.
    expect(a.heard.map((e) => e.type)).toEqual([
      'task.changed',
      'execution.queued',
      'execution.ended',
      'task.changed',
    ])
    expect(b.heard.map((e) => e.type)).toEqual(a.heard.map((e) => e.type))
    expect(c.heard).toEqual([])
  })
})

function taskChanged(taskId: string) {
  return { type: 'task.changed', taskId, change: 'saved', revision: 1 } as const
}

function zero() {
  return {
    read: 0,
    created: 0,
    updated: 0,
    deleted: 0,
    unchanged: 0,
    conflicts: 0,
    errors: 0,
    unlinked: 0,
  }
}

function row(id: number, taskId: string): ExecutionRow {
  return {
    id,
    taskId,
    trigger: 'manual',
    dryRun: false,
    status: 'running',
    startedAt: new Date().toISOString(),
    counts: {},
    cancelRequested: false,
  }
}

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

function taskYaml(id: string, files: { crm: string; erp: string }): string {
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
plan: { kind: manual }
`
}

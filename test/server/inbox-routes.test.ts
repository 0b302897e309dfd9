/**
 * The inboxes over HTTP (app.inject), on real runs between SQLite systems: a conflict parked
 * by a run and decided, a record that fails on the target retried and ignored, checkpoints
 * shown and one pair reset — whose next run reads everything again and creates nothing.
 */
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRegistry } from '../../src/bridges/index.ts'
import { runTask } from '../../src/engine/run-task.ts'
import type { Role } from '../../src/server/access/permissions.ts'
import { type TestServer, testServer } from './server-harness.ts'

let server: TestServer
let crm: string
let erp: string
const tokens: Record<string, string> = {}

const sql = (file: string, text: string, ...args: unknown[]) => {
  const db = new Database(file)
  try {
    const statement = db.prepare(text)
    return statement.reader ? statement.all(...args) : statement.run(...args)
  } finally {
    db.close()
  }
}

async function run() {
  const registry = await createRegistry()
  return runTask(await server.tasks.resolve('people'), { store: server.store, registry })
}

const call = (who: string, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown) =>
  server.app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${tokens[who]}` },
    ...(payload !== undefined ? { payload: payload as object } : {}),
  })

beforeAll(async () => {
  server = await testServer()
  crm = join(server.dir, 'crm.db')
  erp = join(server.dir, 'erp.db')
  for (const file of [crm, erp]) {
    const check = file === erp ? ' CHECK (length(name) < 20)' : ''
    sql(
      file,
      `CREATE TABLE people (id INTEGER PRIMARY KEY AUTOINCREMENT, email VARCHAR(80) UNIQUE, name VARCHAR(80)${check},
      updated_at TIMESTAMPTZ NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')))`,
    )
  }
  sql(
    crm,
    `INSERT INTO people (email, name) VALUES ('a@x.org', 'Ada'), ('b@x.org', 'Bob'),
    ('long@x.org', 'A name far too long for the ERP')`,
  )
  await server.tasks.save(`id: people
subject: People
systems:
  crm: { bridge: sqlite, connection: { file: ${JSON.stringify(crm)} } }
  erp: { bridge: sqlite, connection: { file: ${JSON.stringify(erp)} } }
pairs:
  - id: people
    crm: { type: people, cursor: updated_at }
    erp: { type: people, cursor: updated_at }
    fields: { email: email, name: name }
    match: [email]
    conflict: { winner: manual }
`)
  const password = 'a long enough password 1'
  const users: [string, Role, string[]?][] = [
    ['ops', 'operator'],
    ['ed', 'editor'],
    ['vic', 'viewer'],
    ['lim', 'admin', ['mailing-pro']],
  ]
  for (const [username, role, profiles] of users) {
    await server.access.addUser(
      { username, password, role, ...(profiles ? { profiles } : {}) },
      'test',
    )
    const scopes =
      role === 'viewer'
        ? ['read']
        : role === 'operator'
          ? ['read', 'operate']
          : ['read', 'operate', 'edit']
    tokens[username] = (
      await server.access.createToken({ name: username, username, scopes: scopes as never }, 'test')
    ).token
  }
})
afterAll(() => server.close())

describe('inboxes', () => {
  it('lists a parked conflict by system key and decides it; the next run applies the winner', async () => {
    expect((await run()).totals.created).toBe(2)
    // Both sides change Ada's name before the next run.
    const later = "strftime('%Y-%m-%dT%H:%M:%f000Z', 'now', '+1 second')"
    sql(crm, `UPDATE people SET name = 'Ada CRM', updated_at = ${later} WHERE email = 'a@x.org'`)
    sql(erp, `UPDATE people SET name = 'Ada ERP', updated_at = ${later} WHERE email = 'a@x.org'`)
    expect((await run()).totals.conflicts).toBeGreaterThan(0)

    const list = await call('vic', 'GET', '/api/tasks/people/conflicts')
    expect(list.statusCode).toBe(200)
    const [conflict] = list.json().items
    expect(conflict).toMatchObject({
      pairId: 'people',
      mapping: 'name',
      sides: {
        // The base: what both had when last synced, before both edits.
        crm: { values: { name: 'Ada CRM' }, base: { name: 'Ada' } },
        erp: { values: { name: 'Ada ERP' }, base: { name: 'Ada' } },
      },
    })
    expect(conflict.winner).toBeUndefined()
    // The inbox across tasks: the same conflict under its task; none for a caller limited to
    // other profiles.
    const all = await call('vic', 'GET', '/api/conflicts')
    expect(all.statusCode).toBe(200)
    expect(all.json().items).toEqual([
      { taskId: 'people', subject: 'People', count: 1, conflicts: [conflict] },
    ])
    expect((await call('lim', 'GET', '/api/conflicts')).json().items).toEqual([])
    expect((await call('vic', 'GET', '/api/conflicts?limit=0')).statusCode).toBe(400)

    const decide = (who: string, decisions: unknown) =>
      call(who, 'POST', '/api/tasks/people/conflicts/decisions', { decisions })
    // A viewer may not decide; an unknown system or conflict changes nothing.
    expect((await decide('vic', [{ id: conflict.id, winner: 'erp' }])).statusCode).toBe(403)
    const wrongSystem = await decide('ops', [{ id: conflict.id, winner: 'sap' }])
    expect(wrongSystem.statusCode).toBe(400)
    expect(wrongSystem.json().detail).toContain('crm, erp')
    expect(
      (
        await decide('ops', [
          { id: conflict.id, winner: 'erp' },
          { id: 999, winner: 'crm' },
        ])
      ).statusCode,
    ).toBe(404)
    expect((await call('vic', 'GET', '/api/tasks/people/conflicts')).json().items).toHaveLength(1)

    const decided = await decide('ops', [{ id: conflict.id, winner: 'erp' }])
    expect(decided.statusCode).toBe(200)
    expect(decided.json().items[0]).toMatchObject({ id: conflict.id, winner: 'erp' })
    expect((await call('vic', 'GET', '/api/tasks/people/conflicts')).json().items).toEqual([])
    await run()
    expect(sql(crm, "SELECT name FROM people WHERE email = 'a@x.org'")).toEqual([
      { name: 'Ada ERP' },
    ])
    const audit = await server.store.audit.list({ taskId: 'people', action: 'conflict.decided' })
    expect(audit).toMatchObject([{ actor: 'token:ops (ops)', target: String(conflict.id) }])
    // A value of one's own instead of a winner: both systems get it.
    const later2 = "strftime('%Y-%m-%dT%H:%M:%f000Z', 'now', '+2 seconds')"
    sql(crm, `UPDATE people SET name = 'Bob CRM', updated_at = ${later2} WHERE email = 'b@x.org'`)
    sql(erp, `UPDATE people SET name = 'Bob ERP', updated_at = ${later2} WHERE email = 'b@x.org'`)
    await run()
    const [bob] = (await call('vic', 'GET', '/api/tasks/people/conflicts')).json().items
    expect(bob.sides.crm.values).toEqual({ name: 'Bob CRM' })
    expect(bob.sides.erp.base).toEqual({ name: 'Bob' })
    expect((await decide('ops', [{ id: bob.id }])).statusCode).toBe(400)
    const byValue = await decide('ops', [{ id: bob.id, value: 'Bob Both' }])
    expect(byValue.statusCode).toBe(200)
    expect(byValue.json().items[0]).toMatchObject({ id: bob.id, value: 'Bob Both' })
    await run()
    for (const file of [crm, erp])
      expect(sql(file, "SELECT name FROM people WHERE email = 'b@x.org'")).toEqual([
        { name: 'Bob Both' },
      ])
  })

  it('lists a failed record, retries it now (out of quarantine, a run queued) and ignores it', async () => {
    const list = await call('vic', 'GET', '/api/tasks/people/record-errors')
    expect(list.statusCode).toBe(200)
    const [failed] = list.json().items
    expect(failed).toMatchObject({
      pairId: 'people',
      from: 'crm',
      to: 'erp',
      code: 'OSY_CONSTRAINT_VIOLATION',
    })
    expect(failed.attempts).toBeGreaterThanOrEqual(3)
    expect(failed.quarantined).toBe(true)
    const ref = { pairId: 'people', from: 'crm', key: failed.key }

    expect(
      (await call('vic', 'POST', '/api/tasks/people/record-errors/retry', { records: [ref] }))
        .statusCode,
    ).toBe(403)
    const retried = await call('ops', 'POST', '/api/tasks/people/record-errors/retry', {
      records: [ref],
    })
    expect(retried.statusCode).toBe(202)
    expect(retried.json().released).toBe(1)
    const queued = await server.store.executions.get(retried.json().executionId)
    expect(queued).toMatchObject({ status: 'queued', trigger: 'retry' })
    const [released] = (await call('vic', 'GET', '/api/tasks/people/record-errors')).json().items
    expect(released).toMatchObject({ attempts: 0, quarantined: false })
    await server.store.executions.requestCancel(queued!.id)

    const ignored = await call('ops', 'POST', '/api/tasks/people/record-errors/ignore', {
      records: [ref],
    })
    expect(ignored.json()).toEqual({ ignored: 1 })
    expect((await call('vic', 'GET', '/api/tasks/people/record-errors')).json().items).toEqual([])
    // Unknown keys in the body, an unknown pair: refused.
    expect(
      (
        await call('ops', 'POST', '/api/tasks/people/record-errors/ignore', {
          records: [{ ...ref, x: 1 }],
        })
      ).statusCode,
    ).toBe(400)
    expect(
      (
        await call('ops', 'POST', '/api/tasks/people/record-errors/ignore', {
          records: [{ ...ref, pairId: 'nope' }],
        })
      ).statusCode,
    ).toBe(404)
  })

  it('shows the checkpoints per pair and side, and a reset pair syncs from scratch without duplicates', async () => {
    const shown = await call('vic', 'GET', '/api/tasks/people/checkpoints')
    expect(shown.statusCode).toBe(200)
    const items = shown.json().items
    expect(items.map((c: { system: string }) => c.system)).toEqual(['crm', 'erp'])
    expect(items[0].checkpoint).toMatchObject({ cursorField: 'updated_at' })

    expect((await call('ops', 'DELETE', '/api/tasks/people/checkpoints/people')).statusCode).toBe(
      403,
    )
    const reset = await call('ed', 'DELETE', '/api/tasks/people/checkpoints/people')
    expect(reset.statusCode).toBe(200)
    expect(reset.json().items).toEqual([
      { pairId: 'people', system: 'crm' },
      { pairId: 'people', system: 'erp' },
    ])
    const before = sql(erp, 'SELECT COUNT(*) AS n FROM people')
    const again = await run()
    // Every record is read again and found linked: nothing is created twice.
    expect(again.totals.read).toBeGreaterThanOrEqual(4)
    expect(again.totals.created).toBe(0)
    expect(sql(erp, 'SELECT COUNT(*) AS n FROM people')).toEqual(before)
    expect((await call('ed', 'DELETE', '/api/tasks/people/checkpoints/nope')).statusCode).toBe(404)
    expect(
      await server.store.audit.list({ taskId: 'people', action: 'checkpoints.reset' }),
    ).toHaveLength(1)
  })

  it('hides the task from a caller limited to other profiles, and knows no other task', async () => {
    for (const url of [
      '/api/tasks/people/conflicts',
      '/api/tasks/people/record-errors',
      '/api/tasks/people/checkpoints',
    ]) {
      const res = await call('lim', 'GET', url)
      expect(res.statusCode).toBe(404)
      expect(res.json().code).toBe('OSY_TASK_NOT_FOUND')
    }
    expect((await call('vic', 'GET', '/api/tasks/other/conflicts')).statusCode).toBe(404)
    expect((await call('vic', 'GET', '/api/tasks/..%2Fetc/conflicts')).statusCode).toBe(400)
  })

  it('lists the record errors and the audit events of every task the caller may see, paged', async () => {
    // A second task, created through the API (an audit event), with the systems swapped.
    const created = await call('ed', 'POST', '/api/tasks', {
      document: {
        id: 'people-back',
        subject: 'People back',
        systems: {
          erp: { bridge: 'sqlite', connection: { file: erp } },
          crm: { bridge: 'sqlite', connection: { file: crm } },
        },
        pairs: [
          {
            id: 'back',
            erp: { type: 'people' },
            crm: { type: 'people' },
            fields: { email: 'email' },
          },
        ],
        plan: { kind: 'manual' },
      },
    })
    expect(created.statusCode, created.body).toBe(201)
    // Errors as a run records them (quarantined at once, so no run retries them).
    const failures = (taskId: string, pairId: string, n: number) =>
      Array.from({ length: n }, (_, i) => ({
        taskId,
        pairId,
        direction: 0 as const,
        key: `${taskId}-${i}`,
        code: 'OSY_CONSTRAINT_VIOLATION',
        message: `failed ${i}`,
      }))
    await server.store.recordErrors.record(failures('people', 'people', 3), 1)
    await server.store.recordErrors.record(failures('people-back', 'back', 2), 1)
    await server.store.audit.add({ actor: 'test', action: 'user.added', target: 'zed' })

    // Two at a time, newest first, until the last page: every error once, with its task.
    const seen: { taskId: string; subject: string; from: string; key: string }[] = []
    let cursor: string | undefined
    for (let pages = 0; pages < 10; pages++) {
      const res = await call(
        'vic',
        'GET',
        `/api/record-errors?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      )
      expect(res.statusCode, res.body).toBe(200)
      seen.push(...res.json().items)
      cursor = res.json().nextCursor
      if (!cursor) break
    }
    // Besides these, the real one of the runs above (the name too long for the ERP).
    expect(new Set(seen.map((e) => `${e.taskId}/${e.key}`)).size).toBe(seen.length)
    expect(
      seen
        .map((e) => e.key)
        .filter((k) => k.startsWith('people'))
        .sort(),
    ).toEqual(['people-0', 'people-1', 'people-2', 'people-back-0', 'people-back-1'])
    // Sides are named by each task's own keys: the second task's first system is erp.
    expect(seen.find((e) => e.key === 'people-back-0')).toMatchObject({
      taskId: 'people-back',
      subject: 'People back',
      pairId: 'back',
      from: 'erp',
      to: 'crm',
      quarantined: true,
    })
    expect(seen.find((e) => e.key === 'people-0')).toMatchObject({ taskId: 'people', from: 'crm' })
    const one = await call('vic', 'GET', '/api/record-errors?task=people-back')
    expect(
      one
        .json()
        .items.map((e: { key: string }) => e.key)
        .sort(),
    ).toEqual(['people-back-0', 'people-back-1'])
    expect(one.json().nextCursor).toBeUndefined()
    // A caller limited to other profiles sees none of them, and no such task.
    expect((await call('lim', 'GET', '/api/record-errors')).json().items).toEqual([])
    expect((await call('lim', 'GET', '/api/record-errors?task=people')).statusCode).toBe(404)
    expect((await call('vic', 'GET', '/api/record-errors?cursor=bm9wZQ')).statusCode).toBe(400)

    // The audit events of both tasks, for a viewer; not the events of no task.
    const audit = await call('vic', 'GET', '/api/audit/tasks?limit=500')
    expect(audit.statusCode, audit.body).toBe(200)
    const events = audit.json().items as { taskId?: string; action: string }[]
    expect(new Set(events.map((e) => e.taskId))).toEqual(new Set(['people', 'people-back']))
    expect(events).toContainEqual(
      expect.objectContaining({ taskId: 'people-back', action: 'task.created' }),
    )
    expect(events.some((e) => e.action === 'user.added')).toBe(false)
    const paged = await call('vic', 'GET', '/api/audit/tasks?limit=1')
    expect(paged.json().items).toHaveLength(1)
    const next = await call(
      'vic',
      'GET',
      `/api/audit/tasks?limit=1&cursor=${paged.json().nextCursor}`,
    )
    expect(next.json().items[0].id).toBeLessThan(paged.json().items[0].id)
    const ofOne = (await call('vic', 'GET', '/api/audit/tasks?task=people-back')).json().items
    expect(ofOne.map((e: { taskId: string }) => e.taskId)).toEqual(['people-back'])
    expect((await call('lim', 'GET', '/api/audit/tasks')).json().items).toEqual([])
    expect((await call('lim', 'GET', '/api/audit/tasks?task=people')).statusCode).toBe(404)
  })
})

import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type ExecutionCounts,
  type Link,
  openStore,
  positionOf,
  type RecordErrorPosition,
  type Side,
  type Store,
} from '../../src/store/index.ts'
import { MIGRATION_NAMES } from '../../src/store/migration-provider.ts'
import { dialects, PG_URL, Recorder, type Target } from './store-targets.ts'

let nextTask = 0
/** A task id no other test uses, so tests share one store without seeing each other's rows. */
const newTask = () => `task-${++nextTask}-${randomBytes(3).toString('hex')}`

function link(taskId: string, pairId: string, i: number, overrides: Partial<Link> = {}): Link {
  return {
    taskId,
    pairId,
    keys: [`a${i}`, `b${i}`],
    base: [`{"name":"h${i}"}`, `{"name":"h${i}'"}`],
    syncedAt: '2024-05-01T10:00:00.000Z',
    ...overrides,
  }
}

const counts: ExecutionCounts = {
  people: {
    '0->1': {
      read: 10,
      created: 2,
      updated: 3,
      deleted: 1,
      unchanged: 4,
      conflicts: 0,
      errors: 0,
      unlinked: 0,
    },
    '1->0': {
      read: 5,
      created: 0,
      updated: 1,
      deleted: 0,
      unchanged: 3,
      conflicts: 1,
      errors: 1,
      unlinked: 0,
    },
  },
}

describe.each(dialects)('store on $name', (dialect) => {
  let target: Target
  let store: Store
  const recorder = new Recorder()

  beforeAll(async () => {
    target = await dialect.setup()
    store = await openStore({ ...target.options, log: recorder.log })
  })

  afterAll(async () => {
    await store?.close()
    await target?.teardown()
  })

  it('reports its dialect', () => {
    expect(store.dialect).toBe(dialect.name)
  })

  it('applies migrations once: a second open finds them applied and changes nothing', async () => {
    const { result: second, statements } = await recorder.during(() =>
      openStore({ ...target.options, log: recorder.log }),
    )
    try {
      expect(statements.filter((s) => /^\s*(create|alter|drop)\b/i.test(s.sql))).toEqual([])
      const applied = await target.query('select name from osy_migrations order by name')
      expect(applied.map((r) => r.name)).toEqual(MIGRATION_NAMES)
      // Both stores see the same data.
      const taskId = newTask()
      await store.tasks.touch(taskId)
      expect(await second.tasks.get(taskId)).toMatchObject({ taskId })
    } finally {
      await second.close()
    }
  })

  describe('links', () => {
    it('upserts, finds by either side, counts and removes', async () => {
      const taskId = newTask()
      const links = Array.from({ length: 5 }, (_, i) => link(taskId, 'people', i))
      await store.links.upsert(links)
      expect(await store.links.count(taskId, 'people')).toBe(5)
      expect(await store.links.count(taskId, 'other')).toBe(0)

      const by0 = await store.links.find(taskId, 'people', 0, ['a1', 'a3', 'a9', 'a1'])
      expect([...by0.keys()].sort()).toEqual(['a1', 'a3'])
      expect(by0.get('a1')).toEqual(links[1])

      const by1 = await store.links.find(taskId, 'people', 1, ['b4', 'a4'])
      expect([...by1.entries()]).toEqual([['b4', links[4]]])
      expect(await store.links.find(taskId, 'people', 0, [])).toEqual(new Map())

      expect(await store.links.remove(taskId, 'people', 1, ['b0', 'b2', 'b-none'])).toBe(2)
      expect(await store.links.remove(taskId, 'people', 0, ['a1'])).toBe(1)
      expect(await store.links.count(taskId, 'people')).toBe(2)
      const left = await store.links.find(taskId, 'people', 0, ['a0', 'a1', 'a2', 'a3', 'a4'])
      expect([...left.keys()].sort()).toEqual(['a3', 'a4'])
    })

    it('inserts new links plainly, and refuses one whose key is taken on either side', async () => {
      const taskId = newTask()
      const links = Array.from({ length: 3 }, (_, i) => link(taskId, 'people', i))
      await store.links.insert(links)
      expect(await store.links.count(taskId, 'people')).toBe(3)
      expect((await store.links.find(taskId, 'people', 1, ['b2'])).get('b2')).toEqual(links[2])
      // Not an upsert: a key already linked is an error, never a silent overwrite.
      const again = link(taskId, 'people', 1, { base: ['{"v":2}', '{"v":2}'] })
      await expect(store.transaction((tx) => tx.links.insert([again]))).rejects.toThrow(
        /links.insert/,
      )
      const taken1 = link(taskId, 'people', 9, { keys: ['a9', 'b0'] })
      await expect(store.links.insert([taken1])).rejects.toThrow(/links.insert/)
      expect((await store.links.find(taskId, 'people', 0, ['a1'])).get('a1')).toEqual(links[1])
      expect(await store.links.count(taskId, 'people')).toBe(3)
    })

    it('updates a link in place, including a changed key1 and a tombstone', async () => {
      const taskId = newTask()
      await store.links.upsert([link(taskId, 'people', 1)])
      const moved = link(taskId, 'people', 1, {
        keys: ['a1', 'b-new'],
        base: ['{"name":"x"}', '{"name":"y"}'],
        syncedAt: '2024-06-01T00:00:00.000Z',
        deleted: 1,
      })
      await store.links.upsert([moved])
      expect(await store.links.count(taskId, 'people')).toBe(1)
      expect((await store.links.find(taskId, 'people', 0, ['a1'])).get('a1')).toEqual(moved)
      expect((await store.links.find(taskId, 'people', 1, ['b1'])).size).toBe(0)
      expect((await store.links.find(taskId, 'people', 1, ['b-new'])).get('b-new')).toEqual(moved)

      // Back to live: the tombstone marker goes away.
      await store.links.upsert([{ ...moved, deleted: null }])
      const live = (await store.links.find(taskId, 'people', 0, ['a1'])).get('a1')
      expect(live?.deleted).toBeUndefined()
    })

    it('updates found links in place, and upserts those that are gone or moved since', async () => {
      const taskId = newTask()
      const links = Array.from({ length: 40 }, (_, i) => link(taskId, 'people', i))
      await store.links.insert(links)
      const later = '2024-07-01T00:00:00.000Z'
      const edited = links.map((l, i) => ({
        ...l,
        base: [`{"v":${i}}`, i % 2 ? `{"w":${i}}` : '='] as const,
        syncedAt: later,
        deleted: i === 3 ? (1 as const) : null,
      }))
      const { statements } = await recorder.during(() => store.links.update(edited))
      // SQLite updates by key; PostgreSQL's upsert is as cheap as its update.
      const inserts = statements.filter((st) => /insert into ("[^"]+"\.)?"osy_links"/.test(st.sql))
      expect(inserts).toHaveLength(dialect.name === 'sqlite' ? 0 : 1)
      const found = await store.links.find(
        taskId,
        'people',
        0,
        links.map((l) => l.keys[0]),
      )
      expect(found.size).toBe(40)
      for (const l of edited) {
        const { deleted, ...live } = l
        expect(found.get(l.keys[0])).toEqual(deleted === null ? live : l)
      }

      // One removed and one whose key1 changed meanwhile: the batch is written as upserts.
      await store.links.remove(taskId, 'people', 0, ['a5'])
      const moved = { ...link(taskId, 'people', 6, { keys: ['a6', 'b-moved'] }), syncedAt: later }
      await store.links.update([
        moved,
        { ...edited[5]!, deleted: null },
        { ...edited[7]!, deleted: null },
      ])
      const after = await store.links.find(taskId, 'people', 0, ['a5', 'a6', 'a7'])
      expect(after.get('a5')?.base).toEqual(edited[5]!.base)
      expect(after.get('a6')).toEqual(moved)
      expect((await store.links.find(taskId, 'people', 1, ['b6'])).size).toBe(0)
      expect(await store.links.count(taskId, 'people')).toBe(40)
    })

    it('keeps a dormant link (a record outside its filter) apart from a tombstone, and wakes it', async () => {
      const taskId = newTask()
      const asleep = { ...link(taskId, 'people', 1), outside: 1 as const }
      const gone = link(taskId, 'people', 2, { deleted: 1 })
      await store.links.upsert([asleep, gone])
      const found = await store.links.find(taskId, 'people', 0, ['a1', 'a2'])
      expect(found.get('a1')).toEqual(asleep)
      expect(found.get('a1')?.deleted).toBeUndefined()
      expect(found.get('a2')).toEqual(gone)
      expect(found.get('a2')?.outside).toBeUndefined()
      const scanned: (0 | 1 | null)[] = []
      for await (const links of store.links.scan(taskId, 'people'))
        for (const l of links) scanned.push(l.outside ?? null)
      expect(scanned).toEqual([1, null])

      await store.links.upsert([{ ...asleep, outside: null }])
      expect((await store.links.find(taskId, 'people', 0, ['a1'])).get('a1')).toEqual(
        link(taskId, 'people', 1),
      )
    })

    it('keeps keys and base state byte for byte, whatever characters they hold', async () => {
      const taskId = newTask()
      const odd = ['Zoë "Q" \\ back', '東京,{x}', '😀 NULL', "it's", 'NULL', '', ' ']
      const links = odd.map((key, i) =>
        link(taskId, 'people', i, {
          keys: [key, `${key}|1`],
          base: [JSON.stringify({ name: key, n: `a\\"b${i}` }), key],
          ...(i % 2 === 0 ? {} : { deleted: 1 as const }),
        }),
      )
      await store.links.upsert(links)
      const found = await store.links.find(
        taskId,
        'people',
        1,
        odd.map((k) => `${k}|1`),
      )
      expect(odd.map((k) => found.get(`${k}|1`))).toEqual(links)
    })

    it('takes the last of repeated links in one batch', async () => {
      const taskId = newTask()
      const first = link(taskId, 'people', 1)
      const last = link(taskId, 'people', 1, { base: ['{"v":2}', '{"v":2}'] })
      await store.links.upsert([first, link(taskId, 'people', 2), last])
      expect((await store.links.find(taskId, 'people', 0, ['a1'])).get('a1')).toEqual(last)
      expect(await store.links.count(taskId, 'people')).toBe(2)
    })

    it('keeps pairs and tasks apart', async () => {
      const taskId = newTask()
      const otherTask = newTask()
      await store.links.upsert([
        link(taskId, 'people', 1),
        link(taskId, 'orders', 1),
        link(otherTask, 'people', 1),
      ])
      expect((await store.links.find(taskId, 'people', 0, ['a1'])).get('a1')?.pairId).toBe('people')
      expect(await store.links.remove(taskId, 'people', 0, ['a1'])).toBe(1)
      expect(await store.links.count(taskId, 'orders')).toBe(1)
      expect(await store.links.count(otherTask, 'people')).toBe(1)
    })

    it('scans a pair with keyset pages, never OFFSET: in key0 byte order on PostgreSQL, as written on SQLite', async () => {
      const taskId = newTask()
      const keys = Array.from({ length: 2345 }, (_, i) => `k${i}`)
      // Upper case sorts before lower case and '_' between them in byte order, whatever the locale.
      keys.push('B', 'a', '_x', 'Z9')
      await store.links.upsert(
        keys.map((k, i) => link(taskId, 'people', i, { keys: [k, `o-${k}`] })),
      )
      await store.links.upsert([link(taskId, 'other-pair', 0)])

      const { result: pages, statements } = await recorder.during(async () => {
        const pages: Link[][] = []
        for await (const page of store.links.scan(taskId, 'people', 1000)) pages.push(page)
        return pages
      })
      expect(pages.map((p) => p.length)).toEqual([1000, 1000, 349])
      const scanned = pages.flat().map((l) => l.keys[0])
      expect(scanned).toEqual(dialect.name === 'postgres' ? [...keys].sort() : keys)
      expect(
        pages.flat().every((l) => l.pairId === 'people' && l.keys[1] === `o-${l.keys[0]}`),
      ).toBe(true)
      expect(statements).toHaveLength(3)
      expect(statements.some((s) => /\boffset\b/i.test(s.sql))).toBe(false)
    })

    it('tells whether a pair has links, and creates no pair to answer', async () => {
      const taskId = newTask()
      const pairRows = async () =>
        target.query(`select pair_id from osy_pairs where task_id = '${taskId}' order by pair_id`)
      expect(await store.links.exists(taskId, 'people')).toBe(false)
      // Reads and removals of a pair that has no row find nothing and leave no row behind.
      expect(await store.links.find(taskId, 'people', 1, ['b1'])).toEqual(new Map())
      expect(await store.links.remove(taskId, 'people', 0, ['a1'])).toBe(0)
      expect(await store.links.count(taskId, 'people')).toBe(0)
      for await (const _ of store.links.scan(taskId, 'people')) expect.unreachable()
      expect(await pairRows()).toEqual([])

      await store.links.upsert([link(taskId, 'people', 1), link(taskId, 'people', 2)])
      expect(await store.links.exists(taskId, 'people')).toBe(true)
      expect(await store.links.exists(taskId, 'orders')).toBe(false)
      expect(await store.links.exists(newTask(), 'people')).toBe(false)
      // A tombstone is a link too.
      await store.links.remove(taskId, 'people', 0, ['a1'])
      await store.links.upsert([link(taskId, 'people', 2, { deleted: 0 })])
      expect(await store.links.exists(taskId, 'people')).toBe(true)
      await store.links.remove(taskId, 'people', 1, ['b2'])
      expect(await store.links.exists(taskId, 'people')).toBe(false)
      expect(await pairRows()).toEqual([{ pair_id: 'people' }])
    })

    it('scans an empty pair without yielding', async () => {
      const pages: Link[][] = []
      for await (const page of store.links.scan(newTask(), 'people')) pages.push(page)
      expect(pages).toEqual([])
    })

    it('wraps a store failure in OSY_STORE_ERROR with its cause', async () => {
      const taskId = newTask()
      await store.links.upsert([link(taskId, 'people', 1), link(taskId, 'people', 2)])
      // A second link to the same record of side 1 breaks the unique (task, pair, key1) index.
      const error = await store.links
        .upsert([link(taskId, 'people', 3, { keys: ['a3', 'b1'] })])
        .catch((e: unknown) => e)
      expect(error).toMatchObject({ name: 'OpenSyncError', code: 'OSY_STORE_ERROR', kind: 'bug' })
      expect((error as Error).cause).toBeInstanceOf(Error)
      expect((error as { details: { systemCode?: string } }).details.systemCode).toMatch(
        /^(SQLITE_CONSTRAINT|23505)/,
      )
      expect(await store.links.count(taskId, 'people')).toBe(2)
    })
  })

  it('stores, replaces and forgets checkpoints per side', async () => {
    const taskId = newTask()
    expect(await store.checkpoints.get(taskId, 'people', 0)).toBeUndefined()
    const first = { cursorField: 'updated_at', position: ['2024-05-01T10:00:00.000000Z', '42'] }
    await store.checkpoints.set(taskId, 'people', 0, first)
    expect(await store.checkpoints.get(taskId, 'people', 0)).toEqual(first)
    expect(await store.checkpoints.get(taskId, 'people', 1)).toBeUndefined()

    const second = { cursorField: 'seq', position: [17, null, true] }
    await store.checkpoints.set(taskId, 'people', 0, second)
    await store.checkpoints.set(taskId, 'people', 1, first)
    expect(await store.checkpoints.get(taskId, 'people', 0)).toEqual(second)
    expect(await store.checkpoints.get(taskId, 'people', 1)).toEqual(first)

    await store.checkpoints.set(taskId, 'people', 0, null)
    expect(await store.checkpoints.get(taskId, 'people', 0)).toBeUndefined()
    expect(await store.checkpoints.get(taskId, 'people', 1)).toEqual(first)
  })

  describe('executions', () => {
    it('records start and finish, and lists newest first', async () => {
      const taskId = newTask()
      const first = await store.executions.start({ taskId, trigger: 'cli', dryRun: true })
      expect(typeof first).toBe('number')
      const running = await store.executions.get(first)
      expect(running).toMatchObject({
        id: first,
        taskId,
        trigger: 'cli',
        dryRun: true,
        status: 'running',
        counts: {},
      })
      expect(running?.endedAt).toBeUndefined()
      expect(running?.error).toBeUndefined()
      expect(Date.parse(running!.startedAt)).not.toBeNaN()

      await store.executions.finish(first, { status: 'succeeded', counts })
      const second = await store.executions.start({ taskId, trigger: 'plan', dryRun: false })
      await store.executions.finish(second, {
        status: 'failed',
        counts: {},
        error: { code: 'OSY_UNREACHABLE', message: 'crm is down' },
      })
      const third = await store.executions.start({ taskId, trigger: 'manual', dryRun: false })

      const done = await store.executions.get(first)
      expect(done).toMatchObject({ status: 'succeeded', counts, dryRun: true })
      expect(done!.endedAt! >= done!.startedAt).toBe(true)
      expect(await store.executions.get(second)).toMatchObject({
        status: 'failed',
        dryRun: false,
        error: { code: 'OSY_UNREACHABLE', message: 'crm is down' },
      })

      expect((await store.executions.list(taskId)).map((e) => e.id)).toEqual([third, second, first])
      expect((await store.executions.list(taskId, 2)).map((e) => e.id)).toEqual([third, second])
      expect(await store.executions.list(newTask())).toEqual([])
      expect(await store.executions.get(-1)).toBeUndefined()
    })

    it('refuses to finish an execution that does not exist', async () => {
      await expect(
        store.executions.finish(-1, { status: 'succeeded', counts: {} }),
      ).rejects.toMatchObject({ code: 'OSY_STORE_ERROR' })
    })

    it('keeps the protocol in order across calls, in one statement a call', async () => {
      const taskId = newTask()
      const id = await store.executions.start({ taskId, trigger: 'cli', dryRun: false })
      const other = await store.executions.start({
        taskId: newTask(),
        trigger: 'cli',
        dryRun: false,
      })
      const lines = Array.from({ length: 50 }, (_, i) => ({
        at: `2024-05-01T10:00:${String(i).padStart(2, '0')}.000Z`,
        level: 'info' as const,
        message: `line ${i}`,
      }))
      const { statements } = await recorder.during(() =>
        store.executions.log(id, [
          ...lines.slice(0, 49),
          { ...lines[49]!, level: 'warn', pairId: 'people', data: { key: 'a1', n: [1, 2] } },
        ]),
      )
      expect(statements).toHaveLength(1)
      await store.executions.log(other, [{ at: lines[0]!.at, level: 'error', message: 'other' }])
      await store.executions.log(id, [{ at: lines[0]!.at, level: 'error', message: 'last' }])
      await store.executions.log(id, [])

      const logs = await store.executions.logs(id)
      expect(logs.map((l) => l.message)).toEqual([...lines.map((l) => l.message), 'last'])
      expect(logs[0]).toEqual(lines[0])
      expect(logs[49]).toEqual({
        ...lines[49],
        level: 'warn',
        pairId: 'people',
        data: { key: 'a1', n: [1, 2] },
      })
      expect(await store.executions.logs(other)).toEqual([
        { at: lines[0]!.at, level: 'error', message: 'other' },
      ])
    })
  })

  describe('record errors', () => {
    it('counts attempts and quarantines a record after N failures', async () => {
      const taskId = newTask()
      const fail = (key: string, message = 'bad value') => ({
        taskId,
        pairId: 'people',
        direction: 0 as Side,
        key,
        code: 'OSY_WRONG_TYPE',
        message,
      })

      expect(await store.recordErrors.record([fail('a1'), fail('a2')], 3)).toEqual([
        { key: 'a1', attempts: 1, quarantined: false },
        { key: 'a2', attempts: 1, quarantined: false },
      ])
      expect(await store.recordErrors.record([fail('a1')], 3)).toEqual([
        { key: 'a1', attempts: 2, quarantined: false },
      ])
      expect(await store.recordErrors.pending(taskId, 'people', 0)).toEqual(['a1', 'a2'])

      // Listed twice in one call, a record fails once, with the last message.
      expect(await store.recordErrors.record([fail('a1'), fail('a1', 'still bad')], 3)).toEqual([
        { key: 'a1', attempts: 3, quarantined: true },
      ])
      expect(await store.recordErrors.pending(taskId, 'people', 0)).toEqual(['a2'])
      expect(await store.recordErrors.pending(taskId, 'people', 1)).toEqual([])

      const rows = await store.recordErrors.list(taskId)
      expect(rows).toHaveLength(2)
      expect(rows[0]).toMatchObject({
        taskId,
        pairId: 'people',
        direction: 0,
        key: 'a1',
        code: 'OSY_WRONG_TYPE',
        message: 'still bad',
        attempts: 3,
        quarantined: true,
      })
      expect(rows[0]!.lastAt >= rows[0]!.firstAt).toBe(true)

      // Success clears the error, quarantined or not; the other direction is untouched.
      await store.recordErrors.record([{ ...fail('a1'), direction: 1 }], 3)
      await store.recordErrors.clear(taskId, 'people', 0, ['a1', 'a2'])
      expect(await store.recordErrors.pending(taskId, 'people', 0)).toEqual([])
      expect(await store.recordErrors.list(taskId)).toMatchObject([
        { key: 'a1', direction: 1, attempts: 1 },
      ])
    })

    it('quarantines at once when quarantineAfter is 1', async () => {
      const taskId = newTask()
      const states = await store.recordErrors.record(
        [{ taskId, pairId: 'p', direction: 1, key: 'k', code: 'X', message: 'm' }],
        1,
      )
      expect(states).toEqual([{ key: 'k', attempts: 1, quarantined: true }])
      expect(await store.recordErrors.pending(taskId, 'p', 1)).toEqual([])
    })

    it('pages the errors of some tasks newest first, by position, without gaps or repeats', async () => {
      const base = newTask()
      const [t1, t2, t3] = [`${base}-a`, `${base}-b`, `${base}-c`]
      const fail = (taskId: string, key: string, direction: Side = 0) => ({
        taskId,
        pairId: 'p',
        direction,
        key,
        code: 'X',
        message: 'm',
      })
      // One call records them at the same instant: their identity orders them.
      await store.recordErrors.record(
        [fail(t1, 'a'), fail(t1, 'a', 1), fail(t1, 'b'), fail(t2, 'a'), fail(t3, 'z')],
        3,
      )
      await new Promise((resolve) => setTimeout(resolve, 5))
      await store.recordErrors.record([fail(t2, 'later')], 3)
      const seen: string[] = []
      let after: RecordErrorPosition | undefined
      for (let i = 0; i < 10; i++) {
        const page = await store.recordErrors.page({
          taskIds: [t1, t2],
          limit: 2,
          ...(after ? { after } : {}),
        })
        seen.push(...page.map((r) => `${r.taskId === t1 ? 't1' : 't2'}/${r.direction}/${r.key}`))
        if (page.length < 2) break
        after = positionOf(page.at(-1)!)
      }
      // The newest first; then by task, pair, direction and key, all descending.
      expect(seen[0]).toBe('t2/0/later')
      expect(seen.slice(1)).toEqual(['t2/0/a', 't1/1/a', 't1/0/b', 't1/0/a'])
      expect(await store.recordErrors.page({ taskIds: [], limit: 5 })).toEqual([])
      const all = await store.recordErrors.page({ limit: 500 })
      expect(all.filter((r) => r.taskId === t3).map((r) => r.key)).toEqual(['z'])
    })
  })

  describe('conflicts', () => {
    it('parks one open conflict per record and mapping, resolves and applies it', async () => {
      const taskId = newTask()
      const park = (mapping: string, values: readonly [unknown, unknown], key0 = 'a1') => ({
        taskId,
        pairId: 'people',
        keys: [key0, `b-${key0}`] as const,
        mapping,
        values,
      })
      await store.conflicts.park([park('email', ['x@a.de', 'y@b.de']), park('name', ['A', 'B'])])
      await store.conflicts.park([park('email', ['x@a.de', 'z@c.de'])])
      await store.conflicts.park([park('phone', [null, { n: 1 }], 'a2')])

      const open = await store.conflicts.open(taskId)
      expect(open.map((c) => [c.keys[0], c.mapping, c.values])).toEqual([
        ['a1', 'email', ['x@a.de', 'z@c.de']],
        ['a1', 'name', ['A', 'B']],
        ['a2', 'phone', [null, { n: 1 }]],
      ])
      expect(open[0]).toMatchObject({ taskId, pairId: 'people', keys: ['a1', 'b-a1'] })
      expect(open[0]?.winner).toBeUndefined()
      expect(await store.conflicts.open(taskId, 'other')).toEqual([])
      expect(await store.conflicts.open(taskId, 'people')).toHaveLength(3)

      const email = open[0]!.id
      await store.conflicts.resolve(email, 1)
      expect((await store.conflicts.open(taskId)).map((c) => c.id)).not.toContain(email)
      const resolved = await store.conflicts.resolvedFor(taskId, 'people', ['a1', 'a9'])
      expect(resolved).toHaveLength(1)
      expect(resolved[0]).toMatchObject({ id: email, winner: 1, values: ['x@a.de', 'z@c.de'] })
      expect(resolved[0]?.resolvedAt).toBeDefined()

      // A new conflict on the same field while the resolution waits is a separate open one.
      await store.conflicts.park([park('email', ['x@a.de', 'w@d.de'])])
      expect(
        (await store.conflicts.open(taskId)).filter((c) => c.mapping === 'email'),
      ).toHaveLength(1)

      await store.conflicts.markApplied([email])
      expect(await store.conflicts.resolvedFor(taskId, 'people', ['a1'])).toEqual([])
      await expect(store.conflicts.resolve(email, 0)).rejects.toMatchObject({
        code: 'OSY_RECORD_NOT_FOUND',
      })
      await expect(store.conflicts.resolve(-1, 0)).rejects.toMatchObject({
        code: 'OSY_RECORD_NOT_FOUND',
      })
    })
  })

  describe('intents', () => {
    it('returns ids in entry order, lists open intents, removes them', async () => {
      const taskId = newTask()
      const entries = Array.from({ length: 7 }, (_, i) => ({
        taskId,
        pairId: 'people',
        direction: (i % 2) as Side,
        sourceKey: `s${i}`,
        match: { email: `p${i}@x.de` },
      }))
      const ids = await store.intents.add(entries)
      expect(ids).toHaveLength(7)
      expect(new Set(ids).size).toBe(7)

      const open0 = await store.intents.open(taskId, 'people', 0)
      expect(open0.map((i) => [i.id, i.sourceKey, i.match])).toEqual(
        [0, 2, 4, 6].map((n) => [ids[n], `s${n}`, { email: `p${n}@x.de` }]),
      )
      expect(open0[0]).toMatchObject({ taskId, pairId: 'people', direction: 0 })

      await store.intents.remove([ids[0]!, ids[1]!, ids[0]!])
      expect((await store.intents.open(taskId, 'people', 0)).map((i) => i.sourceKey)).toEqual([
        's2',
        's4',
        's6',
      ])
      expect((await store.intents.open(taskId, 'people', 1)).map((i) => i.sourceKey)).toEqual([
        's3',
        's5',
      ])
      expect(await store.intents.add([])).toEqual([])
    })
  })

  it('remembers when a task last ran', async () => {
    const taskId = newTask()
    expect(await store.tasks.get(taskId)).toBeUndefined()
    await store.tasks.touch(taskId)
    const first = await store.tasks.get(taskId)
    expect(first?.taskId).toBe(taskId)
    expect(Date.parse(first!.lastRunAt!)).not.toBeNaN()
    await new Promise((r) => setTimeout(r, 5))
    await store.tasks.touch(taskId)
    expect((await store.tasks.get(taskId))!.lastRunAt! > first!.lastRunAt!).toBe(true)
  })

  it('removeTask removes all metadata of that task and only of that task', async () => {
    const [gone, kept] = [newTask(), newTask()]
    const executions = new Map<string, number>()
    for (const taskId of [gone, kept]) {
      await store.links.upsert([link(taskId, 'people', 1), link(taskId, 'orders', 2)])
      await store.checkpoints.set(taskId, 'people', 0, { cursorField: 'id', position: [1] })
      await store.recordErrors.record(
        [{ taskId, pairId: 'people', direction: 0, key: 'a1', code: 'X', message: 'm' }],
        3,
      )
      await store.conflicts.park([
        { taskId, pairId: 'people', keys: ['a1', 'b1'], mapping: 'name', values: [1, 2] },
      ])
      await store.intents.add([
        { taskId, pairId: 'people', direction: 0, sourceKey: 'a9', match: null },
      ])
      const id = await store.executions.start({ taskId, trigger: 'cli', dryRun: false })
      await store.executions.log(id, [
        { at: '2024-05-01T00:00:00.000Z', level: 'info', message: 'x' },
      ])
      await store.changes.add(id, [
        { pairId: 'people', direction: 0, op: 'create', sourceKey: 'a1', targetKey: 'b1' },
      ])
      executions.set(taskId, id)
      await store.tasks.touch(taskId)
    }

    const pairsOf = async (taskId: string) =>
      (await target.query(`select id from osy_pairs where task_id = '${taskId}'`)).map((r) => r.id)
    const linksOf = async (refs: unknown[]) =>
      target.query(`select * from osy_links where pair in (${refs.join(', ')})`)
    const goneRefs = await pairsOf(gone)
    expect(goneRefs).toHaveLength(2)
    expect(await linksOf(goneRefs)).toHaveLength(2)

    await store.links.removeTask(gone)

    expect(await pairsOf(gone)).toEqual([])
    expect(await linksOf(goneRefs)).toEqual([])
    expect(await store.links.exists(gone, 'people')).toBe(false)
    expect(await store.links.count(gone, 'people')).toBe(0)
    expect(await store.links.count(gone, 'orders')).toBe(0)
    expect(await store.checkpoints.get(gone, 'people', 0)).toBeUndefined()
    expect(await store.recordErrors.list(gone)).toEqual([])
    expect(await store.conflicts.open(gone)).toEqual([])
    expect(await store.intents.open(gone, 'people', 0)).toEqual([])
    expect(await store.executions.list(gone)).toEqual([])
    expect(await store.executions.logs(executions.get(gone)!)).toEqual([])
    expect(await store.changes.list(executions.get(gone)!)).toEqual([])
    expect(await store.tasks.get(gone)).toBeUndefined()
    for (const table of [
      'osy_checkpoints',
      'osy_record_errors',
      'osy_conflicts',
      'osy_intents',
      'osy_executions',
      'osy_task_meta',
    ]) {
      expect(await target.query(`select * from ${table} where task_id = '${gone}'`)).toEqual([])
    }

    expect(await store.links.count(kept, 'people')).toBe(1)
    expect(await store.links.count(kept, 'orders')).toBe(1)
    expect(await pairsOf(kept)).toHaveLength(2)
    expect(await store.checkpoints.get(kept, 'people', 0)).toBeDefined()
    expect(await store.recordErrors.list(kept)).toHaveLength(1)
    expect(await store.conflicts.open(kept)).toHaveLength(1)
    expect(await store.intents.open(kept, 'people', 0)).toHaveLength(1)
    expect(await store.executions.list(kept)).toHaveLength(1)
    expect(await store.executions.logs(executions.get(kept)!)).toHaveLength(1)
    expect(await store.changes.list(executions.get(kept)!)).toHaveLength(1)
    expect(await store.tasks.get(kept)).toBeDefined()
  })

  describe('transactions', () => {
    it.runIf(dialect.name === 'sqlite')(
      'a transaction takes the write lock when it begins: a write elsewhere cannot make it stale',
      async () => {
        const taskId = newTask()
        await store.links.upsert([link(taskId, 'people', 1)])
        // Another process's connection, impatient so the test does not wait out 5 s.
        const other = new Database(target.options.url!, { timeout: 100 })
        try {
          let refused: unknown
          await store.transaction(async (tx) => {
            // A read first, as a batch's commit reads its pair's ref.
            expect(await tx.links.count(taskId, 'people')).toBe(1)
            try {
              other
                .prepare("insert into osy_task_meta (task_id, last_run_at) values ('x', 'y')")
                .run()
            } catch (error) {
              refused = error
            }
            // Begun deferred, this write failed with SQLITE_BUSY: the other commit came between.
            await tx.links.insert([link(taskId, 'people', 2)])
          })
          expect((refused as { code?: string } | undefined)?.code).toBe('SQLITE_BUSY')
          expect(await store.links.count(taskId, 'people')).toBe(2)
        } finally {
          other.close()
        }
      },
    )

    it('commits everything fn wrote', async () => {
      const taskId = newTask()
      const analyzed = await target.linksAnalyzed()
      const value = await store.transaction(async (tx) => {
        // 1,500 links of a new pair: PostgreSQL's statistics are refreshed after the commit.
        await tx.links.upsert(Array.from({ length: 1500 }, (_, i) => link(taskId, 'people', i)))
        await tx.checkpoints.set(taskId, 'people', 0, { cursorField: 'id', position: [1] })
        // Reads inside see the transaction's own writes.
        expect(await tx.links.count(taskId, 'people')).toBe(1500)
        return 'done'
      })
      expect(value).toBe('done')
      expect(await store.links.count(taskId, 'people')).toBe(1500)
      if (dialect.name === 'postgres') expect(await target.linksAnalyzed()).toBe(analyzed + 1)
      expect(await store.checkpoints.get(taskId, 'people', 0)).toEqual({
        cursorField: 'id',
        position: [1],
      })
    })

    it('refreshes planner statistics for links added, not for links updated', async () => {
      const taskId = newTask()
      const links = Array.from({ length: 1500 }, (_, i) => link(taskId, 'people', i))
      await store.transaction((tx) => tx.links.upsert(links))
      // A later run is a new process: its count of the pair's links starts from zero.
      const later = await openStore(target.options)
      try {
        const analyzed = await target.linksAnalyzed()
        const updated = links.map((l) => ({ ...l, base: ['{"a":"changed"}', '='] as const }))
        await later.transaction((tx) => tx.links.upsert(updated))
        await later.transaction((tx) => tx.links.update(updated))
        expect(await target.linksAnalyzed()).toBe(analyzed)
        // 1,000 new links among updated ones cross the first threshold.
        const more = Array.from({ length: 1000 }, (_, i) => link(taskId, 'people', 1500 + i))
        await later.transaction((tx) => tx.links.upsert([...updated, ...more]))
        if (dialect.name === 'postgres') expect(await target.linksAnalyzed()).toBe(analyzed + 1)
        expect((await later.links.find(taskId, 'people', 0, ['a0'])).get('a0')?.base).toEqual([
          '{"a":"changed"}',
          '=',
        ])
      } finally {
        await later.close()
      }
    })

    it('rolls back everything fn wrote when it throws, and rethrows its error', async () => {
      const taskId = newTask()
      const thrown = new Error('target write failed')
      let executionId = 0
      const error = await store
        .transaction(async (tx) => {
          // Several chunks, so the multi-statement path joins the transaction too.
          await tx.links.upsert(Array.from({ length: 2500 }, (_, i) => link(taskId, 'people', i)))
          await tx.checkpoints.set(taskId, 'people', 1, { cursorField: 'id', position: [9] })
          await tx.recordErrors.record(
            [{ taskId, pairId: 'people', direction: 0, key: 'a1', code: 'X', message: 'm' }],
            3,
          )
          await tx.intents.add([
            { taskId, pairId: 'people', direction: 0, sourceKey: 'a1', match: null },
          ])
          executionId = await tx.executions.start({ taskId, trigger: 'cli', dryRun: false })
          await tx.tasks.touch(taskId)
          throw thrown
        })
        .catch((e: unknown) => e)
      expect(error).toBe(thrown)

      expect(await store.links.count(taskId, 'people')).toBe(0)
      expect(await store.checkpoints.get(taskId, 'people', 1)).toBeUndefined()
      expect(await store.recordErrors.list(taskId)).toEqual([])
      expect(await store.intents.open(taskId, 'people', 0)).toEqual([])
      expect(await store.executions.get(executionId)).toBeUndefined()
      expect(await store.tasks.get(taskId)).toBeUndefined()
    })

    it('refuses nested transactions and the outer repos inside fn, instead of hanging', async () => {
      const taskId = newTask()
      const hung = Symbol('hung')
      const outcome = await Promise.race([
        store.transaction(async (tx) => {
          await tx.links.upsert([link(taskId, 'people', 1)])
          await expect(store.transaction(async () => 1)).rejects.toMatchObject({
            code: 'OSY_INTERNAL',
          })
          await expect(store.links.count(taskId, 'people')).rejects.toMatchObject({
            code: 'OSY_INTERNAL',
          })
          return 'ok'
        }),
        new Promise((resolve) => setTimeout(() => resolve(hung), 10_000)),
      ])
      expect(outcome).toBe('ok')
      expect(await store.links.count(taskId, 'people')).toBe(1)
    })
  })

  it('upserts 100,000 links and finds 10,000 by key in a few statements, each served by an index', async () => {
    const taskId = newTask()
    const total = 100_000
    const links = Array.from({ length: total }, (_, i) => link(taskId, 'people', i))

    let started = performance.now()
    const upsert = await recorder.during(() => store.links.upsert(links))
    const upsertMs = performance.now() - started
    expect(await store.links.count(taskId, 'people')).toBe(total)
    // One statement per link would be 100,000; chunks of rows keep it near a hundred.
    expect(upsert.statements.length).toBeLessThanOrEqual(120)
    // SQLite binds at most 32766 parameters, PostgreSQL 65535.
    expect(Math.max(...upsert.statements.map((s) => s.parameters.length))).toBeLessThan(32_766)

    const wanted = Array.from({ length: 10_000 }, (_, i) => `b${i * 10 + 3}`)
    started = performance.now()
    const find = await recorder.during(() => store.links.find(taskId, 'people', 1, wanted))
    const findMs = performance.now() - started
    expect(find.result.size).toBe(10_000)
    expect(find.result.get('b99993')).toEqual(links[99_993])
    expect(find.statements).toHaveLength(20)
    expect(find.statements.every((s) => s.parameters.length <= 502)).toBe(true)

    console.info(
      `[store ${dialect.name}] upsert of ${total} links: ${upsertMs.toFixed(0)} ms in ` +
        `${upsert.statements.length} statements; find of ${wanted.length} keys: ` +
        `${findMs.toFixed(0)} ms in ${find.statements.length} statements`,
    )

    // Every sync-path read, delete and update goes through an index, and lookups by key put
    // the key in the index condition: with 100,000 links of one task and pair, a plan that
    // reads every link of the pair and filters afterwards is ten times slower and grows with
    // the table. The planners choose it when they believe the pair is small, as PostgreSQL's
    // statistics say here (gathered when the table held a few links of other tasks).
    const sample = (side: Side) =>
      wanted.slice(0, 500).map((k) => (side === 0 ? `a${k.slice(1)}` : k))
    await store.conflicts.park([
      { taskId, pairId: 'people', keys: ['a3', 'b3'], mapping: 'name', values: [1, 2] },
    ])
    const calls: [string, () => Promise<unknown>, ('key0' | 'key1')?][] = [
      ['links.find by key0', () => store.links.find(taskId, 'people', 0, sample(0)), 'key0'],
      ['links.find by key1', () => store.links.find(taskId, 'people', 1, sample(1)), 'key1'],
      ['links.remove by key0', () => store.links.remove(taskId, 'people', 0, ['a-', 'a+']), 'key0'],
      ['links.remove by key1', () => store.links.remove(taskId, 'people', 1, ['b-', 'b+']), 'key1'],
      ['links.exists', () => store.links.exists(taskId, 'people')],
      ['links.count', () => store.links.count(taskId, 'people')],
      [
        'links.scan',
        async () => {
          let pages = 0
          for await (const _ of store.links.scan(taskId, 'people', 1000)) if (++pages === 2) break
        },
      ],
      ['checkpoints.get', () => store.checkpoints.get(taskId, 'people', 0)],
      ['checkpoints.set null', () => store.checkpoints.set(taskId, 'people', 0, null)],
      ['recordErrors.pending', () => store.recordErrors.pending(taskId, 'people', 0)],
      ['recordErrors.clear', () => store.recordErrors.clear(taskId, 'people', 0, ['a1', 'a2'])],
      ['intents.open', () => store.intents.open(taskId, 'people', 0)],
      ['intents.remove', () => store.intents.remove([-1, -2])],
      ['conflicts.resolvedFor', () => store.conflicts.resolvedFor(taskId, 'people', ['a3', 'a4'])],
      ['conflicts.markApplied', () => store.conflicts.markApplied([-1])],
    ]
    for (const [name, call, keyColumn] of calls) {
      const { statements } = await recorder.during(call)
      expect(statements.length, name).toBeGreaterThan(0)
      for (const statement of statements) {
        const plan = await target.explain(statement)
        const context = `${name}\n${statement.sql}\n${plan.join('\n')}`
        expect(
          plan.filter((line) => dialect.fullScan.test(line)),
          context,
        ).toEqual([])
        if (keyColumn !== undefined) {
          expect(
            plan.some((line) => dialect.keyLookup(keyColumn).test(line)),
            context,
          ).toBe(true)
        }
      }
    }
  })
})

describe('openStore', () => {
  it('opens SQLite from a plain path, a sqlite: URL and the default file under the working directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'osy-store-'))
    const cwd = process.cwd()
    try {
      const file = join(dir, 'nested', 'meta.db')
      const plain = await openStore({ url: file })
      await plain.tasks.touch('t1')
      await plain.close()
      await plain.close()
      await expect(plain.tasks.get('t1')).rejects.toMatchObject({ code: 'OSY_STORE_ERROR' })

      const viaUrl = await openStore({ url: `sqlite:${file}` })
      expect(viaUrl.dialect).toBe('sqlite')
      expect(await viaUrl.tasks.get('t1')).toMatchObject({ taskId: 't1' })
      await viaUrl.close()

      process.chdir(dir)
      const fallback = await openStore()
      await fallback.tasks.touch('t2')
      await fallback.close()
      const again = new Database(join(dir, '.data', 'opensync.db'))
      expect(again.prepare('select task_id from osy_task_meta').all()).toEqual([{ task_id: 't2' }])
      expect(again.prepare('pragma journal_mode').get()).toEqual({ journal_mode: 'wal' })
      again.close()
    } finally {
      process.chdir(cwd)
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('takes the PostgreSQL schema from ?schema= and creates it', async () => {
    const schema = `osy_store_${randomBytes(5).toString('hex')}`
    const client = new pg.Client({ connectionString: PG_URL })
    await client.connect()
    try {
      const store = await openStore({ url: `${PG_URL}?schema=${schema}` })
      expect(store.dialect).toBe('postgres')
      await store.tasks.touch('t1')
      await store.close()
      const { rows } = await client.query(`select task_id from "${schema}".osy_task_meta`)
      expect(rows).toEqual([{ task_id: 't1' }])
    } finally {
      await client.query(`drop schema if exists "${schema}" cascade`)
      await client.end()
    }
  })

  it('refuses URLs it cannot serve with a clear error', async () => {
    await expect(openStore({ url: 'mysql://root@localhost/x' })).rejects.toMatchObject({
      code: 'OSY_INVALID_OPTION',
      details: { field: 'url' },
    })
    await expect(openStore({ url: ':memory:', schema: 'x' })).rejects.toMatchObject({
      code: 'OSY_INVALID_OPTION',
      details: { field: 'schema' },
    })
  })

  it('reports an unreachable PostgreSQL as a transient store error', async () => {
    await expect(
      openStore({ url: 'postgres://postgres@127.0.0.1:1/test', schema: 'x' }),
    ).rejects.toMatchObject({ code: 'OSY_STORE_ERROR', kind: 'transient' })
  })
})

import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Link, openStore, type Store } from '../../src/store/index.ts'
import { MIGRATION_NAMES } from '../../src/store/migration-provider.ts'
import { dialects, Recorder, type Target } from './store-targets.ts'

/** A task id no other test uses. */
const newTask = () => `task-${randomBytes(4).toString('hex')}`

function link(taskId: string, pairId: string, i: number, overrides: Partial<Link> = {}): Link {
  return {
    taskId,
    pairId,
    keys: [`a${i}`, `b${i}`],
    base: [`{"name":"h${i}"}`, '='],
    syncedAt: '2024-05-01T10:00:00.000Z',
    ...overrides,
  }
}

/** The keys on side 0 of the pair's links that `store` finds among a0…a9. */
async function keysFound(store: Store, taskId: string, pairId: string): Promise<string[]> {
  const probe = Array.from({ length: 10 }, (_, i) => `a${i}`)
  return [...(await store.links.find(taskId, pairId, 0, probe)).keys()].sort()
}

describe.each(dialects)('pair refs on $name', (dialect) => {
  it('carries the links of a store made before 0003 over, pair by pair', async () => {
    const target = await dialect.setup()
    let store: Store | undefined
    try {
      await target.migrateTo('0002-service')
      // Written the way 0001 stored links: the task and pair ids in every row.
      const old: [string, string, string, string, string, string, string, number | null][] = [
        ['t1', 'people', 'a1', 'b1', '{"name":"h1"}', '=', '2024-05-01T10:00:00.000Z', null],
        ['t1', 'people', 'B', 'bB', '{"name":"hB"}', '{"name":"x"}', '2024-05-02T00:00:00.000Z', 1],
        ['t1', 'people', '_x', 'b_x', '{}', '{}', '2024-05-01T10:00:00.000Z', null],
        ['t1', 'people', 'Z9', "b'9", '{}', '{}', '2024-05-01T10:00:00.000Z', 0],
        ['t1', 'orders', 'a1', 'o1', '{}', '=', '2024-05-01T10:00:00.000Z', null],
        ['t2', 'people', 'a1', 'b1', '{"name":"t2"}', '=', '2024-05-01T10:00:00.000Z', null],
      ]
      const literal = (v: string | number | null) =>
        v === null ? 'null' : typeof v === 'number' ? String(v) : `'${v.replaceAll("'", "''")}'`
      await target.query(
        `insert into osy_links (task_id, pair_id, key0, key1, base0, base1, synced_at, deleted) values ${old
          .map((row) => `(${row.map(literal).join(', ')})`)
          .join(', ')}`,
      )
      const asLink = ([
        taskId,
        pairId,
        key0,
        key1,
        base0,
        base1,
        syncedAt,
        deleted,
      ]: (typeof old)[number]): Link => ({
        taskId,
        pairId,
        keys: [key0, key1],
        base: [base0, base1],
        syncedAt,
        ...(deleted === null ? {} : { deleted: deleted as 0 | 1 }),
      })

      store = await openStore(target.options)

      const applied = await target.query('select name from osy_migrations order by name')
      expect(applied.map((r) => r.name)).toEqual(MIGRATION_NAMES)
      const pairs = await target.query('select task_id, pair_id from osy_pairs order by id')
      expect(pairs).toEqual([
        { task_id: 't1', pair_id: 'orders' },
        { task_id: 't1', pair_id: 'people' },
        { task_id: 't2', pair_id: 'people' },
      ])
      await expect(target.query('select * from osy_links_0002')).rejects.toThrow()

      // Every link reads back as it was, in byte order of key0 as before.
      const scanned: Link[] = []
      for await (const page of store.links.scan('t1', 'people', 2)) scanned.push(...page)
      expect(scanned).toEqual([old[1], old[3], old[2], old[0]].map((row) => asLink(row!)))
      const byKey1 = await store.links.find('t1', 'people', 1, ["b'9", 'bB', 'b1'])
      expect(byKey1.get("b'9")).toEqual(asLink(old[3]!))
      expect(byKey1.size).toBe(3)
      expect(await store.links.find('t1', 'orders', 0, ['a1'])).toEqual(
        new Map([['a1', asLink(old[4]!)]]),
      )
      expect((await store.links.find('t2', 'people', 0, ['a1'])).get('a1')).toEqual(asLink(old[5]!))
      expect(await store.links.count('t1', 'people')).toBe(4)
      expect(await store.links.exists('t2', 'people')).toBe(true)

      // The carried-over links are keyed as new ones: an upsert updates them in place, a new
      // pair gets a ref of its own, and key1 stays unique per pair.
      const moved = asLink(old[0]!)
      await store.links.upsert([{ ...moved, keys: ['a1', 'b-new'] }, link('t3', 'people', 1)])
      expect((await store.links.find('t1', 'people', 1, ['b-new'])).get('b-new')?.keys).toEqual([
        'a1',
        'b-new',
      ])
      expect(await store.links.count('t1', 'people')).toBe(4)
      expect(await keysFound(store, 't3', 'people')).toEqual(['a1'])
      await expect(store.links.upsert([{ ...moved, keys: ['a2', 'bB'] }])).rejects.toMatchObject({
        code: 'OSY_STORE_ERROR',
      })
    } finally {
      await store?.close()
      await target.teardown()
    }
  })

  describe('two stores on one database', () => {
    let target: Target
    let a: Store
    let b: Store
    const recorder = new Recorder()
    /** Whether a's statements while fn runs read the pairs table, i.e. a had no ref at hand. */
    const looksUpPair = async (fn: () => Promise<unknown>) => {
      const { statements } = await recorder.during(fn)
      return statements.some((s) => /osy_pairs/.test(s.sql) && !/osy_links/.test(s.sql))
    }
    const pairRows = async (taskId: string) =>
      target.query(`select id, pair_id from osy_pairs where task_id = '${taskId}' order by pair_id`)

    beforeAll(async () => {
      target = await dialect.setup()
      a = await openStore({ ...target.options, log: recorder.log })
      b = await openStore(target.options)
    })

    afterAll(async () => {
      await a?.close()
      await b?.close()
      await target?.teardown()
    })

    it('keeps no ref of a pair created in a transaction that rolled back', async () => {
      const taskId = newTask()
      const failure = new Error('target write failed')
      const outcome = a.transaction(async (tx) => {
        await tx.links.upsert([link(taskId, 'people', 1)])
        expect(await tx.links.exists(taskId, 'people')).toBe(true)
        throw failure
      })
      await expect(outcome).rejects.toBe(failure)
      expect(await pairRows(taskId)).toEqual([])

      // Other pairs take the numbers that follow; on SQLite the rolled-back row's own number
      // comes back too, as the next pair's. A store that kept it would read that pair's links.
      await b.links.upsert([link(taskId, 'orders', 1)])
      await b.links.upsert([link(taskId, 'people', 2)])
      expect(await looksUpPair(() => keysFound(a, taskId, 'people'))).toBe(true)
      expect(await keysFound(a, taskId, 'people')).toEqual(['a2'])
      await a.links.upsert([link(taskId, 'people', 3)])
      expect(await keysFound(b, taskId, 'people')).toEqual(['a2', 'a3'])
      expect(await keysFound(b, taskId, 'orders')).toEqual(['a1'])
      expect((await pairRows(taskId)).map((r) => r.pair_id)).toEqual(['orders', 'people'])
    })

    it('keeps the ref of a pair a transaction created once it commits', async () => {
      const taskId = newTask()
      await a.transaction((tx) => tx.links.upsert([link(taskId, 'people', 1)]))
      await b.links.upsert([link(taskId, 'people', 2)])
      expect(await looksUpPair(() => keysFound(a, taskId, 'people'))).toBe(false)
      expect(await keysFound(a, taskId, 'people')).toEqual(['a1', 'a2'])
      expect(await pairRows(taskId)).toHaveLength(1)
    })

    it('gives two stores that create the same pairs at once the same refs', async () => {
      const taskId = newTask()
      const pairIds = Array.from({ length: 10 }, (_, i) => `pair-${i}`)
      await Promise.all(
        [a, b].flatMap((store, s) =>
          pairIds.map((pairId) => store.links.upsert([link(taskId, pairId, s)])),
        ),
      )
      expect((await pairRows(taskId)).map((r) => r.pair_id)).toEqual(pairIds)
      for (const pairId of pairIds) {
        expect(await keysFound(a, taskId, pairId)).toEqual(['a0', 'a1'])
        expect(await keysFound(b, taskId, pairId)).toEqual(['a0', 'a1'])
      }
    })

    // Only PostgreSQL lets the second store write while the first holds its transaction open;
    // on SQLite it would wait for the file's write lock.
    it.runIf(dialect.name === 'postgres')(
      'waits for a pair another store is creating in a transaction, then shares its ref',
      async () => {
        const taskId = newTask()
        let created!: () => void
        let release!: () => void
        const pairCreated = new Promise<void>((resolve) => {
          created = resolve
        })
        const released = new Promise<void>((resolve) => {
          release = resolve
        })
        const first = a.transaction(async (tx) => {
          await tx.links.upsert([link(taskId, 'people', 1)])
          created()
          await released
        })
        await pairCreated
        let secondDone = false
        const second = b.links.upsert([link(taskId, 'people', 2)]).then(() => {
          secondDone = true
        })
        await new Promise((resolve) => setTimeout(resolve, 200))
        expect(secondDone).toBe(false)
        release()
        await Promise.all([first, second])
        expect(await pairRows(taskId)).toHaveLength(1)
        expect(await keysFound(a, taskId, 'people')).toEqual(['a1', 'a2'])
        expect(await keysFound(b, taskId, 'people')).toEqual(['a1', 'a2'])
      },
    )

    it('reads and writes a pair afresh after the other store removed its task', async () => {
      const taskId = newTask()
      await a.links.upsert([link(taskId, 'people', 1)])
      await b.links.removeTask(taskId)
      await b.links.upsert([link(taskId, 'people', 2)])
      // exists, which a run asks first, reads the new ref: a finds b's link, not nothing.
      expect(await a.links.exists(taskId, 'people')).toBe(true)
      expect(await keysFound(a, taskId, 'people')).toEqual(['a2'])

      await b.links.removeTask(taskId)
      await b.links.upsert([link(taskId, 'people', 3)])
      // a's kept ref names a removed row now: its upsert lands in the pair b sees, not under it.
      await a.links.upsert([link(taskId, 'people', 4)])
      expect(await keysFound(b, taskId, 'people')).toEqual(['a3', 'a4'])
      expect(await pairRows(taskId)).toHaveLength(1)
    })
  })
})

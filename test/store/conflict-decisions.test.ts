import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { jsonNumber } from '../../src/sdk/json.ts'
import { openStore, type Store } from '../../src/store/index.ts'
import { MIGRATION_NAMES } from '../../src/store/migration-provider.ts'
import { dialects, type Target } from './store-targets.ts'

// Migration 0004: a parked conflict is decided by a winner or by a value (issue 10, item 11).
describe.each(dialects)('conflict decisions on $name', (dialect) => {
  let target: Target
  let store: Store
  const newTask = () => `cd-${randomBytes(4).toString('hex')}`
  const park = (taskId: string, key0: string, mapping = 'city', pairId = 'people') => ({
    taskId,
    pairId,
    keys: [key0, `b-${key0}`] as const,
    mapping,
    values: [{ city: 'A' }, { city: 'B' }] as const,
  })

  beforeAll(async () => {
    target = await dialect.setup()
    store = await openStore(target.options)
  })
  afterAll(async () => {
    await store?.close()
    await target?.teardown()
  })

  it('resolve takes a value (exact numbers and null too) or a winner; the last decision counts', async () => {
    const taskId = newTask()
    await store.conflicts.park([park(taskId, 'a1'), park(taskId, 'a2'), park(taskId, 'a3')])
    const [one, two, three] = await store.conflicts.open(taskId)
    const big = jsonNumber('12345678901234567890')
    await store.conflicts.resolve(one!.id, { value: { n: big } })
    await store.conflicts.resolve(two!.id, { value: null })
    await store.conflicts.resolve(three!.id, { value: 'first' })
    await store.conflicts.resolve(three!.id, { winner: 0 })

    const a = await store.conflicts.get(one!.id)
    expect(JSON.stringify(a!.value)).toBe('{"n":12345678901234567890}')
    expect(a!.winner).toBeUndefined()
    const b = await store.conflicts.get(two!.id)
    expect('value' in b!).toBe(true)
    expect(b!.value).toBeNull()
    const c = await store.conflicts.get(three!.id)
    expect(c).toMatchObject({ winner: 0 })
    expect('value' in c!).toBe(false)
    expect(await store.conflicts.get(-1)).toBeUndefined()
    expect(await store.conflicts.countOpen(taskId)).toBe(0)
    const decided = await store.conflicts.decided(taskId, 'people')
    expect(decided.map((d) => d.id)).toEqual([one!.id, two!.id, three!.id])
  })

  it('keeps the base while a conflict is open: a re-park keeps the first, a decision replaces it', async () => {
    const taskId = newTask()
    const base = [{ city: 'Old' }, { city: 'Old' }] as const
    await store.conflicts.park([{ ...park(taskId, 'a1'), base }, park(taskId, 'a2')])
    const [one, two] = await store.conflicts.open(taskId)
    expect(one).toMatchObject({ base: [{ city: 'Old' }, { city: 'Old' }] })
    expect('value' in one!).toBe(false)
    expect(two!.base).toBeUndefined()
    // Parked again with new values and another base: the values change, the base stays.
    await store.conflicts.park([
      {
        ...park(taskId, 'a1'),
        values: [{ city: 'C' }, { city: 'D' }],
        base: [{ city: 'A' }, { city: 'B' }],
      },
    ])
    const again = await store.conflicts.get(one!.id)
    expect(again).toMatchObject({ values: [{ city: 'C' }, { city: 'D' }], base })
    await store.conflicts.resolve(one!.id, { value: 'Mine' })
    const decided = await store.conflicts.get(one!.id)
    expect(decided).toMatchObject({ value: 'Mine' })
    expect(decided!.base).toBeUndefined()
  })

  it('resolveAll decides the open conflicts of a task or of one pair; countOpen counts them', async () => {
    const taskId = newTask()
    await store.conflicts.park([
      park(taskId, 'a1'),
      park(taskId, 'a2'),
      park(taskId, 'a1', 'city', 'other'),
      park(newTask(), 'a1'),
    ])
    expect(await store.conflicts.countOpen(taskId)).toBe(3)
    expect(await store.conflicts.countOpen(taskId, 'other')).toBe(1)
    expect(await store.conflicts.resolveAll(taskId, 1, 'people')).toBe(2)
    expect(await store.conflicts.countOpen(taskId)).toBe(1)
    expect(await store.conflicts.resolveAll(taskId, 0)).toBe(1)
    expect(await store.conflicts.countOpen(taskId)).toBe(0)
    expect((await store.conflicts.decided(taskId, 'people')).map((d) => d.winner)).toEqual([1, 1])
    // Every task's open conflicts, without naming one.
    expect((await store.conflicts.open(undefined)).some((c) => c.taskId !== taskId)).toBe(true)
  })

  it('a store that applied a later migration number first still gets 0004', async () => {
    // As a store migrated by a release that had 0007 but not yet 0004.
    await target.query('alter table osy_conflicts drop column decided_value')
    await target.query(`delete from osy_migrations where name = '0004-conflict-decisions'`)
    const again = await openStore(target.options)
    try {
      const applied = await target.query('select name from osy_migrations order by name')
      expect(applied.map((r) => r.name)).toEqual(MIGRATION_NAMES)
      const taskId = newTask()
      await again.conflicts.park([park(taskId, 'a1')])
      const [open] = await again.conflicts.open(taskId)
      await again.conflicts.resolve(open!.id, { value: 'x' })
      expect((await again.conflicts.get(open!.id))!.value).toBe('x')
    } finally {
      await again.close()
    }
  })
})

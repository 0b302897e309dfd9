/**
 * Parked conflicts decided by a value, by a winner in bulk, and counted while they wait
 * (issue 10, item 11), across real databases.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bridgeCombos, SyncFixture, written } from '../support/sync-fixture.ts'

describe.each(bridgeCombos())('conflict decisions %s', (_label, crmHarness, erpHarness) => {
  let fx: SyncFixture
  beforeAll(async () => {
    fx = await SyncFixture.create(crmHarness, erpHarness)
  })
  afterAll(async () => {
    await fx?.close()
  })

  /** Five contacts in step, then p1's city edited on both sides: one parked conflict. */
  async function parked() {
    const t = await fx.contacts()
    await fx.insert(
      'crm',
      t,
      Array.from({ length: 5 }, (_, i) => [`p${i}@example.com`, `Person ${i}`, 'Berlin', '1.50']),
    )
    const task = fx.task(t, '    direction: both\n    conflict: { winner: manual }')
    expect((await fx.run(task)).status).toBe('succeeded')
    await fx.sql('crm', `UPDATE "${t}" SET "city" = 'CRM city' WHERE "email" = 'p1@example.com'`)
    await new Promise((r) => setTimeout(r, 20))
    await fx.sql('erp', `UPDATE "${t}" SET "city" = 'ERP city' WHERE "email" = 'p1@example.com'`)
    const result = await fx.run(task)
    expect(result.totals.conflicts).toBe(1)
    return { t, task, result }
  }

  it('a conflict decided by a value: the next run writes that value on both sides, once', async () => {
    const { t, task, result } = await parked()
    expect(result.openConflicts).toBe(1)
    const [open] = await fx.store.conflicts.open(task.id)
    expect(open!.values).toEqual([{ city: 'CRM city' }, { city: 'ERP city' }])
    await fx.store.conflicts.resolve(open!.id, { value: 'Agreed city' })
    expect(await fx.store.conflicts.get(open!.id)).toMatchObject({ value: 'Agreed city' })
    expect(await fx.store.conflicts.countOpen(task.id)).toBe(0)

    const applied = await fx.run(task)
    expect(applied.status).toBe('succeeded')
    expect(applied.openConflicts).toBe(0)
    for (const side of ['crm', 'erp'] as const)
      expect((await fx.rows(side, t)).get('p1@example.com')).toMatchObject({
        city: 'Agreed city',
        name: 'Person 1',
      })
    expect(await fx.store.conflicts.decided(task.id, task.pairs[0]!.id)).toEqual([])
    // Applied once: the sides agree, and the next run is quiet.
    const again = await fx.run(task)
    expect(written(again), JSON.stringify(again.changes)).toBe(0)
    expect(again.totals.conflicts).toBe(0)
  })

  it('while a conflict waits every run counts it; resolveAll decides all of a pair at once', async () => {
    const { t, task } = await parked()
    // A second conflict on another record.
    await fx.sql('crm', `UPDATE "${t}" SET "name" = 'CRM 3' WHERE "email" = 'p3@example.com'`)
    await new Promise((r) => setTimeout(r, 20))
    await fx.sql('erp', `UPDATE "${t}" SET "name" = 'ERP 3' WHERE "email" = 'p3@example.com'`)
    const second = await fx.run(task)
    expect(second.openConflicts).toBe(2)
    // Nothing left to write, but the sides are apart: the count says so.
    const quiet = await fx.run(task)
    expect(written(quiet)).toBe(0)
    expect(quiet.openConflicts).toBe(2)

    expect(await fx.store.conflicts.resolveAll(task.id, 1, 'no-such-pair')).toBe(0)
    expect(await fx.store.conflicts.resolveAll(task.id, 1, task.pairs[0]!.id)).toBe(2)
    const applied = await fx.run(task)
    expect(applied.openConflicts).toBe(0)
    for (const side of ['crm', 'erp'] as const) {
      const rows = await fx.rows(side, t)
      expect(rows.get('p1@example.com')!.city).toBe('ERP city')
      expect(rows.get('p3@example.com')!.name).toBe('ERP 3')
    }
    expect(written(await fx.run(task))).toBe(0)
  })
})

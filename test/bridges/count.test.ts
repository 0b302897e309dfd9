import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { PairProgress } from '../../src/engine/pair-run.ts'
import { silentLogger } from '../../src/sdk/index.ts'
import { bridgeCombos, SyncFixture } from '../support/sync-fixture.ts'

// Issue 10, item 15: SQL bridges count a record type with its filter; runs hand the total of
// a pass that reads everything to the progress line.
describe.each(bridgeCombos())('count and progress totals %s', (_label, crmHarness, erpHarness) => {
  let fx: SyncFixture
  beforeAll(async () => {
    fx = await SyncFixture.create(crmHarness, erpHarness)
  })
  afterAll(async () => {
    await fx?.close()
  })

  it('count() counts the records a filter lets through, as a read would', async () => {
    const t = await fx.contacts()
    await fx.insert('crm', t, [
      ['a@x.org', 'A', 'Bonn', '1.00'],
      ['b@x.org', 'B', 'Bonn', '2.00'],
      ['c@x.org', 'C', 'Ulm', null],
    ])
    const conn = await crmHarness.bridge.connect(fx.crm.values, { log: silentLogger })
    try {
      expect(conn.count).toBeDefined()
      expect(await conn.count!(t)).toBe(3)
      expect(await conn.count!(t, { filter: { sql: "city = 'Bonn'" } })).toBe(2)
      expect(await conn.count!(t, { filter: { keyValue: { city: 'Ulm' } } })).toBe(1)
      await expect(conn.count!(t, { filter: { sql: '1=1; DROP TABLE x' } })).rejects.toMatchObject({
        code: 'OSY_INVALID_FILTER',
      })
      await expect(conn.count!('no_such_type')).rejects.toMatchObject({
        code: 'OSY_RECORD_TYPE_NOT_FOUND',
      })
    } finally {
      await conn.close()
    }
  })

  it('a first run reports each pass with its total; a run from a checkpoint without one', async () => {
    const t = await fx.contacts()
    await fx.insert(
      'crm',
      t,
      Array.from({ length: 120 }, (_, i) => [
        `p${i}@x.org`,
        `P ${i}`,
        i < 100 ? 'Bonn' : 'Ulm',
        null,
      ]),
    )
    const task = fx.task(t, '', { crmFilter: "city = 'Bonn'" })
    const seen: PairProgress[] = []
    const first = await fx.run(task, { onProgress: (p) => seen.push(p) })
    expect(first.status, JSON.stringify(first.error)).toBe('succeeded')
    const reads = seen.filter((p) => p.phase === 'read' && p.direction === '0->1')
    expect(reads.length).toBeGreaterThan(1)
    expect(reads.every((p) => p.total === 100)).toBe(true)
    expect(reads.at(-1)!.counts.read).toBe(100)
    // From a checkpoint, a pass reads only what changed: its total is not known.
    const again: PairProgress[] = []
    await fx.run(task, { onProgress: (p) => again.push(p) })
    expect(again.every((p) => p.total === undefined)).toBe(true)
  })
})

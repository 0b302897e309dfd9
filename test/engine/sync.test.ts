/**
 * The sync engine end to end, across real databases: first sync, incremental runs, echo
 * suppression, conflicts, deletes, duplicate checks, filters, per-record errors, dry run.
 * After every run that changes something, an immediate second run must write nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type Bridge,
  type BridgeConnection,
  BridgeRegistry,
  capabilitiesOf,
} from '../../src/sdk/index.ts'
import type { Store } from '../../src/store/index.ts'
import { bridgeCombos, SyncFixture, written } from '../support/sync-fixture.ts'

type Row = readonly [string, string | null, string | null, string | null]
const people = (n: number, from = 0, city = 'Berlin'): Row[] =>
  Array.from(
    { length: n },
    (_, i) => [`p${from + i}@example.com`, `Person ${from + i}`, city, `${from + i}.50`] as const,
  )

describe.each(bridgeCombos())('sync %s', (_label, crmHarness, erpHarness) => {
  let fx: SyncFixture
  beforeAll(async () => {
    fx = await SyncFixture.create(crmHarness, erpHarness)
  })
  afterAll(async () => {
    await fx?.close()
  })

  /**
   * The fixture's bridges with every connection's `write` wrapped, and optionally their
   * `concurrentWrites` capability replaced.
   */
  function writesWrapped(
    wrap: (write: BridgeConnection['write']) => BridgeConnection['write'],
    concurrentWrites?: (bridge: Bridge) => boolean,
  ): BridgeRegistry {
    const registry = new BridgeRegistry()
    for (const bridge of fx.registry.list()) {
      registry.register({
        ...bridge,
        ...(concurrentWrites
          ? {
              capabilities: { ...bridge.capabilities, concurrentWrites: concurrentWrites(bridge) },
            }
          : {}),
        connect: async (values, ctx) => {
          const conn = await bridge.connect(values, ctx)
          const write = wrap(conn.write.bind(conn))
          return new Proxy(conn, {
            get(target, prop) {
              if (prop === 'write') return write
              const value = Reflect.get(target, prop)
              return typeof value === 'function' ? value.bind(target) : value
            },
          })
        },
      })
    }
    return registry
  }

  /** Runs, expects success (partial only with failed records), then runs again and expects nothing written (echo test). */
  async function runTwice(task: ReturnType<SyncFixture['task']>) {
    const first = await fx.run(task)
    expect(first.error, JSON.stringify(first.error)).toBeUndefined()
    // Partial exactly when records failed (a record the target refuses fails again).
    expect(first.status).toBe(first.totals.errors > 0 ? 'partial' : 'succeeded')
    const second = await fx.run(task)
    expect(second.status).toBe(second.totals.errors > 0 ? 'partial' : 'succeeded')
    expect(written(second), `second run wrote: ${JSON.stringify(second.changes.slice(0, 5))}`).toBe(
      0,
    )
    expect(second.totals.conflicts).toBe(0)
    return first
  }

  it('first sync both ways links overlapping records by match key and creates the rest', async () => {
    const t = await fx.contacts()
    await fx.insert('crm', t, people(30, 0))
    await fx.insert('erp', t, people(20, 20)) // p20..p29 exist on both sides
    const result = await runTwice(fx.task(t, '    direction: both'))
    expect(result.counts[`${t}-${t}`]!['0->1'].created).toBe(20)
    expect(result.counts[`${t}-${t}`]!['1->0'].created).toBe(10)
    expect(await fx.count('crm', t)).toBe(40)
    expect(await fx.count('erp', t)).toBe(40)
    expect(await fx.rows('erp', t)).toEqual(await fx.rows('crm', t))
  })

  it('incremental runs touch only what changed, in both directions', async () => {
    const t = await fx.contacts()
    await fx.insert('crm', t, people(40))
    // No lag window, so the counts show exactly which records were read.
    const task = fx.task(t, '    direction: both', { lag: 0 })
    await runTwice(task)
    await fx.sql(
      'crm',
      `UPDATE "${t}" SET "city" = 'Köln' WHERE "email" IN ('p1@example.com', 'p2@example.com')`,
    )
    await fx.sql('erp', `UPDATE "${t}" SET "name" = 'Renamed' WHERE "email" = 'p3@example.com'`)
    const result = await runTwice(task)
    const c = result.counts[`${t}-${t}`]!
    expect(c['0->1']).toMatchObject({ updated: 2, created: 0 })
    expect(c['1->0']).toMatchObject({ updated: 1, created: 0 })
    // Only the changed rows were read, not all 40: p1, p2 on the crm side; on the erp side
    // p3 and the two rows the run itself had just written (recognised as echoes).
    expect(c['0->1'].read).toBe(2)
    expect(c['1->0']).toMatchObject({ read: 3, unchanged: 2 })
    const crm = await fx.rows('crm', t)
    expect(crm.get('p3@example.com')!.name).toBe('Renamed')
    expect((await fx.rows('erp', t)).get('p1@example.com')!.city).toBe('Köln')
  })

  it('a row committed late with an older cursor value is found through the lag window', async () => {
    const t = await fx.contacts()
    await fx.insert('crm', t, people(10))
    const withLag = fx.task(t, '    direction: crm->erp', { lag: 5 })
    await runTwice(withLag)
    const checkpoint = await fx.store.checkpoints.get(withLag.id, `${t}-${t}`, 0)
    // As if a transaction that began before the last run committed only now.
    const older = new Date(Date.parse(String(checkpoint!.position[0])) - 2000)
      .toISOString()
      .replace('T', ' ')
      .replace('Z', '')
    const late = (email: string) =>
      `INSERT INTO "${t}" ("email", "name", "updated_at") VALUES ('${email}', 'Late', ${fx.crmHarness.timestampLiteral(older)})`
    await fx.sql('crm', late('late@example.com'))
    const result = await runTwice(withLag)
    expect(result.totals.created).toBe(1)
    expect((await fx.rows('erp', t)).has('late@example.com')).toBe(true)

    // Without a lag window the same late row is never seen: the reason the window exists.
    const noLag = fx.task(t, '    direction: crm->erp', { lag: 0, id: `${t}-nolag` })
    await fx.run(noLag)
    await fx.sql('crm', late('late2@example.com'))
    expect((await fx.run(noLag)).totals.created).toBe(0)
  })

  it('the lag window is read again once after a read, not on every run (a bulk load is not re-read forever)', async () => {
    const t = await fx.contacts()
    await fx.insert('crm', t, people(30))
    const task = fx.task(t, '    direction: crm->erp', { lag: 1 })
    await fx.run(task)
    await new Promise((r) => setTimeout(r, 1300))
    // This run started more than the lag after the rows' stamps, but the one before did not:
    // it reads the window again — unless the bridge sealed it (PostgreSQL, MySQL), and the
    // seal shows nothing landed there since.
    const sealing = crmHarness.name !== 'sqlite'
    expect((await fx.run(task)).counts[`${t}-${t}`]!['0->1'].read).toBe(sealing ? 0 : 30)
    expect((await fx.run(task)).counts[`${t}-${t}`]!['0->1'].read).toBe(0)
  })

  it('right after a bulk load, a sealed lag window is not read again; a late commit into it is', async () => {
    const t = await fx.contacts()
    await fx.insert('crm', t, people(40))
    // One stamp for every row, as a bulk load gives them; all of them inside the lag window.
    await fx.sql('crm', `UPDATE "${t}" SET "city" = 'Bulk'`)
    const task = fx.task(t, '    direction: crm->erp', { lag: 3600 })
    expect((await fx.run(task)).totals.created).toBe(40)
    const sealing = crmHarness.name !== 'sqlite'
    const checkpoint = await fx.store.checkpoints.get(task.id, `${t}-${t}`, 0)
    expect(checkpoint!.seal?.count).toBe(sealing ? 40 : undefined)
    const again = await fx.run(task)
    expect(again.totals).toMatchObject({ read: sealing ? 0 : 40, created: 0, updated: 0 })
    // A transaction that began before the last read commits only now, with an older stamp.
    const older = new Date(Date.parse(String(checkpoint!.position[0])) - 2000)
      .toISOString()
      .replace('T', ' ')
      .replace('Z', '')
    await fx.sql(
      'crm',
      `INSERT INTO "${t}" ("email", "name", "updated_at") VALUES ('late@example.com', 'Late', ${fx.crmHarness.timestampLiteral(older)})`,
    )
    const late = await fx.run(task)
    expect(late.totals).toMatchObject({ read: 41, created: 1 })
    expect((await fx.rows('erp', t)).has('late@example.com')).toBe(true)
    // Sealed again with the late row inside: quiet once more.
    expect((await fx.run(task)).totals.read).toBe(sealing ? 0 : 41)
  })

  // A cursor column may hold NULL (a view, a column filled later): such a record is read by the
  // first full read only, reported, and never read in a loop; it is seen again once it has a value.
  it('a record whose cursor is NULL is synced once and reported, never re-read, and seen again once it has a value', async () => {
    const t = await fx.contacts()
    await fx.insert(
      'crm',
      t,
      Array.from({ length: 6 }, (_, i) => [
        `p${i}@example.com`,
        `Person ${i}`,
        i % 3 === 0 ? 'Nowhere' : 'Berlin',
        '1.00',
      ]),
    )
    await fx.sql(
      'crm',
      `CREATE VIEW "v_${t}" AS SELECT "id", "email", "name", "city", "score", CASE WHEN "city" = 'Nowhere' THEN NULL ELSE "updated_at" END AS "changed_at" FROM "${t}"`,
    )
    const task = fx.task(t, '    direction: crm->erp', {
      crmType: `v_${t}`,
      crmKey: 'id',
      crmCursor: 'changed_at',
      lag: 0,
    })
    const first = await fx.run(task)
    expect(first.totals).toMatchObject({ read: 6, created: 6 })
    const warning = first.log.find((l) => l.level === 'warn')
    expect(warning?.message).toMatch(/^2 record\(s\) of v_contacts_\d+ have no changed_at/)
    for (let i = 0; i < 2; i++) {
      const again = await fx.run(task)
      expect(again.totals.read).toBe(0)
      expect(again.log.filter((l) => l.level === 'warn')).toEqual([])
    }
    // An edit while it has no cursor value is not seen (documented); once it has one, it is.
    await fx.sql('crm', `UPDATE "${t}" SET "name" = 'Changed' WHERE "email" = 'p0@example.com'`)
    expect((await fx.run(task)).totals.read).toBe(0)
    await fx.sql('crm', `UPDATE "${t}" SET "city" = 'Berlin' WHERE "email" = 'p0@example.com'`)
    const seen = await fx.run(task)
    expect(seen.totals).toMatchObject({ read: 1, updated: 1 })
    expect((await fx.rows('erp', t)).get('p0@example.com')).toMatchObject({
      name: 'Changed',
      city: 'Berlin',
    })
  })

  it('syncs from a view, identified by the key fields the pair names', async () => {
    const t = await fx.contacts()
    await fx.insert('crm', t, people(8))
    await fx.crm.exec(
      `CREATE VIEW ${fx.crmHarness.quote(`${t}_view`)} AS SELECT * FROM ${fx.crmHarness.quote(t)}`,
    )
    const withoutKey = fx.task(t, '    direction: crm->erp', { crmType: `${t}_view` })
    const refused = await fx.run(withoutKey)
    expect(refused.error?.message).toMatch(/no primary key.*key: \[field/)
    const task = fx.task(t, '    direction: crm->erp', {
      crmType: `${t}_view`,
      crmKey: 'id',
      id: `${t}-view`,
    })
    const result = await runTwice(task)
    expect(result.totals.created).toBe(8)
    expect(await fx.rows('erp', t)).toEqual(await fx.rows('crm', t))
  })

  it('snapshot mode (no cursor): changes and deletes are found by comparing every record with its base', async () => {
    const t = await fx.contacts()
    await fx.insert('crm', t, people(15))
    const task = fx.task(t, '    direction: both\n    deletes: propagate', { snapshot: true })
    await runTwice(task)
    await fx.sql('erp', `UPDATE "${t}" SET "city" = 'Graz' WHERE "email" = 'p4@example.com'`)
    await fx.sql('crm', `DELETE FROM "${t}" WHERE "email" = 'p5@example.com'`)
    const result = await runTwice(task)
    const c = result.counts[`${t}-${t}`]!
    expect(c['1->0']).toMatchObject({ read: 14, updated: 1 })
    expect(c['0->1'].deleted).toBe(1)
    expect((await fx.rows('crm', t)).get('p4@example.com')!.city).toBe('Graz')
    expect(await fx.count('erp', t)).toBe(14)
  })

  describe('conflicts', () => {
    async function conflict(strategy: string, editOrder: 'crm-first' | 'erp-first' = 'crm-first') {
      const t = await fx.contacts()
      await fx.insert('crm', t, people(5))
      const task = fx.task(t, `    direction: both\n    conflict: { winner: ${strategy} }`)
      await runTwice(task)
      const edits = [
        () =>
          fx.sql(
            'crm',
            `UPDATE "${t}" SET "city" = 'CRM city', "score" = 7.25 WHERE "email" = 'p1@example.com'`,
          ),
        () =>
          fx.sql(
            'erp',
            `UPDATE "${t}" SET "city" = 'ERP city', "name" = 'ERP name' WHERE "email" = 'p1@example.com'`,
          ),
      ]
      if (editOrder === 'erp-first') edits.reverse()
      await edits[0]!()
      await new Promise((r) => setTimeout(r, 20))
      await edits[1]!()
      return { t, task, result: await fx.run(task) }
    }

    for (const [winner, city] of [
      ['crm', 'CRM city'],
      ['erp', 'ERP city'],
    ] as const) {
      it(`${winner} wins: the same field edited on both sides takes ${winner}'s value; other fields merge`, async () => {
        const { t, task, result } = await conflict(winner)
        expect(result.totals.conflicts).toBe(1)
        for (const side of ['crm', 'erp'] as const) {
          expect((await fx.rows(side, t)).get('p1@example.com')).toEqual({
            name: 'ERP name',
            city,
            score: '7.25',
          })
        }
        const again = await fx.run(task)
        expect(written(again)).toBe(0)
      })
    }

    it('newest wins: the later edit wins, whichever side it is on', async () => {
      const { t } = await conflict('newest', 'crm-first')
      expect((await fx.rows('crm', t)).get('p1@example.com')!.city).toBe('ERP city')
      const second = await conflict('newest', 'erp-first')
      expect((await fx.rows('erp', second.t)).get('p1@example.com')!.city).toBe('CRM city')
    })

    it('a decided conflict is applied by the next run, once: the winner takes both sides', async () => {
      const { t, task } = await conflict('manual')
      const [open] = await fx.store.conflicts.open(task.id)
      await fx.store.conflicts.resolve(open!.id, 1)
      const applied = await fx.run(task)
      expect(applied.status).toBe('succeeded')
      for (const side of ['crm', 'erp'] as const)
        expect((await fx.rows(side, t)).get('p1@example.com')!.city).toBe('ERP city')
      expect(await fx.store.conflicts.open(task.id)).toEqual([])
      expect(await fx.store.conflicts.decided(task.id, task.pairs[0]!.id)).toEqual([])
      expect(written(await fx.run(task))).toBe(0)
    })

    it('manual parks the conflict and syncs the rest of the record', async () => {
      const { t, task, result } = await conflict('manual')
      expect(result.totals.conflicts).toBe(1)
      const crm = (await fx.rows('crm', t)).get('p1@example.com')
      const erp = (await fx.rows('erp', t)).get('p1@example.com')
      expect(crm).toEqual({ name: 'ERP name', city: 'CRM city', score: '7.25' })
      expect(erp).toEqual({ name: 'ERP name', city: 'ERP city', score: '7.25' })
      const open = await fx.store.conflicts.open(task.id)
      expect(open).toHaveLength(1)
      expect(open[0]).toMatchObject({ mapping: 'city' })
      // Parked, it does not come back as new work on every run.
      expect(written(await fx.run(task))).toBe(0)
    })
  })

  describe('deletes', () => {
    async function setup(policy: string, n = 20) {
      const t = await fx.contacts()
      await fx.insert('crm', t, people(n))
      const task = fx.task(t, `    direction: both\n    deletes: ${policy}`)
      await runTwice(task)
      return { t, task }
    }

    it('propagate deletes the linked record on the other side', async () => {
      const { t, task } = await setup('propagate')
      await fx.sql(
        'crm',
        `DELETE FROM "${t}" WHERE "email" IN ('p1@example.com', 'p2@example.com')`,
      )
      await fx.sql('erp', `DELETE FROM "${t}" WHERE "email" = 'p3@example.com'`)
      const result = await runTwice(task)
      expect(result.totals.deleted).toBe(3)
      expect(await fx.count('crm', t)).toBe(17)
      expect(await fx.count('erp', t)).toBe(17)
    })

    it('ignore leaves the other side alone, and does not resurrect the record', async () => {
      const { t, task } = await setup('ignore')
      await fx.sql('crm', `DELETE FROM "${t}" WHERE "email" = 'p1@example.com'`)
      const result = await runTwice(task)
      expect(result.totals.deleted).toBe(0)
      expect(await fx.count('crm', t)).toBe(19)
      expect(await fx.count('erp', t)).toBe(20)
    })

    it('flag reports the delete and deletes nothing', async () => {
      const { t, task } = await setup('flag')
      await fx.sql('crm', `DELETE FROM "${t}" WHERE "email" = 'p1@example.com'`)
      const result = await runTwice(task)
      expect(result.changes.filter((c) => c.op === 'flag')).toHaveLength(1)
      expect(result.log.some((l) => l.level === 'warn' && /flagged/.test(l.message))).toBe(true)
      expect(await fx.count('erp', t)).toBe(20)
    })

    // Delete a linked record on one side, edit it on the other: a conflict the strategy decides.
    for (const [deleter, editor] of [
      ['crm', 'erp'],
      ['erp', 'crm'],
    ] as const) {
      describe(`deleted in ${deleter}, edited in ${editor}`, () => {
        async function deleteAgainstEdit(winner: string) {
          const { t, task } = await setup(`propagate\n    conflict: { winner: ${winner} }`)
          await fx.sql(deleter, `DELETE FROM "${t}" WHERE "email" = 'p1@example.com'`)
          await fx.sql(
            editor,
            `UPDATE "${t}" SET "name" = 'Edited' WHERE "email" = 'p1@example.com'`,
          )
          return { t, task, result: await fx.run(task) }
        }

        it(`${deleter} (the deleting side) wins: the record is deleted on ${editor} too, a counted conflict`, async () => {
          const { t, task, result } = await deleteAgainstEdit(deleter)
          expect(result.status).toBe('succeeded')
          expect(result.totals.conflicts).toBe(1)
          expect(result.totals.deleted).toBe(1)
          expect(await fx.count(editor, t)).toBe(19)
          expect(await fx.count(deleter, t)).toBe(19)
          expect(written(await fx.run(task))).toBe(0)
        })

        it(`${editor} (the editing side) wins: the record is restored on ${deleter} with the edit, no duplicate`, async () => {
          const { t, task, result } = await deleteAgainstEdit(editor)
          expect(result.status).toBe('succeeded')
          expect(result.totals.conflicts).toBe(1)
          expect(result.totals.deleted).toBe(0)
          expect(result.totals.created).toBe(1)
          expect(await fx.count(deleter, t)).toBe(20)
          expect(await fx.count(editor, t)).toBe(20)
          for (const side of ['crm', 'erp'] as const)
            expect((await fx.rows(side, t)).get('p1@example.com')).toMatchObject({ name: 'Edited' })
          const again = await fx.run(task)
          expect(written(again)).toBe(0)
          expect(again.totals.conflicts).toBe(0)
        })

        it('newest: the edit, made before the delete was first seen, loses', async () => {
          const { t, result } = await deleteAgainstEdit('newest')
          expect(result.totals.conflicts).toBe(1)
          expect(result.totals.deleted).toBe(1)
          expect(await fx.count(editor, t)).toBe(19)
        })

        for (const decision of ['deleter', 'editor'] as const) {
          it(`manual, decided for the ${decision === 'deleter' ? 'deleting' : 'editing'} side: the next run ${decision === 'deleter' ? 'deletes the edited record' : 'restores the record'}`, async () => {
            const { t, task } = await deleteAgainstEdit('manual')
            const [open] = await fx.store.conflicts.open(task.id)
            const side = (name: string) => (name === 'crm' ? 0 : 1) as 0 | 1
            await fx.store.conflicts.resolve(
              open!.id,
              side(decision === 'deleter' ? deleter : editor),
            )
            const applied = await fx.run(task)
            expect(applied.status).toBe('succeeded')
            const expected = decision === 'deleter' ? 19 : 20
            expect(await fx.count('crm', t)).toBe(expected)
            expect(await fx.count('erp', t)).toBe(expected)
            if (decision === 'editor')
              expect((await fx.rows(deleter, t)).get('p1@example.com')).toMatchObject({
                name: 'Edited',
              })
            expect(await fx.store.conflicts.open(task.id)).toEqual([])
            expect(written(await fx.run(task))).toBe(0)
          })
        }

        it('manual parks it: nothing deleted, nothing restored, quiet until decided', async () => {
          const { t, task, result } = await deleteAgainstEdit('manual')
          expect(result.totals.conflicts).toBe(1)
          expect(written(result)).toBe(0)
          expect(await fx.count(editor, t)).toBe(20)
          expect(await fx.count(deleter, t)).toBe(19)
          const open = await fx.store.conflicts.open(task.id)
          expect(open).toHaveLength(1)
          expect(open[0]!.mapping).toBe('(record)')
          const edited = open[0]!.values[deleter === 'crm' ? 1 : 0] as Record<string, unknown>
          expect(edited.name).toBe('Edited')
          expect(open[0]!.values[deleter === 'crm' ? 0 : 1]).toBeNull()
          const again = await fx.run(task)
          expect(written(again)).toBe(0)
          expect(again.totals.conflicts).toBe(0)
        })
      })
    }

    it('the guard stops a run that would delete more than the allowed share, and says so', async () => {
      const { t, task } = await setup('{ policy: propagate, maxShare: 0.25 }', 40)
      await fx.sql('crm', `DELETE FROM "${t}" WHERE "email" <> 'p1@example.com'`)
      const result = await fx.run(task)
      expect(result.status).toBe('failed')
      expect(result.error?.code).toBe('OSY_DELETE_GUARD')
      expect(result.error?.message).toMatch(/39 of 40 linked records .* more than the limit of 25%/)
      expect(await fx.count('erp', t)).toBe(40)
    })
  })

  // A record outside a side's filter is never matched, linked, merged or written by any pass.
  describe('filters hold in both passes', () => {
    const filters = {
      'key-value': { city: 'Berlin' },
      sql: "city = 'Berlin'",
    } as const
    type Filtered = 'crm' | 'erp' | 'both'

    /** Ten Berlin records linked on both sides, two Paris records of the filtered side that never sync. */
    async function setup(filtered: Filtered, kind: keyof typeof filters, winner: 'crm' | 'erp') {
      const t = await fx.contacts()
      const home = filtered === 'erp' ? 'erp' : 'crm'
      await fx.insert(home, t, [...people(10, 0, 'Berlin'), ...people(2, 10, 'Paris')])
      const filter = filters[kind]
      const task = fx.task(
        t,
        `    direction: both\n    deletes: propagate\n    conflict: { winner: ${winner} }`,
        {
          ...(filtered !== 'erp' ? { crmFilter: filter } : {}),
          ...(filtered !== 'crm' ? { erpFilter: filter } : {}),
        },
      )
      await runTwice(task)
      const other = home === 'crm' ? 'erp' : 'crm'
      expect(await fx.count(other, t)).toBe(10)
      return { t, task, home, other } as const
    }

    const email = 'p1@example.com'
    for (const filtered of ['crm', 'erp', 'both'] as const) {
      for (const kind of ['key-value', 'sql'] as const) {
        for (const winner of ['crm', 'erp'] as const) {
          it(`${kind} filter on ${filtered}, ${winner} wins: a record that leaves is unlinked once, never written, and links again when it comes back`, async () => {
            const { t, task, home, other } = await setup(filtered, kind, winner)
            // It leaves the filter and changes a field in the same update.
            await fx.sql(
              home,
              `UPDATE "${t}" SET "city" = 'Hamburg', "name" = 'Outside' WHERE "email" = '${email}'`,
            )
            const left = await fx.run(task)
            expect(left.status).toBe('succeeded')
            expect(left.totals.unlinked).toBe(1)
            expect(written(left), JSON.stringify(left.changes)).toBe(0)
            expect((await fx.rows(other, t)).get(email)).toEqual({
              name: 'Person 1',
              city: 'Berlin',
              score: '1.50',
            })
            expect((await fx.rows(home, t)).get(email)).toMatchObject({ name: 'Outside' })

            const quiet = await fx.run(task)
            expect(quiet.totals.unlinked).toBe(0)
            expect(written(quiet)).toBe(0)
            expect(quiet.totals.conflicts).toBe(0)

            // An edit on the other side does not reach the record outside the filter.
            await fx.sql(other, `UPDATE "${t}" SET "name" = 'Edited' WHERE "email" = '${email}'`)
            const edited = await fx.run(task)
            expect(written(edited), JSON.stringify(edited.changes)).toBe(0)
            expect((await fx.rows(home, t)).get(email)).toMatchObject({
              name: 'Outside',
              city: 'Hamburg',
            })

            // Back in the filter: linked again, no duplicate, merged against the base it had.
            await fx.sql(home, `UPDATE "${t}" SET "city" = 'Berlin' WHERE "email" = '${email}'`)
            const back = await fx.run(task)
            expect(back.status).toBe('succeeded')
            expect(back.totals.created).toBe(0)
            expect(back.totals.conflicts).toBe(1)
            const name = winner === home ? 'Outside' : 'Edited'
            for (const side of ['crm', 'erp'] as const) {
              expect((await fx.rows(side, t)).get(email)).toEqual({
                name,
                city: 'Berlin',
                score: '1.50',
              })
            }
            expect(await fx.count(other, t)).toBe(10)
            expect(await fx.count(home, t)).toBe(12)
            const settled = await fx.run(task)
            expect(written(settled)).toBe(0)
            expect(settled.totals.unlinked).toBe(0)
          })
        }
      }
    }

    for (const kind of ['key-value', 'sql'] as const) {
      it(`${kind} filter: a record outside the filter is never matched by the other side's records, and is when it enters`, async () => {
        const { t, task } = await setup('crm', kind, 'erp')
        // p10 is a Paris record of the crm, outside its filter; the erp gets one of the same e-mail.
        await fx.insert('erp', t, [['p10@example.com', 'ERP p10', 'Berlin', '3.00']])
        const result = await fx.run(task)
        expect(written(result), JSON.stringify(result.changes)).toBe(0)
        expect((await fx.rows('crm', t)).get('p10@example.com')).toEqual({
          name: 'Person 10',
          city: 'Paris',
          score: '10.50',
        })
        expect(written(await fx.run(task))).toBe(0)
        // It enters the filter: matched and linked, not duplicated on either side.
        await fx.sql('crm', `UPDATE "${t}" SET "city" = 'Berlin' WHERE "email" = 'p10@example.com'`)
        const entered = await fx.run(task)
        expect(entered.totals.created).toBe(0)
        expect(await fx.count('crm', t)).toBe(12)
        expect(await fx.count('erp', t)).toBe(11)
        expect((await fx.rows('crm', t)).get('p10@example.com')).toEqual(
          (await fx.rows('erp', t)).get('p10@example.com'),
        )
        expect(written(await fx.run(task))).toBe(0)
      })
    }
  })

  it('re-creating a task (its metadata deleted) links by match keys instead of duplicating', async () => {
    const t = await fx.contacts()
    await fx.insert('crm', t, people(25))
    await fx.insert('erp', t, people(5, 100))
    const task = fx.task(t, '    direction: both')
    await runTwice(task)
    await fx.store.links.removeTask(task.id)
    const again = await runTwice(task)
    expect(again.totals.created).toBe(0)
    expect(await fx.count('crm', t)).toBe(30)
    expect(await fx.count('erp', t)).toBe(30)
  })

  // Batch N commits while batch N+1 is matched: a target record that N created and has not
  // committed its link to yet must count as linked. MariaDB compares e-mails without case, so
  // on postgres → mysql DUP@ finds the record dup@ created one batch before.
  it.skipIf(crmHarness.bridge.name === 'mysql')(
    'two source records matching one target record (batches of 1): never linked twice',
    async () => {
      const t = await fx.contacts()
      await fx.insert('erp', t, people(1, 100)) // not empty: match lookups run
      await fx.insert('crm', t, [
        ['dup@example.com', 'First', 'Berlin', '1.00'],
        ['DUP@example.com', 'Second', 'Berlin', '2.00'],
        ...people(3),
      ])
      const task = fx.task(t, '    direction: crm->erp', { lag: 0 })
      // A store that commits slowly, so the next batch is matched while the commit is in flight.
      const slow = new Proxy(fx.store, {
        get(store, prop) {
          if (prop === 'transaction')
            return async (fn: Parameters<Store['transaction']>[0]) => {
              await new Promise((resolve) => setTimeout(resolve, 300))
              return store.transaction(fn)
            }
          const value = Reflect.get(store, prop)
          return typeof value === 'function' ? value.bind(store) : value
        },
      })
      const first = await fx.run(task, { batchSize: 1, store: slow })
      expect(first.error, JSON.stringify(first.error)).toBeUndefined()
      const caseless = erpHarness.bridge.name === 'mysql'
      // A run that finished with a failed record is partial, not a plain success.
      expect(first.status).toBe(caseless ? 'partial' : 'succeeded')
      // MariaDB's unique e-mail rejects the second; case-sensitive targets take both.
      expect(first.totals).toMatchObject({ created: caseless ? 4 : 5, errors: caseless ? 1 : 0 })
      const keys1: string[] = []
      for await (const links of fx.store.links.scan(task.id, `${t}-${t}`)) {
        keys1.push(...links.map((l) => l.keys[1]))
      }
      expect(new Set(keys1).size).toBe(keys1.length)
      expect(keys1).toHaveLength(caseless ? 4 : 5)
      expect((await fx.rows('erp', t)).get('dup@example.com')!.name).toBe('First')
    },
  )

  // Batch N is written while batch N+1 is matched: a record N is creating may be visible to
  // N+1's match lookup before N's write has returned its key. It must count as linked.
  it.skipIf(crmHarness.bridge.name === 'mysql')(
    'two source records matching one target record, written slowly (batches of 1): never linked twice',
    async () => {
      const t = await fx.contacts()
      await fx.insert('erp', t, people(1, 100)) // not empty: match lookups run
      await fx.insert('crm', t, [
        ['dup@example.com', 'First', 'Berlin', '1.00'],
        ['DUP@example.com', 'Second', 'Berlin', '2.00'],
        ...people(3),
      ])
      const task = fx.task(t, '    direction: crm->erp', { lag: 0 })
      // A target whose writes answer 300 ms after they landed.
      const registry = writesWrapped((write) => async (...args) => {
        const results = await write(...args)
        await new Promise((resolve) => setTimeout(resolve, 300))
        return results
      })
      const first = await fx.run(task, { batchSize: 1, registry })
      expect(first.error, JSON.stringify(first.error)).toBeUndefined()
      const caseless = erpHarness.bridge.name === 'mysql'
      // A run that finished with a failed record is partial, not a plain success.
      expect(first.status).toBe(caseless ? 'partial' : 'succeeded')
      // MariaDB's unique e-mail rejects the second; case-sensitive targets take both.
      expect(first.totals).toMatchObject({ created: caseless ? 4 : 5, errors: caseless ? 1 : 0 })
      const keys1: string[] = []
      for await (const links of fx.store.links.scan(task.id, `${t}-${t}`)) {
        keys1.push(...links.map((l) => l.keys[1]))
      }
      expect(new Set(keys1).size).toBe(keys1.length)
      expect(keys1).toHaveLength(caseless ? 4 : 5)
      expect((await fx.rows('erp', t)).get('dup@example.com')!.name).toBe('First')
      expect((await runTwice(task)).totals).toMatchObject({ created: 0, updated: 0 })
    },
  )

  // Two batches' writes are in flight at once when the side they write (here the ERP's) has a
  // bridge that says it takes concurrent writes (each write on a pooled connection of its
  // own), one otherwise; what the side only read says does not matter. Either way every
  // record lands once and is linked once.
  it.each(['both', 'erp', 'crm', 'none'] as const)(
    "writes in flight at once follow the written side's concurrentWrites (declared by %s)",
    async (declared) => {
      const t = await fx.contacts()
      await fx.insert('crm', t, people(12))
      const task = fx.task(t, '    direction: crm->erp', { lag: 0 })
      let running = 0
      let most = 0
      const registry = writesWrapped(
        (write) =>
          async (...args) => {
            most = Math.max(most, ++running)
            try {
              await new Promise((resolve) => setTimeout(resolve, 50))
              return await write(...args)
            } finally {
              running--
            }
          },
        (bridge) =>
          capabilitiesOf(bridge).concurrentWrites &&
          (declared === 'both' ||
            (declared === 'erp' && bridge.name === erpHarness.bridge.name) ||
            (declared === 'crm' && bridge.name === crmHarness.bridge.name)),
      )
      const first = await fx.run(task, { batchSize: 2, registry })
      expect(first.error, JSON.stringify(first.error)).toBeUndefined()
      expect(first.totals).toMatchObject({ created: 12, errors: 0 })
      const erpDeclares =
        capabilitiesOf(erpHarness.bridge).concurrentWrites &&
        (declared === 'both' ||
          declared === 'erp' ||
          (declared === 'crm' && crmHarness.bridge.name === erpHarness.bridge.name))
      expect(most).toBe(erpDeclares ? 2 : 1)
      const keys1: string[] = []
      for await (const links of fx.store.links.scan(task.id, `${t}-${t}`)) {
        keys1.push(...links.map((l) => l.keys[1]))
      }
      expect(new Set(keys1).size).toBe(12)
      expect(keys1).toHaveLength(12)
      expect(await fx.count('erp', t)).toBe(12)
      expect((await runTwice(task)).totals).toMatchObject({ created: 0, updated: 0 })
    },
  )

  // A source without snapshot reads may hand a record over twice in one pass (edited while
  // read, it moves behind the cursor). On a first sync the second sight must find the link
  // the first one made, not create the record again.
  it('a first sync from a source without snapshot reads that repeats a record: no duplicate', async () => {
    const t = await fx.contacts()
    await fx.insert('crm', t, people(5))
    const task = fx.task(t, '    direction: crm->erp', { lag: 0 })
    const registry = new BridgeRegistry()
    for (const bridge of fx.registry.list()) {
      const repeats = bridge.name === crmHarness.bridge.name
      registry.register({
        ...bridge,
        capabilities: { ...bridge.capabilities, snapshotReads: false },
        connect: async (values, ctx) => {
          const conn = await bridge.connect(values, ctx)
          if (!repeats) return conn
          return new Proxy(conn, {
            get(target, prop) {
              if (prop === 'read')
                return async function* (...args: Parameters<BridgeConnection['read']>) {
                  let first: Awaited<ReturnType<typeof target.read>> extends AsyncIterable<infer B>
                    ? B | undefined
                    : never
                  for await (const batch of target.read(...args)) {
                    first ??= batch
                    yield batch
                  }
                  // The pass's read (by cursor) sees its first record once more at the end.
                  if (args[1]?.cursor && first && first.records.length > 0)
                    yield { records: [first.records[0]!], checkpoint: first.checkpoint }
                }
              const value = Reflect.get(target, prop)
              return typeof value === 'function' ? value.bind(target) : value
            },
          })
        },
      })
    }
    const first = await fx.run(task, { batchSize: 2, registry })
    expect(first.error, JSON.stringify(first.error)).toBeUndefined()
    expect(first.totals).toMatchObject({ created: 5, unchanged: 1 })
    expect(await fx.count('erp', t)).toBe(5)
    expect(await fx.store.links.count(task.id, `${t}-${t}`)).toBe(5)
  })

  // A first sync whose mappings are all plain renames writes each link's base text directly;
  // it must read back as JSON.stringify would have written it, whatever the values hold.
  it('base state of created records: the JSON text JSON.stringify writes, for any characters', async () => {
    const t = await fx.contacts()
    const odd = [
      'Zoë "Q" O\'Brien \\ back',
      'tab\there, line\nbreak',
      '😀 東京',
      'x'.repeat(70),
      '',
    ]
    await fx.insert(
      'crm',
      t,
      odd.map((name, i): Row => [`odd${i}@example.com`, name, 'Berlin', `${i}.50`]),
    )
    const task = fx.task(t, '    direction: crm->erp', { lag: 0 })
    expect((await runTwice(task)).totals.created).toBe(odd.length)
    const bases: string[] = []
    for await (const links of fx.store.links.scan(task.id, `${t}-${t}`)) {
      bases.push(...links.map((l) => l.base[0]))
    }
    expect(bases).toHaveLength(odd.length)
    for (const base of bases) expect(base).toBe(JSON.stringify(JSON.parse(base)))
    const names = bases.map((b) => (JSON.parse(b) as Record<string, string>).name!)
    // Short values are kept as they are; the long one is replaced by its hash.
    // As the source holds them (a harness may store a value differently than written).
    const held = [...(await fx.rows('crm', t)).values()].map((r) => String(r.name ?? ''))
    expect(names.filter((n) => !n.startsWith('#')).sort()).toEqual(
      held
        .filter((n) => n.length < 64)
        .map((n) => `s${n}`)
        .sort(),
    )
    expect(names.filter((n) => n.startsWith('#'))).toHaveLength(1)
  })

  it('filters: only matching records sync; a record that leaves the filter is unlinked, not deleted', async () => {
    const t = await fx.contacts()
    await fx.insert('crm', t, [...people(10, 0, 'Berlin'), ...people(5, 10, 'Paris')])
    const withFilter = fx.task(t, '    direction: crm->erp\n    deletes: propagate', {
      crmFilter: "city = 'Berlin'",
    })
    await runTwice(withFilter)
    expect(await fx.count('erp', t)).toBe(10)
    await fx.sql('crm', `UPDATE "${t}" SET "city" = 'Hamburg' WHERE "email" = 'p1@example.com'`)
    const result = await runTwice(withFilter)
    expect(result.totals.unlinked).toBe(1)
    expect(result.totals.deleted).toBe(0)
    expect(await fx.count('erp', t)).toBe(10)
  })

  it('a record the target rejects: the others land, the error is in the protocol, retried, then quarantined', async () => {
    const t = await fx.contacts({ erpNameLength: 20 })
    await fx.insert('crm', t, [
      ...people(5),
      ['long@example.com', 'A name far too long for the ERP', 'Berlin', '1.00'],
    ])
    const task = fx.task(t, '    direction: crm->erp', { lag: 0 })
    const first = await fx.run(task)
    expect(first.status).toBe('partial')
    expect(first.totals.created).toBe(5)
    expect(first.totals.errors).toBe(1)
    expect(
      first.log.some(
        (l) =>
          l.level === 'warn' &&
          l.message.includes('long@example.com') === false &&
          /failed/.test(l.message),
      ),
    ).toBe(true)
    const second = await fx.run(task)
    expect(second.totals.errors).toBe(1)
    expect(second.totals.read).toBe(1) // only the failed record is read again
    const third = await fx.run(task)
    expect(third.log.some((l) => /quarantined after 3 failed attempts/.test(l.message))).toBe(true)
    const fourth = await fx.run(task)
    expect(fourth.totals.errors).toBe(0)
    expect(await fx.count('erp', t)).toBe(5)
    // Fixed at the source, it syncs again.
    await fx.sql('crm', `UPDATE "${t}" SET "name" = 'Short' WHERE "email" = 'long@example.com'`)
    const fixed = await fx.run(task)
    expect(fixed.totals.created).toBe(1)
    expect(await fx.count('erp', t)).toBe(6)
  })

  it('the stored protocol of a real run lists the records it created, updated, deleted, met in conflict and failed, by key', async () => {
    const t = await fx.contacts({ erpNameLength: 20 })
    await fx.insert('crm', t, [
      ...people(4),
      ['long@example.com', 'A name far too long for the ERP', 'Berlin', '1.00'],
    ])
    const task = fx.task(
      t,
      '    direction: both\n    deletes: propagate\n    conflict: { winner: manual }',
      {
        lag: 0,
      },
    )
    const first = await fx.run(task)
    const created = await fx.store.changes.list(first.executionId!, { op: 'create' })
    expect(created.map((c) => c.direction)).toEqual([0, 0, 0, 0])
    const [failed] = await fx.store.changes.list(first.executionId!, { op: 'error' })
    expect(failed).toMatchObject({
      direction: 0,
      detail: { code: expect.stringMatching(/^OSY_(VALUE_TOO_LONG|CONSTRAINT_VIOLATION)$/) },
    })

    await fx.sql('crm', `UPDATE "${t}" SET "city" = 'Köln' WHERE "email" = 'p1@example.com'`)
    await fx.sql('crm', `DELETE FROM "${t}" WHERE "email" = 'p2@example.com'`)
    await fx.sql('crm', `UPDATE "${t}" SET "name" = 'CRM' WHERE "email" = 'p3@example.com'`)
    await fx.sql('erp', `UPDATE "${t}" SET "name" = 'ERP' WHERE "email" = 'p3@example.com'`)
    const second = await fx.run(task)
    const all = await fx.store.changes.list(second.executionId!)
    const ops = all.map((c) => c.op).sort()
    expect(ops).toEqual(['conflict', 'delete', 'error', 'update'])
    const conflict = all.find((c) => c.op === 'conflict')!
    expect(conflict.detail).toEqual({ mapping: 'name' })
    // Searchable by the key on either side; field values are never stored.
    const p1 = all.find((c) => c.op === 'update')!
    expect(await fx.store.changes.list(second.executionId!, { key: p1.targetKey! })).toEqual([p1])
    expect(JSON.stringify(all)).not.toContain('Köln')
    // Paged in order.
    const [head] = await fx.store.changes.list(second.executionId!, { limit: 1 })
    const rest = await fx.store.changes.list(second.executionId!, { after: head!.id })
    expect([head, ...rest]).toEqual(all)
  })

  it('a dry run reports exactly what the real run then does, and writes nothing', async () => {
    const t = await fx.contacts()
    await fx.insert('crm', t, people(12))
    await fx.insert('erp', t, people(6, 10))
    const task = fx.task(t, '    direction: both')
    const dry = await fx.run(task, { dryRun: true })
    expect(dry.executionId).toBeUndefined()
    expect(await fx.count('erp', t)).toBe(6)
    expect(await fx.store.links.count(task.id, `${t}-${t}`)).toBe(0)
    expect(await fx.store.executions.list(task.id)).toHaveLength(0)
    const real = await runTwice(task)
    // The real run also reads back its own writes (as echoes), so compare what was written.
    const { read: _r1, unchanged: _u1, ...dryTotals } = dry.totals
    const { read: _r2, unchanged: _u2, ...realTotals } = real.totals
    expect(dryTotals).toEqual(realTotals)
    const shape = (r: typeof dry) =>
      r.changes.map((c) => `${c.direction} ${c.op} ${c.sourceKey}`).sort()
    expect(shape(dry)).toEqual(shape(real))
  })
})

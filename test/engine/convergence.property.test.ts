/**
 * Property: random inserts, updates and deletes on both sides, over several runs, always
 * converge to what a simple model of the semantics predicts (crm wins conflicts, deletes
 * propagate, a delete against an edit is a conflict crm wins, records pair up by e-mail), and
 * links stay one-to-one.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bridgeCombos, SyncFixture, written } from '../support/sync-fixture.ts'

type Side = 'crm' | 'erp'
type Fields = { name: string | null; city: string | null }
type Op =
  | { kind: 'insert'; side: Side; email: number; fields: Fields }
  | { kind: 'update'; side: Side; email: number; field: keyof Fields; value: string | null }
  | { kind: 'delete'; side: Side; email: number }

const side = fc.constantFrom<Side>('crm', 'erp')
const email = fc.integer({ min: 0, max: 11 })
const text = fc.option(fc.constantFrom('Anna', 'Bö', 'Zoë 😀', "O'Neil", 'x', ''), { nil: null })
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('insert' as const),
    side,
    email,
    fields: fc.record({ name: text, city: text }),
  }),
  fc.record({
    kind: fc.constant('update' as const),
    side,
    email,
    field: fc.constantFrom<keyof Fields>('name', 'city'),
    value: text,
  }),
  fc.record({ kind: fc.constant('delete' as const), side, email }),
)

/** A record on one side: its fields and its identity (a re-inserted e-mail is a new record). */
type Rec = { fields: Fields; id: number }
/** A linked pair as last synced: the shared fields and the identities of both records. */
type Synced = { fields: Fields; ids: readonly [number, number] }

/**
 * The expected linked state after a sync, from both sides before it and the last synced
 * state. Records are identified as the engine identifies them — by identity (key), not by
 * e-mail — and e-mails only pair up records that are not linked yet.
 */
function syncModel(
  crm: Map<number, Rec>,
  erp: Map<number, Rec>,
  base: Map<number, Synced>,
): Map<number, Synced> {
  const out = new Map<number, Synced>()
  const unlinkedC = new Map(crm)
  const unlinkedE = new Map(erp)
  for (const [e, b] of base) {
    const c = crm.get(e)?.id === b.ids[0] ? crm.get(e)! : undefined
    const r = erp.get(e)?.id === b.ids[1] ? erp.get(e)! : undefined
    if (c) unlinkedC.delete(e)
    if (r) unlinkedE.delete(e)
    if (!c && !r) continue
    if (!c || !r) {
      // Deleted on one side: a plain delete propagates; against an edit on the other side it
      // is a conflict that crm wins — crm's delete deletes, crm's edit restores the record
      // (linked again like any unlinked crm record: by e-mail, or created in the ERP).
      if (c && edited(c.fields, b.fields)) unlinkedC.set(e, c)
      continue
    }
    const fields: Fields = { name: null, city: null }
    for (const f of ['name', 'city'] as const) {
      fields[f] =
        c.fields[f] !== b.fields[f]
          ? c.fields[f]
          : r.fields[f] !== b.fields[f]
            ? r.fields[f]
            : b.fields[f]
    }
    out.set(e, { fields, ids: [c.id, r.id] })
  }
  for (const [e, c] of unlinkedC) {
    // Matched by e-mail on first sight (crm wins every differing field), or created in the ERP.
    const r = unlinkedE.get(e)
    unlinkedE.delete(e)
    out.set(e, { fields: { ...c.fields }, ids: [c.id, r ? r.id : newId()] })
  }
  for (const [e, r] of unlinkedE) out.set(e, { fields: { ...r.fields }, ids: [newId(), r.id] })
  return out
}

const edited = (now: Fields, before: Fields) => now.name !== before.name || now.city !== before.city

let lastId = 0
const newId = () => ++lastId

describe.each(bridgeCombos().slice(0, 2))('convergence %s', (_label, crmHarness, erpHarness) => {
  let fx: SyncFixture
  beforeAll(async () => {
    fx = await SyncFixture.create(crmHarness, erpHarness)
  })
  afterAll(async () => {
    await fx?.close()
  })

  it('random edits on both sides over several runs converge to the model', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(op, { maxLength: 12 }), { minLength: 1, maxLength: 4 }),
        async (rounds) => {
          const t = await fx.contacts()
          const task = fx.task(
            t,
            '    direction: both\n    conflict: { winner: crm }\n    deletes: { policy: propagate, maxShare: 1 }',
          )
          const state = { crm: new Map<number, Rec>(), erp: new Map<number, Rec>() }
          let base = new Map<number, Synced>()
          const addr = (e: number) => `m${e}@example.com`
          const lit = (v: string | null) => (v === null ? 'NULL' : `'${v.replaceAll("'", "''")}'`)
          for (const ops of rounds) {
            for (const o of ops) {
              const rows = state[o.side]
              if (o.kind === 'insert') {
                if (rows.has(o.email)) continue
                rows.set(o.email, { fields: { ...o.fields }, id: newId() })
                await fx.sql(
                  o.side,
                  `INSERT INTO "${t}" ("email", "name", "city") VALUES ('${addr(o.email)}', ${lit(o.fields.name)}, ${lit(o.fields.city)})`,
                )
              } else if (o.kind === 'update') {
                const row = rows.get(o.email)
                if (!row) continue
                row.fields[o.field] = o.value
                await fx.sql(
                  o.side,
                  `UPDATE "${t}" SET "${o.field}" = ${lit(o.value)} WHERE "email" = '${addr(o.email)}'`,
                )
              } else {
                if (!rows.delete(o.email)) continue
                await fx.sql(o.side, `DELETE FROM "${t}" WHERE "email" = '${addr(o.email)}'`)
              }
            }
            const result = await fx.run(task)
            expect(result.status, JSON.stringify(result.error)).toBe('succeeded')
            expect(result.totals.errors).toBe(0)
            base = syncModel(state.crm, state.erp, base)
            state.crm = new Map(
              [...base].map(([e, b]) => [e, { fields: { ...b.fields }, id: b.ids[0] }]),
            )
            state.erp = new Map(
              [...base].map(([e, b]) => [e, { fields: { ...b.fields }, id: b.ids[1] }]),
            )
            const expected = new Map([...base].map(([e, b]) => [addr(e), b.fields]))
            for (const s of ['crm', 'erp'] as const) {
              const actual = new Map(
                [...(await fx.rows(s, t))].map(([e, r]) => [e, { name: r.name, city: r.city }]),
              )
              expect(actual, s).toEqual(expected)
            }
            expect(await fx.store.links.count(task.id, `${t}-${t}`)).toBe(base.size)
            expect(written(await fx.run(task))).toBe(0)
          }
        },
      ),
      // Fewer runs against the servers: each costs a few round trips more than SQLite.
      {
        numRuns: Number(process.env.PROPERTY_RUNS ?? (crmHarness.name === 'sqlite' ? 40 : 12)),
        endOnFailure: true,
        // Found by this property once: an e-mail deleted and re-inserted on one side while its
        // linked record is deleted on the other is a new record, not the old one.
        examples: [
          // A delete against an edit: the ERP deletes what crm edited (crm wins: restored in
          // the ERP), and crm deletes what the ERP edited (crm wins: deleted in the ERP).
          [
            [
              [
                { kind: 'insert', side: 'crm', email: 6, fields: { name: '', city: 'x' } },
                { kind: 'insert', side: 'crm', email: 7, fields: { name: 'Anna', city: 'x' } },
              ],
              [
                { kind: 'update', side: 'crm', email: 6, field: 'city', value: '' },
                { kind: 'delete', side: 'erp', email: 6 },
                { kind: 'update', side: 'erp', email: 7, field: 'name', value: 'Bö' },
                { kind: 'delete', side: 'crm', email: 7 },
              ],
            ],
          ],
          [
            [
              [
                { kind: 'insert', side: 'erp', email: 2, fields: { name: 'Anna', city: 'Bö' } },
                { kind: 'update', side: 'crm', email: 2, field: 'name', value: 'Bö' },
              ],
              [
                { kind: 'delete', side: 'crm', email: 2 },
                { kind: 'delete', side: 'erp', email: 2 },
                { kind: 'insert', side: 'crm', email: 2, fields: { name: "O'Neil", city: null } },
              ],
            ],
          ],
        ],
      },
    )
  }, 600_000)
})

/**
 * Property: random inserts, updates and deletes on both sides, over several runs, always
 * converge to what a simple model of the semantics predicts (crm wins conflicts, deletes
 * propagate, records pair up by e-mail), and links stay one-to-one.
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

/** The expected state of both sides after a sync, from the state before it and the last synced state. */
function syncModel(
  crm: Map<number, Fields>,
  erp: Map<number, Fields>,
  base: Map<number, Fields>,
): Map<number, Fields> {
  const out = new Map<number, Fields>()
  for (const e of new Set([...crm.keys(), ...erp.keys(), ...base.keys()])) {
    const c = crm.get(e)
    const r = erp.get(e)
    const b = base.get(e)
    if (b && (!c || !r)) continue // a linked record deleted on either side is deleted on both
    if (!b && !c) {
      out.set(e, { ...r! })
      continue
    }
    if (!b && !r) {
      out.set(e, { ...c! })
      continue
    }
    const merged: Fields = { name: null, city: null }
    for (const f of ['name', 'city'] as const) {
      const changedC = !b || c![f] !== b[f]
      const changedR = !b || r![f] !== b[f]
      merged[f] = changedC ? c![f] : changedR ? r![f] : b![f]
    }
    out.set(e, merged)
  }
  return out
}

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
          const state = { crm: new Map<number, Fields>(), erp: new Map<number, Fields>() }
          let base = new Map<number, Fields>()
          const addr = (e: number) => `m${e}@example.com`
          const lit = (v: string | null) => (v === null ? 'NULL' : `'${v.replaceAll("'", "''")}'`)
          for (const ops of rounds) {
            for (const o of ops) {
              const rows = state[o.side]
              if (o.kind === 'insert') {
                if (rows.has(o.email)) continue
                rows.set(o.email, { ...o.fields })
                await fx.sql(
                  o.side,
                  `INSERT INTO "${t}" ("email", "name", "city") VALUES ('${addr(o.email)}', ${lit(o.fields.name)}, ${lit(o.fields.city)})`,
                )
              } else if (o.kind === 'update') {
                const row = rows.get(o.email)
                if (!row) continue
                row[o.field] = o.value
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
            state.crm = new Map([...base].map(([e, f]) => [e, { ...f }]))
            state.erp = new Map([...base].map(([e, f]) => [e, { ...f }]))
            const expected = new Map([...base].map(([e, f]) => [addr(e), f]))
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
      },
    )
  }, 600_000)
})

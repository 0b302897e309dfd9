import { describe, expect, it } from 'vitest'
import { fingerprintOf } from '../../src/engine/fingerprint.ts'
import type { Base } from '../../src/engine/pair/base-state.ts'
import {
  conflictWinner,
  decide,
  editedAfter,
  type MergeRules,
  mergeFields,
  type RecordDecision,
  type SideChange,
} from '../../src/engine/pair/merge.ts'
import { ValueCodec } from '../../src/engine/pair/value-codec.ts'
import type { ResolvedPair } from '../../src/engine/task/index.ts'
import type { FieldInfo, RecordTypeInfo } from '../../src/sdk/index.ts'
import { compile, taskDocument } from './task-helpers.ts'

// The pure merge stage (src/engine/pair/merge.ts), table by table: what happens to a record
// for every combination of what each side did, under every strategy and delete policy; then
// field by field, what flows where.

/** A decision as one short word: `create@1` creates on side 1, `park/0` parks side 0's delete. */
function word(d: RecordDecision): string {
  switch (d.kind) {
    case 'create':
    case 'delete':
    case 'recreate':
      return `${d.kind}@${d.on}`
    case 'flag':
    case 'park':
      return `${d.kind}/${d.deleted}`
    default:
      return d.kind
  }
}

/** The strategies, `newest` twice: the edit later than the delete was seen, and earlier. */
const STRATEGIES = ['crm', 'erp', 'newest, edit later', 'newest, edit earlier', 'manual'] as const
type Strategy = (typeof STRATEGIES)[number]

function rules(
  strategy: Strategy,
  policy: MergeRules['deletes']['policy'],
  flows: readonly [boolean, boolean] = [true, true],
): { rules: MergeRules; editedLater: boolean } {
  const winner =
    strategy === 'crm' ? 0 : strategy === 'erp' ? 1 : strategy === 'manual' ? 'manual' : 'newest'
  return {
    rules: { flows, conflict: { winner }, deletes: { policy } },
    editedLater: strategy === 'newest, edit later',
  }
}

const CHANGES: readonly SideChange[] = ['unchanged', 'changed', 'deleted', 'created']

/**
 * Expected decisions with deletes propagated, both ways: [side 0, side 1] → one word for
 * every strategy, or one per strategy in STRATEGIES' order. A `created` side has no link, so
 * the other side can only be `created` too (a match) or have nothing (`unchanged`).
 */
const PROPAGATE: Record<string, string | readonly string[]> = {
  'unchanged unchanged': 'none',
  'unchanged changed': 'merge',
  // Deleted on 1, untouched on 0: the delete flows.
  'unchanged deleted': 'delete@0',
  // New on 1, nothing on 0: created there.
  'unchanged created': 'create@0',
  'changed unchanged': 'merge',
  'changed changed': 'merge',
  // A delete on 1 against an edit on 0: the strategy decides; the edit winning brings the
  // record back on 1; manual parks the delete.
  'changed deleted': ['recreate@1', 'delete@0', 'recreate@1', 'delete@0', 'park/1'],
  'changed created': 'throws',
  'deleted unchanged': 'delete@1',
  'deleted changed': ['delete@1', 'recreate@0', 'recreate@0', 'delete@1', 'park/0'],
  'deleted deleted': 'unlink',
  'deleted created': 'throws',
  'created unchanged': 'create@1',
  'created changed': 'throws',
  'created deleted': 'throws',
  // New on both sides (found by match keys): merged without a base, field by field.
  'created created': 'merge',
}

/** The same with deletes flagged: reported and kept as tombstones, never propagated. */
const FLAG: Record<string, string> = {
  'unchanged deleted': 'flag/1',
  'changed deleted': 'flag/1',
  'deleted unchanged': 'flag/0',
  'deleted changed': 'flag/0',
  // Side 0's scan comes first; side 1's then skips the tombstone.
  'deleted deleted': 'flag/0',
}

/** The same with deletes ignored: an edit of the remaining record brings the other back. */
const IGNORE: Record<string, string> = {
  'unchanged deleted': 'none',
  'changed deleted': 'recreate@1',
  'deleted unchanged': 'none',
  'deleted changed': 'recreate@0',
  'deleted deleted': 'none',
}

function decision(
  changes: readonly [SideChange, SideChange],
  r: { rules: MergeRules; editedLater: boolean },
): string {
  try {
    return word(decide(changes, r.rules, r.editedLater))
  } catch (error) {
    expect((error as { code?: string }).code).toBe('OSY_INTERNAL')
    return 'throws'
  }
}

describe('decide: what happens to a record, by what each side did', () => {
  for (const policy of ['propagate', 'flag', 'ignore'] as const) {
    const rows = CHANGES.flatMap((a) => CHANGES.map((b) => [a, b] as const))
    describe(`deletes: ${policy}`, () => {
      it.each(rows)('%s on crm, %s on erp', (a, b) => {
        const key = `${a} ${b}`
        for (const [i, strategy] of STRATEGIES.entries()) {
          const override =
            policy === 'flag' ? FLAG[key] : policy === 'ignore' ? IGNORE[key] : undefined
          const row = override ?? PROPAGATE[key]!
          const expected = typeof row === 'string' ? row : row[i]
          expect(decision([a, b], rules(strategy, policy)), strategy).toBe(expected)
        }
      })
    })
  }

  it.each([
    // One way crm → erp: erp's edits never flow back, so a delete on crm goes through, and
    // erp's deletes are not detected (its edits and deletes stay on erp).
    ['changed', 'unchanged', 'merge'],
    ['unchanged', 'changed', 'none'],
    ['changed', 'changed', 'merge'],
    ['deleted', 'changed', 'delete@1'],
    ['deleted', 'unchanged', 'delete@1'],
    // Deletes on erp are not crm's to see: the edit on crm waits for delete detection.
    ['changed', 'deleted', 'wait'],
    ['unchanged', 'deleted', 'none'],
    ['created', 'unchanged', 'create@1'],
    ['unchanged', 'created', 'none'],
    ['created', 'created', 'merge'],
  ] as const)('one way crm → erp: %s on crm, %s on erp → %s', (a, b, expected) => {
    for (const strategy of STRATEGIES)
      expect(decision([a, b], rules(strategy, 'propagate', [true, false])), strategy).toBe(expected)
  })
})

describe('the winner of a conflict', () => {
  const pair = (winner: 0 | 1 | 'newest' | 'manual') =>
    ({
      conflict: { winner },
      sides: [{ cursor: 'updated_at' }, { cursor: 'changed' }],
    }) as unknown as ResolvedPair
  const values = (a: unknown, b: unknown) =>
    [{ updated_at: a }, { changed: b }] as unknown as Parameters<typeof conflictWinner>[1]

  it.each([
    [0, '2024-01-01T00:00:00Z', '2024-01-02T00:00:00Z', 0],
    [1, '2024-01-02T00:00:00Z', '2024-01-01T00:00:00Z', 1],
    ['manual', '2024-01-01T00:00:00Z', '2024-01-02T00:00:00Z', 'manual'],
    // newest: the later cursor value, a timestamp with or without zone; a tie goes to crm.
    ['newest', '2024-01-01T00:00:00Z', '2024-01-02T00:00:00', 1],
    ['newest', '2024-01-03T00:00:00', '2024-01-02T00:00:00Z', 0],
    ['newest', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00', 0],
    ['newest', 5, 7, 1],
    // A side without a cursor value loses.
    ['newest', null, '2024-01-01T00:00:00Z', 1],
    ['newest', '2024-01-01T00:00:00Z', null, 0],
  ] as const)('%s with %s on crm and %s on erp: %s', (winner, a, b, expected) => {
    expect(conflictWinner(pair(winner), values(a, b))).toBe(expected)
  })

  it.each([
    ['2024-01-02T00:00:00Z', 'timestamptz', true],
    ['2024-01-02T00:00:00', 'timestamp', true],
    ['2023-12-31T00:00:00Z', 'timestamptz', false],
    // Without a time of the edit the delete goes through.
    ['2024-01-02', 'date', false],
    [42, 'integer', false],
    [null, 'timestamptz', false],
  ] as const)('an edit at %s (%s) after a delete seen at 2024-01-01: %s', (stamp, type, later) => {
    expect(editedAfter(stamp, type, '2024-01-01T00:00:00.000Z')).toBe(later)
  })
})

// ---------------------------------------------------------------- field by field

const field = (name: string, type: FieldInfo['type']): FieldInfo => ({
  name,
  type,
  nativeType: type,
  nullable: true,
})
const recordType = (name: string, fields: FieldInfo[]): RecordTypeInfo => ({
  name,
  kind: 'table',
  readOnly: false,
  fields,
  keyFields: ['id'],
  cursorCandidates: [],
})
const TYPES = [
  recordType('contacts', [
    field('id', 'integer'),
    field('name', 'string'),
    field('updated_at', 'timestamptz'),
  ]),
  recordType('customers', [
    field('id', 'integer'),
    field('company_name', 'string'),
    field('changed', 'timestamptz'),
  ]),
] as const

/** The codec of a crm.contacts.name ↔ erp.customers.company_name pair with these options. */
function codecOf(pair: Record<string, unknown>): ValueCodec {
  const task = compile(
    taskDocument({
      crm: { type: 'contacts', cursor: 'updated_at' },
      erp: { type: 'customers', cursor: 'changed' },
      fields: { name: 'company_name' },
      ...pair,
    }),
  )
  return new ValueCodec(task.pairs[0]!, TYPES)
}

const fp = (v: string) => fingerprintOf(v, 'string')
const BASE: readonly [Base, Base] = [{ name: fp('Acme') }, { name: fp('Acme') }]
const EARLY = '2024-01-01T00:00:00Z'
const LATE = '2024-01-02T00:00:00Z'

/** crm's and erp's record with these names (erp's edit is the later one unless `erpFirst`). */
function records(crm: string, erp: string, erpFirst = false) {
  return [
    { id: 1, name: crm, updated_at: erpFirst ? LATE : EARLY },
    { id: 7, company_name: erp, changed: erpFirst ? EARLY : LATE },
  ] as const
}

/** Field-level rows: the names on each side, and per strategy what is written where. */
const FIELD_ROWS = [
  // [what, crm's name, erp's name, base, strategy, writes to crm, writes to erp, conflict winner]
  ['unchanged on both', 'Acme', 'Acme', BASE, 'crm', {}, {}, undefined],
  ['changed on crm', 'Acme Ltd', 'Acme', BASE, 'crm', {}, { company_name: 'Acme Ltd' }, undefined],
  ['changed on crm', 'Acme Ltd', 'Acme', BASE, 'erp', {}, { company_name: 'Acme Ltd' }, undefined],
  [
    'changed on crm',
    'Acme Ltd',
    'Acme',
    BASE,
    'manual',
    {},
    { company_name: 'Acme Ltd' },
    undefined,
  ],
  ['changed on erp', 'Acme', 'Acme Inc', BASE, 'crm', { name: 'Acme Inc' }, {}, undefined],
  ['changed on erp', 'Acme', 'Acme Inc', BASE, 'newest', { name: 'Acme Inc' }, {}, undefined],
  ['changed alike on both', 'Acme AG', 'Acme AG', BASE, 'manual', {}, {}, undefined],
  ['changed on both', 'Acme Ltd', 'Acme Inc', BASE, 'crm', {}, { company_name: 'Acme Ltd' }, 0],
  ['changed on both', 'Acme Ltd', 'Acme Inc', BASE, 'erp', { name: 'Acme Inc' }, {}, 1],
  // erp's edit is later (see records).
  ['changed on both', 'Acme Ltd', 'Acme Inc', BASE, 'newest', { name: 'Acme Inc' }, {}, 1],
  ['changed on both', 'Acme Ltd', 'Acme Inc', BASE, 'manual', {}, {}, 'manual'],
  // A first sync of two matched records: no base, every differing mapping is a conflict.
  ['created on both, alike', 'Acme', 'Acme', [{}, {}], 'erp', {}, {}, undefined],
  ['created on both', 'Acme', 'ACME', [{}, {}], 'crm', {}, { company_name: 'Acme' }, 0],
  ['created on both', 'Acme', 'ACME', [{}, {}], 'erp', { name: 'ACME' }, {}, 1],
  ['created on both', 'Acme', 'ACME', [{}, {}], 'manual', {}, {}, 'manual'],
] as const

describe('mergeFields: what flows where, field by field', () => {
  it.each(FIELD_ROWS)(
    '%s (crm %s, erp %s), winner %s',
    async (_what, crm, erp, base, strategy, toCrm, toErp, winner) => {
      const codec = codecOf({ conflict: { winner: strategy } })
      const merged = await mergeFields(codec, records(crm, erp), base)
      expect(merged.writes).toEqual([toCrm, toErp])
      expect(merged.conflicts.map((c) => c.winner)).toEqual(winner === undefined ? [] : [winner])
      if (winner !== undefined)
        expect(merged.conflicts[0]!.values).toEqual([{ name: crm }, { company_name: erp }])
      // Whatever was written, the next base is what both sides hold once it landed — and
      // with `manual`, what they hold now, so the conflict is not found again on every run.
      const written = [toCrm as { name?: string }, toErp as { company_name?: string }] as const
      const after = [written[0].name ?? crm, written[1].company_name ?? erp]
      expect(merged.base).toEqual([{ name: fp(after[0]!) }, { name: fp(after[1]!) }])
    },
  )

  it('newest takes the later edit, whichever side it is on', async () => {
    const codec = codecOf({ conflict: { winner: 'newest' } })
    const merged = await mergeFields(codec, records('Acme Ltd', 'Acme Inc', true), BASE)
    expect(merged.writes).toEqual([{}, { company_name: 'Acme Ltd' }])
    expect(merged.conflicts.map((c) => c.winner)).toEqual([0])
  })

  it('one way crm → erp: an edit on erp does not flow back, and wins no conflict it loses', async () => {
    const codec = codecOf({ direction: 'crm->erp', conflict: { winner: 'erp' } })
    const edited = await mergeFields(codec, records('Acme', 'Acme Inc'), BASE)
    expect(edited.writes).toEqual([{}, {}])
    expect(edited.base).toEqual([{ name: fp('Acme') }, { name: fp('Acme Inc') }])
    // erp wins the conflict, but nothing flows to crm: crm's value is not written either.
    const both = await mergeFields(codec, records('Acme Ltd', 'Acme Inc'), BASE)
    expect(both.writes).toEqual([{}, {}])
    expect(both.conflicts.map((c) => c.winner)).toEqual([1])
  })

  it('the merge is pure: the base it is given is not changed', async () => {
    const codec = codecOf({ conflict: { winner: 'crm' } })
    const base: [Base, Base] = [{ name: fp('Acme') }, { name: fp('Acme') }]
    await mergeFields(codec, records('Acme Ltd', 'Acme Inc'), base)
    expect(base).toEqual(BASE)
  })
})

/**
 * The merge and conflict decision, pure: a link's base and both sides' values (or their
 * absence) and the pair's strategy in, a decision or a plan of writes out. No I/O, no clock,
 * no protocol: the stages around it fetch the values and apply what it says.
 *
 * Two levels: {@link decide} says what happens to a record as a whole (created, deleted,
 * merged, parked), composed of what a pass asks ({@link onChange}: a record changed on the
 * side read) and what delete detection asks ({@link onDelete}: a linked record is gone);
 * {@link mergeFields} merges two present records field mapping by field mapping against
 * the base. See docs/engine.md.
 * @module
 */
import { OpenSyncError, type Value } from '../../sdk/index.ts'
import type { Fingerprint } from '../fingerprint.ts'
import { valuesOfFingerprint } from '../fingerprint-value.ts'
import type { ConflictStrategy, FieldValues, ResolvedPair, Side } from '../task/resolved-task.ts'
import type { Base } from './base-state.ts'
import { jsonable, pick } from './record-values.ts'
import type { ValueCodec } from './value-codec.ts'

/** Who wins a conflict: a named side, the newer change (`newest`), or a person (`manual`). */
export type Winner = ConflictStrategy['winner']

/** What the merge rules of a pair are (a {@link ResolvedPair} has them all). */
export interface MergeRules {
  readonly flows: readonly [boolean, boolean]
  readonly conflict: ConflictStrategy
  readonly deletes: { readonly policy: 'propagate' | 'ignore' | 'flag' }
}

/**
 * What a record did on one side since the last sync. `unchanged`, `changed` and `deleted`
 * describe a linked record (equal to its base, different, gone); `created` a record without
 * a link. A side without a record and without a link is `unchanged` too: nothing was there
 * and nothing is.
 */
export type SideChange = 'unchanged' | 'changed' | 'deleted' | 'created'

/** What happens to a record (and its partner), as a whole. */
export type RecordDecision =
  /** Nothing to write. */
  | { readonly kind: 'none' }
  /** The record is created on side `on`, which has none. */
  | { readonly kind: 'create'; readonly on: Side }
  /** Both records are merged field by field against the base ({@link mergeFields}). */
  | { readonly kind: 'merge' }
  /** The record on side `on` is deleted: the other side deleted its partner. */
  | { readonly kind: 'delete'; readonly on: Side }
  /** The delete on side `deleted` is reported and kept as a tombstone, not propagated. */
  | { readonly kind: 'flag'; readonly deleted: Side }
  /** Both records are gone: only the link goes. */
  | { readonly kind: 'unlink' }
  /** The link goes and the record is created again on side `on`, which deleted it. */
  | { readonly kind: 'recreate'; readonly on: Side }
  /** A delete on side `deleted` against an edit: parked for a person, nothing written. */
  | { readonly kind: 'park'; readonly deleted: Side }
  /** A pass leaves the record to delete detection (its partner is gone). */
  | { readonly kind: 'wait' }

const NONE: RecordDecision = Object.freeze({ kind: 'none' })
const MERGE: RecordDecision = Object.freeze({ kind: 'merge' })
const WAIT: RecordDecision = Object.freeze({ kind: 'wait' })
const UNLINK: RecordDecision = Object.freeze({ kind: 'unlink' })
const CREATE_ON = [
  Object.freeze({ kind: 'create', on: 0 }),
  Object.freeze({ kind: 'create', on: 1 }),
] as const satisfies readonly RecordDecision[]
const RECREATE_ON = [
  Object.freeze({ kind: 'recreate', on: 0 }),
  Object.freeze({ kind: 'recreate', on: 1 }),
] as const satisfies readonly RecordDecision[]
const DELETE_ON = [
  Object.freeze({ kind: 'delete', on: 0 }),
  Object.freeze({ kind: 'delete', on: 1 }),
] as const satisfies readonly RecordDecision[]
const FLAG = [
  Object.freeze({ kind: 'flag', deleted: 0 }),
  Object.freeze({ kind: 'flag', deleted: 1 }),
] as const satisfies readonly RecordDecision[]
const PARK = [
  Object.freeze({ kind: 'park', deleted: 0 }),
  Object.freeze({ kind: 'park', deleted: 1 }),
] as const satisfies readonly RecordDecision[]

/**
 * What a pass from side `s` does with a record it read that is new or changed there: its
 * partner on the other side is `absent` (no link, no match), `present` (linked, or matched
 * on a first sync) or `gone` (linked, but deleted). A gone partner is delete detection's to
 * decide when deletes propagate (it runs before the passes, so the next run's decides);
 * otherwise the edit brings the record back (as it does when the link was `asleep`).
 */
export function onChange(
  s: Side,
  partner: 'absent' | 'present' | 'gone',
  rules: MergeRules,
  asleep = false,
): RecordDecision {
  const t = (1 - s) as Side
  if (partner === 'present') return MERGE
  if (partner === 'absent') return CREATE_ON[t]
  // A sleeping link (a record outside its filter) is not delete detection's: it never saw it.
  return rules.deletes.policy === 'propagate' && !asleep ? WAIT : RECREATE_ON[t]
}

/**
 * What delete detection does when side `s` deleted a linked record whose partner is
 * `unchanged`, `changed` (edited since the last sync) or `deleted` (gone, or outside its
 * filter). Flagging reports every delete; a delete against an edit is a conflict when the
 * edits flow back to `s`, decided by the strategy: the deleting side wins (delete), the
 * editing side wins (the record is created again on `s`), `newest` compares the edit with
 * the moment the delete was seen (`editedLater`), `manual` parks it.
 */
export function onDelete(
  s: Side,
  partner: 'unchanged' | 'changed' | 'deleted',
  rules: MergeRules,
  editedLater = false,
): RecordDecision {
  const t = (1 - s) as Side
  if (rules.deletes.policy === 'flag') return FLAG[s]
  if (partner === 'deleted') return UNLINK
  if (partner === 'unchanged' || !rules.flows[t]) return DELETE_ON[t]
  const winner = rules.conflict.winner
  if (winner === 'manual') return PARK[s]
  const editWins = winner === 'newest' ? editedLater : winner === t
  return editWins ? RECREATE_ON[s] : DELETE_ON[t]
}

/**
 * What a run does with a record given what happened on each side since the last sync, as
 * the run's stages compose {@link onDelete} and {@link onChange}: deletes are detected first
 * (on the sides deletes flow from, unless the policy is `ignore`), then each side the pair
 * flows from is read. `editedLater` is for `newest` against a delete: the edit is later
 * than the moment the delete was seen. A side cannot be `changed` or `deleted` while the
 * other is `created`: without a link, nothing of it was synced (an error, a bug).
 */
export function decide(
  changes: readonly [SideChange, SideChange],
  rules: MergeRules,
  editedLater = false,
): RecordDecision {
  const [a, b] = changes
  const created = a === 'created' || b === 'created'
  if (created && (a === 'changed' || a === 'deleted' || b === 'changed' || b === 'deleted'))
    throw new OpenSyncError(
      'OSY_INTERNAL',
      `a record cannot be ${a} on one side and ${b} on the other`,
    )
  if (a === 'deleted' || b === 'deleted') {
    // Delete detection runs side 0 first, on each side deletes flow from.
    const detected = ([0, 1] as const).find(
      (d) => changes[d] === 'deleted' && rules.deletes.policy !== 'ignore' && rules.flows[d],
    )
    if (detected !== undefined) {
      const partner = changes[(1 - detected) as Side] as 'unchanged' | 'changed' | 'deleted'
      return onDelete(detected, partner, rules, editedLater)
    }
    // Not detected: the partner's pass meets it only if the partner changed.
    const other: Side = a === 'deleted' ? 1 : 0
    if (changes[other] !== 'changed' || !rules.flows[other]) return NONE
    return onChange(other, 'gone', rules)
  }
  if (a === 'created' && b === 'created') return rules.flows[0] || rules.flows[1] ? MERGE : NONE
  if (created) {
    const from: Side = a === 'created' ? 0 : 1
    return rules.flows[from] ? onChange(from, 'absent', rules) : NONE
  }
  if ((a === 'changed' && rules.flows[0]) || (b === 'changed' && rules.flows[1])) return MERGE
  return NONE
}

/**
 * Who wins a field conflict: a named side, the side with the later cursor value (`newest`;
 * a side without one loses, side 0 wins a tie), or a person (`manual`).
 */
export function conflictWinner(
  pair: Pick<ResolvedPair, 'conflict' | 'sides'>,
  values: readonly [FieldValues, FieldValues],
): Side | 'manual' {
  const { conflict, sides } = pair
  if (conflict.winner !== 'newest') return conflict.winner
  const stamp = (side: Side) => {
    const cursor = sides[side].cursor
    const v = cursor ? values[side][cursor] : undefined
    return typeof v === 'string' ? v.replace(/Z$/, '') : typeof v === 'number' ? String(v) : ''
  }
  return stamp(1) > stamp(0) ? 1 : 0
}

/**
 * Whether an edit is later than the moment a delete was first seen (`newest` against a
 * delete): the edited record's cursor value, when it is a timestamp, read as UTC. Without
 * one the edit is not later, and the delete goes through.
 */
export function editedAfter(
  stamp: Value | undefined,
  type: string | undefined,
  seenAt: string,
): boolean {
  if (typeof stamp !== 'string' || (type !== 'timestamptz' && type !== 'timestamp')) return false
  const edited = Date.parse(stamp.endsWith('Z') ? stamp : `${stamp}Z`)
  return edited > Date.parse(seenAt)
}

/** A conflict on one mapping: both sides' values (JSON-safe) and who won. */
export interface FieldConflict {
  readonly mapping: string
  readonly values: [unknown, unknown]
  /**
   * Each side's values as last synced (the base), as far as the base's fingerprints keep
   * them (see valuesOfFingerprint); null where they do not (a first sync, a long value).
   */
  readonly base: [unknown, unknown]
  readonly winner: Side | 'manual'
}

/** What merging two records comes to: the values to write on each side, the next base. */
export interface FieldMerge {
  /** Per side, the values to write there (empty: nothing). */
  readonly writes: readonly [Record<string, Value>, Record<string, Value>]
  /** Per side, the base to store once the writes land. */
  readonly base: [Base, Base]
  readonly conflicts: readonly FieldConflict[]
}

/**
 * Field-level three-way merge of two records against their base (empty on a first sync,
 * when the records were paired by match keys). Per mapping: unchanged on both sides, nothing;
 * changed on one side, its value flows to the other (when the pair flows that way); changed
 * on both to values that are equal after mapping, nothing but the base; otherwise a
 * conflict, resolved by the strategy — the winner's value flows to the loser, and `manual`
 * writes nothing but takes both current values into the base, so the conflict is not found
 * again on every run and the next edit on either side flows as usual. Asynchronous only for
 * JSONata transforms; pure otherwise.
 */
export async function mergeFields(
  codec: ValueCodec,
  values: readonly [FieldValues, FieldValues],
  bases: readonly [Base, Base],
): Promise<FieldMerge> {
  const { pair } = codec
  const next: [Base, Base] = [{ ...bases[0] }, { ...bases[1] }]
  const writes: [Record<string, Value>, Record<string, Value>] = [{}, {}]
  const conflicts: FieldConflict[] = []
  for (const m of pair.mappings) {
    const now: [Fingerprint, Fingerprint] = [codec.fp(0, values[0], m), codec.fp(1, values[1], m)]
    const changed = [now[0] !== bases[0][m.id], now[1] !== bases[1][m.id]] as const
    if (!changed[0] && !changed[1]) continue
    if (changed[0] !== changed[1]) {
      const from: Side = changed[0] ? 0 : 1
      const to = (1 - from) as Side
      if (pair.flows[from]) {
        const out = await codec.convert(from, m, values[from])
        Object.assign(writes[to], out)
        next[to][m.id] = codec.fp(to, out, m)
      }
      next[from][m.id] = now[from]
      continue
    }
    // Changed on both sides (or first sync): equal after mapping is no conflict.
    const from0 = pair.flows[0] ? await codec.convert(0, m, values[0]) : undefined
    if (from0 && codec.fp(1, from0, m) === now[1]) {
      next[0][m.id] = now[0]
      next[1][m.id] = now[1]
      continue
    }
    const from1 = pair.flows[1] ? await codec.convert(1, m, values[1]) : undefined
    if (from1 && codec.fp(0, from1, m) === now[0]) {
      next[0][m.id] = now[0]
      next[1][m.id] = now[1]
      continue
    }
    const winner = conflictWinner(pair, values)
    const pairValues: [unknown, unknown] = [
      jsonable(pick(values[0], m.fields[0])),
      jsonable(pick(values[1], m.fields[1])),
    ]
    const base: [unknown, unknown] = [
      valuesOfFingerprint(bases[0][m.id], m.fields[0]) ?? null,
      valuesOfFingerprint(bases[1][m.id], m.fields[1]) ?? null,
    ]
    conflicts.push({ mapping: m.id, values: pairValues, base, winner })
    if (winner === 'manual') {
      next[0][m.id] = now[0]
      next[1][m.id] = now[1]
      continue
    }
    const loser = (1 - winner) as Side
    const out = winner === 0 ? from0 : from1
    if (out) {
      Object.assign(writes[loser], out)
      next[loser][m.id] = codec.fp(loser, out, m)
    } else {
      next[loser][m.id] = now[loser]
    }
    next[winner][m.id] = now[winner]
  }
  return { writes, base: next, conflicts }
}

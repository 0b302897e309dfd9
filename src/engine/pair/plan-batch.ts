import { coerceError, type SourceRecord } from '../../sdk/index.ts'
import type { Link } from '../../store/index.ts'
import type { Side } from '../task/resolved-task.ts'
import { type Base, baseOf } from './base-state.ts'
import type { BatchLookup, Partner } from './lookup.ts'
import { mergeFields, onChange, type RecordDecision } from './merge.ts'
import { isDormant, type PairState } from './pair-state.ts'
import { planCreate } from './plan-create.ts'
import type { BatchPlan, Planned, RecordPlan } from './plans.ts'

/**
 * Plans a looked-up batch read on side `s`: per record, what the merge decides (see
 * merge.ts: create on the other side, merge with the partner, leave it to delete detection,
 * create again after the partner was deleted), and the writes and base that come of it.
 * A record whose partner left its filter puts the link to sleep; a record whose plan fails
 * (a transform) is a failure, not a reason to stop.
 */
export async function planBatch(state: PairState, s: Side, found: BatchLookup): Promise<BatchPlan> {
  const { pair, protocol } = state.ctx
  const t = (1 - s) as Side
  const counts = state.counts(s)
  const { changed, unlinked, partners, outside, matches, blocked } = found
  const plans: RecordPlan[] = []
  const failures: BatchPlan['failures'] = []
  const toUnlink: Link[] = []
  const dormant: Link[] = []

  // Plans are made synchronously unless a transform is asynchronous (JSONata): a million
  // records should not cost a million promises, nor closures.
  const failed = (record: SourceRecord, error: unknown) => {
    failures.push({ key: record.key, error: coerceError(error) })
    return undefined
  }
  const plan = (
    record: SourceRecord,
    decision: RecordDecision,
    partner: Partner | undefined,
    link: Link | undefined,
  ): Planned => {
    if (decision.kind === 'merge') return planMerge(state, s, record, partner!, link)
    return planCreate(state, s, record)
  }
  for (let i = 0; i < changed.length; i++) {
    const { record, link } = changed[i]!
    const values = partners.get(link.keys[t])
    if (!values && outside.has(link.keys[t])) {
      // The other side's record is outside its filter: the link sleeps, nothing is written.
      if (link.outside === t) counts.unchanged++
      else {
        dormant.push({ ...link, outside: t })
        counts.unlinked++
      }
      continue
    }
    const decision = onChange(s, values ? 'present' : 'gone', pair, isDormant(link))
    if (decision.kind === 'wait') {
      // The other side's record is gone: delete detection decides, not this pass.
      counts.unchanged++
      continue
    }
    if (decision.kind === 'recreate') toUnlink.push(link)
    let planned: Planned
    try {
      planned = plan(record, decision, values && { key: link.keys[t], values }, link)
    } catch (error) {
      failed(record, error)
      continue
    }
    if (planned instanceof Promise) planned = await planned.catch((e) => failed(record, e))
    if (planned) plans.push(planned)
  }
  if (blocked.size > 0)
    protocol.log(
      'info',
      `${blocked.size} record(s) of ${pair.sides[s].type} not created in ${pair.sides[t].type}: a record with the same match values is there, outside the filter`,
      pair.id,
    )
  for (let i = 0; i < unlinked.length; i++) {
    const record = unlinked[i]!
    if (blocked.has(record.key)) {
      counts.unchanged++
      continue
    }
    const match = matches.get(record.key)
    const decision = onChange(s, match ? 'present' : 'absent', pair)
    let planned: Planned
    try {
      planned = plan(record, decision, match, undefined)
    } catch (error) {
      failed(record, error)
      continue
    }
    if (planned instanceof Promise) planned = await planned.catch((e) => failed(record, e))
    if (planned) plans.push(planned)
  }
  for (const f of failures)
    protocol.log(
      'warn',
      `record ${f.key} of ${pair.sides[s].type} skipped: ${f.error.message}`,
      pair.id,
    )
  return { plans, failures, toUnlink, dormant }
}

/**
 * The plan of a record of side `s` merged with its partner against the link's base (none on
 * a first sync, when records were paired by match keys); conflicts a side won are logged.
 */
async function planMerge(
  state: PairState,
  s: Side,
  record: SourceRecord,
  partner: Partner,
  link: Link | undefined,
): Promise<RecordPlan> {
  const { pair, protocol, task } = state.ctx
  const t = (1 - s) as Side
  const bases: [Base, Base] = [link ? baseOf(link, 0) : {}, link ? baseOf(link, 1) : {}]
  const { writes, base, conflicts } = await mergeFields(
    state.codec,
    s === 0 ? [record.values, partner.values] : [partner.values, record.values],
    bases,
  )
  for (const c of conflicts) {
    if (c.winner === 'manual') continue
    protocol.log(
      'info',
      `conflict on ${c.mapping} of ${task.systems[s].key} ${pair.sides[s].type} ${record.key}: ${task.systems[c.winner].key} wins`,
      pair.id,
      { mapping: c.mapping, values: c.values },
    )
  }
  const p: RecordPlan = {
    sourceKey: record.key,
    targetKey: partner.key,
    base,
    conflicts,
    ...(link !== undefined && link.keys[t] === partner.key ? { stored: true } : {}),
  }
  if (Object.keys(writes[t]).length > 0)
    p.toTarget = { op: 'update', key: partner.key, values: writes[t] }
  if (Object.keys(writes[s]).length > 0)
    p.toSource = { op: 'update', key: record.key, values: writes[s] }
  return p
}

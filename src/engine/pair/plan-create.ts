import { conformValue, type SourceRecord, type Value } from '../../sdk/index.ts'
import { fingerprintOf } from '../fingerprint.ts'
import type { FieldValues, Side } from '../task/resolved-task.ts'
import type { Base } from './base-state.ts'
import type { PairState } from './pair-state.ts'
import type { Planned, RecordPlan } from './plans.ts'

const NO_CONFLICTS: RecordPlan['conflicts'] = Object.freeze([])
/** The conversions of a create that needs none (plain renames only). */
const NONE_CONVERTED: readonly (FieldValues | undefined)[] = Object.freeze([])
/** The base objects of a plan whose base went straight to text (see plainBaseText). */
const NO_BASE = Object.freeze([Object.freeze({}), Object.freeze({})]) as [Base, Base]

/**
 * Plans the create of a record of side `s` on the other side: its values as the other side
 * stores them, and the base both sides will have once it landed. Synchronous unless a
 * transform is asynchronous: a million creates should not cost a million promises.
 */
export function planCreate(state: PairState, s: Side, record: SourceRecord): Planned {
  // Plain renames only: nothing to convert.
  if (state.baseText[s]) return createPlan(state, s, record, NONE_CONVERTED)
  const converted = state.codec.convertAll(s, record.values)
  return converted instanceof Promise
    ? converted.then((c) => createPlan(state, s, record, c))
    : createPlan(state, s, record, converted)
}

function createPlan(
  state: PairState,
  s: Side,
  record: SourceRecord,
  converted: readonly (FieldValues | undefined)[],
): RecordPlan {
  const { codec } = state
  const { pair } = codec
  const t = (1 - s) as Side
  const { mappings } = pair
  const direct = codec.direct[s]
  const externalId = pair.sides[t].externalId
  const baseText = state.baseText[s]
  const template = codec.outTemplates[s]
  if (baseText && template) {
    // Plain renames only, read alike on both sides: one base serves both. The values are
    // copied into a template with every field in place (one allocation of the right size),
    // and the base's stored text is joined straight from them (base-state).
    const out: Record<string, Value> = { ...template }
    for (let i = 0; i < mappings.length; i++) {
      const d = direct[i]!
      out[d.to] = record.values[d.from] ?? null
    }
    if (externalId) out[externalId] = record.key
    return {
      sourceKey: record.key,
      base: NO_BASE,
      baseText: baseText(record.values),
      sameBases: true,
      toTarget: { op: 'create', values: out },
      conflicts: NO_CONFLICTS,
    }
  }
  const out: Record<string, Value> = {}
  const base: [Base, Base] = [{}, {}]
  let same = true
  for (let i = 0; i < mappings.length; i++) {
    const m = mappings[i]!
    const d = direct[i]
    if (d) {
      // A plain rename: the value as it is (or as the target stores it), fingerprinted once
      // when both sides read it alike.
      const value = record.values[d.from] ?? null
      const stored = d.conform ? conformValue(value, d.conform) : value
      out[d.to] = stored
      const fromSource = fingerprintOf(value, d.fromType)
      const onTarget = d.sameText ? fromSource : fingerprintOf(stored, d.toType)
      base[s][m.id] = fromSource
      base[t][m.id] = onTarget
      same &&= fromSource === onTarget
      continue
    }
    const c = converted[i]!
    for (const f in c) out[f] = c[f]!
    const fromSource = codec.fp(s, record.values, m)
    const onTarget = codec.fp(t, c, m)
    base[s][m.id] = fromSource
    base[t][m.id] = onTarget
    same &&= fromSource === onTarget
  }
  if (externalId) out[externalId] = record.key
  return {
    sourceKey: record.key,
    base,
    sameBases: same,
    toTarget: { op: 'create', values: out },
    conflicts: NO_CONFLICTS,
  }
}

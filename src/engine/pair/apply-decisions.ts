import type { Value, WriteOp, WriteResult } from '../../sdk/index.ts'
import type { ConflictRow, Link } from '../../store/index.ts'
import { decidedValues, valueSide } from '../decided-value.ts'
import { direction, RECORD_CONFLICT } from '../protocol.ts'
import type { FieldValues, Side } from '../task/resolved-task.ts'
import { type Base, baseOf, storedBases } from './base-state.ts'
import type { Lookup } from './lookup.ts'
import type { PairState } from './pair-state.ts'
import { conformAll } from './record-values.ts'

/**
 * Applies the decisions people made on this pair's parked conflicts: a field conflict
 * takes the winner's current value on both sides (or the value decided), a delete against
 * an edit deletes the edited record (the deleting side won) or has it created again on the
 * deleting side by that side's pass (the editing side won). Each decision is applied once.
 */
export async function applyDecisions(state: PairState, lookup: Lookup): Promise<void> {
  const { task, pair, store, conns, protocol, dryRun, signal } = state.ctx
  const { codec } = state
  const decided = await store.conflicts.decided(task.id, pair.id)
  if (decided.length === 0) return
  const links = await lookup.findLinks(
    0,
    decided.map((c) => c.keys[0]),
  )
  const records = [new Map<string, FieldValues>(), new Map<string, FieldValues>()] as const
  for (const s of [0, 1] as const) {
    const keys = decided.map((c) => c.keys[s])
    for (const r of await lookup.readByKeys(s, keys, true)) records[s].set(r.key, r.values)
  }
  const ops: [WriteOp[], WriteOp[]] = [[], []]
  const writes = [
    new Map<string, Record<string, Value>>(),
    new Map<string, Record<string, Value>>(),
  ] as const
  const bases = new Map<string, [Base, Base]>()
  const unlink: Link[] = []
  let skipped = 0
  for (const c of decided) {
    const link = links.get(c.keys[0])
    if (!link || link.keys[1] !== c.keys[1]) {
      skipped++
      continue
    }
    if (c.winner === undefined) {
      // Decided by a value, or (an old row) by nothing.
      if (!('value' in c) || !(await decideValue(state, c, link, records, writes, bases))) skipped++
      continue
    }
    const w = c.winner
    const l = (1 - w) as Side
    if (c.mapping === RECORD_CONFLICT) {
      // The side whose value is null deleted the record.
      const deleter: Side = c.values[0] === null ? 0 : 1
      if (w === deleter) {
        if (records[l].has(link.keys[l])) ops[l].push({ op: 'delete', key: link.keys[l] })
      } else state.restore[w].add(link.keys[w])
      unlink.push(link)
      continue
    }
    const m = pair.mappings.find((x) => x.id === c.mapping)
    const v0 = records[0].get(link.keys[0])
    const v1 = records[1].get(link.keys[1])
    if (!m || !v0 || !v1 || !pair.flows[w]) {
      skipped++
      continue
    }
    const values = [v0, v1] as const
    const base = bases.get(link.keys[0]) ?? [{ ...baseOf(link, 0) }, { ...baseOf(link, 1) }]
    const out = await codec.convert(w, m, values[w])
    const pending = writes[l].get(link.keys[l]) ?? {}
    Object.assign(pending, out)
    writes[l].set(link.keys[l], pending)
    base[w][m.id] = codec.fp(w, values[w], m)
    base[l][m.id] = codec.fp(l, out, m)
    bases.set(link.keys[0], base)
  }
  for (const s of [0, 1] as const)
    for (const [key, values] of writes[s]) ops[s].push({ op: 'update', key, values })
  protocol.log(
    'info',
    `applying ${decided.length - skipped} decided conflict(s)${skipped > 0 ? `; ${skipped} no longer apply (the records are gone, unlinked or outside the filter)` : ''}`,
    pair.id,
  )
  const results: [readonly WriteResult[], readonly WriteResult[]] = [[], []]
  for (const s of [0, 1] as const) {
    if (ops[s].length === 0) continue
    results[s] = dryRun
      ? ops[s].map((o) => ({ ok: true, key: 'key' in o ? o.key : '' }))
      : await conns[s].write(pair.sides[s].type, ops[s], signal ? { signal } : {})
    ops[s].forEach((o, i) => {
      const r = results[s][i]!
      const from = (1 - s) as Side
      const key = 'key' in o ? o.key : ''
      const counts = state.counts(from)
      if (!r.ok) {
        counts.errors++
        protocol.log(
          'warn',
          `decided conflict on ${key} of ${pair.sides[s].type} failed: ${r.error.message}`,
          pair.id,
        )
        return
      }
      if (o.op === 'delete') counts.deleted++
      else counts.updated++
      protocol.change({
        pairId: pair.id,
        direction: direction(from),
        op: o.op === 'delete' ? 'delete' : 'update',
        sourceKey: key,
        targetKey: key,
      })
    })
  }
  if (dryRun) return
  const updated: Link[] = []
  const syncedAt = new Date().toISOString()
  for (const [key0, base] of bases) {
    const link = links.get(key0)!
    updated.push({ ...link, base: storedBases(base), syncedAt })
  }
  await state.commit(async (tx) => {
    if (updated.length > 0) await tx.links.upsert(updated)
    if (unlink.length > 0)
      await tx.links.remove(
        task.id,
        pair.id,
        0,
        unlink.map((l) => l.keys[0]),
      )
    await tx.conflicts.markApplied(decided.map((c) => c.id))
  })
}

/**
 * A conflict decided by a value: written as decided on the side it is given for (see
 * valueSide) and, converted by the mapping, on the other; false when it no longer applies.
 */
async function decideValue(
  state: PairState,
  c: ConflictRow,
  link: Link,
  records: readonly [ReadonlyMap<string, FieldValues>, ReadonlyMap<string, FieldValues>],
  writes: readonly [Map<string, Record<string, Value>>, Map<string, Record<string, Value>>],
  bases: Map<string, [Base, Base]>,
): Promise<boolean> {
  const { pair } = state.ctx
  const { codec } = state
  const m = pair.mappings.find((x) => x.id === c.mapping)
  if (!m || !records[0].has(link.keys[0]) || !records[1].has(link.keys[1])) return false
  const s = valueSide(pair)
  const o = (1 - s) as Side
  let given: FieldValues
  try {
    given = decidedValues(m, s, c.value)
  } catch {
    return false
  }
  const infos = m.fields[s].flatMap((f) => {
    const info = codec.fields[s].get(f)
    return info ? [info] : []
  })
  const values: [FieldValues, FieldValues] = [{}, {}]
  values[s] = conformAll(given, infos)
  values[o] = await codec.convert(s, m, values[s])
  const base = bases.get(link.keys[0]) ?? [{ ...baseOf(link, 0) }, { ...baseOf(link, 1) }]
  for (const side of [0, 1] as const) {
    // A side the pair never writes keeps its value; its base stays as it was.
    if (!pair.flows[1 - side]) continue
    const pending = writes[side].get(link.keys[side]) ?? {}
    Object.assign(pending, values[side])
    writes[side].set(link.keys[side], pending)
    base[side][m.id] = codec.fp(side, values[side], m)
  }
  bases.set(link.keys[0], base)
  return true
}

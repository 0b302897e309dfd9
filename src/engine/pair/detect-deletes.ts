import {
  KeyHashSet,
  OpenSyncError,
  type SourceRecord,
  throwIfAborted,
  type WriteOp,
  type WriteResult,
} from '../../sdk/index.ts'
import type { Link } from '../../store/index.ts'
import { direction, RECORD_CONFLICT } from '../protocol.ts'
import type { Side } from '../task/resolved-task.ts'
import { baseOf } from './base-state.ts'
import type { Lookup } from './lookup.ts'
import { editedAfter, onDelete } from './merge.ts'
import { isDormant, type PairState } from './pair-state.ts'
import type { ParkedConflict } from './plans.ts'
import { chunks, jsonable, pick } from './record-values.ts'

/** Deletes below this count never trip the mass-delete guard, so small tables can shrink. */
const GUARD_MIN_DELETES = 10

/**
 * Delete detection for side `s`: the keys present there (a key scan through the side's
 * filter) against the pair's links. A linked record that left the filter but still exists
 * is unlinked (its link sleeps); the rest is gone: flagged, or — past the mass-delete guard —
 * decided against the other record (merge.ts `onDelete`) and deleted there.
 */
export async function detectDeletes(state: PairState, lookup: Lookup, s: Side): Promise<void> {
  const { task, pair, store, conns, protocol, dryRun, batchSize, signal } = state.ctx
  const t = (1 - s) as Side
  const side = pair.sides[s]
  const counts = state.counts(s)
  if (!(await store.links.exists(task.id, pair.id))) return
  // When the deletes found now were first seen: what `newest` dates them by.
  const seenAt = new Date().toISOString()
  // Hashes, not the keys: a million keys as strings held ~45 MB. A collision (one in ~10^12
  // for a key against ten million) would keep one deleted record's link a run longer.
  const present = new KeyHashSet()
  const scan = conns[s].readKeys
    ? conns[s].readKeys!(side.type, {
        ...state.keyed(s),
        ...(side.filter ? { filter: side.filter } : {}),
        batchSize: batchSize * 10,
        ...(signal ? { signal } : {}),
      })
    : mapKeys(
        conns[s].read(side.type, {
          ...state.keyed(s),
          fields: [],
          ...(side.filter ? { filter: side.filter } : {}),
          batchSize,
        }),
      )
  for await (const keys of scan) for (const k of keys) present.add(k)
  let gone: Link[] = []
  /** Dormant links whose record inside the filter is gone too: nothing is left to sync. */
  const spent: Link[] = []
  let total = 0
  for await (const links of store.links.scan(task.id, pair.id, batchSize * 10)) {
    for (const link of links) {
      const current = dryRun ? (state.overlay[s].get(link.keys[s]) ?? link) : link
      if (current === null) continue
      // A record outside its filter is not in the scan; neither record of the link is written.
      if (isDormant(current)) {
        if (current.outside === t && !present.has(link.keys[s])) spent.push(current)
        continue
      }
      total++
      if (current.deleted === s || current.deleted === t) continue
      if (!present.has(link.keys[s])) gone.push(current)
    }
  }
  if (dryRun) for (const l of spent) state.setOverlay(l, null)
  else if (spent.length > 0)
    await state.commit((tx) =>
      tx.links.remove(
        task.id,
        pair.id,
        s,
        spent.map((l) => l.keys[s]),
      ),
    )
  if (gone.length === 0) return

  // A record that left the filter but still exists is unlinked, never deleted: its link
  // sleeps, with its base, until the record comes back.
  if (side.filter) {
    const still = await lookup.readByKeysMap(
      s,
      gone.map((l) => l.keys[s]),
    )
    const left = gone.filter((l) => still.has(l.keys[s]))
    gone = gone.filter((l) => !still.has(l.keys[s]))
    if (left.length > 0) {
      counts.unlinked += left.length
      protocol.log(
        'info',
        `${left.length} record(s) of ${side.type} left the filter and were unlinked`,
        pair.id,
      )
      const asleep = left.map((l) => ({ ...l, outside: s }))
      for (const l of asleep) {
        state.linkChange('unlink', s, l)
        if (dryRun) state.setOverlay(l, l)
      }
      if (!dryRun) await state.commit((tx) => tx.links.upsert(asleep))
    }
  }
  if (gone.length === 0) return

  // Flagging needs no look at the other records (merge.ts: onDelete flags every delete).
  if (pair.deletes.policy === 'flag') {
    protocol.log(
      'warn',
      `${gone.length} record(s) deleted in ${side.type} are flagged, not deleted in ${pair.sides[t].type}`,
      pair.id,
      {
        keys: gone.slice(0, 100).map((l) => l.keys[t]),
      },
    )
    for (const l of gone) state.linkChange('flag', s, l)
    if (!dryRun)
      await state.commit((tx) => tx.links.upsert(gone.map((l) => ({ ...l, deleted: s }))))
    return
  }
  const share = total > 0 ? gone.length / total : 1
  if (gone.length >= GUARD_MIN_DELETES && share > pair.deletes.maxShare) {
    throw new OpenSyncError(
      'OSY_DELETE_GUARD',
      `stopped: ${gone.length} of ${total} linked records (${(share * 100).toFixed(1)}%) are gone from ${side.type}, more than the limit of ${(pair.deletes.maxShare * 100).toFixed(0)}% — check the filter, or raise deletes.maxShare if this is intended`,
      { details: { recordType: side.type, count: gone.length, total } },
    )
  }
  gone = await againstEdits(state, lookup, s, gone, seenAt)
  for (const chunk of chunks(gone, batchSize)) {
    throwIfAborted(signal)
    const results: readonly WriteResult[] = dryRun
      ? chunk.map((l) => ({ ok: true, key: l.keys[t] }))
      : await conns[t].write(
          pair.sides[t].type,
          chunk.map((l) => ({ op: 'delete', key: l.keys[t] }) as WriteOp),
          signal ? { signal } : {},
        )
    const done: Link[] = []
    chunk.forEach((l, i) => {
      const r = results[i]!
      if (r.ok) {
        done.push(l)
        state.linkChange('delete', s, l)
      } else {
        counts.errors++
        protocol.log(
          'warn',
          `delete of ${l.keys[t]} in ${pair.sides[t].type} failed: ${r.error.message}`,
          pair.id,
        )
        protocol.change({
          pairId: pair.id,
          direction: direction(s),
          op: 'error',
          sourceKey: l.keys[s],
          targetKey: l.keys[t],
          values: { code: r.error.code, message: r.error.message },
        })
      }
    })
    counts.deleted += done.length
    if (!dryRun && done.length > 0)
      await state.commit((tx) =>
        tx.links.remove(
          task.id,
          pair.id,
          s,
          done.map((l) => l.keys[s]),
        ),
      )
    state.ctx.onProgress?.({ pairId: pair.id, direction: direction(s), phase: 'deletes', counts })
  }
  if (!dryRun) await state.ctx.flush()
}

/**
 * Of the links whose record side `s` deleted, the ones whose other record is to be deleted,
 * as merge.ts's `onDelete` decides against the other record: unchanged, it goes; edited
 * since the last sync (in a pair that flows back), it is a conflict — deleted, created again
 * on side `s` by the other side's pass (a new link, no duplicate; the record is read again
 * there), or parked (the link stays as a tombstone until a person decides). A record that is
 * gone or outside its filter on the other side too just loses its link.
 */
async function againstEdits(
  state: PairState,
  lookup: Lookup,
  s: Side,
  gone: readonly Link[],
  seenAt: string,
): Promise<Link[]> {
  const { task, pair, protocol, dryRun } = state.ctx
  const t = (1 - s) as Side
  const counts = state.counts(s)
  const { found } = await lookup.targetsInFilter(
    t,
    gone.map((l) => l.keys[t]),
  )
  const cursor = pair.sides[t].cursor
  const cursorType = cursor ? state.codec.fields[t].get(cursor)?.type : undefined
  const deletes: Link[] = []
  const unlink: Link[] = []
  const parked: Link[] = []
  const conflicts: ParkedConflict[] = []
  for (const link of gone) {
    const values = found.get(link.keys[t])
    const partner = !values
      ? 'deleted'
      : state.codec.sameAsBase(t, values, baseOf(link, t))
        ? 'unchanged'
        : 'changed'
    const editedLater =
      values !== undefined &&
      pair.conflict.winner === 'newest' &&
      cursor !== undefined &&
      editedAfter(values[cursor], cursorType, seenAt)
    const decision = onDelete(s, partner, pair, editedLater)
    if (values && partner === 'changed' && pair.flows[t]) {
      counts.conflicts++
      const edited = jsonable(pick(values, state.codec.mappedFields(t)))
      const both: [unknown, unknown] = s === 0 ? [null, edited] : [edited, null]
      const names = task.systems
      const outcome =
        decision.kind === 'park'
          ? 'parked for a decision'
          : `${names[decision.kind === 'delete' ? s : t].key} wins`
      protocol.log(
        'info',
        `conflict on ${pair.sides[s].type} ${link.keys[s]}: deleted in ${names[s].key}, edited in ${names[t].key} — ${outcome}`,
        pair.id,
      )
      protocol.change({
        pairId: pair.id,
        direction: direction(s),
        op: 'conflict',
        sourceKey: link.keys[s],
        targetKey: link.keys[t],
        values: { mapping: RECORD_CONFLICT, values: both },
      })
      if (decision.kind === 'park')
        conflicts.push({
          taskId: task.id,
          pairId: pair.id,
          keys: link.keys,
          mapping: RECORD_CONFLICT,
          values: both,
        })
    }
    if (decision.kind === 'delete') deletes.push(link)
    else if (decision.kind === 'park') parked.push({ ...link, deleted: s })
    else {
      unlink.push(link)
      if (decision.kind === 'recreate') state.restore[t].add(link.keys[t])
    }
  }
  if (dryRun) {
    for (const l of unlink) state.setOverlay(l, null)
    for (const l of parked) state.setOverlay(l, l)
  } else if (unlink.length > 0 || parked.length > 0) {
    await state.commit(async (tx) => {
      if (unlink.length > 0)
        await tx.links.remove(
          task.id,
          pair.id,
          s,
          unlink.map((l) => l.keys[s]),
        )
      if (parked.length > 0) {
        await tx.links.upsert(parked)
        await tx.conflicts.park(conflicts)
      }
    })
  }
  return deletes
}

async function* mapKeys(
  stream: AsyncIterable<{ records: readonly SourceRecord[] }>,
): AsyncIterable<string[]> {
  for await (const batch of stream) yield batch.records.map((r) => r.key)
}

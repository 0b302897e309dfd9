import type { Value } from '../../sdk/index.ts'
import type { Link } from '../../store/index.ts'
import { matchFilter } from '../key-filters.ts'
import type { Side } from '../task/resolved-task.ts'
import { LOOKUP_CHUNK, type Lookup } from './lookup.ts'
import type { PairState } from './pair-state.ts'
import { chunks, sameMatch } from './record-values.ts'

/**
 * Resolves creates from side `s` that were sent but whose link never got committed (a
 * crash): looks the records up on the other side by its external-ID field (or the match
 * values), links what landed with an empty base (the next merge compares both sides afresh:
 * equal values converge), and drops the intents. Returns the intents' source keys, for the
 * pass to read again.
 */
export async function recoverIntents(state: PairState, lookup: Lookup, s: Side): Promise<string[]> {
  const { task, pair, store, dryRun, protocol } = state.ctx
  if (dryRun) return []
  const t = (1 - s) as Side
  const intents = await store.intents.open(task.id, pair.id, s)
  if (intents.length === 0) return []
  const externalId = pair.sides[t].externalId
  const found = new Map<string, string>()
  const parts = chunks(intents, LOOKUP_CHUNK).map((chunk) => {
    const sets = chunk.map((i) =>
      externalId ? { [externalId]: i.sourceKey } : (i.match as Record<string, Value>),
    )
    return { chunk, sets }
  })
  const type = state.ctx.types[t]
  const records = await lookup.readWhere(
    t,
    parts.map(({ sets }) => matchFilter(type, sets)),
  )
  parts.forEach(({ chunk, sets }, n) => {
    for (const r of records[n]!) {
      chunk.forEach((intent, i) => {
        if (!found.has(intent.sourceKey) && sameMatch(sets[i]!, r.values))
          found.set(intent.sourceKey, r.key)
      })
    }
  })
  const links: Link[] = []
  const syncedAt = new Date().toISOString()
  for (const [sourceKey, targetKey] of found) {
    const keys: [string, string] = s === 0 ? [sourceKey, targetKey] : [targetKey, sourceKey]
    links.push({
      taskId: task.id,
      pairId: pair.id,
      keys,
      base: ['{}', '{}'],
      syncedAt,
      deleted: null,
    })
  }
  await state.commit(async (tx) => {
    if (links.length > 0) await tx.links.upsert(links)
    await tx.intents.remove(intents.map((i) => i.id))
  })
  protocol.log(
    'warn',
    `recovered ${intents.length} interrupted create(s): ${found.size} had landed and were linked`,
    pair.id,
  )
  return intents.map((i) => i.sourceKey)
}

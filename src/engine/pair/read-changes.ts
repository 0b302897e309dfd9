import { type Checkpoint, type SourceRecord, throwIfAborted } from '../../sdk/index.ts'
import type { StoredCheckpoint } from '../../store/index.ts'
import type { Side } from '../task/resolved-task.ts'
import type { PairState } from './pair-state.ts'

/** A batch of changes read from one side (the hand-over to the lookup). */
export interface ChangeBatch {
  readonly records: readonly SourceRecord[]
  /** Where the read stands once this batch is committed; none in snapshot mode. */
  readonly checkpoint: Checkpoint | undefined
}

/**
 * The keys side `s`'s pass reads again first, whatever the cursor says: records that failed
 * before (pending record errors) and those that won against a delete (restored). Notes
 * whether the side may have errors to clear.
 */
export async function keysToRetry(state: PairState, s: Side): Promise<Set<string>> {
  const { task, pair, store } = state.ctx
  const retry = new Set(await store.recordErrors.pending(task.id, pair.id, s))
  for (const key of state.restore[s]) retry.add(key)
  // Quarantined records are not pending but still clear when they sync: only a pair that
  // never had an error at all skips the clearing.
  state.mayHaveErrors[s] = state.hadLinks || retry.size > 0
  return retry
}

/**
 * A protocol warning when side `s` reads by a cursor that no index of its table starts with:
 * then every run, even one that finds nothing, scans the whole table (a no-op over a million
 * MariaDB rows: 0.4–0.6 s against 0.08 s with the index, docs/benchmarks.md). Said once a
 * pass, only where the bridge can tell (`hasIndexOn`).
 */
export async function warnUnindexedCursor(state: PairState, s: Side): Promise<void> {
  const { pair, conns, protocol } = state.ctx
  const side = pair.sides[s]
  if (!side.cursor || !conns[s].hasIndexOn) return
  if ((await conns[s].hasIndexOn(side.type, side.cursor)) !== false) return
  protocol.log(
    'warn',
    `${side.type}.${side.cursor} has no index: every run scans all of ${side.type} to find what changed; an index on ${side.cursor} lets a run that finds nothing read nothing`,
    pair.id,
    { field: side.cursor, recordType: side.type },
  )
}

/**
 * The change reading of one pass: side `s`'s records since its checkpoint (cursor mode,
 * with the lag window) or all of them (snapshot mode), through its filter, a batch ahead
 * (see {@link readAhead}). Records in `skip` were read by key already. `noCursor` counts
 * the records read without a cursor value (a full read only sees them).
 */
export class ChangeRead {
  #noCursor = 0
  readonly #state: PairState
  readonly #s: Side
  readonly #skip: ReadonlySet<string>

  constructor(state: PairState, s: Side, skip: ReadonlySet<string>) {
    this.#state = state
    this.#s = s
    this.#skip = skip
  }

  /** Records read without a cursor value so far. */
  get noCursor(): number {
    return this.#noCursor
  }

  async *batches(): AsyncIterable<ChangeBatch> {
    const state = this.#state
    const s = this.#s
    const skip = this.#skip
    const { task, pair, store, conns, batchSize, signal, protocol } = state.ctx
    const side = pair.sides[s]
    const readAt = new Date().toISOString()
    let since = side.cursor ? await store.checkpoints.get(task.id, pair.id, s) : undefined
    if (since && since.cursorField !== side.cursor) {
      protocol.log(
        'warn',
        `the cursor of ${side.type} changed to ${side.cursor}: reading everything once`,
        pair.id,
      )
      since = undefined
    }
    const stream = conns[s].read(side.type, {
      ...state.keyed(s),
      fields: state.codec.readFields(s),
      ...(side.cursor ? { cursor: side.cursor } : {}),
      ...(since
        ? {
            since: {
              cursorField: since.cursorField,
              position: since.position,
              ...(since.seal ? { seal: since.seal } : {}),
            },
            lag: lagOf(state, s, since),
          }
        : // A first read gets the lag too: a bridge may seal the window it ends in.
          side.cursor
          ? { lag: side.lag }
          : {}),
      ...(side.filter ? { filter: side.filter } : {}),
      batchSize,
      ...(signal ? { signal } : {}),
    })
    for await (const batch of readAhead(stream)) {
      throwIfAborted(signal)
      // A record retried first is not processed twice when the cursor reads it again.
      const records = skip.size > 0 ? batch.records.filter((r) => !skip.has(r.key)) : batch.records
      // Records without a cursor value sort first and are read by a full read only: once, on
      // the first sync (or after a reset); a read since a checkpoint never sees them again.
      if (side.cursor && !since) {
        for (let i = 0; i < records.length; i++)
          if (records[i]!.values[side.cursor] == null) this.#noCursor++
      }
      const checkpoint: StoredCheckpoint | undefined = batch.checkpoint
        ? { ...batch.checkpoint, readAt }
        : undefined
      yield { records, checkpoint }
    }
  }
}

/**
 * How far before the checkpoint to read again. Late commits carry a cursor value from
 * before the last read started, so only the part of the window after `readAt - lag`
 * can hold one: once the last read started well after the checkpoint's time, nothing
 * is re-read — a bulk load is not read again on every run.
 */
function lagOf(state: PairState, s: Side, since: StoredCheckpoint): number {
  const side = state.ctx.pair.sides[s]
  const cursor = state.codec.fields[s].get(side.cursor ?? '')
  const at = since.position[0]
  // Only instants compare with our clock; wall-clock timestamps may be in any zone.
  if (!since.readAt || cursor?.type !== 'timestamptz' || typeof at !== 'string') return side.lag
  const behind = (Date.parse(since.readAt) - Date.parse(at)) / 1000
  return Number.isFinite(behind) ? Math.max(0, side.lag - behind) : side.lag
}

/**
 * Iterates a stream one batch ahead: the next page is read while this one is merged,
 * written and committed, so the source's query overlaps the target's writes. Batches are
 * still handed over strictly in order, one at a time, and at most two are in memory.
 */
async function* readAhead<T>(stream: AsyncIterable<T>): AsyncIterable<T> {
  const it = stream[Symbol.asyncIterator]()
  let next = it.next()
  try {
    while (true) {
      const current = await next
      if (current.done) return
      next = it.next()
      // A failed read-ahead surfaces when its turn comes, not as an unhandled rejection.
      next.catch(() => {})
      yield current.value
    }
  } finally {
    await it.return?.()
  }
}

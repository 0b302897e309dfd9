import type { Checkpoint, SourceRecord } from '../sdk/index.ts'
import { applyDecisions } from './pair/apply-decisions.ts'
import { BatchPipeline } from './pair/batch-pipeline.ts'
import { detectDeletes } from './pair/detect-deletes.ts'
import { Lookup } from './pair/lookup.ts'
import { type PairRunContext, PairState } from './pair/pair-state.ts'
import { planBatch } from './pair/plan-batch.ts'
import { ChangeRead, keysToRetry, warnUnindexedCursor } from './pair/read-changes.ts'
import { chunks } from './pair/record-values.ts'
import { recoverIntents } from './pair/recover-intents.ts'
import { direction } from './protocol.ts'
import type { Side } from './task/resolved-task.ts'

export type {
  PairProgress,
  PairRunContext,
  Probe,
  ProbePoint,
} from './pair/pair-state.ts'

/**
 * One run of one pair, as a pipeline of stages (src/engine/pair/, docs/engine.md): decided
 * conflicts first, then delete detection, then a pass per direction that reads changes in
 * batches; per batch, the lookup finds links and partners, planning merges or creates each
 * record (the pure merge decides), and the batch pipeline writes both sides and commits
 * links, base state, errors and the checkpoint together — so a crash loses at most the
 * batches in flight, and rereading them converges instead of duplicating.
 */
export class PairRun {
  readonly #state: PairState
  readonly #lookup: Lookup
  readonly #pipeline: BatchPipeline

  constructor(ctx: PairRunContext) {
    this.#state = new PairState(ctx)
    this.#lookup = new Lookup(this.#state)
    this.#pipeline = new BatchPipeline(this.#state)
  }

  async run(): Promise<void> {
    const state = this.#state
    const { pair, task, store, snapshotReads } = state.ctx
    state.hadLinks = await store.links.exists(task.id, pair.id)
    state.mayHaveLinks = state.hadLinks
    // Decisions people made on parked conflicts go first: they are the newest word.
    if (state.hadLinks && pair.conflict.winner === 'manual')
      await applyDecisions(state, this.#lookup)
    // Deletes first: a system may hand a deleted record's key to a new record (SQLite reuses
    // rowids), and the stale link must be gone before a create claims that key.
    if (pair.deletes.policy !== 'ignore') {
      for (const s of [0, 1] as const)
        if (pair.flows[s]) await detectDeletes(state, this.#lookup, s)
    }
    let first = true
    for (const s of [0, 1] as const) {
      if (!pair.flows[s]) continue
      // A source without snapshot reads may hand a record over twice in one pass (edited
      // while read): the second time it must find the link the first one made.
      state.noLinksYet = first && !state.hadLinks && snapshotReads[s]
      first = false
      await this.#pass(s)
      if (state.linkedInPass) state.mayHaveLinks = true
    }
  }

  /** One direction: records to read again first (by key), then the changes since the checkpoint. */
  async #pass(s: Side): Promise<void> {
    const state = this.#state
    const { pair, batchSize, protocol, dryRun } = state.ctx
    const side = pair.sides[s]
    const counts = state.counts(s)

    const retry = await keysToRetry(state, s)
    for (const key of await recoverIntents(state, this.#lookup, s)) retry.add(key)
    if (retry.size > 0) state.noLinksYet = false
    state.targetEmpty =
      state.codec.matchMappings.length > 0 &&
      !dryRun &&
      (await this.#lookup.isEmpty((1 - s) as Side))
    if (retry.size > 0) {
      const restored = state.restore[s].size
      const again = retry.size - restored
      if (again > 0)
        protocol.log(
          'info',
          `retrying ${again} record(s) of ${side.type} that failed or were interrupted before`,
          pair.id,
        )
      if (restored > 0)
        protocol.log(
          'info',
          `restoring ${restored} record(s) of ${side.type} whose edit won against a delete`,
          pair.id,
        )
      await this.#pipeline.run(async () => {
        for (const chunk of chunks([...retry], batchSize)) {
          await this.#batch(s, await this.#lookup.readByKeys(s, chunk, true), undefined)
        }
      })
    }

    await warnUnindexedCursor(state, s)
    const read = new ChangeRead(state, s, retry)
    await this.#pipeline.run(async () => {
      for await (const batch of read.batches()) {
        await this.#batch(s, batch.records, batch.checkpoint)
        state.ctx.onProgress?.({ pairId: pair.id, direction: direction(s), phase: 'read', counts })
      }
    })
    if (read.noCursor > 0)
      protocol.log(
        'warn',
        `${read.noCursor} record(s) of ${side.type} have no ${side.cursor}: synced now, but later changes to them are not seen until ${side.cursor} has a value (or use snapshot mode: no cursor)`,
        pair.id,
        { field: side.cursor, count: read.noCursor },
      )
  }

  /** One batch through the stages: lookup, planning (the merge), the write and commit pipeline. */
  async #batch(
    s: Side,
    records: readonly SourceRecord[],
    checkpoint: Checkpoint | undefined,
  ): Promise<void> {
    const found = await this.#lookup.batch(s, records, this.#pipeline)
    const plan = await planBatch(this.#state, s, found)
    await this.#pipeline.apply(s, plan, checkpoint)
  }
}

import type { Checkpoint, OpenSyncError, WriteResult } from '../../sdk/index.ts'
import type { Link, StoreRepos } from '../../store/index.ts'
import { direction } from '../protocol.ts'
import type { Side } from '../task/resolved-task.ts'
import { SAME_AS_FIRST, storedBases } from './base-state.ts'
import type { InFlightKeys } from './lookup.ts'
import type { PairState } from './pair-state.ts'
import type { BatchPlan, ParkedConflict } from './plans.ts'
import { jsonable } from './record-values.ts'

/** A batch whose write or commit is still running (see {@link BatchPipeline.apply}). */
interface InFlight {
  /** The source keys it handles. */
  readonly sources: Set<string>
  /** The target keys it writes; the keys it creates join once its write lands. */
  readonly targets: Set<string>
  /** Whether it is writing creates whose keys are not known yet. */
  creating: boolean
  /** Its writes to both sides landed. */
  written: Promise<void>
  /** Its store transaction committed. */
  done: Promise<void>
}

/** What the two sides answered to a batch's writes, one result per op in plan order. */
interface BatchResults {
  readonly target: readonly WriteResult[]
  readonly source: readonly WriteResult[]
}

/** What a batch's commit stores. */
interface BatchOutcome {
  /** Links to insert or update. */
  readonly links: readonly Link[]
  /** Links of created records, new on both sides. */
  readonly created: readonly Link[]
  /** Links stored with the same keys (updated records): updated in place. */
  readonly relinked: readonly Link[]
  readonly failed: ReadonlyMap<string, OpenSyncError>
  readonly conflicts: readonly ParkedConflict[]
}

/**
 * The batch pipeline: writes a batch's ops to both sides, then commits links, base state,
 * intents, record errors, parked conflicts and the checkpoint in one fenced store
 * transaction. Batch N is written while batch N+1 is looked up and planned, and committed
 * while N+1 is written: one write and one commit in flight at most, commits in batch order
 * (checkpoints only move forward). A batch that writes only to sides whose bridges take
 * concurrent writes starts while the batch before it is still writing: two writes in flight
 * (a write's round trips and the target's commit then overlap the next one's). A batch that
 * writes to another side waits for every write in flight. It keeps the in-flight bookkeeping
 * lookups wait on.
 */
export class BatchPipeline implements InFlightKeys {
  readonly #state: PairState
  /** The last batches' writes, and the commit of the one before them. */
  readonly #inFlight: InFlight[] = []

  constructor(state: PairState) {
    this.#state = state
  }

  get busy(): boolean {
    return this.#inFlight.length > 0
  }

  handles(sources: readonly string[]): boolean {
    return sources.some((k) => this.#inFlight.some((b) => b.sources.has(k)))
  }

  /**
   * Runs batches whose writes and commits overlap the next batch, and returns once the last
   * commit has landed. A failed batch still lets the one before it finish committing: its
   * writes landed.
   */
  async run(batches: () => Promise<void>): Promise<void> {
    try {
      await batches()
      await this.settle()
    } finally {
      await this.settle().catch(() => {})
    }
  }

  /** Waits for the batches in flight to commit; the first failure is this run's failure. */
  async settle(): Promise<void> {
    const inFlight = this.#inFlight.splice(0)
    let failure: { error: unknown } | undefined
    for (const batch of inFlight) {
      try {
        await batch.done
      } catch (error) {
        failure ??= { error }
      }
    }
    if (failure) throw failure.error
  }

  async createsLanded(): Promise<void> {
    for (const batch of this.#inFlight) if (batch.creating) await batch.written
  }

  claimed(key: string): boolean {
    return this.#inFlight.some((b) => b.targets.has(key))
  }

  /**
   * Writes a planned batch of side `s` to both sides, then commits it with the checkpoint.
   * Outside a dry run both happen in the background: this returns once the write has
   * started. A dry run writes nothing and keeps the links it would have stored in the overlay.
   */
  async apply(s: Side, batch: BatchPlan, checkpoint: Checkpoint | undefined): Promise<void> {
    const state = this.#state
    const { task, pair, store, conns, dryRun, signal } = state.ctx
    const { plans, toUnlink, dormant } = batch
    const t = (1 - s) as Side
    const targetOps = plans.filter((p) => p.toTarget)
    const sourceOps = plans.filter((p) => p.toSource)
    if (dryRun) {
      const outcome = this.#outcome(s, batch, {
        target: targetOps.map((p) => ({
          ok: true,
          key: p.targetKey ?? `(new ${++state.created})`,
        })),
        source: sourceOps.map((p) => ({ ok: true, key: p.sourceKey })),
      })
      for (const l of toUnlink) state.setOverlay(l, null)
      for (const l of dormant) state.linkChange('unlink', s, l)
      for (const l of [...dormant, ...outcome.links, ...outcome.relinked, ...outcome.created]) {
        state.setOverlay(l, l)
        state.touched.add(l.keys[0])
      }
      return
    }

    // Two writes in flight when every side this batch writes takes concurrent writes, else
    // one; and one commit behind them at most.
    const concurrent = state.ctx.concurrentWrites
    const alone =
      (targetOps.length > 0 && !concurrent[t]) || (sourceOps.length > 0 && !concurrent[s])
    const last = this.#inFlight.at(-1)
    if (alone) for (const batch of this.#inFlight) await batch.written
    else await this.#inFlight.at(-2)?.written
    // Commits are chained in batch order: this one's done means every older one's is.
    await this.#inFlight.at(alone ? -2 : -3)?.done

    const creates = targetOps.filter((p) => p.toTarget!.op === 'create')
    let intentIds: number[] = []
    // With match keys, a rerun finds a create that landed before its commit by matching, as
    // on a first sync; an intent is needed (and usable) only with an external-ID field.
    if (creates.length > 0 && state.codec.matchMappings.length === 0 && pair.sides[t].externalId) {
      intentIds = await store.intents.add(
        creates.map((p) => ({
          taskId: task.id,
          pairId: pair.id,
          direction: s,
          sourceKey: p.sourceKey,
          match: {},
        })),
      )
    }

    const sources = new Set(plans.map((p) => p.sourceKey))
    for (const l of toUnlink) sources.add(l.keys[s])
    for (const l of dormant) {
      sources.add(l.keys[s])
      state.linkChange('unlink', s, l)
    }
    const targets = new Set<string>()
    for (const p of plans) if (p.targetKey !== undefined) targets.add(p.targetKey)
    const opts = signal ? { signal } : {}
    const flight: InFlight = {
      sources,
      targets,
      creating: creates.length > 0,
      written: Promise.resolve(),
      done: Promise.resolve(),
    }
    const results = (async (): Promise<BatchResults> => {
      state.ctx.probe?.('before-write', pair.id)
      const target =
        targetOps.length > 0
          ? await conns[t].write(
              pair.sides[t].type,
              targetOps.map((p) => p.toTarget!),
              opts,
            )
          : []
      const source =
        sourceOps.length > 0
          ? await conns[s].write(
              pair.sides[s].type,
              sourceOps.map((p) => p.toSource!),
              opts,
            )
          : []
      // The keys it created are known now: lookups waiting for them may go on.
      for (const r of target) if (r.ok) targets.add(r.key)
      flight.creating = false
      state.ctx.probe?.('after-write', pair.id)
      return { target, source }
    })()
    flight.written = results.then(() => undefined)
    flight.done = Promise.all([results, last?.done]).then(async ([r]) => {
      const outcome = this.#outcome(s, batch, r)
      await state.commit((tx) => this.#store(tx, s, batch, outcome, intentIds, checkpoint))
      state.ctx.probe?.('after-commit', pair.id)
      await state.ctx.flush()
    })
    // Awaited later (settle, the next batch); until then a failure must not count as unhandled.
    flight.written.catch(() => {})
    flight.done.catch(() => {})
    this.#inFlight.push(flight)
    // Kept: the batches whose commit this one has not waited for.
    while (this.#inFlight.length > (alone ? 2 : 3)) this.#inFlight.shift()
  }

  /**
   * What a batch's writes came to: the links to store, the failures, the conflicts to park,
   * with counts and the protocol's change lines updated.
   */
  #outcome(s: Side, batch: BatchPlan, results: BatchResults): BatchOutcome {
    const { task, pair, protocol } = this.#state.ctx
    const { plans, failures, toUnlink } = batch
    const t = (1 - s) as Side
    const countsST = this.#state.counts(s)
    const countsTS = this.#state.counts(t)
    const failed = new Map(failures.map((f) => [f.key, f.error]))
    let i = 0
    for (const p of plans) {
      if (!p.toTarget) continue
      const r = results.target[i++]!
      if (r.ok) p.targetKey = r.key
      else failed.set(p.sourceKey, r.error)
    }
    i = 0
    for (const p of plans) {
      if (!p.toSource) continue
      const r = results.source[i++]!
      if (!r.ok) failed.set(p.sourceKey, r.error)
    }

    const links: Link[] = []
    const created: Link[] = []
    const relinked: Link[] = []
    const syncedAt = new Date().toISOString()
    const conflicts: ParkedConflict[] = []
    const manual = pair.conflict.winner === 'manual'
    for (const p of plans) {
      if (failed.has(p.sourceKey) || p.targetKey === undefined) continue
      const keys: [string, string] =
        s === 0 ? [p.sourceKey, p.targetKey] : [p.targetKey, p.sourceKey]
      const op = p.toTarget?.op
      ;(op === 'create' ? created : p.stored ? relinked : links).push({
        taskId: task.id,
        pairId: pair.id,
        keys,
        base:
          p.baseText !== undefined ? [p.baseText, SAME_AS_FIRST] : storedBases(p.base, p.sameBases),
        syncedAt,
        deleted: null,
      })
      if (op === 'create') countsST.created++
      else if (op === 'update') countsST.updated++
      if (p.toSource) countsTS.updated++
      if (!p.toTarget && !p.toSource && p.conflicts.length === 0) countsST.unchanged++
      countsST.conflicts += p.conflicts.length
      if (manual)
        for (const c of p.conflicts)
          conflicts.push({
            taskId: task.id,
            pairId: pair.id,
            keys,
            mapping: c.mapping,
            values: c.values,
            ...(c.base !== undefined ? { base: c.base } : {}),
          })
      // Values only while the report keeps them; the stored protocol keeps keys.
      const withValues = protocol.keepsChanges
      if (p.toTarget)
        protocol.change({
          pairId: pair.id,
          direction: direction(s),
          op: op!,
          sourceKey: p.sourceKey,
          targetKey: p.targetKey,
          ...(withValues
            ? { values: jsonable(p.toTarget.op === 'delete' ? {} : p.toTarget.values) }
            : {}),
        })
      if (p.toSource)
        protocol.change({
          pairId: pair.id,
          direction: direction(t),
          op: 'update',
          sourceKey: p.targetKey,
          targetKey: p.sourceKey,
          ...(withValues
            ? { values: jsonable(p.toSource.op === 'delete' ? {} : p.toSource.values) }
            : {}),
        })
      for (const c of p.conflicts)
        protocol.change({
          pairId: pair.id,
          direction: direction(s),
          op: 'conflict',
          sourceKey: p.sourceKey,
          targetKey: p.targetKey,
          values: { mapping: c.mapping, values: c.values },
        })
    }
    countsST.errors += failed.size
    countsST.unlinked += toUnlink.length
    for (const [key, error] of failed) {
      protocol.log(
        'warn',
        `record ${key} of ${pair.sides[s].type} failed: ${error.code} ${error.message}`,
        pair.id,
        { code: error.code },
      )
      protocol.change({
        pairId: pair.id,
        direction: direction(s),
        op: 'error',
        sourceKey: key,
        values: { code: error.code, message: error.message },
      })
    }
    return { links, created, relinked, failed, conflicts }
  }

  /** A batch's store transaction: links, intents, record errors, parked conflicts, checkpoint. */
  async #store(
    tx: StoreRepos,
    s: Side,
    { plans, toUnlink, dormant }: BatchPlan,
    { links, created, relinked, failed, conflicts }: BatchOutcome,
    intentIds: readonly number[],
    checkpoint: Checkpoint | undefined,
  ): Promise<void> {
    const state = this.#state
    const { task, pair, protocol, quarantineAfter } = state.ctx
    const t = (1 - s) as Side
    if (toUnlink.length > 0)
      await tx.links.remove(
        task.id,
        pair.id,
        s,
        toUnlink.map((l) => l.keys[s]),
      )
    // A created record's key may have belonged to a record deleted since (reused ids):
    // the stale link has to go, or the new one would collide with it.
    const createdKeys = plans.filter(
      (p) => p.toTarget?.op === 'create' && p.targetKey !== undefined && !failed.has(p.sourceKey),
    )
    if (createdKeys.length > 0 && state.mayHaveLinks) {
      const stale = await tx.links.remove(
        task.id,
        pair.id,
        t,
        createdKeys.map((p) => p.targetKey!),
      )
      if (stale > 0)
        protocol.log(
          'warn',
          `${stale} link(s) pointed at ${pair.sides[t].type} keys that were reused by new records; replaced`,
          pair.id,
        )
    }
    if (links.length > 0 || dormant.length > 0) await tx.links.upsert([...dormant, ...links])
    if (relinked.length > 0) await tx.links.update(relinked)
    // A create's link is new on both sides: its source key had none (looked up, or the pass
    // began without links on a source whose reads see one snapshot), and a stale link to its
    // target key went above.
    if (created.length > 0) await tx.links.insert(created)
    if (links.length > 0 || created.length > 0 || relinked.length > 0) state.linkedInPass = true
    if (intentIds.length > 0) await tx.intents.remove(intentIds)
    if (failed.size > 0) {
      state.mayHaveErrors[s] = true
      const recorded = await tx.recordErrors.record(
        [...failed].map(([key, error]) => ({
          taskId: task.id,
          pairId: pair.id,
          direction: s,
          key,
          code: error.code,
          message: error.message,
        })),
        quarantineAfter,
      )
      for (const r of recorded) {
        if (r.quarantined)
          protocol.log(
            'error',
            `record ${r.key} of ${pair.sides[s].type} quarantined after ${r.attempts} failed attempts`,
            pair.id,
          )
      }
    }
    const okKeys = plans.filter((p) => !failed.has(p.sourceKey)).map((p) => p.sourceKey)
    if (okKeys.length > 0 && state.mayHaveErrors[s]) {
      await tx.recordErrors.clear(task.id, pair.id, s, okKeys)
    }
    if (conflicts.length > 0) await tx.conflicts.park(conflicts)
    if (checkpoint) await tx.checkpoints.set(task.id, pair.id, s, checkpoint)
  }
}

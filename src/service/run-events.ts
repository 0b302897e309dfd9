import type { PairProgress } from '../engine/pair-run.ts'
import type { ExecutionCounts, ExecutionRow } from '../store/index.ts'
import type { EventHub } from './event-hub.ts'

/** Options of {@link RunEvents}. */
export interface RunEventsOptions {
  /** At most one progress event per execution this often. Default 250 ms. */
  readonly progressMs?: number
  /** The clock, for tests. */
  readonly now?: () => number
}

interface Live {
  readonly execution: ExecutionRow
  last: number
  pending?: PairProgress
  timer?: NodeJS.Timeout
  /** Conflicts seen so far, per pair and direction, to tell how many a batch parked. */
  readonly conflicts: Map<string, number>
}

/**
 * Turns the lifecycle of runs into hub events: queued, started, progress per batch
 * (throttled per execution, the latest counts always shown before the run ends), ended, and
 * conflict parked whenever a batch parked conflicts.
 */
export class RunEvents {
  readonly #hub: EventHub
  readonly #interval: number
  readonly #now: () => number
  readonly #live = new Map<number, Live>()

  constructor(hub: EventHub, options: RunEventsOptions = {}) {
    this.#hub = hub
    this.#interval = options.progressMs ?? 250
    this.#now = options.now ?? Date.now
  }

  queued(execution: { id: number; taskId: string; trigger: string }): void {
    this.#hub.publish({
      type: 'execution.queued',
      executionId: execution.id,
      taskId: execution.taskId,
      trigger: execution.trigger,
    })
  }

  started(execution: ExecutionRow): void {
    this.#live.set(execution.id, {
      execution,
      last: Number.NEGATIVE_INFINITY,
      conflicts: new Map(),
    })
    this.#hub.publish({
      type: 'execution.started',
      executionId: execution.id,
      taskId: execution.taskId,
      trigger: execution.trigger,
    })
  }

  /** The engine's progress callback of one run. */
  progress(executionId: number, p: PairProgress): void {
    const live = this.#live.get(executionId)
    if (!live) return
    const key = `${p.pairId}\u0000${p.direction}`
    const seen = live.conflicts.get(key) ?? 0
    if (p.counts.conflicts > seen) {
      live.conflicts.set(key, p.counts.conflicts)
      this.#hub.publish({
        type: 'conflict.parked',
        executionId,
        taskId: live.execution.taskId,
        pairId: p.pairId,
        direction: p.direction,
        parked: p.counts.conflicts - seen,
      })
    }
    // The engine reuses its counts object: keep a copy of this moment's.
    const snapshot: PairProgress = { ...p, counts: { ...p.counts } }
    const wait = live.last + this.#interval - this.#now()
    if (wait <= 0) {
      this.#emit(live, snapshot)
      return
    }
    live.pending = snapshot
    live.timer ??= setTimeout(() => {
      live.timer = undefined
      if (live.pending) this.#emit(live, live.pending)
    }, wait)
    live.timer.unref?.()
  }

  ended(
    execution: ExecutionRow,
    outcome: {
      status: 'succeeded' | 'partial' | 'failed' | 'cancelled'
      counts: ExecutionCounts
      error?: { code: string; message: string }
    },
  ): void {
    const live = this.#live.get(execution.id)
    if (live) {
      clearTimeout(live.timer)
      if (live.pending) this.#emit(live, live.pending)
      this.#live.delete(execution.id)
    }
    this.#hub.publish({
      type: 'execution.ended',
      executionId: execution.id,
      taskId: execution.taskId,
      status: outcome.status,
      counts: outcome.counts,
      ...(outcome.error ? { error: outcome.error } : {}),
    })
  }

  #emit(live: Live, p: PairProgress): void {
    live.pending = undefined
    live.last = this.#now()
    this.#hub.publish({
      type: 'execution.progress',
      executionId: live.execution.id,
      taskId: live.execution.taskId,
      pairId: p.pairId,
      direction: p.direction,
      phase: p.phase,
      counts: p.counts,
    })
  }
}

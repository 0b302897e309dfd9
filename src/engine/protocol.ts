import type { Counts, ExecutionCounts, LogEntry } from '../store/index.ts'
import type { Side } from './task/resolved-task.ts'

/** A direction label: records flowing from side 0 to side 1, or back. */
export type Direction = '0->1' | '1->0'

// The store keeps counts and protocol lines; the engine uses its types rather than a copy.
export type { Counts, ExecutionCounts, LogEntry }

/** A change the engine would make (dry run) or made, for reports. */
export interface PlannedChange {
  readonly pairId: string
  readonly direction: Direction
  readonly op: 'create' | 'update' | 'upsert' | 'delete' | 'conflict' | 'unlink' | 'link' | 'flag'
  /** The key of the record that changed (source side). */
  readonly sourceKey: string
  /** The key of the record written (target side), when it exists yet. */
  readonly targetKey?: string
  /** Field values written, or the two values of a conflict. */
  readonly values?: unknown
}

/**
 * The mapping id of a conflict about a whole record: deleted on one side, edited on the
 * other. Its values are `null` on the deleting side and the edited record on the other.
 */
export const RECORD_CONFLICT = '(record)'

/** The direction a record flows in when it goes from `from`. */
export function direction(from: Side): Direction {
  return from === 0 ? '0->1' : '1->0'
}

/** Zeroed counts. */
export function emptyCounts(): Counts {
  return {
    read: 0,
    created: 0,
    updated: 0,
    deleted: 0,
    unchanged: 0,
    conflicts: 0,
    errors: 0,
    unlinked: 0,
  }
}

/**
 * Collects counts, protocol lines and (in a dry run) planned changes of one execution.
 * Lines are buffered and handed to `flush` per batch, so the log costs one statement a batch.
 */
export class Protocol {
  readonly counts: ExecutionCounts = {}
  readonly changes: PlannedChange[] = []
  #pending: LogEntry[] = []
  readonly #keepChanges: boolean
  readonly #maxChanges: number

  constructor(options: { keepChanges: boolean; maxChanges?: number }) {
    this.#keepChanges = options.keepChanges
    this.#maxChanges = options.maxChanges ?? 10_000
  }

  /** The counts of a pair and direction, created on first use. */
  of(pairId: string, dir: Direction): Counts {
    let pair = this.counts[pairId]
    if (!pair) {
      pair = { '0->1': emptyCounts(), '1->0': emptyCounts() }
      this.counts[pairId] = pair
    }
    return pair[dir]
  }

  log(level: LogEntry['level'], message: string, pairId?: string, data?: unknown): void {
    this.#pending.push({
      at: new Date().toISOString(),
      level,
      message,
      ...(pairId !== undefined ? { pairId } : {}),
      ...(data !== undefined ? { data } : {}),
    })
  }

  /** Whether another change would still be kept (callers skip building one otherwise). */
  get keepsChanges(): boolean {
    return this.#keepChanges && this.changes.length < this.#maxChanges
  }

  /** Records a planned or made change, for the dry-run report. */
  change(change: PlannedChange): void {
    if (this.#keepChanges && this.changes.length < this.#maxChanges) this.changes.push(change)
  }

  /** Takes the buffered lines. */
  drain(): LogEntry[] {
    const out = this.#pending
    this.#pending = []
    return out
  }

  /** Sums all counts. */
  totals(): Counts {
    return sumCounts(this.counts)
  }
}

/** Sums counts over every pair and direction (missing counts, as in old protocols, are 0). */
export function sumCounts(counts: ExecutionCounts | undefined): Counts {
  const total = emptyCounts()
  for (const pair of Object.values(counts ?? {})) {
    for (const c of Object.values(pair)) {
      for (const k of Object.keys(total) as (keyof Counts)[]) total[k] += c[k] ?? 0
    }
  }
  return total
}

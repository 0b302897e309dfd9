import type { ChangeEntry, ChangeOp, Counts, ExecutionCounts, LogEntry } from '../store/index.ts'
import type { Side } from './task/resolved-task.ts'

/** A direction label: records flowing from side 0 to side 1, or back. */
export type Direction = '0->1' | '1->0'

// The store keeps counts and protocol lines; the engine uses its types rather than a copy.
export type { Counts, ExecutionCounts, LogEntry }

/** A change the engine would make (dry run) or made, for reports. */
export interface PlannedChange {
  readonly pairId: string
  readonly direction: Direction
  readonly op:
    | 'create'
    | 'update'
    | 'upsert'
    | 'delete'
    | 'conflict'
    | 'unlink'
    | 'link'
    | 'flag'
    | 'error'
  /** The key of the record that changed (source side). */
  readonly sourceKey: string
  /** The key of the record written (target side), when it exists yet. */
  readonly targetKey?: string
  /** Field values written, the two values of a conflict, or a failure's code and message. */
  readonly values?: unknown
}

/** Records kept per pair, direction and kind of change for the stored protocol. */
export const STORED_CHANGES_PER_KIND = 1000

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
  /** Changes by key for the stored protocol, not yet written (see drainChanges). */
  #pendingChanges: ChangeEntry[] = []
  /** How many changes of each pair, direction and kind the stored protocol holds. */
  readonly #stored = new Map<string, number>()
  readonly #keepChanges: boolean
  readonly #maxChanges: number
  readonly #storedPerKind: number

  constructor(options: { keepChanges: boolean; maxChanges?: number; storedPerKind?: number }) {
    this.#keepChanges = options.keepChanges
    this.#maxChanges = options.maxChanges ?? 10_000
    this.#storedPerKind = options.storedPerKind ?? STORED_CHANGES_PER_KIND
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

  /**
   * Records a planned or made change: with its values for the report (the first
   * `maxChanges`), and by key for the stored protocol (the first `storedPerKind` of each
   * pair, direction and kind; the counts say how many there were in all).
   */
  change(change: PlannedChange): void {
    if (this.#keepChanges && this.changes.length < this.#maxChanges) this.changes.push(change)
    const op = storedOp(change.op)
    if (!op) return
    const kind = `${change.pairId}\u0000${change.direction}\u0000${op}`
    const n = this.#stored.get(kind) ?? 0
    if (n >= this.#storedPerKind) return
    this.#stored.set(kind, n + 1)
    this.#pendingChanges.push({
      pairId: change.pairId,
      direction: change.direction === '0->1' ? 0 : 1,
      op,
      sourceKey: change.sourceKey,
      ...(change.targetKey !== undefined ? { targetKey: change.targetKey } : {}),
      ...detailOf(change),
    })
  }

  /** Takes the buffered lines. */
  drain(): LogEntry[] {
    const out = this.#pending
    this.#pending = []
    return out
  }

  /** Takes the buffered changes for the stored protocol. */
  drainChanges(): ChangeEntry[] {
    const out = this.#pendingChanges
    this.#pendingChanges = []
    return out
  }

  /** Sums all counts. */
  totals(): Counts {
    return sumCounts(this.counts)
  }
}

function storedOp(op: PlannedChange['op']): ChangeOp | undefined {
  if (op === 'upsert') return 'update'
  return op === 'link' ? undefined : op
}

/** What a stored change keeps besides keys: never field values, which may be personal data. */
function detailOf(change: PlannedChange): { detail?: ChangeEntry['detail'] } {
  const v = change.values as { mapping?: unknown; code?: unknown; message?: unknown } | undefined
  if (change.op === 'conflict' && typeof v?.mapping === 'string')
    return { detail: { mapping: v.mapping } }
  if (change.op === 'error' && typeof v?.code === 'string')
    return {
      detail: { code: v.code, ...(typeof v.message === 'string' ? { message: v.message } : {}) },
    }
  return {}
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

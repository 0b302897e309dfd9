import type { Filter, Value } from '../../sdk/index.ts'

/**
 * A task file after validation, `${VAR}` substitution and compilation of its mappings:
 * what the engine runs. Side 0 is always the first system under `systems`, side 1 the second.
 */
export interface ResolvedTask {
  /** Stable identity of the task's metadata: the file's `id`, or derived from the subject. */
  readonly id: string
  readonly subject: string
  readonly systems: readonly [ResolvedSystem, ResolvedSystem]
  readonly pairs: readonly ResolvedPair[]
  readonly plan: ExecutionPlan
  /** Notifications on failure and recovery, and the pause after failed runs in a row. */
  readonly notify?: TaskNotify
}

/** The `notify` settings of a task, `${VAR}` references replaced. */
export interface TaskNotify {
  /** Receives a JSON POST when a run fails after one that did not, and when one recovers. */
  readonly webhook?: string
  /** The plan deactivates itself after this many failed runs in a row. Default: never. */
  readonly failuresBeforePause?: number
}

/** The index of a side: 0 for the first system, 1 for the second. */
export type Side = 0 | 1

/** One system of a task. */
export interface ResolvedSystem {
  /** The short key the user chose (`crm`, `erp`). */
  readonly key: string
  readonly bridge: string
  /** Bridge-specific settings (a REST manifest), handed to the bridge as `ctx.settings`. */
  readonly settings?: Readonly<Record<string, unknown>>
  /** Connection values with `${VAR}` references already replaced. */
  readonly connection: Readonly<Record<string, string | number | boolean>>
}

/** One side of a pair. */
export interface PairSide {
  readonly type: string
  readonly filter?: Filter
  /** The change cursor field; without it, changes are found by snapshot comparison. */
  readonly cursor?: string
  /** Seconds (or units) re-read before the checkpoint, for late commits. Default 5. */
  readonly lag: number
  /** A field of this side that holds the other side's key (external ID), if any. */
  readonly externalId?: string
  /** The fields that identify a record, for a view or a table without a primary key. */
  readonly key?: readonly string[]
}

/** What a conflict on a field resolves to. */
export type ConflictStrategy =
  | { readonly winner: Side }
  | { readonly winner: 'newest' }
  | { readonly winner: 'manual' }

/** How deletes on one side reach the other. */
export interface DeletePolicy {
  readonly policy: 'propagate' | 'ignore' | 'flag'
  /** A run stops before deleting more than this share (0..1) of a side's linked records. Default 0.25. */
  readonly maxShare: number
}

/** One assignment pair. */
export interface ResolvedPair {
  /** Stable within the task: the pair's `id`, or `<type0>-<type1>`. */
  readonly id: string
  readonly sides: readonly [PairSide, PairSide]
  /** Whether records flow from side 0 to side 1, and from side 1 to side 0. */
  readonly flows: readonly [boolean, boolean]
  readonly mappings: readonly FieldMapping[]
  /** Duplicate check on first sync: names of mappings (by `id`) whose values must be equal. */
  readonly match: readonly string[]
  readonly conflict: ConflictStrategy
  readonly deletes: DeletePolicy
}

/** Field values of one side, by field name. */
export type FieldValues = Readonly<Record<string, Value>>

/**
 * One field mapping: which fields of side 0 become which fields of side 1, with the
 * transforms each way. A mapping is data (`spec`) plus the functions compiled from it.
 */
export interface FieldMapping {
  /** The key under `fields:` in the task file. */
  readonly id: string
  /** Fields of side 0 and of side 1 the mapping reads and writes (usually one each). */
  readonly fields: readonly [readonly string[], readonly string[]]
  /**
   * Converts the values of `fields[from]` into the values of `fields[1 - from]`. Throws an
   * OpenSyncError (`OSY_TRANSFORM_FAILED`) naming the mapping when a value cannot convert.
   */
  convert(from: Side, values: FieldValues): Promise<FieldValues> | FieldValues
  /**
   * Per side: converting from it copies its one field's value to the other side's one field
   * as it is (a plain rename), so the engine may copy it without calling {@link convert}.
   */
  readonly plain?: readonly [boolean, boolean]
  /** The mapping as written in the task file (long form), for inspection and the console. */
  readonly spec: unknown
}

/** When a task runs by itself. */
export type ExecutionPlan = (
  | { readonly kind: 'manual' }
  | { readonly kind: 'continuous' }
  | { readonly kind: 'interval'; readonly every: number; readonly unit: 'minutes' | 'hours' }
  | { readonly kind: 'daily'; readonly at: string; readonly timezone: string }
) & { readonly active: boolean }

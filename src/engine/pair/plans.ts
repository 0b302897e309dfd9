import type { OpenSyncError, WriteOp } from '../../sdk/index.ts'
import type { Link } from '../../store/index.ts'
import type { Base } from './base-state.ts'

/** A conflict parked for a person (manual strategy), as the store keeps it. */
export interface ParkedConflict {
  readonly taskId: string
  readonly pairId: string
  readonly keys: readonly [string, string]
  readonly mapping: string
  readonly values: readonly [unknown, unknown]
  /** Each side's values as last synced, where the base keeps them (null elsewhere). */
  readonly base?: readonly [unknown, unknown]
}

/** What one source record turned into: the ops it needs and the link to store once they land. */
export interface RecordPlan {
  readonly sourceKey: string
  /** The other side's key; undefined until a create lands. */
  targetKey?: string
  readonly base: [Base, Base]
  /** The base of both sides as stored (JSON text), when the plan made it directly. */
  readonly baseText?: string
  toTarget?: WriteOp
  toSource?: WriteOp
  /** Both bases are the same fingerprints (stored once, see storedBases). */
  readonly sameBases?: boolean
  /** The pair's link is stored with these keys: its commit updates it in place. */
  readonly stored?: boolean
  readonly conflicts: readonly {
    mapping: string
    values: [unknown, unknown]
    base?: [unknown, unknown]
  }[]
}

/** A record's plan, made synchronously unless a transform is asynchronous. */
export type Planned = RecordPlan | undefined | Promise<RecordPlan | undefined>

/** What planning a batch hands the batch pipeline. */
export interface BatchPlan {
  readonly plans: RecordPlan[]
  /** Records that could not be planned (a transform failed), by source key. */
  readonly failures: { key: string; error: OpenSyncError }[]
  /** Links whose other record is gone: removed, and the record is created again. */
  readonly toUnlink: Link[]
  /** Links whose other record left its filter: they go to sleep. */
  readonly dormant: Link[]
}

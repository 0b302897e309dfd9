import type { BridgeConnection, RecordTypeInfo } from '../../sdk/index.ts'
import type { Link, Store, StoreRepos } from '../../store/index.ts'
import { type Counts, direction, type Protocol } from '../protocol.ts'
import type { FieldValues, ResolvedPair, ResolvedTask, Side } from '../task/resolved-task.ts'
import { plainBaseText } from './base-state.ts'
import { ValueCodec } from './value-codec.ts'

/** Progress of one batch, for progress bars. */
export interface PairProgress {
  readonly pairId: string
  readonly direction: '0->1' | '1->0'
  readonly phase: 'read' | 'deletes'
  readonly counts: Readonly<Counts>
  /**
   * How many records this pass reads in all, when that is known: a pass that reads the
   * whole record type (no cursor, or no checkpoint yet) on a bridge that can count. Set by
   * runTask from the bridge's `count`, for progress lines with a share and an ETA.
   */
  readonly total?: number
}

/** The moments of a batch a {@link Probe} hears about. */
export type ProbePoint = 'before-write' | 'after-write' | 'after-commit'

/**
 * Called at each moment of each batch: for instrumentation, and for the crash tests, which
 * kill the process at a chosen moment to prove that a rerun neither loses nor duplicates.
 */
export type Probe = (point: ProbePoint, pairId: string) => void

/** Everything one pair's run needs. */
export interface PairRunContext {
  readonly task: ResolvedTask
  readonly pair: ResolvedPair
  readonly conns: readonly [BridgeConnection, BridgeConnection]
  readonly types: readonly [RecordTypeInfo, RecordTypeInfo]
  /** Per side: its reads see one snapshot, so a pass meets each key once (capabilities). */
  readonly snapshotReads: readonly [boolean, boolean]
  /** Per side: its bridge takes a write while another runs (capabilities). */
  readonly concurrentWrites: readonly [boolean, boolean]
  readonly store: Store
  readonly protocol: Protocol
  readonly dryRun: boolean
  readonly batchSize: number
  readonly quarantineAfter: number
  readonly signal?: AbortSignal
  readonly onProgress?: (progress: PairProgress) => void
  /** Writes buffered protocol lines (a no-op in a dry run). */
  readonly flush: () => Promise<void>
  readonly probe?: Probe
  /** Runs first in every commit transaction; throws when this run may no longer commit. */
  readonly fence?: (tx: StoreRepos) => Promise<void>
}

/**
 * What the stages of one pair's run share: the context, the pair's compiled mappings, and
 * what the run has learnt so far (flags that let later batches skip work, the dry run's
 * overlay, records to read again). Every stage reads it; the stages named in each field's
 * comment write it.
 */
export class PairState {
  readonly ctx: PairRunContext
  readonly codec: ValueCodec
  /** Per side, the fast text form of a create's base, when its mappings allow it (base-state). */
  readonly baseText: readonly [
    ((values: FieldValues) => string) | undefined,
    ((values: FieldValues) => string) | undefined,
  ]
  /** Dry run only: links as the run would have left them (all stages that change links). */
  readonly overlay = [new Map<string, Link | null>(), new Map<string, Link | null>()] as const
  /** Dry run only: links already handled by a pass (the pipeline). */
  readonly touched = new Set<string>()
  /**
   * Per side, records to read again in that side's pass whatever the cursor says: they won a
   * conflict against a delete on the other side, which lost its link and creates them again
   * (delete detection, decisions).
   */
  readonly restore = [new Set<string>(), new Set<string>()] as const
  /** Whether a side may have recorded errors to clear (it had some, or this run made some). */
  readonly mayHaveErrors: [boolean, boolean] = [true, true]
  /** Whether the pair had links when the run began: on a first sync no link can be stale. */
  hadLinks = true
  /**
   * Whether a link may point at a key a create lands on (a reused key): the pair had links,
   * or an earlier pass of this run made some. Within one pass a target does not hand a key
   * it just gave out again.
   */
  mayHaveLinks = true
  /** A commit of this pass stored links (the pipeline). */
  linkedInPass = false
  /**
   * During the first pass of a first sync (no links, nothing recovered) no source record
   * can be linked yet: each key comes once per pass (snapshot reads), so the link lookup is
   * skipped.
   */
  noLinksYet = false
  /** The other side had no record at all when this pass began: nothing to match against. */
  targetEmpty = false
  /** Dry run only: creates counted so far, for their made-up keys. */
  created = 0

  constructor(ctx: PairRunContext) {
    this.ctx = ctx
    this.codec = new ValueCodec(ctx.pair, ctx.types)
    const ids = ctx.pair.mappings.map((m) => m.id)
    const text = (s: Side) =>
      this.codec.outTemplates[s] ? plainBaseText(ids, this.codec.direct[s]) : undefined
    this.baseText = [text(0), text(1)]
  }

  /** The counts of the direction from side `from`. */
  counts(from: Side): Counts {
    return this.ctx.protocol.of(this.ctx.pair.id, direction(from))
  }

  /** One store transaction, fenced: a run that lost its lease commits nothing. */
  async commit<T>(fn: (tx: StoreRepos) => Promise<T>): Promise<T> {
    return this.ctx.store.transaction(async (tx) => {
      await this.ctx.fence?.(tx)
      return fn(tx)
    })
  }

  /** Records a change that concerns a whole link (unlinked, flagged, deleted) for the report. */
  linkChange(op: 'unlink' | 'flag' | 'delete', s: Side, link: Link): void {
    const t = (1 - s) as Side
    this.ctx.protocol.change({
      pairId: this.ctx.pair.id,
      direction: direction(s),
      op,
      sourceKey: link.keys[s],
      targetKey: link.keys[t],
    })
  }

  /** Read options naming a side's key fields, when the pair names them (views, keyless tables). */
  keyed(side: Side): { keyFields?: readonly string[] } {
    const key = this.ctx.pair.sides[side].key
    return key ? { keyFields: key } : {}
  }

  /** Dry run: a link as the run would have left it (null: gone), under both its keys. */
  setOverlay(link: Link, value: Link | null): void {
    this.overlay[0].set(link.keys[0], value)
    this.overlay[1].set(link.keys[1], value)
  }
}

/** Whether a link sleeps because one of its records is outside its filter. */
export function isDormant(link: Link): boolean {
  return link.outside !== undefined && link.outside !== null
}

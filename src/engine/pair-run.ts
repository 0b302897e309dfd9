import {
  type BridgeConnection,
  type Checkpoint,
  coerceError,
  conformValue,
  type FieldInfo,
  type FieldType,
  type FilterExpr,
  needsConforming,
  OpenSyncError,
  parseJson,
  type RecordTypeInfo,
  type SourceRecord,
  throwIfAborted,
  type Value,
  type WriteOp,
  type WriteResult,
} from '../sdk/index.ts'
import type { Link, Store, StoredCheckpoint, StoreRepos } from '../store/index.ts'
import {
  canonical,
  type Fingerprint,
  fingerprint,
  fingerprintOf,
  isPlainText,
  sameCanonical,
} from './fingerprint.ts'
import { keysFilter, matchFilter } from './key-filters.ts'
import { type Counts, direction, type Protocol, RECORD_CONFLICT } from './protocol.ts'
import type {
  FieldMapping,
  FieldValues,
  ResolvedPair,
  ResolvedTask,
  Side,
} from './task/resolved-task.ts'

/** Progress of one batch, for progress bars. */
export interface PairProgress {
  readonly pairId: string
  readonly direction: '0->1' | '1->0'
  readonly phase: 'read' | 'deletes'
  readonly counts: Readonly<Counts>
}

/** Everything one pair's run needs. */
export interface PairRunContext {
  readonly task: ResolvedTask
  readonly pair: ResolvedPair
  readonly conns: readonly [BridgeConnection, BridgeConnection]
  readonly types: readonly [RecordTypeInfo, RecordTypeInfo]
  /** Per side: its reads see one snapshot, so a pass meets each key once (capabilities). */
  readonly snapshotReads: readonly [boolean, boolean]
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

/** The moments of a batch a {@link Probe} hears about. */
export type ProbePoint = 'before-write' | 'after-write' | 'after-commit'

/**
 * Called at each moment of each batch: for instrumentation, and for the crash tests, which
 * kill the process at a chosen moment to prove that a rerun neither loses nor duplicates.
 */
export type Probe = (point: ProbePoint, pairId: string) => void

/** Deletes below this count never trip the mass-delete guard, so small tables can shrink. */
const GUARD_MIN_DELETES = 10
/** Keys per lookup statement. */
// SQLite refuses expressions nested deeper than 1000 (an OR of 1000 terms is that deep).
const LOOKUP_CHUNK = 500
/** Lookup statements on one side at once (see `#readWhere`). */
const LOOKUP_PARALLEL = 2

type Base = Record<string, Fingerprint>

/** The fingerprint of a mapping's fields of one side, by mapping. */
type Fingerprinters = ReadonlyMap<FieldMapping, (values: FieldValues) => Fingerprint>

/** A plain rename from one side: its fields, their types, and whether both read a value alike. */
interface Direct {
  readonly from: string
  readonly to: string
  readonly fromType: FieldType | undefined
  readonly toType: FieldType | undefined
  /** The target field, when a value must be put in the form it stores (see conformValue). */
  readonly conform: FieldInfo | undefined
  /** Both read a value alike: one fingerprint serves both sides. */
  readonly sameText: boolean
}

const NO_CONFLICTS: RecordPlan['conflicts'] = Object.freeze([])
const NO_KEYS: ReadonlySet<string> = Object.freeze(new Set<string>())
/** The conversions of a create that needs none (plain renames only). */
const NONE_CONVERTED: readonly (FieldValues | undefined)[] = Object.freeze([])
/** The base objects of a plan whose base went straight to text (see `baseText`). */
const NO_BASE = Object.freeze([Object.freeze({}), Object.freeze({})]) as [Base, Base]
/** What JSON.stringify escapes in a string: quotes, backslashes, control characters, surrogates. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters JSON escapes
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/

/** A batch whose write or commit is still running (see PairRun.#apply). */
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

/** A conflict parked for a person (manual strategy). */
interface ParkedConflict {
  readonly taskId: string
  readonly pairId: string
  readonly keys: readonly [string, string]
  readonly mapping: string
  readonly values: readonly [unknown, unknown]
}

/** What a batch's commit stores. */
interface BatchOutcome {
  /** Links to insert or update. */
  readonly links: readonly Link[]
  /** Links of created records, new on both sides. */
  readonly created: readonly Link[]
  readonly failed: ReadonlyMap<string, OpenSyncError>
  readonly conflicts: readonly ParkedConflict[]
}

/** A record's plan, made synchronously unless a transform is asynchronous. */
type Planned = RecordPlan | undefined | Promise<RecordPlan | undefined>

/** What one source record turned into: the ops it needs and the link to store once they land. */
interface RecordPlan {
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
  readonly conflicts: readonly { mapping: string; values: [unknown, unknown] }[]
}

/**
 * One run of one pair: a pass per direction that reads changes in batches and merges each
 * against the base, then delete detection. Per batch: links are looked up, the other
 * side's records are fetched by key, writes go out as one batch per side, and links, base
 * state, errors and the checkpoint are committed together — so a crash loses at most the
 * batch in flight, and rereading it converges instead of duplicating.
 */
export class PairRun {
  readonly #ctx: PairRunContext
  readonly #fields: readonly [ReadonlyMap<string, FieldInfo>, ReadonlyMap<string, FieldInfo>]
  readonly #matchMappings: readonly FieldMapping[]
  /** Per side, the fingerprint of each mapping's fields of that side. */
  readonly #fingerprinters: readonly [Fingerprinters, Fingerprinters]
  /** Per side, per mapping (in order): how a plain rename is copied without converting. */
  readonly #direct: readonly [readonly (Direct | undefined)[], readonly (Direct | undefined)[]]
  /**
   * Per side, the mappings whose values going from that side must be put in the form the
   * other side stores (see conformValue), with the target fields concerned.
   */
  readonly #conformed: readonly [
    ReadonlyMap<FieldMapping, readonly FieldInfo[]>,
    ReadonlyMap<FieldMapping, readonly FieldInfo[]>,
  ]
  /**
   * Per side, when every mapping is a plain rename whose fingerprint reads alike on both
   * sides: the target's values with every field in place, for creates to copy.
   */
  readonly #outTemplates: readonly [
    Readonly<Record<string, Value>> | undefined,
    Readonly<Record<string, Value>> | undefined,
  ]
  /**
   * What goes before each mapping's fingerprint in a base's JSON text (`{"id":"`, then
   * `","id":"`), and the same with the `s` of a plain text value.
   */
  readonly #basePrefixes: { readonly other: string[]; readonly text: string[] } | undefined
  /** The pieces of one base text, reused record after record (joined before the next). */
  readonly #baseParts: string[]
  /** Dry run only: links as the run would have left them, and links already handled. */
  readonly #overlay = [new Map<string, Link | null>(), new Map<string, Link | null>()] as const
  readonly #touched = new Set<string>()
  /**
   * Per side, records to read again in that side's pass whatever the cursor says: they won a
   * conflict against a delete on the other side, which lost its link and creates them again.
   */
  readonly #restore = [new Set<string>(), new Set<string>()] as const
  /** Whether a side may have recorded errors to clear (it had some, or this run made some). */
  readonly #mayHaveErrors: [boolean, boolean] = [true, true]
  /** Whether the pair had links when the run began: on a first sync no link can be stale. */
  #hadLinks = true
  /**
   * Whether a link may point at a key a create lands on (a reused key): the pair had links,
   * or an earlier pass of this run made some. Within one pass a target does not hand a key
   * it just gave out again.
   */
  #mayHaveLinks = true
  #linkedInPass = false
  /**
   * During the first pass of a first sync (no links, nothing recovered) no source record
   * can be linked yet: each key comes once per pass (snapshot reads), so the link lookup is
   * skipped.
   */
  #noLinksYet = false
  /** The other side had no record at all when this pass began: nothing to match against. */
  #targetEmpty = false
  #created = 0
  /**
   * Batches still in flight while the next one is looked up and planned: the last one's
   * write, and the commit of the one before (see {@link PairRun.#apply}). A lookup that
   * meets the keys they link waits for them.
   */
  readonly #inFlight: InFlight[] = []

  constructor(ctx: PairRunContext) {
    this.#ctx = ctx
    this.#fields = [
      new Map(ctx.types[0].fields.map((f) => [f.name, f])),
      new Map(ctx.types[1].fields.map((f) => [f.name, f])),
    ]
    this.#matchMappings = ctx.pair.match.map((id) => ctx.pair.mappings.find((m) => m.id === id)!)
    const fingerprinters = (side: Side): Fingerprinters =>
      new Map(
        ctx.pair.mappings.map((m) => {
          const fields = m.fields[side]
          if (fields.length !== 1) {
            const types = this.#fields[side]
            return [m, (values: FieldValues) => fingerprint(values, fields, types)]
          }
          const [field] = fields as [string]
          const type = this.#fields[side].get(field)?.type
          return [m, (values: FieldValues) => fingerprintOf(values[field], type)]
        }),
      )
    this.#fingerprinters = [fingerprinters(0), fingerprinters(1)]
    const direct = (s: Side): (Direct | undefined)[] => {
      const t = (1 - s) as Side
      return ctx.pair.mappings.map((m) => {
        if (!m.plain?.[s]) return undefined
        const [from] = m.fields[s] as [string]
        const [to] = m.fields[t] as [string]
        const fromField = this.#fields[s].get(from)
        const toField = this.#fields[t].get(to)
        const fromType = fromField?.type
        const toType = toField?.type
        const conform = needsConforming(fromField, toField) ? toField : undefined
        const sameText = !conform && sameCanonical(fromType, toType)
        return { from, to, fromType, toType, conform, sameText }
      })
    }
    this.#direct = [direct(0), direct(1)]
    const conformed = (s: Side) => {
      const t = (1 - s) as Side
      const out = new Map<FieldMapping, FieldInfo[]>()
      ctx.pair.mappings.forEach((m, i) => {
        const d = this.#direct[s][i]
        // A transform's output has no source field to compare with: every target field is conformed.
        const fields = d
          ? d.conform
            ? [d.conform]
            : []
          : m.fields[t].flatMap((f) => this.#fields[t].get(f) ?? [])
        if (fields.length > 0) out.set(m, fields)
      })
      return out
    }
    this.#conformed = [conformed(0), conformed(1)]
    const alike = (s: Side) => this.#direct[s].every((d) => d?.sameText === true)
    const outTemplate = (s: Side): Readonly<Record<string, Value>> | undefined => {
      if (!alike(s)) return undefined
      const template: Record<string, Value> = {}
      for (const d of this.#direct[s]) template[d!.to] = null
      const externalId = ctx.pair.sides[(1 - s) as Side].externalId
      if (externalId) template[externalId] = null
      return template
    }
    this.#outTemplates = [outTemplate(0), outTemplate(1)]
    // JSON.stringify writes integer-like keys first, whatever their order: such ids take the
    // object's way, so the text stays the same either way.
    const ids = ctx.pair.mappings.map((m) => m.id)
    this.#baseParts = new Array<string>(2 * ids.length + 1)
    const other = ids.map((id, i) => `${i === 0 ? '{' : '",'}${JSON.stringify(id)}:"`)
    this.#basePrefixes = ids.some((id) => /^(?:0|[1-9]\d*)$/.test(id))
      ? undefined
      : { other, text: other.map((p) => `${p}s`) }
  }

  async run(): Promise<void> {
    const { pair, task, store } = this.#ctx
    this.#hadLinks = await store.links.exists(task.id, pair.id)
    this.#mayHaveLinks = this.#hadLinks
    // Decisions people made on parked conflicts go first: they are the newest word.
    if (this.#hadLinks && pair.conflict.winner === 'manual') await this.#applyDecisions()
    // Deletes first: a system may hand a deleted record's key to a new record (SQLite reuses
    // rowids), and the stale link must be gone before a create claims that key.
    if (pair.deletes.policy !== 'ignore') {
      for (const s of [0, 1] as const) if (pair.flows[s]) await this.#detectDeletes(s)
    }
    let first = true
    for (const s of [0, 1] as const) {
      if (!pair.flows[s]) continue
      // A source without snapshot reads may hand a record over twice in one pass (edited
      // while read): the second time it must find the link the first one made.
      this.#noLinksYet = first && !this.#hadLinks && this.#ctx.snapshotReads[s]
      first = false
      await this.#pass(s)
      if (this.#linkedInPass) this.#mayHaveLinks = true
    }
  }

  // ---------------------------------------------------------------- decisions

  /**
   * Applies the decisions people made on this pair's parked conflicts: a field conflict
   * takes the winner's current value on both sides (or the value decided), a delete against
   * an edit deletes the edited record (the deleting side won) or has it created again on the
   * deleting side by that side's pass (the editing side won). Each decision is applied once.
   */
  async #applyDecisions(): Promise<void> {
    const { task, pair, store, conns, protocol, dryRun, signal } = this.#ctx
    const decided = await store.conflicts.decided(task.id, pair.id)
    if (decided.length === 0) return
    const links = await this.#findLinks(
      0,
      decided.map((c) => c.keys[0]),
    )
    const records = [new Map<string, FieldValues>(), new Map<string, FieldValues>()] as const
    for (const s of [0, 1] as const) {
      const keys = decided.map((c) => c.keys[s])
      for (const r of await this.#readByKeys(s, keys, true)) records[s].set(r.key, r.values)
    }
    const ops: [WriteOp[], WriteOp[]] = [[], []]
    const writes = [
      new Map<string, Record<string, Value>>(),
      new Map<string, Record<string, Value>>(),
    ] as const
    const bases = new Map<string, [Base, Base]>()
    const unlink: Link[] = []
    let skipped = 0
    for (const c of decided) {
      const link = links.get(c.keys[0])
      if (!link || link.keys[1] !== c.keys[1] || c.winner === undefined) {
        skipped++
        continue
      }
      const w = c.winner
      const l = (1 - w) as Side
      if (c.mapping === RECORD_CONFLICT) {
        // The side whose value is null deleted the record.
        const deleter: Side = c.values[0] === null ? 0 : 1
        if (w === deleter) {
          if (records[l].has(link.keys[l])) ops[l].push({ op: 'delete', key: link.keys[l] })
        } else this.#restore[w].add(link.keys[w])
        unlink.push(link)
        continue
      }
      const m = pair.mappings.find((x) => x.id === c.mapping)
      const v0 = records[0].get(link.keys[0])
      const v1 = records[1].get(link.keys[1])
      if (!m || !v0 || !v1 || !pair.flows[w]) {
        skipped++
        continue
      }
      const values = [v0, v1] as const
      const base = bases.get(link.keys[0]) ?? [{ ...baseOf(link, 0) }, { ...baseOf(link, 1) }]
      const out = await this.#convert(w, m, values[w])
      const pending = writes[l].get(link.keys[l]) ?? {}
      Object.assign(pending, out)
      writes[l].set(link.keys[l], pending)
      base[w][m.id] = this.#fp(w, values[w], m)
      base[l][m.id] = this.#fp(l, out, m)
      bases.set(link.keys[0], base)
    }
    for (const s of [0, 1] as const)
      for (const [key, values] of writes[s]) ops[s].push({ op: 'update', key, values })
    protocol.log(
      'info',
      `applying ${decided.length - skipped} decided conflict(s)${skipped > 0 ? `; ${skipped} no longer apply (the records are gone, unlinked or outside the filter)` : ''}`,
      pair.id,
    )
    const results: [readonly WriteResult[], readonly WriteResult[]] = [[], []]
    for (const s of [0, 1] as const) {
      if (ops[s].length === 0) continue
      results[s] = dryRun
        ? ops[s].map((o) => ({ ok: true, key: 'key' in o ? o.key : '' }))
        : await conns[s].write(pair.sides[s].type, ops[s], signal ? { signal } : {})
      ops[s].forEach((o, i) => {
        const r = results[s][i]!
        const from = (1 - s) as Side
        const key = 'key' in o ? o.key : ''
        const counts = this.#counts(from)
        if (!r.ok) {
          counts.errors++
          protocol.log(
            'warn',
            `decided conflict on ${key} of ${pair.sides[s].type} failed: ${r.error.message}`,
            pair.id,
          )
          return
        }
        if (o.op === 'delete') counts.deleted++
        else counts.updated++
        protocol.change({
          pairId: pair.id,
          direction: direction(from),
          op: o.op === 'delete' ? 'delete' : 'update',
          sourceKey: key,
          targetKey: key,
        })
      })
    }
    if (dryRun) return
    const updated: Link[] = []
    const syncedAt = new Date().toISOString()
    for (const [key0, base] of bases) {
      const link = links.get(key0)!
      updated.push({ ...link, base: storedBases(base), syncedAt })
    }
    await this.#commit(async (tx) => {
      if (updated.length > 0) await tx.links.upsert(updated)
      if (unlink.length > 0)
        await tx.links.remove(
          task.id,
          pair.id,
          0,
          unlink.map((l) => l.keys[0]),
        )
      await tx.conflicts.markApplied(decided.map((c) => c.id))
    })
  }

  // ---------------------------------------------------------------- passes

  async #pass(s: Side): Promise<void> {
    const { task, pair, store, conns, batchSize, signal } = this.#ctx
    const side = pair.sides[s]
    const counts = this.#counts(s)

    const retry = new Set(await store.recordErrors.pending(task.id, pair.id, s))
    for (const key of this.#restore[s]) retry.add(key)
    // Quarantined records are not pending but still clear when they sync: only a pair that
    // never had an error at all skips the clearing.
    this.#mayHaveErrors[s] = this.#hadLinks || retry.size > 0
    for (const key of await this.#recoverIntents(s)) retry.add(key)
    if (retry.size > 0) this.#noLinksYet = false
    const retried = retry
    this.#targetEmpty =
      this.#matchMappings.length > 0 && !this.#ctx.dryRun && (await this.#isEmpty((1 - s) as Side))
    if (retry.size > 0) {
      const restored = this.#restore[s].size
      const again = retry.size - restored
      if (again > 0)
        this.#ctx.protocol.log(
          'info',
          `retrying ${again} record(s) of ${side.type} that failed or were interrupted before`,
          pair.id,
        )
      if (restored > 0)
        this.#ctx.protocol.log(
          'info',
          `restoring ${restored} record(s) of ${side.type} whose edit won against a delete`,
          pair.id,
        )
      await this.#pipelined(async () => {
        for (const chunk of chunks([...retry], batchSize)) {
          await this.#processBatch(s, await this.#readByKeys(s, chunk, true), undefined)
        }
      })
    }

    const readAt = new Date().toISOString()
    let since = side.cursor ? await store.checkpoints.get(task.id, pair.id, s) : undefined
    if (since && since.cursorField !== side.cursor) {
      this.#ctx.protocol.log(
        'warn',
        `the cursor of ${side.type} changed to ${side.cursor}: reading everything once`,
        pair.id,
      )
      since = undefined
    }
    const stream = conns[s].read(side.type, {
      ...this.#keyed(s),
      fields: this.#readFields(s),
      ...(side.cursor ? { cursor: side.cursor } : {}),
      ...(since
        ? {
            since: { cursorField: since.cursorField, position: since.position },
            lag: this.#lag(s, since),
          }
        : {}),
      ...(side.filter ? { filter: side.filter } : {}),
      batchSize,
      ...(signal ? { signal } : {}),
    })
    // Records without a cursor value sort first and are read by a full read only: once, on
    // the first sync (or after a reset); a read since a checkpoint never sees them again.
    let noCursor = 0
    await this.#pipelined(async () => {
      for await (const batch of readAhead(stream)) {
        throwIfAborted(signal)
        // A record retried above is not processed twice when the cursor reads it again.
        const records =
          retried.size > 0 ? batch.records.filter((r) => !retried.has(r.key)) : batch.records
        if (side.cursor && !since) {
          for (let i = 0; i < records.length; i++)
            if (records[i]!.values[side.cursor] == null) noCursor++
        }
        const checkpoint: StoredCheckpoint | undefined = batch.checkpoint
          ? { ...batch.checkpoint, readAt }
          : undefined
        await this.#processBatch(s, records, checkpoint)
        this.#ctx.onProgress?.({ pairId: pair.id, direction: direction(s), phase: 'read', counts })
      }
    })
    if (noCursor > 0)
      this.#ctx.protocol.log(
        'warn',
        `${noCursor} record(s) of ${side.type} have no ${side.cursor}: synced now, but later changes to them are not seen until ${side.cursor} has a value (or use snapshot mode: no cursor)`,
        pair.id,
        { field: side.cursor, count: noCursor },
      )
  }

  /**
   * How far before the checkpoint to read again. Late commits carry a cursor value from
   * before the last read started, so only the part of the window after `readAt - lag`
   * can hold one: once the last read started well after the checkpoint's time, nothing
   * is re-read — a bulk load is not read again on every run.
   */
  #lag(s: Side, since: StoredCheckpoint): number {
    const { lag } = this.#ctx.pair.sides[s]
    const cursor = this.#fields[s].get(this.#ctx.pair.sides[s].cursor ?? '')
    const at = since.position[0]
    // Only instants compare with our clock; wall-clock timestamps may be in any zone.
    if (!since.readAt || cursor?.type !== 'timestamptz' || typeof at !== 'string') return lag
    const behind = (Date.parse(since.readAt) - Date.parse(at)) / 1000
    return Number.isFinite(behind) ? Math.max(0, lag - behind) : lag
  }

  /** The fields a pass reads: mapped fields, the cursor, and the external-ID field. */
  #readFields(s: Side): string[] {
    const { pair } = this.#ctx
    const out = new Set<string>()
    for (const m of pair.mappings) for (const f of m.fields[s]) out.add(f)
    const side = pair.sides[s]
    if (side.cursor) out.add(side.cursor)
    if (side.externalId) out.add(side.externalId)
    return [...out]
  }

  async #processBatch(
    s: Side,
    records: readonly SourceRecord[],
    checkpoint: Checkpoint | undefined,
  ): Promise<void> {
    const { pair, protocol } = this.#ctx
    const t = (1 - s) as Side
    const counts = this.#counts(s)
    counts.read += records.length
    const keys = records.map((r) => r.key)
    if (keys.some((k) => this.#inFlight.some((b) => b.sources.has(k)))) await this.#settle()
    let links = this.#noLinksYet ? new Map<string, Link>() : await this.#findLinks(s, keys)
    // A link pointing at a key a batch in flight writes or creates is stale (the key was
    // reused); that batch's commit removes it, so wait for it and look again.
    if (links.size > 0 && this.#inFlight.length > 0) {
      await this.#createsLanded()
      if ([...links.values()].some((l) => this.#claimed(l.keys[t]))) {
        await this.#settle()
        links = await this.#findLinks(s, keys)
      }
    }

    const changed: { record: SourceRecord; link: Link }[] = []
    const unlinked: SourceRecord[] = []
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!
      const link = links.get(record.key)
      if (!link) unlinked.push(record)
      else if (this.#ctx.dryRun && this.#touched.has(link.keys[0])) counts.unchanged++
      else if (link.deleted === t) counts.unchanged++
      // Back inside its filter (it was read through it): linked again, even if unchanged.
      else if (link.outside === s) changed.push({ record, link })
      else if (this.#sameAsBase(s, record.values, baseOf(link, s))) counts.unchanged++
      else changed.push({ record, link })
    }

    const { found: targets, outside } = await this.#targetsInFilter(
      t,
      changed.map((c) => c.link.keys[t]),
    )
    const { matches, blocked } = await this.#matchTargets(s, unlinked)
    const plans: RecordPlan[] = []
    const failures: { key: string; error: OpenSyncError }[] = []
    const toUnlink: Link[] = []
    const dormant: Link[] = []

    // Plans are made synchronously unless a transform is asynchronous (JSONata): a million
    // records should not cost a million promises, nor closures.
    const failed = (record: SourceRecord, error: unknown) => {
      failures.push({ key: record.key, error: coerceError(error) })
      return undefined
    }
    for (let i = 0; i < changed.length; i++) {
      const { record, link } = changed[i]!
      const target = targets.get(link.keys[t])
      if (!target && outside.has(link.keys[t])) {
        // The other side's record is outside its filter: the link sleeps, nothing is written.
        if (link.outside === t) counts.unchanged++
        else {
          dormant.push({ ...link, outside: t })
          counts.unlinked++
        }
        continue
      }
      if (!target && pair.deletes.policy === 'propagate' && !isDormant(link)) {
        // The other side's record is gone: delete detection decides, not this pass.
        counts.unchanged++
        continue
      }
      if (!target) toUnlink.push(link)
      let planned: Planned
      try {
        planned = target
          ? this.#merge(s, record, { key: link.keys[t], values: target }, link)
          : this.#create(s, record)
      } catch (error) {
        failed(record, error)
        continue
      }
      if (planned instanceof Promise) planned = await planned.catch((e) => failed(record, e))
      if (planned) plans.push(planned)
    }
    if (blocked.size > 0)
      protocol.log(
        'info',
        `${blocked.size} record(s) of ${pair.sides[s].type} not created in ${pair.sides[t].type}: a record with the same match values is there, outside the filter`,
        pair.id,
      )
    for (let i = 0; i < unlinked.length; i++) {
      const record = unlinked[i]!
      if (blocked.has(record.key)) {
        counts.unchanged++
        continue
      }
      const match = matches.get(record.key)
      let planned: Planned
      try {
        planned = match ? this.#merge(s, record, match, undefined) : this.#create(s, record)
      } catch (error) {
        failed(record, error)
        continue
      }
      if (planned instanceof Promise) planned = await planned.catch((e) => failed(record, e))
      if (planned) plans.push(planned)
    }
    for (const f of failures)
      protocol.log(
        'warn',
        `record ${f.key} of ${pair.sides[s].type} skipped: ${f.error.message}`,
        pair.id,
      )
    await this.#apply(s, plans, failures, toUnlink, dormant, checkpoint)
  }

  // ---------------------------------------------------------------- merge

  /**
   * Field-level three-way merge of a source record with its target record against the
   * base (none on first sync, when records were paired by match keys).
   */
  async #merge(
    s: Side,
    record: SourceRecord,
    target: { key: string; values: FieldValues },
    link: Link | undefined,
  ): Promise<RecordPlan | undefined> {
    const { pair, protocol } = this.#ctx
    const t = (1 - s) as Side
    const bases: [Base, Base] = [link ? baseOf(link, 0) : {}, link ? baseOf(link, 1) : {}]
    const next: [Base, Base] = [{ ...bases[0] }, { ...bases[1] }]
    const values: [FieldValues, FieldValues] =
      s === 0 ? [record.values, target.values] : [target.values, record.values]
    const writes: [Record<string, Value>, Record<string, Value>] = [{}, {}]
    const conflicts: { mapping: string; values: [unknown, unknown] }[] = []

    for (const m of pair.mappings) {
      const now: [Fingerprint, Fingerprint] = [this.#fp(0, values[0], m), this.#fp(1, values[1], m)]
      const changed = [now[0] !== bases[0][m.id], now[1] !== bases[1][m.id]] as const
      if (!changed[0] && !changed[1]) continue
      if (changed[0] !== changed[1]) {
        const from: Side = changed[0] ? 0 : 1
        const to = (1 - from) as Side
        if (pair.flows[from]) {
          const out = await this.#convert(from, m, values[from])
          Object.assign(writes[to], out)
          next[to][m.id] = this.#fp(to, out, m)
        }
        next[from][m.id] = now[from]
        continue
      }
      // Changed on both sides (or first sync): equal after mapping is no conflict.
      const from0 = pair.flows[0] ? await this.#convert(0, m, values[0]) : undefined
      if (from0 && this.#fp(1, from0, m) === now[1]) {
        next[0][m.id] = now[0]
        next[1][m.id] = now[1]
        continue
      }
      const from1 = pair.flows[1] ? await this.#convert(1, m, values[1]) : undefined
      if (from1 && this.#fp(0, from1, m) === now[0]) {
        next[0][m.id] = now[0]
        next[1][m.id] = now[1]
        continue
      }
      const winner = this.#winner(values)
      const pairValues: [unknown, unknown] = [
        jsonable(pick(values[0], m.fields[0])),
        jsonable(pick(values[1], m.fields[1])),
      ]
      if (winner === 'manual') {
        // Parked for a person: the base takes both current values, so the conflict is not
        // found again on every run; the next edit on either side flows as usual.
        next[0][m.id] = now[0]
        next[1][m.id] = now[1]
        conflicts.push({ mapping: m.id, values: pairValues })
        continue
      }
      const loser = (1 - winner) as Side
      const out = winner === 0 ? from0 : from1
      if (out) {
        Object.assign(writes[loser], out)
        next[loser][m.id] = this.#fp(loser, out, m)
      } else {
        next[loser][m.id] = now[loser]
      }
      next[winner][m.id] = now[winner]
      protocol.log(
        'info',
        `conflict on ${m.id} of ${this.#ctx.task.systems[s].key} ${pair.sides[s].type} ${record.key}: ${this.#ctx.task.systems[winner].key} wins`,
        pair.id,
        { mapping: m.id, values: pairValues },
      )
      conflicts.push({ mapping: m.id, values: pairValues })
    }

    const p: RecordPlan = { sourceKey: record.key, targetKey: target.key, base: next, conflicts }
    if (Object.keys(writes[t]).length > 0)
      p.toTarget = { op: 'update', key: target.key, values: writes[t] }
    if (Object.keys(writes[s]).length > 0)
      p.toSource = { op: 'update', key: record.key, values: writes[s] }
    return p
  }

  /**
   * A mapping's values from side `from` for the other side, in the form it stores them (see
   * conformValue): synchronously unless a transform is asynchronous.
   */
  #convert(from: Side, m: FieldMapping, values: FieldValues): FieldValues | Promise<FieldValues> {
    const out = m.convert(from, values)
    const fields = this.#conformed[from].get(m)
    if (!fields) return out
    return out instanceof Promise ? out.then((o) => conformAll(o, fields)) : conformAll(out, fields)
  }

  /** Which side wins a conflict: a named side, the newer change, or a person (manual). */
  #winner(values: readonly [FieldValues, FieldValues]): Side | 'manual' {
    const { conflict, sides } = this.#ctx.pair
    if (conflict.winner === 'manual') return 'manual'
    if (conflict.winner !== 'newest') return conflict.winner
    const stamp = (side: Side) => {
      const cursor = sides[side].cursor
      const v = cursor ? values[side][cursor] : undefined
      return typeof v === 'string' ? v.replace(/Z$/, '') : typeof v === 'number' ? String(v) : ''
    }
    return stamp(1) > stamp(0) ? 1 : 0
  }

  /** Plans the create of a source record on the other side. */
  #create(s: Side, record: SourceRecord): Planned {
    // Plain renames only: nothing to convert (see #createPlan).
    if (this.#outTemplates[s] && this.#basePrefixes)
      return this.#createPlan(s, record, NONE_CONVERTED)
    const converted = this.#convertAll(s, record.values)
    return converted instanceof Promise
      ? converted.then((c) => this.#createPlan(s, record, c))
      : this.#createPlan(s, record, converted)
  }

  #createPlan(
    s: Side,
    record: SourceRecord,
    converted: readonly (FieldValues | undefined)[],
  ): RecordPlan {
    const { pair } = this.#ctx
    const t = (1 - s) as Side
    const { mappings } = pair
    const direct = this.#direct[s]
    const prefixes = this.#basePrefixes
    const template = this.#outTemplates[s]
    if (template && prefixes) {
      // Plain renames only, read alike on both sides: one base serves both. The values are
      // copied into a template with every field in place (one allocation of the right size),
      // and the base's stored text is joined once from the values themselves where their
      // fingerprint is `s` + the value, as JSON.stringify would write the base object.
      const out: Record<string, Value> = { ...template }
      const n = mappings.length
      const parts = this.#baseParts
      for (let i = 0; i < n; i++) {
        const d = direct[i]!
        const value = record.values[d.from] ?? null
        out[d.to] = value
        if (isPlainText(value, d.fromType) && !NEEDS_ESCAPE.test(value)) {
          parts[2 * i] = prefixes.text[i]!
          parts[2 * i + 1] = value
        } else {
          const fp = fingerprintOf(value, d.fromType)
          parts[2 * i] = prefixes.other[i]!
          parts[2 * i + 1] = NEEDS_ESCAPE.test(fp) ? JSON.stringify(fp).slice(1, -1) : fp
        }
      }
      parts[2 * n] = n === 0 ? '{}' : '"}'
      const externalId = pair.sides[t].externalId
      if (externalId) out[externalId] = record.key
      return {
        sourceKey: record.key,
        base: NO_BASE,
        baseText: parts.join(''),
        sameBases: true,
        toTarget: { op: 'create', values: out },
        conflicts: NO_CONFLICTS,
      }
    }
    const out: Record<string, Value> = {}
    const base: [Base, Base] = [{}, {}]
    let same = true
    for (let i = 0; i < mappings.length; i++) {
      const m = mappings[i]!
      const d = direct[i]
      if (d) {
        // A plain rename: the value as it is (or as the target stores it), fingerprinted once
        // when both sides read it alike.
        const value = record.values[d.from] ?? null
        const stored = d.conform ? conformValue(value, d.conform) : value
        out[d.to] = stored
        const fromSource = fingerprintOf(value, d.fromType)
        const onTarget = d.sameText ? fromSource : fingerprintOf(stored, d.toType)
        base[s][m.id] = fromSource
        base[t][m.id] = onTarget
        same &&= fromSource === onTarget
        continue
      }
      const c = converted[i]!
      for (const f in c) out[f] = c[f]!
      const fromSource = this.#fp(s, record.values, m)
      const onTarget = this.#fp(t, c, m)
      base[s][m.id] = fromSource
      base[t][m.id] = onTarget
      same &&= fromSource === onTarget
    }
    const externalId = pair.sides[t].externalId
    if (externalId) out[externalId] = record.key
    return {
      sourceKey: record.key,
      base,
      sameBases: same,
      toTarget: { op: 'create', values: out },
      conflicts: NO_CONFLICTS,
    }
  }

  /**
   * A record's values converted by every mapping but the plain renames (left undefined, see
   * #createPlan), in mapping order: synchronously unless a transform is asynchronous (JSONata).
   */
  #convertAll(
    s: Side,
    values: FieldValues,
  ): (FieldValues | undefined)[] | Promise<(FieldValues | undefined)[]> {
    const { mappings } = this.#ctx.pair
    const direct = this.#direct[s]
    const out: (FieldValues | Promise<FieldValues> | undefined)[] = new Array(mappings.length)
    let pending = false
    for (let i = 0; i < mappings.length; i++) {
      if (direct[i]) continue
      const converted = this.#convert(s, mappings[i]!, values)
      if (converted instanceof Promise) pending = true
      out[i] = converted
    }
    return pending ? Promise.all(out) : (out as (FieldValues | undefined)[])
  }

  /**
   * Writes a batch's ops to both sides, then commits links, errors, conflicts and the
   * checkpoint together. Outside a dry run both happen in the background (see
   * {@link PairRun.#launch}): this returns once the write has started.
   */
  async #apply(
    s: Side,
    plans: RecordPlan[],
    failures: { key: string; error: OpenSyncError }[],
    toUnlink: Link[],
    dormant: Link[],
    checkpoint: Checkpoint | undefined,
  ): Promise<void> {
    const { task, pair, store, conns, dryRun, signal } = this.#ctx
    const t = (1 - s) as Side
    const targetOps = plans.filter((p) => p.toTarget)
    const sourceOps = plans.filter((p) => p.toSource)
    if (dryRun) {
      const outcome = this.#outcome(s, plans, failures, toUnlink, {
        target: targetOps.map((p) => ({
          ok: true,
          key: p.targetKey ?? `(new ${++this.#created})`,
        })),
        source: sourceOps.map((p) => ({ ok: true, key: p.sourceKey })),
      })
      for (const l of toUnlink) this.#setOverlay(l, null)
      for (const l of dormant) this.#linkChange('unlink', s, l)
      for (const l of [...dormant, ...outcome.links, ...outcome.created]) {
        this.#setOverlay(l, l)
        this.#touched.add(l.keys[0])
      }
      return
    }

    // One write in flight, and one commit behind it at most.
    const last = this.#inFlight.at(-1)
    const before = this.#inFlight.at(-2)
    if (last) await last.written
    if (before) await before.done

    const creates = targetOps.filter((p) => p.toTarget!.op === 'create')
    let intentIds: number[] = []
    // With match keys, a rerun finds a create that landed before its commit by matching, as
    // on a first sync; an intent is needed (and usable) only with an external-ID field.
    if (creates.length > 0 && this.#matchMappings.length === 0 && pair.sides[t].externalId) {
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
      this.#linkChange('unlink', s, l)
    }
    const targets = new Set<string>()
    for (const p of plans) if (p.targetKey !== undefined) targets.add(p.targetKey)
    const opts = signal ? { signal } : {}
    const batch: InFlight = {
      sources,
      targets,
      creating: creates.length > 0,
      written: Promise.resolve(),
      done: Promise.resolve(),
    }
    const results = (async (): Promise<BatchResults> => {
      this.#ctx.probe?.('before-write', pair.id)
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
      batch.creating = false
      this.#ctx.probe?.('after-write', pair.id)
      return { target, source }
    })()
    batch.written = results.then(() => undefined)
    batch.done = Promise.all([results, last?.done]).then(async ([r]) => {
      const outcome = this.#outcome(s, plans, failures, toUnlink, r)
      await this.#commit((tx) =>
        this.#store(tx, s, plans, toUnlink, dormant, outcome, intentIds, checkpoint),
      )
      this.#ctx.probe?.('after-commit', pair.id)
      await this.#ctx.flush()
    })
    // Awaited later (#settle, the next batch); until then a failure must not count as unhandled.
    batch.written.catch(() => {})
    batch.done.catch(() => {})
    this.#inFlight.push(batch)
    if (this.#inFlight.length > 2) this.#inFlight.shift()
  }

  /**
   * What a batch's writes came to: the links to store, the failures, the conflicts to park,
   * with counts and the protocol's change lines updated.
   */
  #outcome(
    s: Side,
    plans: readonly RecordPlan[],
    failures: readonly { key: string; error: OpenSyncError }[],
    toUnlink: readonly Link[],
    results: BatchResults,
  ): BatchOutcome {
    const { task, pair, protocol } = this.#ctx
    const t = (1 - s) as Side
    const countsST = this.#counts(s)
    const countsTS = this.#counts(t)
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
    const syncedAt = new Date().toISOString()
    const conflicts: ParkedConflict[] = []
    const manual = pair.conflict.winner === 'manual'
    for (const p of plans) {
      if (failed.has(p.sourceKey) || p.targetKey === undefined) continue
      const keys: [string, string] =
        s === 0 ? [p.sourceKey, p.targetKey] : [p.targetKey, p.sourceKey]
      const op = p.toTarget?.op
      ;(op === 'create' ? created : links).push({
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
    return { links, created, failed, conflicts }
  }

  /** A batch's store transaction: links, intents, record errors, parked conflicts, checkpoint. */
  async #store(
    tx: StoreRepos,
    s: Side,
    plans: readonly RecordPlan[],
    toUnlink: readonly Link[],
    dormant: readonly Link[],
    { links, created, failed, conflicts }: BatchOutcome,
    intentIds: readonly number[],
    checkpoint: Checkpoint | undefined,
  ): Promise<void> {
    const { task, pair, protocol, quarantineAfter } = this.#ctx
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
    if (createdKeys.length > 0 && this.#mayHaveLinks) {
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
    // A create's link is new on both sides: its source key had none (looked up, or the pass
    // began without links on a source whose reads see one snapshot), and a stale link to its
    // target key went above.
    if (created.length > 0) await tx.links.insert(created)
    if (links.length > 0 || created.length > 0) this.#linkedInPass = true
    if (intentIds.length > 0) await tx.intents.remove(intentIds)
    if (failed.size > 0) {
      this.#mayHaveErrors[s] = true
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
    if (okKeys.length > 0 && this.#mayHaveErrors[s]) {
      await tx.recordErrors.clear(task.id, pair.id, s, okKeys)
    }
    if (conflicts.length > 0) await tx.conflicts.park(conflicts)
    if (checkpoint) await tx.checkpoints.set(task.id, pair.id, s, checkpoint)
  }

  /**
   * Runs batches whose writes and commits overlap the next batch, and returns once the last
   * commit has landed. A failed batch still lets the one before it finish committing: its
   * writes landed.
   */
  async #pipelined(batches: () => Promise<void>): Promise<void> {
    try {
      await batches()
      await this.#settle()
    } finally {
      await this.#settle().catch(() => {})
    }
  }

  /** Waits for the batches in flight to commit; the first failure is this run's failure. */
  async #settle(): Promise<void> {
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

  /** Waits until no batch in flight is still creating records, so their keys are known. */
  async #createsLanded(): Promise<void> {
    for (const batch of this.#inFlight) if (batch.creating) await batch.written
  }

  /** Whether a batch in flight writes or links this target key (known once its creates landed). */
  #claimed(key: string): boolean {
    return this.#inFlight.some((b) => b.targets.has(key))
  }

  // ---------------------------------------------------------------- deletes

  /** Finds linked records gone from side `s` and applies the pair's delete policy to the other side. */
  async #detectDeletes(s: Side): Promise<void> {
    const { task, pair, store, conns, protocol, dryRun, batchSize, signal } = this.#ctx
    const t = (1 - s) as Side
    const side = pair.sides[s]
    const counts = this.#counts(s)
    if (!(await store.links.exists(task.id, pair.id))) return
    // When the deletes found now were first seen: what `newest` dates them by.
    const seenAt = new Date().toISOString()
    const present = new Set<string>()
    const scan = conns[s].readKeys
      ? conns[s].readKeys!(side.type, {
          ...this.#keyed(s),
          ...(side.filter ? { filter: side.filter } : {}),
          batchSize: batchSize * 10,
          ...(signal ? { signal } : {}),
        })
      : mapKeys(
          conns[s].read(side.type, {
            ...this.#keyed(s),
            fields: [],
            ...(side.filter ? { filter: side.filter } : {}),
            batchSize,
          }),
        )
    for await (const keys of scan) for (const k of keys) present.add(k)
    let gone: Link[] = []
    /** Dormant links whose record inside the filter is gone too: nothing is left to sync. */
    const spent: Link[] = []
    let total = 0
    for await (const links of store.links.scan(task.id, pair.id, batchSize * 10)) {
      for (const link of links) {
        const current = dryRun ? (this.#overlay[s].get(link.keys[s]) ?? link) : link
        if (current === null) continue
        // A record outside its filter is not in the scan; neither record of the link is written.
        if (isDormant(current)) {
          if (current.outside === t && !present.has(link.keys[s])) spent.push(current)
          continue
        }
        total++
        if (current.deleted === s || current.deleted === t) continue
        if (!present.has(link.keys[s])) gone.push(current)
      }
    }
    if (dryRun) for (const l of spent) this.#setOverlay(l, null)
    else if (spent.length > 0)
      await this.#commit((tx) =>
        tx.links.remove(
          task.id,
          pair.id,
          s,
          spent.map((l) => l.keys[s]),
        ),
      )
    if (gone.length === 0) return

    // A record that left the filter but still exists is unlinked, never deleted: its link
    // sleeps, with its base, until the record comes back.
    if (side.filter) {
      const still = await this.#readByKeysMap(
        s,
        gone.map((l) => l.keys[s]),
      )
      const left = gone.filter((l) => still.has(l.keys[s]))
      gone = gone.filter((l) => !still.has(l.keys[s]))
      if (left.length > 0) {
        counts.unlinked += left.length
        protocol.log(
          'info',
          `${left.length} record(s) of ${side.type} left the filter and were unlinked`,
          pair.id,
        )
        const asleep = left.map((l) => ({ ...l, outside: s }))
        for (const l of asleep) {
          this.#linkChange('unlink', s, l)
          if (dryRun) this.#setOverlay(l, l)
        }
        if (!dryRun) await this.#commit((tx) => tx.links.upsert(asleep))
      }
    }
    if (gone.length === 0) return

    if (pair.deletes.policy === 'flag') {
      protocol.log(
        'warn',
        `${gone.length} record(s) deleted in ${side.type} are flagged, not deleted in ${pair.sides[t].type}`,
        pair.id,
        {
          keys: gone.slice(0, 100).map((l) => l.keys[t]),
        },
      )
      for (const l of gone) this.#linkChange('flag', s, l)
      if (!dryRun)
        await this.#commit((tx) => tx.links.upsert(gone.map((l) => ({ ...l, deleted: s }))))
      return
    }
    const share = total > 0 ? gone.length / total : 1
    if (gone.length >= GUARD_MIN_DELETES && share > pair.deletes.maxShare) {
      throw new OpenSyncError(
        'OSY_DELETE_GUARD',
        `stopped: ${gone.length} of ${total} linked records (${(share * 100).toFixed(1)}%) are gone from ${side.type}, more than the limit of ${(pair.deletes.maxShare * 100).toFixed(0)}% — check the filter, or raise deletes.maxShare if this is intended`,
        { details: { recordType: side.type, count: gone.length, total } },
      )
    }
    gone = await this.#deletesAgainstEdits(s, gone, seenAt)
    for (const chunk of chunks(gone, batchSize)) {
      throwIfAborted(signal)
      const results: readonly WriteResult[] = dryRun
        ? chunk.map((l) => ({ ok: true, key: l.keys[t] }))
        : await conns[t].write(
            pair.sides[t].type,
            chunk.map((l) => ({ op: 'delete', key: l.keys[t] }) as WriteOp),
            signal ? { signal } : {},
          )
      const done: Link[] = []
      chunk.forEach((l, i) => {
        const r = results[i]!
        if (r.ok) {
          done.push(l)
          this.#linkChange('delete', s, l)
        } else {
          counts.errors++
          protocol.log(
            'warn',
            `delete of ${l.keys[t]} in ${pair.sides[t].type} failed: ${r.error.message}`,
            pair.id,
          )
          protocol.change({
            pairId: pair.id,
            direction: direction(s),
            op: 'error',
            sourceKey: l.keys[s],
            targetKey: l.keys[t],
            values: { code: r.error.code, message: r.error.message },
          })
        }
      })
      counts.deleted += done.length
      if (!dryRun && done.length > 0)
        await this.#commit((tx) =>
          tx.links.remove(
            task.id,
            pair.id,
            s,
            done.map((l) => l.keys[s]),
          ),
        )
      this.#ctx.onProgress?.({ pairId: pair.id, direction: direction(s), phase: 'deletes', counts })
    }
    if (!dryRun) await this.#ctx.flush()
  }

  /**
   * Of the links whose record side `s` deleted, the ones whose other record may be deleted
   * too. A record edited on the other side since the last sync is a conflict, decided by the
   * pair's strategy: the deleting side wins (deleted), the editing side wins (the link goes
   * and the record is created again on side `s` by the other side's pass: a new link, no
   * duplicate), `newest` compares the edit with `seenAt`, `manual` parks it (the link stays
   * as a tombstone until a person decides). A record that is gone or outside its filter on
   * the other side too just loses its link.
   */
  async #deletesAgainstEdits(s: Side, gone: readonly Link[], seenAt: string): Promise<Link[]> {
    const { task, pair, protocol, dryRun } = this.#ctx
    const t = (1 - s) as Side
    const counts = this.#counts(s)
    const { found } = await this.#targetsInFilter(
      t,
      gone.map((l) => l.keys[t]),
    )
    const deletes: Link[] = []
    const unlink: Link[] = []
    const parked: Link[] = []
    const conflicts: ParkedConflict[] = []
    for (const link of gone) {
      const values = found.get(link.keys[t])
      if (!values) {
        unlink.push(link)
        continue
      }
      // One way from s, the other side's edits never flow back: the delete goes through.
      if (!pair.flows[t] || this.#sameAsBase(t, values, baseOf(link, t))) {
        deletes.push(link)
        continue
      }
      counts.conflicts++
      const winner = this.#deleteWinner(t, values, seenAt)
      const edited = jsonable(pick(values, this.#mappedFields(t)))
      const both: [unknown, unknown] = s === 0 ? [null, edited] : [edited, null]
      const names = this.#ctx.task.systems
      protocol.log(
        'info',
        `conflict on ${pair.sides[s].type} ${link.keys[s]}: deleted in ${names[s].key}, edited in ${names[t].key} — ${winner === 'manual' ? 'parked for a decision' : `${names[winner].key} wins`}`,
        pair.id,
      )
      protocol.change({
        pairId: pair.id,
        direction: direction(s),
        op: 'conflict',
        sourceKey: link.keys[s],
        targetKey: link.keys[t],
        values: { mapping: RECORD_CONFLICT, values: both },
      })
      if (winner === s) deletes.push(link)
      else if (winner === 'manual') {
        parked.push({ ...link, deleted: s })
        conflicts.push({
          taskId: task.id,
          pairId: pair.id,
          keys: link.keys,
          mapping: RECORD_CONFLICT,
          values: both,
        })
      } else {
        unlink.push(link)
        this.#restore[t].add(link.keys[t])
      }
    }
    if (dryRun) {
      for (const l of unlink) this.#setOverlay(l, null)
      for (const l of parked) this.#setOverlay(l, l)
    } else if (unlink.length > 0 || parked.length > 0) {
      await this.#commit(async (tx) => {
        if (unlink.length > 0)
          await tx.links.remove(
            task.id,
            pair.id,
            s,
            unlink.map((l) => l.keys[s]),
          )
        if (parked.length > 0) {
          await tx.links.upsert(parked)
          await tx.conflicts.park(conflicts)
        }
      })
    }
    return deletes
  }

  /** Who wins a delete on one side against an edit on side `t` (see #deletesAgainstEdits). */
  #deleteWinner(t: Side, values: FieldValues, seenAt: string): Side | 'manual' {
    const { conflict, sides } = this.#ctx.pair
    if (conflict.winner !== 'newest') return conflict.winner
    const s = (1 - t) as Side
    const cursor = sides[t].cursor
    const type = cursor ? this.#fields[t].get(cursor)?.type : undefined
    const stamp = cursor ? values[cursor] : undefined
    // Without a time of the edit (no timestamp cursor) the delete goes through.
    if (typeof stamp !== 'string' || (type !== 'timestamptz' && type !== 'timestamp')) return s
    const edited = Date.parse(stamp.endsWith('Z') ? stamp : `${stamp}Z`)
    return edited > Date.parse(seenAt) ? t : s
  }

  /** The fields of side `s` that the pair's mappings use. */
  #mappedFields(s: Side): string[] {
    return [...new Set(this.#ctx.pair.mappings.flatMap((m) => m.fields[s]))]
  }

  // ---------------------------------------------------------------- lookups

  /** Resolves creates that were sent but whose link never got committed (a crash). */
  async #recoverIntents(s: Side): Promise<string[]> {
    const { task, pair, store, dryRun, protocol } = this.#ctx
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
    const type = this.#ctx.types[t]
    const records = await this.#readWhere(
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
      // An empty base makes the next merge compare both sides afresh: equal values converge.
      links.push({
        taskId: task.id,
        pairId: pair.id,
        keys,
        base: ['{}', '{}'],
        syncedAt,
        deleted: null,
      })
    }
    await this.#commit(async (tx) => {
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

  /**
   * Finds records on the other side, inside its filter, that match unlinked source records by
   * the pair's match keys. `blocked` are the source records whose match is there but outside
   * the filter: they are neither linked nor created (a create would duplicate it).
   */
  async #matchTargets(
    s: Side,
    records: readonly SourceRecord[],
  ): Promise<{ matches: Map<string, { key: string; values: FieldValues }>; blocked: Set<string> }> {
    const out = new Map<string, { key: string; values: FieldValues }>()
    const blocked = new Set<string>()
    if (records.length === 0 || this.#matchMappings.length === 0 || this.#targetEmpty)
      return { matches: out, blocked }
    const t = (1 - s) as Side
    const wanted = new Map<string, string>() // match text → source key
    const sets: Record<string, Value>[] = []
    for (const r of records) {
      const set: Record<string, Value> = {}
      for (const m of this.#matchMappings) {
        Object.assign(set, await this.#convert(s, m, r.values))
      }
      const text = matchText(set)
      if (text !== undefined && !wanted.has(text)) {
        wanted.set(text, r.key)
        sets.push(set)
      }
    }
    const candidates = new Map<string, SourceRecord>()
    const type = this.#ctx.types[t]
    const found = await this.#readWhere(
      t,
      chunks(sets, LOOKUP_CHUNK).map((chunk) => matchFilter(type, chunk)),
      true,
    )
    for (const records of found) for (const r of records) candidates.set(r.key, r)
    const fields = this.#matchMappings.flatMap((m) => m.fields[t])
    if (this.#ctx.pair.sides[t].filter) {
      // Match values no record inside the filter has: one outside it blocks the create.
      const inside = new Set<string>()
      for (const c of candidates.values()) {
        const text = matchText(pick(c.values, fields))
        if (text !== undefined) inside.add(text)
      }
      const rest = sets.filter((set) => !inside.has(matchText(set)!))
      if (rest.length > 0) {
        const outside = await this.#readWhere(
          t,
          chunks(rest, LOOKUP_CHUNK).map((chunk) => matchFilter(type, chunk)),
        )
        for (const records of outside)
          for (const r of records) {
            const text = matchText(pick(r.values, fields))
            const sourceKey = text !== undefined ? wanted.get(text) : undefined
            if (sourceKey !== undefined) blocked.add(sourceKey)
          }
      }
    }
    if (candidates.size === 0) return { matches: out, blocked }
    const alreadyLinked = await this.#findLinks(t, [...candidates.keys()])
    // A candidate may be a record a batch in flight just created: wait until its key is known.
    await this.#createsLanded()
    for (const c of candidates.values()) {
      // Linked, or about to be by a batch in flight.
      if (alreadyLinked.has(c.key) || this.#claimed(c.key)) continue
      const text = matchText(pick(c.values, fields))
      const sourceKey = text !== undefined ? wanted.get(text) : undefined
      if (sourceKey && !out.has(sourceKey)) {
        out.set(sourceKey, { key: c.key, values: c.values })
        wanted.delete(text!)
      }
    }
    return { matches: out, blocked }
  }

  async #findLinks(s: Side, keys: readonly string[]): Promise<Map<string, Link>> {
    const { task, pair, store, dryRun } = this.#ctx
    const found = new Map<string, Link>()
    for (const chunk of chunks(keys, LOOKUP_CHUNK * 10)) {
      for (const [k, l] of await store.links.find(task.id, pair.id, s, chunk)) found.set(k, l)
    }
    if (dryRun) {
      for (const key of keys) {
        const o = this.#overlay[s].get(key)
        if (o === null) found.delete(key)
        else if (o) found.set(key, o)
      }
    }
    return found
  }

  #setOverlay(link: Link, value: Link | null): void {
    this.#overlay[0].set(link.keys[0], value)
    this.#overlay[1].set(link.keys[1], value)
  }

  /** The records of side `s` with these keys; with `filtered`, only those inside its filter. */
  async #readByKeys(s: Side, keys: readonly string[], filtered = false): Promise<SourceRecord[]> {
    const type = this.#ctx.types[s]
    const found = await this.#readWhere(
      s,
      chunks(keys, LOOKUP_CHUNK).map((chunk) => keysFilter(type, chunk)),
      filtered,
    )
    return found.length === 1 ? found[0]! : found.flat()
  }

  /**
   * The other side's records of some links, read through its filter; `outside` are the keys
   * whose record exists but is outside the filter (told apart from the ones that are gone).
   */
  async #targetsInFilter(
    t: Side,
    keys: readonly string[],
  ): Promise<{ found: Map<string, FieldValues>; outside: ReadonlySet<string> }> {
    const found = new Map<string, FieldValues>()
    for (const r of await this.#readByKeys(t, keys, true)) found.set(r.key, r.values)
    if (!this.#ctx.pair.sides[t].filter || found.size === keys.length) {
      return { found, outside: NO_KEYS }
    }
    const missing = keys.filter((k) => !found.has(k))
    const outside = new Set((await this.#readByKeys(t, missing)).map((r) => r.key))
    return { found, outside }
  }

  /**
   * The records of one side that each filter selects, by filter, {@link LOOKUP_PARALLEL}
   * reads at a time: a lookup by key is a random read on the other system's disk, and two
   * of them overlap where one after the other wait twice (docs/benchmarks.md).
   */
  async #readWhere(
    s: Side,
    exprs: readonly (FilterExpr | undefined)[],
    filtered = false,
  ): Promise<SourceRecord[][]> {
    const own = filtered ? this.#ctx.pair.sides[s].filter : undefined
    const out: SourceRecord[][] = exprs.map(() => [])
    let next = 0
    let failed = false
    const reader = async () => {
      while (next < exprs.length && !failed) {
        const i = next++
        const expr = exprs[i]
        if (!expr) continue
        const records = out[i]!
        try {
          for await (const batch of this.#ctx.conns[s].read(this.#ctx.pair.sides[s].type, {
            ...this.#keyed(s),
            filter: own ? { all: [own, { expr }] } : { expr },
            batchSize: LOOKUP_CHUNK * 2,
          })) {
            for (let j = 0; j < batch.records.length; j++) records.push(batch.records[j]!)
          }
        } catch (error) {
          failed = true
          throw error
        }
      }
    }
    const readers: Promise<void>[] = []
    for (let r = 0; r < Math.min(LOOKUP_PARALLEL, exprs.length); r++) readers.push(reader())
    await Promise.all(readers)
    return out
  }

  async #readByKeysMap(s: Side, keys: readonly string[]): Promise<Map<string, FieldValues>> {
    const records = await this.#readByKeys(s, keys)
    return new Map(records.map((r) => [r.key, r.values]))
  }

  // ---------------------------------------------------------------- helpers

  /** True when a side has no record at all (one key read). */
  async #isEmpty(side: Side): Promise<boolean> {
    const stream = this.#ctx.conns[side].read(this.#ctx.pair.sides[side].type, {
      ...this.#keyed(side),
      fields: [],
      batchSize: 1,
    })
    for await (const batch of stream) if (batch.records.length > 0) return false
    return true
  }

  /** Read options naming a side's key fields, when the pair names them (views, keyless tables). */
  #keyed(side: Side): { keyFields?: readonly string[] } {
    const key = this.#ctx.pair.sides[side].key
    return key ? { keyFields: key } : {}
  }

  /** Records a change that concerns a whole link (unlinked, flagged, deleted) for the report. */
  #linkChange(op: 'unlink' | 'flag' | 'delete', s: Side, link: Link): void {
    const t = (1 - s) as Side
    this.#ctx.protocol.change({
      pairId: this.#ctx.pair.id,
      direction: direction(s),
      op,
      sourceKey: link.keys[s],
      targetKey: link.keys[t],
    })
  }

  /** One store transaction, fenced: a run that lost its lease commits nothing. */
  async #commit<T>(fn: (tx: StoreRepos) => Promise<T>): Promise<T> {
    return this.#ctx.store.transaction(async (tx) => {
      await this.#ctx.fence?.(tx)
      return fn(tx)
    })
  }

  #counts(from: Side): Counts {
    return this.#ctx.protocol.of(this.#ctx.pair.id, direction(from))
  }

  #fp(side: Side, values: FieldValues, m: FieldMapping): Fingerprint {
    return this.#fingerprinters[side].get(m)!(values)
  }

  #sameAsBase(s: Side, values: FieldValues, base: Base): boolean {
    for (const m of this.#ctx.pair.mappings) {
      if (this.#fp(s, values, m) !== base[m.id]) return false
    }
    return true
  }
}

/**
 * The base of both sides as stored. Mappings without transforms leave both sides with the
 * same fingerprints; then the second is stored as `=`, halving what a link weighs.
 */
function storedBases(base: readonly [Base, Base], same = false): [string, string] {
  const first = JSON.stringify(base[0])
  if (same) return [first, SAME_AS_FIRST]
  const second = JSON.stringify(base[1])
  return [first, second === first ? SAME_AS_FIRST : second]
}

const SAME_AS_FIRST = '='

/** Values with the given fields put in the form their field stores (see conformValue). */
function conformAll(values: FieldValues, fields: readonly FieldInfo[]): FieldValues {
  const out: Record<string, Value> = { ...values }
  for (const f of fields) if (f.name in out) out[f.name] = conformValue(out[f.name], f)
  return out
}

/** Whether a link sleeps because one of its records is outside its filter. */
function isDormant(link: Link): boolean {
  return link.outside !== undefined && link.outside !== null
}

/** The base of one side of a link (see {@link storedBases}). */
function baseOf(link: Link, side: Side): Base {
  const text = side === 1 && link.base[1] === SAME_AS_FIRST ? link.base[0] : link.base[side]
  return parseBase(text)
}

function parseBase(text: string): Base {
  try {
    return JSON.parse(text) as Base
  } catch {
    return {}
  }
}

function pick(values: FieldValues, fields: readonly string[]): Record<string, Value> {
  const out: Record<string, Value> = {}
  for (const f of fields) out[f] = values[f] ?? null
  return out
}

/** Match values compare case- and space-insensitively, as e-mail addresses and numbers should. */
function matchText(values: Readonly<Record<string, Value>>): string | undefined {
  const parts: string[] = []
  for (const key of Object.keys(values).sort()) {
    const v = values[key]
    if (v === null || v === undefined || v === '') return undefined
    parts.push(canonical(typeof v === 'string' ? v.trim().toLowerCase() : v))
  }
  return JSON.stringify(parts)
}

function sameMatch(set: Readonly<Record<string, Value>>, values: FieldValues): boolean {
  return matchText(set) === matchText(pick(values, Object.keys(set)))
}

/** Values as JSON-safe data for protocols and parked conflicts; JSON numbers stay exact. */
function jsonable(value: unknown): unknown {
  return parseJson(
    JSON.stringify(value, (_k, v) =>
      typeof v === 'bigint'
        ? v.toString()
        : v instanceof Uint8Array
          ? Buffer.from(v).toString('base64')
          : v,
    ),
  )
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

async function* mapKeys(
  stream: AsyncIterable<{ records: readonly SourceRecord[] }>,
): AsyncIterable<string[]> {
  for await (const batch of stream) yield batch.records.map((r) => r.key)
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

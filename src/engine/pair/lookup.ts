import type { FilterExpr, SourceRecord, Value } from '../../sdk/index.ts'
import type { Link } from '../../store/index.ts'
import { keysFilter, matchFilter } from '../key-filters.ts'
import type { FieldValues, Side } from '../task/resolved-task.ts'
import { baseOf } from './base-state.ts'
import type { PairState } from './pair-state.ts'
import { chunks, matchText, pick } from './record-values.ts'

/** Keys per lookup statement. */
// SQLite refuses expressions nested deeper than 1000 (an OR of 1000 terms is that deep).
export const LOOKUP_CHUNK = 500
/** Lookup statements on one side at once (see {@link Lookup.readWhere}). */
const LOOKUP_PARALLEL = 2

const NO_KEYS: ReadonlySet<string> = Object.freeze(new Set<string>())

/** A record of the other side, found for a source record. */
export interface Partner {
  readonly key: string
  readonly values: FieldValues
}

/**
 * What the batches still in flight tell a lookup (the batch pipeline answers): a lookup that
 * meets the keys they link waits for them.
 */
export interface InFlightKeys {
  /** Whether a batch is in flight at all. */
  readonly busy: boolean
  /** Whether a batch in flight handles one of these source keys. */
  handles(sources: readonly string[]): boolean
  /** Waits for the batches in flight to commit. */
  settle(): Promise<void>
  /** Waits until no batch in flight is still creating records, so their keys are known. */
  createsLanded(): Promise<void>
  /** Whether a batch in flight writes or links this target key (known once its creates landed). */
  claimed(key: string): boolean
}

/** A batch of source records sorted by what the lookups found (the hand-over to planning). */
export interface BatchLookup {
  /** Linked records that changed since the last sync (or woke up), with their link. */
  readonly changed: readonly { readonly record: SourceRecord; readonly link: Link }[]
  /** Records without a link. */
  readonly unlinked: readonly SourceRecord[]
  /** The other side's records of the changed ones' links, inside its filter, by key. */
  readonly partners: ReadonlyMap<string, FieldValues>
  /** Keys of those whose record exists outside the other side's filter. */
  readonly outside: ReadonlySet<string>
  /** Unlinked records' matches on the other side, by source key. */
  readonly matches: ReadonlyMap<string, Partner>
  /** Unlinked records whose match is there but outside the filter: neither linked nor created. */
  readonly blocked: ReadonlySet<string>
}

/**
 * The link and match lookup: the store's links of a batch's keys (with the dry run's
 * overlay), the other side's records by key or by match values, always read through that
 * side's filter when asked (`{ all: [filter, lookup] }` reaches the bridge).
 */
export class Lookup {
  readonly #state: PairState

  constructor(state: PairState) {
    this.#state = state
  }

  /**
   * Looks up a batch read on side `s`: counts it, finds its links (waiting for batches in
   * flight that handle its keys or claim its links' targets: a link pointing at a key a batch
   * in flight creates is stale, that batch's commit removes it), sets the unchanged ones
   * aside (counted), and finds the partners of the rest.
   */
  async batch(
    s: Side,
    records: readonly SourceRecord[],
    inFlight: InFlightKeys,
  ): Promise<BatchLookup> {
    const state = this.#state
    const { dryRun } = state.ctx
    const t = (1 - s) as Side
    const counts = state.counts(s)
    counts.read += records.length
    const keys = records.map((r) => r.key)
    if (inFlight.handles(keys)) await inFlight.settle()
    let links = state.noLinksYet ? new Map<string, Link>() : await this.findLinks(s, keys)
    if (links.size > 0 && inFlight.busy) {
      await inFlight.createsLanded()
      if ([...links.values()].some((l) => inFlight.claimed(l.keys[t]))) {
        await inFlight.settle()
        links = await this.findLinks(s, keys)
      }
    }

    const changed: { record: SourceRecord; link: Link }[] = []
    const unlinked: SourceRecord[] = []
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!
      const link = links.get(record.key)
      if (!link) unlinked.push(record)
      else if (dryRun && state.touched.has(link.keys[0])) counts.unchanged++
      // A tombstone (flagged or parked delete of the other record): nothing flows to it.
      else if (link.deleted === t) counts.unchanged++
      // Back inside its filter (it was read through it): linked again, even if unchanged.
      else if (link.outside === s) changed.push({ record, link })
      // Also how the engine's own writes are recognised when read back: echo suppression.
      else if (state.codec.sameAsBase(s, record.values, baseOf(link, s))) counts.unchanged++
      else changed.push({ record, link })
    }

    const { found: partners, outside } = await this.targetsInFilter(
      t,
      changed.map((c) => c.link.keys[t]),
    )
    const { matches, blocked } = await this.matchTargets(s, unlinked, inFlight)
    return { changed, unlinked, partners, outside, matches, blocked }
  }

  /** The links of these keys of side `s` (as the dry run would have left them). */
  async findLinks(s: Side, keys: readonly string[]): Promise<Map<string, Link>> {
    const { task, pair, store, dryRun } = this.#state.ctx
    const found = new Map<string, Link>()
    for (const chunk of chunks(keys, LOOKUP_CHUNK * 10)) {
      for (const [k, l] of await store.links.find(task.id, pair.id, s, chunk)) found.set(k, l)
    }
    if (dryRun) {
      for (const key of keys) {
        const o = this.#state.overlay[s].get(key)
        if (o === null) found.delete(key)
        else if (o) found.set(key, o)
      }
    }
    return found
  }

  /** The records of side `s` with these keys; with `filtered`, only those inside its filter. */
  async readByKeys(s: Side, keys: readonly string[], filtered = false): Promise<SourceRecord[]> {
    const type = this.#state.ctx.types[s]
    const found = await this.readWhere(
      s,
      chunks(keys, LOOKUP_CHUNK).map((chunk) => keysFilter(type, chunk)),
      filtered,
    )
    return found.length === 1 ? found[0]! : found.flat()
  }

  /** The values of the records of side `s` with these keys, whether inside its filter or not. */
  async readByKeysMap(s: Side, keys: readonly string[]): Promise<Map<string, FieldValues>> {
    const records = await this.readByKeys(s, keys)
    return new Map(records.map((r) => [r.key, r.values]))
  }

  /**
   * The other side's records of some links, read through its filter; `outside` are the keys
   * whose record exists but is outside the filter (told apart from the ones that are gone).
   */
  async targetsInFilter(
    t: Side,
    keys: readonly string[],
  ): Promise<{ found: Map<string, FieldValues>; outside: ReadonlySet<string> }> {
    const found = new Map<string, FieldValues>()
    for (const r of await this.readByKeys(t, keys, true)) found.set(r.key, r.values)
    if (!this.#state.ctx.pair.sides[t].filter || found.size === keys.length) {
      return { found, outside: NO_KEYS }
    }
    const missing = keys.filter((k) => !found.has(k))
    const outside = new Set((await this.readByKeys(t, missing)).map((r) => r.key))
    return { found, outside }
  }

  /**
   * Finds records on the other side, inside its filter, that match unlinked source records by
   * the pair's match keys. `blocked` are the source records whose match is there but outside
   * the filter: they are neither linked nor created (a create would duplicate it).
   */
  async matchTargets(
    s: Side,
    records: readonly SourceRecord[],
    inFlight: InFlightKeys,
  ): Promise<{ matches: Map<string, Partner>; blocked: Set<string> }> {
    const state = this.#state
    const { matchMappings } = state.codec
    const out = new Map<string, Partner>()
    const blocked = new Set<string>()
    if (records.length === 0 || matchMappings.length === 0 || state.targetEmpty)
      return { matches: out, blocked }
    const t = (1 - s) as Side
    const wanted = new Map<string, string>() // match text → source key
    const sets: Record<string, Value>[] = []
    for (const r of records) {
      const set: Record<string, Value> = {}
      for (const m of matchMappings) {
        Object.assign(set, await state.codec.convert(s, m, r.values))
      }
      const text = matchText(set)
      if (text !== undefined && !wanted.has(text)) {
        wanted.set(text, r.key)
        sets.push(set)
      }
    }
    const candidates = new Map<string, SourceRecord>()
    const type = state.ctx.types[t]
    const found = await this.readWhere(
      t,
      chunks(sets, LOOKUP_CHUNK).map((chunk) => matchFilter(type, chunk)),
      true,
    )
    for (const records of found) for (const r of records) candidates.set(r.key, r)
    const fields = matchMappings.flatMap((m) => m.fields[t])
    if (state.ctx.pair.sides[t].filter) {
      // Match values no record inside the filter has: one outside it blocks the create.
      const inside = new Set<string>()
      for (const c of candidates.values()) {
        const text = matchText(pick(c.values, fields))
        if (text !== undefined) inside.add(text)
      }
      const rest = sets.filter((set) => !inside.has(matchText(set)!))
      if (rest.length > 0) {
        const outside = await this.readWhere(
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
    const alreadyLinked = await this.findLinks(t, [...candidates.keys()])
    // A candidate may be a record a batch in flight just created: wait until its key is known.
    await inFlight.createsLanded()
    for (const c of candidates.values()) {
      // Linked, or about to be by a batch in flight.
      if (alreadyLinked.has(c.key) || inFlight.claimed(c.key)) continue
      const text = matchText(pick(c.values, fields))
      const sourceKey = text !== undefined ? wanted.get(text) : undefined
      if (sourceKey && !out.has(sourceKey)) {
        out.set(sourceKey, { key: c.key, values: c.values })
        wanted.delete(text!)
      }
    }
    return { matches: out, blocked }
  }

  /**
   * The records of one side that each filter selects, by filter, {@link LOOKUP_PARALLEL}
   * reads at a time: a lookup by key is a random read on the other system's disk, and two
   * of them overlap where one after the other wait twice (docs/benchmarks.md).
   */
  async readWhere(
    s: Side,
    exprs: readonly (FilterExpr | undefined)[],
    filtered = false,
  ): Promise<SourceRecord[][]> {
    const { ctx } = this.#state
    const own = filtered ? ctx.pair.sides[s].filter : undefined
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
          for await (const batch of ctx.conns[s].read(ctx.pair.sides[s].type, {
            ...this.#state.keyed(s),
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

  /** True when a side has no record at all (one key read). */
  async isEmpty(side: Side): Promise<boolean> {
    const { ctx } = this.#state
    const stream = ctx.conns[side].read(ctx.pair.sides[side].type, {
      ...this.#state.keyed(side),
      fields: [],
      batchSize: 1,
    })
    for await (const batch of stream) if (batch.records.length > 0) return false
    return true
  }
}

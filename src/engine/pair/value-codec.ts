import {
  type FieldInfo,
  type FieldType,
  needsConforming,
  type RecordTypeInfo,
  type Value,
} from '../../sdk/index.ts'
import { type Fingerprint, fingerprint, fingerprintOf, sameCanonical } from '../fingerprint.ts'
import type { FieldMapping, FieldValues, ResolvedPair, Side } from '../task/resolved-task.ts'
import type { Base } from './base-state.ts'
import { conformAll } from './record-values.ts'

/** A plain rename from one side: its fields, their types, and whether both read a value alike. */
export interface Direct {
  readonly from: string
  readonly to: string
  readonly fromType: FieldType | undefined
  readonly toType: FieldType | undefined
  /** The target field, when a value must be put in the form it stores (see conformValue). */
  readonly conform: FieldInfo | undefined
  /** Both read a value alike: one fingerprint serves both sides. */
  readonly sameText: boolean
}

/** The fingerprint of a mapping's fields of one side, by mapping. */
type Fingerprinters = ReadonlyMap<FieldMapping, (values: FieldValues) => Fingerprint>

/**
 * A pair's mappings compiled against both sides' record types, once per run: how a side's
 * values are fingerprinted for the base, and converted into the form the other side stores.
 * Pure: no I/O, and the same values always give the same answer.
 */
export class ValueCodec {
  readonly pair: ResolvedPair
  /** Per side, its fields by name. */
  readonly fields: readonly [ReadonlyMap<string, FieldInfo>, ReadonlyMap<string, FieldInfo>]
  /** The mappings whose values pair up unlinked records on a first sync. */
  readonly matchMappings: readonly FieldMapping[]
  /** Per side, per mapping (in order): how a plain rename is copied without converting. */
  readonly direct: readonly [readonly (Direct | undefined)[], readonly (Direct | undefined)[]]
  /**
   * Per side, when every mapping is a plain rename whose fingerprint reads alike on both
   * sides: the target's values with every field in place, for creates to copy.
   */
  readonly outTemplates: readonly [
    Readonly<Record<string, Value>> | undefined,
    Readonly<Record<string, Value>> | undefined,
  ]
  /** Per side, the fingerprint of each mapping's fields of that side. */
  readonly #fingerprinters: readonly [Fingerprinters, Fingerprinters]
  /**
   * Per side, the mappings whose values going from that side must be put in the form the
   * other side stores (see conformValue), with the target fields concerned.
   */
  readonly #conformed: readonly [
    ReadonlyMap<FieldMapping, readonly FieldInfo[]>,
    ReadonlyMap<FieldMapping, readonly FieldInfo[]>,
  ]

  constructor(pair: ResolvedPair, types: readonly [RecordTypeInfo, RecordTypeInfo]) {
    this.pair = pair
    const fields = [
      new Map(types[0].fields.map((f) => [f.name, f])),
      new Map(types[1].fields.map((f) => [f.name, f])),
    ] as const
    this.fields = fields
    this.matchMappings = pair.match.map((id) => pair.mappings.find((m) => m.id === id)!)
    const fingerprinters = (side: Side): Fingerprinters =>
      new Map(
        pair.mappings.map((m) => {
          const names = m.fields[side]
          if (names.length !== 1) {
            const types = fields[side]
            return [m, (values: FieldValues) => fingerprint(values, names, types)]
          }
          const [field] = names as [string]
          const type = fields[side].get(field)?.type
          return [m, (values: FieldValues) => fingerprintOf(values[field], type)]
        }),
      )
    this.#fingerprinters = [fingerprinters(0), fingerprinters(1)]
    const direct = (s: Side): (Direct | undefined)[] => {
      const t = (1 - s) as Side
      return pair.mappings.map((m) => {
        if (!m.plain?.[s]) return undefined
        const [from] = m.fields[s] as [string]
        const [to] = m.fields[t] as [string]
        const fromField = fields[s].get(from)
        const toField = fields[t].get(to)
        const fromType = fromField?.type
        const toType = toField?.type
        const conform = needsConforming(fromField, toField) ? toField : undefined
        const sameText = !conform && sameCanonical(fromType, toType)
        return { from, to, fromType, toType, conform, sameText }
      })
    }
    this.direct = [direct(0), direct(1)]
    const conformed = (s: Side) => {
      const t = (1 - s) as Side
      const out = new Map<FieldMapping, FieldInfo[]>()
      pair.mappings.forEach((m, i) => {
        const d = this.direct[s][i]
        // A transform's output has no source field to compare with: every target field is conformed.
        const targets = d
          ? d.conform
            ? [d.conform]
            : []
          : m.fields[t].flatMap((f) => fields[t].get(f) ?? [])
        if (targets.length > 0) out.set(m, targets)
      })
      return out
    }
    this.#conformed = [conformed(0), conformed(1)]
    const alike = (s: Side) => this.direct[s].every((d) => d?.sameText === true)
    const outTemplate = (s: Side): Readonly<Record<string, Value>> | undefined => {
      if (!alike(s)) return undefined
      const template: Record<string, Value> = {}
      for (const d of this.direct[s]) template[d!.to] = null
      const externalId = pair.sides[(1 - s) as Side].externalId
      if (externalId) template[externalId] = null
      return template
    }
    this.outTemplates = [outTemplate(0), outTemplate(1)]
  }

  /** The fingerprint of a mapping's fields in a side's values. */
  fp(side: Side, values: FieldValues, m: FieldMapping): Fingerprint {
    return this.#fingerprinters[side].get(m)!(values)
  }

  /** Whether every mapping of a side's values has the fingerprint the base holds. */
  sameAsBase(s: Side, values: FieldValues, base: Base): boolean {
    for (const m of this.pair.mappings) {
      if (this.fp(s, values, m) !== base[m.id]) return false
    }
    return true
  }

  /**
   * A mapping's values from side `from` for the other side, in the form it stores them (see
   * conformValue): synchronously unless a transform is asynchronous.
   */
  convert(from: Side, m: FieldMapping, values: FieldValues): FieldValues | Promise<FieldValues> {
    const out = m.convert(from, values)
    const fields = this.#conformed[from].get(m)
    if (!fields) return out
    return out instanceof Promise ? out.then((o) => conformAll(o, fields)) : conformAll(out, fields)
  }

  /**
   * A record's values converted by every mapping but the plain renames (left undefined), in
   * mapping order: synchronously unless a transform is asynchronous (JSONata).
   */
  convertAll(
    s: Side,
    values: FieldValues,
  ): (FieldValues | undefined)[] | Promise<(FieldValues | undefined)[]> {
    const { mappings } = this.pair
    const direct = this.direct[s]
    const out: (FieldValues | Promise<FieldValues> | undefined)[] = new Array(mappings.length)
    let pending = false
    for (let i = 0; i < mappings.length; i++) {
      if (direct[i]) continue
      const converted = this.convert(s, mappings[i]!, values)
      if (converted instanceof Promise) pending = true
      out[i] = converted
    }
    return pending ? Promise.all(out) : (out as (FieldValues | undefined)[])
  }

  /** The fields a pass reads: mapped fields, the cursor, and the external-ID field. */
  readFields(s: Side): string[] {
    const out = new Set<string>()
    for (const m of this.pair.mappings) for (const f of m.fields[s]) out.add(f)
    const side = this.pair.sides[s]
    if (side.cursor) out.add(side.cursor)
    if (side.externalId) out.add(side.externalId)
    return [...out]
  }

  /** The fields of side `s` that the pair's mappings use. */
  mappedFields(s: Side): string[] {
    return [...new Set(this.pair.mappings.flatMap((m) => m.fields[s]))]
  }
}

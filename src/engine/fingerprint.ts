import { createHash } from 'node:crypto'
import {
  canonicalJsonNumber,
  type FieldInfo,
  type FieldType,
  isJsonNumber,
  type Value,
} from '../sdk/index.ts'

/**
 * A fingerprint is the canonical text of a mapping's values, used as the base state of a
 * link and compared field by field. Short values are kept as they are (readable in the
 * store, usable for diagnosis); long ones are replaced by a hash, so a link's base stays
 * small whatever the record holds.
 */
export type Fingerprint = string

const LONG = 64
const TIME = /^\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?$/

/**
 * Canonical text of one value, so values that mean the same compare equal however the
 * system returned them: `1.50` and `1.5` as decimals, `5` and `5n` as integers, JSON with
 * its keys in any order.
 */
export function canonical(value: Value | undefined, type?: FieldType): string {
  if (value === undefined || value === null) return '∅'
  if (value instanceof Uint8Array) return `x${Buffer.from(value).toString('hex')}`
  if (typeof value === 'bigint') return `n${value.toString()}`
  if (typeof value === 'number') return `n${numberText(value)}`
  if (typeof value === 'boolean') return value ? 'T' : 'F'
  if (typeof value === 'string') {
    if (isNumeric(type) && /^-?\d+(\.\d+)?$/.test(value)) {
      return `n${decimalText(value)}`
    }
    // `12:00:00` and `12:00:00.000000` are one time of day; systems print either.
    if (type === 'time' && TIME.test(value))
      return `s${value.slice(0, 8)}.${(value.slice(9) || '').padEnd(6, '0')}`
    return `s${value}`
  }
  return `j${stableJson(value)}`
}

function numberText(n: number): string {
  return Number.isInteger(n) ? n.toFixed(0) : decimalText(String(n))
}

/** A decimal already in canonical form: no leading or trailing zeros, no `-0`. */
const CANONICAL_DECIMAL = /^-?(?:0|[1-9]\d*)(?:\.\d*[1-9])?$/

function decimalText(text: string): string {
  // Most values a database prints are canonical already (`379.25`): no splitting for them.
  if (CANONICAL_DECIMAL.test(text) && text !== '-0') return text
  if (/e/i.test(text)) return String(Number(text))
  let [int, frac = ''] = text.split('.') as [string, string?]
  frac = frac.replace(/0+$/, '')
  const negative = int.startsWith('-')
  int = int.replace(/^-?0*/, '') || '0'
  const out = frac ? `${int}.${frac}` : int
  return negative && out !== '0' ? `-${out}` : out
}

function stableJson(value: unknown): string {
  // Numbers by value, however they were written (`1.50`, `1.5e0`) or held (exact text).
  if (typeof value === 'number') return canonicalJsonNumber(String(value))
  if (typeof value === 'bigint') return value.toString()
  if (value === null || typeof value !== 'object') return JSON.stringify(value)
  if (isJsonNumber(value)) return canonicalJsonNumber(value.rawJSON)
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`
  const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
    a < b ? -1 : a > b ? 1 : 0,
  )
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`
}

/** The fingerprint of the values of some fields. */
export function fingerprint(
  values: Readonly<Record<string, Value>>,
  fields: readonly string[],
  types?: ReadonlyMap<string, FieldInfo>,
): Fingerprint {
  if (fields.length === 1) return fingerprintOf(values[fields[0]!], types?.get(fields[0]!)?.type)
  return short(JSON.stringify(fields.map((f) => canonical(values[f], types?.get(f)?.type))))
}

/** The fingerprint of one field's value: what {@link fingerprint} gives for one field. */
export function fingerprintOf(value: Value | undefined, type?: FieldType): Fingerprint {
  return short(canonical(value, type))
}

/**
 * Whether a value's fingerprint is `s` followed by the value itself: a string of a field that
 * is not a number, short enough to be kept as it is.
 */
export function isPlainText(value: Value | undefined, type?: FieldType): value is string {
  return typeof value === 'string' && !isNumeric(type) && type !== 'time' && value.length < LONG
}

/** Whether a value has the same canonical text as a field of either type (see {@link canonical}). */
export function sameCanonical(a?: FieldType, b?: FieldType): boolean {
  return isNumeric(a) === isNumeric(b) && (a === 'time') === (b === 'time')
}

function isNumeric(type?: FieldType): boolean {
  return type === 'decimal' || type === 'integer' || type === 'float'
}

function short(text: string): Fingerprint {
  return text.length <= LONG ? text : `#${createHash('sha1').update(text).digest('base64url')}`
}

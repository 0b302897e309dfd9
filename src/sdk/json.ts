import type { JsonNumber, JsonValue } from './values.ts'

/**
 * JSON that never passes a number through a double. A number a double cannot hold exactly
 * (`12345678901234567890`, `1.000000000000000000001`, `1e400`) is read as a
 * {@link JsonNumber} — Node's `JSON.rawJSON` — which `JSON.stringify` writes back digit for
 * digit; every other number stays a plain `number`. Bridges read and write JSON columns
 * through these two functions, so a document crosses systems unchanged.
 */

interface RawJsonApi {
  rawJSON(text: string): JsonNumber
  isRawJSON(value: unknown): value is JsonNumber
}

/** Node ≥ 21 has them (V8's JSON.parse source text access); TypeScript's lib does not list them yet. */
const raw = JSON as unknown as RawJsonApi

/** Parses JSON text; numbers that a double would change are kept as {@link JsonNumber}s. */
export function parseJson(text: string): JsonValue {
  return JSON.parse(text, keepExactNumbers) as JsonValue
}

/** JSON text of a value; bigints (a value model integer inside a document) as exact numbers. */
export function stringifyJson(value: unknown): string {
  return JSON.stringify(value, exactBigints)
}

/** Whether a value is a number kept as its JSON text (see {@link parseJson}). */
export function isJsonNumber(value: unknown): value is JsonNumber {
  return raw.isRawJSON(value)
}

/** A JSON number from its text, written back as it is by `JSON.stringify`. */
export function jsonNumber(text: string): JsonNumber {
  return raw.rawJSON(text)
}

function keepExactNumbers(
  this: unknown,
  _key: string,
  value: unknown,
  context?: { source?: string },
): unknown {
  if (typeof value !== 'number' || context?.source === undefined) return value
  return exact(value, context.source) ? value : raw.rawJSON(context.source)
}

/** Whether the double `n` is exactly the number the JSON text `source` writes. */
function exact(n: number, source: string): boolean {
  if (!Number.isFinite(n)) return false
  // Most numbers print as they were written: no further work for them.
  if (String(n) === source) return true
  if (!/[.eE]/.test(source)) return Number.isSafeInteger(n)
  // `1.50`, `1.5e3`: the same value written otherwise. Compare the exact decimal digits.
  return sameDecimal(decimalDigits(source), decimalDigits(String(n)))
}

/** A JSON number's value as [sign, digits without leading/trailing zeros, exponent of the first digit]. */
function decimalDigits(text: string): [boolean, string, number] {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(text)
  if (!m) return [false, text, 0]
  const [, sign, int, frac = '', exp = '0'] = m as unknown as [
    string,
    string,
    string,
    string?,
    string?,
  ]
  const all = `${int}${frac}`
  const lead = all.length - all.replace(/^0+/, '').length
  const digits = all.slice(lead).replace(/0+$/, '')
  return [sign === '-' && digits !== '', digits, int.length - lead + Number(exp)]
}

function sameDecimal(a: [boolean, string, number], b: [boolean, string, number]): boolean {
  if (a[1] === '' || b[1] === '') return a[1] === b[1]
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2]
}

function exactBigints(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? raw.rawJSON(value.toString()) : value
}

/**
 * The canonical decimal text of a JSON number (`1.50` → `1.5`, `1e3` → `1000`), so equal
 * numbers compare equal whichever way a system wrote them. Exponents far from zero are kept
 * in exponent form rather than expanded.
 */
export function canonicalJsonNumber(text: string): string {
  const [negative, digits, exp] = decimalDigits(text)
  if (digits === '') return '0'
  const sign = negative ? '-' : ''
  if (exp > 40 || exp < -40)
    return `${sign}${digits[0]}${digits.length > 1 ? `.${digits.slice(1)}` : ''}e${exp - 1}`
  if (exp <= 0) return `${sign}0.${'0'.repeat(-exp)}${digits}`
  if (exp >= digits.length) return `${sign}${digits}${'0'.repeat(exp - digits.length)}`
  return `${sign}${digits.slice(0, exp)}.${digits.slice(exp)}`
}

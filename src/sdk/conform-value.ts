import { stringifyJson } from './json.ts'
import type { FieldInfo } from './record-type.ts'
import type { Value } from './values.ts'

/**
 * A value in the form a field of another type stores it: what a system hands back after
 * it stored the value there. The engine writes values in this form and keeps it as the base,
 * so the next read compares equal and nothing is written back (an echo loop otherwise:
 * `…00.500000Z` written into a timestamp without zone reads back as `…00.500000`).
 *
 * - into `timestamp`: an instant's `Z` goes (sessions run in UTC); a date gets midnight;
 * - into `timestamptz`: a wall-clock time is taken as UTC; a date gets midnight UTC;
 * - into `timestamp`, `timestamptz`, `time` with fewer fractional digits: rounded half up;
 * - into `decimal` with a scale: rounded half away from zero to it; a number becomes text;
 * - into `float`: decimal text becomes a number;
 * - into `string`: numbers as their text, JSON documents as JSON text;
 * - into `uuid`: lower case.
 *
 * Anything else is returned as it is, for the system to take or refuse.
 */
export function conformValue(value: Value | undefined, field: FieldInfo): Value {
  if (value === undefined || value === null) return null
  switch (field.type) {
    case 'timestamp':
    case 'timestamptz':
      return typeof value === 'string' ? conformTimestamp(value, field) : value
    case 'time':
      return typeof value === 'string' ? conformTime(value, field.scale ?? 6) : value
    case 'decimal':
      return conformDecimal(value, field.scale)
    case 'float':
      return typeof value === 'string' && DECIMAL.test(value) ? Number(value) : value
    case 'string':
      if (typeof value === 'number' || typeof value === 'bigint') return String(value)
      if (typeof value === 'object' && !(value instanceof Uint8Array)) return stringifyJson(value)
      return value
    case 'uuid':
      return typeof value === 'string' ? value.toLowerCase() : value
    default:
      return value
  }
}

/**
 * Whether {@link conformValue} may change a value of field `from` written into field `to`;
 * when not, the engine skips it on the hot path.
 */
export function needsConforming(from: FieldInfo | undefined, to: FieldInfo | undefined): boolean {
  if (!from || !to) return false
  if (from.type !== to.type) return to.type !== 'other' && to.type !== 'binary'
  switch (to.type) {
    case 'decimal':
    case 'timestamp':
    case 'timestamptz':
    case 'time':
      // Fewer digits on the target, or digits unknown on the source: rounding may apply.
      return to.scale !== undefined && (from.scale === undefined || from.scale > to.scale)
    default:
      return false
  }
}

const DECIMAL = /^-?\d+(?:\.\d+)?$/
const TIMESTAMP =
  /^(\d{4,}-\d{2}-\d{2})(?:[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?$/

function conformTimestamp(text: string, field: FieldInfo): string {
  const m = TIMESTAMP.exec(text)
  if (!m) return text
  const [, date, hh = '00', mi = '00', ss = '00', frac = '', zone] = m
  let micros =
    BigInt(Date.UTC(...ymd(date!), Number(hh), Number(mi), Number(ss))) * 1000n +
    BigInt(frac.padEnd(6, '0').slice(0, 6))
  if (frac.length > 6 && Number(frac[6]) >= 5) micros += 1n
  if (zone && zone !== 'Z') {
    const sign = zone[0] === '-' ? -1n : 1n
    const digits = zone.slice(1).replace(':', '')
    micros -=
      sign * (BigInt(Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000_000n)
  }
  const scale = Math.min(field.scale ?? 6, 6)
  const unit = 10n ** BigInt(6 - scale)
  micros = ((micros + unit / 2n) / unit) * unit
  const ms = Number(micros / 1000n)
  const iso = new Date(ms).toISOString().slice(0, 19)
  const sub = String(micros % 1_000_000n).padStart(6, '0')
  return `${iso}.${sub}${field.type === 'timestamptz' ? 'Z' : ''}`
}

function ymd(date: string): [number, number, number] {
  const [y, mo, d] = date.split('-').map(Number) as [number, number, number]
  return [y, mo - 1, d]
}

function conformTime(text: string, scale: number): string {
  const m = /^(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?$/.exec(text)
  if (!m) return text
  const [, hh, mi, ss, frac = ''] = m
  const unit = 10 ** (6 - Math.min(scale, 6))
  let micros =
    ((Number(hh) * 60 + Number(mi)) * 60 + Number(ss)) * 1_000_000 +
    Number(frac.padEnd(6, '0').slice(0, 6))
  micros = Math.round(micros / unit) * unit
  // A time of day that rounds up past midnight stays at its last moment.
  if (micros >= 86_400_000_000) micros = 86_400_000_000 - unit
  const seconds = Math.floor(micros / 1_000_000)
  const two = (n: number) => String(n).padStart(2, '0')
  const base = `${two(Math.floor(seconds / 3600))}:${two(Math.floor(seconds / 60) % 60)}:${two(seconds % 60)}`
  return `${base}.${String(micros % 1_000_000).padStart(6, '0')}`
}

function conformDecimal(value: Value, scale: number | undefined): Value {
  let text: string
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return value
    text = plainNumber(value)
  } else if (typeof value === 'bigint') text = value.toString()
  else if (typeof value === 'string' && DECIMAL.test(value)) text = value
  else return value
  return scale === undefined ? text : roundDecimal(text, scale)
}

/** A double in plain decimal notation (no exponent). */
function plainNumber(n: number): string {
  const text = String(n)
  if (!/e/i.test(text)) return text
  if (Number.isInteger(n)) return BigInt(n).toString()
  return n
    .toFixed(Math.min(100, Math.max(0, -Math.floor(Math.log10(Math.abs(n))) + 20)))
    .replace(/\.?0+$/, '')
}

/** Rounds decimal text half away from zero to `scale` digits, as SQL's DECIMAL(p, s) does. */
export function roundDecimal(text: string, scale: number): string {
  const negative = text.startsWith('-')
  const [int = '0', frac = ''] = (negative ? text.slice(1) : text).split('.')
  if (frac.length <= scale) return text
  let digits = `${int}${frac.slice(0, scale)}`
  if (Number(frac[scale]) >= 5) {
    // Add one in the last place, carrying through nines.
    const chars = digits.split('')
    let i = chars.length - 1
    while (i >= 0 && chars[i] === '9') chars[i--] = '0'
    if (i >= 0) chars[i] = String(Number(chars[i]) + 1)
    else chars.unshift('1')
    digits = chars.join('')
  }
  const cut = digits.length - scale
  const whole = digits.slice(0, cut).replace(/^0+(?=\d)/, '') || '0'
  const out = scale > 0 ? `${whole}.${digits.slice(cut)}` : whole
  return negative && /[1-9]/.test(out) ? `-${out}` : out
}

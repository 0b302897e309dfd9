/**
 * Value conversion between SQLite's storage classes and the canonical value model of
 * src/sdk/values.ts. SQLite stores what it is given (type affinity only nudges), so writes
 * validate against the discovered field type, and reads turn what is stored into the
 * canonical form; a value another program stored in a shape the field type cannot express
 * comes back unchanged rather than failing the whole read.
 */
import {
  type CheckpointValue,
  type FieldType,
  OpenSyncError,
  parseJson,
  stringifyJson,
  type Value,
} from '../../sdk/index.ts'
import { formatMicros } from '../shared/lag-window.ts'

/** Converts the values of one field, both ways. */
export interface FieldCodec {
  /** A stored value, as better-sqlite3 returns it with safe integers on, to a canonical value. */
  read(stored: unknown): Value
  /** A canonical value to a bound parameter; throws `OSY_WRONG_TYPE` when the field cannot hold it. */
  write(value: Value): unknown
  /**
   * A key part (text, see `encodeKey`) or a checkpoint value to a parameter that compares
   * equal to the stored value. Never throws: a value no row can have simply matches nothing.
   */
  param(value: CheckpointValue): unknown
}

/** What a codec needs to know about its field. */
export interface CodecField {
  readonly name: string
  readonly type: FieldType
  /** Digits after the point of a `DECIMAL(p,s)`; decimals read back with exactly this many. */
  readonly scale?: number
}

const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER)
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)
const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n
/** A double holds any decimal of up to 15 significant digits exactly enough to print it back. */
const REAL_DIGITS = 15

const INTEGER_TEXT = /^[+-]?\d+$/
const SHORT_DECIMAL = /^-?\d+(\.\d+)?$/
const DECIMAL_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/
const DATE_TEXT = /^(\d{4})-(\d{2})-(\d{2})$/
const TIME_TEXT = /^(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?$/
const TIMESTAMP_TEXT =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)? ?(Z|[+-]\d{2}(?::?\d{2})?)?$/i
const CANONICAL_TIMESTAMPTZ = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/
const CANONICAL_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$/
const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const LAST_MICROS = 253_402_300_799_999_999n // 9999-12-31T23:59:59.999999

/** The codec of one field of a record type. */
export function codecFor(field: CodecField, recordType: string): FieldCodec {
  const wrong = (what: string, value: Value): never => {
    throw new OpenSyncError(
      'OSY_WRONG_TYPE',
      `field "${field.name}" of "${recordType}" expects ${what}, got ${describe(value)}`,
      { details: { recordType, field: field.name } },
    )
  }
  switch (field.type) {
    case 'integer':
      return {
        read: (s) => (typeof s === 'bigint' ? integer(s) : loose(s)),
        write: (v) => {
          if (v === null) return null
          if (typeof v === 'number' && Number.isInteger(v) && Math.abs(v) < 2 ** 63) return v
          if (typeof v === 'bigint' && v >= INT64_MIN && v <= INT64_MAX) return v
          if (typeof v === 'string' && INTEGER_TEXT.test(v)) {
            const n = BigInt(v)
            if (n >= INT64_MIN && n <= INT64_MAX) return n
          }
          return wrong('a 64-bit integer', v)
        },
        param: (v) => {
          if (typeof v !== 'string' || !INTEGER_TEXT.test(v)) return bool01(v)
          const n = BigInt(v)
          return n >= INT64_MIN && n <= INT64_MAX ? n : v
        },
      }
    case 'decimal':
      return {
        read: (s) => readDecimal(s, field.scale),
        write: (v) => {
          if (v === null) return null
          // The common case, cheaply: at most 15 digits and no more places than the scale.
          if (typeof v === 'string' && v.length <= 15 && SHORT_DECIMAL.test(v)) {
            const point = v.indexOf('.')
            if (point < 0 || field.scale === undefined || v.length - point - 1 <= field.scale)
              return Number(v)
          }
          const text =
            typeof v === 'number' && Number.isFinite(v)
              ? plainDecimal(String(v))
              : typeof v === 'bigint'
                ? v.toString()
                : typeof v === 'string' && DECIMAL_TEXT.test(v)
                  ? plainDecimal(v)
                  : wrong('a decimal number', v)
          const exact = field.scale === undefined ? text : withScale(text, field.scale)
          // SQLite's NUMERIC affinity keeps integers exact up to 64 bits and everything
          // else as a double; refuse what a double would round rather than change it.
          if (!exact.includes('.') || /\.0*$/.test(exact)) {
            const n = BigInt(exact.replace(/\.0*$/, ''))
            if (n >= INT64_MIN && n <= INT64_MAX) return n
          }
          if (significantDigits(exact) > REAL_DIGITS) {
            return wrong(
              `at most ${REAL_DIGITS} significant digits (SQLite stores a DECIMAL as a double; declare the column TEXT to keep more)`,
              v,
            )
          }
          return Number(exact)
        },
        param: (v) => v,
      }
    case 'float':
      return {
        read: (s) => (typeof s === 'bigint' ? Number(s) : loose(s)),
        write: (v) => {
          if (v === null) return null
          if (typeof v === 'number') return v
          if (typeof v === 'bigint') return Number(v)
          if (typeof v === 'string' && DECIMAL_TEXT.test(v)) return Number(v)
          return wrong('a number', v)
        },
        param: (v) => (typeof v === 'string' && DECIMAL_TEXT.test(v) ? Number(v) : v),
      }
    case 'boolean':
      return {
        read: (s) => {
          if (typeof s === 'bigint') return s !== 0n
          if (typeof s === 'number') return s !== 0
          if (s === 'true' || s === 't') return true
          if (s === 'false' || s === 'f') return false
          return loose(s)
        },
        write: (v) => {
          if (v === null) return null
          const n = bool01(v)
          return n === 0 || n === 1 ? n : wrong('true or false', v)
        },
        param: bool01,
      }
    case 'date':
      return {
        read: loose,
        write: (v) => {
          if (v === null) return null
          const m = typeof v === 'string' ? DATE_TEXT.exec(v) : null
          if (m && utcMillis(+m[1]!, +m[2]!, +m[3]!, 0, 0, 0) !== undefined) return v
          return wrong('a date (YYYY-MM-DD)', v)
        },
        param: (v) => v,
      }
    case 'time':
      return {
        read: loose,
        write: (v) => {
          if (v === null) return null
          const t = typeof v === 'string' ? canonicalTime(v) : undefined
          return t ?? wrong('a time of day (HH:MM:SS[.ffffff])', v)
        },
        param: (v) => v,
      }
    case 'timestamp':
    case 'timestamptz': {
      const zoned = field.type === 'timestamptz'
      const canonical = zoned ? CANONICAL_TIMESTAMPTZ : CANONICAL_TIMESTAMP
      const normalise = (text: string) =>
        canonical.test(text) ? text : canonicalTimestamp(text, zoned)
      const what = zoned
        ? 'an instant (YYYY-MM-DDTHH:MM:SS.ffffffZ)'
        : 'a timestamp (YYYY-MM-DDTHH:MM:SS.ffffff)'
      return {
        read: (s) => (typeof s === 'string' ? (normalise(s) ?? s) : loose(s)),
        // Stored as canonical text, so text order is time order and cursors compare right.
        write: (v) =>
          v === null ? null : (typeof v === 'string' && normalise(v)) || wrong(what, v),
        param: (v) => (typeof v === 'string' ? (normalise(v) ?? v) : v),
      }
    }
    case 'binary':
      return {
        read: (s) => (typeof s === 'string' ? new Uint8Array(Buffer.from(s)) : loose(s)),
        write: (v) => {
          if (v === null) return null
          if (v instanceof Uint8Array)
            return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength)
          return wrong('bytes (Uint8Array)', v)
        },
        // Keys carry bytes as hex (see encodeKey).
        param: (v) => (typeof v === 'string' ? Buffer.from(v, 'hex') : v),
      }
    case 'json':
      return {
        read: (s) => {
          if (typeof s === 'string') {
            try {
              return parseJson(s)
            } catch {
              return s
            }
          }
          // JSON's NUMERIC affinity stores a bare number document as a number.
          return typeof s === 'bigint' ? integer(s) : loose(s)
        },
        write: (v) => {
          if (v === null) return null
          if (v instanceof Uint8Array || typeof v === 'bigint') return wrong('a JSON document', v)
          try {
            return stringifyJson(v)
          } catch {
            return wrong('a JSON document', v)
          }
        },
        param: (v) => v,
      }
    case 'uuid':
      return {
        read: (s) => (Buffer.isBuffer(s) && s.length === 16 ? uuidText(s) : loose(s)),
        write: (v) => {
          if (v === null) return null
          if (typeof v === 'string' && UUID_TEXT.test(v)) return v.toLowerCase()
          return wrong('a UUID', v)
        },
        param: (v) => (typeof v === 'string' ? v.toLowerCase() : v),
      }
    case 'string':
      return {
        read: (s) =>
          typeof s === 'string'
            ? s
            : typeof s === 'bigint' || typeof s === 'number'
              ? String(s)
              : loose(s),
        write: (v) => {
          if (v === null || typeof v === 'string') return v
          if (typeof v === 'number' || typeof v === 'bigint') return String(v)
          return wrong('text', v)
        },
        param: (v) => v,
      }
    default:
      return { read: loose, write: writeLoose, param: (v) => v }
  }
}

/** A stored value without a field type to guide it: integers, bytes and text as they are. */
function loose(stored: unknown): Value {
  if (stored === null || stored === undefined) return null
  if (typeof stored === 'bigint') return integer(stored)
  if (Buffer.isBuffer(stored))
    return new Uint8Array(stored.buffer, stored.byteOffset, stored.length)
  return stored as Value
}

function writeLoose(value: Value): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'number') return value
  if (typeof value === 'bigint') return value
  if (typeof value === 'boolean') return value ? 1 : 0
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.length)
  return stringifyJson(value)
}

function integer(n: bigint): number | bigint {
  return n >= MIN_SAFE && n <= MAX_SAFE ? Number(n) : n
}

/** Booleans as SQLite stores them; anything else unchanged. */
function bool01(value: CheckpointValue | Value): unknown {
  if (value === true || value === 'true' || value === 't' || value === '1') return 1
  if (value === false || value === 'false' || value === 'f' || value === '0') return 0
  if (value === 1n || value === 0n) return Number(value)
  return value
}

function describe(value: Value): string {
  if (value instanceof Uint8Array) return 'bytes'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') return value.length > 40 ? 'text' : JSON.stringify(value)
  if (typeof value === 'object') return 'an object'
  return `${typeof value} ${String(value)}`
}

function readDecimal(stored: unknown, scale: number | undefined): Value {
  let text: string
  if (typeof stored === 'bigint') text = stored.toString()
  // The shortest text that reads back as this double is the decimal that was written.
  else if (typeof stored === 'number' && Number.isFinite(stored)) {
    text = String(stored)
    if (text.includes('e')) text = plainDecimal(text)
  } else if (typeof stored === 'string' && DECIMAL_TEXT.test(stored)) text = plainDecimal(stored)
  else return loose(stored)
  return scale === undefined ? text : padScale(text, scale)
}

/** `withScale`, with a cheap path for the usual text that has no more places than the scale. */
function padScale(plain: string, scale: number): string {
  const point = plain.indexOf('.')
  const places = point < 0 ? 0 : plain.length - point - 1
  if (places > scale) return withScale(plain, scale)
  if (places === scale) return plain
  return (point < 0 ? `${plain}.` : plain) + '0'.repeat(scale - places)
}

/** Decimal text (maybe with an exponent) in plain notation: `1.5e3` → `1500`. */
export function plainDecimal(text: string): string {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text)
  if (!m) return text
  const digits = `${m[2] ?? ''}${m[3] ?? ''}`
  let point = (m[2] ?? '').length + Number(m[4] ?? 0)
  let all = digits
  if (point <= 0) {
    all = '0'.repeat(1 - point) + all
    point = 1
  }
  if (point > all.length) all += '0'.repeat(point - all.length)
  const whole = all.slice(0, point).replace(/^0+(?=\d)/, '')
  const fraction = all.slice(point)
  const out = fraction ? `${whole}.${fraction}` : whole
  return m[1] === '-' && /[1-9]/.test(out) ? `-${out}` : out
}

/** Plain decimal text rounded (half away from zero) or padded to exactly `scale` digits. */
export function withScale(plain: string, scale: number): string {
  const negative = plain.startsWith('-')
  const [whole = '0', fraction = ''] = (negative ? plain.slice(1) : plain).split('.')
  let out: string
  if (fraction.length <= scale) {
    out = scale > 0 ? `${whole}.${fraction.padEnd(scale, '0')}` : whole
  } else {
    const kept = BigInt(whole + fraction.slice(0, scale)) + (fraction[scale]! >= '5' ? 1n : 0n)
    const digits = kept.toString().padStart(scale + 1, '0')
    const cut = digits.length - scale
    out = scale > 0 ? `${digits.slice(0, cut)}.${digits.slice(cut)}` : digits
  }
  return negative && /[1-9]/.test(out) ? `-${out}` : out
}

/** Digits between the first and the last non-zero one: what a double must hold exactly. */
function significantDigits(plain: string): number {
  return plain.replace(/[-+.]/g, '').replace(/^0+/, '').replace(/0+$/, '').length
}

/** `HH:MM[:SS[.f…]]` as `HH:MM:SS[.ffffff]`, or undefined when it is not a time of day. */
function canonicalTime(text: string): string | undefined {
  const m = TIME_TEXT.exec(text)
  if (!m) return undefined
  const [h, min, s] = [+m[1]!, +m[2]!, +(m[3] ?? 0)]
  if (h > 23 || min > 59 || s > 59) return undefined
  const fraction = (m[4] ?? '').slice(0, 6).replace(/0+$/, '')
  return `${m[1]}:${m[2]}:${m[3] ?? '00'}${fraction ? `.${fraction.padEnd(6, '0')}` : ''}`
}

/**
 * A timestamp in any common ISO-like spelling (`T` or space, any fraction, `Z` or an
 * offset) as canonical text: in UTC with `Z` when zoned, as the wall clock when not (an
 * offset is then ignored, as PostgreSQL does). Text without an offset is read as UTC.
 */
export function canonicalTimestamp(text: string, zoned: boolean): string | undefined {
  const m = TIMESTAMP_TEXT.exec(text)
  if (!m) return undefined
  const ms = utcMillis(+m[1]!, +m[2]!, +m[3]!, +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0))
  if (ms === undefined) return undefined
  const digits = m[7] ?? ''
  let micros = BigInt(ms) * 1000n + BigInt(digits.slice(0, 6).padEnd(6, '0'))
  if (digits.length > 6 && digits[6]! >= '5') micros += 1n
  if (zoned && m[8] && m[8].toUpperCase() !== 'Z') {
    const [, sign, hh, mm] = /^([+-])(\d{2}):?(\d{2})?$/.exec(m[8])!
    const offset = BigInt(Number(hh) * 3600 + Number(mm ?? 0) * 60) * 1_000_000n
    micros += sign === '-' ? offset : -offset
  }
  if (micros < -62_167_219_200_000_000n || micros > LAST_MICROS) return undefined
  return formatMicros(micros) + (zoned ? 'Z' : '')
}

/** Milliseconds since the epoch of a UTC wall clock, or undefined for a date that does not exist. */
function utcMillis(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
): number | undefined {
  if (hour > 23 || minute > 59 || second > 59) return undefined
  // setUTCFullYear, unlike Date.UTC, does not move years 0–99 into the 1900s.
  const date = new Date(0)
  date.setUTCFullYear(year, month - 1, day)
  date.setUTCHours(hour, minute, second, 0)
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return undefined
  return date.getTime()
}

function uuidText(bytes: Buffer): string {
  const hex = bytes.toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

import {
  type FieldType,
  OpenSyncError,
  parseJson,
  stringifyJson,
  type Value,
} from '../../sdk/index.ts'

/**
 * One field's conversion between CSV text and the value model. A cell is text, or `null`
 * for the NULL marker (an unquoted empty field by default). Text stays text unless the
 * field's declared type says otherwise, so nothing is lost on the way through.
 */
export interface CellCodec {
  /** The value of a cell; throws {@link CellRejected} for text that is not of the type. */
  read(cell: string | null): Value
  /** The cell of a value; throws `OSY_WRONG_TYPE` for a value the type cannot hold. */
  write(value: Value): string | null
}

/**
 * Text a field's type refuses. The reason names the type, never the text: a message goes
 * to logs and protocols, and the text may be personal data.
 */
export class CellRejected extends Error {
  override readonly name = 'CellRejected'
}

const INTEGER = /^[+-]?\d+$/
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)$/
const FLOAT = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|Infinity)$|^NaN$/
const DATE = /^(\d{4})-(\d\d)-(\d\d)$/
const TIME = /^(\d\d):(\d\d)(?::(\d\d)(?:\.(\d{1,6}))?)?$/
const TIMESTAMP =
  /^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d)(?::(\d\d)(?:\.(\d{1,6}))?)?\s*(Z|[+-]\d\d(?::?\d\d)?)?$/i
const CANONICAL = [
  /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/,
  /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/,
]
const HEX = /^\\x((?:[0-9a-fA-F]{2})*)$/
const TRUE_WORDS = new Set(['true', 't', 'yes', 'y', '1'])
const FALSE_WORDS = new Set(['false', 'f', 'no', 'n', '0'])

/** The codec of a field type; `field` names the field in write errors. */
export function codecFor(type: FieldType, field: string): CellCodec {
  const wrong = (what: string): never => {
    throw new OpenSyncError('OSY_WRONG_TYPE', `field "${field}" takes ${what}`, {
      details: { field },
    })
  }
  /** Writes text after checking it reads back as the type: what is written reads back equal. */
  const viaText = (read: (text: string) => Value, what: string) => (value: Value) => {
    if (typeof value !== 'string') return wrong(what)
    try {
      return textOf(read(value))
    } catch (error) {
      if (error instanceof CellRejected) return wrong(what)
      throw error
    }
  }
  const orNull =
    (read: (text: string) => Value): CellCodec['read'] =>
    (cell) =>
      cell === null ? null : read(cell)
  switch (type) {
    case 'integer':
      return {
        read: orNull(readInteger),
        write: (v) => {
          if (v === null) return null
          if (typeof v === 'number' && Number.isInteger(v)) return String(v)
          if (typeof v === 'bigint') return v.toString()
          return viaText(readInteger, 'whole numbers')(v)
        },
      }
    case 'decimal':
      return {
        read: orNull(readDecimal),
        write: (v) => {
          if (v === null) return null
          if (typeof v === 'number' && Number.isFinite(v)) return plainNumber(v)
          if (typeof v === 'bigint') return v.toString()
          return viaText(readDecimal, 'decimal numbers')(v)
        },
      }
    case 'float':
      return {
        read: orNull(readFloat),
        write: (v) => {
          if (v === null) return null
          if (typeof v === 'number') return String(v)
          if (typeof v === 'bigint') return v.toString()
          return viaText((t) => {
            readFloat(t)
            return t
          }, 'numbers')(v)
        },
      }
    case 'boolean':
      return {
        read: orNull(readBoolean),
        write: (v) => {
          if (v === null) return null
          if (typeof v === 'boolean') return v ? 'true' : 'false'
          if (v === 0 || v === 1) return v === 1 ? 'true' : 'false'
          return viaText(readBoolean, 'true or false')(v)
        },
      }
    case 'date':
      return { read: orNull(readDate), write: nullOr(viaText(readDate, 'dates (YYYY-MM-DD)')) }
    case 'time':
      return { read: orNull(readTime), write: nullOr(viaText(readTime, 'times (HH:MM:SS)')) }
    case 'timestamp':
      return {
        read: orNull((t) => readTimestamp(t, false)),
        write: nullOr(viaText((t) => readTimestamp(t, false), 'timestamps')),
      }
    case 'timestamptz':
      return {
        read: orNull((t) => readTimestamp(t, true)),
        write: nullOr(viaText((t) => readTimestamp(t, true), 'timestamps')),
      }
    case 'binary':
      return {
        read: orNull(readBinary),
        write: (v) => {
          if (v === null) return null
          if (v instanceof Uint8Array) return `\\x${Buffer.from(v).toString('hex')}`
          return viaText(readBinary, 'binary data (\\x followed by hex digits)')(v)
        },
      }
    case 'json':
      return {
        read: orNull(readJson),
        write: (v) => (v === null ? null : stringifyJson(v)),
      }
    default:
      // string, uuid, other: the text as it is; other values in their usual text form.
      return { read: (cell) => cell, write: (v) => (v === null ? null : textOf(v)) }
  }
}

function nullOr(write: (value: Value) => string | null): CellCodec['write'] {
  return (value) => (value === null ? null : write(value))
}

/** The text form of any value (what a text field stores). */
export function textOf(value: Value): string {
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'bigint') return String(value)
  if (typeof value === 'boolean') return value ? 'true' : 'false'
  if (value instanceof Uint8Array) return `\\x${Buffer.from(value).toString('hex')}`
  return stringifyJson(value)
}

function readInteger(text: string): number | bigint {
  if (!INTEGER.test(text)) throw new CellRejected('not a whole number')
  const n = Number(text)
  return Number.isSafeInteger(n) ? n : BigInt(text)
}

function readDecimal(text: string): string {
  if (!DECIMAL.test(text)) throw new CellRejected('not a decimal number')
  return text
}

function readFloat(text: string): number {
  if (!FLOAT.test(text)) throw new CellRejected('not a number')
  return Number(text)
}

function readBoolean(text: string): boolean {
  const word = text.toLowerCase()
  if (TRUE_WORDS.has(word)) return true
  if (FALSE_WORDS.has(word)) return false
  throw new CellRejected('not true or false')
}

function readDate(text: string): string {
  const m = DATE.exec(text)
  if (!m || !validDay(Number(m[1]), Number(m[2]), Number(m[3])))
    throw new CellRejected('not a date (YYYY-MM-DD)')
  return text
}

function readTime(text: string): string {
  const m = TIME.exec(text)
  if (!m || Number(m[1]) > 23 || Number(m[2]) > 59 || Number(m[3] ?? 0) > 59)
    throw new CellRejected('not a time (HH:MM:SS)')
  return `${m[1]}:${m[2]}:${m[3] ?? '00'}${m[4] ? `.${m[4]}` : ''}`
}

/**
 * A timestamp in the value model's form: six fractional digits, `T` between date and time.
 * With `zoned`, the instant in UTC with `Z` (text without an offset is taken as UTC);
 * without, the wall-clock time (text with an offset is refused: it names an instant).
 */
export function readTimestamp(text: string, zoned: boolean): string {
  // Text already in the value model's form (what this bridge writes) needs no rework.
  if (text.length === (zoned ? 27 : 26) && CANONICAL[zoned ? 1 : 0]!.test(text)) {
    const [y, mo, d, h, mi, s] = [0, 5, 8, 11, 14, 17].map((at) =>
      Number(text.slice(at, at + (at === 0 ? 4 : 2))),
    )
    if (validDay(y!, mo!, d!) && h! <= 23 && mi! <= 59 && s! <= 59) return text
  }
  const m = TIMESTAMP.exec(text)
  if (!m) throw new CellRejected('not a timestamp (YYYY-MM-DD HH:MM:SS)')
  const [, y, mo, d, h, mi, s = '00', frac = '', zone] = m as unknown as string[]
  const year = Number(y)
  if (!validDay(year, Number(mo), Number(d)) || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59)
    throw new CellRejected('not a timestamp (YYYY-MM-DD HH:MM:SS)')
  const micros = frac.padEnd(6, '0')
  if (!zoned) {
    if (zone) throw new CellRejected('a timestamp with a time zone, for a field without one')
    return `${y}-${mo}-${d}T${h}:${mi}:${s}.${micros}`
  }
  let offset = 0
  if (zone && zone.toUpperCase() !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1
    const digits = zone.slice(1).replace(':', '')
    offset = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || 0))
  }
  if (offset === 0) return `${y}-${mo}-${d}T${h}:${mi}:${s}.${micros}Z`
  const ms = Date.UTC(year, Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s))
  const utc = new Date(ms - offset * 60_000)
  if (utc.getUTCFullYear() < 1 || utc.getUTCFullYear() > 9999)
    throw new CellRejected('a timestamp outside the years 1–9999')
  return `${utc.toISOString().slice(0, 19)}.${micros}Z`
}

function readBinary(text: string): Uint8Array {
  const m = HEX.exec(text)
  if (!m) throw new CellRejected('not binary data (\\x followed by hex digits)')
  return new Uint8Array(Buffer.from(m[1]!, 'hex'))
}

function readJson(text: string): Value {
  try {
    return parseJson(text)
  } catch {
    throw new CellRejected('not a JSON document')
  }
}

function validDay(year: number, month: number, day: number): boolean {
  if (year < 1 || month < 1 || month > 12 || day < 1) return false
  const days = new Date(Date.UTC(2000, month, 0)).getUTCDate()
  const leap = month === 2 && !(year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0))
  return day <= (leap ? 28 : days)
}

/** A double's exact shortest text without an exponent (`1e-7` → `0.0000001`). */
function plainNumber(n: number): string {
  const text = String(n)
  if (!/e/i.test(text)) return text
  return n.toLocaleString('en-US', { useGrouping: false, maximumFractionDigits: 100 })
}

import {
  type FieldInfo,
  type FieldType,
  type FilterExpr,
  parseJson,
  stringifyJson,
  type Value,
} from '../../sdk/index.ts'
import { formatMicros } from '../shared/lag-window.ts'

/**
 * Value conversion between the canonical model (src/sdk/values.ts) and what `mysql2` reads
 * and binds. The pool runs with `dateStrings`, `supportBigNumbers` + `bigNumberStrings` and
 * `jsonStrings`, so dates, BIGINT, DECIMAL and JSON arrive as exact text and nothing is
 * lost on the way in; the session time zone is UTC, so TIMESTAMP text is UTC.
 */

const COMPARISONS: ReadonlySet<string> = new Set(['=', '<>', '<', '<=', '>', '>='])
const DECIMAL_TEXT = /^-?\d+(?:\.\d+)?$/
const INTEGER_TEXT = /^-?\d+$/

/**
 * A number in plain decimal notation, written into the statement as is. MySQL compares an
 * integer or DECIMAL column with a *string* as doubles, so a key or cursor beyond 2^53 (or
 * a long decimal) bound as text could match its neighbour; as a literal it compares
 * exactly. Made only from text that matched {@link DECIMAL_TEXT}.
 */
export class NumberLiteral {
  readonly #text: string
  constructor(text: string) {
    if (!DECIMAL_TEXT.test(text)) throw new TypeError(`not a plain decimal number: ${text}`)
    this.#text = text
  }
  /** How `mysql2` writes the value into the statement. */
  toSqlString(): string {
    return this.#text
  }
}

/**
 * A parameter as the driver binds it. Never a plain object, which `mysql2` would expand
 * into `key = value` pairs; bigints are written as exact integer literals.
 */
export type DriverValue = null | string | number | bigint | Buffer | NumberLiteral

/** Converts one column value read by the driver into the canonical value. */
export type ValueReader = (value: unknown) => Value

/** Maps a column's `DATA_TYPE` and `COLUMN_TYPE` to its portable type. */
export function fieldTypeOf(dataType: string, columnType: string, isJson: boolean): FieldType {
  const type = dataType.toLowerCase()
  const full = columnType.toLowerCase()
  if (isJson) return 'json'
  switch (type) {
    case 'tinyint':
      // MySQL's BOOLEAN is TINYINT(1); 8.0.19+ still shows the width for exactly this case.
      return full.startsWith('tinyint(1)') ? 'boolean' : 'integer'
    case 'bit':
      return full === 'bit(1)' ? 'boolean' : 'integer'
    case 'smallint':
    case 'mediumint':
    case 'int':
    case 'integer':
    case 'bigint':
    case 'year':
      return 'integer'
    case 'decimal':
    case 'numeric':
      return 'decimal'
    case 'float':
    case 'double':
    case 'real':
      return 'float'
    case 'date':
      return 'date'
    case 'time':
      return 'time'
    case 'datetime':
      return 'timestamp'
    case 'timestamp':
      // TIMESTAMP stores an instant (converted from and to the session zone), DATETIME a wall clock.
      return 'timestamptz'
    case 'char':
    case 'varchar':
    case 'tinytext':
    case 'text':
    case 'mediumtext':
    case 'longtext':
    case 'enum':
    case 'set':
      return 'string'
    case 'binary':
    case 'varbinary':
    case 'tinyblob':
    case 'blob':
    case 'mediumblob':
    case 'longblob':
      return 'binary'
    case 'json':
      return 'json'
    case 'uuid':
      return 'uuid'
    default:
      return 'other'
  }
}

/** The reader of a field, or `undefined` when the driver's value is already canonical. */
export function readerFor(field: FieldInfo): ValueReader | undefined {
  switch (field.type) {
    case 'integer':
      return field.nativeType.startsWith('bit') ? readBitInteger : readInteger
    case 'boolean':
      return readBoolean
    case 'timestamp':
      return (v) => (typeof v === 'string' ? canonicalTimestamp(v, '') : nullOr(v))
    case 'timestamptz':
      return (v) => (typeof v === 'string' ? canonicalTimestamp(v, 'Z') : nullOr(v))
    case 'time':
      return (v) => (typeof v === 'string' ? canonicalTime(v) : nullOr(v))
    case 'binary':
      return readBinary
    case 'json':
      return readJson
    case 'uuid':
    case 'other':
      return readText
    default:
      return undefined
  }
}

/** Converts a canonical value into a driver parameter for a field. */
export function toDriver(value: Value | undefined, field: FieldInfo): DriverValue {
  if (value === null || value === undefined) return null
  switch (field.type) {
    case 'json':
      return stringifyJson(value)
    case 'timestamp':
    case 'timestamptz':
      if (typeof value === 'string') return mysqlDateTime(value)
      break
    case 'integer':
      if (typeof value === 'string' && INTEGER_TEXT.test(value)) return integerParam(value)
      break
    case 'decimal':
      if (typeof value === 'string' && DECIMAL_TEXT.test(value)) return new NumberLiteral(value)
      break
  }
  return toParam(value)
}

/** Converts one part of an encoded key (text, see `decodeKey`) into a driver parameter. */
export function keyPartToDriver(text: string, field: FieldInfo): DriverValue {
  switch (field.type) {
    case 'boolean':
      return text === 'true' ? 1 : text === 'false' ? 0 : text
    case 'binary':
      return /^(?:[0-9a-f]{2})*$/i.test(text) ? Buffer.from(text, 'hex') : text
    default:
      return toDriver(text, field)
  }
}

/**
 * Any value as a safe parameter. Objects become JSON text: `mysql2` would otherwise expand
 * an object into `key = value` pairs, which must never reach SQL.
 */
export function toParam(value: Value): DriverValue {
  if (value === null) return null
  switch (typeof value) {
    case 'string':
      return value
    case 'number':
      // NaN and Infinity would be inlined as bare words; as text they fail as wrong values.
      return Number.isFinite(value) ? value : String(value)
    case 'boolean':
      return value ? 1 : 0
    case 'bigint':
      return value
    default:
      if (value instanceof Uint8Array) {
        return Buffer.from(value.buffer, value.byteOffset, value.byteLength)
      }
      return stringifyJson(value)
  }
}

function integerParam(text: string): number | bigint {
  const n = Number(text)
  return Number.isSafeInteger(n) ? n : BigInt(text)
}

/**
 * Rewrites the text literals a filter compares with a field into the form MySQL compares
 * exactly: canonical timestamps (`…T…Z`, or with an offset, which MySQL would silently
 * drop) become UTC DATETIME text, numeric text compared with a number field becomes a
 * number literal (MySQL compares a number column with a string as doubles).
 */
export function fieldLiterals(
  expr: FilterExpr,
  fields: ReadonlyMap<string, FieldInfo>,
): FilterExpr {
  const fieldOf = (e: FilterExpr) => (e.kind === 'column' ? fields.get(e.name) : undefined)
  const convert = (e: FilterExpr, field: FieldInfo | undefined): FilterExpr => {
    if (!field || e.kind !== 'literal' || typeof e.value !== 'string') return e
    const text = e.value
    switch (field.type) {
      case 'timestamp':
      case 'timestamptz':
        return { kind: 'literal', value: mysqlDateTime(text) }
      case 'integer':
      case 'decimal':
        return DECIMAL_TEXT.test(text) ? { kind: 'literal', value: { number: text } } : e
      default:
        return e
    }
  }
  const walk = (e: FilterExpr): FilterExpr => {
    switch (e.kind) {
      case 'and':
      case 'or':
        return { kind: e.kind, operands: e.operands.map(walk) }
      case 'not':
        return { kind: 'not', operand: walk(e.operand) }
      case 'binary':
        if (!COMPARISONS.has(e.op)) return e
        return {
          ...e,
          left: convert(e.left, fieldOf(e.right)),
          right: convert(e.right, fieldOf(e.left)),
        }
      case 'in': {
        const field = fieldOf(e.operand)
        return { ...e, list: e.list.map((item) => convert(item, field)) }
      }
      case 'between': {
        const field = fieldOf(e.operand)
        return { ...e, low: convert(e.low, field), high: convert(e.high, field) }
      }
      default:
        return e
    }
  }
  return walk(expr)
}

const DATE_TIME =
  /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(\.\d{1,9})?(Z|[+-]\d{2}(?::?\d{2})?)?$/

/**
 * Canonical timestamp text (`2024-03-01T12:34:56.123456Z`) as MySQL DATETIME text in UTC,
 * the session zone. Text that is not a timestamp passes through, so the server rejects it
 * as a wrong value of that one record.
 */
export function mysqlDateTime(text: string): string {
  const m = DATE_TIME.exec(text)
  if (!m) return text
  const [, date, time, fraction = '', zone = 'Z'] = m
  if (zone === 'Z') return `${date} ${time}${fraction}`
  const offset = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone)!
  const offsetMinutes =
    (Number(offset[2]) * 60 + Number(offset[3] ?? 0)) * (offset[1] === '-' ? -1 : 1)
  const micros =
    BigInt(Date.parse(`${date}T${time}Z`) - offsetMinutes * 60_000) * 1000n +
    BigInt(fraction.slice(1, 7).padEnd(6, '0'))
  return formatMicros(micros).replace('T', ' ')
}

/** DATETIME/TIMESTAMP text of any precision as canonical text with six fraction digits. */
function canonicalTimestamp(text: string, zone: '' | 'Z'): string {
  if (text.length === 26) return `${text.slice(0, 10)}T${text.slice(11)}${zone}`
  if (text.length === 19) return `${text.slice(0, 10)}T${text.slice(11)}.000000${zone}`
  const [whole, fraction = ''] = text.split('.')
  return `${whole!.slice(0, 10)}T${whole!.slice(11)}.${fraction.padEnd(6, '0')}${zone}`
}

function canonicalTime(text: string): string {
  const dot = text.indexOf('.')
  return dot < 0 ? text : `${text.slice(0, dot)}.${text.slice(dot + 1).padEnd(6, '0')}`
}

function readInteger(v: unknown): Value {
  if (typeof v !== 'string') return nullOr(v)
  const n = Number(v)
  // Beyond 2^53 Number() rounds to an unsafe value, so the test also catches rounding.
  return Number.isSafeInteger(n) ? n : BigInt(v)
}

function readBitInteger(v: unknown): Value {
  if (!Buffer.isBuffer(v)) return nullOr(v)
  const n = v.length === 0 ? 0n : BigInt(`0x${v.toString('hex')}`)
  return n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n
}

function readBoolean(v: unknown): Value {
  if (v === null || v === undefined) return null
  if (Buffer.isBuffer(v)) return v.some((byte) => byte !== 0)
  return Number(v) !== 0
}

function readBinary(v: unknown): Value {
  if (v === null || v === undefined) return null
  // A plain Uint8Array view (no copy): the canonical type, not the driver's Buffer subclass.
  if (v instanceof Uint8Array) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength)
  return new Uint8Array(Buffer.from(String(v)))
}

function readJson(v: unknown): Value {
  if (v === null || v === undefined) return null
  const text = Buffer.isBuffer(v) ? v.toString('utf8') : String(v)
  try {
    return parseJson(text)
  } catch {
    // A MariaDB JSON column is LONGTEXT; a view over it may hold text that is not JSON.
    return text
  }
}

function readText(v: unknown): Value {
  if (v === null || v === undefined) return null
  if (typeof v === 'string') return v
  if (Buffer.isBuffer(v)) return v.toString('utf8')
  if (typeof v === 'object') return stringifyJson(v)
  return String(v)
}

function nullOr(v: unknown): Value {
  return v === undefined ? null : (v as Value)
}

import {
  canonicalJsonNumber,
  conformValue,
  type FieldInfo,
  type FieldType,
  isJsonNumber,
  type JsonValue,
  jsonNumber,
  parseJson,
  type Value,
} from '../../sdk/index.ts'
import type { RestField } from './rest-manifest.ts'

/**
 * Values between an API's JSON and the value model, losslessly: the body is parsed with
 * `parseJson`, so a number a double cannot hold arrives as its digits and becomes a bigint
 * (integer) or decimal text; decimals go back out as JSON numbers written digit for digit;
 * timestamps are normalised to six fractional digits (`…Z` for instants).
 */

/** A field of a record type with how the API writes it. */
export interface RestFieldInfo extends FieldInfo {
  readonly readOnlyField: boolean
  readonly format?: 'iso' | 'epoch-s' | 'epoch-ms' | 'string' | 'number' | undefined
}

/** A declared field as field info. */
export function declaredField(name: string, field: RestField, key: boolean): RestFieldInfo {
  const spec = typeof field === 'string' ? { type: field } : field
  return {
    name,
    type: spec.type,
    nativeType: `json:${spec.type}`,
    nullable: spec.nullable ?? !key,
    ...(spec.readOnly ? { generated: true } : {}),
    ...('maxLength' in spec && spec.maxLength !== undefined ? { maxLength: spec.maxLength } : {}),
    ...(spec.type === 'timestamptz' || spec.type === 'timestamp' || spec.type === 'time'
      ? { scale: 6 }
      : {}),
    readOnlyField: spec.readOnly === true,
    format: 'format' in spec ? spec.format : undefined,
  }
}

const ZONED = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/
const WALL = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/
const DATE = /^\d{4}-\d{2}-\d{2}$/
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** The type a JSON value suggests. */
export function inferType(value: unknown): FieldType | undefined {
  if (value === null || value === undefined) return undefined
  if (typeof value === 'boolean') return 'boolean'
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'float'
  if (isJsonNumber(value)) return /[.eE]/.test(value.rawJSON) ? 'decimal' : 'integer'
  if (typeof value === 'string') {
    if (ZONED.test(value)) return 'timestamptz'
    if (WALL.test(value)) return 'timestamp'
    if (DATE.test(value)) return 'date'
    if (UUID.test(value)) return 'uuid'
    return 'string'
  }
  return 'json'
}

/** Fields inferred from sample records, in first-seen order; two types seen widen. */
export function inferFields(
  samples: readonly Record<string, unknown>[],
  keys: readonly string[],
): RestFieldInfo[] {
  const types = new Map<string, FieldType | undefined>()
  for (const record of samples) {
    for (const [name, value] of Object.entries(record)) {
      const seen = types.get(name)
      const t = inferType(value)
      if (t === undefined) {
        if (!types.has(name)) types.set(name, undefined)
        continue
      }
      types.set(name, seen === undefined ? t : widen(seen, t))
    }
  }
  return [...types].map(([name, type]) => {
    const t = type ?? 'string'
    return {
      name,
      type: t,
      nativeType: `json:${t}`,
      nullable: !keys.includes(name),
      ...(t === 'timestamptz' || t === 'timestamp' ? { scale: 6 } : {}),
      readOnlyField: false,
    }
  })
}

function widen(a: FieldType, b: FieldType): FieldType {
  if (a === b) return a
  const numbers: FieldType[] = ['integer', 'decimal', 'float']
  if (numbers.includes(a) && numbers.includes(b))
    return a === 'float' || b === 'float' ? 'float' : 'decimal'
  if ((a === 'timestamp' && b === 'timestamptz') || (a === 'timestamptz' && b === 'timestamp'))
    return 'timestamptz'
  if ((a === 'date' && b.startsWith('timestamp')) || (b === 'date' && a.startsWith('timestamp')))
    return a === 'date' ? b : a
  return a === 'json' || b === 'json' ? 'json' : 'string'
}

/**
 * An API's JSON body, losslessly (see `parseJson`). A body with no number a double could
 * change — 16 or more digits in a row (a decimal point among them or not), or an
 * exponent — parses with `JSON.parse` alone: the same values, ten times faster.
 */
export function parseBody(text: string): unknown {
  return mayHoldInexactNumber(text) ? parseJson(text) : JSON.parse(text)
}

/** A scan rather than a regular expression, which backtracks at every digit of a page. */
function mayHoldInexactNumber(text: string): boolean {
  let run = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if ((c >= 48 && c <= 57) || (c === 46 && run > 0)) {
      if (++run >= 16) return true
    } else {
      if ((c === 101 || c === 69) && run > 0) {
        const next = text.charCodeAt(i + 1)
        if ((next >= 48 && next <= 57) || next === 43 || next === 45) return true
      }
      run = 0
    }
  }
  return false
}

const CANONICAL_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/

/** A value of the API's JSON as a value of the field's type. */
export function decodeValue(value: unknown, field: RestFieldInfo | undefined): Value {
  if (value === undefined || value === null) return null
  if (!field) return value as Value
  switch (field.type) {
    case 'integer':
      if (typeof value === 'number') return value
      if (isJsonNumber(value)) return toInteger(value.rawJSON)
      if (typeof value === 'string' && /^-?\d+$/.test(value)) return toInteger(value)
      return value as Value
    case 'decimal':
      if (typeof value === 'number') return canonicalJsonNumber(String(value))
      if (isJsonNumber(value)) return canonicalJsonNumber(value.rawJSON)
      return typeof value === 'string' ? value : (value as Value)
    case 'float':
      if (isJsonNumber(value)) return Number(value.rawJSON)
      return typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Number(value))
        ? Number(value)
        : (value as Value)
    case 'boolean':
      if (value === 'true') return true
      if (value === 'false') return false
      return value as Value
    case 'timestamp':
    case 'timestamptz': {
      if (typeof value === 'number' || isJsonNumber(value)) {
        const n = Number(isJsonNumber(value) ? value.rawJSON : value)
        const ms = field.format === 'epoch-s' ? n * 1000 : n
        return conformValue(new Date(ms).toISOString(), field)
      }
      if (typeof value !== 'string') return value as Value
      // Most APIs write instants in one form: already the value model's when it is this one.
      if (field.type === 'timestamptz' && CANONICAL_INSTANT.test(value)) return value
      return conformValue(value, field)
    }
    case 'time':
      return typeof value === 'string' ? conformValue(value, field) : (value as Value)
    case 'date':
      return typeof value === 'string' && value.length > 10 && DATE.test(value.slice(0, 10))
        ? value.slice(0, 10)
        : (value as Value)
    case 'string':
      if (typeof value === 'string') return value
      return conformValue(value as Value, field)
    case 'uuid':
      return typeof value === 'string' ? value.toLowerCase() : (value as Value)
    default:
      return value as JsonValue
  }
}

/** A value of the model as the API's JSON (`stringifyJson` writes bigints and exact numbers). */
export function encodeValue(value: Value | undefined, field: RestFieldInfo | undefined): unknown {
  if (value === undefined || value === null) return null
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64')
  // As its digits, so bodies need no replacer function (JSON.stringify is much faster without).
  if (typeof value === 'bigint' && field?.format !== 'string') return jsonNumber(value.toString())
  if (!field) return value
  switch (field.type) {
    case 'decimal':
      if (field.format === 'string') return String(value)
      if (typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value)) return jsonNumber(value)
      return value
    case 'integer':
      if (field.format === 'string') return String(value)
      if (typeof value === 'string' && /^-?\d+$/.test(value)) return toInteger(value)
      return value
    case 'timestamp':
    case 'timestamptz':
      if (
        (field.format === 'epoch-s' || field.format === 'epoch-ms') &&
        typeof value === 'string'
      ) {
        const ms = Date.parse(/Z|[+-]\d{2}:?\d{2}$/.test(value) ? value : `${value}Z`)
        return field.format === 'epoch-s' ? ms / 1000 : ms
      }
      return value
    default:
      return value
  }
}

function toInteger(text: string): number | bigint {
  const n = Number(text)
  return Number.isSafeInteger(n) ? n : BigInt(text)
}

/**
 * Why a value does not fit its declared field (`big: 'not a number'` into an integer), or
 * undefined: such a record is refused here, as a database would, without a request.
 */
export function wrongType(
  value: Value | undefined,
  field: RestFieldInfo | undefined,
): string | undefined {
  if (value === undefined || value === null || !field) return undefined
  const bad = (what: string) =>
    `${field.name} must be ${what}, not ${JSON.stringify(String(value))}`
  switch (field.type) {
    case 'integer':
      return typeof value === 'bigint' ||
        (typeof value === 'number' && Number.isInteger(value)) ||
        (typeof value === 'string' && /^-?\d+$/.test(value))
        ? undefined
        : bad('a whole number')
    case 'decimal':
    case 'float':
      return typeof value === 'number' ||
        typeof value === 'bigint' ||
        (typeof value === 'string' && /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(value))
        ? undefined
        : bad('a number')
    case 'boolean':
      return typeof value === 'boolean' ? undefined : bad('true or false')
    case 'date':
      return typeof value === 'string' && DATE.test(value.slice(0, 10)) ? undefined : bad('a date')
    case 'timestamp':
    case 'timestamptz':
      return typeof value === 'string' &&
        !Number.isNaN(Date.parse(value.replace(' ', 'T').slice(0, 19)))
        ? undefined
        : bad('a timestamp')
    default:
      return undefined
  }
}

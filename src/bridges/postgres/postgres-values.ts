import pg from 'pg'
import {
  type FieldInfo,
  type FieldType,
  parseJson,
  stringifyJson,
  type Value,
} from '../../sdk/index.ts'

/** Portable field types by PostgreSQL type name (`pg_type.typname`). */
export const FIELD_TYPES: Readonly<Record<string, FieldType>> = {
  int2: 'integer',
  int4: 'integer',
  int8: 'integer',
  oid: 'integer',
  numeric: 'decimal',
  float4: 'float',
  float8: 'float',
  money: 'decimal',
  bool: 'boolean',
  date: 'date',
  time: 'time',
  timetz: 'time',
  timestamp: 'timestamp',
  timestamptz: 'timestamptz',
  bytea: 'binary',
  json: 'json',
  jsonb: 'json',
  uuid: 'uuid',
  text: 'string',
  varchar: 'string',
  bpchar: 'string',
  name: 'string',
  citext: 'string',
}

const OID = {
  int8: 20,
  json: 114,
  jsonb: 3802,
  timestamp: 1114,
  timestamptz: 1184,
  date: 1082,
  money: 790,
} as const
const TIMESTAMP =
  /^(\d{4,}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?(?:([+-])(\d{2})(?::?(\d{2}))?(?::?(\d{2}))?)?( BC)?$/
const UTC_TIMESTAMP = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d{1,6})?\+00$/

/**
 * Type parsers for one pool: values come back in the canonical model of src/sdk/values.ts.
 * They are per pool, never the global `pg.types`, so a host application's pg use is untouched.
 */
export const typeParsers: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    switch (oid) {
      case OID.int8:
        return parseInteger
      case OID.timestamp:
        return (text: string) => canonicalTimestamp(text, false)
      case OID.timestamptz:
        return (text: string) => canonicalTimestamp(text, true)
      case OID.date:
        return (text: string) => text
      // pg's own parser is JSON.parse, which rounds numbers beyond a double.
      case OID.json:
      case OID.jsonb:
        return parseJson
      default:
        return pg.types.getTypeParser(oid, format ?? 'text')
    }
  }) as pg.CustomTypesConfig['getTypeParser'],
}

function parseInteger(text: string): number | bigint {
  const n = Number(text)
  return Number.isSafeInteger(n) ? n : BigInt(text)
}

/**
 * PostgreSQL prints `2024-03-01 12:34:56.5+00`; we want `2024-03-01T12:34:56.500000Z`.
 * The session runs in UTC, but the offset is applied anyway so any zone reads right.
 * `infinity` and BC dates have no ISO form and pass through unchanged.
 */
function canonicalTimestamp(text: string, zoned: boolean): string {
  // The form a UTC session prints for every row of a modern date, without the regex's match:
  // `2024-03-01 12:34:56+00` or `2024-03-01 12:34:56.5+00`.
  if (zoned && UTC_TIMESTAMP.test(text)) {
    const frac = text.length === 22 ? '000000' : text.slice(20, -3).padEnd(6, '0')
    return `${text.slice(0, 10)}T${text.slice(11, 19)}.${frac}Z`
  }
  const m = TIMESTAMP.exec(text)
  if (!m || m[8]) return text
  const frac = (m[3] ?? '').padEnd(6, '0')
  if (!zoned) return `${m[1]}T${m[2]}.${frac}`
  const offsetSeconds = m[4]
    ? (m[4] === '-' ? -1 : 1) * (Number(m[5]) * 3600 + Number(m[6] ?? 0) * 60 + Number(m[7] ?? 0))
    : 0
  if (offsetSeconds === 0) return `${m[1]}T${m[2]}.${frac}Z`
  const utc = new Date(Date.parse(`${m[1]}T${m[2]}Z`) - offsetSeconds * 1000)
  return `${utc.toISOString().slice(0, 19)}.${frac}Z`
}

/** Turns a canonical value into a pg parameter for a field. */
export function toParam(value: Value | undefined, field: FieldInfo | undefined): unknown {
  if (value === undefined || value === null) return null
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof Uint8Array) return Buffer.isBuffer(value) ? value : Buffer.from(value)
  if (field?.type === 'json') return stringifyJson(value)
  if (typeof value === 'object') return stringifyJson(value)
  return value
}

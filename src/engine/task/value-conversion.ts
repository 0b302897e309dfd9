import type { Value } from '../../sdk/index.ts'
import {
  canonicalDate,
  canonicalTimestamp,
  type DateFormat,
  type DateParts,
  formatParts,
  parseCanonical,
  parseWithFormat,
} from './date-format.ts'
import type { TRANSFORM_TYPES } from './task-file-schema.ts'

/** The types a `type` step converts to. */
export type ConversionType = (typeof TRANSFORM_TYPES)[number]

/**
 * A value a transform step cannot handle. It carries the value's type, never the value: a
 * message travels to protocols and logs, and the value may be personal data.
 */
export class ValueRejected extends Error {
  override readonly name = 'ValueRejected'
  /** The type of the rejected value, in words (`a string`, `a JSON object`). */
  readonly valueType: string

  constructor(value: unknown, reason: string) {
    super(reason)
    this.valueType = describeType(value)
  }
}

/** The type of a value in words, for messages that must not show the value itself. */
export function describeType(value: unknown): string {
  if (value === null || value === undefined) return 'null'
  if (typeof value === 'string') return 'a string'
  if (typeof value === 'number') return 'a number'
  if (typeof value === 'bigint') return 'a big integer'
  if (typeof value === 'boolean') return 'a boolean'
  if (value instanceof Uint8Array) return 'binary data'
  if (Array.isArray(value)) return 'a list'
  return 'a JSON object'
}

const TRUE_WORDS = new Set(['true', 'yes', '1'])
const FALSE_WORDS = new Set(['false', 'no', '0'])
const NUMBER_TEXT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/
const INTEGER_TEXT = /^[+-]?\d+$/

/**
 * Builds the conversion of one `type` step. `format` is the text form of a date: the form
 * read when converting text to a date or timestamp, and written when converting a date or
 * timestamp to text. Null stays null; blank text becomes null for every type but string,
 * as a blank cell in a text column means "no value", not zero or false.
 */
export function typeConversion(type: ConversionType, format?: DateFormat): (value: Value) => Value {
  switch (type) {
    case 'string':
      return format ? (v) => formatDate(v, format) : toText
    case 'number':
      return toNumber
    case 'integer':
      return toInteger
    case 'boolean':
      return toBoolean
    case 'date':
      return (v) => {
        const parts = readDate(v, 'date', format)
        return parts === null ? null : canonicalDate(parts)
      }
    case 'timestamp':
      return (v) => {
        const parts = readDate(v, 'timestamp', format)
        return parts === null ? null : canonicalTimestamp(parts)
      }
  }
}

function toText(value: Value): Value {
  if (value === null || typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') {
    return String(value)
  }
  if (value instanceof Uint8Array)
    throw new ValueRejected(value, 'cannot convert binary data to string')
  return JSON.stringify(value)
}

function formatDate(value: Value, format: DateFormat): Value {
  if (value === null) return null
  const parts = typeof value === 'string' ? parseCanonical(value) : undefined
  if (!parts) {
    throw new ValueRejected(
      value,
      `cannot format ${describeType(value)} as ${format.text}: it is not a date (YYYY-MM-DD) or timestamp`,
    )
  }
  return formatParts(format, parts)
}

function blank(value: Value): boolean {
  return typeof value === 'string' && value.trim() === ''
}

function toNumber(value: Value): Value {
  if (value === null || typeof value === 'number') return value
  if (blank(value)) return null
  if (typeof value === 'bigint') return Number(value)
  if (typeof value === 'boolean') return value ? 1 : 0
  if (typeof value === 'string' && NUMBER_TEXT.test(value.trim())) return Number(value.trim())
  throw new ValueRejected(
    value,
    `cannot convert ${describeType(value)} to number: it is not a decimal number`,
  )
}

function toInteger(value: Value): Value {
  if (value === null || typeof value === 'bigint') return value
  if (blank(value)) return null
  if (typeof value === 'boolean') return value ? 1 : 0
  if (typeof value === 'number') {
    if (Number.isInteger(value)) return value
    throw new ValueRejected(value, 'cannot convert a number to integer: it has a fractional part')
  }
  if (typeof value === 'string') {
    const t = value.trim()
    if (INTEGER_TEXT.test(t)) {
      // Beyond 2^53 the value model keeps integers exact as bigint.
      const n = Number(t)
      return Number.isSafeInteger(n) ? n : BigInt(t)
    }
    if (NUMBER_TEXT.test(t) && Number.isInteger(Number(t))) return Number(t)
  }
  throw new ValueRejected(
    value,
    `cannot convert ${describeType(value)} to integer: it is not a whole number`,
  )
}

function toBoolean(value: Value): Value {
  if (value === null || typeof value === 'boolean') return value
  if (blank(value)) return null
  if (typeof value === 'number' || typeof value === 'bigint') {
    if (Number(value) === 1) return true
    if (Number(value) === 0) return false
  }
  if (typeof value === 'string') {
    const word = value.trim().toLowerCase()
    if (TRUE_WORDS.has(word)) return true
    if (FALSE_WORDS.has(word)) return false
  }
  throw new ValueRejected(
    value,
    `cannot convert ${describeType(value)} to boolean: expected true/false, yes/no or 1/0`,
  )
}

function readDate(value: Value, type: 'date' | 'timestamp', format?: DateFormat): DateParts | null {
  if (value === null || blank(value)) return null
  if (typeof value !== 'string') {
    throw new ValueRejected(value, `cannot convert ${describeType(value)} to ${type}`)
  }
  const parts = format ? parseWithFormat(format, value) : parseCanonical(value)
  if (parts) return parts
  const expected = format ? format.text : type === 'date' ? 'YYYY-MM-DD' : 'YYYY-MM-DDTHH:MM:SS'
  throw new ValueRejected(
    value,
    `cannot convert a string to ${type}: it is not a valid date in the format ${expected}`,
  )
}

/**
 * The value model every bridge speaks. It is lossless: decimals stay strings, 64-bit
 * integers beyond 2^53 become bigint, timestamps keep microseconds as ISO strings, binary
 * stays bytes, and SQL NULL (`null`) is distinct from the empty string.
 */

/**
 * A JSON number a double cannot hold exactly, kept as its text: Node's `JSON.rawJSON`, which
 * `JSON.stringify` writes back as it is. Made by {@link parseJson}.
 */
export interface JsonNumber {
  readonly rawJSON: string
}

/** A JSON document stored in a JSON column. */
export type JsonValue =
  | null
  | boolean
  | number
  | JsonNumber
  | string
  | JsonValue[]
  | { [key: string]: JsonValue }

/**
 * One field value. Which JavaScript type a field uses follows its {@link FieldType}:
 *
 * | field type    | value                                                              |
 * |---------------|--------------------------------------------------------------------|
 * | `string`, `uuid`, `other` | `string`                                               |
 * | `integer`     | `number` when it is a safe integer, otherwise `bigint`             |
 * | `decimal`     | `string` in plain decimal notation, exactly as stored (`'12.3400'`) |
 * | `float`       | `number`                                                           |
 * | `boolean`     | `boolean`                                                          |
 * | `date`        | `'YYYY-MM-DD'`                                                     |
 * | `time`        | `'HH:MM:SS[.ffffff]'`                                              |
 * | `timestamp`   | `'YYYY-MM-DDTHH:MM:SS.ffffff'` (no zone: wall-clock time)           |
 * | `timestamptz` | `'YYYY-MM-DDTHH:MM:SS.ffffffZ'` (an instant, always in UTC)         |
 * | `binary`      | `Uint8Array`                                                       |
 * | `json`        | the parsed document, a {@link JsonValue}; exact numbers (see `parseJson`) |
 *
 * Timestamps always carry six fractional digits, so equal instants are equal strings and
 * text order is time order.
 */
export type Value = null | boolean | number | bigint | string | Uint8Array | JsonValue

/** The portable type of a field. */
export type FieldType =
  | 'string'
  | 'integer'
  | 'decimal'
  | 'float'
  | 'boolean'
  | 'date'
  | 'time'
  | 'timestamp'
  | 'timestamptz'
  | 'binary'
  | 'json'
  | 'uuid'
  | 'other'

/** The values of one record, by field name. */
export type RecordValues = Readonly<Record<string, Value>>

/** A record as read from a system: its encoded key plus its values. */
export interface SourceRecord {
  /** The record's key, encoded with {@link encodeKey}. */
  readonly key: string
  readonly values: RecordValues
}

/** A value that survives JSON: what checkpoints are made of. */
export type CheckpointValue = null | boolean | number | string

/**
 * A position in a record type's change stream: the cursor value of the last record applied
 * and that record's key, as a tuple `[cursor, ...keyParts]`. Bridges make and read them;
 * the engine stores them as JSON and never looks inside.
 */
export interface Checkpoint {
  readonly cursorField: string
  readonly position: readonly CheckpointValue[]
  /** What the read saw in the lag window behind `position`, when the bridge seals it. */
  readonly seal?: WindowSeal
}

/**
 * A digest of the records whose cursor lies in `[from, to]`, taken in the same snapshot as
 * the read that ended at `to`. When the next read finds the same digest there, no late
 * commit landed in the window, and it continues after the position instead of reading the
 * window again (a bulk load gives every row one cursor value: all of them in the window).
 */
export interface WindowSeal {
  readonly from: CheckpointValue
  readonly to: CheckpointValue
  readonly count: number
  /** The database's aggregate hash of (key, cursor) over the window, as text. */
  readonly digest: string
}

/**
 * Encodes a record key. A single-field key is the field's value as text (`'42'`); a
 * composite key is a JSON array of the parts as text (`'["7","2024"]'`). The number of key
 * fields is fixed per record type, so decoding is never ambiguous.
 */
export function encodeKey(parts: readonly Value[]): string {
  if (parts.length === 1) return keyPartText(parts[0]!)
  return JSON.stringify(parts.map(keyPartText))
}

/** The key of a record whose type has one key field: {@link encodeKey} of that one value. */
export function encodeKeyOf(value: Value): string {
  return keyPartText(value)
}

/** Decodes a key made by {@link encodeKey} into its parts as text. */
export function decodeKey(key: string, arity: number): string[] {
  if (arity === 1) return [key]
  const parts: unknown = JSON.parse(key)
  if (
    !Array.isArray(parts) ||
    parts.length !== arity ||
    !parts.every((p) => typeof p === 'string')
  ) {
    throw new TypeError(`key ${key} is not a composite key of ${arity} parts`)
  }
  return parts as string[]
}

function keyPartText(value: Value): string {
  if (value === null) throw new TypeError('a key part cannot be NULL')
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex')
  if (typeof value === 'object') return JSON.stringify(value)
  return String(value)
}

/** Makes a checkpoint value from a field value (bigints and bytes become text). */
export function toCheckpointValue(value: Value): CheckpointValue {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value
  if (typeof value === 'number') return value
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex')
  return JSON.stringify(value)
}

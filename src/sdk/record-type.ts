import type { FieldType } from './values.ts'

/** One field (column) of a record type, as discovered. */
export interface FieldInfo {
  readonly name: string
  readonly type: FieldType
  /** The system's own type name, e.g. `numeric(12,2)` or `varchar(80)`. */
  readonly nativeType: string
  readonly nullable: boolean
  /** True when the system fills the value itself (auto-increment, identity, computed); not for plain defaults. */
  readonly generated?: boolean
  /** Longest text the field accepts, when the system says. */
  readonly maxLength?: number
  /**
   * Digits after the decimal point the field keeps, when the system says: a decimal's scale,
   * or the fractional-second digits of a time or timestamp. Values with more are rounded.
   */
  readonly scale?: number
}

/** One record type (a table or view) of a system, as discovered. */
export interface RecordTypeInfo {
  /** The name used in task files: `table`, or `schema.table` outside the default schema. */
  readonly name: string
  readonly kind: 'table' | 'view'
  /** Views and tables without a key can be read but not written. */
  readonly readOnly: boolean
  readonly fields: readonly FieldInfo[]
  /** The primary key fields, in key order; empty when the type has no key. */
  readonly keyFields: readonly string[]
  /** Fields that can serve as a change cursor: timestamps and numbers, best first. */
  readonly cursorCandidates: readonly string[]
}

/** Field types that can serve as a change cursor. */
export const CURSOR_FIELD_TYPES: ReadonlySet<FieldType> = new Set([
  'timestamp',
  'timestamptz',
  'integer',
  'decimal',
  'float',
  'date',
])

/**
 * The fields of a record type that can serve as a change cursor, best first: zoned
 * timestamps, plain timestamps, dates, then numbers.
 */
export function cursorCandidates(fields: readonly FieldInfo[]): string[] {
  const rank = (f: FieldInfo) =>
    f.type === 'timestamptz' ? 0 : f.type === 'timestamp' ? 1 : f.type === 'date' ? 2 : 3
  return fields
    .filter((f) => CURSOR_FIELD_TYPES.has(f.type))
    .sort((a, b) => rank(a) - rank(b))
    .map((f) => f.name)
}

import {
  type Checkpoint,
  type CheckpointValue,
  encodeKey,
  encodeKeyOf,
  type FieldInfo,
  type Filter,
  type FilterExpr,
  filterColumns,
  keyValueToExpr,
  OpenSyncError,
  parseSqlFilter,
  type ReadOptions,
  type RecordTypeInfo,
  type RecordValues,
  type SqlDialect,
  toCheckpointValue,
} from '../../sdk/index.ts'
import { lagWindowStart } from './lag-window.ts'

/** Default records per batch. */
export const DEFAULT_BATCH_SIZE = 1000

/** One read of an SQL record type, validated and ready to page through. */
export interface ReadPlan {
  /** Fields to select: the asked ones plus key and cursor. */
  readonly columns: readonly FieldInfo[]
  /** Keyset order: the cursor (when any) followed by the key fields. */
  readonly order: readonly FieldInfo[]
  readonly filter?: FilterExpr
  /** The checkpoint position to start after, in canonical values. */
  readonly after?: readonly CheckpointValue[]
  /** The lag window's start, when reading since a checkpoint with a lag. */
  readonly atLeast?: CheckpointValue
  readonly batchSize: number
  readonly cursor?: string
  /**
   * A cursor read with a lag window (since a checkpoint or from the start): what a bridge
   * that seals its windows needs (src/bridges/shared/window-seal.ts).
   */
  readonly window?: { readonly lag: number; readonly since?: Checkpoint }
}

/**
 * Validates read options against a record type: fields and cursor exist, the checkpoint
 * belongs to this cursor, the filter parses. Every SQL bridge plans its reads with this.
 */
export function planRead(
  type: RecordTypeInfo,
  options: ReadOptions,
  dialect: SqlDialect,
): ReadPlan {
  const field = fieldLookup(type)
  if (type.keyFields.length === 0) {
    throw new OpenSyncError(
      'OSY_UNSUPPORTED',
      `record type "${type.name}" has no primary key, so its records cannot be told apart: name the fields that identify a record (keyFields)`,
      {
        details: { recordType: type.name },
      },
    )
  }
  const keys = type.keyFields.map(field)
  const cursor = options.cursor ? field(options.cursor) : undefined
  const order = cursor ? [cursor, ...keys.filter((k) => k.name !== cursor.name)] : keys
  const asked = options.fields ? options.fields.map(field) : type.fields
  const columns = [...new Map([...asked, ...order].map((f) => [f.name, f])).values()]
  columns.sort((a, b) => type.fields.indexOf(a) - type.fields.indexOf(b))

  let after: CheckpointValue[] | undefined
  let atLeast: CheckpointValue | undefined
  if (options.since) {
    if (
      !cursor ||
      options.since.cursorField !== cursor.name ||
      options.since.position.length !== order.length
    ) {
      throw new OpenSyncError(
        'OSY_INVALID_CHECKPOINT',
        `the checkpoint belongs to cursor "${options.since.cursorField}", not "${cursor?.name ?? '(none)'}" of "${type.name}": reset it for a full read`,
        { details: { recordType: type.name } },
      )
    }
    const lag = options.lag ?? 0
    if (lag > 0) atLeast = lagWindowStart(options.since.position[0]!, cursor.type, lag)
    else after = [...options.since.position]
  }
  const lag = options.lag ?? 0
  const window =
    cursor && lag > 0 && isWindowCursor(cursor)
      ? { lag, ...(options.since ? { since: options.since } : {}) }
      : undefined
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new OpenSyncError(
      'OSY_INVALID_OPTION',
      `batchSize must be a positive integer, not ${batchSize}`,
    )
  }
  const filter = options.filter ? filterExpr(options.filter, dialect, type.fields) : undefined
  return {
    columns,
    order,
    batchSize,
    ...(filter ? { filter } : {}),
    ...(after ? { after } : {}),
    ...(atLeast !== undefined ? { atLeast } : {}),
    ...(cursor ? { cursor: cursor.name } : {}),
    ...(window ? { window } : {}),
  }
}

/** Cursor types a lag window can be sealed on (those `lagWindowStart` can move back). */
function isWindowCursor(field: FieldInfo): boolean {
  return ['timestamp', 'timestamptz', 'date', 'integer', 'decimal', 'float'].includes(field.type)
}

/**
 * The record type as a read sees it: with the caller's `keyFields` (a view, a table without
 * a primary key) in place of its own, after checking they exist.
 */
export function keyedType<T extends RecordTypeInfo>(
  type: T,
  keyFields: readonly string[] | undefined,
): T {
  if (!keyFields || keyFields.length === 0) return type
  for (const name of keyFields) {
    if (!type.fields.some((f) => f.name === name)) {
      throw new OpenSyncError(
        'OSY_FIELD_NOT_FOUND',
        `record type "${type.name}" has no key field "${name}"`,
        {
          details: { recordType: type.name, field: name },
        },
      )
    }
  }
  return { ...type, keyFields: [...keyFields] }
}

/** A lookup of a record type's fields by name that throws OSY_FIELD_NOT_FOUND for others. */
export function fieldLookup<F extends FieldInfo>(type: {
  readonly name: string
  readonly fields: readonly F[]
}): (name: string) => F {
  const byName = new Map(type.fields.map((f) => [f.name, f]))
  return (name) => {
    const f = byName.get(name)
    if (!f) {
      throw new OpenSyncError(
        'OSY_FIELD_NOT_FOUND',
        `record type "${type.name}" has no field "${name}"`,
        {
          details: { recordType: type.name, field: name },
        },
      )
    }
    return f
  }
}

/** Turns a task-file filter into a validated expression over the given fields. */
export function filterExpr(
  filter: Filter,
  dialect: SqlDialect,
  fields: readonly FieldInfo[],
): FilterExpr {
  if ('sql' in filter) return parseSqlFilter(filter.sql, dialect, fields, filter.parameters)
  if ('all' in filter) {
    const operands = filter.all.map((f) => filterExpr(f, dialect, fields))
    return operands.length === 1 ? operands[0]! : { kind: 'and', operands }
  }
  const names = new Set(fields.map((f) => f.name))
  if ('expr' in filter) {
    for (const name of filterColumns(filter.expr)) {
      if (!names.has(name)) {
        throw new OpenSyncError('OSY_INVALID_FILTER', `invalid filter: unknown field "${name}"`, {
          details: { field: name },
        })
      }
    }
    return filter.expr
  }
  for (const name of Object.keys(filter.keyValue)) {
    if (!names.has(name)) {
      throw new OpenSyncError(
        'OSY_INVALID_FILTER',
        `invalid key-value filter: unknown field "${name}"`,
        {
          details: { field: name },
        },
      )
    }
  }
  return keyValueToExpr(filter.keyValue)
}

/** The checkpoint after a record, when the plan reads by cursor. */
export function checkpointAfter(plan: ReadPlan, values: RecordValues): Checkpoint | undefined {
  if (!plan.cursor) return undefined
  return {
    cursorField: plan.cursor,
    position: plan.order.map((f) => toCheckpointValue(values[f.name] ?? null)),
  }
}

/** The encoded key of a record of the type. */
export function keyOf(type: RecordTypeInfo, values: RecordValues): string {
  const { keyFields } = type
  // One key field is the common case and runs for every record read: no arrays for it.
  if (keyFields.length === 1) return encodeKeyOf(values[keyFields[0]!] ?? null)
  return encodeKey(keyFields.map((name) => values[name] ?? null))
}

import {
  cursorCandidates,
  type FieldInfo,
  type FieldType,
  type RecordTypeInfo,
} from '../../sdk/index.ts'
import type { SqliteDatabase } from './sqlite-driver.ts'

/** A discovered field plus what value conversion needs. */
export interface SqliteFieldInfo extends FieldInfo {
  /** Digits after the point of a `DECIMAL(p,s)`. */
  readonly scale?: number
  /** A `GENERATED ALWAYS AS (…)` column: SQLite computes it and refuses writes to it. */
  readonly computed?: boolean
}

/** A discovered table or view of the `main` schema. */
export interface SqliteRecordType extends RecordTypeInfo {
  readonly fields: readonly SqliteFieldInfo[]
  /**
   * A failing write may leave part of its changes behind: the table has triggers (which
   * may `RAISE(FAIL)`) or an `ON CONFLICT FAIL` clause. Without either, SQLite undoes a
   * failing statement entirely by itself.
   */
  readonly partialFailures: boolean
}

/** What a declared column type means: SQLite keeps the name, we map it like a reader would. */
export interface DeclaredType {
  readonly type: FieldType
  readonly scale?: number
  readonly maxLength?: number
}

interface TableRow {
  readonly name: string
  readonly type: 'table' | 'view'
  /** 1 for a WITHOUT ROWID table. */
  readonly wr: bigint
}

interface ColumnRow {
  readonly name: string
  readonly type: string
  readonly notnull: bigint
  /** Position in the primary key, from 1; 0 when not part of it. */
  readonly pk: bigint
  /** 0 plain, 1 hidden (virtual tables), 2 generated virtual, 3 generated stored. */
  readonly hidden: bigint
}

// pragma_table_list (SQLite ≥ 3.37) tells WITHOUT ROWID tables, which have no rowid alias.
const TABLES_SQL = `SELECT name, type, wr FROM pragma_table_list
  WHERE schema = 'main' AND type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'`
const COLUMNS_SQL = `SELECT name, type, "notnull", pk, hidden FROM pragma_table_xinfo(?, 'main') ORDER BY cid`
const SCHEMA_SQL = `SELECT type, sql FROM sqlite_schema WHERE tbl_name = ? AND type IN ('table', 'trigger')`

/**
 * Reads the tables and views of the `main` schema (`pragma_table_list` and
 * `pragma_table_xinfo`). A view that no longer compiles (its table was dropped) is skipped
 * and reported through `onBroken`, so one broken view does not hide every other type.
 */
export function introspect(
  db: SqliteDatabase,
  options: {
    readonly readOnly: boolean
    readonly onBroken?: (name: string, error: unknown) => void
  },
): SqliteRecordType[] {
  const tables = db.prepare(`${TABLES_SQL} ORDER BY name`).all([]) as TableRow[]
  const types: SqliteRecordType[] = []
  for (const table of tables) {
    try {
      types.push(describeTable(db, table, options.readOnly))
    } catch (error) {
      options.onBroken?.(table.name, error)
    }
  }
  return types
}

/**
 * Reads one table or view by name (SQLite compares names case-insensitively, so do we);
 * undefined when there is none.
 */
export function introspectOne(
  db: SqliteDatabase,
  name: string,
  options: { readonly readOnly: boolean },
): SqliteRecordType | undefined {
  const table = db.prepare(`${TABLES_SQL} AND name = ? COLLATE NOCASE`).get([name]) as
    | TableRow
    | undefined
  return table ? describeTable(db, table, options.readOnly) : undefined
}

function describeTable(db: SqliteDatabase, table: TableRow, readOnly: boolean): SqliteRecordType {
  const columns = (db.prepare(COLUMNS_SQL).all([table.name]) as ColumnRow[]).filter(
    (c) => c.hidden !== 1n,
  )
  const isView = table.type === 'view'
  const key = columns.filter((c) => c.pk > 0n).sort((a, b) => Number(a.pk - b.pk))
  // INTEGER PRIMARY KEY (exactly that spelling) makes the column the rowid: SQLite fills it.
  const rowidAlias =
    !isView && table.wr === 0n && key.length === 1 && key[0]!.type.toUpperCase() === 'INTEGER'
      ? key[0]!.name
      : undefined
  const fields = columns.map((c): SqliteFieldInfo => {
    const declared = declaredType(c.type)
    const computed = c.hidden === 2n || c.hidden === 3n
    // Key columns of rowid tables may hold NULL (an SQLite quirk) unless they alias the rowid.
    const nullable = c.notnull === 0n && c.name !== rowidAlias && !(c.pk > 0n && table.wr === 1n)
    return {
      name: c.name,
      type: declared.type,
      nativeType: c.type,
      nullable,
      ...(c.name === rowidAlias || computed ? { generated: true } : {}),
      ...(computed ? { computed: true } : {}),
      ...(declared.maxLength !== undefined ? { maxLength: declared.maxLength } : {}),
      ...(declared.scale !== undefined ? { scale: declared.scale } : {}),
    }
  })
  const keyFields = isView ? [] : key.map((c) => c.name)
  // Erring towards true is safe: it only costs a savepoint per written record.
  const partialFailures = (
    db.prepare(SCHEMA_SQL).all([table.name]) as { type: string; sql: string | null }[]
  ).some((s) => s.type === 'trigger' || /\bFAIL\b/i.test(s.sql ?? ''))
  return {
    name: table.name,
    kind: isView ? 'view' : 'table',
    readOnly: readOnly || isView || keyFields.length === 0,
    fields,
    keyFields,
    cursorCandidates: cursorCandidates(fields),
    partialFailures,
  }
}

const STRING_NAMES = /CHAR|CLOB|TEXT|STRING/
const INTEGER_NAMES =
  /^(TINY|SMALL|MEDIUM|BIG|UNSIGNED BIG )?INT(EGER)?[248]?( UNSIGNED)?$|^(BIG|SMALL)?SERIAL$/

/**
 * Maps a declared column type to a field type. SQLite itself only derives an affinity from
 * the name; the name says what the schema's author meant, so that is what we read:
 * `DECIMAL(14,4)` is a decimal with 4 places, `TIMESTAMPTZ` an instant, `BOOLEAN` a
 * boolean stored as 0/1. Names we do not know fall back to SQLite's own affinity rules.
 */
export function declaredType(declared: string): DeclaredType {
  const upper = declared.trim().toUpperCase()
  const params = /\(\s*([+-]?\d+)\s*(?:,\s*([+-]?\d+)\s*)?\)/.exec(upper)
  const name = upper
    .replace(/\(.*?\)/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
  const first = params?.[1] !== undefined ? Number(params[1]) : undefined
  const second = params?.[2] !== undefined ? Number(params[2]) : undefined
  if (name === '') return { type: 'string' }
  if (name === 'TIMESTAMPTZ' || name === 'TIMESTAMP WITH TIME ZONE' || name === 'DATETIMEOFFSET')
    return { type: 'timestamptz' }
  if (/^(TIMESTAMP|DATETIME2?|SMALLDATETIME)( WITHOUT TIME ZONE)?$/.test(name))
    return { type: 'timestamp' }
  if (name === 'DATE') return { type: 'date' }
  if (name === 'TIME' || name === 'TIME WITHOUT TIME ZONE') return { type: 'time' }
  if (name.startsWith('BOOL')) return { type: 'boolean' }
  if (name === 'DECIMAL' || name === 'NUMERIC' || name === 'DEC') {
    // NUMERIC(p) has no places; plain NUMERIC keeps whatever places a value has.
    const scale = second ?? (first !== undefined ? 0 : undefined)
    return scale !== undefined ? { type: 'decimal', scale } : { type: 'decimal' }
  }
  if (/^(REAL|FLOAT[48]?|DOUBLE( PRECISION)?)$/.test(name)) return { type: 'float' }
  if (/BLOB|BINARY|BYTEA/.test(name)) return { type: 'binary' }
  if (name === 'JSON' || name === 'JSONB') return { type: 'json' }
  if (name === 'UUID' || name === 'GUID' || name === 'UNIQUEIDENTIFIER') return { type: 'uuid' }
  if (INTEGER_NAMES.test(name)) return { type: 'integer' }
  if (STRING_NAMES.test(name)) {
    return first !== undefined && /CHAR/.test(name)
      ? { type: 'string', maxLength: first }
      : { type: 'string' }
  }
  // SQLite's affinity rules (https://sqlite.org/datatype3.html §3.1), in its order.
  if (name.includes('INT')) return { type: 'integer' }
  if (/REAL|FLOA|DOUB/.test(name)) return { type: 'float' }
  return { type: 'other' }
}

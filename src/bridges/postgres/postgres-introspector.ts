import { cursorCandidates, type FieldInfo, type RecordTypeInfo } from '../../sdk/index.ts'
import type { PostgresQueryable } from './postgres-driver.ts'
import { FIELD_TYPES } from './postgres-values.ts'

/** A discovered field plus what statements need to bind arrays of its values. */
export interface PostgresFieldInfo extends FieldInfo {
  /** The type to cast a parameter array to, without length modifiers (`character varying`). */
  readonly arrayCast: string
}

/** A discovered record type plus its quoted, schema-qualified table name. */
export interface PostgresRecordType extends RecordTypeInfo {
  readonly fields: readonly PostgresFieldInfo[]
  readonly from: string
}

interface ColumnRow {
  table_name: string
  relkind: string
  column_name: string
  native_type: string
  base_type: string
  typname: string
  not_null: boolean
  is_generated: boolean
  max_length: number | null
  scale: number | null
  key_position: number | null
}

const COLUMNS_SQL = `
SELECT c.relname AS table_name, c.relkind::text AS relkind, a.attname AS column_name,
       format_type(a.atttypid, a.atttypmod) AS native_type,
       format_type(a.atttypid, NULL) AS base_type,
       t.typname AS typname,
       a.attnotnull AS not_null,
       (a.attidentity <> '' OR a.attgenerated <> '' OR coalesce(pg_get_expr(d.adbin, d.adrelid), '') LIKE 'nextval(%') AS is_generated,
       CASE WHEN t.typname IN ('varchar', 'bpchar') AND a.atttypmod > 4 THEN a.atttypmod - 4 END AS max_length,
       CASE WHEN t.typname = 'numeric' AND a.atttypmod >= 4 THEN (a.atttypmod - 4) & 65535
            WHEN t.typname IN ('timestamp', 'timestamptz', 'time', 'timetz')
              THEN CASE WHEN a.atttypmod >= 0 THEN a.atttypmod ELSE 6 END END AS scale,
       array_position(pk.conkey, a.attnum) AS key_position
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  JOIN pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
  LEFT JOIN pg_constraint pk ON pk.conrelid = c.oid AND pk.contype = 'p'
 WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
   AND ($2::text IS NULL OR c.relname = $2)
 ORDER BY c.relname, a.attnum`

/**
 * Reads tables and views of one schema from pg_catalog in a single query (information_schema
 * is far slower on large catalogs). With `only`, reads just that table.
 */
export async function introspect(
  db: PostgresQueryable,
  schema: string,
  quote: (name: string) => string,
  only?: string,
): Promise<PostgresRecordType[]> {
  const { rows } = await db.query<ColumnRow>(COLUMNS_SQL, [schema, only ?? null])
  const byTable = new Map<string, ColumnRow[]>()
  for (const row of rows) {
    const list = byTable.get(row.table_name) ?? []
    list.push(row)
    byTable.set(row.table_name, list)
  }
  const types: PostgresRecordType[] = []
  for (const [table, columns] of byTable) {
    const relkind = columns[0]!.relkind
    const fields: PostgresFieldInfo[] = columns.map((c) => ({
      name: c.column_name,
      type: FIELD_TYPES[c.typname] ?? 'other',
      nativeType: c.native_type,
      nullable: !c.not_null,
      ...(c.is_generated ? { generated: true } : {}),
      ...(c.max_length ? { maxLength: c.max_length } : {}),
      ...(c.scale !== null ? { scale: c.scale } : {}),
      arrayCast: c.typname === 'bpchar' ? 'bpchar' : c.base_type,
    }))
    const keyFields = columns
      .filter((c) => c.key_position !== null)
      .sort((a, b) => a.key_position! - b.key_position!)
      .map((c) => c.column_name)
    const isView = relkind === 'v' || relkind === 'm'
    types.push({
      name: table,
      kind: isView ? 'view' : 'table',
      readOnly: isView || keyFields.length === 0,
      fields,
      keyFields,
      cursorCandidates: cursorCandidates(fields),
      from: `${quote(schema)}.${quote(table)}`,
    })
  }
  return types
}

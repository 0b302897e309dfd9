import { cursorCandidates, type FieldInfo, type RecordTypeInfo } from '../../sdk/index.ts'
import type { MysqlQueryable, MysqlRow } from './mysql-driver.ts'
import { fieldTypeOf } from './mysql-values.ts'

/** A record type with the facts the bridge itself needs beyond {@link RecordTypeInfo}. */
export interface MysqlRecordType extends RecordTypeInfo {
  /** The AUTO_INCREMENT column, when the table has one. */
  readonly autoIncrement?: string
}

/** What the introspector must know about the server. */
export interface IntrospectOptions {
  /** MariaDB stores JSON as LONGTEXT with a `json_valid()` CHECK, found only in its catalogue. */
  readonly mariadb: boolean
  /** Only this table or view. */
  readonly only?: string
}

/**
 * Reads the tables and views of the connected database from `information_schema`: fields
 * in ordinal order with their portable types, primary keys in key order, cursor candidates.
 * Four catalogue queries in all, however many tables.
 */
export async function introspect(
  db: MysqlQueryable,
  options: IntrospectOptions,
): Promise<MysqlRecordType[]> {
  const only = options.only === undefined ? '' : ' AND TABLE_NAME = ?'
  const params = options.only === undefined ? [] : [options.only]
  const tables = await rows(
    db,
    `SELECT TABLE_NAME AS name, TABLE_TYPE AS kind FROM information_schema.TABLES
     WHERE TABLE_SCHEMA = DATABASE()${only} ORDER BY TABLE_NAME`,
    params,
  )
  if (tables.length === 0) return []
  const columns = await rows(
    db,
    `SELECT TABLE_NAME AS tableName, COLUMN_NAME AS name, DATA_TYPE AS dataType,
            COLUMN_TYPE AS columnType, IS_NULLABLE AS nullable, EXTRA AS extra,
            CHARACTER_MAXIMUM_LENGTH AS maxLength, NUMERIC_SCALE AS numericScale,
            DATETIME_PRECISION AS datetimePrecision
     FROM information_schema.COLUMNS
     WHERE TABLE_SCHEMA = DATABASE()${only} ORDER BY TABLE_NAME, ORDINAL_POSITION`,
    params,
  )
  const keys = await rows(
    db,
    `SELECT TABLE_NAME AS tableName, COLUMN_NAME AS name FROM information_schema.KEY_COLUMN_USAGE
     WHERE TABLE_SCHEMA = DATABASE() AND CONSTRAINT_NAME = 'PRIMARY'${only}
     ORDER BY TABLE_NAME, ORDINAL_POSITION`,
    params,
  )
  const jsonColumns = new Set<string>()
  if (options.mariadb) {
    const checks = await rows(
      db,
      `SELECT TABLE_NAME AS tableName, CHECK_CLAUSE AS clause FROM information_schema.CHECK_CONSTRAINTS
       WHERE CONSTRAINT_SCHEMA = DATABASE()${only}`,
      params,
    )
    for (const check of checks) {
      const m = /^json_valid\(`((?:[^`]|``)+)`\)$/i.exec(String(check.clause).trim())
      if (m) jsonColumns.add(`${String(check.tableName)}\u0000${m[1]!.replaceAll('``', '`')}`)
    }
  }

  const fieldsOf = new Map<string, FieldInfo[]>()
  const autoIncrementOf = new Map<string, string>()
  for (const c of columns) {
    const table = String(c.tableName)
    const name = String(c.name)
    const dataType = String(c.dataType)
    const columnType = String(c.columnType)
    const extra = String(c.extra ?? '')
    const type = fieldTypeOf(dataType, columnType, jsonColumns.has(`${table}\u0000${name}`))
    const autoIncrement = /auto_increment/i.test(extra)
    // `DEFAULT_GENERATED` (MySQL: an expression default) is writable; computed columns are not.
    const computed = /\b(?:VIRTUAL|STORED|PERSISTENT) GENERATED\b/i.test(extra)
    if (autoIncrement) autoIncrementOf.set(table, name)
    const maxLength =
      (dataType === 'char' || dataType === 'varchar') && c.maxLength != null
        ? Number(c.maxLength)
        : undefined
    const scale =
      type === 'decimal' && c.numericScale != null
        ? Number(c.numericScale)
        : (type === 'timestamp' || type === 'timestamptz' || type === 'time') &&
            c.datetimePrecision != null
          ? Number(c.datetimePrecision)
          : undefined
    const field: FieldInfo = {
      name,
      type,
      nativeType: columnType,
      nullable: c.nullable === 'YES',
      ...(autoIncrement || computed ? { generated: true } : {}),
      ...(maxLength !== undefined ? { maxLength } : {}),
      ...(scale !== undefined ? { scale } : {}),
    }
    const list = fieldsOf.get(table)
    if (list) list.push(field)
    else fieldsOf.set(table, [field])
  }
  const keysOf = new Map<string, string[]>()
  for (const k of keys) {
    const table = String(k.tableName)
    const list = keysOf.get(table)
    if (list) list.push(String(k.name))
    else keysOf.set(table, [String(k.name)])
  }

  return tables.map((t): MysqlRecordType => {
    const name = String(t.name)
    const kind = t.kind === 'VIEW' ? 'view' : 'table'
    const fields = fieldsOf.get(name) ?? []
    const keyFields = kind === 'view' ? [] : (keysOf.get(name) ?? [])
    const autoIncrement = autoIncrementOf.get(name)
    return {
      name,
      kind,
      // Views and keyless tables can be read but not written (a write could not name its row).
      readOnly: kind === 'view' || keyFields.length === 0,
      fields,
      keyFields,
      cursorCandidates: cursorCandidates(fields),
      ...(autoIncrement !== undefined ? { autoIncrement } : {}),
    }
  })
}

/** A record type as the public {@link RecordTypeInfo}, without the bridge's own facts. */
export function publicRecordType(type: MysqlRecordType): RecordTypeInfo {
  const { autoIncrement: _, ...info } = type
  return info
}

async function rows(
  db: MysqlQueryable,
  sql: string,
  params: readonly unknown[],
): Promise<MysqlRow[]> {
  const [result] = await db.query(sql, params)
  return result as MysqlRow[]
}

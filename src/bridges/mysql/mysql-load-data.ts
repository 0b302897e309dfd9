import { Readable } from 'node:stream'
import { type FieldInfo, mysqlDialect, type WriteOp } from '../../sdk/index.ts'
import { keyOf } from '../shared/read-plan.ts'
import type { MysqlQueryable, MysqlResultHeader } from './mysql-driver.ts'
import type { MysqlRecordType } from './mysql-introspector.ts'
import { type DriverValue, NumberLiteral, toDriver } from './mysql-values.ts'

const q = mysqlDialect.quoteIdentifier

type CreateOp = Extract<WriteOp, { op: 'create' }>

/**
 * Creates as `LOAD DATA LOCAL INFILE`, the server's bulk path: InnoDB takes a batch of a
 * thousand rows in three quarters of the time a multi-row INSERT of the same rows takes, and
 * the tab-separated text is cheaper to build than escaped literals (docs/bridges.md).
 *
 * LOCAL turns duplicate keys and bad values into warnings: the server skips or coerces the
 * row and goes on, because it cannot stop the client mid-file. So the load runs in its own
 * transaction and is kept only when it added every row without a warning; otherwise it is
 * rolled back and `undefined` tells the caller to write the batch the careful way, which
 * reports each bad record as before. The stream answers only this statement's request,
 * whatever file name a server asks for: nothing on the client's disk is ever read. Returns
 * the created records' keys, or undefined when the batch cannot be loaded (see keysOf).
 */
export async function loadCreates(
  db: MysqlQueryable,
  type: MysqlRecordType,
  fields: readonly FieldInfo[],
  ops: readonly WriteOp[],
  server: LoadServer,
): Promise<string[] | undefined> {
  const keys = keysOf(type, fields, ops, server)
  if (keys === undefined) return undefined
  const text = loadDataText(fields, ops as readonly CreateOp[])
  if (text === undefined) return undefined
  const sql =
    `LOAD DATA LOCAL INFILE 'opensync-batch' INTO TABLE ${q(type.name)} CHARACTER SET utf8mb4 ` +
    `FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ` +
    `(${fields.map((f) => q(f.name)).join(', ')})`
  await db.query('START TRANSACTION')
  let loaded = false
  let first = 0n
  try {
    const [result] = await db.query({ sql, infileStreamFactory: () => Readable.from([text]) })
    const header = result as MysqlResultHeader
    loaded = header.affectedRows === ops.length && (header.warningStatus ?? 0) === 0
    // The OK packet of a load carries no insert id; the session's LAST_INSERT_ID() does.
    if (loaded && keys === 'generated') {
      const [rows] = await db.query('SELECT LAST_INSERT_ID() AS id')
      first = BigInt(String((rows as { id: number | string }[])[0]!.id))
    }
  } finally {
    await db.query(loaded ? 'COMMIT' : 'ROLLBACK')
  }
  if (!loaded) return undefined
  if (keys === 'given') return ops.map((op) => keyOf(type, (op as CreateOp).values))
  // Generated: consecutive from the first, at the server's step (see keysOf); the key is that
  // one column, so the record's other values do not enter it.
  const step = BigInt(server.autoIncrementStep)
  const last = first + BigInt(ops.length - 1) * step
  const generated = type.autoIncrement!
  const keyAt =
    last <= BigInt(Number.MAX_SAFE_INTEGER)
      ? (i: number) => String(Number(first) + i * server.autoIncrementStep)
      : (i: number) => (first + BigInt(i) * step).toString()
  const created = new Array<string>(ops.length)
  for (let i = 0; i < ops.length; i++) created[i] = keyOf(type, { [generated]: keyAt(i) })
  return created
}

/** What the load must know about the server. */
export interface LoadServer {
  /** `@@auto_increment_increment`. */
  readonly autoIncrementStep: number
  /** `@@innodb_autoinc_lock_mode`; undefined when the server has no such setting. */
  readonly autoIncLockMode: number | undefined
}

/**
 * How the keys of a batch are known without asking the server, or undefined when the batch
 * cannot be loaded. Plain creates, no binary or unknown field, and either
 * - `given`: every key field named, with keys whose text is what the server stores (integers,
 *   and VARCHAR without trailing blanks, which a CHAR column would drop); or
 * - `generated`: the one key is the AUTO_INCREMENT column and no row names it. A load is a
 *   "bulk insert" to InnoDB: with `innodb_autoinc_lock_mode` 0 or 1 (MariaDB's default) it
 *   holds the table's AUTO-INC lock to the end of the statement, so its keys are consecutive
 *   from the first, which LAST_INSERT_ID() reports. With 2 (MySQL 8's default) they may
 *   interleave with another session's, and the batch is inserted as before.
 */
function keysOf(
  type: MysqlRecordType,
  fields: readonly FieldInfo[],
  ops: readonly WriteOp[],
  server: LoadServer,
): 'given' | 'generated' | undefined {
  if (ops.length === 0 || type.keyFields.length === 0) return undefined
  if (ops.some((op) => op.op !== 'create')) return undefined
  if (fields.some((f) => f.type === 'binary' || f.type === 'other')) return undefined
  const keys = type.keyFields.map((name) => fields.find((f) => f.name === name))
  if (keys.every((f) => f === undefined)) {
    const lockMode = server.autoIncLockMode
    const generated = type.keyFields.length === 1 && type.autoIncrement === type.keyFields[0]
    return generated && lockMode !== undefined && lockMode <= 1 ? 'generated' : undefined
  }
  if (keys.some((f) => f === undefined || !(f.type === 'integer' || isVarchar(f)))) return undefined
  for (const op of ops as readonly CreateOp[]) {
    for (const f of keys as FieldInfo[]) {
      const value = op.values[f.name]
      if (f.type === 'integer') {
        if (!(typeof value === 'bigint' || Number.isSafeInteger(value))) return undefined
      } else if (typeof value !== 'string' || value.length === 0 || value.trimEnd() !== value) {
        return undefined
      }
    }
  }
  return 'given'
}

const isVarchar = (f: FieldInfo) => f.type === 'string' && /^varchar\b/i.test(f.nativeType)

/**
 * The rows as LOAD DATA's default text format: tab between fields, newline after each row,
 * backslash escapes, `\N` for NULL. Undefined when a value has no text form (bytes).
 */
export function loadDataText(
  fields: readonly FieldInfo[],
  ops: readonly CreateOp[],
): Buffer | undefined {
  const rows = new Array<string>(ops.length)
  const cells = new Array<string>(fields.length)
  for (let i = 0; i < ops.length; i++) {
    const values = ops[i]!.values
    for (let j = 0; j < fields.length; j++) {
      const f = fields[j]!
      const cell = cellText(toDriver(values[f.name], f))
      if (cell === undefined) return undefined
      cells[j] = cell
    }
    rows[i] = cells.join('\t')
  }
  rows.push('')
  return Buffer.from(rows.join('\n'))
}

function cellText(value: DriverValue): string | undefined {
  if (value === null) return '\\N'
  switch (typeof value) {
    case 'string':
      return SPECIAL.test(value) ? value.replace(SPECIALS, escapeChar) : value
    case 'number':
    case 'bigint':
      return String(value)
    default:
      return value instanceof NumberLiteral ? value.toSqlString() : undefined
  }
}

/** What the format gives a meaning: the escape, the separators, and NUL. */
const SPECIAL = /[\\\t\n\r\0]/
const SPECIALS = /[\\\t\n\r\0]/g
const ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  '\t': '\\t',
  '\n': '\\n',
  '\r': '\\r',
  '\0': '\\0',
}
const escapeChar = (c: string) => ESCAPES[c]!

import {
  decodeKey,
  type FieldInfo,
  mysqlDialect,
  OpenSyncError,
  type RecordValues,
  stringifyJson,
  type WriteOp,
} from '../../sdk/index.ts'
import { keyOf } from '../shared/read-plan.ts'
import type { MysqlQueryable, MysqlResultHeader, MysqlRow } from './mysql-driver.ts'
import type { MysqlRecordType } from './mysql-introspector.ts'
import { type DriverValue, keyPartToDriver, readerFor, toDriver } from './mysql-values.ts'

const q = mysqlDialect.quoteIdentifier

/**
 * Parameters per statement. MySQL's binary protocol caps a statement at 65,535; the text
 * protocol this bridge uses has no such cap, but the cap keeps statements of one size
 * however they are sent, and the statement text well below `max_allowed_packet`.
 */
export const MAX_PARAMS = 50_000

/** What the writer must know about the server. */
export interface WriterServer {
  /** `INSERT … RETURNING` (MariaDB 10.5+). */
  readonly returning: boolean
  /** `@@auto_increment_increment`: the step between generated keys of one statement. */
  readonly autoIncrementStep: number
}

/** Where a write goes: a connection inside its transaction, the record type, the server. */
export interface WriteTarget {
  readonly db: MysqlQueryable
  readonly type: MysqlRecordType
  readonly server: WriterServer
}

/** The result of one op inside a group: its key, or an error of that op alone. */
export type OpOutcome = string | OpenSyncError

type ValuesOp = Extract<WriteOp, { op: 'create' | 'upsert' }>
type KeyedOp = Extract<WriteOp, { op: 'update' | 'delete' }>

/** How many parameters one op of a group binds, for chunking. */
export function paramsPerOp(op: WriteOp['op'], fields: number, keys: number): number {
  if (op === 'create' || op === 'upsert') return Math.max(1, fields)
  if (op === 'update') return keys + fields + 1
  return keys
}

/** A rough size of an op's values in statement text, to keep statements under the packet limit. */
export function textSizeOf(op: WriteOp): number {
  let size = op.op === 'update' || op.op === 'delete' ? op.key.length + 8 : 8
  if (op.op === 'delete') return size
  const values = op.values
  for (const name in values) {
    const value = values[name]
    if (typeof value === 'string') size += value.length * 2 + 4
    else if (value instanceof Uint8Array) size += value.byteLength * 2 + 4
    else if (value !== null && typeof value === 'object') size += stringifyJson(value).length + 4
    else size += 24
  }
  return size
}

/**
 * Applies ops of one kind and one field set as one statement (two for updates). Throws on
 * a statement error; the caller runs it in a savepoint and splits the group to find the
 * op at fault.
 */
export async function applyOps(
  target: WriteTarget,
  kind: WriteOp['op'],
  fields: readonly FieldInfo[],
  ops: readonly WriteOp[],
): Promise<OpOutcome[]> {
  switch (kind) {
    case 'create':
    case 'upsert':
      return insert(target, fields, ops as ValuesOp[], kind === 'upsert')
    case 'update':
      return update(target, fields, ops as KeyedOp[])
    case 'delete':
      return remove(target, ops as KeyedOp[])
  }
}

async function insert(
  target: WriteTarget,
  fields: readonly FieldInfo[],
  ops: readonly ValuesOp[],
  upsert: boolean,
): Promise<OpOutcome[]> {
  const { db, type, server } = target
  const keyFields = fieldsNamed(type, type.keyFields)
  // The values go into the statement escaped by the driver's own escape, as `?` placeholders
  // would, but joined once: the driver's formatting concatenates a thousand rows piece by
  // piece, and flattening that string cost more than building it (docs/benchmarks.md).
  const rows = new Array<string>(ops.length)
  const literals = new Array<string>(fields.length)
  for (let i = 0; i < ops.length; i++) {
    const values = ops[i]!.values
    for (let j = 0; j < fields.length; j++) {
      const f = fields[j]!
      literals[j] = db.escape(toDriver(values[f.name], f))
    }
    rows[i] = literals.join(', ')
  }
  let sql = `INSERT INTO ${q(type.name)} (${fields.map((f) => q(f.name)).join(', ')}) VALUES (${rows.join('), (')})`
  const updates = fields.filter((f) => !type.keyFields.includes(f.name)).map((f) => f.name)
  if (upsert) {
    // VALUES(col) works on MariaDB and MySQL alike (MySQL 8 also offers a row alias).
    sql += ` ON DUPLICATE KEY UPDATE ${
      updates.length > 0
        ? updates.map((n) => `${q(n)} = VALUES(${q(n)})`).join(', ')
        : `${q(type.keyFields[0]!)} = ${q(type.keyFields[0]!)}`
    }`
  }

  if (server.returning) {
    // MariaDB returns one row per VALUES row, in order, also for rows ON DUPLICATE updated.
    const [returned] = await db.query(
      `${sql} RETURNING ${keyFields.map((f) => q(f.name)).join(', ')}`,
    )
    return (returned as MysqlRow[]).map((r) => keyOfRow(type, keyFields, r))
  }

  const given = type.keyFields.every((k) => fields.some((f) => f.name === k))
  const generated = type.autoIncrement
  if (given || !generated || !type.keyFields.includes(generated)) {
    if (!given) return ops.map(() => keysMissing(type))
    await db.query(sql)
    return ops.map((op) => keyOf(type, op.values))
  }
  if (upsert) {
    // Without RETURNING, only LAST_INSERT_ID(col) in the update clause tells which row an
    // upsert hit, and it holds one value per statement: so one statement per op here.
    const out: OpOutcome[] = []
    const set = `${q(generated)} = LAST_INSERT_ID(${q(generated)})${updates.length > 0 ? ', ' : ''}${updates.map((n) => `${q(n)} = VALUES(${q(n)})`).join(', ')}`
    for (const [i, op] of ops.entries()) {
      const [header] = await db.query(
        `INSERT INTO ${q(type.name)} (${fields.map((f) => q(f.name)).join(', ')}) VALUES (${rows[i]}) ON DUPLICATE KEY UPDATE ${set}`,
      )
      out.push(
        keyOf(type, { ...op.values, [generated]: String((header as MysqlResultHeader).insertId) }),
      )
    }
    return out
  }
  // MySQL: LAST_INSERT_ID() is the first key of a multi-row INSERT and the others follow
  // at @@auto_increment_increment. That holds for a "simple insert" (row count known up
  // front, no row naming its own key: groupOps gives all rows of a group the same fields)
  // with innodb_autoinc_lock_mode 0 or 1. With 2 (MySQL 8's default) the InnoDB manual
  // promises it only while no bulk insert (INSERT … SELECT, LOAD DATA) runs concurrently.
  const [header] = await db.query(sql)
  const first = BigInt(String((header as MysqlResultHeader).insertId))
  const step = BigInt(server.autoIncrementStep)
  return ops.map((op, i) =>
    keyOf(type, { ...op.values, [generated]: (first + BigInt(i) * step).toString() }),
  )
}

async function update(
  target: WriteTarget,
  fields: readonly FieldInfo[],
  ops: readonly KeyedOp[],
): Promise<OpOutcome[]> {
  const { db, type } = target
  const keyFields = fieldsNamed(type, type.keyFields)
  const parts = ops.map((op) => keyParams(keyFields, op.key))
  const valid = parts.flatMap((p, i) => (p ? [i] : []))
  const found = new Set<number>()
  if (valid.length > 0) {
    // Which records exist, locked until commit so none can vanish before the UPDATE.
    const params: DriverValue[] = []
    const rows = valid.map((i, n) => {
      params.push(i, ...parts[i]!)
      return n === 0
        ? `SELECT ? AS ${q('i')}, ${keyFields.map((_, j) => `? AS ${q(`k${j}`)}`).join(', ')}`
        : `SELECT ?${', ?'.repeat(keyFields.length)}`
    })
    const [hits] = await db.query(
      `SELECT v.${q('i')} AS i FROM (${rows.join(' UNION ALL ')}) AS v JOIN ${q(type.name)} AS t ON ${keyMatch(keyFields)} FOR UPDATE`,
      params,
    )
    for (const hit of hits as MysqlRow[]) found.add(Number(hit.i))
  }
  if (fields.length > 0 && found.size > 0) {
    const existing = valid.filter((i) => found.has(i))
    await updateJoined(target, keyFields, fields, ops, parts, lastOfEachKey(ops, existing))
  }
  return ops.map((op, i) => (found.has(i) ? op.key : notFound(type, op.key)))
}

/**
 * Updates records in one statement without locking them first: the outcomes when every op
 * named a record that exists (the statement matched one row per distinct key), `undefined`
 * otherwise. Outside a transaction the statement commits alone; after `undefined` the caller
 * updates them the locking way, which sets the same values again and tells which are gone.
 * Needs the connection's FOUND_ROWS flag: matched rows, not only the changed ones.
 */
export async function updateIfAllExist(
  target: WriteTarget,
  fields: readonly FieldInfo[],
  ops: readonly KeyedOp[],
): Promise<OpOutcome[] | undefined> {
  if (fields.length === 0) return undefined
  const keyFields = fieldsNamed(target.type, target.type.keyFields)
  const parts = ops.map((op) => keyParams(keyFields, op.key))
  if (parts.includes(undefined)) return undefined
  const last = lastOfEachKey(
    ops,
    ops.map((_, i) => i),
  )
  const matched = await updateJoined(target, keyFields, fields, ops, parts, last)
  return matched === last.length ? ops.map((op) => op.key) : undefined
}

/** The index of the last op of each key (a record updated twice takes its last values). */
function lastOfEachKey(ops: readonly KeyedOp[], indexes: readonly number[]): number[] {
  const last = new Map<string, number>()
  for (const i of indexes) last.set(ops[i]!.key, i)
  return [...last.values()]
}

/** `UPDATE … JOIN` the ops' values by key; returns the rows it matched. */
async function updateJoined(
  target: WriteTarget,
  keyFields: readonly FieldInfo[],
  fields: readonly FieldInfo[],
  ops: readonly KeyedOp[],
  parts: readonly (DriverValue[] | undefined)[],
  indexes: readonly number[],
): Promise<number> {
  const params: DriverValue[] = []
  const rows = indexes.map((i, n) => {
    const values = (ops[i] as Extract<WriteOp, { op: 'update' }>).values
    params.push(...parts[i]!, ...fields.map((f) => toDriver(values[f.name], f)))
    return n === 0
      ? `SELECT ${[...keyFields.map((_, j) => `? AS ${q(`k${j}`)}`), ...fields.map((_, j) => `? AS ${q(`c${j}`)}`)].join(', ')}`
      : `SELECT ?${', ?'.repeat(keyFields.length + fields.length - 1)}`
  })
  const set = fields.map((f, j) => `t.${q(f.name)} = v.${q(`c${j}`)}`).join(', ')
  const [header] = await target.db.query(
    `UPDATE ${q(target.type.name)} AS t JOIN (${rows.join(' UNION ALL ')}) AS v ON ${keyMatch(keyFields)} SET ${set}`,
    params,
  )
  return Number((header as MysqlResultHeader).affectedRows)
}

async function remove(target: WriteTarget, ops: readonly KeyedOp[]): Promise<OpOutcome[]> {
  const { db, type } = target
  const keyFields = fieldsNamed(type, type.keyFields)
  const parts = ops.map((op) => keyParams(keyFields, op.key))
  const valid = parts.filter((p): p is DriverValue[] => p !== undefined)
  if (valid.length > 0) {
    const where =
      keyFields.length === 1
        ? `${q(keyFields[0]!.name)} IN (${valid.map(() => '?').join(', ')})`
        : valid
            .map(() => `(${keyFields.map((f) => `${q(f.name)} = ?`).join(' AND ')})`)
            .join(' OR ')
    await db.query(`DELETE FROM ${q(type.name)} WHERE ${where}`, valid.flat())
  }
  // Deleting a record that is already gone reaches the wanted state: that is success.
  return ops.map((op, i) => (parts[i] ? op.key : notFound(type, op.key)))
}

function keyMatch(keyFields: readonly FieldInfo[]): string {
  return keyFields.map((f, j) => `t.${q(f.name)} = v.${q(`k${j}`)}`).join(' AND ')
}

/** The key's parts as parameters; `undefined` when the text is not a key of this type. */
function keyParams(keyFields: readonly FieldInfo[], key: string): DriverValue[] | undefined {
  try {
    return decodeKey(key, keyFields.length).map((part, j) => keyPartToDriver(part, keyFields[j]!))
  } catch {
    return undefined
  }
}

function keyOfRow(type: MysqlRecordType, keyFields: readonly FieldInfo[], row: MysqlRow): string {
  const values: Record<string, RecordValues[string]> = {}
  for (const f of keyFields) {
    const read = readerFor(f)
    const raw = row[f.name]
    values[f.name] = read ? read(raw) : (raw as RecordValues[string])
  }
  return keyOf(type, values)
}

function fieldsNamed(type: MysqlRecordType, names: readonly string[]): FieldInfo[] {
  return names.map((name) => type.fields.find((f) => f.name === name)!)
}

function notFound(type: MysqlRecordType, key: string): OpenSyncError {
  return new OpenSyncError('OSY_RECORD_NOT_FOUND', `no record with key ${key} in "${type.name}"`, {
    details: { recordType: type.name },
  })
}

function keysMissing(type: MysqlRecordType): OpenSyncError {
  return new OpenSyncError(
    'OSY_UNSUPPORTED',
    `a new record of "${type.name}" must give its key fields (${type.keyFields.join(', ')}): this server cannot return generated keys`,
    { details: { recordType: type.name } },
  )
}

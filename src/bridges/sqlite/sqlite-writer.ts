import {
  decodeKey,
  encodeKey,
  OpenSyncError,
  sqliteDialect,
  type Value,
  type WriteOp,
  type WriteResult,
} from '../../sdk/index.ts'
import type { SqliteDatabase, SqliteStatement } from './sqlite-driver.ts'
import { classifyRecordError } from './sqlite-errors.ts'
import type { SqliteRecordType } from './sqlite-introspector.ts'
import type { FieldCodec } from './sqlite-values.ts'

const q = sqliteDialect.quoteIdentifier

/** Prepares (or reuses) a statement of the handle; `rows` when it returns rows (read raw). */
export type PrepareStatement = (sql: string, rows: boolean) => SqliteStatement

/** A record type ready to be written: its description and one codec per field. */
export interface WriteTarget {
  readonly type: SqliteRecordType
  readonly codecs: ReadonlyMap<string, FieldCodec>
}

/** One op turned into a statement and its parameters, or the error that stops it early. */
type PlannedOp =
  | {
      readonly op: WriteOp['op']
      readonly statement: SqliteStatement
      readonly params: unknown[]
      readonly key?: string
    }
  | OpenSyncError

/** The statement of one op kind and field list, with the codecs of its parameters. */
interface Shape {
  readonly statement: SqliteStatement
  readonly codecs: readonly FieldCodec[]
  readonly fields: readonly string[]
}

/**
 * Applies a batch in one transaction, one prepared statement per op: in-process there is
 * no round trip to save, so a statement per op is SQLite's fastest bulk path, and a failing
 * op stands alone without bisection (writeIsolated's multi-row statements would add it, and
 * SQLite leaves the order of RETURNING rows unspecified). SQLite undoes a failing statement
 * by itself, so an op needs its own SAVEPOINT only where a failure can leave part of it
 * behind — a trigger or an `ON CONFLICT FAIL` clause; elsewhere the savepoint would cost a
 * third of the write rate for nothing.
 *
 * Two failures take the whole transaction with them: a constraint declared `ON CONFLICT
 * ROLLBACK` (or a trigger's `RAISE(ROLLBACK)`), and a deferred foreign key that fails at
 * COMMIT. Then each op is retried in a transaction of its own, so the bad ones are found
 * and the good ones still land.
 */
export function writeBatch(
  db: SqliteDatabase,
  prepare: PrepareStatement,
  target: WriteTarget,
  ops: readonly WriteOp[],
): WriteResult[] {
  const plan = planOps(prepare, target, ops)
  return (
    inOneTransaction(db, prepare, target, plan) ??
    plan.map((p) => inOwnTransaction(db, prepare, target, p))
  )
}

function inOneTransaction(
  db: SqliteDatabase,
  prepare: PrepareStatement,
  target: WriteTarget,
  plan: readonly PlannedOp[],
): WriteResult[] | undefined {
  const savepoint = prepare('SAVEPOINT osy_op', false)
  const release = prepare('RELEASE osy_op', false)
  const undo = prepare('ROLLBACK TO osy_op', false)
  // IMMEDIATE takes the write lock now, so waiting for another writer happens here, under
  // the busy timeout, not as an unretryable lock upgrade halfway through the batch.
  const isolate = target.type.partialFailures
  prepare('BEGIN IMMEDIATE', false).run()
  try {
    const results: WriteResult[] = []
    for (const p of plan) {
      if (p instanceof OpenSyncError) {
        results.push({ ok: false, error: p })
        continue
      }
      if (isolate) savepoint.run()
      try {
        results.push(runOp(p, target))
        if (isolate) release.run()
      } catch (error) {
        const classified = classifyRecordError(error, target.type.name)
        if (!classified) throw error
        if (!db.inTransaction) return undefined
        if (isolate) {
          undo.run()
          release.run()
        }
        results.push({ ok: false, error: classified })
      }
    }
    try {
      prepare('COMMIT', false).run()
    } catch (error) {
      if (!classifyRecordError(error, target.type.name)) throw error
      return undefined
    }
    return results
  } finally {
    if (db.inTransaction) prepare('ROLLBACK', false).run()
  }
}

function inOwnTransaction(
  db: SqliteDatabase,
  prepare: PrepareStatement,
  target: WriteTarget,
  p: PlannedOp,
): WriteResult {
  if (p instanceof OpenSyncError) return { ok: false, error: p }
  prepare('BEGIN IMMEDIATE', false).run()
  try {
    const result = runOp(p, target)
    prepare('COMMIT', false).run()
    return result
  } catch (error) {
    const classified = classifyRecordError(error, target.type.name)
    if (!classified) throw error
    return { ok: false, error: classified }
  } finally {
    if (db.inTransaction) prepare('ROLLBACK', false).run()
  }
}

function runOp(p: Exclude<PlannedOp, OpenSyncError>, target: WriteTarget): WriteResult {
  if (p.op === 'delete') {
    // Deleting a record that is already gone reaches the wanted state: not an error.
    p.statement.run(p.params)
    return { ok: true, key: p.key! }
  }
  const row = p.statement.get(p.params) as unknown[] | undefined
  if (!row) {
    if (p.op === 'update') return { ok: false, error: notFound(target, p.key!) }
    // Only a BEFORE trigger's RAISE(IGNORE) makes an INSERT … RETURNING return nothing.
    return {
      ok: false,
      error: new OpenSyncError(
        'OSY_CONSTRAINT_VIOLATION',
        `"${target.type.name}": a trigger discarded the record`,
        { details: { recordType: target.type.name } },
      ),
    }
  }
  const keys = target.type.keyFields
  return { ok: true, key: encodeKey(row.map((v, i) => target.codecs.get(keys[i]!)!.read(v))) }
}

/** Validates every op and picks its statement; shapes are shared by ops with the same fields. */
function planOps(
  prepare: PrepareStatement,
  target: WriteTarget,
  ops: readonly WriteOp[],
): PlannedOp[] {
  const { type, codecs } = target
  const table = q(type.name)
  const keys = type.keyFields
  const returning = ` RETURNING ${keys.map(q).join(', ')}`
  const where = keys.map((k) => `${q(k)} = ?`).join(' AND ')
  const keyCodecs = keys.map((k) => codecs.get(k)!)
  const shapes = new Map<string, Shape | OpenSyncError>()
  let last:
    | { op: WriteOp['op']; fields: readonly string[]; shape: Shape | OpenSyncError }
    | undefined

  const shapeOf = (op: WriteOp['op'], fields: readonly string[]): Shape | OpenSyncError => {
    // A batch is mostly ops of one shape: compare with the last one before building a map key.
    if (last && last.op === op && sameFields(last.fields, fields)) return last.shape
    const id = `${op}\u0000${fields.join('\u0000')}`
    let shape = shapes.get(id)
    if (!shape) {
      shape = buildShape(op, fields)
      shapes.set(id, shape)
    }
    last = { op, fields, shape }
    return shape
  }

  const buildShape = (op: WriteOp['op'], fields: readonly string[]): Shape | OpenSyncError => {
    const fieldCodecs: FieldCodec[] = []
    for (const name of fields) {
      const codec = codecs.get(name)
      if (!codec) {
        return new OpenSyncError('OSY_FIELD_NOT_FOUND', `"${type.name}" has no field "${name}"`, {
          details: { recordType: type.name, field: name },
        })
      }
      if (type.fields.find((f) => f.name === name)?.computed) {
        return new OpenSyncError(
          'OSY_UNSUPPORTED',
          `field "${name}" of "${type.name}" is computed by SQLite and cannot be written`,
          { details: { recordType: type.name, field: name } },
        )
      }
      fieldCodecs.push(codec)
    }
    const cols = fields.map(q).join(', ')
    const values = fields.map(() => '?').join(', ')
    let sql: string
    switch (op) {
      case 'create':
        sql = fields.length
          ? `INSERT INTO ${table} (${cols}) VALUES (${values})${returning}`
          : `INSERT INTO ${table} DEFAULT VALUES${returning}`
        break
      case 'upsert': {
        // With nothing but the key to set, a no-op update still makes RETURNING give the row.
        const set = fields.filter((f) => !keys.includes(f))
        const assignments = (set.length > 0 ? set : [keys[0]!])
          .map((f) => `${q(f)} = excluded.${q(f)}`)
          .join(', ')
        sql = fields.length
          ? `INSERT INTO ${table} (${cols}) VALUES (${values}) ON CONFLICT (${keys.map(q).join(', ')}) DO UPDATE SET ${assignments}${returning}`
          : `INSERT INTO ${table} DEFAULT VALUES${returning}`
        break
      }
      case 'update': {
        const set = fields.length
          ? fields.map((f) => `${q(f)} = ?`).join(', ')
          : `${q(keys[0]!)} = ${q(keys[0]!)}`
        sql = `UPDATE ${table} SET ${set} WHERE ${where}${returning}`
        break
      }
      case 'delete':
        sql = `DELETE FROM ${table} WHERE ${where}`
        break
    }
    return { statement: prepare(sql, op !== 'delete'), codecs: fieldCodecs, fields }
  }

  return ops.map((op): PlannedOp => {
    try {
      const fields = op.op === 'delete' ? [] : Object.keys(op.values)
      const shape = shapeOf(op.op, fields)
      if (shape instanceof OpenSyncError) return shape
      const params: unknown[] = []
      if (op.op !== 'delete') {
        const values = op.values as Readonly<Record<string, Value>>
        for (let i = 0; i < shape.fields.length; i++) {
          params.push(shape.codecs[i]!.write(values[shape.fields[i]!] ?? null))
        }
      }
      if (op.op === 'update' || op.op === 'delete') {
        const parts = keyParts(op.key, keys.length)
        if (!parts) return notFound(target, op.key)
        parts.forEach((part, i) => {
          params.push(keyCodecs[i]!.param(part))
        })
        return { op: op.op, statement: shape.statement, params, key: op.key }
      }
      return { op: op.op, statement: shape.statement, params }
    } catch (error) {
      const classified = classifyRecordError(error, type.name)
      if (!classified) throw error
      return classified
    }
  })
}

function sameFields(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** The parts of a key, or undefined when it cannot be a key of this type at all. */
function keyParts(key: string, arity: number): string[] | undefined {
  try {
    return decodeKey(key, arity)
  } catch {
    return undefined
  }
}

function notFound(target: WriteTarget, key: string): OpenSyncError {
  return new OpenSyncError(
    'OSY_RECORD_NOT_FOUND',
    `no record with key ${key} in "${target.type.name}"`,
    { details: { recordType: target.type.name } },
  )
}

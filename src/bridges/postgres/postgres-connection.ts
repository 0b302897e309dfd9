import {
  type BridgeConnection,
  type Checkpoint,
  decodeKey,
  type Filter,
  OpenSyncError,
  postgresDialect,
  type ReadKeysOptions,
  type ReadOptions,
  type RecordBatch,
  type RecordValues,
  type SourceRecord,
  throwIfAborted,
  type WriteOp,
  type WriteOptions,
  type WriteResult,
} from '../../sdk/index.ts'
import { countSql } from '../shared/count-query.ts'
import { groupOps, type OpGroup, writeIsolated } from '../shared/isolated-write.ts'
import { keysetPageSql } from '../shared/keyset-query.ts'
import {
  checkpointAfter,
  fieldLookup,
  keyedType,
  keyOf,
  planRead,
  type ReadPlan,
} from '../shared/read-plan.ts'
import { RecordTypeCache } from '../shared/record-type-cache.ts'
import {
  postgresSealHash,
  type RunSeal,
  sealed,
  sealSql,
  unsealedStart,
  withoutAtLeast,
} from '../shared/window-seal.ts'
import { canCopy, copyRows } from './postgres-copy.ts'
import type { PostgresPool, PostgresPoolClient } from './postgres-driver.ts'
import { classifyConnectionError, classifyRecordError } from './postgres-errors.ts'
import {
  introspect,
  type PostgresFieldInfo,
  type PostgresRecordType,
} from './postgres-introspector.ts'
import { toParam } from './postgres-values.ts'

const q = postgresDialect.quoteIdentifier

/** The name of a read's server-side cursor: one read at a time holds a client. */
const READ_CURSOR = 'osy_read'

/** Where the connection points, for error messages (never the password). */
export interface PostgresTarget {
  readonly host?: string
  readonly port?: number
  readonly database?: string
  readonly schema: string
}

/** A connection to one PostgreSQL schema through a pool. */
export class PostgresConnection implements BridgeConnection {
  readonly #pool: PostgresPool
  readonly #target: PostgresTarget
  /**
   * undefined_table, undefined_column, and datatype_mismatch (a column's type changed, so
   * the remembered array cast no longer fits): the schema changed since it was described.
   */
  readonly #types = new RecordTypeCache<PostgresRecordType>((error) =>
    ['42P01', '42703', '42804'].includes((error as { code?: string }).code ?? ''),
  )
  #closed?: Promise<void>

  constructor(pool: PostgresPool, target: PostgresTarget) {
    this.#pool = pool
    this.#target = target
  }

  async check(): Promise<void> {
    const client = await this.#client()
    try {
      const { rows } = await client.query<{ ok: boolean }>(
        'SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS ok',
        [this.#target.schema],
      )
      if (!rows[0]?.ok) {
        throw new OpenSyncError(
          'OSY_UNKNOWN_DATABASE',
          `schema "${this.#target.schema}" does not exist in database "${this.#target.database}"`,
          { details: { field: 'schema' } },
        )
      }
    } finally {
      client.release()
    }
  }

  /** The databases the user may connect to, templates left out. */
  async listDatabases(): Promise<readonly string[]> {
    const client = await this.#client()
    try {
      const { rows } = await client.query<{ name: string }>(
        `SELECT datname AS name FROM pg_database
         WHERE NOT datistemplate AND datallowconn AND has_database_privilege(datname, 'CONNECT')
         ORDER BY datname`,
      )
      return rows.map((r) => r.name)
    } catch (error) {
      throw classifyConnectionError(error, this.#target)
    } finally {
      client.release()
    }
  }

  async discover(): Promise<PostgresRecordType[]> {
    const client = await this.#client()
    try {
      const types = await introspect(client, this.#target.schema, q)
      this.#types.fill(types)
      return types
    } finally {
      client.release()
    }
  }

  read(type: string, options: ReadOptions = {}): AsyncIterable<RecordBatch> {
    return this.#read(type, options, false)
  }

  async count(type: string, options: { readonly filter?: Filter } = {}): Promise<number> {
    const client = await this.#client()
    try {
      const rt = await this.#describe(client, type)
      const { sql, params } = countSql(postgresDialect, rt.from, rt, options.filter)
      const { rows } = await this.#query<{ n: string | number }>(client, sql, params, type)
      return Number(rows[0]?.n ?? 0)
    } finally {
      client.release()
    }
  }

  async hasIndexOn(type: string, field: string): Promise<boolean | undefined> {
    const client = await this.#client()
    try {
      const rt = await this.#describe(client, type)
      // Tables only (plain or partitioned): a view's reads go to tables this cannot see.
      const { rows } = await client.query<{ kind: string; indexed: boolean }>(
        `SELECT c.relkind::text AS kind, EXISTS (
           SELECT 1 FROM pg_index i
           JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
           WHERE i.indrelid = c.oid AND a.attname = $2) AS indexed
         FROM pg_class c WHERE c.oid = $1::regclass`,
        [rt.from, field],
      )
      const row = rows[0]
      return row && (row.kind === 'r' || row.kind === 'p') ? row.indexed : undefined
    } catch {
      return undefined
    } finally {
      client.release()
    }
  }

  async *readKeys(type: string, options: ReadKeysOptions = {}): AsyncIterable<readonly string[]> {
    for await (const batch of this.#read(type, options, true)) {
      yield batch.records.map((r) => r.key)
    }
  }

  async write(
    type: string,
    ops: readonly WriteOp[],
    options: WriteOptions = {},
  ): Promise<readonly WriteResult[]> {
    const groups = groupOps(ops)
    const named = [...new Set(groups.flatMap((group) => group.fields))]
    const client = await this.#client()
    let inTransaction = false
    try {
      return await this.#types.use(
        type,
        async () => {
          // After a failed first run: end its transaction, so the type is described anew.
          if (inTransaction) await client.query('ROLLBACK')
          inTransaction = false
          return this.#describe(client, type)
        },
        async (rt) => {
          if (rt.readOnly) {
            throw new OpenSyncError(
              'OSY_READ_ONLY_RECORD_TYPE',
              `"${type}" is a ${rt.kind} without a writable key; it can be read but not written`,
              {
                details: { recordType: type },
              },
            )
          }
          await client.query('BEGIN')
          inTransaction = true
          const results: WriteResult[] = new Array(ops.length)
          for (const group of groups) {
            const apply = (slice: readonly WriteOp[]) =>
              this.#inSavepoint(client, () => applyGroup(client, rt, group, slice))
            const groupResults = await writeIsolated(
              group.ops as WriteOp[],
              apply,
              classifyRecordError,
              options.signal,
            )
            groupResults.forEach((r, i) => {
              results[group.indexes[i]!] = r
            })
          }
          await client.query('COMMIT')
          inTransaction = false
          return results
        },
        // A field the remembered type lacks may have been added since it was described.
        (rt) => named.every((name) => rt.fields.some((f) => f.name === name)),
      )
    } catch (error) {
      throw classifyConnectionError(error, this.#target)
    } finally {
      if (inTransaction) await client.query('ROLLBACK').catch(() => {})
      client.release()
    }
  }

  async close(): Promise<void> {
    this.#closed ??= this.#pool.end()
    return this.#closed
  }

  async #client(): Promise<PostgresPoolClient> {
    try {
      return await this.#pool.connect()
    } catch (error) {
      throw classifyConnectionError(error, this.#target)
    }
  }

  /**
   * Reads a record type (only its keys, for a key scan) page by page in one snapshot. Only
   * the first page can run again on a fresh description of the type: once records are
   * handed out, a schema change fails the read.
   */
  async *#read(type: string, options: ReadOptions, keysOnly: boolean): AsyncGenerator<RecordBatch> {
    throwIfAborted(options.signal)
    const client = await this.#client()
    let inTransaction = false
    try {
      const { rt, plan, seal, first } = await this.#types.use(
        type,
        async () => {
          // After a failed first run: end its transaction (aborted, and with a snapshot from
          // before the change), so the type is described as it is now.
          if (inTransaction) await client.query('ROLLBACK')
          inTransaction = false
          return this.#describe(client, type)
        },
        async (recordType) => {
          const rt = keyedType(recordType, options.keyFields)
          const plan = planRead(
            rt,
            keysOnly ? { ...options, fields: rt.keyFields } : options,
            postgresDialect,
          )
          // One snapshot for the whole read, so pages agree with each other; read-only so a
          // filter could never write even if validation were bypassed.
          await this.#query(client, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', [], type)
          inTransaction = true
          const seal = sealRunner(rt, plan, (sql, params) =>
            this.#query<{ n: number; d: string }>(client, sql, params, type),
          )
          // A window sealed by the last read and unchanged since: continue after its position.
          const sealed = keysOnly ? undefined : await unsealedStart(plan, seal)
          const started: ReadPlan = sealed ? { ...withoutAtLeast(plan), after: sealed.after } : plan
          const after = started.after?.map((v, i) => toParam(v, plan.order[i]))
          return {
            rt,
            plan: started,
            seal,
            first: await this.#open(client, rt, started, after, type),
          }
        },
      )
      let rows = first
      let previous: Checkpoint | undefined
      while (rows.length > 0) {
        const records: SourceRecord[] = rows.map((values) => ({ key: keyOf(rt, values), values }))
        const last = rows[rows.length - 1]!
        let checkpoint = checkpointAfter(plan, last)
        const final = rows.length < plan.batchSize
        if (final && checkpoint && !keysOnly) checkpoint = await sealed(checkpoint, plan, seal)
        yield checkpoint ? { records, checkpoint } : { records }
        previous = checkpoint
        if (final) break
        throwIfAborted(options.signal)
        rows = await this.#fetch(client, plan, type)
        // The last page was full and nothing followed: hand over the seal on its own.
        if (rows.length === 0 && previous && !keysOnly) {
          const withSeal = await sealed(previous, plan, seal)
          if (withSeal !== previous) yield { records: [], checkpoint: withSeal }
        }
      }
      await client.query('COMMIT')
      inTransaction = false
    } finally {
      if (inTransaction) await client.query('ROLLBACK').catch(() => {})
      client.release()
    }
  }

  /**
   * Opens the read's cursor after the keyset position `after` (from the start when absent) and
   * fetches its first page. The read is one statement, a server-side cursor in the read's
   * snapshot, fetched a page at a time: a keyset page per batch made the server scan and sort
   * the whole table for each page when no index serves the order (an unindexed cursor column),
   * a read that grew with the square of the table.
   */
  async #open(
    client: PostgresPoolClient,
    rt: PostgresRecordType,
    plan: ReadPlan,
    after: readonly unknown[] | undefined,
    type: string,
  ): Promise<RecordValues[]> {
    const statement = keysetPageSql({
      dialect: postgresDialect,
      from: rt.from,
      columns: plan.columns.map((f) => f.name),
      order: plan.order.map((f) => f.name),
      nullable: plan.order.map((f) => f.nullable),
      ...(plan.filter ? { filter: plan.filter } : {}),
      ...(after
        ? { after }
        : plan.atLeast !== undefined
          ? { atLeast: toParam(plan.atLeast, plan.order[0]) }
          : {}),
    })
    await this.#query(
      client,
      `DECLARE ${READ_CURSOR} NO SCROLL CURSOR FOR ${statement.sql}`,
      statement.params,
      type,
    )
    return this.#fetch(client, plan, type)
  }

  /** The next page of the read's cursor (see {@link #open}). */
  async #fetch(client: PostgresPoolClient, plan: ReadPlan, type: string): Promise<RecordValues[]> {
    const { rows } = await this.#query<RecordValues>(
      client,
      `FETCH FORWARD ${plan.batchSize} FROM ${READ_CURSOR}`,
      [],
      type,
    )
    return rows
  }

  /** Describes one record type from the catalogue; throws when there is none. */
  async #describe(client: PostgresPoolClient, type: string): Promise<PostgresRecordType> {
    const [rt] = await introspect(client, this.#target.schema, q, type)
    if (!rt) {
      throw new OpenSyncError(
        'OSY_RECORD_TYPE_NOT_FOUND',
        `no table or view "${type}" in schema "${this.#target.schema}"`,
        {
          details: { recordType: type },
        },
      )
    }
    return rt
  }

  async #query<R>(
    client: PostgresPoolClient,
    sql: string,
    params: readonly unknown[],
    type: string,
  ) {
    try {
      return await client.query<R>(sql, params)
    } catch (error) {
      if ((error as { code?: string }).code === '42P01') {
        throw new OpenSyncError(
          'OSY_RECORD_TYPE_NOT_FOUND',
          `table "${type}" was dropped while it was being read`,
          {
            cause: error,
            details: { recordType: type },
          },
        )
      }
      throw classifyConnectionError(error, this.#target)
    }
  }

  async #inSavepoint<T>(client: PostgresPoolClient, fn: () => Promise<T>): Promise<T> {
    await client.query('SAVEPOINT osy_write')
    try {
      const result = await fn()
      await client.query('RELEASE SAVEPOINT osy_write')
      return result
    } catch (error) {
      await client.query('ROLLBACK TO SAVEPOINT osy_write')
      throw error
    }
  }
}

/**
 * Runs one group as one statement over `unnest` of one array parameter per column: the
 * statement text stays the same size however many rows, and PostgreSQL parses it once.
 */
async function applyGroup(
  client: PostgresPoolClient,
  rt: PostgresRecordType,
  group: OpGroup<WriteOp['op']>,
  ops: readonly WriteOp[],
): Promise<(string | OpenSyncError)[]> {
  const field = fieldLookup(rt)
  const keys = rt.keyFields.map(field)
  const keyList = keys.map((k) => q(k.name)).join(', ')
  const returning = `RETURNING ${keys.map((k) => `t.${q(k.name)}`).join(', ')}`
  const arrays = (fields: readonly PostgresFieldInfo[], rows: readonly unknown[][]) => ({
    sql: fields.map((f, i) => `$${i + 1}::${f.arrayCast}[]`).join(', '),
    params: fields.map((_, i) => rows.map((row) => row[i])),
  })
  const keyParts = (key: string) => decodeKey(key, keys.length)

  if (group.op === 'create' || group.op === 'upsert') {
    const fields = group.fields.map(field)
    const rows = ops.map((op) =>
      fields.map((f) => toParam((op as { values: RecordValues }).values[f.name], f)),
    )
    const cols = fields.map((f) => q(f.name)).join(', ')
    if (fields.length === 0) {
      // Nothing to bind: every column takes its default. Rare enough for one statement each.
      const out: string[] = []
      for (const _ of ops) {
        const { rows: created } = await client.query<RecordValues>(
          `INSERT INTO ${rt.from} AS t DEFAULT VALUES ${returning}`,
        )
        out.push(keyOf(rt, created[0]!))
      }
      return out
    }
    if (group.op === 'create' && canCopy(rt, fields, rows.length)) {
      await copyRows(client, rt, cols, rows)
      return ops.map((op) => normalizeKey(rt, keyOf(rt, (op as { values: RecordValues }).values)))
    }
    const { sql: arraySql, params } = arrays(fields, rows)
    let sql = `INSERT INTO ${rt.from} AS t (${cols}) SELECT * FROM unnest(${arraySql})`
    if (group.op === 'upsert') {
      const updates = fields.filter((f) => !rt.keyFields.includes(f.name))
      sql += ` ON CONFLICT (${keyList}) DO ${
        updates.length > 0
          ? `UPDATE SET ${updates.map((f) => `${q(f.name)} = EXCLUDED.${q(f.name)}`).join(', ')}`
          : 'NOTHING'
      }`
    }
    // RETURNING yields rows in the order unnest produced them, which is the ops' order.
    const { rows: out } = await client.query<RecordValues>(`${sql} ${returning}`, params)
    if (out.length !== ops.length && group.op === 'upsert') {
      // ON CONFLICT DO NOTHING returns nothing for existing rows: their key is the one sent.
      return ops.map((op) => keyOf(rt, (op as { values: RecordValues }).values))
    }
    return out.map((values) => keyOf(rt, values))
  }

  if (group.op === 'update') {
    const fields = group.fields.map(field)
    const all = [...keys, ...fields]
    // A record updated twice in one batch takes its last op's values: of the rows of
    // `UPDATE … FROM` that match one record, PostgreSQL applies an arbitrary one.
    const last = new Map<string, Extract<WriteOp, { op: 'update' }>>()
    for (const op of ops)
      last.set((op as { key: string }).key, op as Extract<WriteOp, { op: 'update' }>)
    const rows = [...last.values()].map((u) => [
      ...keyParts(u.key),
      ...fields.map((f) => toParam(u.values[f.name], f)),
    ])
    const { sql: arraySql, params } = arrays(all, rows)
    const alias = all.map((_, i) => `c${i}`)
    const set = fields.map((f, i) => `${q(f.name)} = v.c${keys.length + i}`).join(', ')
    const match = keys.map((k, i) => `t.${q(k.name)} = v.c${i}`).join(' AND ')
    const { rows: out } = await client.query<RecordValues>(
      `UPDATE ${rt.from} AS t SET ${set} FROM unnest(${arraySql}) AS v(${alias.join(', ')}) WHERE ${match} ${returning}`,
      params,
    )
    const found = new Set(out.map((values) => keyOf(rt, values)))
    return ops.map((op) => {
      const key = (op as { key: string }).key
      return found.has(normalizeKey(rt, key)) ? key : notFound(rt, key)
    })
  }

  const rows = ops.map((op) => keyParts((op as { key: string }).key))
  const { sql: arraySql, params } = arrays(keys, rows)
  const alias = keys.map((_, i) => `c${i}`)
  const match = keys.map((k, i) => `t.${q(k.name)} = v.c${i}`).join(' AND ')
  await client.query(
    `DELETE FROM ${rt.from} AS t USING unnest(${arraySql}) AS v(${alias.join(', ')}) WHERE ${match}`,
    params,
  )
  return ops.map((op) => (op as { key: string }).key)
}

/** A key as the database would return it (`'007'` for an integer key reads back as `'7'`). */
function normalizeKey(rt: PostgresRecordType, key: string): string {
  const parts = decodeKey(key, rt.keyFields.length)
  const values: Record<string, string | number> = {}
  rt.keyFields.forEach((name, i) => {
    const f = rt.fields.find((x) => x.name === name)!
    const part = parts[i]!
    values[name] = f.type === 'integer' && /^-?\d+$/.test(part) ? String(BigInt(part)) : part
  })
  return keyOf(rt, values)
}

function notFound(rt: PostgresRecordType, key: string): OpenSyncError {
  return new OpenSyncError('OSY_RECORD_NOT_FOUND', `no record with key ${key} in "${rt.name}"`, {
    details: { recordType: rt.name },
  })
}

/** The window-seal digest of this read, run in its snapshot (src/bridges/shared/window-seal.ts). */
function sealRunner(
  rt: PostgresRecordType,
  plan: ReadPlan,
  query: (sql: string, params: readonly unknown[]) => Promise<{ rows: { n: number; d: string }[] }>,
): RunSeal {
  return async (lower, upper) => {
    const cursor = plan.order[0]!
    const { sql, params } = sealSql({
      dialect: postgresDialect,
      from: rt.from,
      plan,
      ...(plan.filter ? { filter: plan.filter } : {}),
      hash: postgresSealHash,
      lower: toParam(lower, cursor),
      upper: toParam(upper, cursor),
    })
    const { rows } = await query(sql, params)
    return { count: Number(rows[0]!.n), digest: String(rows[0]!.d) }
  }
}

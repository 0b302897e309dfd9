import {
  type BridgeConnection,
  type BridgeRegistry,
  coerceError,
  type FieldInfo,
  type Filter,
  type FilterParameterValue,
  filterColumns,
  isOpenSyncError,
  mysqlDialect,
  parseSqlFilter,
  postgresDialect,
  type RecordTypeInfo,
  type SqlDialect,
  silentLogger,
  sqliteDialect,
} from '../sdk/index.ts'
import type { ResolvedPair, ResolvedTask, Side } from './task/resolved-task.ts'

/** One thing wrong with a task, at the path of the task file it is about. */
export interface CheckProblem {
  /** Where in the task file: `pairs[0].crm.filter`, `systems.erp`, `pairs[1].fields.email`. */
  readonly path: string
  readonly message: string
  /** The error code behind it, when there is one (OSY_INVALID_FILTER, OSY_UNREACHABLE, …). */
  readonly code?: string
}

/** What `checkTask` looked at, and what it found. */
export interface CheckReport {
  readonly problems: readonly CheckProblem[]
  /** Record types, fields, filters and transforms checked against the systems. */
  readonly checked: {
    readonly recordTypes: number
    readonly fields: number
    readonly filters: number
    readonly transforms: number
  }
}

/** The SQL dialect filters of a built-in SQL bridge are parsed in. */
const FILTER_DIALECTS: Readonly<Record<string, SqlDialect>> = {
  postgres: postgresDialect,
  mysql: mysqlDialect,
  sqlite: sqliteDialect,
}

/** Unknown column names an offline parse adds before it gives up. */
const MAX_OFFLINE_COLUMNS = 64

/**
 * The part of the check that needs no connection: every SQL filter is parsed by the real SQL
 * parser of its bridge's dialect and must be one boolean condition (no second statement, no
 * subquery, no comment…) — `1=1; DROP TABLE x` is refused here. Which columns exist is left
 * to {@link checkTask}. `tasks import` and the API refuse to activate a task that fails it.
 */
export function checkTaskOffline(task: ResolvedTask): CheckProblem[] {
  const problems: CheckProblem[] = []
  task.pairs.forEach((pair, i) => {
    for (const s of [0, 1] as const) {
      const filter = pair.sides[s].filter
      const dialect = FILTER_DIALECTS[task.systems[s].bridge]
      if (!filter || !dialect) continue
      for (const sql of sqlFilters(filter)) {
        const problem = offlineSqlProblem(sql.text, dialect, sql.parameters)
        if (problem)
          problems.push({
            path: `pairs[${i}].${task.systems[s].key}.filter`,
            message: problem,
            code: 'OSY_INVALID_FILTER',
          })
      }
    }
  })
  return problems
}

/**
 * Connects to both systems and checks the task against what they really have: every record
 * type, mapped field, cursor, key, external ID and match key exists; a side the pair writes
 * is writable and has a key; every filter compiles and runs against the record type (one
 * record read); every transform converts the first record each way it flows. Lists every
 * problem at once; writes nothing, anywhere (not even to the metadata store).
 */
export async function checkTask(
  task: ResolvedTask,
  options: { readonly registry: BridgeRegistry; readonly signal?: AbortSignal },
): Promise<CheckReport> {
  const problems: CheckProblem[] = [...checkTaskOffline(task)]
  const checked = { recordTypes: 0, fields: 0, filters: 0, transforms: 0 }
  const conns: (BridgeConnection | undefined)[] = [undefined, undefined]
  const types: (readonly RecordTypeInfo[] | undefined)[] = [undefined, undefined]
  try {
    for (const s of [0, 1] as const) {
      const system = task.systems[s]
      try {
        const bridge = options.registry.get(system.bridge)
        const conn = await bridge.connect(system.connection, {
          log: silentLogger,
          ...(options.signal ? { signal: options.signal } : {}),
          ...(system.settings ? { settings: system.settings } : {}),
        })
        conns[s] = conn
        await conn.check()
        types[s] = await conn.discover()
      } catch (error) {
        const e = coerceError(error)
        problems.push({ path: `systems.${system.key}`, message: e.message, code: e.code })
      }
    }
    for (const [i, pair] of task.pairs.entries()) {
      const found: (RecordTypeInfo | undefined)[] = [undefined, undefined]
      // A side with a problem already is not read: the read would only fail the same way.
      const clean = [false, false]
      for (const s of [0, 1] as const) {
        if (!types[s]) continue
        const at = `pairs[${i}].${task.systems[s].key}.`
        const mine = () =>
          problems.filter(
            (p) =>
              p.path.startsWith(at) ||
              (p.path.startsWith(`pairs[${i}].fields.`) &&
                p.message.startsWith(`${task.systems[s].key}.`)),
          ).length
        const before = mine()
        found[s] = checkSide(task, pair, i, s, types[s]!, problems, checked)
        clean[s] = mine() === before
      }
      checkMatch(task, pair, i, found, problems)
      // The first record of each side the pair reads: its filter runs, its transforms convert.
      const samples: (Readonly<Record<string, unknown>> | undefined)[] = [undefined, undefined]
      for (const s of [0, 1] as const) {
        if (!found[s] || !conns[s] || !clean[s]) continue
        const before = problems.length
        samples[s] = await firstRecord(task, pair, i, s, conns[s]!, found[s]!, problems)
        if (pair.sides[s].filter && problems.length === before) checked.filters++
      }
      for (const s of [0, 1] as const) {
        const sample = samples[s]
        if (!pair.flows[s] || !sample) continue
        for (const m of pair.mappings) {
          if (m.plain?.[s]) continue
          try {
            await m.convert(s, sample as never)
            checked.transforms++
          } catch (error) {
            const e = coerceError(error)
            problems.push({
              path: `pairs[${i}].fields.${m.id}`,
              message: `converting ${task.systems[s].key}'s first record fails: ${e.message}`,
              code: e.code,
            })
          }
        }
      }
    }
  } finally {
    await Promise.all(conns.map((c) => c?.close().catch(() => {})))
  }
  return { problems, checked }
}

/** The side's record type, fields, cursor, key and writability; the record type if found. */
function checkSide(
  task: ResolvedTask,
  pair: ResolvedPair,
  i: number,
  s: Side,
  types: readonly RecordTypeInfo[],
  problems: CheckProblem[],
  checked: { recordTypes: number; fields: number },
): RecordTypeInfo | undefined {
  const side = pair.sides[s]
  const key = task.systems[s].key
  const at = `pairs[${i}].${key}`
  const type = types.find((t) => t.name === side.type)
  if (!type) {
    problems.push({
      path: `${at}.type`,
      message: `${key} has no record type "${side.type}" (it has: ${types.map((t) => t.name).join(', ') || 'none'})`,
      code: 'OSY_RECORD_TYPE_NOT_FOUND',
    })
    return undefined
  }
  checked.recordTypes++
  const fields = new Map(type.fields.map((f) => [f.name, f]))
  const need = (field: string, path: string, what: string): FieldInfo | undefined => {
    const f = fields.get(field)
    if (!f)
      problems.push({
        path,
        message: `${key}.${side.type} has no field "${field}" (${what}; it has: ${[...fields.keys()].join(', ')})`,
        code: 'OSY_FIELD_NOT_FOUND',
      })
    else checked.fields++
    return f
  }
  for (const m of pair.mappings)
    for (const f of m.fields[s]) need(f, `pairs[${i}].fields.${m.id}`, `mapping ${m.id}`)
  if (side.cursor) {
    const c = need(side.cursor, `${at}.cursor`, 'cursor')
    if (
      c &&
      !['integer', 'bigint', 'decimal', 'timestamp', 'timestamptz', 'date', 'string'].includes(
        c.type,
      )
    )
      problems.push({
        path: `${at}.cursor`,
        message: `${key}.${side.type}.${side.cursor} is of type ${c.type} (${c.nativeType}), which cannot order changes: a cursor is a timestamp, a number or a text that grows`,
      })
  }
  if (side.externalId) need(side.externalId, `${at}.externalId`, 'externalId')
  for (const f of side.key ?? []) need(f, `${at}.key`, 'key')
  if (!side.key && type.keyFields.length === 0)
    problems.push({
      path: `${at}.key`,
      message: `${key}.${side.type} has no primary key, so its records cannot be linked: name the fields that identify a record with key: [field, …]`,
      code: 'OSY_UNSUPPORTED',
    })
  if (pair.flows[1 - s] && type.readOnly)
    problems.push({
      path: `${at}.type`,
      message: `${key}.${side.type} is read-only, but the pair writes to it`,
      code: 'OSY_READ_ONLY_RECORD_TYPE',
    })
  const filter = side.filter
  if (filter && !('sql' in filter) && !('all' in filter)) {
    const columns = 'expr' in filter ? filterColumns(filter.expr) : Object.keys(keyValueOf(filter))
    for (const c of columns) need(c, `${at}.filter`, 'filter')
  }
  return type
}

/** Match keys name mappings (by id) whose fields exist on both sides. */
function checkMatch(
  task: ResolvedTask,
  pair: ResolvedPair,
  i: number,
  found: readonly (RecordTypeInfo | undefined)[],
  problems: CheckProblem[],
): void {
  for (const id of pair.match) {
    const m = pair.mappings.find((x) => x.id === id)
    if (!m) {
      problems.push({
        path: `pairs[${i}].match`,
        message: `match key "${id}" is not a mapping of the pair (mappings: ${pair.mappings.map((x) => x.id).join(', ')})`,
      })
      continue
    }
    for (const s of [0, 1] as const) {
      if (m.fields[s].length === 0 && found[s])
        problems.push({
          path: `pairs[${i}].match`,
          message: `match key "${id}" has no field on ${task.systems[s].key}`,
        })
    }
  }
}

/** Reads one record of a side with its filter: the filter compiles and runs, or a problem. */
async function firstRecord(
  task: ResolvedTask,
  pair: ResolvedPair,
  i: number,
  s: Side,
  conn: BridgeConnection,
  type: RecordTypeInfo,
  problems: CheckProblem[],
): Promise<Readonly<Record<string, unknown>> | undefined> {
  const side = pair.sides[s]
  const keyFields = side.key ? { keyFields: [...side.key] } : {}
  const known = new Set(type.fields.map((f) => f.name))
  const fields = [...new Set(pair.mappings.flatMap((m) => m.fields[s]))].filter((f) => known.has(f))
  try {
    for await (const batch of conn.read(side.type, {
      ...(side.filter ? { filter: side.filter } : {}),
      ...(fields.length > 0 ? { fields } : {}),
      batchSize: 1,
      ...keyFields,
    })) {
      return batch.records[0]?.values
    }
  } catch (error) {
    const e = coerceError(error)
    // A missing field is reported above by name; its read failing says nothing new.
    if (isOpenSyncError(error) && e.code === 'OSY_FIELD_NOT_FOUND') return undefined
    problems.push({
      path: `pairs[${i}].${task.systems[s].key}${side.filter ? '.filter' : '.type'}`,
      message: `reading ${task.systems[s].key}.${side.type}${side.filter ? ' with its filter' : ''} fails: ${e.message}`,
      code: e.code,
    })
  }
  return undefined
}

/** The SQL texts of a filter (inside `all` too), with their parameters. */
function sqlFilters(
  filter: Filter,
): { text: string; parameters: Readonly<Record<string, FilterParameterValue>> | undefined }[] {
  if ('sql' in filter) return [{ text: filter.sql, parameters: filter.parameters }]
  if ('all' in filter) return filter.all.flatMap(sqlFilters)
  return []
}

function keyValueOf(filter: Filter): Readonly<Record<string, unknown>> {
  return 'keyValue' in filter ? (filter.keyValue as Readonly<Record<string, unknown>>) : {}
}

/**
 * Parses an SQL filter without knowing the columns: each unknown column is taken as one of
 * text and the parse tried again, so everything but the column names is checked.
 */
function offlineSqlProblem(
  text: string,
  dialect: SqlDialect,
  parameters: Readonly<Record<string, FilterParameterValue>> | undefined,
): string | undefined {
  const fields: FieldInfo[] = []
  for (let n = 0; n <= MAX_OFFLINE_COLUMNS; n++) {
    try {
      parseSqlFilter(text, dialect, fields, parameters ?? {})
      return undefined
    } catch (error) {
      if (!isOpenSyncError(error)) throw error
      const column = error.details.field
      if (typeof column !== 'string' || fields.some((f) => f.name === column)) return error.message
      fields.push({ name: column, type: 'string', nativeType: 'text', nullable: true })
    }
  }
  return undefined
}

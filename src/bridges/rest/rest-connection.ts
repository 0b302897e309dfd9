import {
  type BridgeConnection,
  type BridgeLogger,
  type Checkpoint,
  type CheckpointValue,
  encodeKey,
  OpenSyncError,
  postgresDialect,
  type ReadOptions,
  type RecordBatch,
  type RecordTypeInfo,
  type RecordValues,
  type SourceRecord,
  throwIfAborted,
  toCheckpointValue,
  type Value,
  type WriteOp,
  type WriteOptions,
  type WriteResult,
} from '../../sdk/index.ts'
import { cursorCandidates } from '../../sdk/record-type.ts'
import { compileFilter } from '../shared/evaluate-filter.ts'
import { lagWindowStart } from '../shared/lag-window.ts'
import { keyedType, keyOf, planRead, type ReadPlan } from '../shared/read-plan.ts'
import { statusError } from './rest-errors.ts'
import { equalityValues, keysOfExpr } from './rest-filter.ts'
import { RequestGate } from './rest-gate.ts'
import type { HttpClient } from './rest-http.ts'
import { keyFieldsOf, type RestManifest, type RestRecordType } from './rest-manifest.ts'
import { atPath, listPages } from './rest-pagination.ts'
import type { RestType } from './rest-record-type.ts'
import { renderString, type TemplateScope } from './rest-template.ts'
import {
  declaredField,
  decodeValue,
  encodeValue,
  inferFields,
  parseBody,
  type RestFieldInfo,
  wrongType,
} from './rest-values.ts'
import { keyScope, writeRecords } from './rest-writer.ts'

/** Values of an incremental read's since parameter, by format. */
function formatSince(value: CheckpointValue, format: string): string {
  const text = String(value)
  const ms = () => Date.parse(/Z|[+-]\d{2}:?\d{2}$/.test(text) ? text : `${text}Z`)
  switch (format) {
    case 'iso-ms':
      return new Date(ms()).toISOString()
    case 'iso-seconds':
      return `${new Date(ms()).toISOString().slice(0, 19)}Z`
    case 'epoch-s':
      return String(Math.floor(ms() / 1000))
    case 'epoch-ms':
      return String(ms())
    case 'date':
      return text.slice(0, 10)
    default:
      return text
  }
}

/**
 * One connection to an HTTP API described by a manifest. Reads page through the list
 * request, filter what the API cannot, and keep the keyset contract: with a cursor, a
 * read since a checkpoint asks the API for records updated since (minus the manifest's
 * lookback) and drops those at or before the checkpoint here. When the API is declared to
 * return records in (cursor, key) order, each batch carries a checkpoint; otherwise only
 * the last one does, so a crash mid-read re-reads rather than skips.
 */
export class RestConnection implements BridgeConnection {
  readonly #manifest: RestManifest
  /** Write requests in flight, shared by write calls that overlap (concurrentWrites). */
  readonly #writes: RequestGate
  readonly #http: HttpClient
  readonly #scope: TemplateScope
  readonly #baseUrl: string
  readonly #log: BridgeLogger
  readonly #types = new Map<string, Promise<RestType>>()
  #closed = false

  constructor(options: {
    manifest: RestManifest
    http: HttpClient
    scope: TemplateScope
    baseUrl: string
    log: BridgeLogger
  }) {
    this.#manifest = options.manifest
    this.#writes = new RequestGate(options.manifest.concurrency)
    this.#http = options.http
    this.#scope = options.scope
    this.#baseUrl = options.baseUrl.replace(/\/+$/, '')
    this.#log = options.log
  }

  /** Requests sent so far (tests, bench). */
  get requests(): number {
    return this.#http.requests
  }

  async check(): Promise<void> {
    const [name, spec] = Object.entries(this.#manifest.recordTypes)[0]!
    for await (const _ of listPages(this.#http, {
      ...this.#listRequest(spec, { pageSize: 1 }),
      maxPages: 1,
    }))
      break
    this.#log.debug({ recordType: name }, 'REST check passed')
  }

  async discover(): Promise<readonly RecordTypeInfo[]> {
    return Promise.all(Object.keys(this.#manifest.recordTypes).map((name) => this.#type(name)))
  }

  async *read(type: string, options: ReadOptions = {}): AsyncIterable<RecordBatch> {
    throwIfAborted(options.signal)
    const info = keyedType(await this.#type(type), options.keyFields)
    const plan = planRead(info, options, postgresDialect)
    const byName = new Map(info.fields.map((f) => [f.name, f]))
    const order = plan.order.map((f) => byName.get(f.name)!)
    const columns = plan.columns.map((f) => f.name)
    const spec = info.spec
    const source = this.#source(info, plan, options)
    const keep = plan.filter ? compileFilter(plan.filter, info.fields) : undefined
    const size = plan.batchSize
    const ordered =
      plan.cursor !== undefined &&
      spec.incremental?.ordered === true &&
      plan.cursor === spec.incremental.field
    const seen = plan.filter && source.mayRepeat ? new Set<string>() : undefined

    let batch: SourceRecord[] = []
    let last: readonly CheckpointValue[] | undefined
    let max: readonly CheckpointValue[] | undefined
    let inOrder = ordered
    const positionOf = (values: RecordValues) =>
      order.map((f) => toCheckpointValue(values[f.name] ?? null))
    const checkpoint = (
      position: readonly CheckpointValue[] | undefined,
    ): Checkpoint | undefined =>
      plan.cursor && position ? { cursorField: plan.cursor, position } : undefined

    for await (const raw of source.records) {
      throwIfAborted(options.signal)
      for (const item of raw) {
        const values = this.#decode(info, item)
        if (keep && !keep(values)) continue
        if (plan.cursor) {
          const position = positionOf(values)
          if (plan.after && comparePositions(position, plan.after, order) <= 0) continue
          if (plan.atLeast !== undefined && compareValue(position[0]!, plan.atLeast, order[0]!) < 0)
            continue
          // Keyset pages read the boundary again: what is not past the last record was seen.
          if (source.keyset && last && comparePositions(position, last, order) <= 0) continue
          if (last && comparePositions(position, last, order) < 0) inOrder = false
          last = position
          if (!max || comparePositions(position, max, order) > 0) max = position
        }
        const key = keyOf(info, values)
        if (seen) {
          if (seen.has(key)) continue
          seen.add(key)
        }
        batch.push({ key, values: project(values, columns) })
        if (batch.length >= size) {
          const cp = inOrder ? checkpoint(last) : undefined
          yield cp ? { records: batch, checkpoint: cp } : { records: batch }
          batch = []
        }
      }
    }
    const cp = checkpoint(max)
    if (batch.length > 0 || (cp && !inOrder))
      yield cp ? { records: batch, checkpoint: cp } : { records: batch }
  }

  async write(
    type: string,
    ops: readonly WriteOp[],
    options: WriteOptions = {},
  ): Promise<readonly WriteResult[]> {
    const info = await this.#type(type)
    return writeRecords(
      {
        http: this.#http,
        type: info,
        gate: this.#writes,
        url: (path, scope, query) => this.#url(path, { ...this.#scope, ...scope }, query),
        scope: this.#scope,
        encode: (values) => this.#encode(info, values),
        check: (values) => {
          for (const f of info.fields) {
            const problem = wrongType(values[f.name], f)
            if (problem) return problem
          }
          return undefined
        },
        signal: options.signal,
      },
      ops,
    )
  }

  async close(): Promise<void> {
    this.#closed = true
  }

  // ------------------------------------------------------------------ helpers

  /** The record type, described once per connection (inferred fields need one page). */
  #type(name: string): Promise<RestType> {
    if (this.#closed) throw new OpenSyncError('OSY_INTERNAL', 'the REST connection is closed')
    let found = this.#types.get(name)
    if (!found) {
      found = this.#describe(name)
      found.catch(() => this.#types.delete(name))
      this.#types.set(name, found)
    }
    return found
  }

  async #describe(name: string): Promise<RestType> {
    const spec = this.#manifest.recordTypes[name]
    if (!spec) {
      throw new OpenSyncError(
        'OSY_RECORD_TYPE_NOT_FOUND',
        `the manifest has no record type "${name}" (record types: ${Object.keys(this.#manifest.recordTypes).join(', ')})`,
        { details: { recordType: name } },
      )
    }
    const keys = keyFieldsOf(spec)
    const fields = new Map<string, RestFieldInfo>()
    for (const [fieldName, field] of Object.entries(spec.fields)) {
      fields.set(fieldName, declaredField(fieldName, field, keys.includes(fieldName)))
    }
    if (spec.inferFields) {
      let sample: Record<string, unknown>[] = []
      for await (const page of listPages(this.#http, {
        ...this.#listRequest(spec, {}),
        maxPages: 1,
      })) {
        sample = page
        break
      }
      for (const f of inferFields(sample, keys)) if (!fields.has(f.name)) fields.set(f.name, f)
    }
    for (const k of keys) {
      if (!fields.has(k))
        fields.set(k, {
          name: k,
          type: 'string',
          nativeType: 'json:string',
          nullable: false,
          readOnlyField: false,
        })
    }
    const list = [...fields.values()].sort(
      (a, b) => Number(keys.includes(b.name)) - Number(keys.includes(a.name)),
    )
    const inc = spec.incremental?.field
    const candidates = cursorCandidates(list)
    const writable =
      spec.create !== undefined ||
      spec.update !== undefined ||
      spec.delete !== undefined ||
      spec.batch !== undefined
    return {
      name,
      kind: 'table',
      readOnly: !writable,
      fields: list,
      keyFields: [...keys],
      cursorCandidates: inc ? [inc, ...candidates.filter((c) => c !== inc)] : candidates,
      spec,
    }
  }

  /** Where a read's records come from: a filtered list, lookups by key, or the whole list. */
  #source(
    info: RestType,
    plan: ReadPlan,
    options: ReadOptions,
  ): { records: AsyncIterable<Record<string, unknown>[]>; mayRepeat: boolean; keyset?: boolean } {
    const spec = info.spec
    const signal = options.signal
    const params = spec.filterParams ?? {}
    if (plan.filter) {
      const keys = keysOfExpr(plan.filter, info.keyFields, (parts) => encodeKey(parts))
      const keyParam = info.keyFields.length === 1 ? params[info.keyFields[0]!] : undefined
      if (keys && !keyParam && spec.fetch)
        return { records: this.#fetchKeys(info, keys, signal), mayRepeat: true }
      const pushed = equalityValues(plan.filter, (field) => params[field] !== undefined)
      if (pushed) {
        return {
          records: this.#listByValues(spec, params[pushed.field]!, pushed.values, signal),
          mayRepeat: true,
        }
      }
    }
    const inc = spec.incremental
    if (plan.cursor && inc && plan.cursor === inc.field && (options.since || inc.keyset)) {
      const from = plan.atLeast ?? plan.after?.[0]
      const cursorField = info.fields.find((f) => f.name === plan.cursor)!
      const since =
        from === undefined || from === null
          ? undefined
          : inc.lookback > 0
            ? lagWindowStart(from, cursorField.type, inc.lookback)
            : from
      if (inc.keyset) {
        return {
          records: this.#keysetPages(spec, cursorField, since, signal),
          mayRepeat: true,
          keyset: true,
        }
      }
      const query: Record<string, string> = { ...stringQuery(inc.query) }
      if (since !== undefined && since !== null) query[inc.param] = formatSince(since, inc.format)
      return {
        records: listPages(this.#http, this.#listRequest(spec, { query, signal })),
        mayRepeat: false,
      }
    }
    const query =
      plan.cursor && spec.incremental?.field === plan.cursor
        ? stringQuery(spec.incremental.query)
        : {}
    return {
      records: listPages(this.#http, this.#listRequest(spec, { query, signal })),
      mayRepeat: false,
    }
  }

  /**
   * Keyset pages through the since parameter: the first page since `from`, each next one
   * since the last record's cursor value (inclusive, so ties at the boundary come again and
   * the reader drops what it has seen). A page whose records all share the since value is
   * asked again twice as large, so a run of equal cursor values longer than a page passes.
   */
  async *#keysetPages(
    spec: RestRecordType,
    cursorField: RestFieldInfo,
    from: CheckpointValue | undefined,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<Record<string, unknown>[]> {
    const inc = spec.incremental!
    let since = from
    let pageSize = spec.list.pageSize
    for (;;) {
      const query: Record<string, string> = { ...stringQuery(inc.query) }
      if (since !== undefined && since !== null) query[inc.param] = formatSince(since, inc.format)
      let page: Record<string, unknown>[] = []
      const request = { ...this.#listRequest(spec, { query, signal, pageSize }), maxPages: 1 }
      for await (const p of listPages(this.#http, request)) page = p
      yield page
      if (page.length < pageSize) return
      const lastValue = toCheckpointValue(decodeValue(page.at(-1)![inc.field], cursorField))
      const firstValue = toCheckpointValue(decodeValue(page[0]![inc.field], cursorField))
      if (lastValue === null) return
      if (
        firstValue === lastValue &&
        (since === lastValue || since === undefined || since === null)
      ) {
        pageSize *= 2
      } else pageSize = spec.list.pageSize
      since = lastValue
    }
  }

  /** Lists with `param=value`, per value or (multiValueFilters) up to 50 values a request. */
  async *#listByValues(
    spec: RestRecordType,
    param: string,
    values: readonly string[],
    signal: AbortSignal | undefined,
  ): AsyncGenerator<Record<string, unknown>[]> {
    const unique = [...new Set(values)]
    const groups = spec.multiValueFilters ? chunk(unique, 50) : unique.map((v) => [v])
    // Several small requests at once: a lookup of 500 e-mails is 500 requests otherwise in a row.
    const run = async (group: string[]) => {
      const out: Record<string, unknown>[] = []
      const request = this.#listRequest(spec, { signal })
      for (const v of group) request.url.searchParams.append(param, v)
      for await (const page of listPages(this.#http, request)) out.push(...page)
      return out
    }
    yield* parallelMap(groups, this.#manifest.concurrency, run)
  }

  /** Fetches records one by one by key (the manifest's `fetch`); a 404 is a record not there. */
  async *#fetchKeys(
    info: RestType,
    keys: readonly string[],
    signal: AbortSignal | undefined,
  ): AsyncGenerator<Record<string, unknown>[]> {
    const fetchSpec = info.spec.fetch!
    const path = fetchSpec.path ?? `${info.spec.path}/{{key}}`
    const run = async (key: string): Promise<Record<string, unknown>[]> => {
      const response = await this.#http.send({
        method: 'GET',
        url: this.#url(
          path,
          { ...this.#scope, key: keyScope({ type: info }, key) },
          stringQuery(fetchSpec.query),
        ).toString(),
        signal,
      })
      if (response.status === 404 || response.status === 410) return []
      if (response.status >= 400)
        throw statusError(response.status, response.text, `GET ${info.spec.path}/…`)
      const record = atPath(parseBody(response.text), fetchSpec.record)
      return record && typeof record === 'object' && !Array.isArray(record)
        ? [record as Record<string, unknown>]
        : []
    }
    yield* parallelMap([...new Set(keys)], this.#manifest.concurrency, run)
  }

  #listRequest(
    spec: RestRecordType,
    options: {
      query?: Record<string, string>
      pageSize?: number
      signal?: AbortSignal | undefined
    },
  ) {
    const query = { ...stringQuery(spec.list.query), ...options.query }
    return {
      url: this.#url(spec.list.path ?? spec.path, this.#scope, query),
      recordsPath: spec.list.records,
      pagination: spec.list.pagination,
      pageSize: options.pageSize ?? spec.list.pageSize,
      signal: options.signal,
    }
  }

  /** An absolute URL: the path with placeholders (values URL-encoded) under the base URL. */
  #url(path: string, scope: TemplateScope, query: Readonly<Record<string, string>> = {}): URL {
    const rendered = renderString(path, scope, encodeURIComponent)
    const url = /^https?:\/\//i.test(rendered)
      ? new URL(rendered)
      : new URL(`${this.#baseUrl}${rendered.startsWith('/') ? '' : '/'}${rendered}`)
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, renderString(v, scope))
    return url
  }

  #decode(info: RestType, item: Record<string, unknown>): RecordValues {
    const out: Record<string, Value> = {}
    for (const f of info.fields) out[f.name] = decodeValue(item[f.name], f)
    return out
  }

  /** A record's values as the API's JSON: read-only fields left out. */
  #encode(info: RestType, values: RecordValues): Record<string, unknown> {
    const byName = fieldsByName(info)
    const out: Record<string, unknown> = {}
    for (const [name, value] of Object.entries(values)) {
      const f = byName.get(name)
      if (f?.readOnlyField) continue
      out[name] = encodeValue(value, f)
    }
    return out
  }
}

const byNameCache = new WeakMap<RestType, Map<string, RestFieldInfo>>()

/** The fields of a type by name, made once per type (writes look them up per value). */
function fieldsByName(info: RestType): Map<string, RestFieldInfo> {
  let map = byNameCache.get(info)
  if (!map) {
    map = new Map(info.fields.map((f) => [f.name, f]))
    byNameCache.set(info, map)
  }
  return map
}

function project(values: RecordValues, columns: readonly string[]): RecordValues {
  if (columns.length === Object.keys(values).length) return values
  const out: Record<string, Value> = {}
  for (const c of columns) out[c] = values[c] ?? null
  return out
}

function stringQuery(
  query: Readonly<Record<string, string | number | boolean>> | undefined,
): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(query ?? {})) out[k] = String(v)
  return out
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

/** Runs `fn` over items, `limit` at a time, yielding results in order. */
export async function* parallelMap<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): AsyncGenerator<R> {
  const running: Promise<R>[] = []
  let next = 0
  const start = () => {
    const p = fn(items[next++]!)
    p.catch(() => {})
    running.push(p)
  }
  while (next < items.length && running.length < limit) start()
  while (running.length > 0) {
    const result = await running.shift()!
    if (next < items.length) start()
    yield result
  }
}

function compareValue(a: CheckpointValue, b: CheckpointValue, field: { type: string }): number {
  if (a === b) return 0
  if (a === null) return -1
  if (b === null) return 1
  if (field.type === 'integer' || field.type === 'decimal' || field.type === 'float') {
    const x = typeof a === 'number' ? a : Number(a)
    const y = typeof b === 'number' ? b : Number(b)
    if (typeof a === 'string' && typeof b === 'string' && /^-?\d+$/.test(a) && /^-?\d+$/.test(b)) {
      const bx = BigInt(a)
      const by = BigInt(b)
      return bx < by ? -1 : bx > by ? 1 : 0
    }
    return x < y ? -1 : x > y ? 1 : 0
  }
  const x = String(a)
  const y = String(b)
  return x < y ? -1 : x > y ? 1 : 0
}

function comparePositions(
  a: readonly CheckpointValue[],
  b: readonly CheckpointValue[],
  order: readonly { type: string }[],
): number {
  for (let i = 0; i < order.length; i++) {
    const c = compareValue(a[i] ?? null, b[i] ?? null, order[i]!)
    if (c !== 0) return c
  }
  return 0
}

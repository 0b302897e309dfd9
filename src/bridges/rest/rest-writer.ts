import {
  coerceError,
  decodeKey,
  encodeKey,
  OpenSyncError,
  type RecordValues,
  stringifyJson,
  type Value,
  type WriteOp,
  type WriteResult,
} from '../../sdk/index.ts'
import { statusError } from './rest-errors.ts'
import type { RequestGate } from './rest-gate.ts'
import type { HttpClient } from './rest-http.ts'
import type { RestBatch } from './rest-manifest.ts'
import { atPath } from './rest-pagination.ts'
import type { RestType } from './rest-record-type.ts'
import { renderJson, type TemplateScope } from './rest-template.ts'
import { decodeValue, parseBody } from './rest-values.ts'

/** What the writer needs from the connection. */
export interface WriteContext {
  readonly http: HttpClient
  readonly type: RestType
  /** The connection's write requests in flight, shared by every write call. */
  readonly gate: RequestGate
  readonly url: (path: string, scope: TemplateScope, query?: Record<string, string>) => URL
  readonly scope: TemplateScope
  readonly encode: (values: RecordValues) => Record<string, unknown>
  /** Why values do not fit their declared fields, or undefined. */
  readonly check: (values: RecordValues) => string | undefined
  readonly signal?: AbortSignal | undefined
}

type Kind = 'create' | 'update' | 'delete'

/**
 * Applies a batch of ops through the manifest's write requests, one result per op in
 * order. Ops of a kind with a batch endpoint go in batches of its size; the rest go one
 * request each, the connection's `concurrency` at a time (with other write calls), ops on the same key one after the other in their
 * order. A 4xx answer fails only its record (a batch refused as a whole is sent again
 * record by record when single requests are declared, so one bad record does not take the
 * others down). Transient failures that outlived the retries are reported per record, and
 * thrown when every op failed that way: the system is down, not the records bad.
 */
export async function writeRecords(
  ctx: WriteContext,
  input: readonly WriteOp[],
): Promise<WriteResult[]> {
  const spec = ctx.type.spec
  if (ctx.type.readOnly) {
    throw new OpenSyncError(
      'OSY_READ_ONLY_RECORD_TYPE',
      `the manifest declares no writes for "${ctx.type.name}"`,
      {
        details: { recordType: ctx.type.name },
      },
    )
  }
  let ops = input
  const stamp = spec.writeStamp
  if (stamp) {
    const now = new Date().toISOString()
    ops = ops.map((op) =>
      op.op === 'delete' ? op : ({ ...op, values: { ...op.values, [stamp]: now } } as WriteOp),
    )
  }
  const results: (WriteResult | undefined)[] = new Array(ops.length)
  const single: number[] = []
  const batched: Record<Kind, number[]> = { create: [], update: [], delete: [] }
  ops.forEach((op, i) => {
    if (op.op === 'upsert') {
      results[i] = fail('OSY_UNSUPPORTED', 'the REST bridge does not upsert: create or update')
      return
    }
    const kind: Kind = op.op
    const problem = op.op === 'delete' ? undefined : ctx.check(op.values)
    if (problem) {
      results[i] = {
        ok: false,
        error: new OpenSyncError('OSY_WRONG_TYPE', problem, {
          details: { recordType: ctx.type.name },
        }),
      }
      return
    }
    if (spec.batch?.[kind]) batched[kind].push(i)
    else if (!spec[kind])
      results[i] = fail(
        'OSY_UNSUPPORTED',
        `the manifest declares no ${kind} for "${ctx.type.name}"`,
      )
    else single.push(i)
  })

  const tasks: Promise<void>[] = []
  for (const kind of ['create', 'update', 'delete'] as const) {
    const indexes = batched[kind]
    if (indexes.length === 0) continue
    const batch = spec.batch![kind]!
    for (let i = 0; i < indexes.length; i += batch.size) {
      const part = indexes.slice(i, i + batch.size)
      tasks.push(ctx.gate.run(() => sendBatch(ctx, kind, batch, part, ops, results)))
    }
  }
  // Ops on one key wait for the one before them.
  const lastOnKey = new Map<string, Promise<void>>()
  for (const i of single) {
    const op = ops[i] as Exclude<WriteOp, { op: 'upsert' }>
    const key = op.op === 'create' ? undefined : op.key
    const before = key !== undefined ? lastOnKey.get(key) : undefined
    const run = (before ?? Promise.resolve()).then(() =>
      ctx.gate.run(async () => {
        results[i] = await sendOne(ctx, op)
      }),
    )
    if (key !== undefined) lastOnKey.set(key, run)
    tasks.push(run)
  }
  await Promise.all(tasks)
  const out = results.map((r) => r ?? fail('OSY_INTERNAL', 'no result'))
  const failed = out.filter((r) => !r.ok)
  // Refused credentials are the system's problem, not a record's: the run fails as a whole.
  const auth = failed.find((r) => !r.ok && r.error.code === 'OSY_AUTH_FAILED')
  if (auth && !auth.ok) throw auth.error
  if (
    out.length > 0 &&
    failed.length === out.length &&
    failed.every((r) => !r.ok && r.error.kind === 'transient')
  ) {
    throw (failed[0] as { error: OpenSyncError }).error
  }
  return out
}

/** One op, one request. */
async function sendOne(
  ctx: WriteContext,
  op: Exclude<WriteOp, { op: 'upsert' }>,
): Promise<WriteResult> {
  const spec = ctx.type.spec
  try {
    if (op.op === 'create') {
      const c = spec.create!
      const record = ctx.encode(op.values)
      const response = await ctx.http.send({
        method: c.method ?? 'POST',
        url: ctx.url(c.path ?? spec.path, { record }, strings(c.query)).toString(),
        ...(c.headers ? { headers: c.headers } : {}),
        body: bodyText(renderJson(c.body ?? '{{record}}', { ...ctx.scope, record })),
        signal: ctx.signal,
      })
      if (response.status >= 400) return { ok: false, error: refused(ctx, response, 'POST') }
      const body = response.text.trim() ? parseBody(response.text) : undefined
      const key = keyFrom(ctx, body, c.keyPath, op.values)
      return key === undefined
        ? fail(
            'OSY_SYSTEM_ERROR',
            `the create answer names no key${c.keyPath ? ` at "${c.keyPath}"` : ''}`,
          )
        : { ok: true, key }
    }
    const key = keyScope(ctx, op.key)
    if (op.op === 'update') {
      const u = spec.update!
      const record = ctx.encode(op.values)
      const response = await ctx.http.send({
        method: u.method ?? 'PATCH',
        url: ctx
          .url(u.path ?? `${spec.path}/{{key}}`, { key, record }, strings(u.query))
          .toString(),
        ...(u.headers ? { headers: u.headers } : {}),
        body: bodyText(renderJson(u.body ?? '{{record}}', { ...ctx.scope, key, record })),
        signal: ctx.signal,
      })
      if (response.status >= 400)
        return { ok: false, error: refused(ctx, response, u.method ?? 'PATCH', op.key) }
      return { ok: true, key: op.key }
    }
    const d = spec.delete!
    const response = await ctx.http.send({
      method: d.method ?? 'DELETE',
      url: ctx.url(d.path ?? `${spec.path}/{{key}}`, { key }, strings(d.query)).toString(),
      ...(d.headers ? { headers: d.headers } : {}),
      ...(d.body !== undefined
        ? { body: bodyText(renderJson(d.body, { ...ctx.scope, key })) }
        : {}),
      signal: ctx.signal,
    })
    // Gone already is what a delete wants.
    if (response.status === 404 || response.status === 410) return { ok: true, key: op.key }
    if (response.status >= 400)
      return { ok: false, error: refused(ctx, response, 'DELETE', op.key) }
    return { ok: true, key: op.key }
  } catch (error) {
    const e = coerceError(error, 'OSY_SYSTEM_ERROR')
    if (e.code === 'OSY_ABORTED' || e.code === 'OSY_LEASE_LOST') throw e
    return { ok: false, error: e }
  }
}

/** One batch request for the ops at `indexes` (all of one kind). */
async function sendBatch(
  ctx: WriteContext,
  kind: Kind,
  batch: RestBatch,
  indexes: readonly number[],
  ops: readonly WriteOp[],
  results: (WriteResult | undefined)[],
): Promise<void> {
  const spec = ctx.type.spec
  // The same key twice in one batch request: sent once with the values merged in order.
  const groups = new Map<string, number[]>()
  const items: unknown[] = []
  const itemOps: number[][] = []
  for (const i of indexes) {
    const op = ops[i] as Exclude<WriteOp, { op: 'upsert' }>
    if (op.op !== 'create') {
      const group = groups.get(op.key)
      if (group) {
        group.push(i)
        continue
      }
      groups.set(op.key, [i])
    }
    itemOps.push(op.op === 'create' ? [i] : groups.get(op.key)!)
  }
  for (const group of itemOps) {
    const op = ops[group[0]!]!
    if (op.op === 'create' || op.op === 'upsert') {
      const record = ctx.encode(op.values)
      items.push(renderJson(batch.item ?? '{{record}}', { ...ctx.scope, record }))
      continue
    }
    const key = keyScope(ctx, op.key)
    const keyValues = Object.fromEntries(
      ctx.type.keyFields.map((k) => [k, keyValueOf(ctx, k, key[k]!)]),
    )
    let values: RecordValues = {}
    for (const i of group) {
      const o = ops[i]!
      if (o.op === 'update') values = { ...values, ...o.values }
    }
    const record = { ...keyValues, ...ctx.encode(values) }
    items.push(renderJson(batch.item ?? '{{record}}', { ...ctx.scope, key, record }))
  }
  const setAll = (result: WriteResult, group: readonly number[]) => {
    for (const i of group) {
      const op = ops[i]!
      results[i] =
        result.ok && op.op !== 'create' && op.op !== 'upsert' ? { ok: true, key: op.key } : result
    }
  }
  let response: Awaited<ReturnType<HttpClient['send']>>
  try {
    response = await ctx.http.send({
      method: batch.method,
      url: ctx.url(batch.path ?? `${spec.path}/batch`, {}).toString(),
      body: bodyText(renderJson(batch.body ?? '{{records}}', { ...ctx.scope, records: items })),
      signal: ctx.signal,
    })
  } catch (error) {
    const e = coerceError(error, 'OSY_SYSTEM_ERROR')
    if (e.code === 'OSY_ABORTED' || e.code === 'OSY_LEASE_LOST') throw e
    for (const group of itemOps) setAll({ ok: false, error: e }, group)
    return
  }
  if (response.status >= 400) {
    // Refused as a whole: one by one, when the manifest allows, finds the bad record.
    if (spec[kind] && response.status < 500) {
      // (Inside this batch's slot of the gate: a few at a time, not through the gate again.)
      const each = itemOps.flat()
      for (let i = 0; i < each.length; i += ctx.gate.size) {
        await Promise.all(
          each.slice(i, i + ctx.gate.size).map(async (j) => {
            results[j] = await sendOne(ctx, ops[j] as Exclude<WriteOp, { op: 'upsert' }>)
          }),
        )
      }
      return
    }
    const e = refused(ctx, response, batch.method)
    for (const group of itemOps) setAll({ ok: false, error: e }, group)
    return
  }
  const body = response.text.trim() ? parseBody(response.text) : undefined
  const answers = atPath(body, batch.results)
  itemOps.forEach((group, n) => {
    const first = ops[group[0]!]!
    const answer = Array.isArray(answers) ? answers[n] : undefined
    const error = answer !== undefined ? atPath(answer, batch.errorPath) : undefined
    if (error !== undefined && error !== null && error !== false) {
      const message = typeof error === 'string' ? error : stringifyJson(error)
      const status = Number(atPath(answer, 'status'))
      const e =
        status >= 400
          ? statusError(status, message, `${batch.method} ${spec.path} item ${n}`)
          : new OpenSyncError('OSY_CONSTRAINT_VIOLATION', `${spec.path} item ${n}: ${message}`)
      setAll({ ok: false, error: e }, group)
      return
    }
    if (first.op === 'create' || first.op === 'upsert') {
      const key = keyFrom(ctx, answer, batch.keyPath, first.values)
      setAll(
        key === undefined
          ? fail('OSY_SYSTEM_ERROR', `the batch answer names no key for item ${n}`)
          : { ok: true, key },
        group,
      )
    } else setAll({ ok: true, key: first.key }, group)
  })
}

/** The key of a created record: at `keyPath` of the answer, else its key fields, else the values sent. */
function keyFrom(
  ctx: WriteContext,
  body: unknown,
  keyPath: string | undefined,
  sent: RecordValues,
): string | undefined {
  const fields = ctx.type.keyFields
  const byName = new Map(ctx.type.fields.map((f) => [f.name, f]))
  const at = keyPath ? atPath(body, keyPath) : body
  const parts: Value[] = []
  for (const name of fields) {
    let raw: unknown
    if (at !== null && typeof at === 'object' && !Array.isArray(at))
      raw = (at as Record<string, unknown>)[name]
    else if (keyPath && fields.length === 1) raw = at
    raw ??= sent[name]
    const value = decodeValue(raw, byName.get(name))
    if (value === null || value === undefined) return undefined
    parts.push(value)
  }
  return encodeKey(parts)
}

/** The key of a record as template scope: `{{key}}` the encoded key, `{{key.<field>}}` a part. */
export function keyScope(
  ctx: { type: { keyFields: readonly string[] } },
  key: string,
): Record<string, string> & { toString(): string } {
  const parts = decodeKey(key, ctx.type.keyFields.length)
  const scope: Record<string, string> = {}
  ctx.type.keyFields.forEach((k, i) => {
    scope[k] = parts[i]!
  })
  return Object.assign(Object.create({ toString: () => key }), scope)
}

/** A key part in the JSON type of its field (ids as numbers when they are integers). */
function keyValueOf(ctx: WriteContext, name: string, text: string): unknown {
  const field = ctx.type.fields.find((f) => f.name === name)
  return field?.type === 'integer' && /^-?\d+$/.test(text) ? decodeValue(text, field) : text
}

function refused(
  ctx: WriteContext,
  response: { status: number; text: string },
  method: string,
  key?: string,
): OpenSyncError {
  const e = statusError(
    response.status,
    response.text,
    `${method} ${ctx.type.spec.path}${key ? ` record ${key}` : ''}`,
  )
  return new OpenSyncError(e.code, e.message, {
    details: { ...e.details, recordType: ctx.type.name },
  })
}

function fail(
  code: 'OSY_UNSUPPORTED' | 'OSY_SYSTEM_ERROR' | 'OSY_INTERNAL',
  message: string,
): WriteResult {
  return { ok: false, error: new OpenSyncError(code, message) }
}

/**
 * A request body. Values are encoded with bigints as exact JSON numbers already, so plain
 * `JSON.stringify` serves; one nested deeper (a JSON document) falls back to `stringifyJson`.
 */
function bodyText(value: unknown): string {
  try {
    return JSON.stringify(value)
  } catch {
    return stringifyJson(value)
  }
}

function strings(
  query: Readonly<Record<string, string | number | boolean>> | undefined,
): Record<string, string> {
  return Object.fromEntries(Object.entries(query ?? {}).map(([k, v]) => [k, String(v)]))
}

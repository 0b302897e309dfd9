import { type RunResult, runTask } from '../engine/run-task.ts'
import type { ResolvedTask } from '../engine/task/index.ts'
import {
  type BridgeConnection,
  type BridgeRegistry,
  type ConnectionValues,
  capabilitiesOf,
  type Filter,
  isJsonNumber,
  isOpenSyncError,
  OpenSyncError,
  type RecordTypeInfo,
  silentLogger,
  type Value,
} from '../sdk/index.ts'
import type { Store } from '../store/index.ts'

/** A system as the wizard has it so far: a bridge and the values entered. */
export interface SystemInput {
  readonly bridge: string
  readonly connection: ConnectionValues
  /** Bridge settings (a REST manifest), as a task's `systems.<key>.settings`. */
  readonly settings?: Readonly<Record<string, unknown>>
}

/** What validating a filter found: valid, or the parser's message and where. */
export type FilterCheck =
  | { readonly valid: true }
  | {
      readonly valid: false
      readonly code: string
      readonly message: string
      /** 0-based offset into the condition, when the parser says where. */
      readonly position?: number
    }

/** A sample record: its key and its values as JSON. */
export interface SampleRecord {
  readonly key: string
  readonly values: Readonly<Record<string, unknown>>
}

/** What a dry run would do: totals, and the first planned changes of each kind. */
export interface TaskPreview {
  readonly status: RunResult['status']
  readonly totals: RunResult['totals']
  readonly counts: RunResult['counts']
  /** Per kind (create, update, delete, conflict, error, …): the first `limit` changes. */
  readonly changes: Record<string, PreviewChange[]>
  readonly error?: { readonly code: string; readonly message: string }
}

/** One planned change of a preview, named by system keys. */
export interface PreviewChange {
  readonly pairId: string
  readonly from: string
  readonly to: string
  readonly key: string
  readonly targetKey?: string
  /** The values it would write (or a conflict's two values, a failure's code and message). */
  readonly values?: unknown
}

/**
 * Opens a connection from the values entered, hands it to `fn`, and closes it. Bad values
 * are OSY_INVALID_CONNECTION; the system's answers are classified as the bridge does.
 */
export async function withConnection<T>(
  registry: BridgeRegistry,
  system: SystemInput,
  fn: (conn: BridgeConnection) => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  const bridge = registry.get(system.bridge)
  const conn = await bridge.connect(system.connection, {
    log: silentLogger,
    ...(signal ? { signal } : {}),
    ...(system.settings ? { settings: system.settings } : {}),
  })
  try {
    return await fn(conn)
  } finally {
    await conn.close().catch(() => {})
  }
}

/** Checks that the system answers and the credentials work. */
export function checkConnection(
  registry: BridgeRegistry,
  system: SystemInput,
  signal?: AbortSignal,
): Promise<void> {
  return withConnection(registry, system, (conn) => conn.check(), signal)
}

/** The record types of the system, with their fields, keys and cursor candidates. */
export function discoverTypes(
  registry: BridgeRegistry,
  system: SystemInput,
  signal?: AbortSignal,
): Promise<readonly RecordTypeInfo[]> {
  return withConnection(
    registry,
    system,
    async (conn) => {
      await conn.check()
      return conn.discover()
    },
    signal,
  )
}

/** The databases of the server the values point at (bridges with `listDatabases`). */
export function listDatabases(
  registry: BridgeRegistry,
  system: SystemInput,
  signal?: AbortSignal,
): Promise<readonly string[]> {
  const bridge = registry.get(system.bridge)
  if (!bridge.listDatabases || !capabilitiesOf(bridge).listDatabases) {
    throw new OpenSyncError(
      'OSY_UNSUPPORTED',
      `bridge ${bridge.name} cannot list the databases of a server`,
    )
  }
  return bridge.listDatabases(system.connection, {
    log: silentLogger,
    ...(signal ? { signal } : {}),
  })
}

/**
 * Up to `limit` records of a record type with the filter applied, read the way a run reads
 * them (the bridge parses the filter against the type's fields).
 */
export function sampleRecords(
  registry: BridgeRegistry,
  system: SystemInput,
  recordType: string,
  options: { filter?: Filter; limit?: number; signal?: AbortSignal } = {},
): Promise<SampleRecord[]> {
  const limit = Math.max(1, Math.min(options.limit ?? 20, 200))
  return withConnection(
    registry,
    system,
    async (conn) => {
      const type = (await conn.discover()).find((t) => t.name === recordType)
      if (!type) {
        throw new OpenSyncError(
          'OSY_RECORD_TYPE_NOT_FOUND',
          `the system has no record type "${recordType}"`,
          { details: { recordType } },
        )
      }
      const out: SampleRecord[] = []
      for await (const batch of conn.read(recordType, {
        ...(options.filter ? { filter: options.filter } : {}),
        batchSize: limit,
        ...(type.keyFields.length === 0 ? { keyFields: type.fields.map((f) => f.name) } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      })) {
        for (const r of batch.records) {
          out.push({ key: r.key, values: jsonValues(r.values) })
          if (out.length >= limit) return out
        }
      }
      return out
    },
    options.signal,
  )
}

/**
 * Checks a filter for a record type by letting the bridge parse it against the type's
 * fields, as a run would: valid, or OSY_INVALID_FILTER's message with its position. Other
 * errors (the system is down, no such type) are thrown.
 */
export async function checkFilter(
  registry: BridgeRegistry,
  system: SystemInput,
  recordType: string,
  filter: Filter,
  signal?: AbortSignal,
): Promise<FilterCheck> {
  try {
    await sampleRecords(registry, system, recordType, {
      filter,
      limit: 1,
      ...(signal ? { signal } : {}),
    })
    return { valid: true }
  } catch (error) {
    if (!isOpenSyncError(error) || error.code !== 'OSY_INVALID_FILTER') throw error
    const position = error.details.position
    return {
      valid: false,
      code: error.code,
      message: error.message,
      ...(typeof position === 'number' ? { position } : {}),
    }
  }
}

/**
 * A dry run of the task: everything is read and compared, nothing is written anywhere (not
 * even the protocol). Returns the totals and the first `limit` planned changes per kind.
 */
export async function previewTask(
  task: ResolvedTask,
  deps: { store: Store; registry: BridgeRegistry; signal?: AbortSignal },
  limit = 20,
): Promise<TaskPreview> {
  const result = await runTask(task, {
    store: deps.store,
    registry: deps.registry,
    dryRun: true,
    trigger: 'preview',
    ...(deps.signal ? { signal: deps.signal } : {}),
  })
  const keys = task.systems.map((s) => s.key)
  const changes: Record<string, PreviewChange[]> = {}
  for (const c of result.changes) {
    const list = changes[c.op] ?? []
    changes[c.op] = list
    if (list.length >= limit) continue
    const [from, to] = c.direction === '0->1' ? keys : [keys[1], keys[0]]
    list.push({
      pairId: c.pairId,
      from: from!,
      to: to!,
      key: c.sourceKey,
      ...(c.targetKey !== undefined ? { targetKey: c.targetKey } : {}),
      ...(c.values !== undefined ? { values: jsonOf(c.values) } : {}),
    })
  }
  return {
    status: result.status,
    totals: result.totals,
    counts: result.counts,
    changes,
    ...(result.error ? { error: result.error } : {}),
  }
}

/** Record values as JSON: big integers as text, bytes as base64, exact numbers as numbers. */
function jsonValues(values: Readonly<Record<string, Value>>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [name, v] of Object.entries(values)) out[name] = jsonOf(v)
  return out
}

function jsonOf(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString()
  if (v instanceof Uint8Array) return { base64: Buffer.from(v).toString('base64') }
  if (isJsonNumber(v)) return Number(v.rawJSON)
  if (Array.isArray(v)) return v.map(jsonOf)
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, x] of Object.entries(v)) out[k] = jsonOf(x)
    return out
  }
  return v
}

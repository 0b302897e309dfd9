import type { ConnectionValues, FieldSpec } from './connection-fields.ts'
import type { OpenSyncError } from './errors.ts'
import type { Filter } from './filter/filter-expr.ts'
import type { RecordTypeInfo } from './record-type.ts'
import type { Checkpoint, RecordValues, SourceRecord } from './values.ts'

/** What the engine hands a bridge when it connects. */
export interface BridgeContext {
  /** Structured log lines; never pass secrets. */
  readonly log: BridgeLogger
  /** Aborts connecting. */
  readonly signal?: AbortSignal
  /**
   * The system's bridge-specific settings from the task (`systems.<key>.settings`): what a
   * bridge needs besides connection values, such as the REST bridge's manifest. A bridge
   * validates them itself and rejects bad ones with `OSY_INVALID_CONNECTION`.
   */
  readonly settings?: Readonly<Record<string, unknown>>
}

/** The logger a bridge may use (pino-compatible subset). */
export interface BridgeLogger {
  debug(obj: object, msg?: string): void
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}

/** A logger that drops everything; the default for tests and tools. */
export const silentLogger: BridgeLogger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
}

/**
 * What a bridge can do beyond the required members. The engine branches on these flags,
 * never on a bridge's name. Defaults apply to flags a bridge leaves out.
 */
export interface BridgeCapabilities {
  /** `read` honours `since` with keyset order on (cursor, key). Default false. */
  readonly cursorReads: boolean
  /** `readKeys` exists and is cheaper than a full read. Default false. */
  readonly keyScan: boolean
  /** `write` accepts `upsert` ops. Default false. */
  readonly upsert: boolean
  /** Reads see one consistent snapshot of the data. Default false. */
  readonly snapshotReads: boolean
  /** The system rejects text longer than a field's declared length (SQLite does not). Default true. */
  readonly enforcesLength: boolean
  /** `listDatabases` exists: the server's databases can be listed to pick one. Default false. */
  readonly listDatabases: boolean
  /**
   * `write` may be called again before the last call returned, and two calls never mix:
   * each runs on a connection of its own (a pool) in a transaction of its own, or (REST)
   * each request stands alone under the connection's one limit of requests in flight. The
   * engine then keeps two batches' writes in flight instead of one. Default false.
   */
  readonly concurrentWrites: boolean
}

/** Capability defaults for flags a bridge does not set. */
export const DEFAULT_CAPABILITIES: BridgeCapabilities = {
  cursorReads: false,
  keyScan: false,
  upsert: false,
  snapshotReads: false,
  enforcesLength: true,
  listDatabases: false,
  concurrentWrites: false,
}

/** A bridge: the code that talks to one kind of system. Export one as a module's default. */
export interface Bridge {
  /** Short unique name used in task files: `postgres`, `mysql`, `sqlite`. */
  readonly name: string
  readonly title: string
  readonly version: string
  /** The connection form, declared as data. */
  readonly connectionFields: readonly FieldSpec[]
  /** Which kinds of filter this bridge accepts. */
  readonly filterKinds: readonly ('sql' | 'keyValue')[]
  readonly capabilities: Partial<BridgeCapabilities>
  /** Opens a connection. Bad values throw `OSY_INVALID_CONNECTION`; nothing is contacted yet. */
  connect(values: ConnectionValues, ctx: BridgeContext): Promise<BridgeConnection>
  /**
   * Lists the databases of the server the values point at, by name and sorted, for the user
   * to pick one as the connection's `database` (present when `capabilities.listDatabases`).
   * The values need no database: the bridge connects wherever it can list from. Only
   * databases the user can connect to are listed (no templates, no system schemas). Errors
   * are classified as for {@link BridgeConnection.check}.
   */
  listDatabases?(values: ConnectionValues, ctx: BridgeContext): Promise<readonly string[]>
  /**
   * Checks bridge settings (a system's `settings`, such as the REST bridge's manifest) without
   * connecting: every problem with its path inside the settings (`manifest.recordTypes.x.path`).
   * `opensync profiles validate` reports them against the profile. Optional.
   */
  checkSettings?(settings: Readonly<Record<string, unknown>>): readonly SettingsIssue[]
  /**
   * The connection form of a system with these settings, when they add fields (a REST
   * manifest declares user, password, tenant…); `connectionFields` otherwise. Profiles show
   * and check their forms against it, so a field the settings mark secret stays secret.
   */
  connectionFieldsFor?(settings: Readonly<Record<string, unknown>>): readonly FieldSpec[]
}

/** A problem with bridge settings: where (a dot path inside the settings), and what. */
export interface SettingsIssue {
  readonly path: string
  readonly message: string
}

/** Options of one read. */
export interface ReadOptions {
  /** Only records matching this filter. */
  readonly filter?: Filter
  /** Fields to return; all fields when left out. Key and cursor fields are always returned. */
  readonly fields?: readonly string[]
  /**
   * The change cursor. With `since`, records come in keyset order on (cursor, key) starting
   * after the checkpoint; without it, records also come in that order, from the start.
   */
  readonly cursor?: string
  /** Only records after this position (requires `cursor`). */
  readonly since?: Checkpoint
  /**
   * Re-read this far back before `since`, so rows committed late with an older cursor value
   * are not missed: seconds for time cursors, units for numeric ones. Default 0. Given on a
   * first read too (without `since`), so a bridge may seal the window its read ends in
   * (`Checkpoint.seal`) and spare the next read re-reading it.
   */
  readonly lag?: number
  /** Records per batch. Default 1000. */
  readonly batchSize?: number
  /**
   * The fields that identify a record, for views and tables without a primary key (a
   * record type's own key otherwise). Records are keyed and ordered by them.
   */
  readonly keyFields?: readonly string[]
  readonly signal?: AbortSignal
}

/** One batch of records, in read order. */
export interface RecordBatch {
  readonly records: readonly SourceRecord[]
  /** The position after the last record of this batch, when reading with a cursor. */
  readonly checkpoint?: Checkpoint
}

/** Options of a key scan. */
export interface ReadKeysOptions {
  readonly filter?: Filter
  readonly batchSize?: number
  /** As in {@link ReadOptions.keyFields}. */
  readonly keyFields?: readonly string[]
  readonly signal?: AbortSignal
}

/** One operation of a write batch. */
export type WriteOp =
  | { readonly op: 'create'; readonly values: RecordValues }
  | { readonly op: 'update'; readonly key: string; readonly values: RecordValues }
  | { readonly op: 'upsert'; readonly values: RecordValues }
  | { readonly op: 'delete'; readonly key: string }

/** The outcome of one write op: the record's key, or an error for that op alone. */
export type WriteResult =
  | { readonly ok: true; readonly key: string }
  | { readonly ok: false; readonly error: OpenSyncError }

/** Options of a write. */
export interface WriteOptions {
  readonly signal?: AbortSignal
}

/** An open connection to one system. */
export interface BridgeConnection {
  /** Checks that the system answers and the credentials work; throws a classified error. */
  check(): Promise<void>
  /** Lists the record types with their fields, keys and cursor candidates. */
  discover(): Promise<readonly RecordTypeInfo[]>
  /** Streams the records of a type in batches; memory is bounded by the batch size. */
  read(type: string, options?: ReadOptions): AsyncIterable<RecordBatch>
  /**
   * How many records of a type match a filter (optional; SQL bridges have it, one cheap
   * `COUNT(*)`): the total behind a progress line's share and ETA. Never needed for a sync.
   */
  count?(type: string, options?: { readonly filter?: Filter }): Promise<number>
  /** Streams only the keys of a type (present when `capabilities.keyScan`). */
  readKeys?(type: string, options?: ReadKeysOptions): AsyncIterable<readonly string[]>
  /**
   * Whether an index of the type's table starts with `field` (optional; PostgreSQL and MySQL
   * have it). A cursor field without one makes every incremental read scan the whole table;
   * the engine says so in the run's protocol. Undefined when the bridge cannot tell (a view,
   * no privilege to look).
   */
  hasIndexOn?(type: string, field: string): Promise<boolean | undefined>
  /**
   * Applies a batch of ops and returns one result per op, in order. One failing op never
   * fails the others; only a failure of the whole system (unreachable) throws. The engine
   * runs two writes at once on a connection only when `capabilities.concurrentWrites` says
   * so, and may read while one runs.
   */
  write(
    type: string,
    ops: readonly WriteOp[],
    options?: WriteOptions,
  ): Promise<readonly WriteResult[]>
  /** Releases the connection; safe to call twice. */
  close(): Promise<void>
}

/** The capabilities of a bridge with defaults filled in. */
export function capabilitiesOf(bridge: Pick<Bridge, 'capabilities'>): BridgeCapabilities {
  return { ...DEFAULT_CAPABILITIES, ...bridge.capabilities }
}

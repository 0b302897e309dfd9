import type { Generated } from 'kysely'

/**
 * The row types of the store's tables as Kysely sees them. Both dialects share them: JSON is
 * text, timestamps are ISO text, booleans and sides are integers, so one query serves both.
 */
export interface StoreTables {
  readonly osy_pairs: PairTable
  readonly osy_links: LinkTable
  readonly osy_checkpoints: CheckpointTable
  readonly osy_executions: ExecutionTable
  readonly osy_execution_logs: ExecutionLogTable
  readonly osy_execution_changes: ExecutionChangeTable
  readonly osy_record_errors: RecordErrorTable
  readonly osy_conflicts: ConflictTable
  readonly osy_intents: IntentTable
  readonly osy_task_meta: TaskMetaTable
  readonly osy_task_defs: TaskDefTable
  readonly osy_users: UserTable
  readonly osy_sessions: SessionTable
  readonly osy_api_tokens: ApiTokenTable
  readonly osy_audit_events: AuditEventTable
  readonly osy_instances: InstanceTable
}

/** A running service process (see instance-repo.ts). */
export interface InstanceTable {
  id: Generated<number>
  host: string
  pid: number
  version: string
  role: string
  started_at: string
  heartbeat_at: string
}

/** A pair of a task that has links; unique (task_id, pair_id). */
export interface PairTable {
  /** The pair's ref in osy_links; never reused, so a stale ref names no other pair. */
  id: Generated<number>
  task_id: string
  pair_id: string
}

/** One link; primary key (pair, key0), unique (pair, key1). */
export interface LinkTable {
  /** The `osy_pairs.id` of the link's task and pair. */
  pair: number
  key0: string
  key1: string
  /** JSON text of the per-field hashes of side 0, opaque to the store. */
  base0: string
  base1: string
  synced_at: string
  /**
   * The link's state: null (live); 0 or 1, the side whose record is gone while the link is
   * kept as a tombstone; 2 or 3, side 0 or 1's record is outside its filter (dormant).
   */
  deleted: number | null
}

/** One checkpoint; primary key (task_id, pair_id, side). */
export interface CheckpointTable {
  task_id: string
  pair_id: string
  side: number
  /** JSON text of a `Checkpoint`. */
  checkpoint: string
  updated_at: string
}

/** One execution of a task. */
export interface ExecutionTable {
  id: Generated<number>
  task_id: string
  trigger: string
  dry_run: number
  status: string
  started_at: string
  ended_at: string | null
  /** JSON text of `ExecutionCounts`. */
  counts: string
  error_code: string | null
  error_message: string | null
  /** The worker that holds the lease of a running execution. */
  owner: string | null
  /** Until when the owner's lease holds, ISO text from the database clock. */
  lease_until: string | null
  /** The plan slot a scheduled execution stands for. */
  scheduled_for: string | null
  queued_at: string | null
  /** 1 once someone asked a running execution to stop. */
  cancel_requested: number
}

/** One line of an execution's protocol, in order of `id`. */
export interface ExecutionLogTable {
  id: Generated<number>
  execution_id: number
  at: string
  level: string
  pair_id: string | null
  message: string
  /** JSON text, or null when the line has no data. */
  data: string | null
}

/** A record an execution touched, by key; in order of `id`. */
export interface ExecutionChangeTable {
  id: Generated<number>
  execution_id: number
  pair_id: string
  /** The side the change came from (0: from the first system to the second). */
  direction: number
  /** created, updated, deleted, conflict, failed, unlinked, flagged. */
  op: string
  source_key: string
  target_key: string | null
  /** JSON text: the conflict's mapping, the failure's code and message; never field values. */
  detail: string | null
}

/** The last error of one record; primary key (task_id, pair_id, direction, record_key). */
export interface RecordErrorTable {
  task_id: string
  pair_id: string
  direction: number
  record_key: string
  code: string
  message: string
  attempts: number
  quarantined: number
  first_at: string
  last_at: string
}

/** One field conflict: open while `resolved_at` is null, then resolved, then applied. */
export interface ConflictTable {
  id: Generated<number>
  task_id: string
  pair_id: string
  key0: string
  key1: string
  mapping: string
  /** JSON text of the value on side 0. */
  value0: string
  value1: string
  winner: number | null
  /**
   * JSON text of the value decided (a decision by value); null for a winner. While the
   * conflict is open (no decision yet): `{"base":[v0,v1]}`, the values last synced, or null.
   */
  decided_value: string | null
  created_at: string
  updated_at: string
  resolved_at: string | null
  applied_at: string | null
}

/** A create about to be sent, kept until its link is committed. */
export interface IntentTable {
  id: Generated<number>
  task_id: string
  pair_id: string
  direction: number
  source_key: string
  /** JSON text of what identifies the record on the target (match values, external ID). */
  match: string
  created_at: string
}

/** Facts about a task that the runs keep up to date. */
export interface TaskMetaTable {
  task_id: string
  last_run_at: string | null
}

/** A stored task definition with its schedule; primary key task_id. */
export interface TaskDefTable {
  task_id: string
  subject: string
  /** JSON text of the task document, opaque to the store. */
  document: string
  draft: number
  active: number
  next_run_at: string | null
  last_scheduled_for: string | null
  idle_runs: number
  revision: number
  created_at: string
  updated_at: string
}

/** A user of the API and console; unique username. */
export interface UserTable {
  id: Generated<number>
  username: string
  /** `scrypt$N$r$p$salt$hash` (base64url parts). */
  password_hash: string
  role: string
  /** JSON text of the profile ids the user is limited to; null when not limited. */
  profiles: string | null
  /** Failed sign-ins in a row; reset by a successful one. */
  failed_sign_ins: number
  locked_until: string | null
  created_at: string
  updated_at: string
}

/** A console session; its id is the SHA-256 of the cookie's value. */
export interface SessionTable {
  id: string
  user_id: number
  csrf_token: string
  created_at: string
  expires_at: string
}

/** An API token; only its SHA-256 is stored. */
export interface ApiTokenTable {
  id: Generated<number>
  name: string
  token_hash: string
  user_id: number | null
  /** JSON text of the scopes (permissions) the token grants. */
  scopes: string
  profiles: string | null
  created_at: string
  expires_at: string | null
  last_used_at: string | null
}

/** One audit event: who did what when. */
export interface AuditEventTable {
  id: Generated<number>
  at: string
  actor: string
  action: string
  task_id: string | null
  target: string | null
  /** JSON text, or null. */
  detail: string | null
}

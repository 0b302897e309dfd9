import type { ApiTokenRepo } from './api-token-repo.ts'
import type { AuditRepo } from './audit-repo.ts'
import type { ChangeRepo } from './change-repo.ts'
import type { CheckpointRepo } from './checkpoint-repo.ts'
import type { ConflictRepo } from './conflict-repo.ts'
import type { ExecutionRepo } from './execution-repo.ts'
import type { InstanceRepo } from './instance-repo.ts'
import type { IntentRepo } from './intent-repo.ts'
import type { LinkRepo } from './link-repo.ts'
import type { RecordErrorRepo } from './record-error-repo.ts'
import type { SessionRepo } from './session-repo.ts'
import type { TaskDefRepo } from './task-def-repo.ts'
import type { TaskMetaRepo } from './task-meta-repo.ts'
import type { StoreDialect } from './types.ts'
import type { UserRepo } from './user-repo.ts'

export type { Side, StoreDialect } from './types.ts'

/** Every repository of the store, bound either to the store or to one transaction. */
export interface StoreRepos {
  readonly links: LinkRepo
  readonly checkpoints: CheckpointRepo
  readonly executions: ExecutionRepo
  /** The records each execution touched, by key. */
  readonly changes: ChangeRepo
  readonly recordErrors: RecordErrorRepo
  readonly conflicts: ConflictRepo
  readonly intents: IntentRepo
  readonly tasks: TaskMetaRepo
  /** The service's stored task definitions and their schedules. */
  readonly taskDefs: TaskDefRepo
  /** Users of the API and console, their sessions and API tokens. */
  readonly users: UserRepo
  readonly sessions: SessionRepo
  readonly apiTokens: ApiTokenRepo
  /** Who changed what, when. */
  readonly audit: AuditRepo
  /** The running service processes (start, worker, api), by heartbeat. */
  readonly instances: InstanceRepo
}

/**
 * The metadata store: links, checkpoints, the protocol, errors, conflicts, intents, stored
 * tasks and the run queue.
 */
export interface Store extends StoreRepos {
  readonly dialect: StoreDialect
  /**
   * Runs fn in one transaction; the repos passed to fn use it. When fn throws, everything it
   * wrote is rolled back and its error is rethrown unchanged. Nested calls are an error, and
   * so is using the store's own repos inside fn (on SQLite that would wait forever for the
   * one connection the transaction holds).
   */
  transaction<T>(fn: (tx: StoreRepos) => Promise<T>): Promise<T>
  /**
   * The migrations this code knows that the store has not applied (empty when current), for
   * readiness checks; a query, so it also fails when the store is unreachable.
   */
  pendingMigrations(): Promise<string[]>
  /** Closes the connections. Idempotent; concurrent calls share one promise. */
  close(): Promise<void>
}

/**
 * The metadata store: links and their base state, checkpoints, executions and their
 * protocol, per-record errors, conflicts and create intents, stored task definitions and the
 * run queue with its leases, on SQLite or PostgreSQL.
 * See docs/store.md.
 * @module
 */
export * from './api-token-repo.ts'
export * from './audit-repo.ts'
export * from './change-repo.ts'
export * from './checkpoint-repo.ts'
export * from './conflict-repo.ts'
export * from './execution-repo.ts'
export * from './instance-repo.ts'
export * from './intent-repo.ts'
export * from './link-repo.ts'
export { DEFAULT_SQLITE_FILE, openStore, type StoreOptions } from './open-store.ts'
export * from './record-error-repo.ts'
export * from './session-repo.ts'
export * from './store.ts'
export * from './task-def-repo.ts'
export * from './task-meta-repo.ts'
export * from './user-repo.ts'

/**
 * Types every module of the store shares: the store's interface (store.ts), its repositories
 * and its migrations import them from here, and this module imports nothing, so no import
 * goes round in a circle (test/package/no-cycles.test.ts).
 * @module
 */

/**
 * The index of a side of a task: 0 for the first system, 1 for the second. The same type as
 * the engine's `Side`, declared here because the store sits below the engine.
 */
export type Side = 0 | 1

/** Which database holds the metadata. */
export type StoreDialect = 'sqlite' | 'postgres'

/** What a migration may branch on: column types and table options differ by dialect. */
export interface MigrationContext {
  readonly dialect: StoreDialect
}

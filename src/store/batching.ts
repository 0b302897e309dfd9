/**
 * Limits that keep every statement a single round trip without hitting a database limit:
 * SQLite binds at most 32766 parameters and PostgreSQL 65535, so one budget serves both.
 */
export const MAX_PARAMETERS = 30_000

/** Keys per `IN (…)` list: large enough to need few queries, small enough to plan quickly. */
export const IN_LIST_SIZE = 500

/**
 * Rows per multi-row statement. Beyond about a thousand rows a statement gets no faster, it
 * only holds its locks and memory longer.
 */
const MAX_ROWS = 1000

/** How many rows of `parameters` bound values each fit in one statement. */
export function rowsPerStatement(parameters: number): number {
  return Math.max(1, Math.min(MAX_ROWS, Math.floor(MAX_PARAMETERS / parameters)))
}

/** Splits items into consecutive slices of at most `size`. */
export function* chunks<T>(items: readonly T[], size: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size)
}

/**
 * Keeps the last item for each identity, in order of first appearance. A multi-row upsert must
 * not touch one row twice (PostgreSQL refuses), and the last word is the one that counts.
 */
export function lastByIdentity<T>(items: readonly T[], identity: (item: T) => string): T[] {
  const byId = new Map<string, T>()
  for (const item of items) byId.set(identity(item), item)
  return [...byId.values()]
}

/** The distinct values, in order of first appearance. */
export function distinct<T>(items: readonly T[]): T[] {
  return [...new Set(items)]
}

/** The current time as ISO text, the form of every timestamp in the store. */
export function now(): string {
  return new Date().toISOString()
}

/** JSON text of a value for a text column; `undefined` is stored as `null`. */
export function toJsonText(value: unknown): string {
  return JSON.stringify(value ?? null)
}

/** Parses a text column written by {@link toJsonText}. */
export function fromJsonText(text: string): unknown {
  return JSON.parse(text)
}

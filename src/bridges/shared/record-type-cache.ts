import { type ErrorCode, isOpenSyncError, type RecordTypeInfo } from '../../sdk/index.ts'

/**
 * Errors that a schema changed since a type was described can explain: a table or field
 * gone, a key added or renamed, a filter or checkpoint naming a field the type lacked.
 */
const SCHEMA_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'OSY_RECORD_TYPE_NOT_FOUND',
  'OSY_FIELD_NOT_FOUND',
  'OSY_READ_ONLY_RECORD_TYPE',
  'OSY_UNSUPPORTED',
  'OSY_INVALID_FILTER',
  'OSY_INVALID_CHECKPOINT',
])

/**
 * The record types of one connection, each described on first use and reused for the rest
 * of the connection's life, which is one run of a task. Describing a type costs catalogue
 * queries and a round trip, and reads and writes come a batch at a time, while a schema
 * rarely changes during a run. When it does, the call that trips over the change describes
 * the type again and runs once more, so callers see what they would have seen without the
 * cache. A type that does not exist is never remembered: it may be created later.
 *
 * A column added during a run shows up in the first call that names it; a read of all
 * fields keeps to the fields the type had when it was described.
 */
export class RecordTypeCache<T extends RecordTypeInfo> {
  readonly #types = new Map<string, T>()
  readonly #isSchemaError: (error: unknown) => boolean

  /** @param isSchemaError true for a driver error a changed schema explains (no such column). */
  constructor(isSchemaError: (error: unknown) => boolean) {
    this.#isSchemaError = isSchemaError
  }

  /** Remembers the types of a full discovery, and forgets any other. */
  fill(types: readonly T[]): void {
    this.#types.clear()
    for (const type of types) this.#types.set(type.name, type)
  }

  /**
   * Runs `run` with the type named `name`: the remembered one when `fits` accepts it, else
   * one fresh from `describe` (which throws when there is no such type). When `run` fails
   * with the remembered type in a way a changed schema explains, it runs once more with a
   * fresh description. `describe` then follows the failed run, so it is where that run's
   * leftovers are undone: its transaction rolled back, before the catalogue is read.
   */
  async use<R>(
    name: string,
    describe: () => Promise<T>,
    run: (type: T) => Promise<R>,
    fits: (type: T) => boolean = () => true,
  ): Promise<R> {
    const known = this.#types.get(name)
    if (known && fits(known)) {
      try {
        return await run(known)
      } catch (error) {
        if (!this.#mayBeStale(error)) throw error
      }
    }
    this.#types.delete(name)
    const fresh = await describe()
    this.#types.set(name, fresh)
    return run(fresh)
  }

  /** Looks through the causes too: a write wraps the driver's error in its own. */
  #mayBeStale(error: unknown): boolean {
    for (let e = error, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
      if (isOpenSyncError(e) ? SCHEMA_CODES.has(e.code) : this.#isSchemaError(e)) return true
    }
    return false
  }
}

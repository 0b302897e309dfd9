import type { Bridge, ConnectionValues } from '../../src/sdk/index.ts'
import type { BridgeHarness, HarnessDb } from './harness.ts'

/**
 * A feature of the contract suite's tables that a system may not have; the suite skips the
 * tests that need it. What a bridge can do is told by its capability flags (cursor reads,
 * length limits), which the suite reads from the bridge itself; this list is for the rest.
 *
 * - `views`: record types that are views (read-only, defined over another type);
 * - `uniqueFields`: a unique constraint on a field other than the key (people.email).
 */
export type ContractFeature = 'views' | 'uniqueFields'

/**
 * How the suite makes the record types its tests use and changes records behind the
 * bridge's back (as another program would): SQL harnesses run DDL, a file harness writes
 * files. The tables are those of {@link BridgeHarness} (people, events, a view of people).
 */
export interface ContractRecordTypes {
  people(name: string): Promise<void>
  events(name: string): Promise<void>
  /** A view `SELECT id, email, name FROM <of>` (unless the harness lacks `views`). */
  view(name: string, of: string): Promise<void>
  drop(name: string): Promise<void>
  /**
   * Adds one record without the bridge. Values are text; a timestamp is given as
   * `YYYY-MM-DD HH:MM:SS[.ffffff]`, wall-clock time in UTC.
   */
  insertRaw(name: string, row: Readonly<Record<string, string>>): Promise<void>
}

/** A fresh, empty system for one run of the contract suite. */
export interface ContractDb {
  readonly values: ConnectionValues
  /** The bridge settings of the system (`systems.<key>.settings`), when it needs any. */
  readonly settings?: Readonly<Record<string, unknown>>
  readonly recordTypes: ContractRecordTypes
  /** Raw SQL in the system's own session (SQL systems only). */
  exec?(sql: string): Promise<void>
  teardown(): Promise<void>
}

/** What the contract suite needs to know about one bridge. */
export interface ContractHarness {
  readonly name: string
  readonly bridge: Bridge
  setup(): Promise<ContractDb>
  /** Contract features the system lacks. */
  readonly lacks: readonly ContractFeature[]
  /** A statement that sets the raw session's time zone (SQL systems that have one). */
  setSessionZone?(offset: string): string
  /** Quotes an identifier for `exec`. */
  quote?(name: string): string
  /** A raw timestamp literal for `exec`, given wall-clock text in the session zone. */
  timestampLiteral?(text: string): string
  readonly failures: BridgeHarness['failures'] & {
    unknownDatabase?(db: ContractDb): ConnectionValues
    wrongPassword?(db: ContractDb): ConnectionValues
  }
}

const TIMESTAMP_TEXT = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?$/

/** The contract harness of an SQL bridge: record types from its DDL, raw rows by INSERT. */
export function sqlContractHarness(h: BridgeHarness): ContractHarness {
  const q = h.quote
  return {
    name: h.name,
    bridge: h.bridge,
    lacks: [],
    ...(h.setSessionZone ? { setSessionZone: h.setSessionZone } : {}),
    quote: h.quote,
    timestampLiteral: h.timestampLiteral,
    failures: h.failures as ContractHarness['failures'],
    async setup() {
      const db: HarnessDb = await h.setup()
      const literal = (v: string) =>
        TIMESTAMP_TEXT.test(v) ? h.timestampLiteral(v) : `'${v.replaceAll("'", "''")}'`
      return {
        values: db.values,
        exec: (sql) => db.exec(sql),
        teardown: () => db.teardown(),
        recordTypes: {
          people: (name) => db.exec(h.ddl.people(name)),
          events: (name) => db.exec(h.ddl.events(name)),
          view: (name, of) => db.exec(h.ddl.view(name, of)),
          drop: (name) => db.exec(h.ddl.drop(name)),
          insertRaw: (name, row) =>
            db.exec(
              `INSERT INTO ${q(name)} (${Object.keys(row).map(q).join(', ')}) VALUES (${Object.values(row).map(literal).join(', ')})`,
            ),
        },
      }
    },
  }
}

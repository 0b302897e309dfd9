import type { Bridge, ConnectionValues } from '../../src/sdk/index.ts'

/** A fresh, empty database (or schema, or file) for one test file. */
export interface HarnessDb {
  /** Connection values that reach the fresh database. */
  readonly values: ConnectionValues
  /** Runs raw SQL (several statements allowed) in one session, outside the bridge. */
  exec(sql: string): Promise<void>
  /** Runs one raw query and returns its rows. */
  query(sql: string): Promise<Record<string, unknown>[]>
  /** Drops the fresh database and closes every raw connection. */
  teardown(): Promise<void>
}

/**
 * What the contract suite needs to know about one bridge. The suite's tables, in the
 * harness's own SQL dialect:
 *
 * - people(id integer auto-generated primary key, email varchar(40) not null unique,
 *   name varchar(200), score decimal(14,4), big bigint, active boolean, born date,
 *   updated_at timestamp with time zone (6 fractional digits) not null,
 *   created timestamp without time zone (6 digits), photo binary, doc json, note text)
 * - events(site varchar(20) not null, seq integer not null, payload varchar(100),
 *   ts timestamp with time zone (6 digits), primary key (site, seq))
 * - a view `SELECT id, email, name FROM <people>`
 */
export interface BridgeHarness {
  readonly name: string
  readonly bridge: Bridge
  setup(): Promise<HarnessDb>
  readonly ddl: {
    people(table: string): string
    events(table: string): string
    view(view: string, table: string): string
    drop(table: string): string
    /**
     * contacts(id auto-generated primary key, email varchar(80) unique, name varchar(nameLength,
     * default 100), city varchar(60), score decimal(10,2), ext_id varchar(80), updated_at timestamp
     * with time zone kept current by the database on insert and update): a table the sync engine tests write to.
     */
    contacts(table: string, options?: { nameLength?: number }): string
  }
  /** Quotes an identifier for raw SQL. */
  quote(name: string): string
  /** A statement that sets the raw session's time zone to the offset (`+02:00`); absent when the system has none. */
  setSessionZone?(offset: string): string
  /** A raw literal for a timestamp-with-time-zone column, given wall-clock text in the session zone. */
  timestampLiteral(text: string): string
  /** Connection values for the failure checks; a missing entry means the case does not apply. */
  readonly failures: {
    wrongPassword?(db: HarnessDb): ConnectionValues
    unknownDatabase?(db: HarnessDb): ConnectionValues
    unreachable?(): ConnectionValues
    /** Values that reach a TCP port which accepts and never answers. */
    timeout?(port: number): ConnectionValues
  }
}

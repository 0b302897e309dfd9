/**
 * The small structural slice of `mysql2/promise` this bridge uses, so callers can hand it
 * any compatible pool (Kysely's `MysqlPool` idea) and the rest of the bridge does not
 * depend on the driver's types.
 */

/** A row as the driver returns it, by column name. */
export type MysqlRow = Record<string, unknown>

/** What a statement without a result set reports. */
export interface MysqlResultHeader {
  readonly affectedRows: number
  /** The first generated AUTO_INCREMENT value (text when it is beyond 2^53). */
  readonly insertId: number | string
  /** How many warnings the statement left (LOAD DATA LOCAL turns bad rows into warnings). */
  readonly warningStatus?: number
}

/** A statement with a stream to answer the server's `LOAD DATA LOCAL INFILE` request. */
export interface MysqlLocalInfileQuery {
  readonly sql: string
  /** Called with the file name the server asks for; the bridge ignores it. */
  readonly infileStreamFactory: (name: string) => NodeJS.ReadableStream
}

/** Something that runs a statement with `?` placeholders the driver escapes. */
export interface MysqlQueryable {
  query(
    sql: string | MysqlLocalInfileQuery,
    values?: readonly unknown[],
  ): Promise<[unknown, unknown]>
  /** A value as an SQL literal, escaped exactly as the driver escapes a `?` parameter. */
  escape(value: unknown): string
}

/** One checked-out connection. */
export interface MysqlPoolConnection extends MysqlQueryable {
  /** The driver's underlying connection: the same object each time it is checked out. */
  readonly connection: object
  release(): void
  /** Closes the connection instead of returning it, when its state is unknown. */
  destroy(): void
}

/** A pool of connections. */
export interface MysqlPool {
  getConnection(): Promise<MysqlPoolConnection>
  end(): Promise<void>
}

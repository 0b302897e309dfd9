/**
 * The small structural slice of `pg` this bridge uses, so callers can hand it any
 * compatible pool (Kysely's `PostgresPool` idea) and tests need nothing but a real server.
 */

/** The result of one query. */
export interface PostgresQueryResult<R> {
  readonly rows: R[]
  readonly rowCount: number | null
}

/** Something that runs a parameterised query. */
export interface PostgresQueryable {
  query<R = Record<string, unknown>>(
    sql: string,
    params?: readonly unknown[],
  ): Promise<PostgresQueryResult<R>>
}

/** Something pg runs by handing it the connection (a COPY stream of `pg-copy-streams`). */
export interface PostgresSubmittable {
  submit(connection: unknown): void
}

/** One checked-out client. */
export interface PostgresPoolClient extends PostgresQueryable {
  query<S extends PostgresSubmittable>(submittable: S): S
  query<R = Record<string, unknown>>(
    sql: string,
    params?: readonly unknown[],
  ): Promise<PostgresQueryResult<R>>
  release(destroy?: boolean | Error): void
}

/** A pool of clients. */
export interface PostgresPool extends PostgresQueryable {
  connect(): Promise<PostgresPoolClient>
  end(): Promise<void>
}

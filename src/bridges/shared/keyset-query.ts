import {
  type CompiledSql,
  compileSqlFilter,
  type FilterExpr,
  type SqlDialect,
} from '../../sdk/index.ts'

/** What one page of a keyset read needs. All values are already in the driver's form. */
export interface KeysetPage {
  readonly dialect: SqlDialect
  /** The record type's table, already quoted (and schema-qualified when needed). */
  readonly from: string
  readonly columns: readonly string[]
  /** Ordering fields: the cursor (when reading by cursor) followed by the key fields. */
  readonly order: readonly string[]
  /** Start after this position (one value per `order` field); `undefined` from the start. */
  readonly after?: readonly unknown[]
  /**
   * Which `order` fields may hold NULL (default: all). PostgreSQL sorts NULLs last, so a
   * nullable field needs `NULLS FIRST` — which a plain ascending index cannot serve; a NOT
   * NULL field is ordered without it and its index is used.
   */
  readonly nullable?: readonly boolean[]
  /** Only rows whose first order field is at least this (the lag window's start). */
  readonly atLeast?: unknown
  readonly filter?: FilterExpr
  /** Rows per page; absent, the statement reads to the end (a streamed read). */
  readonly limit?: number
}

/**
 * Builds `SELECT … WHERE filter AND position ORDER BY order LIMIT n`: keyset paging, never
 * OFFSET, so each page costs the same however deep the read. The position test is spelled
 * out as `a >= ? AND ((a > ?) OR (a = ? AND b > ?) …)`: the leading `a >= ?` is what every
 * planner turns into a range on the (cursor, key) index (the OR alone is not). NULL cursor
 * values sort first, as in all three dialects.
 */
export function keysetPageSql(page: KeysetPage): CompiledSql {
  const { dialect } = page
  const params: unknown[] = []
  const bind = (value: unknown): string => {
    params.push(value)
    return dialect.placeholder(params.length)
  }
  const q = (name: string) => dialect.quoteIdentifier(name)
  const where: string[] = []
  if (page.filter) {
    const compiled = compileSqlFilter(page.filter, dialect, params.length + 1)
    params.push(...compiled.params)
    where.push(compiled.sql)
  }
  if (page.atLeast !== undefined) where.push(`${q(page.order[0]!)} >= ${bind(page.atLeast)}`)
  if (page.after) {
    if (page.after[0] !== null && page.after[0] !== undefined)
      where.push(`${q(page.order[0]!)} >= ${bind(page.after[0])}`)
    where.push(positionAfter(page.order, page.after, q, bind))
  }
  const pg = dialect.parserDatabase === 'postgresql'
  const nullsFirst = (i: number) => (pg && page.nullable?.[i] !== false ? ' NULLS FIRST' : '')
  const sql =
    `SELECT ${page.columns.map(q).join(', ')} FROM ${page.from}` +
    (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
    ` ORDER BY ${page.order.map((f, i) => `${q(f)}${nullsFirst(i)}`).join(', ')}` +
    (page.limit === undefined ? '' : ` LIMIT ${Math.max(1, Math.floor(page.limit))}`)
  return { sql, params }
}

function positionAfter(
  order: readonly string[],
  after: readonly unknown[],
  q: (name: string) => string,
  bind: (value: unknown) => string,
): string {
  const alternatives: string[] = []
  for (let i = 0; i < order.length; i++) {
    const terms: string[] = []
    for (let j = 0; j < i; j++) {
      terms.push(
        after[j] === null ? `${q(order[j]!)} IS NULL` : `${q(order[j]!)} = ${bind(after[j])}`,
      )
    }
    // Anything is after NULL (NULLs sort first); nothing non-null sorts before it.
    terms.push(
      after[i] === null ? `${q(order[i]!)} IS NOT NULL` : `${q(order[i]!)} > ${bind(after[i])}`,
    )
    alternatives.push(`(${terms.join(' AND ')})`)
  }
  return `(${alternatives.join(' OR ')})`
}

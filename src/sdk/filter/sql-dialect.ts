/**
 * The few facts about an SQL dialect that building safe statements needs. Bridges for SQL
 * systems pass one of these to {@link compileSqlFilter} and use it for their own statements.
 */
export interface SqlDialect {
  /** The dialect name node-sql-parser knows: used to parse user-written filters. */
  readonly parserDatabase: 'postgresql' | 'mysql' | 'sqlite'
  /** Quotes and escapes one identifier. */
  quoteIdentifier(name: string): string
  /** The placeholder of the parameter at 1-based `index` (`$1` or `?`). */
  placeholder(index: number): string
  /** SQL that concatenates two already-compiled operands. */
  concat(left: string, right: string): string
  /** True when the dialect has a case-insensitive `ILIKE`. */
  readonly hasIlike: boolean
  /** True when backslash escapes characters inside string literals (MySQL's default). */
  readonly backslashEscapes: boolean
}

function quoteWith(quote: string) {
  return (name: string): string => {
    if (name.length === 0 || name.includes('\u0000'))
      throw new TypeError(`invalid identifier ${JSON.stringify(name)}`)
    return quote + name.replaceAll(quote, quote + quote) + quote
  }
}

/** PostgreSQL. */
export const postgresDialect: SqlDialect = {
  parserDatabase: 'postgresql',
  quoteIdentifier: quoteWith('"'),
  placeholder: (index) => `$${index}`,
  concat: (left, right) => `(${left} || ${right})`,
  hasIlike: true,
  backslashEscapes: false,
}

/** MySQL and MariaDB (default SQL mode: `||` is OR, backslash escapes in strings). */
export const mysqlDialect: SqlDialect = {
  parserDatabase: 'mysql',
  quoteIdentifier: quoteWith('`'),
  placeholder: () => '?',
  concat: (left, right) => `CONCAT(${left}, ${right})`,
  hasIlike: false,
  backslashEscapes: true,
}

/** SQLite. */
export const sqliteDialect: SqlDialect = {
  parserDatabase: 'sqlite',
  quoteIdentifier: quoteWith('"'),
  placeholder: () => '?',
  concat: (left, right) => `(${left} || ${right})`,
  hasIlike: false,
  backslashEscapes: false,
}

import { describe, expect, it } from 'vitest'
import {
  compileSqlFilter,
  type FieldInfo,
  keyValueToExpr,
  mysqlDialect,
  parseSqlFilter,
  postgresDialect,
  type SqlDialect,
  sqliteDialect,
} from '../../src/sdk/index.ts'

const fields: FieldInfo[] = [
  { name: 'zip1', type: 'string', nativeType: 'varchar(10)', nullable: true },
  { name: 'name', type: 'string', nativeType: 'text', nullable: true },
  { name: 'score', type: 'decimal', nativeType: 'numeric', nullable: true },
  { name: 'active', type: 'boolean', nativeType: 'boolean', nullable: true },
  { name: 'odd name', type: 'string', nativeType: 'text', nullable: true },
]
const dialects: [string, SqlDialect][] = [
  ['postgresql', postgresDialect],
  ['mysql', mysqlDialect],
  ['sqlite', sqliteDialect],
]

function compile(sql: string, dialect: SqlDialect) {
  return compileSqlFilter(parseSqlFilter(sql, dialect, fields), dialect)
}

describe.each(dialects)('SQL filters in %s', (_name, dialect) => {
  it('binds a named parameter as a value: the SQL is that of a literal, the value a parameter', () => {
    const attempt = "x' OR 1=1 --"
    const bound = compileSqlFilter(
      parseSqlFilter('zip1 = :zip', dialect, fields, { zip: attempt }),
      dialect,
    )
    expect(bound).toEqual({ sql: compile("zip1 = 'any'", dialect).sql, params: [attempt] })
    const typed = parseSqlFilter('score > :min AND active = :on', dialect, fields, {
      min: 2.5,
      on: true,
    })
    expect(typed).toEqual(parseSqlFilter('score > 2.5 AND active = TRUE', dialect, fields))
  })

  it('compiles the DESIGN.md example with the string bound as a parameter', () => {
    const { sql, params } = compile("zip1 = '76137'", dialect)
    expect(sql).toBe(`(${dialect.quoteIdentifier('zip1')} = ${dialect.placeholder(1)})`)
    expect(params).toEqual(['76137'])
  })

  it('keeps the user text out of the statement: quotes inside strings stay data', () => {
    const { sql, params } = compile("name = 'x'' OR 1=1 OR ''' AND score > 2", dialect)
    expect(params).toEqual(["x' OR 1=1 OR '"])
    expect(sql).not.toContain('OR 1=1')
  })

  it('accepts comparisons, AND/OR/NOT, IN, BETWEEN, LIKE, IS NULL, arithmetic and allowed functions', () => {
    const { sql, params } = compile(
      "(score + 1) * 2 >= 10.5 AND NOT active AND zip1 IN ('1', '2') AND score BETWEEN 1 AND 5 AND lower(name) LIKE 'a%' AND name IS NOT NULL AND coalesce(zip1, '') <> ''",
      dialect,
    )
    expect(params).toEqual(['1', '2', 'a%', '', ''])
    expect(sql).toContain('BETWEEN (1) AND (5)')
    expect(sql).toContain('LOWER(')
  })

  it('accepts a boolean column alone but not a text column alone', () => {
    expect(compile('active', dialect).sql).toBe(dialect.quoteIdentifier('active'))
    expect(() => compile('name', dialect)).toThrow(/boolean expression/)
  })

  const rejected: [string, RegExp][] = [
    ['1=1; DROP TABLE x', /";" separates statements/],
    ['1=1 -- x', /comments/],
    ['1=1 /* x */', /comments/],
    ['zip1 IN (SELECT zip1 FROM x)', /subqueries/],
    ['sleep(1) = 0', /function sleep\(\) is not allowed/],
    ['nope = 1', /unknown column "nope"/],
    ['x.zip1 = 1', /qualified/],
    ['', /empty/],
    ["zip1 = 'unterminated", /unterminated|not a valid/],
  ]
  it.each(rejected)('rejects %j', (sql, message) => {
    expect(() => parseSqlFilter(sql, dialect, fields)).toThrow(message)
  })
})

describe('dialect differences', () => {
  it('reads || as concatenation in PostgreSQL and SQLite, and refuses it in MySQL where it means OR', () => {
    expect(compile("zip1 || name = 'ab'", postgresDialect).sql).toBe('(("zip1" || "name") = $1)')
    expect(compile("zip1 || name = 'ab'", sqliteDialect).sql).toBe('(("zip1" || "name") = ?)')
    expect(() => compile("zip1 = 'a' || name = 'b'", mysqlDialect)).toThrow(
      /\|\| is ambiguous in MySQL/,
    )
  })

  it('reads "x" as an identifier in PostgreSQL and as a string in MySQL', () => {
    expect(compile('"odd name" = \'a\'', postgresDialect).sql).toBe('("odd name" = $1)')
    expect(compile('name = "a"', mysqlDialect).params).toEqual(['a'])
  })

  it('rejects MySQL # comments and backslash-escaped quote tricks', () => {
    expect(() => parseSqlFilter('1=1 # x', mysqlDialect, fields)).toThrow(/comments/)
    expect(compile("name = 'a\\' OR 1=1 -- '", mysqlDialect).params).toEqual(["a' OR 1=1 -- "])
  })

  it('rejects PostgreSQL dollar quotes and casts', () => {
    expect(() => parseSqlFilter('name = $$x$$', postgresDialect, fields)).toThrow(/dollar/)
    expect(() => parseSqlFilter("score::text = '1'", postgresDialect, fields)).toThrow(/casts/)
  })

  it('emulates ILIKE where the dialect lacks it', () => {
    expect(compile("name ILIKE 'a%'", postgresDialect).sql).toBe('("name" ILIKE $1)')
    expect(keyValueToExpr({ zip1: '1', name: null })).toEqual({
      kind: 'and',
      operands: [
        {
          kind: 'binary',
          op: '=',
          left: { kind: 'column', name: 'zip1' },
          right: { kind: 'literal', value: '1' },
        },
        { kind: 'isNull', operand: { kind: 'column', name: 'name' }, negated: false },
      ],
    })
  })
})

import { createRequire } from 'node:module'
import type { Parser } from 'node-sql-parser'
import { OpenSyncError } from '../errors.ts'
import type { FieldInfo } from '../record-type.ts'
import {
  FILTER_FUNCTIONS,
  FILTER_PARAMETER_NAME,
  type FilterBinaryOperator,
  type FilterExpr,
  type FilterFunction,
  type FilterLiteral,
  type FilterParameterValue,
} from './filter-expr.ts'
import type { SqlDialect } from './sql-dialect.ts'

/** The loose shape of node-sql-parser's AST nodes; every node is checked before use. */
type AstNode = { readonly type?: string; readonly [key: string]: unknown }

const COMPARISON: Readonly<Record<string, FilterBinaryOperator>> = {
  '=': '=',
  '<>': '<>',
  '!=': '<>',
  '<': '<',
  '<=': '<=',
  '>': '>',
  '>=': '>=',
}
const ARITHMETIC: Readonly<Record<string, FilterBinaryOperator>> = {
  '+': '+',
  '-': '-',
  '*': '*',
  '/': '/',
  '%': '%',
}
const NUMBER = /^-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/
const PREDICATE_KINDS = new Set(['and', 'or', 'not', 'isNull', 'in', 'between', 'like'])

/**
 * node-sql-parser's main bundle holds the grammar of every dialect it knows (2.5 MB of code,
 * 10–13 MB of RSS once loaded); its per-dialect builds hold one each and parse the same. The
 * build of a dialect is loaded by its first filter, so a run without SQL filters loads none.
 * `require` (the builds are CommonJS) keeps {@link parseSqlFilter} synchronous.
 */
const PARSER_BUILDS: Readonly<Record<SqlDialect['parserDatabase'], string>> = {
  postgresql: 'node-sql-parser/build/postgresql',
  mysql: 'node-sql-parser/build/mysql',
  sqlite: 'node-sql-parser/build/sqlite',
}
const requireBuild = createRequire(import.meta.url)
const parsers = new Map<SqlDialect['parserDatabase'], Parser>()

function parserFor(database: SqlDialect['parserDatabase']): Parser {
  let parser = parsers.get(database)
  if (!parser) {
    const build = requireBuild(PARSER_BUILDS[database]) as { Parser: typeof Parser }
    parser = new build.Parser()
    parsers.set(database, parser)
  }
  return parser
}

function reject(message: string, filter: string, position?: number): never {
  throw new OpenSyncError('OSY_INVALID_FILTER', `invalid SQL filter: ${message}`, {
    details: { filter, ...(position !== undefined ? { position } : {}) },
  })
}

/** What the condition is parsed inside of; positions in the parser's errors count it. */
const WRAP = 'SELECT * FROM t WHERE '

/**
 * Parses an SQL WHERE condition with a real SQL parser for the dialect and accepts it only
 * when it is one boolean expression over the record type's own columns, made of
 * comparisons, AND/OR/NOT, IN lists, BETWEEN, LIKE, IS NULL, literals, arithmetic and a
 * short list of pure functions ({@link FILTER_FUNCTIONS}). Everything else — several
 * statements, comments, subqueries, casts, variables, other functions — is rejected with
 * an {@link OpenSyncError} (`OSY_INVALID_FILTER`) that names the problem.
 *
 * Named parameters (`zip1 = :zip`) take their values from `parameters`: each becomes a
 * literal node of the expression tree after parsing, so a value is data whatever it holds
 * (`x' OR 1=1 --` is a string to compare with, never SQL). A parameter without a value and
 * a value no parameter uses are both rejected, so a typo cannot drop a condition.
 *
 * The result is a {@link FilterExpr}; bridges compile that, never the user's text.
 */
export function parseSqlFilter(
  text: string,
  dialect: SqlDialect,
  fields: readonly FieldInfo[],
  parameters: Readonly<Record<string, FilterParameterValue>> = {},
): FilterExpr {
  if (text.trim() === '') reject('the condition is empty', text)
  for (const name of Object.keys(parameters)) {
    if (!FILTER_PARAMETER_NAME.test(name)) {
      reject(
        `parameter name "${name}" must be letters, digits and _ (not starting with a digit)`,
        text,
      )
    }
  }
  scanTokens(text, dialect)
  const parser = parserFor(dialect.parserDatabase)
  let ast: unknown
  try {
    ast = parser.astify(`${WRAP}${text}`, { database: dialect.parserDatabase })
  } catch (error) {
    const detail = error instanceof Error ? error.message.split('\n')[0] : String(error)
    // The parser's syntax errors say where (0-based offset into the condition as written).
    const offset = (error as { location?: { start?: { offset?: unknown } } }).location?.start
      ?.offset
    const position =
      typeof offset === 'number' && offset >= WRAP.length ? offset - WRAP.length : undefined
    return reject(`not a valid ${dialect.parserDatabase} condition (${detail})`, text, position)
  }
  if (Array.isArray(ast)) {
    if (ast.length !== 1) reject('only one condition is allowed, found several statements', text)
    ast = ast[0]
  }
  const select = ast as AstNode
  if (select.type !== 'select' || select.where == null) reject('not a WHERE condition', text)
  for (const clause of ['groupby', 'having', 'orderby', '_next', 'window'] as const) {
    const v = select[clause]
    if (v != null && !(Array.isArray(v) && v.length === 0)) {
      reject(
        `only a condition is allowed, found ${clause.replace('_next', 'UNION').toUpperCase()}`,
        text,
      )
    }
  }
  const limit = select.limit as { value?: unknown[] } | null | undefined
  if (limit?.value && limit.value.length > 0)
    reject('only a condition is allowed, found LIMIT', text)

  const columns = new Map(fields.map((f) => [f.name, f]))
  const used = new Set<string>()
  const expr = convert(select.where as AstNode, { text, dialect, columns, parameters, used })
  for (const name of Object.keys(parameters)) {
    if (!used.has(name))
      reject(`parameter "${name}" has a value but the condition has no :${name}`, text)
  }
  const isBooleanColumn = expr.kind === 'column' && columns.get(expr.name)?.type === 'boolean'
  const isBooleanLiteral = expr.kind === 'literal' && typeof expr.value === 'boolean'
  const isComparison = expr.kind === 'binary' && expr.op in COMPARISON
  if (!PREDICATE_KINDS.has(expr.kind) && !isComparison && !isBooleanColumn && !isBooleanLiteral) {
    reject(
      'the condition must be a boolean expression (a comparison, IN, LIKE, IS NULL, AND/OR/NOT)',
      text,
    )
  }
  return expr
}

interface Context {
  readonly text: string
  readonly dialect: SqlDialect
  readonly columns: ReadonlyMap<string, FieldInfo>
  readonly parameters: Readonly<Record<string, FilterParameterValue>>
  /** The parameters the condition refers to, filled while converting. */
  readonly used: Set<string>
}

function convert(node: AstNode, ctx: Context): FilterExpr {
  if (node == null || typeof node !== 'object') reject('unexpected empty expression', ctx.text)
  if ('ast' in node || node.type === 'select') reject('subqueries are not allowed', ctx.text)
  switch (node.type) {
    case 'column_ref':
      return column({ column: node.column, table: node.table }, ctx)
    case 'number':
    case 'bigint': {
      const raw = String(node.value)
      if (!NUMBER.test(raw)) reject(`invalid number ${raw}`, ctx.text)
      return { kind: 'literal', value: { number: raw } }
    }
    case 'single_quote_string':
    case 'string':
    case 'natural_string':
      return { kind: 'literal', value: unquote(String(node.value), "'", ctx.dialect) }
    case 'double_quote_string':
      // PostgreSQL and SQLite read "x" as an identifier; MySQL as a string.
      if (ctx.dialect.parserDatabase === 'mysql') {
        return { kind: 'literal', value: unquote(String(node.value), '"', ctx.dialect) }
      }
      return column({ column: node.value }, ctx)
    case 'bool':
      return { kind: 'literal', value: node.value === true }
    case 'null':
      return { kind: 'literal', value: null }
    case 'binary_expr':
      return binary(node, ctx)
    case 'unary_expr':
      return unary(node, ctx)
    case 'function':
      return call(node, ctx)
    case 'expr_list':
      reject('a list is only allowed after IN', ctx.text)
      break
    case 'cast':
      reject('casts are not allowed; compare with a literal of the column type instead', ctx.text)
      break
    case 'param':
      return parameter(String(node.value), ctx)
    case 'var':
      reject('variables are not allowed', ctx.text)
      break
    case 'aggr_func':
      reject('aggregate functions are not allowed', ctx.text)
      break
    case 'case':
      reject('CASE expressions are not allowed', ctx.text)
      break
    case 'interval':
      reject('INTERVAL expressions are not allowed', ctx.text)
      break
  }
  return reject(`${String(node.type ?? 'this expression')} is not allowed`, ctx.text)
}

function column(
  node: { readonly column?: unknown; readonly table?: unknown },
  ctx: Context,
): FilterExpr {
  if (node.table != null) reject('columns must not be qualified with a table name', ctx.text)
  let name: unknown = node.column
  if (name && typeof name === 'object' && 'expr' in name) {
    name = (name as { expr: { value?: unknown } }).expr.value
  }
  if (typeof name !== 'string') return reject('unsupported column reference', ctx.text)
  if (name === '*') reject('* is not allowed in a condition', ctx.text)
  if (!ctx.columns.has(name)) {
    const known = [...ctx.columns.keys()].join(', ')
    throw new OpenSyncError(
      'OSY_INVALID_FILTER',
      `invalid SQL filter: unknown column "${name}" (columns: ${known})`,
      {
        details: { filter: ctx.text, field: name },
      },
    )
  }
  return { kind: 'column', name }
}

/** A named parameter becomes the literal of its value: bound as data, never read as SQL. */
function parameter(name: string, ctx: Context): FilterExpr {
  if (!Object.hasOwn(ctx.parameters, name)) {
    const known = Object.keys(ctx.parameters)
    throw new OpenSyncError(
      'OSY_INVALID_FILTER',
      `invalid SQL filter: parameter :${name} has no value (${known.length > 0 ? `values given: ${known.join(', ')}` : 'no values given'})`,
      { details: { filter: ctx.text, parameter: name } },
    )
  }
  ctx.used.add(name)
  return { kind: 'literal', value: parameterLiteral(name, ctx.parameters[name]!, ctx.text) }
}

function parameterLiteral(name: string, value: FilterParameterValue, text: string): FilterLiteral {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value
  if (typeof value === 'number') {
    const raw = String(value)
    if (!NUMBER.test(raw)) reject(`parameter "${name}" must be a finite number, not ${raw}`, text)
    return { number: raw }
  }
  return reject(`parameter "${name}" must be a string, a number, true, false or null`, text)
}

function list(node: AstNode, ctx: Context): FilterExpr[] {
  if (node.type !== 'expr_list' || !Array.isArray(node.value)) {
    if ('ast' in node) reject('subqueries are not allowed', ctx.text)
    return reject('expected a list of values', ctx.text)
  }
  return (node.value as AstNode[]).map((n) => convert(n, ctx))
}

function binary(node: AstNode, ctx: Context): FilterExpr {
  const op = String(node.operator).toUpperCase()
  const left = node.left as AstNode
  const right = node.right as AstNode
  if (op === 'AND' || op === '&&' || op === 'OR') {
    const kind = op === 'AND' || op === '&&' ? 'and' : 'or'
    return { kind, operands: [convert(left, ctx), convert(right, ctx)] }
  }
  if (op === '||' && ctx.dialect.parserDatabase === 'mysql') {
    // MySQL reads || as OR with OR's low precedence; the parser groups it like concatenation,
    // so accepting it could change the meaning. Ask for the unambiguous spelling instead.
    reject('|| is ambiguous in MySQL: write OR, or CONCAT() to join text', ctx.text)
  }
  if (op === '||')
    return { kind: 'binary', op: 'concat', left: convert(left, ctx), right: convert(right, ctx) }
  const cmp = COMPARISON[op] ?? ARITHMETIC[op]
  if (cmp) return { kind: 'binary', op: cmp, left: convert(left, ctx), right: convert(right, ctx) }
  if (op === 'IS' || op === 'IS NOT') {
    if (right?.type !== 'null') reject(`${op} is only allowed with NULL`, ctx.text)
    return { kind: 'isNull', operand: convert(left, ctx), negated: op === 'IS NOT' }
  }
  if (op === 'IN' || op === 'NOT IN') {
    return {
      kind: 'in',
      operand: convert(left, ctx),
      list: list(right, ctx),
      negated: op === 'NOT IN',
    }
  }
  if (op === 'BETWEEN' || op === 'NOT BETWEEN') {
    const bounds = list(right, ctx)
    if (bounds.length !== 2) reject('BETWEEN needs two bounds', ctx.text)
    return {
      kind: 'between',
      operand: convert(left, ctx),
      low: bounds[0]!,
      high: bounds[1]!,
      negated: op === 'NOT BETWEEN',
    }
  }
  if (op === 'LIKE' || op === 'NOT LIKE' || op === 'ILIKE' || op === 'NOT ILIKE') {
    if (right?.type === 'expr_list') reject('LIKE takes one pattern', ctx.text)
    return {
      kind: 'like',
      operand: convert(left, ctx),
      pattern: convert(right, ctx),
      negated: op.startsWith('NOT'),
      caseInsensitive: op.endsWith('ILIKE'),
    }
  }
  return reject(`operator ${op} is not allowed`, ctx.text)
}

function unary(node: AstNode, ctx: Context): FilterExpr {
  const op = String(node.operator).toUpperCase()
  const operand = convert(node.expr as AstNode, ctx)
  if (op === 'NOT' || op === '!') return { kind: 'not', operand }
  if (op === '-') {
    if (operand.kind === 'literal' && operand.value && typeof operand.value === 'object') {
      const n = operand.value.number
      return { kind: 'literal', value: { number: n.startsWith('-') ? n.slice(1) : `-${n}` } }
    }
    return {
      kind: 'binary',
      op: '-',
      left: { kind: 'literal', value: { number: '0' } },
      right: operand,
    }
  }
  if (op === '+') return operand
  return reject(`operator ${op} is not allowed`, ctx.text)
}

function call(node: AstNode, ctx: Context): FilterExpr {
  const nameNode = node.name as { name?: { value?: unknown }[]; schema?: unknown } | string
  const parts =
    typeof nameNode === 'string' ? [nameNode] : (nameNode?.name ?? []).map((p) => String(p.value))
  const name = parts.join('.').toLowerCase()
  if (!(FILTER_FUNCTIONS as readonly string[]).includes(name)) {
    reject(`function ${name}() is not allowed (allowed: ${FILTER_FUNCTIONS.join(', ')})`, ctx.text)
  }
  if (node.over != null) reject('window functions are not allowed', ctx.text)
  const argsNode = node.args as AstNode | undefined
  const args = argsNode ? list(argsNode, ctx) : []
  return { kind: 'call', name: name as FilterFunction, args }
}

const MYSQL_ESCAPES: Readonly<Record<string, string>> = {
  '0': '\u0000',
  b: '\b',
  n: '\n',
  r: '\r',
  t: '\t',
  Z: '\u001a',
  '%': '\\%',
  _: '\\_',
}

/**
 * The parser hands string literals back as written between the quotes; turn doubled quotes
 * (and MySQL's backslash escapes) into the characters they stand for.
 */
function unquote(raw: string, quote: string, dialect: SqlDialect): string {
  if (!dialect.backslashEscapes) return raw.replaceAll(quote + quote, quote)
  let out = ''
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!
    if (c === '\\' && i + 1 < raw.length) {
      const next = raw[++i]!
      out += MYSQL_ESCAPES[next] ?? next
    } else if (c === quote && raw[i + 1] === quote) {
      out += quote
      i++
    } else out += c
  }
  return out
}

/**
 * A small lexer pass before parsing: comments, statement separators and PostgreSQL dollar
 * quotes are rejected outright, so nothing can hide from the parser's view of the text.
 */
function scanTokens(text: string, dialect: SqlDialect): void {
  let i = 0
  while (i < text.length) {
    const c = text[i]!
    const next = text[i + 1]
    if (c === "'" || c === '"' || c === '`') {
      i = skipQuoted(text, i, c, dialect.backslashEscapes && c !== '`')
      continue
    }
    if (
      (c === '-' && next === '-') ||
      (c === '/' && next === '*') ||
      (c === '#' && dialect.parserDatabase === 'mysql')
    ) {
      reject('comments are not allowed in a filter', text)
    }
    if (c === ';') reject('only one condition is allowed; ";" separates statements', text)
    if (
      c === '$' &&
      dialect.parserDatabase === 'postgresql' &&
      /^\$[A-Za-z_]*\$/.test(text.slice(i))
    ) {
      reject('dollar-quoted strings are not allowed', text)
    }
    if (c === '\u0000') reject('the condition contains a NUL character', text)
    i++
  }
}

function skipQuoted(text: string, start: number, quote: string, backslash: boolean): number {
  let i = start + 1
  while (i < text.length) {
    const c = text[i]
    if (backslash && c === '\\') {
      i += 2
      continue
    }
    if (c === quote) {
      if (text[i + 1] === quote) {
        i += 2
        continue
      }
      return i + 1
    }
    i++
  }
  return reject('unterminated quoted text', text)
}

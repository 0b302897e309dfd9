/**
 * The filter of one side of a pair, as written in a task file, and the dialect-neutral
 * expression tree both kinds are turned into before anything reaches a system.
 */

/**
 * A filter: an SQL condition or key-value pairs as a user writes them, or an expression the
 * engine built itself (to look records up by key or by match fields).
 */
export type Filter =
  | {
      readonly sql: string
      /**
       * Values of the condition's named parameters (`zip1 = :zip`), bound into the parsed
       * expression as literals: a value is never part of the SQL text, so it cannot change
       * what the condition means.
       */
      readonly parameters?: Readonly<Record<string, FilterParameterValue>>
    }
  | { readonly keyValue: Readonly<Record<string, string | number | boolean | null>> }
  | { readonly expr: FilterExpr }
  /**
   * Records that match every filter: the engine's lookups by key or match values on a side
   * with a filter of its own (a record outside a side's filter is never looked up). Only
   * sent to bridges that accept the side's filter kind.
   */
  | { readonly all: readonly Filter[] }

/** The value of a named parameter of an SQL filter. */
export type FilterParameterValue = string | number | boolean | null

/** What a parameter name looks like (`:zip`, `:postal_code`). */
export const FILTER_PARAMETER_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/** A literal value inside a filter expression. */
export type FilterLiteral = null | boolean | string | { readonly number: string }

/** Comparison and arithmetic operators a filter may use. */
export type FilterBinaryOperator =
  | '='
  | '<>'
  | '<'
  | '<='
  | '>'
  | '>='
  | '+'
  | '-'
  | '*'
  | '/'
  | '%'
  | 'concat'

/** Functions a filter may call: pure, deterministic, present in every SQL dialect we speak. */
export const FILTER_FUNCTIONS = [
  'lower',
  'upper',
  'trim',
  'ltrim',
  'rtrim',
  'length',
  'coalesce',
  'abs',
  'round',
  'nullif',
] as const

/** An allowed filter function. */
export type FilterFunction = (typeof FILTER_FUNCTIONS)[number]

/** A validated filter expression. Only these shapes exist, so compiling one is always safe. */
export type FilterExpr =
  | { readonly kind: 'column'; readonly name: string }
  | { readonly kind: 'literal'; readonly value: FilterLiteral }
  | { readonly kind: 'and' | 'or'; readonly operands: readonly FilterExpr[] }
  | { readonly kind: 'not'; readonly operand: FilterExpr }
  | {
      readonly kind: 'binary'
      readonly op: FilterBinaryOperator
      readonly left: FilterExpr
      readonly right: FilterExpr
    }
  | { readonly kind: 'isNull'; readonly operand: FilterExpr; readonly negated: boolean }
  | {
      readonly kind: 'in'
      readonly operand: FilterExpr
      readonly list: readonly FilterExpr[]
      readonly negated: boolean
    }
  | {
      readonly kind: 'between'
      readonly operand: FilterExpr
      readonly low: FilterExpr
      readonly high: FilterExpr
      readonly negated: boolean
    }
  | {
      readonly kind: 'like'
      readonly operand: FilterExpr
      readonly pattern: FilterExpr
      readonly negated: boolean
      readonly caseInsensitive: boolean
    }
  | { readonly kind: 'call'; readonly name: FilterFunction; readonly args: readonly FilterExpr[] }

/** Turns key-value pairs into an expression: every pair must hold (`null` means IS NULL). */
export function keyValueToExpr(
  pairs: Readonly<Record<string, string | number | boolean | null>>,
): FilterExpr {
  const operands: FilterExpr[] = Object.entries(pairs).map(([name, value]) => {
    const column: FilterExpr = { kind: 'column', name }
    if (value === null) return { kind: 'isNull', operand: column, negated: false }
    const literal: FilterLiteral = typeof value === 'number' ? { number: String(value) } : value
    return { kind: 'binary', op: '=', left: column, right: { kind: 'literal', value: literal } }
  })
  return { kind: 'and', operands }
}

/** The column names an expression refers to. */
export function filterColumns(expr: FilterExpr, out: Set<string> = new Set()): Set<string> {
  switch (expr.kind) {
    case 'column':
      out.add(expr.name)
      break
    case 'literal':
      break
    case 'and':
    case 'or':
      for (const e of expr.operands) filterColumns(e, out)
      break
    case 'not':
    case 'isNull':
      filterColumns(expr.operand, out)
      break
    case 'binary':
      filterColumns(expr.left, out)
      filterColumns(expr.right, out)
      break
    case 'in':
      filterColumns(expr.operand, out)
      for (const e of expr.list) filterColumns(e, out)
      break
    case 'between':
      filterColumns(expr.operand, out)
      filterColumns(expr.low, out)
      filterColumns(expr.high, out)
      break
    case 'like':
      filterColumns(expr.operand, out)
      filterColumns(expr.pattern, out)
      break
    case 'call':
      for (const e of expr.args) filterColumns(e, out)
      break
  }
  return out
}

import type { FilterExpr } from './filter-expr.ts'
import type { SqlDialect } from './sql-dialect.ts'

/** SQL text with its bound parameters. */
export interface CompiledSql {
  readonly sql: string
  readonly params: readonly unknown[]
}

/**
 * Compiles a validated {@link FilterExpr} to SQL for a dialect. Identifiers are quoted,
 * strings are bound as parameters (numbered from `firstParam`), numbers are inlined only
 * after they matched a strict numeric pattern at parse time. The user's text is never used.
 */
export function compileSqlFilter(
  expr: FilterExpr,
  dialect: SqlDialect,
  firstParam = 1,
): CompiledSql {
  const params: unknown[] = []
  const bind = (value: unknown): string => {
    params.push(value)
    return dialect.placeholder(firstParam + params.length - 1)
  }
  const emit = (e: FilterExpr): string => {
    switch (e.kind) {
      case 'column':
        return dialect.quoteIdentifier(e.name)
      case 'literal': {
        const v = e.value
        if (v === null) return 'NULL'
        if (typeof v === 'boolean') return v ? 'TRUE' : 'FALSE'
        if (typeof v === 'string') return bind(v)
        return `(${v.number})`
      }
      case 'and':
      case 'or':
        return e.operands.length === 0
          ? e.kind === 'and'
            ? '(1=1)'
            : '(1=0)'
          : `(${e.operands.map(emit).join(e.kind === 'and' ? ' AND ' : ' OR ')})`
      case 'not':
        return `(NOT ${emit(e.operand)})`
      case 'binary':
        return e.op === 'concat'
          ? dialect.concat(emit(e.left), emit(e.right))
          : `(${emit(e.left)} ${e.op} ${emit(e.right)})`
      case 'isNull':
        return `(${emit(e.operand)} IS ${e.negated ? 'NOT ' : ''}NULL)`
      case 'in':
        return `(${emit(e.operand)} ${e.negated ? 'NOT ' : ''}IN (${e.list.map(emit).join(', ')}))`
      case 'between':
        return `(${emit(e.operand)} ${e.negated ? 'NOT ' : ''}BETWEEN ${emit(e.low)} AND ${emit(e.high)})`
      case 'like': {
        const not = e.negated ? 'NOT ' : ''
        if (e.caseInsensitive && dialect.hasIlike)
          return `(${emit(e.operand)} ${not}ILIKE ${emit(e.pattern)})`
        if (e.caseInsensitive)
          return `(LOWER(${emit(e.operand)}) ${not}LIKE LOWER(${emit(e.pattern)}))`
        return `(${emit(e.operand)} ${not}LIKE ${emit(e.pattern)})`
      }
      case 'call':
        return `${e.name.toUpperCase()}(${e.args.map(emit).join(', ')})`
    }
  }
  const sql = emit(expr)
  return { sql, params }
}

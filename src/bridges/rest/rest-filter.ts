import type { FilterExpr, FilterLiteral } from '../../sdk/index.ts'

/**
 * What of a filter an API can be asked for: the bridge sends the equalities the manifest's
 * `filterParams` (and lookups by key) allow, and still evaluates the whole expression on
 * what comes back (`compileFilter`, src/bridges/shared/evaluate-filter.ts).
 */

/**
 * What part of an expression can go to the API: the values of one field it selects by
 * equality (`field = x`, `field IN (…)`, an OR of those), found at the top or as one
 * operand of an AND. The caller sends a request per value (or one with all of them) and
 * still evaluates the whole expression on the answers.
 */
export function equalityValues(
  expr: FilterExpr,
  usable: (field: string) => boolean,
): { field: string; values: string[] } | undefined {
  const single = oneField(expr)
  if (single && usable(single.field)) return single
  if (expr.kind === 'and') {
    for (const o of expr.operands) {
      const found = equalityValues(o, usable)
      if (found) return found
    }
  }
  return undefined
}

function oneField(e: FilterExpr): { field: string; values: string[] } | undefined {
  if (
    e.kind === 'binary' &&
    e.op === '=' &&
    e.left.kind === 'column' &&
    e.right.kind === 'literal'
  ) {
    const t = literalText(e.right.value)
    return t === undefined ? undefined : { field: e.left.name, values: [t] }
  }
  if (e.kind === 'in' && !e.negated && e.operand.kind === 'column') {
    const values: string[] = []
    for (const item of e.list) {
      const t = item.kind === 'literal' ? literalText(item.value) : undefined
      if (t === undefined) return undefined
      values.push(t)
    }
    return { field: e.operand.name, values }
  }
  if (e.kind === 'or') {
    let field: string | undefined
    const values: string[] = []
    for (const o of e.operands) {
      const part = oneField(o)
      if (!part || (field !== undefined && part.field !== field)) return undefined
      field = part.field
      values.push(...part.values)
    }
    return field === undefined ? undefined : { field, values }
  }
  return undefined
}

function literalText(value: FilterLiteral): string | undefined {
  if (value === null) return undefined
  if (typeof value === 'object') return value.number
  return String(value)
}

/**
 * The keys a lookup by key names: `key IN (…)` for one key field, an OR of ANDs of
 * equalities for composite keys (the engine's `keysFilter`); encoded keys, or undefined.
 */
export function keysOfExpr(
  expr: FilterExpr,
  keyFields: readonly string[],
  encode: (parts: string[]) => string,
): string[] | undefined {
  if (keyFields.length === 1) {
    const found = oneField(expr)
    return found && found.field === keyFields[0] ? found.values : undefined
  }
  const terms = expr.kind === 'or' ? expr.operands : [expr]
  const keys: string[] = []
  for (const term of terms) {
    if (term.kind !== 'and' || term.operands.length !== keyFields.length) return undefined
    const parts = new Map<string, string>()
    for (const o of term.operands) {
      const f = oneField(o)
      if (f?.values.length !== 1) return undefined
      parts.set(f.field, f.values[0]!)
    }
    if (!keyFields.every((k) => parts.has(k))) return undefined
    keys.push(encode(keyFields.map((k) => parts.get(k)!)))
  }
  return keys
}

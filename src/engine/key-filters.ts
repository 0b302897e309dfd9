import {
  decodeKey,
  type FieldInfo,
  type FilterExpr,
  type FilterLiteral,
  type RecordTypeInfo,
  type Value,
} from '../sdk/index.ts'

/** A filter literal for a field value, or undefined when the value cannot be compared. */
export function literalOf(value: Value | undefined, field?: FieldInfo): FilterLiteral | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value === 'boolean') return value
  if (typeof value === 'number' || typeof value === 'bigint') return { number: String(value) }
  if (typeof value === 'string') {
    // Numeric columns compare with numbers: MariaDB compares a BIGINT or DECIMAL with a
    // string as a double, which is not exact beyond 2^53.
    const numeric =
      (field?.type === 'integer' && /^-?\d+$/.test(value)) ||
      (field?.type === 'decimal' && /^-?\d+(\.\d+)?$/.test(value))
    return numeric ? { number: value } : value
  }
  return undefined
}

/** An expression that selects the records with these encoded keys. */
export function keysFilter(type: RecordTypeInfo, keys: readonly string[]): FilterExpr {
  const fields = type.keyFields.map((name) => type.fields.find((f) => f.name === name)!)
  const column = (f: FieldInfo): FilterExpr => ({ kind: 'column', name: f.name })
  const literal = (text: string, f: FieldInfo): FilterExpr => ({
    kind: 'literal',
    value: literalOf(text, f) ?? text,
  })
  if (fields.length === 1) {
    const f = fields[0]!
    return { kind: 'in', operand: column(f), list: keys.map((k) => literal(k, f)), negated: false }
  }
  return {
    kind: 'or',
    operands: keys.map((key) => {
      const parts = decodeKey(key, fields.length)
      return {
        kind: 'and',
        operands: fields.map(
          (f, i) =>
            ({
              kind: 'binary',
              op: '=',
              left: column(f),
              right: literal(parts[i]!, f),
            }) as FilterExpr,
        ),
      }
    }),
  }
}

/**
 * An expression that selects records whose fields equal one of the given value sets
 * (`[{ email: 'a@x' }, { email: 'b@x' }]`); sets with a NULL or uncomparable value are skipped.
 */
export function matchFilter(
  type: RecordTypeInfo,
  sets: readonly Readonly<Record<string, Value>>[],
): FilterExpr | undefined {
  const byName = new Map(type.fields.map((f) => [f.name, f]))
  const operands: FilterExpr[] = []
  for (const set of sets) {
    const terms: FilterExpr[] = []
    for (const [name, value] of Object.entries(set)) {
      const lit = literalOf(value, byName.get(name))
      if (lit === undefined) {
        terms.length = 0
        break
      }
      terms.push({
        kind: 'binary',
        op: '=',
        left: { kind: 'column', name },
        right: { kind: 'literal', value: lit },
      })
    }
    if (terms.length > 0)
      operands.push(terms.length === 1 ? terms[0]! : { kind: 'and', operands: terms })
  }
  if (operands.length === 0) return undefined
  // One field: an IN list, which every planner reads as index lookups and which stays flat.
  const single = operands.every(
    (o) =>
      o.kind === 'binary' &&
      o.left.kind === 'column' &&
      o.left.name === (operands[0] as { left: { name: string } }).left.name,
  )
  if (single) {
    const first = operands[0] as Extract<FilterExpr, { kind: 'binary' }>
    return {
      kind: 'in',
      operand: first.left,
      list: operands.map((o) => (o as Extract<FilterExpr, { kind: 'binary' }>).right),
      negated: false,
    }
  }
  return { kind: 'or', operands }
}

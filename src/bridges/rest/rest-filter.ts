import type { FilterExpr, FilterLiteral, RecordValues, Value } from '../../sdk/index.ts'

/**
 * Filters on records of an API, evaluated here: an API filters by few fields, if any, so
 * the bridge sends what the manifest says the list can filter on (`filterParams`, lookups
 * by key) and evaluates the whole expression on what comes back, with SQL's meaning
 * (NULL compares as unknown, numbers compare as numbers, LIKE with % and _).
 */

type Sql = Value | undefined

/** Whether a record matches the expression (unknown counts as no). */
export function matches(expr: FilterExpr, values: RecordValues): boolean {
  return evaluate(expr, values) === true
}

function evaluate(e: FilterExpr, v: RecordValues): Sql {
  switch (e.kind) {
    case 'column':
      return v[e.name] ?? null
    case 'literal':
      return literal(e.value)
    case 'and': {
      let unknown = false
      for (const o of e.operands) {
        const r = evaluate(o, v)
        if (r === false) return false
        if (r !== true) unknown = true
      }
      return unknown ? null : true
    }
    case 'or': {
      let unknown = false
      for (const o of e.operands) {
        const r = evaluate(o, v)
        if (r === true) return true
        if (r !== false) unknown = true
      }
      return unknown ? null : false
    }
    case 'not': {
      const r = evaluate(e.operand, v)
      return r === null || r === undefined ? null : !truthy(r)
    }
    case 'isNull': {
      const r = evaluate(e.operand, v)
      return (r === null || r === undefined) !== e.negated
    }
    case 'binary':
      return binary(e.op, evaluate(e.left, v), evaluate(e.right, v))
    case 'in': {
      const x = evaluate(e.operand, v)
      if (x === null || x === undefined) return null
      let unknown = false
      for (const item of e.list) {
        const r = binary('=', x, evaluate(item, v))
        if (r === true) return !e.negated
        if (r === null) unknown = true
      }
      return unknown ? null : e.negated
    }
    case 'between': {
      const x = evaluate(e.operand, v)
      const lo = binary('>=', x, evaluate(e.low, v))
      const hi = binary('<=', x, evaluate(e.high, v))
      if (lo === null || hi === null) return null
      return (lo === true && hi === true) !== e.negated
    }
    case 'like': {
      const x = evaluate(e.operand, v)
      const p = evaluate(e.pattern, v)
      if (x === null || x === undefined || p === null || p === undefined) return null
      return likeRegex(String(p), e.caseInsensitive).test(String(x)) !== e.negated
    }
    case 'call':
      return call(
        e.name,
        e.args.map((a) => evaluate(a, v)),
      )
  }
}

function literal(value: FilterLiteral): Sql {
  if (value !== null && typeof value === 'object') return Number(value.number)
  return value
}

function truthy(x: Sql): boolean {
  return x === true || (typeof x === 'number' && x !== 0)
}

function numeric(x: Sql): number | undefined {
  if (typeof x === 'number') return x
  if (typeof x === 'bigint') return Number(x)
  if (typeof x === 'string' && /^\s*-?\d+(\.\d+)?([eE][+-]?\d+)?\s*$/.test(x)) return Number(x)
  return undefined
}

/** -1, 0, 1, or undefined when the values cannot be compared. */
function compare(a: Sql, b: Sql): number | undefined {
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0
  if (
    typeof a === 'number' ||
    typeof b === 'number' ||
    typeof a === 'bigint' ||
    typeof b === 'bigint'
  ) {
    const x = numeric(a)
    const y = numeric(b)
    if (x === undefined || y === undefined) return undefined
    return x < y ? -1 : x > y ? 1 : 0
  }
  if (typeof a === 'boolean' || typeof b === 'boolean') return a === b ? 0 : undefined
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0
  const x = JSON.stringify(a)
  const y = JSON.stringify(b)
  return x < y ? -1 : x > y ? 1 : 0
}

function binary(op: string, a: Sql, b: Sql): Sql {
  if (a === null || a === undefined || b === null || b === undefined) return null
  switch (op) {
    case '=':
    case '<>':
    case '<':
    case '<=':
    case '>':
    case '>=': {
      const c = compare(a, b)
      if (c === undefined) return op === '<>'
      if (op === '=') return c === 0
      if (op === '<>') return c !== 0
      if (op === '<') return c < 0
      if (op === '<=') return c <= 0
      if (op === '>') return c > 0
      return c >= 0
    }
    case 'concat':
      return `${String(a)}${String(b)}`
    default: {
      const x = numeric(a)
      const y = numeric(b)
      if (x === undefined || y === undefined) return null
      if (op === '+') return x + y
      if (op === '-') return x - y
      if (op === '*') return x * y
      if (op === '/') return y === 0 ? null : x / y
      return y === 0 ? null : x % y
    }
  }
}

function call(name: string, args: Sql[]): Sql {
  const [a, b] = args
  if (name === 'coalesce') return args.find((x) => x !== null && x !== undefined) ?? null
  if (name === 'nullif') return binary('=', a, b) === true ? null : (a ?? null)
  if (a === null || a === undefined) return null
  switch (name) {
    case 'lower':
      return String(a).toLowerCase()
    case 'upper':
      return String(a).toUpperCase()
    case 'trim':
      return String(a).trim()
    case 'ltrim':
      return String(a).trimStart()
    case 'rtrim':
      return String(a).trimEnd()
    case 'length':
      return [...String(a)].length
    case 'abs':
      return Math.abs(numeric(a) ?? Number.NaN)
    case 'round': {
      const digits = numeric(b) ?? 0
      const f = 10 ** digits
      return Math.round((numeric(a) ?? Number.NaN) * f) / f
    }
    default:
      return null
  }
}

const likeCache = new Map<string, RegExp>()

function likeRegex(pattern: string, caseInsensitive: boolean): RegExp {
  const id = `${caseInsensitive ? 'i' : 's'}${pattern}`
  let re = likeCache.get(id)
  if (!re) {
    let source = ''
    for (const ch of pattern) {
      if (ch === '%') source += '.*'
      else if (ch === '_') source += '.'
      else source += ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    }
    re = new RegExp(`^${source}$`, caseInsensitive ? 'is' : 's')
    if (likeCache.size > 1000) likeCache.clear()
    likeCache.set(id, re)
  }
  return re
}

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

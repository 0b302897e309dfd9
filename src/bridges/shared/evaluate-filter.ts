import type { FieldInfo, FilterExpr, RecordValues, Value } from '../../sdk/index.ts'

/**
 * A filter expression compiled to a predicate over a record's values, for bridges that
 * filter records themselves rather than in a query (files, APIs without a query language).
 * It follows SQL's rules: NULL compares as unknown, `AND`/`OR`/`NOT` use three-valued logic,
 * and a record matches only when the condition is true. Numbers compare exactly (decimal
 * text digit by digit), text by code unit, `LIKE` is case-sensitive and `ILIKE` is not.
 *
 * @example
 * const keep = compileFilter(expr, type.fields)
 * if (keep(record.values)) yield record
 */
export function compileFilter(
  expr: FilterExpr,
  fields: readonly FieldInfo[],
): (values: RecordValues) => boolean {
  const byName = new Map(fields.map((f) => [f.name, f]))
  const run = node(expr, byName).run
  return (values) => truth(run(values)) === true
}

/** A compiled node: its value for a record, whether it is a number, whether it is a constant. */
interface Compiled {
  readonly run: (values: RecordValues) => Value
  readonly numeric: boolean
  readonly constant?: boolean
}

const NUMERIC_TYPES = new Set(['integer', 'decimal', 'float'])
const DECIMAL_TEXT = /^([+-]?)0*(\d*)(?:\.(\d*?)0*)?$/

function node(expr: FilterExpr, fields: ReadonlyMap<string, FieldInfo>): Compiled {
  const sub = (e: FilterExpr) => node(e, fields)
  switch (expr.kind) {
    case 'column': {
      const name = expr.name
      const type = fields.get(name)?.type
      return { run: (v) => v[name] ?? null, numeric: type !== undefined && NUMERIC_TYPES.has(type) }
    }
    case 'literal': {
      const lit = expr.value
      if (lit !== null && typeof lit === 'object') {
        const text = lit.number
        return { run: () => text, numeric: true, constant: true }
      }
      return { run: () => lit, numeric: false, constant: true }
    }
    case 'and':
    case 'or': {
      const parts = expr.operands.map(sub)
      const stop = expr.kind === 'or'
      return {
        run: (v) => {
          let unknown = false
          for (const p of parts) {
            const t = truth(p.run(v))
            if (t === stop) return stop
            if (t === null) unknown = true
          }
          return unknown ? null : !stop
        },
        numeric: false,
      }
    }
    case 'not': {
      const inner = sub(expr.operand)
      return {
        run: (v) => {
          const t = truth(inner.run(v))
          return t === null ? null : !t
        },
        numeric: false,
      }
    }
    case 'isNull': {
      const inner = sub(expr.operand)
      const negated = expr.negated
      return { run: (v) => (inner.run(v) === null) !== negated, numeric: false }
    }
    case 'binary':
      return binary(expr.op, sub(expr.left), sub(expr.right))
    case 'in': {
      const operand = sub(expr.operand)
      const list = expr.list.map(sub)
      const negated = expr.negated
      // A list of constants (lookups by key): one set lookup per record instead of a scan.
      const numeric = operand.numeric || list.some((item) => item.numeric)
      const constants = constantSet(list, numeric)
      if (constants) {
        return {
          run: (v) => {
            const x = operand.run(v)
            if (x === null) return null
            const hit = constants.has(constantKey(x, numeric))
            return hit ? !negated : constants.hasNull ? null : negated
          },
          numeric: false,
        }
      }
      return {
        run: (v) => {
          const x = operand.run(v)
          let unknown = false
          for (const item of list) {
            const c = compare(x, item.run(v), operand.numeric || item.numeric)
            if (c === 0) return !negated
            if (c === null) unknown = true
          }
          return unknown ? null : negated
        },
        numeric: false,
      }
    }
    case 'between': {
      const operand = sub(expr.operand)
      const low = sub(expr.low)
      const high = sub(expr.high)
      const negated = expr.negated
      return {
        run: (v) => {
          const x = operand.run(v)
          const a = compare(x, low.run(v), operand.numeric || low.numeric)
          const b = compare(x, high.run(v), operand.numeric || high.numeric)
          const inside = and3(a === null ? null : a >= 0, b === null ? null : b <= 0)
          return inside === null ? null : inside !== negated
        },
        numeric: false,
      }
    }
    case 'like': {
      const operand = sub(expr.operand)
      const pattern = sub(expr.pattern)
      const { negated, caseInsensitive } = expr
      const cache = new Map<string, RegExp>()
      return {
        run: (v) => {
          const x = operand.run(v)
          const p = pattern.run(v)
          if (x === null || p === null) return null
          const source = textOf(p)
          let re = cache.get(source)
          if (!re) {
            re = likeRegExp(source, caseInsensitive)
            cache.set(source, re)
          }
          return re.test(textOf(x)) !== negated
        },
        numeric: false,
      }
    }
    case 'call':
      return call(expr.name, expr.args.map(sub))
  }
}

function binary(op: string, left: Compiled, right: Compiled): Compiled {
  const numeric = left.numeric || right.numeric
  const cmp = (test: (c: number) => boolean): Compiled => ({
    run: (v) => {
      const c = compare(left.run(v), right.run(v), numeric)
      return c === null ? null : test(c)
    },
    numeric: false,
  })
  switch (op) {
    case '=':
      return cmp((c) => c === 0)
    case '<>':
      return cmp((c) => c !== 0)
    case '<':
      return cmp((c) => c < 0)
    case '<=':
      return cmp((c) => c <= 0)
    case '>':
      return cmp((c) => c > 0)
    case '>=':
      return cmp((c) => c >= 0)
    case 'concat':
      return {
        run: (v) => {
          const a = left.run(v)
          const b = right.run(v)
          return a === null || b === null ? null : textOf(a) + textOf(b)
        },
        numeric: false,
      }
    default: {
      const apply = ARITHMETIC[op]!
      return {
        run: (v) => {
          const a = toNumber(left.run(v))
          const b = toNumber(right.run(v))
          if (a === null || b === null) return null
          const r = apply(a, b)
          return Number.isFinite(r) ? r : null
        },
        numeric: true,
      }
    }
  }
}

const ARITHMETIC: Record<string, (a: number, b: number) => number> = {
  '+': (a, b) => a + b,
  '-': (a, b) => a - b,
  '*': (a, b) => a * b,
  '/': (a, b) => a / b,
  '%': (a, b) => a % b,
}

function call(name: string, args: readonly Compiled[]): Compiled {
  const text = (f: (s: string) => Value): Compiled => ({
    run: (v) => {
      const x = args[0]!.run(v)
      return x === null ? null : f(textOf(x))
    },
    numeric: name === 'length',
  })
  switch (name) {
    case 'lower':
      return text((s) => s.toLowerCase())
    case 'upper':
      return text((s) => s.toUpperCase())
    case 'trim':
      return text((s) => s.trim())
    case 'ltrim':
      return text((s) => s.trimStart())
    case 'rtrim':
      return text((s) => s.trimEnd())
    case 'length':
      return text((s) => [...s].length)
    case 'coalesce':
      return {
        run: (v) => {
          for (const a of args) {
            const x = a.run(v)
            if (x !== null) return x
          }
          return null
        },
        numeric: args.some((a) => a.numeric),
      }
    case 'nullif':
      return {
        run: (v) => {
          const a = args[0]!.run(v)
          return compare(a, args[1]!.run(v), args[0]!.numeric || args[1]!.numeric) === 0 ? null : a
        },
        numeric: args[0]!.numeric,
      }
    case 'abs':
      return {
        run: (v) => {
          const x = toNumber(args[0]!.run(v))
          return x === null ? null : Math.abs(x)
        },
        numeric: true,
      }
    case 'round':
      return {
        run: (v) => {
          const x = toNumber(args[0]!.run(v))
          const digits = args[1] ? toNumber(args[1].run(v)) : 0
          if (x === null || digits === null) return null
          const f = 10 ** Math.trunc(digits)
          return (Math.sign(x) * Math.round(Math.abs(x) * f)) / f
        },
        numeric: true,
      }
    default:
      throw new TypeError(`unknown filter function ${name}`)
  }
}

/** Compares two values as SQL does; null when either is NULL or they cannot be compared. */
function compare(a: Value | undefined, b: Value | undefined, numeric: boolean): number | null {
  if (a === null || a === undefined || b === null || b === undefined) return null
  if (
    numeric ||
    typeof a === 'number' ||
    typeof b === 'number' ||
    typeof a === 'bigint' ||
    typeof b === 'bigint'
  ) {
    const x = decimalText(a)
    const y = decimalText(b)
    if (x === null || y === null) return null
    return compareDecimal(x, y)
  }
  if (typeof a === 'boolean' || typeof b === 'boolean') {
    const x = toBoolean(a)
    const y = toBoolean(b)
    return x === null || y === null ? null : Number(x) - Number(y)
  }
  const x = textOf(a)
  const y = textOf(b)
  return x < y ? -1 : x > y ? 1 : 0
}

/** The set of a constant IN list, or undefined when an item depends on the record. */
function constantSet(
  list: readonly Compiled[],
  numeric: boolean,
): (Set<string> & { hasNull?: boolean }) | undefined {
  if (!list.every((item) => item.constant)) return undefined
  const set: Set<string> & { hasNull?: boolean } = new Set()
  for (const item of list) {
    const value = item.run(EMPTY)
    if (value === null) set.hasNull = true
    else set.add(constantKey(value, numeric))
  }
  return set
}

const EMPTY: RecordValues = Object.freeze({})

/** The lookup key of a value in a constant set: canonical decimal for numbers, else text. */
function constantKey(value: Value, numeric: boolean): string {
  if (numeric || typeof value === 'number' || typeof value === 'bigint') {
    const d = decimalText(value)
    return d === null ? `t:${textOf(value)}` : `n:${canonicalDecimal(d)}`
  }
  if (typeof value === 'boolean') return `b:${value}`
  return `t:${textOf(value)}`
}

function truth(value: Value | undefined): boolean | null {
  if (value === null || value === undefined) return null
  return toBoolean(value)
}

function and3(a: boolean | null, b: boolean | null): boolean | null {
  if (a === false || b === false) return false
  return a === null || b === null ? null : true
}

function toBoolean(value: Value): boolean | null {
  if (typeof value === 'boolean') return value
  if (typeof value === 'number') return value !== 0
  if (typeof value === 'string') {
    const w = value.toLowerCase()
    if (w === 'true' || w === 't' || w === '1') return true
    if (w === 'false' || w === 'f' || w === '0') return false
  }
  return null
}

function toNumber(value: Value | undefined): number | null {
  if (value === null || value === undefined) return null
  if (typeof value === 'number') return value
  if (typeof value === 'bigint') return Number(value)
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value)
    return Number.isNaN(n) ? null : n
  }
  return null
}

function textOf(value: Value): string {
  if (typeof value === 'string') return value
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex')
  if (typeof value === 'object' && value !== null) return JSON.stringify(value)
  return String(value)
}

/** Decimal text of a numeric value (`1e-7` → `0.0000001`); null when it is not a number. */
function decimalText(value: Value): string | null {
  if (typeof value === 'bigint') return value.toString()
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return null
    const s = String(value)
    return /e/i.test(s)
      ? value.toLocaleString('en-US', { useGrouping: false, maximumFractionDigits: 100 })
      : s
  }
  if (typeof value === 'string') {
    const s = value.trim()
    return DECIMAL_TEXT.test(s) && /\d/.test(s) ? s : null
  }
  if (typeof value === 'boolean') return value ? '1' : '0'
  return null
}

/** `-007.50` → `-7.5`, `+0.0` → `0`: equal numbers, equal text. */
function canonicalDecimal(text: string): string {
  const m = DECIMAL_TEXT.exec(text)!
  const int = m[2] || '0'
  const frac = m[3] ?? ''
  const zero = /^0*$/.test(int) && frac === ''
  return `${m[1] === '-' && !zero ? '-' : ''}${int}${frac ? `.${frac}` : ''}`
}

/** Compares two decimal texts exactly. */
function compareDecimal(a: string, b: string): number {
  const x = canonicalDecimal(a)
  const y = canonicalDecimal(b)
  if (x === y) return 0
  const nx = x.startsWith('-')
  const ny = y.startsWith('-')
  if (nx !== ny) return nx ? -1 : 1
  const mag = compareMagnitude(nx ? x.slice(1) : x, ny ? y.slice(1) : y)
  return nx ? -mag : mag
}

function compareMagnitude(a: string, b: string): number {
  const [ai = '', af = ''] = a.split('.')
  const [bi = '', bf = ''] = b.split('.')
  if (ai.length !== bi.length) return ai.length < bi.length ? -1 : 1
  if (ai !== bi) return ai < bi ? -1 : 1
  const width = Math.max(af.length, bf.length)
  const x = af.padEnd(width, '0')
  const y = bf.padEnd(width, '0')
  return x < y ? -1 : x > y ? 1 : 0
}

/** A `LIKE` pattern as a regular expression: `%` any text, `_` one character, `\` escapes. */
function likeRegExp(pattern: string, caseInsensitive: boolean): RegExp {
  let source = ''
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!
    if (ch === '\\' && i + 1 < pattern.length) {
      source += escapeRegExp(pattern[++i]!)
    } else if (ch === '%') source += '[\\s\\S]*'
    else if (ch === '_') source += '[\\s\\S]'
    else source += escapeRegExp(ch)
  }
  return new RegExp(`^${source}$`, caseInsensitive ? 'iu' : 'u')
}

function escapeRegExp(ch: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(ch) ? `\\${ch}` : ch
}

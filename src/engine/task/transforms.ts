import jsonata from 'jsonata'
import type { Value } from '../../sdk/index.ts'
import { parseFormat } from './date-format.ts'
import type { FieldValues } from './resolved-task.ts'
import type { TransformStep } from './task-file-schema.ts'
import type { IssueList, IssuePath } from './task-issues.ts'
import { describeType, typeConversion, ValueRejected } from './value-conversion.ts'

/**
 * Transforms are data: a list of steps, compiled once per task into functions that run per
 * record. Each step knows at compile time how many values reach it (none, one, or one per
 * field), so a wrong combination (`concat` of a single field) is an error in the task file,
 * not in the middle of a run.
 */

/**
 * The values flowing between steps: one value when the count is 1, a list of one value per
 * field when it is more, and nothing (`null`) when a mapping reads no field.
 */
export type Flow = Value | readonly Value[]

/** A compiled transform, ready to run per record. */
export interface Pipeline {
  /** Whether `run` returns a promise (an `expr` step is in it). */
  readonly async: boolean
  /** Runs the steps on `input`; `record` is what `$record` shows an expression. */
  run(input: Flow, record: FieldValues): Flow | Promise<Flow>
}

/** A value that failed in a step; the mapping turns it into OSY_TRANSFORM_FAILED. */
export class StepFailed extends Error {
  override readonly name = 'StepFailed'
  /** The step's position in the transform, from 0. */
  readonly step: number
  /** The step's kind (`map`, `type`, …). */
  readonly kind: string
  /** What the step said about the value. */
  readonly rejected: ValueRejected

  constructor(step: number, kind: string, rejected: ValueRejected) {
    super(rejected.message)
    this.step = step
    this.kind = kind
    this.rejected = rejected
  }
}

/** Where a transform sits: for messages and for checking how many values it must produce. */
export interface TransformSite {
  /** The path of the transform in the task file (`pairs[0].fields.name.toErp`). */
  readonly path: IssuePath
  /** Whether the transform was written as a list (step paths then carry an index). */
  readonly listed: boolean
  readonly sourceKey: string
  readonly targetKey: string
  readonly sourceCount: number
  readonly targetCount: number
}

/** Guards for expressions, so one bad expression cannot stall a run. */
const EXPR_LIMITS = { timeout: 1000, stack: 500 } as const

interface CompiledStep {
  readonly kind: string
  readonly async: boolean
  run(input: Flow, record: FieldValues): Flow | Promise<Flow>
}

/** The kind of a step: its one step key. */
export function stepKind(step: TransformStep): string {
  if ('map' in step) return 'map'
  if ('const' in step) return 'const'
  if ('type' in step) return 'type'
  if ('trim' in step) return 'trim'
  if ('case' in step) return 'case'
  if ('concat' in step) return 'concat'
  if ('split' in step) return 'split'
  return 'expr'
}

/** The steps of a transform as a list. */
export function stepsOf(
  transform: TransformStep | readonly TransformStep[],
): readonly TransformStep[] {
  return Array.isArray(transform) ? transform : [transform as TransformStep]
}

/**
 * Compiles steps for a site. Problems go to `issues` with the step's path; the result is
 * undefined when there were any.
 */
export function compileTransform(
  steps: readonly TransformStep[],
  site: TransformSite,
  issues: IssueList,
): Pipeline | undefined {
  const before = issues.issues.length
  const compiled: CompiledStep[] = []
  let count = site.sourceCount
  if (site.targetCount === 0) {
    issues.add(site.path, `this mapping has no field of ${site.targetKey} to write`)
    return undefined
  }
  steps.forEach((step, index) => {
    const kind = stepKind(step)
    const path = site.listed ? [...site.path, index] : site.path
    const last = index === steps.length - 1
    if (count === 0 && kind !== 'const' && kind !== 'expr') {
      issues.add(
        path,
        `this mapping reads no field of ${site.sourceKey}, so it must start with a const or expr step`,
      )
      count = 1
      return
    }
    switch (kind) {
      case 'concat':
        if (count < 2) {
          issues.add(
            path,
            `concat joins several fields, but this mapping reads one field of ${site.sourceKey}`,
          )
        }
        count = 1
        break
      case 'split':
        if (count > 1) {
          issues.add(
            path,
            `split takes one value, but this mapping reads ${count} fields of ${site.sourceKey}; concat them first`,
          )
        } else if (site.targetCount < 2) {
          issues.add(
            path,
            `split fills several fields, but this mapping writes one field of ${site.targetKey}`,
          )
        }
        count = site.targetCount
        break
      case 'const':
        count = 1
        break
      case 'expr':
        // An expression gives one value, or as the last step one value per target field.
        count = last && site.targetCount > 1 ? site.targetCount : 1
        break
    }
    const built = compileStep(step, kind, count, site, path, issues)
    if (built) compiled.push(built)
  })
  if (count !== site.targetCount && issues.issues.length === before) {
    issues.add(site.path, countMessage(count, site))
  }
  if (issues.issues.length > before) return undefined
  return pipelineOf(compiled)
}

/** The pipeline that passes values through unchanged (a plain rename). */
export const identityPipeline: Pipeline = { async: false, run: (input) => input }

function countMessage(count: number, site: TransformSite): string {
  const reads = count === 1 ? 'one value' : `${count} values`
  const fix = site.targetCount > count ? 'split or an expr that returns a list' : 'concat or expr'
  return `ends with ${reads}, but this mapping writes ${site.targetCount} field${site.targetCount === 1 ? '' : 's'} of ${site.targetKey}: end with a ${fix}`
}

function pipelineOf(steps: readonly CompiledStep[]): Pipeline {
  const async = steps.some((s) => s.async)
  if (!async) {
    return {
      async,
      run(input, record) {
        let flow = input
        for (let i = 0; i < steps.length; i++) flow = runStep(steps[i]!, i, flow, record) as Flow
        return flow
      },
    }
  }
  return {
    async,
    async run(input, record) {
      let flow = input
      for (let i = 0; i < steps.length; i++) flow = await runStep(steps[i]!, i, flow, record)
      return flow
    },
  }
}

function runStep(
  step: CompiledStep,
  index: number,
  flow: Flow,
  record: FieldValues,
): Flow | Promise<Flow> {
  const fail = (error: unknown): never => {
    if (error instanceof ValueRejected) throw new StepFailed(index, step.kind, error)
    throw error
  }
  try {
    const out = step.run(flow, record)
    return out instanceof Promise ? out.catch(fail) : out
  } catch (error) {
    return fail(error)
  }
}

/** Applies a one-value function to one value, or to each value of several fields. */
function each(count: number, fn: (value: Value) => Value): (input: Flow) => Flow {
  if (count > 1) return (input) => (input as readonly Value[]).map(fn)
  return (input) => fn(input as Value)
}

function sync(kind: string, run: (input: Flow) => Flow): CompiledStep {
  return { kind, async: false, run }
}

function compileStep(
  step: TransformStep,
  kind: string,
  count: number,
  site: TransformSite,
  path: IssuePath,
  issues: IssueList,
): CompiledStep | undefined {
  if ('map' in step) {
    const entries = step.map as Readonly<Record<string, Value>>
    return sync(
      kind,
      each(count, valueMap(entries, 'default' in step, (step.default ?? null) as Value)),
    )
  }
  if ('const' in step) {
    const value = step.const as Value
    return sync(kind, () => value)
  }
  if ('type' in step) {
    const format = step.format === undefined ? undefined : parseFormat(step.format)
    // The schema checked the format; a string here would be a bug in it.
    if (typeof format === 'string') throw new Error(`unchecked format: ${format}`)
    return sync(kind, each(count, typeConversion(step.type, format)))
  }
  if ('trim' in step)
    return sync(
      kind,
      each(count, (v) => (typeof v === 'string' ? v.trim() : v)),
    )
  if ('case' in step) return sync(kind, each(count, caseChange(step.case)))
  if ('concat' in step) return sync(kind, concat(step.concat.separator))
  if ('split' in step) return sync(kind, split(step.split.separator, site.targetCount))
  return compileExpr(step.expr, count, [...path, 'expr'], issues)
}

function valueMap(
  entries: Readonly<Record<string, Value>>,
  hasDefault: boolean,
  fallback: Value,
): (value: Value) => Value {
  // A Map, not the object: a value like "constructor" must not find Object.prototype members.
  const table = new Map<string, Value>(Object.entries(entries))
  return (value) => {
    if (value === null) return hasDefault ? fallback : null
    if (typeof value === 'object')
      throw new ValueRejected(value, `cannot look up ${describeType(value)} in a map`)
    const key = String(value)
    if (table.has(key)) return table.get(key)!
    if (hasDefault) return fallback
    throw new ValueRejected(
      value,
      `the map has no entry for this ${typeof value === 'string' ? 'string' : describeType(value).replace(/^an? /, '')} and no default`,
    )
  }
}

function caseChange(mode: 'upper' | 'lower' | 'title'): (value: Value) => Value {
  return (value) => {
    if (typeof value !== 'string') return value
    if (mode === 'upper') return value.toUpperCase()
    if (mode === 'lower') return value.toLowerCase()
    // A word starts after anything that is not a letter, digit or apostrophe: "anna-maria o'neil" → "Anna-Maria O'neil".
    return value
      .toLowerCase()
      .replace(
        /(^|[^\p{L}\p{N}'’])(\p{L})/gu,
        (_, before: string, letter: string) => before + letter.toUpperCase(),
      )
  }
}

function concat(separator: string): (input: Flow) => Flow {
  return (input) => {
    const parts: string[] = []
    for (const value of input as readonly Value[]) {
      if (value === null || value === '') continue
      if (typeof value === 'object')
        throw new ValueRejected(value, `cannot concat ${describeType(value)}`)
      parts.push(String(value))
    }
    // Empty parts are left out, so a missing middle name leaves no double separator.
    return parts.length === 0 ? null : parts.join(separator)
  }
}

function split(separator: string, count: number): (input: Flow) => Flow {
  return (input) => {
    const value = input as Value
    if (value === null) return new Array<Value>(count).fill(null)
    if (typeof value !== 'string')
      throw new ValueRejected(value, `cannot split ${describeType(value)}`)
    const pieces = value.split(separator)
    // The last field takes the rest, so nothing is lost and concat gives the text back.
    const out: Value[] = pieces.slice(0, count - 1)
    out.push(pieces.length >= count ? pieces.slice(count - 1).join(separator) : null)
    while (out.length < count) out.splice(out.length - 1, 0, null)
    return out.slice(0, count)
  }
}

function compileExpr(
  source: string,
  count: number,
  path: IssuePath,
  issues: IssueList,
): CompiledStep | undefined {
  let expression: jsonata.Expression
  try {
    expression = jsonata(source, EXPR_LIMITS)
  } catch (error) {
    const e = error as { message?: string; position?: number }
    issues.add(
      path,
      `JSONata syntax error at position ${e.position ?? 0}: ${e.message ?? String(error)}`,
    )
    return undefined
  }
  return {
    kind: 'expr',
    async: true,
    async run(input, record) {
      const value = forExpression(input)
      let result: unknown
      try {
        result = await expression.evaluate(value, { value, record: forExpression(record) })
      } catch (error) {
        throw new ValueRejected(input, `the expression failed: ${expressionError(error)}`)
      }
      return fromExpression(result, count)
    },
  }
}

/** Values an expression can work with: JSONata has no bigint, so big integers go in as text. */
function forExpression(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString()
  if (Array.isArray(value)) return value.map(forExpression)
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, forExpression(v)]))
  }
  return value
}

function fromExpression(result: unknown, count: number): Flow {
  const value = toValue(result)
  if (count === 1) return value
  if (Array.isArray(value) && value.length === count) return value as Value[]
  throw new ValueRejected(
    value,
    `the expression gave ${describeType(value)}, but ${count} values (a list) were expected`,
  )
}

function toValue(result: unknown): Value {
  if (result === undefined) return null
  if (typeof result === 'function')
    throw new ValueRejected(result, 'the expression gave a function, not a value')
  // JSONata marks its result sequences with extra properties; hand on plain arrays.
  if (Array.isArray(result)) return result.map(toValue) as Value
  return result as Value
}

function expressionError(error: unknown): string {
  const e = error as { code?: string; message?: string; value?: unknown }
  let message = e.message ?? String(error)
  // JSONata puts the offending value into some messages; it may be personal data. The
  // guard errors put their own limit there, which is worth showing.
  const limit = e.code === 'D1011' || e.code === 'D1012' || e.code === 'D2015'
  if (!limit && e.value !== undefined && e.value !== null && typeof e.value !== 'object') {
    const shown = String(e.value)
    if (shown.length > 0) message = message.split(shown).join(`<${describeType(e.value)}>`)
  }
  return e.code ? `${e.code} ${message}` : message
}

/** What a transform becomes in the other direction, or why it has no inverse there. */
export type Inversion =
  | { readonly steps: readonly TransformStep[] }
  | { readonly path: IssuePath; readonly reason: string }

/**
 * Derives the transform for the other direction: steps in reverse order, each inverted —
 * a one-to-one map reversed, concat and split swapped, a date format read where it was
 * written. trim, case and type without a format are left out (the value goes back as it
 * is); const and expr have no inverse.
 */
export function invertTransform(
  steps: readonly TransformStep[],
  path: IssuePath,
  listed: boolean,
): Inversion {
  const out: TransformStep[] = []
  for (let index = steps.length - 1; index >= 0; index--) {
    const step = steps[index]!
    const at = listed ? [...path, index] : path
    if ('map' in step) {
      const inverse: Record<string, Value> = {}
      const owner = new Map<string, string>()
      for (const [from, to] of Object.entries(step.map)) {
        if (to === null) continue // null passes through as null on the way back
        const key = String(to)
        const first = owner.get(key)
        if (first !== undefined) {
          return {
            path: [...at, 'map'],
            reason: `${first} and ${from} both map to ${key}, so the map cannot be inverted`,
          }
        }
        owner.set(key, from)
        inverse[key] = from
      }
      out.push({ map: inverse })
    } else if ('concat' in step) {
      if (step.concat.separator === '') {
        return {
          path: [...at, 'concat'],
          reason: 'a concat without a separator cannot be split back',
        }
      }
      out.push({ split: { separator: step.concat.separator } })
    } else if ('split' in step) {
      out.push({ concat: { separator: step.split.separator } })
    } else if ('type' in step) {
      if (step.format === undefined) continue
      if (step.type === 'string') {
        const format = parseFormat(step.format)
        const timed = typeof format !== 'string' && format.hasTime
        out.push({ type: timed ? 'timestamp' : 'date', format: step.format })
      } else {
        out.push({ type: 'string', format: step.format })
      }
    } else if ('const' in step || 'expr' in step) {
      const kind = stepKind(step)
      return {
        path: [...at, kind],
        reason: `${kind === 'expr' ? 'an' : 'a'} ${kind} step has no inverse`,
      }
    }
    // trim and case: nothing to undo.
  }
  return { steps: out }
}

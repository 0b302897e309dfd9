/**
 * A pair's `fields` (the task file's field mappings) as rows the wizard edits, and back.
 * Short form `<field of A>: <field of B>`; long form `{ <A>: …, <B>: …, to<Key>: transform }`.
 */

/** One mapping: its id, the fields of each side, the transforms by their `to<Key>` key. */
export interface FieldRow {
  readonly id: string
  readonly a: readonly string[]
  readonly b: readonly string[]
  readonly transforms: Readonly<Record<string, unknown>>
}

/** The key of the transform towards a system (`erp` → `toErp`), as the task file names it. */
export const transformKey = (system: string) =>
  `to${system.charAt(0).toUpperCase()}${system.slice(1)}`

const list = (v: unknown): string[] =>
  Array.isArray(v) ? v.map(String) : typeof v === 'string' ? [v] : []

export function rowsOf(fields: Record<string, unknown>, a: string, b: string): FieldRow[] {
  return Object.entries(fields).map(([id, mapping]) => {
    if (typeof mapping !== 'object' || mapping === null)
      return { id, a: [id], b: list(mapping), transforms: {} }
    const m = mapping as Record<string, unknown>
    const transforms = Object.fromEntries(
      Object.entries(m).filter(([k]) => k !== a && k !== b && m[k] !== undefined),
    )
    return { id, a: list(m[a]), b: list(m[b]), transforms }
  })
}

export function fieldsOf(rows: readonly FieldRow[], a: string, b: string): Record<string, unknown> {
  const side = (fields: readonly string[]) => (fields.length === 1 ? fields[0]! : [...fields])
  return Object.fromEntries(
    rows.map((row) => {
      const short =
        row.a.length === 1 &&
        row.b.length === 1 &&
        row.a[0] === row.id &&
        Object.keys(row.transforms).length === 0
      return [row.id, short ? row.b[0] : { [a]: side(row.a), [b]: side(row.b), ...row.transforms }]
    }),
  )
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/

/**
 * Where the server's check puts the problems of a mapping: `pairs[0].fields.city`, a key
 * that is no plain name quoted (`fields["e-mail"]`), as the task file's issue paths are.
 */
export function mappingPath(pairPath: string, id: string): string {
  return `${pairPath}.fields${IDENTIFIER.test(id) ? `.${id}` : `[${JSON.stringify(id)}]`}`
}

/** Whether an issue's path is at or inside `path`. */
export const isUnder = (issuePath: string, path: string) =>
  issuePath === path || issuePath.startsWith(`${path}.`) || issuePath.startsWith(`${path}[`)

/** An id not taken by another row: the field's name, else with _2, _3, … */
export function freeId(rows: readonly FieldRow[], wanted: string, except?: string): string {
  const taken = new Set(rows.map((r) => r.id).filter((id) => id !== except))
  if (!taken.has(wanted)) return wanted
  let n = 2
  while (taken.has(`${wanted}_${n}`)) n++
  return `${wanted}_${n}`
}

/** The step kinds of a transform, as the task file's schema has them (docs/task-file.md). */
export const STEP_KINDS = [
  'map',
  'const',
  'type',
  'trim',
  'case',
  'concat',
  'split',
  'expr',
] as const
export type StepKind = (typeof STEP_KINDS)[number]
/** The types a `type` step converts to. */
export const VALUE_TYPES = ['string', 'number', 'integer', 'boolean', 'date', 'timestamp'] as const
/** The types a `type` step may have a `format` for. */
export const FORMAT_TYPES: readonly string[] = ['string', 'date', 'timestamp']
export const CASES = ['upper', 'lower', 'title'] as const

/** One transform step as written: an object with one step key. */
export type Step = Readonly<Record<string, unknown>>
/** What a `map` holds and gives. */
export type Scalar = string | number | boolean | null

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)
const isScalar = (v: unknown): v is Scalar =>
  v === null || ['string', 'number', 'boolean'].includes(typeof v)
/** `{ separator: "…" }` and nothing else. */
const isSeparator = (v: unknown) =>
  isObject(v) && Object.keys(v).join() === 'separator' && typeof v.separator === 'string'

/** Which kind of step `step` is; undefined when it is no step the wizard knows how to edit. */
export function stepKind(step: unknown): StepKind | undefined {
  if (!isObject(step)) return undefined
  const keys = Object.keys(step)
  const kinds = keys.filter((k): k is StepKind => (STEP_KINDS as readonly string[]).includes(k))
  if (kinds.length !== 1) return undefined
  const kind = kinds[0]!
  const others = keys.filter((k) => k !== kind)
  const extra = kind === 'map' ? 'default' : kind === 'type' ? 'format' : undefined
  if (others.some((k) => k !== extra)) return undefined
  const v = step[kind]
  const ok: Record<StepKind, () => boolean> = {
    map: () =>
      isObject(v) &&
      Object.values(v).every(isScalar) &&
      (step.default === undefined || isScalar(step.default)),
    const: () => v !== undefined,
    type: () =>
      (VALUE_TYPES as readonly unknown[]).includes(v) &&
      (step.format === undefined || typeof step.format === 'string'),
    trim: () => v === true,
    case: () => (CASES as readonly unknown[]).includes(v),
    concat: () => isSeparator(v),
    split: () => isSeparator(v),
    expr: () => typeof v === 'string',
  }
  return ok[kind]() ? kind : undefined
}

/**
 * A transform as the list of its steps (none: `[]`); undefined when it holds something the
 * wizard cannot edit, which it then keeps as written.
 */
export function stepsOf(transform: unknown): Step[] | undefined {
  if (transform === undefined) return []
  const list: unknown[] = Array.isArray(transform) ? transform : [transform]
  if (list.length === 0 || list.some((s) => stepKind(s) === undefined)) return undefined
  return list as Step[]
}

/** Steps as the task file writes a transform: none, the one step, or the list. */
export function transformOf(steps: readonly Step[]): unknown {
  return steps.length === 0 ? undefined : steps.length === 1 ? steps[0] : [...steps]
}

/** A new step of a kind, with what it needs filled in as far as it can be. */
export function newStep(kind: StepKind): Step {
  switch (kind) {
    case 'map':
      return { map: {} }
    case 'const':
      return { const: '' }
    case 'type':
      return { type: 'string' }
    case 'trim':
      return { trim: true }
    case 'case':
      return { case: 'upper' }
    case 'concat':
      return { concat: { separator: ' ' } }
    case 'split':
      return { split: { separator: ' ' } }
    case 'expr':
      return { expr: '$' }
  }
}

/** Whether a row's transform needs more than the row's select to be seen and edited. */
export function needsForm(steps: readonly Step[]): boolean {
  if (steps.length > 1) return true
  const [step] = steps
  const kind = stepKind(step)
  if (kind === 'type') return step!.format !== undefined
  return kind !== undefined && !['trim', 'case'].includes(kind)
}

/** One entry of a `map` step: a value, and what it becomes. */
export interface MapEntry {
  readonly from: string
  readonly to: Scalar
}

/** The entries of a `map` step, in the order written. */
export function mapEntriesOf(step: Step): MapEntry[] {
  return Object.entries((step.map ?? {}) as Record<string, Scalar>).map(([from, to]) => ({
    from,
    to,
  }))
}

/**
 * A `map` step from entries (an entry with no value yet is left out; a value given twice
 * keeps its last entry) and its default (undefined: none).
 */
export function mapStep(entries: readonly MapEntry[], fallback: Scalar | undefined): Step {
  const map: Record<string, Scalar> = {}
  for (const e of entries) if (e.from !== '') map[e.from] = e.to
  return { map, ...(fallback !== undefined ? { default: fallback } : {}) }
}

/** Values given in more than one entry of a map (only the last one counts). */
export function duplicateValues(entries: readonly MapEntry[]): string[] {
  const seen = new Set<string>()
  const twice = new Set<string>()
  for (const { from } of entries) {
    if (from !== '' && seen.has(from)) twice.add(from)
    seen.add(from)
  }
  return [...twice]
}

/** A map's value as an input shows it (null as nothing). */
export const scalarText = (value: Scalar | undefined): string =>
  value === null || value === undefined ? '' : String(value)

/** A `const` value as the form edits it: text, or JSON for anything but text. */
export function constText(value: unknown): { text: string; json: boolean } {
  return typeof value === 'string'
    ? { text: value, json: false }
    : { text: JSON.stringify(value ?? null), json: true }
}

/** The value of a `const` form: the text itself, or the JSON it holds. */
export function constValue(text: string, json: boolean): { value: unknown } | { error: string } {
  if (!json) return { value: text }
  try {
    return { value: JSON.parse(text) as unknown }
  } catch (error) {
    return { error: (error as Error).message }
  }
}

/** The one-value steps each row's select offers directly. */
export const TRANSFORMS = {
  none: undefined,
  trim: { trim: true },
  'case:upper': { case: 'upper' },
  'case:lower': { case: 'lower' },
  'case:title': { case: 'title' },
  'type:string': { type: 'string' },
  'type:number': { type: 'number' },
  'type:integer': { type: 'integer' },
  'type:boolean': { type: 'boolean' },
  'type:date': { type: 'date' },
  'type:timestamp': { type: 'timestamp' },
} as const

/** The steps the select offers that need more input (their form shows below the row). */
export const FORM_STEPS = ['map', 'const', 'concat', 'split', 'expr'] as const

/** What a row's select can say: one of the offered steps, several steps, or kept as written. */
export type TransformChoice =
  | keyof typeof TRANSFORMS
  | (typeof FORM_STEPS)[number]
  | 'steps'
  | 'kept'

/**
 * What a row's select shows for its transform: the step (a `type` with a format by its type),
 * `steps` for several, `kept` for something the wizard cannot edit.
 */
export function transformChoice(transform: unknown): TransformChoice {
  const steps = stepsOf(transform)
  if (steps === undefined) return 'kept'
  if (steps.length === 0) return 'none'
  if (steps.length > 1) return 'steps'
  const step = steps[0]!
  const kind = stepKind(step)!
  if (kind === 'case' || kind === 'type') return `${kind}:${String(step[kind])}` as TransformChoice
  return kind as TransformChoice
}

/** The transform a choice of the row's select stands for. */
export function choiceTransform(choice: Exclude<TransformChoice, 'steps' | 'kept'>): unknown {
  return (FORM_STEPS as readonly string[]).includes(choice)
    ? newStep(choice as StepKind)
    : TRANSFORMS[choice as keyof typeof TRANSFORMS]
}

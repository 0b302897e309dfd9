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

/** An id not taken by another row: the field's name, else with _2, _3, … */
export function freeId(rows: readonly FieldRow[], wanted: string, except?: string): string {
  const taken = new Set(rows.map((r) => r.id).filter((id) => id !== except))
  if (!taken.has(wanted)) return wanted
  let n = 2
  while (taken.has(`${wanted}_${n}`)) n++
  return `${wanted}_${n}`
}

/** The transforms offered per row: the one-value steps of docs/task-file.md that need no more input. */
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

export type TransformChoice = keyof typeof TRANSFORMS

/** Which offered transform a row's transform is; `kept` for any other (a map, a list, …). */
export function transformChoice(transform: unknown): TransformChoice | 'kept' {
  if (transform === undefined) return 'none'
  const json = JSON.stringify(transform)
  for (const [name, step] of Object.entries(TRANSFORMS)) {
    if (step !== undefined && JSON.stringify(step) === json) return name as TransformChoice
  }
  return 'kept'
}

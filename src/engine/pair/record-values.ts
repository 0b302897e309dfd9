import { conformValue, type FieldInfo, parseJson, type Value } from '../../sdk/index.ts'
import { canonical } from '../fingerprint.ts'
import type { FieldValues } from '../task/resolved-task.ts'

/** The given fields of a record's values, missing ones as null. */
export function pick(values: FieldValues, fields: readonly string[]): Record<string, Value> {
  const out: Record<string, Value> = {}
  for (const f of fields) out[f] = values[f] ?? null
  return out
}

/** Values with the given fields put in the form their field stores (see conformValue). */
export function conformAll(values: FieldValues, fields: readonly FieldInfo[]): FieldValues {
  const out: Record<string, Value> = { ...values }
  for (const f of fields) if (f.name in out) out[f.name] = conformValue(out[f.name], f)
  return out
}

/** Match values compare case- and space-insensitively, as e-mail addresses and numbers should. */
export function matchText(values: Readonly<Record<string, Value>>): string | undefined {
  const parts: string[] = []
  for (const key of Object.keys(values).sort()) {
    const v = values[key]
    if (v === null || v === undefined || v === '') return undefined
    parts.push(canonical(typeof v === 'string' ? v.trim().toLowerCase() : v))
  }
  return JSON.stringify(parts)
}

/** Whether a record's values carry the given match values (see {@link matchText}). */
export function sameMatch(set: Readonly<Record<string, Value>>, values: FieldValues): boolean {
  return matchText(set) === matchText(pick(values, Object.keys(set)))
}

/** Values as JSON-safe data for protocols and parked conflicts; JSON numbers stay exact. */
export function jsonable(value: unknown): unknown {
  return parseJson(
    JSON.stringify(value, (_k, v) =>
      typeof v === 'bigint'
        ? v.toString()
        : v instanceof Uint8Array
          ? Buffer.from(v).toString('base64')
          : v,
    ),
  )
}

/** Items in slices of `size`. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

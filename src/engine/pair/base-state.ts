import type { FieldType } from '../../sdk/index.ts'
import { fingerprintOf, isPlainText } from '../fingerprint.ts'
import type { FieldValues, Side } from '../task/resolved-task.ts'

/**
 * The base state of one side of a link: each mapping's fingerprint as last synced, by
 * mapping id. It is what the merge compares both sides' current values with.
 */
export type Base = Record<string, string>

/** The two stored texts of a link's base (see {@link storedBases}). */
export type StoredBases = [string, string]

/** The second base text when it equals the first: stored once, halving what a link weighs. */
export const SAME_AS_FIRST = '='

/**
 * The base of both sides as stored. Mappings without transforms leave both sides with the
 * same fingerprints; then the second is stored as `=`.
 */
export function storedBases(base: readonly [Base, Base], same = false): StoredBases {
  const first = JSON.stringify(base[0])
  if (same) return [first, SAME_AS_FIRST]
  const second = JSON.stringify(base[1])
  return [first, second === first ? SAME_AS_FIRST : second]
}

/** The base of one side of a link, from its stored texts (see {@link storedBases}). */
export function baseOf(link: { readonly base: readonly [string, string] }, side: Side): Base {
  const text = side === 1 && link.base[1] === SAME_AS_FIRST ? link.base[0] : link.base[side]
  try {
    return JSON.parse(text) as Base
  } catch {
    return {}
  }
}

/** What JSON.stringify escapes in a string: quotes, backslashes, control characters, surrogates. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters JSON escapes
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/

/**
 * The fast text form of a base: for a create whose mappings are all plain renames read alike
 * on both sides (one base serves both), the base's stored text joined straight from the
 * record's values — where a value's fingerprint is `s` + the value — exactly as
 * `storedBases` would write the base object, without building it. Undefined when a mapping
 * id is integer-like: JSON.stringify writes such keys first, whatever their order, so the
 * object's way is taken.
 */
export function plainBaseText(
  ids: readonly string[],
  direct: readonly (
    | { readonly from: string; readonly fromType: FieldType | undefined }
    | undefined
  )[],
): ((values: FieldValues) => string) | undefined {
  if (ids.some((id) => /^(?:0|[1-9]\d*)$/.test(id))) return undefined
  // What goes before each mapping's fingerprint (`{"id":"`, then `","id":"`), and the same
  // with the `s` of a plain text value.
  const other = ids.map((id, i) => `${i === 0 ? '{' : '",'}${JSON.stringify(id)}:"`)
  const text = other.map((p) => `${p}s`)
  const n = ids.length
  // The pieces of one base text, reused record after record (joined before the next).
  const parts = new Array<string>(2 * n + 1)
  parts[2 * n] = n === 0 ? '{}' : '"}'
  return (values) => {
    for (let i = 0; i < n; i++) {
      const d = direct[i]!
      const value = values[d.from] ?? null
      if (isPlainText(value, d.fromType) && !NEEDS_ESCAPE.test(value)) {
        parts[2 * i] = text[i]!
        parts[2 * i + 1] = value
      } else {
        const fp = fingerprintOf(value, d.fromType)
        parts[2 * i] = other[i]!
        parts[2 * i + 1] = NEEDS_ESCAPE.test(fp) ? JSON.stringify(fp).slice(1, -1) : fp
      }
    }
    return parts.join('')
  }
}

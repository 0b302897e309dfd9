import type { Fingerprint } from './fingerprint.ts'

/**
 * The values a base fingerprint was made of, by field, as far as the fingerprint keeps them
 * (see fingerprint.ts): undefined when there is no base (a first sync) or the fingerprint
 * is a hash of a long value. Numbers come back as numbers while they are exact, as their
 * text otherwise; bytes as base64 (what conflicts show of a current value, too).
 */
export function valuesOfFingerprint(
  fp: Fingerprint | undefined,
  fields: readonly string[],
): Record<string, unknown> | undefined {
  if (fp === undefined || fp.startsWith('#')) return undefined
  let canonicals: unknown[]
  if (fields.length === 1) canonicals = [fp]
  else {
    try {
      canonicals = JSON.parse(fp) as unknown[]
    } catch {
      return undefined
    }
    if (!Array.isArray(canonicals) || canonicals.length !== fields.length) return undefined
  }
  const out: Record<string, unknown> = {}
  for (const [i, field] of fields.entries()) {
    const c = canonicals[i]
    if (typeof c !== 'string') return undefined
    const value = valueOfCanonical(c)
    if (value === NOT_KEPT) return undefined
    out[field] = value
  }
  return out
}

const NOT_KEPT = Symbol('not kept')

/** One value from its canonical text (see `canonical` in fingerprint.ts). */
function valueOfCanonical(text: string): unknown {
  if (text === '∅') return null
  if (text === 'T') return true
  if (text === 'F') return false
  const rest = text.slice(1)
  switch (text[0]) {
    case 's':
      return rest
    case 'n': {
      const n = Number(rest)
      return Number.isFinite(n) && String(n) === rest ? n : rest
    }
    case 'x':
      return Buffer.from(rest, 'hex').toString('base64')
    case 'j':
      try {
        return JSON.parse(rest) as unknown
      } catch {
        return NOT_KEPT
      }
    default:
      return NOT_KEPT
  }
}

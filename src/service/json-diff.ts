import { isSealed, SECRET_PLACEHOLDER } from './secrets.ts'

/** One difference between two documents. */
export interface DiffEntry {
  readonly path: string
  readonly before?: unknown
  readonly after?: unknown
}

/** At most this many entries go into an audit event; a `…` entry says there were more. */
const MAX_ENTRIES = 200

/**
 * The differences between two JSON documents, path by path (`pairs.0.fields.name`), for the
 * audit trail of a task's edits. Compare the documents as stored: a kept secret is the same
 * sealed text on both sides, a changed one differs; every sealed value is shown as the
 * placeholder, so the diff says a password changed without saying it.
 */
export function jsonDiff(before: unknown, after: unknown): DiffEntry[] {
  const out: DiffEntry[] = []
  walk(before, after, '', out)
  if (out.length > MAX_ENTRIES) return [...out.slice(0, MAX_ENTRIES), { path: '…' }]
  return out
}

function walk(a: unknown, b: unknown, path: string, out: DiffEntry[]): void {
  if (out.length > MAX_ENTRIES) return
  if (isContainer(a) && isContainer(b) && Array.isArray(a) === Array.isArray(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)])
    for (const key of keys) {
      walk(
        (a as Record<string, unknown>)[key],
        (b as Record<string, unknown>)[key],
        path ? `${path}.${key}` : key,
        out,
      )
    }
    return
  }
  if (JSON.stringify(a) === JSON.stringify(b)) return
  out.push({
    path,
    ...(a !== undefined ? { before: masked(a) } : {}),
    ...(b !== undefined ? { after: masked(b) } : {}),
  })
}

function isContainer(value: unknown): value is object {
  return value !== null && typeof value === 'object'
}

function masked(value: unknown): unknown {
  if (isSealed(value)) return SECRET_PLACEHOLDER
  if (!isContainer(value)) return value
  return JSON.parse(JSON.stringify(value), (_k, v: unknown) =>
    isSealed(v) ? SECRET_PLACEHOLDER : v,
  )
}

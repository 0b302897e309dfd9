/**
 * Applies a JSON Merge Patch (RFC 7386): members of `patch` replace those of `target`,
 * objects merge recursively, `null` removes a member. Returns a new value; keys such as
 * `__proto__` stay plain members and never reach a prototype.
 */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch
  const base = isObject(target) ? target : {}
  const entries = new Map<string, unknown>(Object.entries(base))
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) entries.delete(key)
    else entries.set(key, mergePatch(entries.get(key), value))
  }
  return Object.fromEntries(entries)
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

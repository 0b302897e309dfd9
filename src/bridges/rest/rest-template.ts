import { OpenSyncError } from '../../sdk/index.ts'

/**
 * The manifest's placeholders: `{{name}}` or `{{name.part}}` inside a string. A string that
 * is one placeholder alone takes the value as it is (a record, a number, a list); inside
 * longer text the value is written as text. Names are looked up in a scope: the connection
 * values, and per request `key` (`key.<field>` for composite keys), `record`, `records`.
 */
export type TemplateScope = Readonly<Record<string, unknown>>

const PLACEHOLDER = /\{\{\s*([A-Za-z_][\w.-]*)\s*\}\}/g
const WHOLE = /^\{\{\s*([A-Za-z_][\w.-]*)\s*\}\}$/

/** Renders a string; `encode` escapes each value (for URL paths and queries). */
export function renderString(
  template: string,
  scope: TemplateScope,
  encode: (text: string) => string = (t) => t,
): string {
  if (!template.includes('{{')) return template
  return template.replace(PLACEHOLDER, (_, name: string) =>
    encode(textOf(lookup(scope, name), name)),
  )
}

/** Renders a JSON template: every string in it, a lone placeholder keeping its value's type. */
export function renderJson(template: unknown, scope: TemplateScope): unknown {
  if (typeof template === 'string') {
    const whole = WHOLE.exec(template)
    if (whole) return lookup(scope, whole[1]!)
    return renderString(template, scope)
  }
  if (Array.isArray(template)) return template.map((t) => renderJson(t, scope))
  if (template !== null && typeof template === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(template)) {
      const value = renderJson(v, scope)
      if (value !== undefined) out[k] = value
    }
    return out
  }
  return template
}

/** The placeholder names a template uses (top-level names only). */
export function placeholdersOf(template: unknown, out: Set<string> = new Set()): Set<string> {
  if (typeof template === 'string') {
    for (const m of template.matchAll(PLACEHOLDER)) out.add(m[1]!.split('.')[0]!)
  } else if (Array.isArray(template)) for (const t of template) placeholdersOf(t, out)
  else if (template !== null && typeof template === 'object')
    for (const t of Object.values(template)) placeholdersOf(t, out)
  return out
}

function lookup(scope: TemplateScope, name: string): unknown {
  let value: unknown = scope
  for (const part of name.split('.')) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, part)) {
      if (value === scope) {
        throw new OpenSyncError(
          'OSY_INVALID_CONNECTION',
          `the manifest names {{${name}}}, which is neither a connection field nor known here`,
          { details: { field: name } },
        )
      }
      return undefined
    }
    value = (value as Record<string, unknown>)[part]
  }
  return value
}

function textOf(value: unknown, name: string): string {
  if (value === undefined || value === null) return ''
  // A key: its own text, with its parts as members (`{{key}}`, `{{key.site}}`).
  if (typeof value === 'object' && value.toString !== Object.prototype.toString)
    return String(value)
  if (typeof value === 'object') {
    throw new OpenSyncError(
      'OSY_INVALID_CONNECTION',
      `{{${name}}} is not text and cannot be part of a string`,
      {
        details: { field: name },
      },
    )
  }
  return String(value)
}

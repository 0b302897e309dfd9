import { OpenSyncError } from './errors.ts'

/**
 * One field of a bridge's connection form, declared as data (like an n8n credential type):
 * the console form, defaults, validation and secret masking all come from this declaration.
 */
export interface FieldSpec {
  readonly name: string
  readonly label: string
  readonly type: 'string' | 'number' | 'boolean' | 'path' | 'url'
  readonly required?: boolean
  /** Secret values are encrypted at rest, masked in the API and never logged. */
  readonly secret?: boolean
  readonly default?: string | number | boolean
  readonly help?: string
}

/** Connection values as entered by a user, keyed by {@link FieldSpec.name}. */
export type ConnectionValues = Readonly<Record<string, string | number | boolean | undefined>>

/**
 * Checks values against a form: unknown names are rejected, required ones must be present,
 * numbers and booleans are coerced from text, defaults are filled in. Returns a frozen copy.
 */
export function resolveConnectionValues(
  fields: readonly FieldSpec[],
  values: ConnectionValues,
  options: { requireOneOf?: readonly (readonly string[])[] } = {},
): Readonly<Record<string, string | number | boolean>> {
  const known = new Map(fields.map((f) => [f.name, f]))
  for (const name of Object.keys(values)) {
    if (!known.has(name)) {
      throw new OpenSyncError(
        'OSY_INVALID_CONNECTION',
        `unknown connection field "${name}" (known: ${[...known.keys()].join(', ')})`,
        { details: { field: name } },
      )
    }
  }
  const out: Record<string, string | number | boolean> = {}
  for (const field of fields) {
    const raw = values[field.name] ?? field.default
    if (raw === undefined || raw === '') {
      if (field.required) {
        throw new OpenSyncError(
          'OSY_INVALID_CONNECTION',
          `connection field "${field.name}" is required`,
          {
            details: { field: field.name },
          },
        )
      }
      continue
    }
    out[field.name] = coerce(field, raw)
  }
  for (const group of options.requireOneOf ?? []) {
    if (!group.some((name) => out[name] !== undefined)) {
      throw new OpenSyncError('OSY_INVALID_CONNECTION', `one of ${group.join(', ')} is required`, {
        details: { field: group[0] },
      })
    }
  }
  return Object.freeze(out)
}

function coerce(field: FieldSpec, raw: string | number | boolean): string | number | boolean {
  if (field.type === 'number') {
    const n = typeof raw === 'number' ? raw : Number(raw)
    if (!Number.isFinite(n)) {
      throw new OpenSyncError(
        'OSY_INVALID_CONNECTION',
        `connection field "${field.name}" must be a number`,
        {
          details: { field: field.name },
        },
      )
    }
    return n
  }
  if (field.type === 'boolean') {
    if (typeof raw === 'boolean') return raw
    if (raw === 'true' || raw === '1' || raw === 1) return true
    if (raw === 'false' || raw === '0' || raw === 0) return false
    throw new OpenSyncError(
      'OSY_INVALID_CONNECTION',
      `connection field "${field.name}" must be true or false`,
      {
        details: { field: field.name },
      },
    )
  }
  return String(raw)
}

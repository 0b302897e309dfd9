import type { FieldSpec } from '../sdk/index.ts'

/** A connection form as JSON Schema (draft 2020-12) with UI hints, for generated forms. */
export interface ConnectionJsonSchema {
  readonly type: 'object'
  readonly properties: Readonly<Record<string, Readonly<Record<string, unknown>>>>
  readonly required: readonly string[]
  readonly additionalProperties: false
}

/**
 * The JSON Schema of a connection form declared as data (a bridge's `connectionFields`, or
 * a profile's form): each field's type, `title` (label), `description` (help), `default`,
 * and the UI hints `writeOnly` + `format: password` for secrets and `x-order` for the order
 * the fields are shown in.
 */
export function connectionJsonSchema(fields: readonly FieldSpec[]): ConnectionJsonSchema {
  const properties: Record<string, Record<string, unknown>> = {}
  fields.forEach((f, order) => {
    properties[f.name] = {
      type: f.type === 'number' ? 'number' : f.type === 'boolean' ? 'boolean' : 'string',
      title: f.label,
      ...(f.help ? { description: f.help } : {}),
      ...(f.default !== undefined ? { default: f.default } : {}),
      ...(f.type === 'url' ? { format: 'uri' } : {}),
      ...(f.secret ? { writeOnly: true, format: 'password' } : {}),
      'x-order': order,
    }
  })
  return {
    type: 'object',
    properties,
    required: fields.filter((f) => f.required).map((f) => f.name),
    additionalProperties: false,
  }
}

import { NumberInput, PasswordInput, Select, Stack, Switch, TextInput } from '@mantine/core'
import { useTranslation } from 'react-i18next'

/** The value the API sends back for a stored secret: kept as it is when sent back unchanged. */
export const SECRET_PLACEHOLDER_HINT = 'secret'

/** A connection form as the API describes it: a JSON Schema object with UI hints per field. */
export interface FormSchema {
  readonly properties?: Readonly<Record<string, FieldSchema>>
  readonly required?: readonly string[]
}

interface FieldSchema {
  readonly type?: string
  readonly title?: string
  readonly description?: string
  readonly default?: unknown
  readonly enum?: readonly unknown[]
  readonly writeOnly?: boolean
  readonly 'x-secret'?: boolean
  readonly 'x-order'?: number
}

export type ConnectionValues = Record<string, string | number | boolean>

/**
 * The form of a bridge's connection fields, generated from its schema — never written per
 * bridge. Secrets are password inputs; a stored secret comes back as the API's placeholder
 * and stays as it is unless the user types a new one.
 */
export function ConnectionForm({
  schema,
  values,
  onChange,
  idPrefix,
  disabled,
}: {
  schema: FormSchema
  values: ConnectionValues
  onChange: (values: ConnectionValues) => void
  idPrefix: string
  disabled?: boolean
}) {
  const { t } = useTranslation()
  const required = new Set(schema.required ?? [])
  const fields = Object.entries(schema.properties ?? {}).sort(
    ([, a], [, b]) => (a['x-order'] ?? 0) - (b['x-order'] ?? 0),
  )
  const set = (name: string, value: string | number | boolean | undefined) => {
    const next = { ...values }
    if (value === undefined || value === '') delete next[name]
    else next[name] = value
    onChange(next)
  }
  return (
    <Stack gap="sm">
      {fields.map(([name, field]) => {
        const common = {
          id: `${idPrefix}-${name}`,
          label: field.title ?? name,
          description: field.description,
          required: required.has(name),
          disabled,
          'data-field': name,
        }
        const value = values[name]
        const placeholder = field.default !== undefined ? String(field.default) : undefined
        if (field.writeOnly || field['x-secret']) {
          return (
            <PasswordInput
              key={name}
              {...common}
              autoComplete="new-password"
              placeholder={value === undefined ? t('connection.secretEmpty') : undefined}
              value={typeof value === 'string' ? value : ''}
              onChange={(e) => set(name, e.currentTarget.value)}
            />
          )
        }
        if (field.enum) {
          return (
            <Select
              key={name}
              {...common}
              data={field.enum.map(String)}
              value={value === undefined ? null : String(value)}
              onChange={(v) => set(name, v ?? undefined)}
            />
          )
        }
        if (field.type === 'boolean') {
          return (
            <Switch
              key={name}
              {...common}
              checked={value === true}
              onChange={(e) => set(name, e.currentTarget.checked)}
            />
          )
        }
        if (field.type === 'number' || field.type === 'integer') {
          return (
            <NumberInput
              key={name}
              {...common}
              placeholder={placeholder}
              value={typeof value === 'number' ? value : ''}
              onChange={(v) => set(name, typeof v === 'number' ? v : undefined)}
            />
          )
        }
        return (
          <TextInput
            key={name}
            {...common}
            placeholder={placeholder}
            value={value === undefined ? '' : String(value)}
            onChange={(e) => set(name, e.currentTarget.value)}
          />
        )
      })}
    </Stack>
  )
}

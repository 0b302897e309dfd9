import { NumberInput, PasswordInput, Select, Stack, Switch, TextInput } from '@mantine/core'
import type { ReactNode } from 'react'
import { useTranslation } from 'react-i18next'
import type { FormField } from '../wizard/wizard-api.ts'

export type ConnectionValues = Record<string, string | number | boolean>

/** How the API shows a stored secret; sent back as it is, the stored value stays. */
export const SECRET_PLACEHOLDER = '********'

/**
 * A connection form generated from the fields a bridge declares (as the system's profile
 * labels them) — never written per bridge. Secrets are password inputs: a stored secret
 * comes back as the placeholder and stays as it is unless the user types a new one.
 * `render` may replace a field's input (the home database drop-down).
 */
export function ConnectionForm({
  fields,
  values,
  onChange,
  idPrefix,
  render,
}: {
  fields: readonly FormField[]
  values: ConnectionValues
  onChange: (values: ConnectionValues) => void
  idPrefix: string
  render?: (field: FormField) => ReactNode | undefined
}) {
  const { t } = useTranslation()
  const set = (name: string, value: string | number | boolean | undefined) => {
    const next = { ...values }
    if (value === undefined || value === '') delete next[name]
    else next[name] = value
    onChange(next)
  }
  return (
    <Stack gap="sm">
      {fields.map((field) => {
        const custom = render?.(field)
        if (custom) return <div key={field.name}>{custom}</div>
        const common = {
          id: `${idPrefix}-${field.name}`,
          label: field.label,
          description: field.help,
          required: field.required === true,
          'data-field': field.name,
        }
        const value = values[field.name]
        const placeholder = field.default !== undefined ? String(field.default) : undefined
        if (field.secret) {
          return (
            <PasswordInput
              key={field.name}
              {...common}
              autoComplete="new-password"
              description={value === SECRET_PLACEHOLDER ? t('connection.secretKept') : field.help}
              value={typeof value === 'string' ? value : ''}
              onChange={(e) => set(field.name, e.currentTarget.value)}
            />
          )
        }
        if (field.options) {
          return (
            <Select
              key={field.name}
              {...common}
              data={field.options.map(String)}
              value={value === undefined ? null : String(value)}
              onChange={(v) => set(field.name, v ?? undefined)}
            />
          )
        }
        if (field.type === 'boolean') {
          return (
            <Switch
              key={field.name}
              {...common}
              checked={value === true}
              onChange={(e) => set(field.name, e.currentTarget.checked)}
            />
          )
        }
        if (field.type === 'number') {
          return (
            <NumberInput
              key={field.name}
              {...common}
              placeholder={placeholder}
              value={typeof value === 'number' ? value : ''}
              onChange={(v) => set(field.name, typeof v === 'number' ? v : undefined)}
            />
          )
        }
        return (
          <TextInput
            key={field.name}
            {...common}
            placeholder={placeholder}
            value={value === undefined ? '' : String(value)}
            onChange={(e) => set(field.name, e.currentTarget.value)}
          />
        )
      })}
    </Stack>
  )
}

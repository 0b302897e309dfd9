import type { Bridge, FieldSpec } from '../../sdk/index.ts'
import type { Profile } from './profile-schema.ts'

/** A value of a connection field. */
export type ConnectionValue = string | number | boolean

/** One field of a profile's connection form: the bridge's field as the profile shows it. */
export interface ProfileFormField extends FieldSpec {
  /** The values to choose from, when the profile names them (a drop-down). */
  readonly options?: readonly ConnectionValue[]
  /** The database field of a home profile that picks it from the server's list. */
  readonly pickFromServer?: boolean
}

/** The connection step of a profile: what the form shows and what it fixes. */
export interface ConnectionForm {
  /** The fields shown, in order, with the profile's labels, help and pre-filled values. */
  readonly fields: readonly ProfileFormField[]
  /** Values of fields the form does not show: fixed by the profile. */
  readonly fixed: Readonly<Record<string, ConnectionValue>>
}

/** A problem found while fitting a profile onto its bridge. */
export interface FormIssue {
  readonly path: readonly PropertyKey[]
  readonly message: string
}

/**
 * Fits a profile's connection section onto its bridge's form: shown fields in the profile's
 * order, relabelled, with help and pre-filled values; hidden fields fixed by `defaults`. A
 * field the bridge marks secret stays secret. A profile with bridge settings (a REST
 * manifest) may name fields the bridge's static form does not know: the settings declare
 * them, so they are taken as the profile describes them.
 */
export function connectionForm(
  profile: Profile,
  bridge: Bridge,
  hasSettings: boolean,
): { form: ConnectionForm; issues: FormIssue[] } {
  const issues: FormIssue[] = []
  const byName = new Map(bridge.connectionFields.map((f) => [f.name, f]))
  const known = [...byName.keys()].join(', ') || 'none'
  const shown = profile.connection?.fields
  const defaults = profile.connection?.defaults ?? {}
  const database = profile.home?.pickDatabase ? profile.home.databaseField : undefined

  const fields: ProfileFormField[] = []
  const names = shown ? Object.keys(shown) : [...byName.keys()]
  for (const name of names) {
    const declared = byName.get(name)
    const custom = shown?.[name] ?? {}
    if (!declared && !hasSettings) {
      issues.push({
        path: ['connection', 'fields', name],
        message: `bridge ${bridge.name} has no connection field ${name} (fields: ${known})`,
      })
      continue
    }
    const value = defaults[name] ?? declared?.default
    const required = custom.required ?? declared?.required
    const help = custom.help ?? declared?.help
    fields.push({
      name,
      label: custom.label ?? declared?.label ?? name,
      type: declared?.type ?? custom.type ?? 'string',
      ...(required ? { required } : {}),
      ...(declared?.secret || custom.secret ? { secret: true } : {}),
      ...(value !== undefined ? { default: value } : {}),
      ...(help ? { help } : {}),
      ...(custom.options ? { options: custom.options } : {}),
      ...(name === database ? { pickFromServer: true } : {}),
    })
  }

  const fixed: Record<string, ConnectionValue> = {}
  for (const [name, value] of Object.entries(defaults)) {
    const field = byName.get(name) ?? fields.find((f) => f.name === name)
    if (!field && !hasSettings) {
      issues.push({
        path: ['connection', 'defaults', name],
        message: `bridge ${bridge.name} has no connection field ${name} (fields: ${known})`,
      })
      continue
    }
    if (field?.secret || shown?.[name]?.secret) {
      issues.push({
        path: ['connection', 'defaults', name],
        message: 'is a secret: a profile gives it no value, the task does',
      })
      continue
    }
    if (!names.includes(name)) fixed[name] = value
  }
  if (profile.home?.databaseField && profile.home.pickDatabase) {
    const name = profile.home.databaseField
    if (!byName.has(name) && !fields.some((f) => f.name === name)) {
      issues.push({
        path: ['home', 'databaseField'],
        message: `bridge ${bridge.name} has no connection field ${name} (fields: ${known})`,
      })
    }
  }
  return { form: { fields, fixed }, issues }
}

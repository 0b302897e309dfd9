import { BridgeRegistry, type FieldSpec, OpenSyncError } from '../sdk/index.ts'
import { isSealed, type SecretBox } from './secrets-box.ts'

/**
 * What the API, the CLI and exports show instead of a secret value. Sent back unchanged, it
 * keeps the stored value ({@link mergeSecrets}).
 */
export const SECRET_PLACEHOLDER = '********'

/** The connection form of a bridge by name; undefined for a bridge this process does not know. */
export type ConnectionFieldLookup = (bridge: string) => readonly FieldSpec[] | undefined

/** Where the secret flags come from: a registry, or a lookup of connection forms. */
export type SecretFieldSource = BridgeRegistry | ConnectionFieldLookup

/**
 * The part of a task document these helpers read: each system's bridge and connection. A
 * `TaskFile` fits, and so does a draft with parts still missing.
 */
export interface SecretTaskDocument {
  readonly systems?: Readonly<Record<string, SecretTaskSystem | undefined>>
}

/** One system of a {@link SecretTaskDocument}. */
export interface SecretTaskSystem {
  readonly bridge?: string
  readonly connection?: Readonly<Record<string, unknown>>
}

// Only a value made of nothing but `${NAME}` references is kept as written: it names where a
// secret lives and holds none. Anything with literal text around a reference
// (`postgres://u:pw@h/${DB}`) may hold a secret, so it is treated as one.
const REFERENCES_ONLY = /^(?:\$\{[A-Za-z_][A-Za-z0-9_]*\})+$/

/** True when `value` is one or more `${VAR}` references and nothing else. */
export function isEnvReference(value: unknown): boolean {
  return typeof value === 'string' && REFERENCES_ONLY.test(value)
}

/**
 * Encrypts every secret connection value, for storing: the fields a bridge marks `secret`
 * (password, url), any field the bridge does not declare, and every field of a bridge this
 * process does not know — when in doubt a value is treated as secret. Empty values,
 * `${VAR}` references and values sealed already stay as they are. Returns a copy.
 * Throws OSY_INVALID_TASK on a {@link SECRET_PLACEHOLDER}: run {@link mergeSecrets} first.
 *
 * @example
 * await store.saveTask(sealTask(mergeSecrets(incoming, stored, registry), box, registry))
 */
export function sealTask<T extends SecretTaskDocument>(
  doc: T,
  box: SecretBox,
  fields: SecretFieldSource,
): T {
  return mapSecretValues(doc, fields, (value, path) => {
    if (!hasSecret(value) || isSealed(value)) return value
    if (value === SECRET_PLACEHOLDER) throw placeholderWithoutValue(path)
    return box.encrypt(String(value))
  })
}

/**
 * Decrypts every sealed connection value, for running; `${VAR}` references are left for the
 * environment substitution that follows. Every sealed value is opened whatever the field,
 * so a value sealed while a field was secret still opens. Returns a copy; on a wrong key or
 * a damaged value it throws (naming the field) and `sealed` is not touched.
 *
 * @example
 * const task = compileTask(validateTaskFile(substituteEnv(openTask(stored, box), process.env)))
 */
export function openTask<T extends SecretTaskDocument>(sealed: T, box: SecretBox): T {
  return mapConnectionValues(
    sealed,
    () => everyField,
    (value, path) => {
      if (!isSealed(value)) return value
      try {
        return box.decrypt(value)
      } catch (error) {
        if (!(error instanceof OpenSyncError)) throw error
        throw new OpenSyncError(error.code, `cannot open ${path}: ${error.message}`, {
          cause: error,
          details: { ...error.details, field: path },
        })
      }
    },
  )
}

/**
 * Replaces every secret connection value with {@link SECRET_PLACEHOLDER}, for the API, the
 * CLI and `tasks export`. Works on sealed and on plain documents alike; `${VAR}` references
 * and empty values are shown as written. Returns a copy.
 */
export function maskTask<T extends SecretTaskDocument>(doc: T, fields: SecretFieldSource): T {
  return mapSecretValues(doc, fields, (value) => (hasSecret(value) ? SECRET_PLACEHOLDER : value))
}

/**
 * Puts the stored value back wherever a client sent {@link SECRET_PLACEHOLDER} for a secret:
 * the edit flow of the console and the API, which never see the secret. The stored value is
 * taken from the system of the same key and the same bridge; a placeholder with nothing to
 * keep (a new system, another bridge, a masked export imported elsewhere) is an
 * OSY_INVALID_TASK error naming the field. Any other value replaces the stored one. Returns
 * a copy.
 */
export function mergeSecrets<T extends SecretTaskDocument>(
  incoming: T,
  stored: SecretTaskDocument | undefined,
  fields: SecretFieldSource,
): T {
  return mapSecretValues(incoming, fields, (value, path, systemKey, name) => {
    if (value !== SECRET_PLACEHOLDER) return value
    const before = stored?.systems?.[systemKey]
    const kept =
      before?.bridge === incoming.systems?.[systemKey]?.bridge
        ? before?.connection?.[name]
        : undefined
    if (kept === undefined || kept === '') throw placeholderWithoutValue(path)
    return kept
  })
}

/**
 * The secret values of an opened, environment-substituted document, for {@link redact}:
 * each secret connection value, and the password inside each secret URL.
 */
export function secretValues(doc: SecretTaskDocument, fields: SecretFieldSource): string[] {
  const found = new Set<string>()
  mapSecretValues(doc, fields, (value) => {
    if (hasSecret(value) && !isSealed(value)) {
      const text = String(value)
      found.add(text)
      const password = urlPassword(text)
      if (password) found.add(password)
    }
    return value
  })
  return [...found]
}

const everyField = () => true

/** True when the value may hold a secret: not empty, not only `${VAR}` references. */
function hasSecret(value: unknown): boolean {
  return value !== undefined && value !== null && value !== '' && !isEnvReference(value)
}

function urlPassword(text: string): string | undefined {
  if (!text.includes('://')) return undefined
  try {
    const password = new URL(text).password
    return password ? decodeURIComponent(password) : undefined
  } catch {
    return undefined
  }
}

function placeholderWithoutValue(path: string): OpenSyncError {
  const message = `${path} is the placeholder ${SECRET_PLACEHOLDER}, but there is no stored value to keep; enter the value`
  return new OpenSyncError('OSY_INVALID_TASK', message, {
    details: { field: path, issues: [{ path, message: 'is the placeholder; enter the value' }] },
  })
}

type ValueMapper = (value: unknown, path: string, systemKey: string, name: string) => unknown

/** Maps the values of the fields that are secret for each system's bridge. */
function mapSecretValues<T extends SecretTaskDocument>(
  doc: T,
  fields: SecretFieldSource,
  map: ValueMapper,
): T {
  const lookup = toLookup(fields)
  return mapConnectionValues(doc, (system) => secretFieldTest(lookup, system.bridge), map)
}

/**
 * Copies `doc` and maps its connection values; `select` picks, per system, the fields to map.
 * The input is never changed, so a failure halfway leaves the caller's document as it was.
 */
function mapConnectionValues<T extends SecretTaskDocument>(
  doc: T,
  select: (system: SecretTaskSystem) => (name: string) => boolean,
  map: ValueMapper,
): T {
  const copy = structuredClone(doc) as T & {
    systems?: Record<string, { connection?: Record<string, unknown> }>
  }
  const systems = copy.systems
  if (!isObject(systems)) return copy
  for (const [systemKey, system] of Object.entries(systems)) {
    if (!isObject(system) || !isObject(system.connection)) continue
    const isSelected = select(system as SecretTaskSystem)
    const connection = system.connection
    for (const [name, value] of Object.entries(connection)) {
      if (!isSelected(name)) continue
      const path = `systems.${systemKey}.connection.${name}`
      connection[name] = map(value, path, systemKey, name)
    }
  }
  return copy
}

function secretFieldTest(
  lookup: ConnectionFieldLookup,
  bridge: unknown,
): (name: string) => boolean {
  const specs = typeof bridge === 'string' ? lookup(bridge) : undefined
  // A bridge that is not loaded here (or not chosen yet, in a draft): every value may be secret.
  if (!specs) return () => true
  const byName = new Map(specs.map((spec) => [spec.name, spec]))
  // A name the bridge does not declare (a typo such as `pasword`) is never used to connect,
  // but may still hold a secret.
  return (name) => {
    const spec = byName.get(name)
    return spec === undefined || spec.secret === true
  }
}

function toLookup(fields: SecretFieldSource): ConnectionFieldLookup {
  if (fields instanceof BridgeRegistry) {
    return (bridge) => (fields.has(bridge) ? fields.get(bridge).connectionFields : undefined)
  }
  return fields
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

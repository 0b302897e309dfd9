import {
  compileTask,
  RESERVED_SYSTEM_KEYS,
  SYSTEM_KEY_PATTERN,
  type TaskFileInput,
  type TaskIssue,
  validateTaskFile,
} from '../../engine/task/index.ts'
import {
  type Filter,
  type FilterParameterValue,
  isOpenSyncError,
  OpenSyncError,
} from '../../sdk/index.ts'
import type { ConnectionValue } from './connection-form.ts'
import { fieldsOf } from './fields-of.ts'
import { type LoadedProfile, sideFilterIssues } from './load-profile.ts'
import { displayPath, invalidProfiles } from './profile-issues.ts'
import type {
  FilterKind,
  ProfileDirection,
  ProfilePair,
  ProfileSideFilter,
} from './profile-schema.ts'

/** The two roles of a task made from profiles. */
export type ProfileSide = 'home' | 'other'

/** A filter the user writes for a side, besides the profile's parameters. */
export type SideFilterChoice =
  | {
      readonly sql: string
      readonly parameters?: Readonly<Record<string, FilterParameterValue>>
    }
  | { readonly keyValue: Readonly<Record<string, string | number | boolean | null>> }

/** What the user chose for one pair on offer (the wizard's step 3). */
export interface PairChoices {
  /** The pair's id in the other profile. */
  readonly id: string
  /** One of the pair's directions; its default direction otherwise. */
  readonly direction?: ProfileDirection
  /** The name of one of the pair's field assignments; the first otherwise. */
  readonly fieldAssignment?: string
  /** Values of the named filter parameters, per side. */
  readonly parameters?: Partial<Record<ProfileSide, Readonly<Record<string, FilterParameterValue>>>>
  /** A filter of one of the kinds the side offers, joined with the parameters' conditions. */
  readonly filters?: Partial<Record<ProfileSide, SideFilterChoice>>
  /** Who wins a conflict; the pair's default otherwise. */
  readonly conflict?: 'home' | 'other' | 'newest' | 'manual'
  /** What a delete does; the pair's default otherwise. */
  readonly deletes?: NonNullable<TaskFileInput['pairs'][number]['deletes']>
}

/** The user's choices for a task between two profiles (the wizard's four steps). */
export interface TaskChoices {
  /** The task's subject; "<home system> ↔ <other system>" otherwise. */
  readonly subject?: string
  /** The task's id; derived from the subject otherwise. */
  readonly id?: string
  /** The system keys; each profile's `systemKey`, or its id made into a key, otherwise. */
  readonly keys?: Partial<Record<ProfileSide, string>>
  /** Connection values entered, per side (the profile's defaults and fixed values apply). */
  readonly connection?: Partial<Record<ProfileSide, Readonly<Record<string, ConnectionValue>>>>
  /**
   * The pairs: ids, or choices per pair. Fixed pairs are always included. Left out: every
   * pair on offer, with its defaults.
   */
  readonly pairs?: readonly (string | PairChoices)[]
  /** The execution plan; `{ kind: manual }` otherwise. */
  readonly plan?: TaskFileInput['plan']
}

/** A task document made from two profiles. */
export interface ProfileTask {
  /** The task document, as a task file holds it (write it as YAML, or save it). */
  readonly document: TaskFileInput
  /**
   * What is still to fill in (required connection values, required filter parameters, a
   * pair): the task is a draft until then. Paths point into `document`.
   */
  readonly missing: readonly TaskIssue[]
  /** The `${VAR}` references the document uses for required secrets nobody entered. */
  readonly env: readonly string[]
}

/**
 * The pairs `other` offers with `home` as the home system: those naming no home profiles
 * or naming this one, whose home record type the home profile offers (when it lists any).
 */
export function pairsOffered(home: LoadedProfile, other: LoadedProfile): readonly ProfilePair[] {
  const types = home.profile.recordTypes
  return other.profile.pairs.filter((pair) => {
    if (pair.homeProfiles && !pair.homeProfiles.includes(home.id)) return false
    return !types || Object.hasOwn(types, pair.home)
  })
}

/**
 * Makes a task document from a home profile and another profile with the user's choices:
 * the function behind `opensync tasks new --from` and the console's wizard. Everything the
 * task needs is copied into it — bridge, connection values, bridge settings (the manifest
 * itself, not its path), record types, cursors, filters, mappings — and the profile ids and
 * versions are recorded, so the task keeps working when a profile changes or is removed.
 *
 * A choice the profiles do not offer throws OSY_INVALID_OPTION naming it. What is merely not
 * filled in yet comes back in `missing`: a required secret nobody entered becomes a
 * `${VAR}` reference (listed in `env`), and a required filter parameter without a value
 * stays unbound, so the run fails rather than read the side unfiltered.
 */
export function taskFromProfiles(
  home: LoadedProfile,
  other: LoadedProfile,
  choices: TaskChoices = {},
): ProfileTask {
  if (!home.profile.home) {
    throw option(
      'home',
      `profile ${home.id} cannot be a home system (it has no home: section); home profiles: see opensync profiles list`,
    )
  }
  const keys = systemKeysOf(home, other, choices.keys)
  const key = (side: ProfileSide) => (side === 'home' ? keys[0] : keys[1])
  const missing: TaskIssue[] = []
  const env: string[] = []

  const systems = {
    [keys[0]]: systemOf(home, keys[0], choices.connection?.home, missing, env),
    [keys[1]]: systemOf(other, keys[1], choices.connection?.other, missing, env),
  }

  const offered = pairsOffered(home, other)
  const picked = pickPairs(offered, choices.pairs, home, other)
  const pairs = picked.map(({ pair, choice }, index) =>
    pairOf(pair, choice ?? { id: pair.id }, { home, other, key, index, missing }),
  )
  if (pairs.length === 0) {
    missing.push({
      path: 'pairs',
      message:
        offered.length === 0
          ? `${other.id} offers no pairs with ${home.id}: write them yourself`
          : 'choose at least one pair',
    })
  }

  const document: TaskFileInput = {
    ...(choices.id !== undefined ? { id: choices.id } : {}),
    subject: choices.subject ?? `${home.profile.system} ↔ ${other.profile.system}`,
    systems,
    // The pair sides are named after the system keys, which the key-independent type cannot say.
    pairs: pairs as unknown as TaskFileInput['pairs'],
    plan: choices.plan ?? { kind: 'manual' },
  }
  if (pairs.length > 0) {
    try {
      compileTask(validateTaskFile(document))
    } catch (error) {
      if (!isOpenSyncError(error) || error.code !== 'OSY_INVALID_TASK') throw error
      // The profiles were checked when loaded, so what is left is a choice that does not fit.
      throw new OpenSyncError(
        'OSY_INVALID_OPTION',
        `the task made from ${home.id} and ${other.id} is not valid: ${error.message}`,
        { cause: error, details: error.details },
      )
    }
  }
  return { document, missing, env }
}

// ---------------------------------------------------------------- systems

/**
 * The system keys of a task between two profiles: the chosen ones, else each profile's
 * `systemKey`, else its id made into a key (`mailing-pro` → `mailing_pro`); the second gets
 * `_2` when both would be the same.
 */
export function systemKeysOf(
  home: LoadedProfile,
  other: LoadedProfile,
  chosen?: TaskChoices['keys'],
): readonly [string, string] {
  const homeKey = chosen?.home ?? home.profile.systemKey ?? keyOf(home.id)
  let otherKey = chosen?.other ?? other.profile.systemKey ?? keyOf(other.id)
  if (otherKey === homeKey && chosen?.other === undefined) otherKey = `${otherKey}_2`
  for (const [side, k] of [
    ['home', homeKey],
    ['other', otherKey],
  ] as const) {
    if (!SYSTEM_KEY_PATTERN.test(k)) {
      throw option(
        `keys.${side}`,
        `system key "${k}" must start with a lowercase letter and use only a-z, 0-9 and _`,
      )
    }
    if (RESERVED_SYSTEM_KEYS.includes(k)) {
      throw option(`keys.${side}`, `"${k}" is a reserved word; choose another system key`)
    }
  }
  if (homeKey === otherKey) throw option('keys', `both systems would be called "${homeKey}"`)
  return [homeKey, otherKey]
}

/** A profile id as a system key: `mailing-pro` → `mailing_pro`. */
function keyOf(id: string): string {
  let k = id.replace(/-/g, '_')
  if (!/^[a-z]/.test(k)) k = `s_${k}`
  return RESERVED_SYSTEM_KEYS.includes(k) ? `${k}_system` : k
}

function systemOf(
  profile: LoadedProfile,
  key: string,
  entered: Readonly<Record<string, ConnectionValue>> | undefined,
  missing: TaskIssue[],
  env: string[],
) {
  const { fields, fixed } = profile.connection
  const shown = new Map(fields.map((f) => [f.name, f]))
  const defaults = profile.profile.connection?.defaults ?? {}
  const connection: Record<string, ConnectionValue> = {}
  for (const [name, value] of Object.entries(entered ?? {})) {
    if (Object.hasOwn(fixed, name)) {
      throw option(
        `connection.${key}.${name}`,
        `profile ${profile.id} fixes ${name}; it cannot be changed`,
      )
    }
    const field = shown.get(name)
    if (!field) {
      throw option(
        `connection.${key}.${name}`,
        `profile ${profile.id} has no connection field ${name} (fields: ${[...shown.keys()].join(', ')})`,
      )
    }
    if (field.options && value !== '' && !field.options.includes(value)) {
      throw option(
        `connection.${key}.${name}`,
        `must be one of ${field.options.map(String).join(', ')}`,
      )
    }
  }
  for (const field of fields) {
    const value = entered?.[field.name] ?? defaults[field.name]
    if (value !== undefined && value !== '') {
      connection[field.name] = value
    } else if (field.required && field.default === undefined) {
      if (field.secret) {
        const name = `${key}_${field.name}`.toUpperCase().replace(/[^A-Z0-9_]/g, '_')
        connection[field.name] = `\${${name}}`
        env.push(name)
      } else {
        missing.push({
          path: `systems.${key}.connection.${field.name}`,
          message: `is required (${field.label})`,
        })
      }
    }
  }
  Object.assign(connection, fixed)
  return {
    bridge: profile.profile.bridge,
    connection,
    ...(profile.settings ? { settings: literal(profile.settings) as Record<string, never> } : {}),
    profile: { id: profile.id, version: profile.profile.version },
  }
}

/**
 * Settings go into the task as data: `${` in them is written `$${`, so the task's `${VAR}`
 * substitution gives back exactly the profile's text.
 */
function literal(value: unknown): unknown {
  if (typeof value === 'string') return value.replaceAll('${', () => '$${')
  if (Array.isArray(value)) return value.map(literal)
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, literal(v)]))
  }
  return value
}

// ---------------------------------------------------------------- pairs

function pickPairs(
  offered: readonly ProfilePair[],
  chosen: TaskChoices['pairs'],
  home: LoadedProfile,
  other: LoadedProfile,
): { pair: ProfilePair; choice?: PairChoices }[] {
  if (chosen === undefined) return offered.map((pair) => ({ pair }))
  const byId = new Map<string, PairChoices>()
  chosen.forEach((c, i) => {
    const choice = typeof c === 'string' ? { id: c } : c
    if (!offered.some((p) => p.id === choice.id)) {
      const ids = offered.map((p) => p.id).join(', ') || 'none'
      throw option(
        `pairs[${i}]`,
        `pair ${choice.id} is not on offer between ${home.id} and ${other.id} (offered: ${ids})`,
      )
    }
    if (byId.has(choice.id)) throw option(`pairs[${i}]`, `pair ${choice.id} is chosen twice`)
    byId.set(choice.id, choice)
  })
  return offered
    .filter((pair) => pair.fixed || byId.has(pair.id))
    .map((pair) => {
      const choice = byId.get(pair.id)
      return choice ? { pair, choice } : { pair }
    })
}

interface PairContext {
  readonly home: LoadedProfile
  readonly other: LoadedProfile
  readonly key: (side: ProfileSide) => string
  /** The pair's index in the task document. */
  readonly index: number
  readonly missing: TaskIssue[]
}

function pairOf(pair: ProfilePair, choice: PairChoices, ctx: PairContext) {
  const { key } = ctx
  const where = `pairs.${pair.id}`
  const direction = choice.direction ?? pair.direction ?? pair.directions[0]!
  if (!pair.directions.includes(direction)) {
    throw option(
      `${where}.direction`,
      `pair ${pair.id} offers the directions ${pair.directions.join(', ')}, not ${direction}`,
    )
  }
  const names = Object.keys(pair.fieldAssignments)
  const assignmentName = choice.fieldAssignment ?? names[0]!
  const assignment = pair.fieldAssignments[assignmentName]
  if (!assignment || !Object.hasOwn(pair.fieldAssignments, assignmentName)) {
    throw option(
      `${where}.fieldAssignment`,
      `pair ${pair.id} has no field assignment ${assignmentName} (it has: ${names.join(', ')})`,
    )
  }
  const winner = choice.conflict ?? pair.conflict.winner
  const side = (s: ProfileSide) => {
    const profile = s === 'home' ? ctx.home : ctx.other
    const type = s === 'home' ? pair.home : pair.other
    const info = profile.profile.recordTypes?.[type]
    const filter = filterOf(pair, s, choice, profile, ctx)
    return {
      type,
      ...(filter ? { filter } : {}),
      ...(info?.cursor ? { cursor: info.cursor } : {}),
      ...(info?.key ? { key: [...info.key] } : {}),
    }
  }
  return {
    id: pair.id,
    [key('home')]: side('home'),
    [key('other')]: side('other'),
    direction:
      direction === 'both'
        ? 'both'
        : direction === 'home->other'
          ? `${key('home')}->${key('other')}`
          : `${key('other')}->${key('home')}`,
    fields: fieldsOf(assignment, key),
    match: [...pair.match],
    conflict: { winner: winner === 'home' || winner === 'other' ? key(winner) : winner },
    deletes: choice.deletes ?? pair.deletes,
  }
}

// ---------------------------------------------------------------- filters

const PLAIN_COLUMN = /^[a-z_][a-z0-9_]*$/

/**
 * The filter of one side: the named parameters' conditions (with their values, bound as
 * data when the SQL is parsed) joined with the filter the user wrote. Key-value form when
 * every part is an equality and the bridge takes it, SQL otherwise.
 */
function filterOf(
  pair: ProfilePair,
  side: ProfileSide,
  choice: PairChoices,
  profile: LoadedProfile,
  ctx: PairContext,
): Filter | undefined {
  const offer: ProfileSideFilter | undefined = pair.filters?.[side]
  const where = `pairs.${pair.id}`
  if (side === 'home' && offer) {
    // The home side's offer is written in the other profile, for the home profile's bridge.
    const issues = sideFilterIssues(offer, profile.filterKinds, profile.profile.bridge)
    if (issues.length > 0) {
      const pairIndex = ctx.other.profile.pairs.indexOf(pair)
      throw invalidProfiles(
        issues.map((i) => ({
          source: displayPath(ctx.other.file),
          path: `pairs[${pairIndex}].filters.home.${i.path.join('.')}`,
          message: `${i.message} (home profile ${profile.id})`,
        })),
      )
    }
  }
  const kinds: readonly FilterKind[] = profile.filterKinds
  const parameters = offer?.parameters ?? {}
  const given = choice.parameters?.[side] ?? {}
  for (const name of Object.keys(given)) {
    if (!Object.hasOwn(parameters, name)) {
      const known = Object.keys(parameters).join(', ') || 'none'
      throw option(
        `${where}.parameters.${side}.${name}`,
        `pair ${pair.id} has no ${side} filter parameter ${name} (parameters: ${known})`,
      )
    }
  }
  const own = choice.filters?.[side]
  if (own) {
    const kind: FilterKind = 'sql' in own ? 'sql' : 'keyValue'
    const allowed = offer?.kinds ?? kinds
    if (!allowed.includes(kind)) {
      throw option(
        `${where}.filters.${side}`,
        `pair ${pair.id} takes no ${kind} filter on the ${side} side (it takes: ${allowed.join(', ') || 'none'})`,
      )
    }
  }

  type Part = { name: string; value?: FilterParameterValue; field?: string; sql?: string }
  const parts: Part[] = []
  let unbound = false
  for (const [name, p] of Object.entries(parameters)) {
    const raw = Object.hasOwn(given, name) ? given[name] : p.default
    if (raw === undefined || raw === '') {
      if (!p.required) continue
      unbound = true
      ctx.missing.push({
        path: `pairs[${ctx.index}].${ctx.key(side)}.filter.parameters.${name}`,
        message: `is required (${p.label}): until it is given, the run stops at this filter`,
      })
      parts.push({ name, ...(p.field ? { field: p.field } : { sql: p.sql! }) })
      continue
    }
    const value = coerce(raw, p.type, `${where}.parameters.${side}.${name}`)
    if (p.options && value !== null && !p.options.includes(value)) {
      throw option(
        `${where}.parameters.${side}.${name}`,
        `must be one of ${p.options.map(String).join(', ')}`,
      )
    }
    parts.push({ name, value, ...(p.field ? { field: p.field } : { sql: p.sql! }) })
  }
  if (parts.length === 0) return own as Filter | undefined

  const equalities = parts.every((p) => p.field !== undefined)
  if (equalities && !unbound && kinds.includes('keyValue') && (!own || 'keyValue' in own)) {
    const keyValue: Record<string, string | number | boolean | null> = {
      ...(own && 'keyValue' in own ? own.keyValue : {}),
    }
    for (const p of parts) {
      if (Object.hasOwn(keyValue, p.field!) && keyValue[p.field!] !== p.value) {
        throw option(
          `${where}.filters.${side}`,
          `sets ${p.field} to another value than parameter ${p.name}`,
        )
      }
      keyValue[p.field!] = p.value!
    }
    return { keyValue }
  }
  if (!kinds.includes('sql')) {
    throw option(
      `${where}.filters.${side}`,
      `the ${side} bridge ${profile.profile.bridge} takes no SQL filters, which this combination needs`,
    )
  }
  if (own && 'keyValue' in own) {
    throw option(
      `${where}.filters.${side}`,
      'the parameters of this side are SQL conditions: write your own filter as SQL too',
    )
  }
  const conditions: string[] = []
  const values: Record<string, FilterParameterValue> = { ...(own?.parameters ?? {}) }
  if (own) conditions.push(own.sql)
  for (const p of parts) {
    if (Object.hasOwn(values, p.name)) {
      throw option(
        `${where}.filters.${side}`,
        `your filter uses parameter :${p.name}, which the profile names too; rename yours`,
      )
    }
    if (p.field !== undefined && !PLAIN_COLUMN.test(p.field)) {
      throw option(
        `${where}.filters.${side}`,
        `parameter ${p.name} compares field ${p.field}, which cannot be joined with SQL conditions`,
      )
    }
    conditions.push(p.field !== undefined ? `${p.field} = :${p.name}` : p.sql!)
    if (p.value !== undefined) values[p.name] = p.value
  }
  const sql =
    conditions.length === 1 ? conditions[0]! : conditions.map((c) => `(${c})`).join(' AND ')
  return { sql, parameters: values }
}

/** A parameter value of the declared type; text from a command line is converted. */
function coerce(
  value: FilterParameterValue,
  type: 'string' | 'number' | 'boolean',
  path: string,
): FilterParameterValue {
  if (value === null || typeof value === type) return value
  if (type === 'string' && typeof value !== 'object') return String(value)
  if (type === 'number' && typeof value === 'string' && value.trim() !== '') {
    const n = Number(value)
    if (Number.isFinite(n)) return n
  }
  if (type === 'boolean' && (value === 'true' || value === 'false')) return value === 'true'
  throw option(path, `must be a ${type}`)
}

function option(path: string, message: string): OpenSyncError {
  return new OpenSyncError('OSY_INVALID_OPTION', `${path}: ${message}`, {
    details: { field: path },
  })
}

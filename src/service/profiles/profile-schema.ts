import { z } from 'zod'
import { deletesSchema, SYSTEM_KEY_PATTERN, transformSchema } from '../../engine/task/index.ts'
import { FILTER_PARAMETER_NAME } from '../../sdk/index.ts'

/**
 * The system profile (DESIGN.md §8, docs/profiles.md) as one zod schema: what a partner
 * writes to pre-configure a system, so an administrator only picks. The loader validates
 * files against it, the API's JSON Schema comes from it ({@link profileJsonSchema}).
 *
 * Pairs are written from the point of view of a task between a **home** system and this
 * (**other**) system: sides, directions (`home->other`), winners and transforms (`toHome`,
 * `toOther`) say `home` and `other`; a task made from the profile renames them to its keys.
 */

/** What a profile id looks like: a slug, as task ids. */
export const PROFILE_ID_PATTERN = /^[a-z0-9]+(?:[-_][a-z0-9]+)*$/

/** The directions a pair may offer, from the home system's point of view. */
export const PROFILE_DIRECTIONS = ['both', 'home->other', 'other->home'] as const

/** A direction of a profile pair. */
export type ProfileDirection = (typeof PROFILE_DIRECTIONS)[number]

/** The winners a pair's conflict strategy may name. */
export const PROFILE_WINNERS = ['home', 'other', 'newest', 'manual'] as const

/** The kinds of filter a task file knows. */
export const FILTER_KINDS = ['sql', 'keyValue'] as const

/** A kind of filter. */
export type FilterKind = (typeof FILTER_KINDS)[number]

/** A strict object whose unknown-key message lists the keys it does know. */
function strict<T extends z.core.$ZodLooseShape>(shape: T) {
  const allowed = Object.keys(shape).join(', ')
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys' ? `unknown key (allowed: ${allowed})` : undefined,
  })
}

const text = z.string().min(1)
const slug = z.string().regex(PROFILE_ID_PATTERN, {
  error: 'must be a slug: lowercase letters and digits, separated by single hyphens or underscores',
})
const scalar = z.union([z.string(), z.number(), z.boolean()], {
  error: 'must be a string, a number, true or false',
})
const parameterValue = z.union([z.string(), z.number(), z.boolean(), z.null()], {
  error: 'must be a string, a number, true, false or null',
})
const fieldList = z.union([text, z.array(text)], {
  error: 'must be a field name or a list of field names',
})
const nonEmptyRecord = <T extends z.ZodType>(value: T) =>
  z.record(z.string(), value).refine((r) => Object.keys(r).length > 0, 'must not be empty')

// ---------------------------------------------------------------- connection

/** How the profile shows one connection field of the bridge. */
const connectionFieldSchema = strict({
  /** The label in the form; the bridge's label otherwise. */
  label: text.optional(),
  help: text.optional(),
  /** Required in this profile even if the bridge does not require it. */
  required: z.boolean().optional(),
  /** A secret stays a secret: a profile can mark a field secret, never unmark one. */
  secret: z.literal(true).optional(),
  /** For a field the bridge's static form does not declare (a REST manifest's own fields). */
  type: z.enum(['string', 'number', 'boolean', 'path', 'url']).optional(),
  /** The values to choose from (a drop-down). */
  options: z.array(scalar).min(1).optional(),
})

/** A connection field as a profile shows it, as written. */
export type ProfileConnectionField = z.output<typeof connectionFieldSchema>

const connectionSchema = strict({
  /**
   * The fields the form shows, in this order, relabelled and with help; bridge fields left
   * out are hidden (and take their value from `defaults`, or the bridge's default). Without
   * `fields`, the bridge's whole form is shown.
   */
  fields: z.record(text, connectionFieldSchema).optional(),
  /** Values filled in: pre-filled for shown fields, fixed for hidden ones. */
  defaults: z.record(text, scalar).optional(),
})

// ---------------------------------------------------------------- home and record types

const homeSchema = strict({
  /** The database is picked from the server's list (the bridge's `listDatabases`). */
  pickDatabase: z.boolean().default(false),
  /** The connection field that names the database. */
  databaseField: text.default('database'),
})

const recordTypeSchema = strict({
  title: text.optional(),
  description: text.optional(),
  /** The change cursor the task's side reads by (a modified time or sequence field). */
  cursor: text.optional(),
  /** The fields that identify a record, for views and tables without a primary key. */
  key: z.array(text).min(1).optional(),
  /** The fields, for the console's mapping editor (discovery lists them otherwise). */
  fields: z.array(text).optional(),
})

/** A record type a profile offers, as written. */
export type ProfileRecordType = z.output<typeof recordTypeSchema>

// ---------------------------------------------------------------- filters

/** A record whose keys are parameter names; checked by a refinement, so the message is ours. */
function byParameterName<T extends z.ZodType>(value: T) {
  return z.record(z.string(), value).superRefine((record, ctx) => {
    for (const name of Object.keys(record)) {
      if (!FILTER_PARAMETER_NAME.test(name)) {
        ctx.addIssue({
          code: 'custom',
          path: [name],
          message: 'a parameter name uses letters, digits and _ and does not start with a digit',
        })
      }
    }
  })
}

const filterParameterSchema = strict({
  /** What the form calls it ("Postal code"). */
  label: text,
  help: text.optional(),
  type: z.enum(['string', 'number', 'boolean']).default('string'),
  /** A task made without a value for it is incomplete (and its filter matches nothing). */
  required: z.boolean().default(false),
  default: parameterValue.optional(),
  /** The values to choose from (a drop-down). */
  options: z.array(scalar).min(1).optional(),
  /** The condition is `<field> = <value>`. */
  field: text.optional(),
  /** The condition as SQL naming the parameter: `zip1 LIKE :zip`. */
  sql: text.optional(),
})

/** A named filter parameter, as written. */
export type ProfileFilterParameter = z.output<typeof filterParameterSchema>

const sideFilterSchema = strict({
  /** The kinds of filter the user may write for this side besides the parameters. */
  kinds: z.array(z.enum(FILTER_KINDS)).optional(),
  /** Named parameters: the form asks for their values, the task holds them. */
  parameters: byParameterName(filterParameterSchema).default({}),
})

/** The filter offer of one side of a pair, as written. */
export type ProfileSideFilter = z.output<typeof sideFilterSchema>

// ---------------------------------------------------------------- pairs

const mappingLongForm = strict({
  home: fieldList,
  other: fieldList,
  toOther: transformSchema.optional(),
  toHome: transformSchema.optional(),
})
const mappingSchema = z.union([text, mappingLongForm], {
  error:
    'must be a field name of the other system (short form) or { home, other, toOther?, toHome? }',
})

/** A field assignment: mappings by id, as the task file's `fields` with sides home/other. */
const fieldAssignmentSchema = nonEmptyRecord(mappingSchema)

/** One field assignment of a profile pair, as written. */
export type ProfileFieldAssignment = z.output<typeof fieldAssignmentSchema>

const profilePairSchema = strict({
  id: slug,
  title: text,
  description: text.optional(),
  /** The home profiles this pair is offered with; any home profile when left out. */
  homeProfiles: z.array(slug).min(1).optional(),
  /** The record type of the home system. */
  home: text,
  /** The record type of this system. */
  other: text,
  /** A fixed pair is always part of the task; when every pair is fixed the step is skipped. */
  fixed: z.boolean().default(false),
  /** The directions the user may choose. */
  directions: z
    .array(z.enum(PROFILE_DIRECTIONS))
    .min(1)
    .default([...PROFILE_DIRECTIONS]),
  /** The direction a task starts with; the first of `directions` when left out. */
  direction: z.enum(PROFILE_DIRECTIONS).optional(),
  filters: strict({
    home: sideFilterSchema.optional(),
    other: sideFilterSchema.optional(),
  }).optional(),
  /** Named field assignments to choose from; the first is the default. */
  fieldAssignments: nonEmptyRecord(fieldAssignmentSchema),
  /** Mappings (ids under each field assignment) that identify the same record on both sides. */
  match: z.array(text).default([]),
  conflict: strict({ winner: z.enum(PROFILE_WINNERS) }).default({ winner: 'home' }),
  deletes: deletesSchema.default('ignore'),
})

/** An assignment pair on offer, as written (defaults filled in). */
export type ProfilePair = z.output<typeof profilePairSchema>

// ---------------------------------------------------------------- profile

const settingsSchema = z.record(z.string(), z.json())

/** The schema of a system profile file. */
export const profileSchema = strict({
  /** The profile's id; a task records it with the version. */
  profile: slug,
  /** Shown as System. */
  system: text,
  /** Shown as Version; compared part by part (`3.10` is newer than `3.9`). */
  version: z.union([text, z.number()]).transform(String),
  /** Shown as ConnectionBridge. */
  bridge: text,
  description: text.optional(),
  /** The system key a task made from the profile uses (`crm`); from the id otherwise. */
  systemKey: z
    .string()
    .regex(SYSTEM_KEY_PATTERN, {
      error: 'a system key must start with a lowercase letter and use only a-z, 0-9 and _',
    })
    .optional(),
  /** The bridge's manifest: a file path relative to the profile, embedded into tasks. */
  manifest: text.optional(),
  /** Other bridge-specific settings, copied into tasks as they are. */
  settings: settingsSchema.optional(),
  connection: connectionSchema.optional(),
  /** Present when the system can be a task's home system. */
  home: homeSchema.optional(),
  /** The record types the system offers, by name. */
  recordTypes: z.record(text, recordTypeSchema).optional(),
  /** The assignment pairs on offer with a home system. */
  pairs: z.array(profilePairSchema).default([]),
})

/** A validated system profile, defaults filled in. */
export type Profile = z.output<typeof profileSchema>

/** A system profile as it may be written. */
export type ProfileInput = z.input<typeof profileSchema>

/**
 * The JSON Schema (draft 2020-12) of a profile file as it may be written, for editors and the
 * API document. Rules across fields (a default direction among the offered ones, match names
 * in every field assignment) are checked when a profile is loaded.
 */
export const profileJsonSchema: Readonly<Record<string, unknown>> = z.toJSONSchema(profileSchema, {
  io: 'input',
  metadata: jsonSchemaDefinitions(),
})

// Named definitions make the JSON Schema readable; a private registry, as the task file's.
function jsonSchemaDefinitions() {
  const registry = z.registry<{ id: string; description: string }>()
  registry.add(profilePairSchema, {
    id: 'ProfilePair',
    description: 'An assignment pair on offer between a home system and this system.',
  })
  registry.add(filterParameterSchema, {
    id: 'FilterParameter',
    description: 'A named filter parameter: the task supplies its value, bound as data.',
  })
  registry.add(connectionFieldSchema, {
    id: 'ProfileConnectionField',
    description: 'How the form shows one of the bridge’s connection fields.',
  })
  registry.add(recordTypeSchema, {
    id: 'ProfileRecordType',
    description: 'A record type the system offers.',
  })
  registry.add(transformSchema, {
    id: 'Transform',
    description: 'One step or a list of steps applied in order.',
  })
  return registry
}

/** A problem with a profile: where in the file, and what is wrong. */
export interface ProfileIssueAt {
  readonly path: readonly PropertyKey[]
  readonly message: string
}

const PLAIN_COLUMN = /^[a-z_][a-z0-9_]*$/

/**
 * The rules across fields that the schema cannot state: unique pair ids, a default
 * direction among the offered ones, match names in every field assignment, parameters that
 * name exactly one condition. Returns the problems, each with its path.
 */
export function profileRuleIssues(profile: Profile): ProfileIssueAt[] {
  const issues: ProfileIssueAt[] = []
  const add = (path: readonly PropertyKey[], message: string) => issues.push({ path, message })
  const types = profile.recordTypes ? Object.keys(profile.recordTypes) : undefined

  for (const [name, field] of Object.entries(profile.connection?.fields ?? {})) {
    if (field.options && profile.connection?.defaults?.[name] !== undefined) {
      const value = profile.connection.defaults[name]
      if (!field.options.includes(value!)) {
        add(['connection', 'defaults', name], `must be one of the field's options`)
      }
    }
  }
  if (profile.home?.pickDatabase && profile.connection?.fields) {
    const field = profile.home.databaseField
    if (!Object.hasOwn(profile.connection.fields, field)) {
      add(
        ['home', 'databaseField'],
        `the database is picked in the form, so connection.fields must show "${field}"`,
      )
    }
  }
  for (const [name, type] of Object.entries(profile.recordTypes ?? {})) {
    if (type.cursor && type.fields && !type.fields.includes(type.cursor)) {
      add(['recordTypes', name, 'cursor'], `is not one of the record type's fields`)
    }
  }

  const ids = new Map<string, number>()
  profile.pairs.forEach((pair, i) => {
    const at = (...rest: PropertyKey[]) => ['pairs', i, ...rest]
    const first = ids.get(pair.id)
    if (first !== undefined) add(at('id'), `pair id ${pair.id} is used by pairs[${first}] already`)
    else ids.set(pair.id, i)

    if (types && !types.includes(pair.other)) {
      add(at('other'), `no record type ${pair.other} under recordTypes (${types.join(', ')})`)
    }
    const seen = new Set<string>()
    pair.directions.forEach((d, j) => {
      if (seen.has(d)) add(at('directions', j), `lists ${d} twice`)
      seen.add(d)
    })
    if (pair.direction && !pair.directions.includes(pair.direction)) {
      add(at('direction'), `must be one of the offered directions (${pair.directions.join(', ')})`)
    }
    for (const [name, assignment] of Object.entries(pair.fieldAssignments)) {
      pair.match.forEach((m, j) => {
        if (!Object.hasOwn(assignment, m)) {
          add(at('match', j), `field assignment ${name} has no mapping ${m}`)
        }
      })
    }
    for (const side of ['home', 'other'] as const) {
      const filter = pair.filters?.[side]
      if (!filter) continue
      const withSql = Object.values(filter.parameters).some((p) => p.sql !== undefined)
      for (const [name, p] of Object.entries(filter.parameters)) {
        const where = at('filters', side, 'parameters', name)
        if ((p.field === undefined) === (p.sql === undefined)) {
          add(where, 'needs exactly one of field (field = value) and sql (a condition with :name)')
          continue
        }
        if (p.sql !== undefined && !mentions(p.sql, name)) {
          add([...where, 'sql'], `must name the parameter as :${name}`)
        }
        if (p.field !== undefined && withSql && !PLAIN_COLUMN.test(p.field)) {
          add(
            [...where, 'field'],
            'joins SQL conditions of this side, so it must be a plain lowercase column name; write sql: instead',
          )
        }
        if (p.default !== undefined && p.default !== null && typeof p.default !== p.type) {
          add([...where, 'default'], `must be a ${p.type}`)
        }
        p.options?.forEach((o, j) => {
          if (typeof o !== p.type) add([...where, 'options', j], `must be a ${p.type}`)
        })
      }
    }
  })
  return issues
}

/** Whether SQL text names `:name` as a parameter (outside quotes). */
function mentions(sql: string, name: string): boolean {
  const unquoted = sql.replace(/'(?:[^']|'')*'|"(?:[^"]|"")*"|`[^`]*`/g, ' ')
  return new RegExp(`(^|[^:\\w]):${name}(?!\\w)`).test(unquoted)
}

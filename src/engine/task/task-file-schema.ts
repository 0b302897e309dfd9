import { z } from 'zod'
import { parseFormat } from './date-format.ts'
import { invalidTask, issueMessage, zodIssues } from './task-issues.ts'

/**
 * The task file as a user writes it (DESIGN.md §6), as zod schemas: the one definition the
 * CLI, the API and the console validate against.
 *
 * Pair sides, directions, winners and `to<Key>` transforms are named after the system keys
 * the user chose, so the exact schema depends on the document. Validation therefore runs in
 * two steps: the systems first, then the whole document against {@link taskFileSchemaFor}
 * those keys. {@link taskFileSchema} is the key-independent form, for types and JSON Schema.
 */

/** What a system key looks like: it names pair sides, directions and winners. */
export const SYSTEM_KEY_PATTERN = /^[a-z][a-z0-9_]*$/

/** Words a system key cannot be: they are pair options, directions or winners already. */
export const RESERVED_SYSTEM_KEYS: readonly string[] = [
  'id',
  'direction',
  'fields',
  'match',
  'conflict',
  'deletes',
  'both',
  'newest',
  'manual',
]

/** The step kinds of a transform, each named by its one key. */
export const TRANSFORM_STEP_KINDS = [
  'map',
  'const',
  'type',
  'trim',
  'case',
  'concat',
  'split',
  'expr',
] as const

/** The types a `type` step converts to. */
export const TRANSFORM_TYPES = [
  'string',
  'number',
  'integer',
  'boolean',
  'date',
  'timestamp',
] as const

/** The name of the transform that writes to a system: `toErp` for `erp`, `toMy_db` for `my_db`. */
export function transformKey(systemKey: string): string {
  return `to${systemKey.charAt(0).toUpperCase()}${systemKey.slice(1)}`
}

/** A strict object whose unknown-key message lists the keys it does know. */
function strict<T extends z.core.$ZodLooseShape>(shape: T) {
  const allowed = Object.keys(shape).join(', ')
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys' ? `unknown key (allowed: ${allowed})` : undefined,
  })
}

/** A union with one message for "none of the forms", and the usual one when it is missing. */
function union<const T extends readonly [z.core.SomeType, ...z.core.SomeType[]]>(
  options: T,
  message: string | ((input: unknown) => string),
) {
  return z.union(options, {
    error: (issue) =>
      issue.input === undefined
        ? 'is required'
        : typeof message === 'string'
          ? message
          : message(issue.input),
  })
}

const text = z.string().min(1)
const scalar = union(
  [z.string(), z.number(), z.boolean(), z.null()],
  'must be a string, a number, true, false or null',
)

const nonEmptyRecord = (value: z.ZodType) =>
  z.record(z.string(), value).refine((r) => Object.keys(r).length > 0, 'must not be empty')

// ---------------------------------------------------------------- transforms

const mapStep = strict({ map: nonEmptyRecord(scalar), default: scalar.optional() })
const jsonValue = z.json()
const constStep = strict({ const: jsonValue })
const typeStep = strict({ type: z.enum(TRANSFORM_TYPES), format: text.optional() }).superRefine(
  (step, ctx) => {
    if (step.format === undefined) return
    if (step.type !== 'string' && step.type !== 'date' && step.type !== 'timestamp') {
      ctx.addIssue({
        code: 'custom',
        path: ['format'],
        message: 'applies only to the types string, date and timestamp',
      })
      return
    }
    const format = parseFormat(step.format)
    if (typeof format === 'string') {
      ctx.addIssue({ code: 'custom', path: ['format'], message: format })
    } else if (step.type !== 'string' && !format.hasDate) {
      ctx.addIssue({
        code: 'custom',
        path: ['format'],
        message: `must have YYYY, MM and DD to read a ${step.type}`,
      })
    }
  },
)
const trimStep = strict({ trim: z.literal(true) })
const caseStep = strict({ case: z.enum(['upper', 'lower', 'title']) })
const concatStep = strict({ concat: strict({ separator: z.string() }) })
const splitStep = strict({ split: strict({ separator: text }) })
const exprStep = strict({ expr: text })

/** One transform step: an object with exactly one step key (`map`, `type`, …). */
export const transformStepSchema = union(
  [mapStep, constStep, typeStep, trimStep, caseStep, concatStep, splitStep, exprStep],
  stepMessage,
)

function stepMessage(input: unknown): string {
  const kinds = TRANSFORM_STEP_KINDS.join(', ')
  if (
    input === null ||
    typeof input !== 'object' ||
    Array.isArray(input) ||
    Object.keys(input).length === 0
  ) {
    return `must be a transform step such as { trim: true } (steps: ${kinds})`
  }
  const keys = Object.keys(input)
  const named = keys.filter((k) => (TRANSFORM_STEP_KINDS as readonly string[]).includes(k))
  if (named.length > 1) {
    return `has several steps (${named.join(', ')}); write them as a list, one step per entry`
  }
  const unknown = keys.filter((k) => !named.includes(k) && k !== 'default' && k !== 'format')
  if (unknown.length === 0)
    return `must be a transform step such as { trim: true } (steps: ${kinds})`
  return `unknown step ${unknown.map((k) => `"${k}"`).join(', ')} (steps: ${kinds})`
}

/** A transform: one step, or a list of steps applied in order. */
export const transformSchema = union(
  [transformStepSchema, z.array(transformStepSchema).min(1)],
  'must be a transform step or a list of steps',
)

/** One transform step as written. */
export type TransformStep = z.output<typeof transformStepSchema>

/** A transform as written: one step or a list of steps. */
export type Transform = z.output<typeof transformSchema>

// ---------------------------------------------------------------- systems

const connectionSchema = z.record(
  z.string(),
  union([z.string(), z.number(), z.boolean()], 'must be a string, a number, true or false'),
)

/** The system profile a system was made from (docs/profiles.md): for "a newer version is offered". */
const profileRefSchema = strict({ id: text, version: text })

const systemSchema = strict({
  bridge: text,
  connection: connectionSchema,
  /** Bridge-specific settings that are not connection values (the REST bridge's manifest). */
  settings: z.record(z.string(), jsonValue).optional(),
  /** The profile the system was made from; the document holds everything else it needs. */
  profile: profileRefSchema.optional(),
})

// Keys are checked in a refinement rather than by the record's key schema, so the count of
// systems is still reported when a key is also malformed (zod drops bad keys before refining).
function checkSystemKeys(systems: Record<string, unknown>, ctx: z.RefinementCtx): void {
  const keys = Object.keys(systems)
  if (keys.length !== 2) {
    const found = keys.length > 0 ? `: ${keys.join(', ')}` : ''
    ctx.addIssue({
      code: 'custom',
      message: `must name exactly two systems (found ${keys.length}${found})`,
    })
  }
  for (const key of keys) {
    if (!SYSTEM_KEY_PATTERN.test(key)) {
      ctx.addIssue({
        code: 'custom',
        path: [key],
        message: 'a system key must start with a lowercase letter and use only a-z, 0-9 and _',
      })
    } else if (RESERVED_SYSTEM_KEYS.includes(key)) {
      ctx.addIssue({
        code: 'custom',
        path: [key],
        message: `"${key}" is a reserved word; choose another system key`,
      })
    }
  }
}

const whenObject = {
  when: (payload: z.core.ParsePayload) =>
    payload.value !== null && typeof payload.value === 'object',
}

const systemsSchema = z.record(z.string(), systemSchema).superRefine(checkSystemKeys, whenObject)

// ---------------------------------------------------------------- pairs

// Parameter names are checked by a refinement, not the record's key schema: zod reports a
// bad key as "Invalid key in record" and drops the key schema's own message.
const parameters = z.record(z.string(), scalar).superRefine((record, ctx) => {
  for (const name of Object.keys(record)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      ctx.addIssue({
        code: 'custom',
        path: [name],
        message: 'a parameter name uses letters, digits and _ and does not start with a digit',
      })
    }
  }
})
const filterSchema = union(
  [
    // `parameters` are bound into the parsed condition as values, never spliced into its text.
    strict({ sql: text, parameters: parameters.optional() }),
    strict({ keyValue: nonEmptyRecord(scalar) }),
  ],
  'must be { sql: <condition> } or { keyValue: { <field>: <value> } }',
)

const pairSideSchema = strict({
  type: text,
  filter: filterSchema.optional(),
  cursor: text.optional(),
  lag: z.number().min(0).default(5),
  externalId: text.optional(),
  key: z.array(text).min(1).optional(),
})

/** One side of a pair as written. */
export type PairSideFile = z.output<typeof pairSideSchema>

const deletePolicySchema = z.enum(['propagate', 'ignore', 'flag'])
/** What a delete does to the other side: a policy, or `{ policy, maxShare }`. */
export const deletesSchema = union(
  [
    deletePolicySchema,
    strict({ policy: deletePolicySchema, maxShare: z.number().min(0).max(1).default(0.25) }),
  ],
  'must be propagate, ignore, flag or { policy, maxShare }',
)

const fieldListSchema = union(
  [text, z.array(text)],
  'must be a field name or a list of field names',
)

const matchSchema = z.array(text).default([])
const pairIdSchema = text.optional()

/** The pair schema for a document whose systems are `keys`: exact keys, enums and defaults. */
function pairSchemaFor(keys: readonly [string, string]) {
  const [k0, k1] = keys
  const longForm = strict({
    [k0]: fieldListSchema,
    [k1]: fieldListSchema,
    [transformKey(k1)]: transformSchema.optional(),
    [transformKey(k0)]: transformSchema.optional(),
  })
  const mapping = union(
    [text, longForm],
    `must be a field name of ${k1} (short form) or { ${k0}, ${k1}, ${transformKey(k1)}?, ${transformKey(k0)}? } (long form)`,
  )
  return strict({
    [k0]: pairSideSchema,
    [k1]: pairSideSchema,
    id: pairIdSchema,
    direction: z.enum([`${k0}->${k1}`, `${k1}->${k0}`, 'both']).default('both'),
    fields: nonEmptyRecord(mapping),
    match: matchSchema,
    conflict: strict({ winner: z.enum([k0, k1, 'newest', 'manual']) }).default({ winner: k0 }),
    deletes: deletesSchema.default('ignore'),
  })
}

// The key-independent pair: sides and long-form keys are whatever is not a pair option.
const mappingLongFormSchema = z.object({}).catchall(z.union([fieldListSchema, transformSchema]))
const pairSchema = z
  .object({
    id: pairIdSchema,
    direction: z
      .string()
      .regex(/^(?:[a-z][a-z0-9_]*->[a-z][a-z0-9_]*|both)$/)
      .default('both'),
    fields: z.record(z.string(), z.union([text, mappingLongFormSchema])),
    match: matchSchema,
    conflict: z.object({ winner: text }).optional(),
    deletes: deletesSchema.default('ignore'),
  })
  .catchall(pairSideSchema)

/** One pair as written (its two sides are the keys named after the systems). */
export type PairFile = z.output<typeof pairSchema>

/** A field mapping in long form as written: field lists and transforms by key. */
export type MappingLongForm = z.output<typeof mappingLongFormSchema>

// ---------------------------------------------------------------- plan

const timeOfDay = z.string().regex(/^(?:[01]\d|2[0-3]):[0-5]\d$/, {
  error: 'must be a time of day as HH:MM (00:00 to 23:59)',
})
const timezone = z.string().refine(isTimeZone, {
  error: 'must be an IANA time zone such as Europe/Berlin or UTC',
})
const active = z.boolean().default(true)

/** The execution plan: manual, continuous, interval or daily. */
export const planSchema = z.discriminatedUnion('kind', [
  strict({ kind: z.literal('manual'), active }),
  strict({ kind: z.literal('continuous'), active }),
  strict({
    kind: z.literal('interval'),
    every: z.int().positive(),
    unit: z.enum(['minutes', 'hours']),
    active,
  }),
  strict({ kind: z.literal('daily'), at: timeOfDay, timezone, active }),
])

/** The execution plan as written. */
export type PlanFile = z.output<typeof planSchema>

function isTimeZone(name: string): boolean {
  // Intl also takes offsets like "+01:00"; a plan wants a named zone, which follows daylight saving.
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+)*$/.test(name)) return false
  try {
    new Intl.DateTimeFormat('en', { timeZone: name })
    return true
  } catch {
    return false
  }
}

// ---------------------------------------------------------------- notifications

/** Who hears about failed and recovered runs, and when the plan pauses itself. */
export const notifySchema = strict({
  // A ${VAR} reference is checked once it is replaced (webhook URLs often carry a token).
  webhook: z
    .string()
    .refine((url) => url.includes('${') || isHttpUrl(url), {
      error: 'must be an http:// or https:// URL',
    })
    .optional(),
  failuresBeforePause: z.int().min(1).optional(),
})

function isHttpUrl(text: string): boolean {
  try {
    return /^https?:$/.test(new URL(text).protocol)
  } catch {
    return false
  }
}

/** The notification settings as written. */
export type NotifyFile = z.output<typeof notifySchema>

// ---------------------------------------------------------------- task file

// Underscores are allowed besides hyphens: ids are often made from table names (`contacts_1`).
const taskIdSchema = z.string().regex(/^[a-z0-9]+(?:[-_][a-z0-9]+)*$/, {
  error: 'must be a slug: lowercase letters and digits, separated by single hyphens or underscores',
})

function taskSchemaOf<P extends z.ZodType>(pair: P) {
  return strict({
    id: taskIdSchema.optional(),
    subject: text,
    systems: systemsSchema,
    pairs: z.array(pair).min(1),
    plan: planSchema.default({ kind: 'manual', active: true }),
    notify: notifySchema.optional(),
  })
}

/**
 * The task file, independent of the system keys a document chooses: pair sides and
 * long-form mapping keys are open. Use it for types and the JSON Schema; validate documents
 * with {@link validateTaskFile}, which also checks everything that depends on the keys.
 */
export const taskFileSchema = taskSchemaOf(pairSchema)

/** The exact schema of a task file whose systems are `keys` (in document order). */
export function taskFileSchemaFor(keys: readonly [string, string]) {
  return taskSchemaOf(pairSchemaFor(keys))
}

/** A validated task file, defaults filled in. */
export type TaskFile = z.output<typeof taskFileSchema>

/** A task file as it may be written, before defaults. */
export type TaskFileInput = z.input<typeof taskFileSchema>

/**
 * The JSON Schema (draft 2020-12) of a task file as it may be written, for editors, the API
 * document and the console. Key-dependent rules (directions, winners) are checked on load.
 */
export const taskFileJsonSchema: Readonly<Record<string, unknown>> = z.toJSONSchema(
  taskFileSchema,
  {
    io: 'input',
    metadata: jsonSchemaDefinitions(),
  },
)

// Named definitions make the JSON Schema readable and let editors show what a part is. A
// private registry, not zod's global one, so loading this module twice cannot clash.
function jsonSchemaDefinitions() {
  const registry = z.registry<{ id: string; description: string }>()
  registry.add(systemSchema, {
    id: 'System',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the description shows the ${VAR} syntax
    description: 'A bridge and its connection values; ${VAR} is replaced from the environment.',
  })
  registry.add(pairSideSchema, {
    id: 'PairSide',
    description: 'The record type of one system in a pair, with its filter and change cursor.',
  })
  registry.add(filterSchema, {
    id: 'Filter',
    description: 'An SQL condition or field = value pairs.',
  })
  registry.add(transformStepSchema, {
    id: 'TransformStep',
    description: 'One step: map, const, type, trim, case, concat, split or expr.',
  })
  registry.add(jsonValue, { id: 'JsonValue', description: 'Any JSON value.' })
  registry.add(transformSchema, {
    id: 'Transform',
    description: 'One step or a list of steps applied in order.',
  })
  registry.add(deletesSchema, {
    id: 'Deletes',
    description: 'What a delete on one side does to the other.',
  })
  registry.add(planSchema, { id: 'ExecutionPlan', description: 'When the task runs by itself.' })
  registry.add(notifySchema, {
    id: 'Notify',
    description: 'A webhook on failure and recovery; pausing the plan after failed runs.',
  })
  return registry
}

// Reads only the system keys, so the pair schema can be built from them.
const systemKeysSchema = z.object({
  systems: z.record(z.string(), z.unknown()).superRefine(checkSystemKeys, whenObject),
})
const headSchema = taskSchemaOf(z.unknown())

/**
 * Validates a parsed document against the task file schema, in two steps: the systems
 * first, then everything else against the schema built from their keys. Throws one
 * OSY_INVALID_TASK listing every problem (`details.issues`).
 */
export function validateTaskFile(document: unknown, source?: string): TaskFile {
  if (document === null || document === undefined) {
    throw invalidTask([{ path: '', message: 'the task file is empty' }], source)
  }
  const systems = systemKeysSchema.safeParse(document, { error: issueMessage })
  if (!systems.success) {
    // Pairs cannot be checked without the system keys; report all else that can be.
    const head = headSchema.safeParse(document, { error: issueMessage })
    throw invalidTask(
      zodIssues(head.success ? systems.error.issues : head.error.issues, document),
      source,
    )
  }
  const keys = Object.keys(systems.data.systems) as unknown as readonly [string, string]
  const parsed = taskFileSchemaFor(keys).safeParse(document, { error: issueMessage })
  if (!parsed.success) throw invalidTask(zodIssues(parsed.error.issues, document), source)
  return parsed.data as TaskFile
}

import { z } from 'zod'
import { OpenSyncError } from '../../sdk/index.ts'

/**
 * The REST bridge's manifest (docs/bridge-rest.md): how one HTTP API is read and written,
 * declared as data. One zod schema validates it; unknown keys are rejected and every error
 * names the path of the bad field (`recordTypes.recipients.list.pagination.type`).
 *
 * Strings may hold `{{name}}` placeholders (see rest-template.ts): connection values
 * (`{{tenant}}`), and per request `{{key}}`, `{{record}}`, `{{record.<field>}}`.
 */

function strict<T extends z.core.$ZodLooseShape>(shape: T) {
  const allowed = Object.keys(shape).join(', ')
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys' ? `unknown key (allowed: ${allowed})` : undefined,
  })
}

const text = z.string().min(1)
const positive = z.number().int().positive()
const nonNegative = z.number().nonnegative()
const scalar = z.union([z.string(), z.number(), z.boolean()], {
  error: 'must be a string, a number, true or false',
})
/** A JSON template: any JSON value; strings may hold placeholders. */
const template: z.ZodType<unknown> = z.lazy(() =>
  z.union([
    z.string(),
    z.number(),
    z.boolean(),
    z.null(),
    z.array(template),
    z.record(z.string(), template),
  ]),
)

/** A connection field the manifest declares (shown on the connection form). */
const connectionFieldSchema = strict({
  label: text.optional(),
  type: z.enum(['string', 'number', 'boolean', 'url']).default('string'),
  required: z.boolean().optional(),
  secret: z.boolean().optional(),
  default: scalar.optional(),
  help: text.optional(),
})

const authSchema = z.discriminatedUnion(
  'type',
  [
    strict({ type: z.literal('none') }),
    strict({
      type: z.literal('apiKey'),
      /** Where the key goes: a header (default `X-API-Key`) or a query parameter. */
      in: z.enum(['header', 'query']).default('header'),
      name: text.default('X-API-Key'),
      value: text,
    }),
    strict({ type: z.literal('bearer'), token: text }),
    strict({ type: z.literal('basic'), username: text, password: z.string() }),
    strict({
      type: z.literal('oauth2'),
      /** The client-credentials grant: token URL (absolute, or relative to the base URL). */
      tokenUrl: text,
      clientId: text,
      clientSecret: z.string(),
      scope: text.optional(),
      /** How the client authenticates at the token URL: HTTP basic (default) or form fields. */
      clientAuth: z.enum(['basic', 'body']).default('basic'),
      /** Renew this many seconds before the token expires. */
      refreshBefore: nonNegative.default(30),
    }),
  ],
  { error: 'must have a type: none, apiKey, bearer, basic or oauth2' },
)

const paginationSchema = z.discriminatedUnion(
  'type',
  [
    strict({ type: z.literal('none') }),
    strict({
      type: z.literal('page'),
      param: text.default('page'),
      sizeParam: text.optional(),
      /** The number of the first page. */
      startAt: z.number().int().default(1),
    }),
    strict({
      type: z.literal('offset'),
      param: text.default('offset'),
      sizeParam: text.optional(),
    }),
    strict({
      type: z.literal('cursor'),
      /** The query parameter that takes the token. */
      param: text.default('cursor'),
      sizeParam: text.optional(),
      /** Where the next page's token is in the response; none (or empty) ends the read. */
      tokenPath: text,
    }),
    strict({
      type: z.literal('nextUrl'),
      sizeParam: text.optional(),
      /** Where the next page's URL is in the response (absolute or relative). */
      urlPath: text,
    }),
    strict({
      type: z.literal('link'),
      sizeParam: text.optional(),
      /** The pagination that starts the read: the first request's page parameter, if any. */
      param: text.optional(),
    }),
  ],
  { error: 'must have a type: none, page, offset, cursor, nextUrl or link' },
)

/** A time or number sent as the updated-since parameter. */
export const SINCE_FORMATS = [
  'iso',
  'iso-ms',
  'iso-seconds',
  'epoch-s',
  'epoch-ms',
  'date',
  'number',
] as const

const incrementalSchema = strict({
  /** The query parameter that takes the updated-since value. */
  param: text,
  /** How the value is written: ISO 8601 (6 digits), `iso-ms`, `iso-seconds`, epoch seconds or ms, a date, a number. */
  format: z.enum(SINCE_FORMATS).default('iso'),
  /** The field of the records that holds the change time (the cursor). */
  field: text,
  /** Seconds (or units) re-read before the checkpoint, so late writes are not missed. */
  lookback: nonNegative.default(0),
  /**
   * The API returns records in (cursor, key) order (`sort` below or by itself): each page then
   * gets a checkpoint. Otherwise the checkpoint comes with the read's last batch only.
   */
  ordered: z.boolean().default(false),
  /**
   * Page by the since parameter itself (with `ordered`): each next page asks for the records
   * updated since the last one read, instead of the next page number or offset. A record
   * changed while the read pages through then moves to a later page instead of shifting
   * another one past the reader — the keyset paging an offset-only API lacks. Needs the
   * list's `sizeParam`.
   */
  keyset: z.boolean().default(false),
  /** Extra query parameters of incremental reads, e.g. `{ sort: updatedAt }`. */
  query: z.record(z.string(), scalar).optional(),
})

const requestSchema = strict({
  method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']).optional(),
  /** Path relative to the base URL (or absolute); the record type's `path` by default. */
  path: text.optional(),
  query: z.record(z.string(), scalar).optional(),
  headers: z.record(z.string(), z.string()).optional(),
  /** The body: a JSON template, `{{record}}` by default for create and update. */
  body: template.optional(),
})

const listSchema = strict({
  path: text.optional(),
  query: z.record(z.string(), scalar).optional(),
  /** Where the records are in the response: a dot path (`data.items`); the body itself when empty. */
  records: z.string().default(''),
  pagination: paginationSchema.default({ type: 'none' }),
  pageSize: positive.default(100),
})

const fetchSchema = strict({
  /** The path of one record, with `{{key}}`; `<path>/{{key}}` by default. */
  path: text.optional(),
  query: z.record(z.string(), scalar).optional(),
  /** Where the record is in the response; the body itself when empty. */
  record: z.string().default(''),
})

const writeSchema = requestSchema.extend({
  /** Where the record's key is in the response (create); the body's key field by default. */
  keyPath: text.optional(),
})

const batchSchema = strict({
  path: text.optional(),
  method: z.enum(['POST', 'PUT', 'PATCH', 'DELETE']).default('POST'),
  /** The body; `{{records}}` becomes the list of items. Default: the list itself. */
  body: template.optional(),
  /** One item of the list; `{{record}}` (with the key field on updates) by default. */
  item: template.optional(),
  /** Items per request. */
  size: positive.default(100),
  /** Where the per-item results are in the response, in request order; the body itself when empty. */
  results: z.string().default(''),
  /** In a result: where the key is. */
  keyPath: text.default('id'),
  /** In a result: where an error message is; a result with one failed. */
  errorPath: text.default('error'),
})

const FIELD_TYPES = [
  'string',
  'integer',
  'decimal',
  'float',
  'boolean',
  'date',
  'time',
  'timestamp',
  'timestamptz',
  'json',
  'uuid',
] as const

const fieldSchema = z.union([
  z.enum(FIELD_TYPES, { error: `must be one of ${FIELD_TYPES.join(', ')}` }),
  strict({
    type: z.enum(FIELD_TYPES, { error: `must be one of ${FIELD_TYPES.join(', ')}` }),
    /** The API fills it (an id, a change time): never sent on create or update. */
    readOnly: z.boolean().optional(),
    nullable: z.boolean().optional(),
    /** For timestamps sent as numbers: `epoch-s` or `epoch-ms`; decimals sent as `string`. */
    format: z.enum(['iso', 'epoch-s', 'epoch-ms', 'string', 'number']).optional(),
    maxLength: positive.optional(),
  }),
])

const recordTypeSchema = strict({
  title: text.optional(),
  /** The collection path, relative to the base URL. */
  path: text,
  /** The key field(s) of a record. */
  key: z.union([text, z.array(text).min(1)]).default('id'),
  /** Declared fields; others are inferred from the first page unless `inferFields: false`. */
  fields: z.record(z.string(), fieldSchema).default({}),
  inferFields: z.boolean().default(true),
  list: listSchema.default({ records: '', pagination: { type: 'none' }, pageSize: 100 }),
  incremental: incrementalSchema.optional(),
  /** Fetch one record by key; lookups by key use it when the list cannot filter by key. */
  fetch: fetchSchema.optional(),
  /**
   * Fields the list request can filter on by equality, as query parameters: `{ email: email }`.
   * Key-value filters and the engine's lookups on these fields are sent to the API; the rest
   * is filtered here.
   */
  filterParams: z.record(z.string(), text).optional(),
  /** The list takes several values of a filter parameter in one request (`?id=1&id=2`). */
  multiValueFilters: z.boolean().default(false),
  /**
   * For APIs that keep no change time: the bridge sets this field to the current time
   * (ISO 8601, UTC) on every create and update, so it can serve as the cursor.
   */
  writeStamp: text.optional(),
  create: writeSchema.optional(),
  update: writeSchema.optional(),
  delete: requestSchema.optional(),
  batch: strict({
    create: batchSchema.optional(),
    update: batchSchema.optional(),
    delete: batchSchema.optional(),
  }).optional(),
})

/** The REST manifest schema. */
export const restManifestSchema = strict({
  /** The format's version. */
  rest: z.literal(1, { error: 'must be 1 (the manifest format version)' }),
  title: text.optional(),
  /** The API's base URL; `{{baseUrl}}` (the connection field) by default. */
  baseUrl: text.default('{{baseUrl}}'),
  /** Connection fields the manifest adds to the form (besides `baseUrl`). */
  connection: z.record(z.string(), connectionFieldSchema).default({}),
  auth: authSchema.default({ type: 'none' }),
  headers: z.record(z.string(), z.string()).default({}),
  /** The request budget of the API, shared by every connection with the same URL and credentials. */
  rateLimit: strict({
    requestsPerSecond: z.number().positive(),
    burst: positive.optional(),
  }).optional(),
  /** Per request, in seconds. */
  timeout: z.number().positive().default(30),
  retries: strict({
    max: z.number().int().nonnegative().default(5),
    /** The first back-off, in seconds; doubled each time, with jitter. */
    backoff: z.number().positive().default(0.25),
    /** The longest wait, in seconds, also for a Retry-After. */
    maxWait: z.number().positive().default(60),
  }).default({ max: 5, backoff: 0.25, maxWait: 60 }),
  /** Requests in flight at once on one connection (writes of one batch, lookups). */
  concurrency: positive.default(4),
  recordTypes: z
    .record(z.string(), recordTypeSchema)
    .refine((r) => Object.keys(r).length > 0, 'must declare at least one record type'),
})

/** A validated manifest. */
export type RestManifest = z.output<typeof restManifestSchema>
/** One record type of a manifest. */
export type RestRecordType = z.output<typeof recordTypeSchema>
/** A pagination style. */
export type RestPagination = z.output<typeof paginationSchema>
/** An auth method. */
export type RestAuth = z.output<typeof authSchema>
/** A batch endpoint. */
export type RestBatch = z.output<typeof batchSchema>
/** A declared field, in either form. */
export type RestField = z.output<typeof fieldSchema>

/** A problem with a manifest: where, and what. */
export interface ManifestIssue {
  readonly path: string
  readonly message: string
}

/** Validates a manifest; every problem with the path of the bad field. */
export function checkManifest(
  value: unknown,
): { ok: true; manifest: RestManifest } | { ok: false; issues: ManifestIssue[] } {
  const parsed = restManifestSchema.safeParse(value)
  if (!parsed.success) {
    return {
      ok: false,
      issues: parsed.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message })),
    }
  }
  const issues: ManifestIssue[] = []
  for (const [name, type] of Object.entries(parsed.data.recordTypes)) {
    const at = (...p: string[]) => formatPath(['recordTypes', name, ...p])
    const keys = Array.isArray(type.key) ? type.key : [type.key]
    if (type.incremental && type.incremental.field in type.fields === false && !type.inferFields) {
      issues.push({
        path: at('incremental', 'field'),
        message: `${type.incremental.field} is not a declared field`,
      })
    }
    const pagination = type.list.pagination
    if (type.incremental?.keyset && (pagination.type === 'none' || !pagination.sizeParam)) {
      issues.push({
        path: at('incremental', 'keyset'),
        message: 'needs list.pagination.sizeParam: a short page must tell the end',
      })
    }
    if (type.incremental?.keyset && !type.incremental.ordered) {
      issues.push({ path: at('incremental', 'keyset'), message: 'needs ordered: true' })
    }
    if (!type.inferFields) {
      for (const k of keys) {
        if (!(k in type.fields))
          issues.push({ path: at('key'), message: `${k} is not a declared field` })
      }
    }
    if (keys.length > 1 && (type.fetch || type.update || type.delete)) {
      const uses = (t: { path?: string | undefined } | undefined) => t?.path?.includes('{{key}}')
      if (uses(type.fetch) || uses(type.update) || uses(type.delete)) {
        issues.push({
          path: at('key'),
          message: 'a composite key cannot fill {{key}}: name its parts, {{key.<field>}}',
        })
      }
    }
  }
  return issues.length > 0 ? { ok: false, issues } : { ok: true, manifest: parsed.data }
}

/** Validates a manifest or throws `OSY_INVALID_CONNECTION` listing every problem. */
export function parseManifest(value: unknown): RestManifest {
  if (value === undefined) {
    throw new OpenSyncError(
      'OSY_INVALID_CONNECTION',
      'the REST bridge needs a manifest: systems.<key>.settings.manifest (or a profile with `manifest:`)',
      { details: { field: 'settings.manifest' } },
    )
  }
  const checked = checkManifest(value)
  if (checked.ok) return checked.manifest
  const lines = checked.issues.map((i) => `  manifest.${i.path}: ${i.message}`)
  throw new OpenSyncError('OSY_INVALID_CONNECTION', `invalid REST manifest:\n${lines.join('\n')}`, {
    details: { field: `settings.manifest.${checked.issues[0]!.path}`, issues: checked.issues },
  })
}

/** `recordTypes.x.list[0].y` from a zod path. */
function formatPath(path: readonly PropertyKey[]): string {
  let out = ''
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`
    else out += out ? `.${String(part)}` : String(part)
  }
  return out
}

/** The key fields of a record type, as a list. */
export function keyFieldsOf(type: RestRecordType): readonly string[] {
  return Array.isArray(type.key) ? type.key : [type.key]
}

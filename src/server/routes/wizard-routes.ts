import type { FastifyRequest } from 'fastify'
import { z } from 'zod'
import { compileTask, substituteEnv, validateTaskFile } from '../../engine/task/index.ts'
import { type Bridge, capabilitiesOf, OpenSyncError } from '../../sdk/index.ts'
import { connectionJsonSchema } from '../../service/connection-schema.ts'
import {
  type LoadedProfile,
  listHomeDatabases,
  loadProfiles,
  type ProfileCatalog,
  pairOffers,
  taskFromProfiles,
} from '../../service/profiles/index.ts'
import type { TaskChoices } from '../../service/profiles/task-from-profiles.ts'
import {
  checkConnection,
  checkFilter,
  discoverTypes,
  listDatabases,
  previewTask,
  sampleRecords,
} from '../../service/wizard.ts'
import { canSeeTask } from '../access/task-visibility.ts'
import { AUTH_PROBLEMS, problems, taskIdParam } from '../schemas/common.ts'
import { principalOf } from '../server-context.ts'
import type { RoutePlugin } from './route-plugin.ts'
import { storedSystemRef, withStoredSecrets } from './stored-system.ts'

const scalar = z.union([z.string().max(10_000), z.number(), z.boolean()])
const connectionValues = z.record(z.string().max(100), scalar)

const systemInput = z
  .strictObject({
    bridge: z.string().min(1).max(100),
    connection: connectionValues,
    settings: z.record(z.string(), z.unknown()).optional(),
  })
  .meta({ id: 'SystemInput', description: 'A bridge and the connection values entered.' })

const filterInput = z
  .union([
    z.strictObject({
      sql: z.string().min(1).max(10_000),
      parameters: z
        .record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]))
        .optional(),
    }),
    z.strictObject({
      keyValue: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
    }),
  ])
  .meta({
    id: 'FilterInput',
    description: 'An SQL condition (with parameters) or field = value pairs.',
  })

const formFieldSchema = z.object({
  name: z.string(),
  label: z.string(),
  type: z.enum(['string', 'number', 'boolean', 'path', 'url']),
  required: z.boolean().optional(),
  secret: z.boolean().optional(),
  default: scalar.optional(),
  help: z.string().optional(),
  options: z.array(scalar).readonly().optional(),
  pickFromServer: z.boolean().optional(),
})

const connectionFormSchema = z
  .object({
    fields: z.array(formFieldSchema).describe('The fields in the order they are shown.'),
    jsonSchema: z
      .record(z.string(), z.unknown())
      .describe('The same form as JSON Schema; UI hints: title, description, writeOnly, x-order.'),
  })
  .meta({ id: 'ConnectionForm' })

const bridgeSchema = z
  .object({
    name: z.string(),
    title: z.string(),
    version: z.string(),
    filterKinds: z.array(z.enum(['sql', 'keyValue'])),
    capabilities: z.record(z.string(), z.boolean()),
    form: connectionFormSchema,
  })
  .meta({ id: 'Bridge' })

const profileSummarySchema = z
  .object({
    id: z.string(),
    system: z.string(),
    version: z.string(),
    bridge: z.string(),
    description: z.string().optional(),
    home: z.boolean().describe('It can be the home system of a task.'),
    pickDatabase: z.boolean(),
  })
  .meta({ id: 'ProfileSummary' })

const profileSchema = profileSummarySchema
  .extend({
    form: connectionFormSchema.extend({
      fixed: z.record(z.string(), scalar).describe('Values the profile fixes; not shown.'),
    }),
    filterKinds: z.array(z.enum(['sql', 'keyValue'])),
    recordTypes: z.array(z.string()),
    pairs: z.array(z.object({ id: z.string(), home: z.string(), other: z.string() })),
  })
  .meta({ id: 'Profile' })

const pairOfferSchema = z
  .object({
    id: z.string(),
    title: z.string(),
    description: z.string().optional(),
    fixed: z.boolean().describe('Always part of the task.'),
    home: z.string().describe('The record type of the home system.'),
    other: z.string().describe('The record type of the other system.'),
    directions: z.array(z.string()).describe("In the task's form: both, crm->erp, erp->crm."),
    fieldAssignments: z
      .record(z.string(), z.record(z.string(), z.unknown()))
      .describe("The named field assignments, as the task file's fields."),
    pair: z.record(z.string(), z.unknown()).describe('The pair in a task document, with defaults.'),
  })
  .meta({ id: 'PairOffer' })

const recordTypeSchema = z
  .object({
    name: z.string(),
    kind: z.enum(['table', 'view']),
    readOnly: z.boolean(),
    fields: z.array(
      z.object({
        name: z.string(),
        type: z.string(),
        nativeType: z.string(),
        nullable: z.boolean(),
        generated: z.boolean().optional(),
        maxLength: z.number().optional(),
        scale: z.number().optional(),
      }),
    ),
    keyFields: z.array(z.string()),
    cursorCandidates: z.array(z.string()),
  })
  .meta({ id: 'RecordType' })

const filterCheckSchema = z
  .object({
    valid: z.boolean(),
    code: z.string().optional(),
    message: z.string().optional().describe("The parser's message."),
    position: z.int().optional().describe('0-based offset into the condition.'),
  })
  .meta({ id: 'FilterCheck' })

const countsSchema = z.record(z.string(), z.number())
const previewSchema = z
  .object({
    status: z.enum(['succeeded', 'partial', 'failed', 'cancelled']),
    totals: countsSchema,
    counts: z.record(z.string(), z.record(z.string(), countsSchema)),
    changes: z
      .record(
        z.string(),
        z.array(
          z.object({
            pairId: z.string(),
            from: z.string(),
            to: z.string(),
            key: z.string(),
            targetKey: z.string().optional(),
            values: z.unknown().optional(),
          }),
        ),
      )
      .describe('Per kind of change (create, update, delete, conflict, error, …): the first ones.'),
    error: z.object({ code: z.string(), message: z.string() }).optional(),
  })
  .meta({ id: 'TaskPreview' })

const limit = z.coerce.number().int().min(1).max(200).optional()

/**
 * What the console's task wizard needs: bridges with their connection forms, profiles, and,
 * from values entered, a connection check, the record types and fields, the databases of a
 * server, a filter's check (the parser's message and position), sample records with a
 * filter, a task made from two profiles, and a dry-run preview. Values entered are used
 * for the call only: never stored, never logged.
 */
export const wizardRoutes: RoutePlugin = async (app, { ctx }) => {
  const tags = ['wizard']
  let catalog: Promise<ProfileCatalog> | undefined
  // Loaded once, leniently: one broken partner profile must not hide the others.
  const profiles = () => {
    catalog ??= loadProfiles({ registry: ctx.registry, strict: false })
    return catalog
  }

  app.get(
    '/api/bridges',
    {
      config: { access: 'read' },
      schema: {
        tags,
        summary: 'The bridges with their connection forms',
        response: {
          200: z.object({ items: z.array(bridgeSchema) }),
          ...problems(...AUTH_PROBLEMS),
        },
      },
    },
    async () => ({ items: ctx.registry.list().map(bridgeOut) }),
  )

  app.get(
    '/api/bridges/:name',
    {
      config: { access: 'read' },
      schema: {
        tags,
        summary: 'One bridge with its connection form',
        params: z.object({ name: z.string().min(1).max(100) }),
        response: { 200: bridgeSchema, ...problems(...AUTH_PROBLEMS, 404) },
      },
    },
    async (request) => bridgeOut(ctx.registry.get(request.params.name)),
  )

  app.get(
    '/api/profiles',
    {
      config: { access: 'read' },
      schema: {
        tags,
        summary: 'The system profiles (a caller limited to profiles: those and the home ones)',
        response: {
          200: z.object({ items: z.array(profileSummarySchema) }),
          ...problems(...AUTH_PROBLEMS),
        },
      },
    },
    async (request) => {
      const principal = principalOf(request)
      const items = (await profiles())
        .list()
        .filter((p) => allowed(principal.profiles, p))
        .map(profileSummaryOut)
      return { items }
    },
  )

  app.get(
    '/api/profiles/:id',
    {
      config: { access: 'read' },
      schema: {
        tags,
        summary: 'One system profile: its connection form, record types and pairs',
        params: z.object({ id: z.string().min(1).max(200) }),
        response: { 200: profileSchema, ...problems(...AUTH_PROBLEMS, 404) },
      },
    },
    async (request) => {
      const p = await visibleProfile(request, await profiles(), request.params.id)
      return {
        ...profileSummaryOut(p),
        form: {
          fields: p.connection.fields.map((f) => ({
            ...f,
            ...(f.options ? { options: [...f.options] } : {}),
          })),
          jsonSchema: { ...connectionJsonSchema(p.connection.fields) },
          fixed: { ...p.connection.fixed },
        },
        filterKinds: [...p.filterKinds],
        recordTypes: Object.keys(p.profile.recordTypes ?? {}),
        pairs: p.profile.pairs.map((pair) => ({ id: pair.id, home: pair.home, other: pair.other })),
      }
    },
  )

  app.post(
    '/api/profiles/:id/databases',
    {
      config: { access: 'edit' },
      schema: {
        tags,
        summary: "The databases of the server a home profile's values point at",
        params: z.object({ id: z.string().min(1).max(200) }),
        body: z.strictObject({ connection: connectionValues, stored: storedSystemRef.optional() }),
        response: {
          200: z.object({ items: z.array(z.string()) }),
          ...problems(...AUTH_PROBLEMS, 404, 502, 503, 504),
        },
      },
    },
    async (request) => {
      const p = await visibleProfile(request, await profiles(), request.params.id)
      const { connection } = await withStoredSecrets(
        request,
        ctx,
        { bridge: p.profile.bridge, connection: request.body.connection },
        request.body.stored,
      )
      return { items: [...(await listHomeDatabases(p, connection, ctx.registry))] }
    },
  )

  app.post(
    '/api/profiles/task',
    {
      config: { access: 'edit' },
      schema: {
        tags,
        summary: 'A task document from a home profile and another, with the choices made',
        body: z.strictObject({
          home: z.string().min(1).max(200),
          other: z.string().min(1).max(200),
          choices: z
            .record(z.string(), z.unknown())
            .optional()
            .describe('subject, id, keys, connection, pairs, plan (see docs/profiles.md).'),
        }),
        response: {
          200: z.object({
            document: z.record(z.string(), z.unknown()),
            missing: z.array(z.object({ path: z.string(), message: z.string() })),
            env: z.array(z.string()),
          }),
          ...problems(...AUTH_PROBLEMS, 404),
        },
      },
    },
    async (request) => {
      const catalogue = await profiles()
      const home = await visibleProfile(request, catalogue, request.body.home)
      const other = await visibleProfile(request, catalogue, request.body.other)
      const made = taskFromProfiles(home, other, (request.body.choices ?? {}) as TaskChoices)
      return {
        document: made.document as unknown as Record<string, unknown>,
        missing: made.missing.map((m) => ({ path: m.path, message: m.message })),
        env: [...made.env],
      }
    },
  )

  app.post(
    '/api/profiles/pairs',
    {
      config: { access: 'read' },
      schema: {
        tags,
        summary: "The assignment pairs a home profile and another offer (the wizard's step 3)",
        body: z.strictObject({
          home: z.string().min(1).max(200),
          other: z.string().min(1).max(200),
          keys: z
            .strictObject({ home: z.string().max(100), other: z.string().max(100) })
            .partial()
            .optional()
            .describe("The task's system keys; each profile's own otherwise."),
        }),
        response: {
          200: z.object({
            keys: z.array(z.string()).describe('The system keys: home, other.'),
            items: z.array(pairOfferSchema),
          }),
          ...problems(...AUTH_PROBLEMS, 404),
        },
      },
    },
    async (request) => {
      const catalogue = await profiles()
      const home = await visibleProfile(request, catalogue, request.body.home)
      const other = await visibleProfile(request, catalogue, request.body.other)
      const offers = pairOffers(home, other, request.body.keys)
      return {
        keys: [...offers.keys],
        items: offers.items.map((o) => ({ ...o, directions: [...o.directions] })),
      }
    },
  )

  app.post(
    '/api/connections/check',
    {
      config: { access: 'edit' },
      schema: {
        tags,
        summary: 'Checks a connection from the values entered',
        body: z.strictObject({ system: systemInput, stored: storedSystemRef.optional() }),
        response: {
          200: z.object({ ok: z.literal(true) }),
          ...problems(...AUTH_PROBLEMS, 404, 502, 503, 504),
        },
      },
    },
    async (request) => {
      const { system, stored } = request.body
      await checkConnection(ctx.registry, await withStoredSecrets(request, ctx, system, stored))
      return { ok: true as const }
    },
  )

  app.post(
    '/api/connections/discover',
    {
      config: { access: 'edit' },
      schema: {
        tags,
        summary: 'The record types of a system, with fields, keys and cursor candidates',
        body: z.strictObject({ system: systemInput, stored: storedSystemRef.optional() }),
        response: {
          200: z.object({ items: z.array(recordTypeSchema) }),
          ...problems(...AUTH_PROBLEMS, 404, 502, 503, 504),
        },
      },
    },
    async (request) => ({
      items: (
        await discoverTypes(
          ctx.registry,
          await withStoredSecrets(request, ctx, request.body.system, request.body.stored),
        )
      ).map((t) => ({
        ...t,
        fields: t.fields.map((f) => ({ ...f })),
        keyFields: [...t.keyFields],
        cursorCandidates: [...t.cursorCandidates],
      })),
    }),
  )

  app.post(
    '/api/connections/databases',
    {
      config: { access: 'edit' },
      schema: {
        tags,
        summary: 'The databases of the server the values point at',
        body: z.strictObject({ system: systemInput, stored: storedSystemRef.optional() }),
        response: {
          200: z.object({ items: z.array(z.string()) }),
          ...problems(...AUTH_PROBLEMS, 404, 502, 503, 504),
        },
      },
    },
    async (request) => {
      const { system, stored } = request.body
      const full = await withStoredSecrets(request, ctx, system, stored)
      return { items: [...(await listDatabases(ctx.registry, full))] }
    },
  )

  app.post(
    '/api/connections/filter',
    {
      config: { access: 'edit' },
      schema: {
        tags,
        summary: "Checks a filter for a record type: valid, or the parser's message and position",
        body: z.strictObject({
          system: systemInput,
          stored: storedSystemRef.optional(),
          recordType: z.string().min(1).max(500),
          filter: filterInput,
        }),
        response: { 200: filterCheckSchema, ...problems(...AUTH_PROBLEMS, 404, 502, 503, 504) },
      },
    },
    async (request) => {
      const { system, stored, recordType, filter } = request.body
      const full = await withStoredSecrets(request, ctx, system, stored)
      return checkFilter(ctx.registry, full, recordType, filter)
    },
  )

  app.post(
    '/api/connections/sample',
    {
      config: { access: 'edit' },
      schema: {
        tags,
        summary: 'Sample records of a record type, with a filter applied',
        body: z.strictObject({
          system: systemInput,
          stored: storedSystemRef.optional(),
          recordType: z.string().min(1).max(500),
          filter: filterInput.optional(),
          limit,
        }),
        response: {
          200: z.object({
            items: z.array(
              z.object({ key: z.string(), values: z.record(z.string(), z.unknown()) }),
            ),
          }),
          ...problems(...AUTH_PROBLEMS, 404, 502, 503, 504),
        },
      },
    },
    async (request) => {
      const { system, stored, recordType, filter, limit: n } = request.body
      const full = await withStoredSecrets(request, ctx, system, stored)
      return {
        items: await sampleRecords(ctx.registry, full, recordType, {
          ...(filter ? { filter } : {}),
          ...(n ? { limit: n } : {}),
        }),
      }
    },
  )

  app.post(
    '/api/tasks/:taskId/preview',
    {
      config: { access: 'operate' },
      schema: {
        tags,
        summary: 'Dry run of a stored task: totals and the first planned changes of each kind',
        params: z.object({ taskId: taskIdParam }),
        querystring: z.object({ limit }),
        response: { 200: previewSchema, ...problems(...AUTH_PROBLEMS, 404, 409) },
      },
    },
    async (request) => {
      const { taskId } = request.params
      const stored = await ctx.store.taskDefs.get(taskId)
      if (!stored || !canSeeTask(principalOf(request), JSON.parse(stored.document)))
        throw new OpenSyncError('OSY_TASK_NOT_FOUND', `no task "${taskId}"`)
      const task = await ctx.tasks.resolve(taskId)
      return previewTask(task, ctx, request.query.limit)
    },
  )

  app.post(
    '/api/preview',
    {
      config: { access: 'edit' },
      schema: {
        tags,
        summary: 'Dry run of a task document (not stored): totals and the first planned changes',
        querystring: z.object({ limit }),
        body: z.strictObject({ document: z.record(z.string(), z.unknown()) }),
        response: { 200: previewSchema, ...problems(...AUTH_PROBLEMS, 404) },
      },
    },
    async (request) => {
      const file = validateTaskFile(request.body.document)
      const task = compileTask(validateTaskFile(substituteEnv(file, process.env, 'task')))
      return previewTask(task, ctx, request.query.limit)
    },
  )
}

function bridgeOut(b: Bridge) {
  return {
    name: b.name,
    title: b.title,
    version: b.version,
    filterKinds: [...b.filterKinds],
    capabilities: { ...capabilitiesOf(b) },
    form: {
      fields: b.connectionFields.map((f) => ({ ...f })),
      jsonSchema: { ...connectionJsonSchema(b.connectionFields) },
    },
  }
}

function profileSummaryOut(p: LoadedProfile) {
  return {
    id: p.id,
    system: p.profile.system,
    version: p.profile.version,
    bridge: p.profile.bridge,
    ...(p.profile.description ? { description: p.profile.description } : {}),
    home: p.profile.home !== undefined,
    pickDatabase: p.pickDatabase,
  }
}

/** A caller limited to profiles sees those, and the home systems its tasks start from. */
function allowed(limit: readonly string[] | undefined, p: LoadedProfile): boolean {
  return limit === undefined || limit.includes(p.id) || p.profile.home !== undefined
}

async function visibleProfile(
  request: FastifyRequest,
  catalog: ProfileCatalog,
  id: string,
): Promise<LoadedProfile> {
  const p = catalog.get(id)
  if (!allowed(principalOf(request).profiles, p))
    throw new OpenSyncError('OSY_PROFILE_NOT_FOUND', `no system profile "${id}"`)
  return p
}

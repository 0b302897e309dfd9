import { z } from 'zod'
import { OpenSyncError } from '../../sdk/errors.ts'
import { jsonDiff } from '../../service/json-diff.ts'
import type { TaskView } from '../../service/task-manager.ts'
import { visibleTask } from '../access/task-access.ts'
import { canSeeProfiles } from '../access/task-visibility.ts'
import { recordAudit } from '../audit.ts'
import { mergePatch } from '../merge-patch.ts'
import { expectedRevision, ifMatchHeaders, setEtag, staleAs412 } from '../revision.ts'
import { AUTH_PROBLEMS, problems, taskIdParam } from '../schemas/common.ts'
import {
  auditEventSchema,
  cursorQuery,
  deletedTaskSchema,
  pageOf,
  saveTaskSchema,
  startedSchema,
  taskDetailSchema,
  taskDocumentInput,
  taskSummarySchema,
  validationSchema,
} from '../schemas/task-schemas.ts'
import { type ServerContext, writtenDocument } from '../server-context.ts'
import { TaskListCache } from '../task-list-cache.ts'
import { executionOut, taskDetailOut, taskSummaryOut } from '../views.ts'
import type { RoutePlugin } from './route-plugin.ts'

const params = z.object({ id: taskIdParam })
const tags = ['tasks']

/** What goes when a task is deleted, as the answer says. */
const REMOVED_WITH_TASK = [
  'the task definition',
  'links',
  'checkpoints',
  'executions and their protocols',
  'record-level changes',
  'conflicts',
  'record errors',
]

/** The task's detail with its latest executions. */
async function detail(ctx: ServerContext, view: TaskView) {
  const [finished] = (await ctx.store.executions.list(view.id, 10)).filter(
    (e) => e.status !== 'queued' && e.status !== 'running',
  )
  const running = await ctx.store.executions.running(view.id)
  const queued = await ctx.store.executions.queued(view.id)
  return taskDetailOut(view, {
    ...(finished ? { finished } : {}),
    ...(running ? { running } : {}),
    ...(queued ? { queued } : {}),
  })
}

/** The document with the path's id: an edit never moves a task to another id. */
function withId(document: unknown, id: string): unknown {
  if (document === null || typeof document !== 'object' || Array.isArray(document)) return document
  const given = (document as { id?: unknown }).id
  if (given !== undefined && given !== id) {
    throw new OpenSyncError(
      'OSY_INVALID_REQUEST',
      `the document's id "${String(given)}" is not the task's id "${id}"`,
      {
        details: { field: 'document.id' },
      },
    )
  }
  return { ...document, id }
}

/**
 * `/api/tasks`: list, get, create, update (whole or, for drafts, as a merge patch), delete,
 * validate, activate, deactivate, start; with revisions as ETags.
 */
export const taskRoutes: RoutePlugin = async (app, { ctx }) => {
  const listCache = ctx.events ? new TaskListCache(ctx.events) : undefined
  if (listCache) {
    // A write here shows in the next list at once, whether or not it raised an event.
    app.addHook('onSend', async (request, _reply, payload) => {
      if (request.method !== 'GET' && request.method !== 'HEAD') listCache.clear()
      return payload
    })
    app.addHook('onClose', async () => listCache.close())
  }
  app.addContentTypeParser(
    'application/merge-patch+json',
    { parseAs: 'string' },
    (_req, body, done) => {
      try {
        done(null, JSON.parse(String(body)))
      } catch {
        done(new OpenSyncError('OSY_INVALID_REQUEST', 'the body is not valid JSON'), undefined)
      }
    },
  )

  /** Saves and audits; the diff is of the documents as stored (secrets as placeholders). */
  const save = async (
    request: Parameters<typeof recordAudit>[0],
    document: unknown,
    options: { draft?: boolean; expectedRevision?: number },
  ) => {
    const id = (document as { id?: string } | null)?.id
    const before = typeof id === 'string' ? await ctx.store.taskDefs.get(id) : undefined
    const view = await ctx.tasks
      .save(document, {
        ...(options.draft !== undefined ? { draft: options.draft } : {}),
        ...(options.expectedRevision !== undefined
          ? { expectedRevision: options.expectedRevision }
          : {}),
      })
      .catch(staleAs412)
    const after = await ctx.store.taskDefs.get(view.id)
    await recordAudit(request, ctx, {
      action: before ? 'task.edited' : 'task.created',
      taskId: view.id,
      detail: {
        revision: view.revision,
        draft: view.draft,
        ...(before && after
          ? { diff: jsonDiff(JSON.parse(before.document), JSON.parse(after.document)) }
          : {}),
      },
    })
    return view
  }

  app.get(
    '/api/tasks',
    {
      config: { access: 'read' },
      schema: {
        tags,
        summary: 'Every task: state, plan, next run, latest result, never executed',
        response: {
          200: z.object({ items: z.array(taskSummarySchema) }),
          ...problems(...AUTH_PROBLEMS),
        },
      },
    },
    async (request, reply) => {
      const build = async () => {
        const [summaries, latest] = await Promise.all([
          ctx.tasks.summaries(),
          ctx.store.executions.latest(),
        ])
        return {
          items: summaries
            .filter((t) => canSeeProfiles(request.principal, t.profiles))
            .map((t) => taskSummaryOut(t, latest.get(t.id))),
        }
      }
      if (!listCache) return build()
      // Built from the schema's own output (taskSummaryOut), so the text is what the
      // serializer would have made of it.
      const key = JSON.stringify(request.principal?.profiles ?? null)
      const body = await listCache.get(key, async () => JSON.stringify(await build()))
      // A string with a JSON content type goes out as it is (the schema's serializer runs
      // for objects only); the type provider cannot know that.
      return reply.type('application/json; charset=utf-8').send(body as never)
    },
  )

  app.post(
    '/api/tasks',
    {
      config: { access: 'edit' },
      schema: {
        tags,
        summary: 'Creates a task; with draft: true a draft, complete or not, with its issues',
        body: saveTaskSchema,
        response: { 201: taskDetailSchema, ...problems(...AUTH_PROBLEMS, 409) },
      },
    },
    async (request, reply) => {
      // Revision 0: a new task, so an existing id is a conflict, not an overwrite.
      const view = await ctx.tasks
        .save(writtenDocument(request), { draft: request.body.draft === true, expectedRevision: 0 })
        .catch((error: unknown) => {
          if ((error as { code?: string }).code === 'OSY_REVISION_CONFLICT') {
            throw new OpenSyncError(
              'OSY_REVISION_CONFLICT',
              'a task with this id exists: PUT /api/tasks/{id} changes it',
              {
                cause: error,
              },
            )
          }
          throw error
        })
      await recordAudit(request, ctx, {
        action: 'task.created',
        taskId: view.id,
        detail: { revision: view.revision, draft: view.draft },
      })
      setEtag(reply, view.revision)
      return reply.code(201).send(await detail(ctx, view))
    },
  )

  app.post(
    '/api/tasks/validate',
    {
      config: { access: 'read' },
      schema: {
        tags,
        summary: 'Checks a document offline (schema, keys, pairs, mappings), connecting to nothing',
        body: z.strictObject({ document: taskDocumentInput }),
        response: { 200: validationSchema, ...problems(...AUTH_PROBLEMS) },
      },
    },
    async (request) => {
      const issues = ctx.tasks.check(writtenDocument(request))
      return {
        valid: issues.length === 0,
        issues: issues.map((i) => ({ path: i.path, message: i.message })),
      }
    },
  )

  app.get(
    '/api/tasks/:id',
    {
      config: { access: 'read' },
      schema: {
        tags,
        summary: 'One task with its document (secrets as ********) and its revision as ETag',
        params,
        response: { 200: taskDetailSchema, ...problems(...AUTH_PROBLEMS, 404) },
      },
    },
    async (request, reply) => {
      const view = await visibleTask(request, ctx, request.params.id)
      setEtag(reply, view.revision)
      return detail(ctx, view)
    },
  )

  app.put(
    '/api/tasks/:id',
    {
      config: { access: 'edit' },
      schema: {
        tags,
        summary:
          'Replaces the document (draft: true keeps a draft, else a complete task); If-Match with an older revision answers 412',
        params,
        headers: ifMatchHeaders,
        body: saveTaskSchema,
        response: { 200: taskDetailSchema, ...problems(...AUTH_PROBLEMS, 404, 409, 412) },
      },
    },
    async (request, reply) => {
      await visibleTask(request, ctx, request.params.id)
      const expected = expectedRevision(request)
      const view = await save(request, withId(writtenDocument(request), request.params.id), {
        draft: request.body.draft === true,
        ...(expected !== undefined ? { expectedRevision: expected } : {}),
      })
      setEtag(reply, view.revision)
      return detail(ctx, await ctx.tasks.get(view.id))
    },
  )

  app.patch(
    '/api/tasks/:id',
    {
      config: { access: 'edit' },
      schema: {
        tags,
        summary: 'Changes part of a draft (JSON Merge Patch of its document); If-Match as for PUT',
        description:
          'Only drafts change in parts; a complete task is replaced as a whole with PUT. The result stays a draft, complete or not: PUT with draft: false makes a task of it.',
        params,
        headers: ifMatchHeaders,
        body: z
          .record(z.string(), z.unknown())
          .describe('A JSON Merge Patch (RFC 7386) of the document.'),
        response: { 200: taskDetailSchema, ...problems(...AUTH_PROBLEMS, 404, 409, 412, 415) },
      },
    },
    async (request, reply) => {
      const current = await visibleTask(request, ctx, request.params.id)
      if (!current.draft) {
        throw new OpenSyncError(
          'OSY_UNSUPPORTED',
          `task ${current.id} is complete: replace its document with PUT /api/tasks/${current.id}`,
        )
      }
      const expected = expectedRevision(request) ?? current.revision
      // The stored draft, masked: secrets the patch leaves alone go back as placeholders and are kept.
      const document = withId(mergePatch(current.document, request.body), current.id)
      const view = await save(request, document, { draft: true, expectedRevision: expected })
      setEtag(reply, view.revision)
      return detail(ctx, await ctx.tasks.get(view.id))
    },
  )

  app.delete(
    '/api/tasks/:id',
    {
      config: { access: 'edit' },
      schema: {
        tags,
        summary: 'Deletes the task with its links, checkpoints, protocols, conflicts and errors',
        params,
        headers: ifMatchHeaders,
        response: { 200: deletedTaskSchema, ...problems(...AUTH_PROBLEMS, 404, 409, 412) },
      },
    },
    async (request) => {
      const view = await visibleTask(request, ctx, request.params.id)
      const expected = expectedRevision(request)
      if (expected !== undefined && expected !== view.revision) {
        throw new OpenSyncError(
          'OSY_STALE_REVISION',
          `task ${view.id} is at revision ${view.revision}, not ${expected}: reload it first`,
        )
      }
      await ctx.tasks.remove(view.id)
      await recordAudit(request, ctx, {
        action: 'task.deleted',
        taskId: view.id,
        detail: { revision: view.revision, subject: view.subject },
      })
      return { id: view.id, removed: REMOVED_WITH_TASK }
    },
  )

  for (const [verb, on] of [
    ['activate', true],
    ['deactivate', false],
  ] as const) {
    app.post(
      `/api/tasks/:id/${verb}`,
      {
        config: { access: 'edit' },
        schema: {
          tags,
          summary: on
            ? 'Turns the plan on (a draft cannot be)'
            : 'Turns the plan off; manual starts still work',
          params,
          response: { 200: taskDetailSchema, ...problems(...AUTH_PROBLEMS, 404, 409) },
        },
      },
      async (request, reply) => {
        await visibleTask(request, ctx, request.params.id)
        const view = on
          ? await ctx.tasks.activate(request.params.id)
          : await ctx.tasks.deactivate(request.params.id)
        await recordAudit(request, ctx, {
          action: on ? 'task.activated' : 'task.deactivated',
          taskId: view.id,
          detail: { revision: view.revision },
        })
        setEtag(reply, view.revision)
        return detail(ctx, view)
      },
    )
  }

  app.post(
    '/api/tasks/:id/executions',
    {
      config: { access: 'operate' },
      schema: {
        tags: ['executions'],
        summary:
          'Starts the task now: a queued execution (behind a running one; one queued at most)',
        params,
        response: { 202: startedSchema, ...problems(...AUTH_PROBLEMS, 404, 409) },
      },
    },
    async (request, reply) => {
      await visibleTask(request, ctx, request.params.id)
      const queued = await ctx.tasks.start(request.params.id)
      const execution = await ctx.store.executions.get(queued.executionId)
      if (!execution)
        throw new OpenSyncError('OSY_INTERNAL', `execution ${queued.executionId} vanished`)
      if (queued.created) {
        await recordAudit(request, ctx, {
          action: 'execution.started',
          taskId: request.params.id,
          target: String(queued.executionId),
          ...(queued.runningId !== undefined ? { detail: { behind: queued.runningId } } : {}),
        })
      }
      return reply.code(202).send({
        execution: executionOut(execution),
        created: queued.created,
        ...(queued.runningId !== undefined ? { runningId: queued.runningId } : {}),
      })
    },
  )

  app.get(
    '/api/tasks/:id/audit',
    {
      config: { access: 'read' },
      schema: {
        tags: ['audit'],
        summary: "The task's audit events, newest first",
        params,
        querystring: z.object(cursorQuery),
        response: { 200: pageOf(auditEventSchema), ...problems(...AUTH_PROBLEMS, 404) },
      },
    },
    async (request) => {
      await visibleTask(request, ctx, request.params.id)
      const { cursor, limit } = request.query
      const items = await ctx.store.audit.list({
        taskId: request.params.id,
        limit,
        ...(cursor !== undefined ? { before: Number(cursor) } : {}),
      })
      return {
        items,
        ...(items.length === limit ? { nextCursor: String(items.at(-1)!.id) } : {}),
      }
    },
  )
}

import { z } from 'zod'
import { taskFileSchema } from '../../engine/task/task-file-schema.ts'

// The task file's own schema, so the document's shape in the API reference is the one the
// CLI validates (DESIGN.md §9: one schema source).
z.globalRegistry.add(taskFileSchema, {
  id: 'TaskFile',
  description: 'A task document, as in a task file (docs/task-file.md).',
})

/** An incomplete document: whatever a draft has so far. */
export const taskDraftSchema = z.looseObject({}).meta({
  id: 'TaskDraft',
  description:
    'An incomplete task document, saved with draft: true: any members of a TaskFile, some missing or not valid yet.',
})

/** A request's task document: a complete TaskFile, or (with `draft: true`) whatever there is. */
export const taskDocumentInput = z.union([taskFileSchema, taskDraftSchema])

export const issueSchema = z.object({ path: z.string(), message: z.string() }).meta({
  id: 'TaskIssue',
  description: 'One thing that keeps a document from being a complete task.',
})

const executionStatus = z.enum(['queued', 'running', 'succeeded', 'partial', 'failed', 'cancelled'])

/** An execution in lists and in the task overview. */
export const executionSchema = z
  .object({
    id: z.int(),
    taskId: z.string(),
    status: z.string().describe(executionStatus.options.join(', ')),
    trigger: z.string().describe('manual, plan, cli, …'),
    dryRun: z.boolean(),
    queuedAt: z.string().optional(),
    startedAt: z.string().optional(),
    endedAt: z.string().optional(),
    scheduledFor: z.string().optional(),
    cancelRequested: z.boolean(),
    error: z.object({ code: z.string(), message: z.string() }).optional(),
    totals: z.record(z.string(), z.number()).describe('Counts summed over pairs and directions.'),
  })
  .meta({ id: 'Execution' })

const countsSchema = z.object({
  read: z.number(),
  created: z.number(),
  updated: z.number(),
  deleted: z.number(),
  unchanged: z.number(),
  conflicts: z.number(),
  errors: z.number(),
  unlinked: z.number(),
})

/** One execution with its counts per pair and direction. */
export const executionDetailSchema = executionSchema
  .extend({
    counts: z.array(
      countsSchema.extend({
        pair: z.string(),
        from: z.string().describe('The system key the records came from.'),
        to: z.string(),
      }),
    ),
  })
  .meta({ id: 'ExecutionDetail' })

const planOut = z.looseObject({ kind: z.string() }).meta({ id: 'ExecutionPlanState' })

/** A task in the overview. */
export const taskSummarySchema = z
  .object({
    id: z.string(),
    subject: z.string(),
    draft: z.boolean(),
    active: z.boolean().describe('The plan is on.'),
    plan: planOut.optional(),
    nextRunAt: z.string().optional().describe('When the plan runs it next.'),
    lastExecution: executionSchema.optional().describe('The latest finished execution.'),
    running: executionSchema.optional(),
    queued: executionSchema.optional(),
    neverExecuted: z.boolean(),
    issues: z.array(issueSchema).describe('What a draft still lacks (empty when it is complete).'),
    profiles: z.array(z.string()).describe('The system profiles its systems were made from.'),
    systems: z
      .array(
        z.object({
          key: z.string(),
          bridge: z.string().optional(),
          profile: z.string().optional(),
        }),
      )
      .describe('Its systems by key, with their bridge and profile, in document order.'),
    revision: z.int().describe('Sent back as If-Match with an edit (the ETag).'),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'TaskSummary' })

/** One task with its document (secrets as ********). */
export const taskDetailSchema = taskSummarySchema
  .extend({
    document: z
      .record(z.string(), z.unknown())
      .describe(
        'The TaskFile (or TaskDraft) as stored, secret connection values as ********: send that placeholder back to keep a value.',
      ),
    paused: z
      .object({ reason: z.string(), at: z.string(), executionId: z.int() })
      .optional()
      .describe('Why the plan paused itself.'),
  })
  .meta({ id: 'Task' })

export const saveTaskSchema = z.strictObject({
  document: taskDocumentInput,
  draft: z
    .boolean()
    .optional()
    .describe(
      'true: store the document as a draft, complete or not (its issues come back); a draft is never scheduled or started. false or absent: store a task, which must be complete (an incomplete document is refused with its issues).',
    ),
})

export const deletedTaskSchema = z
  .object({
    id: z.string(),
    removed: z.array(z.string()).describe('What went with the task.'),
  })
  .meta({ id: 'DeletedTask' })

export const validationSchema = z
  .object({ valid: z.boolean(), issues: z.array(issueSchema) })
  .meta({ id: 'TaskValidation' })

export const startedSchema = z
  .object({
    execution: executionSchema,
    created: z.boolean().describe('False when a run was queued already: it runs once.'),
    runningId: z.int().optional().describe('The execution running now, which this one waits for.'),
  })
  .meta({ id: 'StartedExecution' })

export const lineSchema = z
  .object({
    id: z.int(),
    at: z.string(),
    level: z.enum(['info', 'warn', 'error']),
    pairId: z.string().optional(),
    message: z.string(),
    data: z.unknown().optional(),
  })
  .meta({ id: 'ProtocolLine' })

export const changeSchema = z
  .object({
    id: z.int(),
    pairId: z.string(),
    from: z.string().describe('The system key the change came from.'),
    to: z.string(),
    op: z.enum(['create', 'update', 'delete', 'conflict', 'error', 'unlink', 'flag']),
    sourceKey: z.string(),
    targetKey: z.string().optional(),
    detail: z
      .object({
        mapping: z.string().optional(),
        code: z.string().optional(),
        message: z.string().optional(),
      })
      .optional(),
  })
  .meta({ id: 'RecordChange' })

export const auditEventSchema = z
  .object({
    id: z.int(),
    at: z.string(),
    actor: z.string().describe('user:<name>, token:<name> (<user>), cli:<os user>, anonymous'),
    action: z
      .string()
      .describe('task.created, task.edited, execution.started, user.added, sign-in.failed, …'),
    taskId: z.string().optional(),
    target: z.string().optional(),
    detail: z.unknown().optional().describe("A task's diff, a decision; never a secret."),
  })
  .meta({ id: 'AuditEvent' })

/** A page of a list newest first: `nextCursor` fetches the next (older) page. */
export function pageOf<T extends z.ZodType>(item: T) {
  return z.object({
    items: z.array(item),
    nextCursor: z
      .string()
      .optional()
      .describe('Pass as cursor= for the next page; absent on the last.'),
  })
}

/** A page of lines in order: `nextAfter` continues after the last one. */
export function linesOf<T extends z.ZodType>(item: T) {
  return z.object({
    items: z.array(item),
    nextAfter: z
      .int()
      .optional()
      .describe('Pass as after= for the lines that follow; absent at the end so far.'),
  })
}

/** `?cursor=&limit=` of lists newest first. */
export const cursorQuery = {
  cursor: z
    .string()
    .regex(/^\d{1,15}$/, 'a cursor from the previous page')
    .optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
}

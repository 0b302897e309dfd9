import { type Selectable, sql } from 'kysely'
import { OpenSyncError } from '../sdk/errors.ts'
import { now } from './batching.ts'
import type { RepoContext } from './store-context.ts'
import type { TaskDefTable } from './tables.ts'

/** A task definition as stored: the document, its state, its schedule and its revision. */
export interface StoredTask {
  readonly taskId: string
  readonly subject: string
  /** JSON text of the task document, opaque to the store. */
  readonly document: string
  /** Saved incomplete: kept, never scheduled. */
  readonly draft: boolean
  /** The plan is on: the scheduler starts runs of the task. */
  readonly active: boolean
  /** When the plan runs the task next; absent when nothing is planned. */
  readonly nextRunAt?: string
  /** The last plan slot the scheduler queued a run for. */
  readonly lastScheduledFor?: string
  /** Consecutive runs that changed nothing (the back-off of continuous plans). */
  readonly idleRuns: number
  /** 1 on insert, one more on each put and setActive: what an editor's save is checked against. */
  readonly revision: number
  readonly createdAt: string
  readonly updatedAt: string
}

/** What a save writes: the definition, without the schedule. */
export interface TaskDefInput {
  readonly taskId: string
  readonly subject: string
  readonly document: string
  readonly draft: boolean
  readonly active: boolean
}

/** The scheduler's state of a task; an absent field is kept, null clears it. */
export interface TaskSchedule {
  readonly nextRunAt: string | null
  readonly lastScheduledFor?: string | null
  readonly idleRuns?: number
}

/** Stored task definitions (the service's tasks) and their schedules. */
export interface TaskDefRepo {
  /**
   * Inserts the task (revision 1) or updates it (revision + 1); the schedule is untouched.
   * With `expectedRevision`, the write happens only if the stored revision is that one, else
   * OSY_REVISION_CONFLICT; `0` means "a new task" (a conflict if the id is taken), and a
   * positive revision of a task that is gone is OSY_TASK_NOT_FOUND.
   */
  put(task: TaskDefInput, expectedRevision?: number): Promise<StoredTask>
  get(taskId: string): Promise<StoredTask | undefined>
  /** Every task, by subject (ASCII case ignored, then byte order), then id. */
  list(): Promise<StoredTask[]>
  /** Turns the plan on or off; counts as a revision. OSY_TASK_NOT_FOUND if missing. */
  setActive(taskId: string, active: boolean): Promise<void>
  /**
   * Records the scheduler's state; not a revision, so it never conflicts with an editor.
   * Returns false (and writes nothing) when the task is gone: a scheduler that raced a
   * delete has nothing left to plan.
   */
  setSchedule(taskId: string, schedule: TaskSchedule): Promise<boolean>
  /**
   * Active, complete tasks whose next run is at or before `now`, the longest due first
   * (default limit 100). Served by the partial index `osy_task_defs_due`.
   */
  due(now: string, limit?: number): Promise<StoredTask[]>
  /** Removes the definition row only (its metadata goes with `links.removeTask`). */
  remove(taskId: string): Promise<boolean>
}

/** The task definition repository on a connection. */
export function taskDefRepo(ctx: RepoContext): TaskDefRepo {
  const notFound = (taskId: string) =>
    new OpenSyncError('OSY_TASK_NOT_FOUND', `there is no task ${taskId}`, {
      details: { taskId },
    })

  return {
    put(task, expectedRevision) {
      return ctx.run('taskDefs.put', async (db) => {
        const at = now()
        const fields = {
          subject: task.subject,
          document: task.document,
          draft: task.draft ? 1 : 0,
          active: task.active ? 1 : 0,
          updated_at: at,
        }
        const insert = db.insertInto('osy_task_defs').values({
          task_id: task.taskId,
          ...fields,
          next_run_at: null,
          last_scheduled_for: null,
          idle_runs: 0,
          revision: 1,
          created_at: at,
        })
        if (expectedRevision === undefined) {
          const row = await insert
            .onConflict((oc) =>
              oc.column('task_id').doUpdateSet((eb) => ({
                ...fields,
                revision: eb(eb.ref('osy_task_defs.revision'), '+', 1),
              })),
            )
            .returningAll()
            .executeTakeFirstOrThrow()
          return toStoredTask(row)
        }
        // Compare and write in one statement, so two saves of one revision cannot both win.
        const row =
          expectedRevision === 0
            ? await insert
                .onConflict((oc) => oc.column('task_id').doNothing())
                .returningAll()
                .executeTakeFirst()
            : await db
                .updateTable('osy_task_defs')
                .set((eb) => ({ ...fields, revision: eb(eb.ref('revision'), '+', 1) }))
                .where('task_id', '=', task.taskId)
                .where('revision', '=', expectedRevision)
                .returningAll()
                .executeTakeFirst()
        if (row !== undefined) return toStoredTask(row)
        const stored = await db
          .selectFrom('osy_task_defs')
          .select('revision')
          .where('task_id', '=', task.taskId)
          .executeTakeFirst()
        if (stored === undefined) throw notFound(task.taskId)
        throw new OpenSyncError(
          'OSY_REVISION_CONFLICT',
          `task ${task.taskId} was changed meanwhile: it is at revision ${stored.revision}, the change was made to revision ${expectedRevision}; reload it and apply the change again`,
          { details: { taskId: task.taskId, expectedRevision, revision: stored.revision } },
        )
      })
    },

    get(taskId) {
      return ctx.run('taskDefs.get', async (db) => {
        const row = await db
          .selectFrom('osy_task_defs')
          .selectAll()
          .where('task_id', '=', taskId)
          .executeTakeFirst()
        return row === undefined ? undefined : toStoredTask(row)
      })
    },

    list() {
      return ctx.run('taskDefs.list', async (db) => {
        // lower() folds ASCII only on both dialects here (the column is byte-ordered), so
        // the order is the same everywhere; the set of tasks is small enough to sort.
        const rows = await db
          .selectFrom('osy_task_defs')
          .selectAll()
          .orderBy(sql`lower(subject)`)
          .orderBy('subject')
          .orderBy('task_id')
          .execute()
        return rows.map(toStoredTask)
      })
    },

    setActive(taskId, active) {
      return ctx.run('taskDefs.setActive', async (db) => {
        const result = await db
          .updateTable('osy_task_defs')
          .set((eb) => ({
            active: active ? 1 : 0,
            revision: eb(eb.ref('revision'), '+', 1),
            updated_at: now(),
          }))
          .where('task_id', '=', taskId)
          .executeTakeFirst()
        if (result.numUpdatedRows === 0n) throw notFound(taskId)
      })
    },

    setSchedule(taskId, schedule) {
      return ctx.run('taskDefs.setSchedule', async (db) => {
        const result = await db
          .updateTable('osy_task_defs')
          .set({
            next_run_at: schedule.nextRunAt,
            ...(schedule.lastScheduledFor !== undefined
              ? { last_scheduled_for: schedule.lastScheduledFor }
              : {}),
            ...(schedule.idleRuns !== undefined ? { idle_runs: schedule.idleRuns } : {}),
          })
          .where('task_id', '=', taskId)
          .executeTakeFirst()
        return result.numUpdatedRows > 0n
      })
    },

    due(at, limit = 100) {
      return ctx.run('taskDefs.due', async (db) => {
        // The flags are literals, as in the index predicate: only then do the planners know
        // the partial index answers the query.
        const rows = await db
          .selectFrom('osy_task_defs')
          .selectAll()
          .where(sql<boolean>`active = 1 and draft = 0`)
          .where('next_run_at', '<=', at)
          .orderBy('next_run_at')
          .orderBy('task_id')
          .limit(limit)
          .execute()
        return rows.map(toStoredTask)
      })
    },

    remove(taskId) {
      return ctx.run('taskDefs.remove', async (db) => {
        const result = await db
          .deleteFrom('osy_task_defs')
          .where('task_id', '=', taskId)
          .executeTakeFirst()
        return result.numDeletedRows > 0n
      })
    },
  }
}

function toStoredTask(row: Selectable<TaskDefTable>): StoredTask {
  return {
    taskId: row.task_id,
    subject: row.subject,
    document: row.document,
    draft: row.draft === 1,
    active: row.active === 1,
    ...(row.next_run_at !== null ? { nextRunAt: row.next_run_at } : {}),
    ...(row.last_scheduled_for !== null ? { lastScheduledFor: row.last_scheduled_for } : {}),
    idleRuns: row.idle_runs,
    revision: row.revision,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
}

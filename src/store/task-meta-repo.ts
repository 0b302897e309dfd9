import { now } from './batching.ts'
import type { RepoContext } from './store-context.ts'

/** Facts about a task kept by its runs. */
export interface TaskMeta {
  readonly taskId: string
  /** When a run of the task last started; absent for a task never executed. */
  readonly lastRunAt?: string
}

/** Per-task facts: what the overview's "never executed" marker reads. */
export interface TaskMetaRepo {
  get(taskId: string): Promise<TaskMeta | undefined>
  /** Records that a run of the task starts now. */
  touch(taskId: string): Promise<void>
}

/** The task meta repository on a connection. */
export function taskMetaRepo(ctx: RepoContext): TaskMetaRepo {
  return {
    get(taskId) {
      return ctx.run('tasks.get', async (db) => {
        const row = await db
          .selectFrom('osy_task_meta')
          .selectAll()
          .where('task_id', '=', taskId)
          .executeTakeFirst()
        if (row === undefined) return undefined
        return row.last_run_at === null
          ? { taskId: row.task_id }
          : { taskId: row.task_id, lastRunAt: row.last_run_at }
      })
    },

    touch(taskId) {
      return ctx.run('tasks.touch', async (db) => {
        const at = now()
        await db
          .insertInto('osy_task_meta')
          .values({ task_id: taskId, last_run_at: at })
          .onConflict((oc) => oc.column('task_id').doUpdateSet({ last_run_at: at }))
          .execute()
      })
    },
  }
}

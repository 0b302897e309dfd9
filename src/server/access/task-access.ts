import type { FastifyRequest } from 'fastify'
import { OpenSyncError } from '../../sdk/errors.ts'
import type { TaskView } from '../../service/task-manager.ts'
import type { ExecutionRow } from '../../store/index.ts'
import type { ServerContext } from '../server-context.ts'
import { canSeeProfiles, canSeeTask } from './task-visibility.ts'

/**
 * The task, if the caller may see it; OSY_TASK_NOT_FOUND otherwise, as for a task that does
 * not exist, so that a user limited to some profiles learns nothing of the others.
 */
export async function visibleTask(
  request: FastifyRequest,
  ctx: Pick<ServerContext, 'tasks'>,
  taskId: string,
): Promise<TaskView> {
  const task = await ctx.tasks.get(taskId)
  if (!canSeeTask(request.principal, task.document)) {
    throw new OpenSyncError('OSY_TASK_NOT_FOUND', `no task "${taskId}"`)
  }
  return task
}

/** The execution and its task, if the caller may see the task; OSY_EXECUTION_NOT_FOUND otherwise. */
export async function visibleExecution(
  request: FastifyRequest,
  ctx: Pick<ServerContext, 'tasks' | 'store'>,
  id: number,
): Promise<{ readonly execution: ExecutionRow; readonly task: TaskView }> {
  const notFound = () => new OpenSyncError('OSY_EXECUTION_NOT_FOUND', `no execution ${id}`)
  const execution = await ctx.store.executions.get(id)
  if (!execution) throw notFound()
  const task = await ctx.tasks.get(execution.taskId).catch(() => undefined)
  if (!task || !canSeeTask(request.principal, task.document)) throw notFound()
  return { execution, task }
}

/** The ids of the tasks the caller may see; undefined when the caller sees every task. */
export async function visibleTaskIds(
  request: FastifyRequest,
  ctx: Pick<ServerContext, 'tasks'>,
): Promise<string[] | undefined> {
  if (request.principal?.profiles === undefined) return undefined
  return (await ctx.tasks.summaries())
    .filter((t) => canSeeProfiles(request.principal, t.profiles))
    .map((t) => t.id)
}

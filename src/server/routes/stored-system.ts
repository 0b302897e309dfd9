import type { FastifyRequest } from 'fastify'
import { z } from 'zod'
import type { ConnectionValues } from '../../sdk/index.ts'
import type { SystemInput } from '../../service/wizard.ts'
import { visibleTask } from '../access/task-access.ts'
import { taskIdParam } from '../schemas/common.ts'
import type { ServerContext } from '../server-context.ts'

/** Which stored task and system the values come from, when a stored task is being edited. */
export const storedSystemRef = z
  .strictObject({
    task: taskIdParam,
    system: z.string().min(1).max(100).describe("The system's key in the task."),
  })
  .meta({
    id: 'StoredSystemRef',
    description:
      'The stored task and system the values were read from: each secret sent as the placeholder ******** is its stored value.',
  })

export type StoredSystemRef = z.infer<typeof storedSystemRef>

/**
 * The system with each placeholder filled in from the stored task's system, after checking
 * the caller may see the task (OSY_TASK_NOT_FOUND otherwise). Without a reference: as given.
 * The result holds secrets: connect with it, never send it back.
 */
export async function withStoredSecrets<S extends SystemInput>(
  request: FastifyRequest,
  ctx: Pick<ServerContext, 'tasks'>,
  system: S,
  stored: StoredSystemRef | undefined,
): Promise<S> {
  if (!stored) return system
  await visibleTask(request, ctx, stored.task)
  const connection = await ctx.tasks.connectionWithSecrets(stored.task, stored.system, system)
  return { ...system, connection: connection as ConnectionValues }
}

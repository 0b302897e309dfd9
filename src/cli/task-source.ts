import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { extname } from 'node:path'
import type { ResolvedTask } from '../engine/task/resolved-task.ts'
import { isOpenSyncError } from '../sdk/errors.ts'

/**
 * Whether a command's task argument names a task file (it exists, or ends in .yaml, .yml or
 * .json) rather than the id of a stored task.
 */
export function isTaskFile(arg: string): boolean {
  return existsSync(arg) || /\.(ya?ml|json)$/i.test(arg)
}

/** Where a stored task is read from. */
export interface StoredTaskSource {
  readonly storeUrl?: string
}

/** The task to run: a task file (`${VAR}`s from the environment) or a stored task by id. */
export async function taskToRun(arg: string, source: StoredTaskSource): Promise<ResolvedTask> {
  if (isTaskFile(arg)) {
    const { loadTaskFile } = await import('../engine/task/index.ts')
    return loadTaskFile(arg)
  }
  const { resolveStoredTask } = await import('./service-commands.ts')
  const { registry } = await import('./cli-kit.ts')
  return resolveStoredTask(arg, { registry, ...source })
}

/**
 * The task to list runs of: its id, subject, systems and pairs, without secrets. A task file
 * whose `${VAR}`s are not set is read with the references as written; a stored task is read
 * without opening its secrets.
 */
export async function taskToList(arg: string, source: StoredTaskSource): Promise<ResolvedTask> {
  if (!isTaskFile(arg)) {
    const { outlineStoredTask } = await import('./service-commands.ts')
    const { registry } = await import('./cli-kit.ts')
    return outlineStoredTask(arg, { registry, ...source })
  }
  const { loadTaskFile, parseTaskFile } = await import('../engine/task/index.ts')
  try {
    return await loadTaskFile(arg)
  } catch (error) {
    if (!isOpenSyncError(error) || error.code !== 'OSY_MISSING_ENV') throw error
    try {
      const text = await readFile(arg, 'utf8')
      const format = extname(arg).toLowerCase() === '.json' ? 'json' : 'yaml'
      return parseTaskFile(text, { format, env: false, source: arg })
    } catch {
      throw error
    }
  }
}

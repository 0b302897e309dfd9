import type { Principal } from './permissions.ts'

/** The profile ids the systems of a task document were made from (`systems.<key>.profile.id`). */
export function taskProfiles(document: unknown): string[] {
  const systems = (document as { systems?: unknown } | null)?.systems
  if (!systems || typeof systems !== 'object') return []
  const ids: string[] = []
  for (const system of Object.values(systems as Record<string, unknown>)) {
    const id = (system as { profile?: { id?: unknown } } | null)?.profile?.id
    if (typeof id === 'string') ids.push(id)
  }
  return ids
}

/**
 * True when the caller may see a task: always when not limited to profiles; else when one
 * of the task's systems comes from a profile the caller is limited to (as a module licence
 * opens the tasks of its third-party system). A task made of no profile is then hidden.
 */
export function canSeeTask(principal: Principal | undefined, document: unknown): boolean {
  if (!principal) return false
  const limit = principal.profiles
  if (limit === undefined) return true
  return taskProfiles(document).some((id) => limit.includes(id))
}

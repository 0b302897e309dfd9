import { profileIdsOf } from '../../service/task-manager.ts'
import type { Principal } from './permissions.ts'

/** The profile ids the systems of a task document were made from (`systems.<key>.profile.id`). */
export const taskProfiles: (document: unknown) => string[] = profileIdsOf

/**
 * True when the caller may see a task made from these profiles: always when not limited
 * to profiles; else when one of them is a profile the caller is limited to (as a module
 * licence opens the tasks of its third-party system). A task made of no profile is then hidden.
 */
export function canSeeProfiles(
  principal: Principal | undefined,
  profiles: readonly string[],
): boolean {
  if (!principal) return false
  const limit = principal.profiles
  if (limit === undefined) return true
  return profiles.some((id) => limit.includes(id))
}

/** {@link canSeeProfiles} for a task document. */
export function canSeeTask(principal: Principal | undefined, document: unknown): boolean {
  return canSeeProfiles(principal, taskProfiles(document))
}

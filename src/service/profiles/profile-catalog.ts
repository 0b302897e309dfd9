import { OpenSyncError } from '../../sdk/index.ts'
import type { LoadedProfile } from './load-profile.ts'
import type { ProfileIssue } from './profile-issues.ts'

/** The profiles a process knows, by id (made by `loadProfiles`). */
export class ProfileCatalog {
  readonly #byId: ReadonlyMap<string, LoadedProfile>
  /** Problems of the profiles that did not load (only with `strict: false`). */
  readonly problems: readonly ProfileIssue[]
  /** Valid profiles left out because their bridge is not available in this process. */
  readonly unavailable: readonly ProfileIssue[]

  constructor(
    profiles: Iterable<LoadedProfile>,
    problems: readonly ProfileIssue[] = [],
    unavailable: readonly ProfileIssue[] = [],
  ) {
    const sorted = [...profiles].sort((a, b) => a.id.localeCompare(b.id))
    this.#byId = new Map(sorted.map((p) => [p.id, p]))
    this.problems = problems
    this.unavailable = unavailable
  }

  /** Every profile, by id. */
  list(): readonly LoadedProfile[] {
    return [...this.#byId.values()]
  }

  /** The profiles that can be a task's home system. */
  homes(): readonly LoadedProfile[] {
    return this.list().filter((p) => p.profile.home !== undefined)
  }

  /** The profile of that id, or undefined. */
  find(id: string): LoadedProfile | undefined {
    return this.#byId.get(id)
  }

  /** The profile of that id; throws OSY_PROFILE_NOT_FOUND naming the known ones. */
  get(id: string): LoadedProfile {
    const profile = this.#byId.get(id)
    if (!profile) {
      const lacking = this.unavailable.find((i) => i.profile === id)
      if (lacking) {
        throw new OpenSyncError(
          'OSY_PROFILE_NOT_FOUND',
          `system profile "${id}" cannot be used here: ${lacking.message}; load its bridge with OPENSYNC_BRIDGES`,
          { details: { field: 'profile' } },
        )
      }
      const known = [...this.#byId.keys()].join(', ') || 'none'
      throw new OpenSyncError(
        'OSY_PROFILE_NOT_FOUND',
        `no system profile "${id}" (known: ${known})`,
        {
          details: { field: 'profile' },
        },
      )
    }
    return profile
  }
}

import { fieldsOf } from './fields-of.ts'
import type { LoadedProfile } from './load-profile.ts'
import type { ProfileDirection } from './profile-schema.ts'
import {
  type ProfileSide,
  pairsOffered,
  systemKeysOf,
  type TaskChoices,
  taskFromProfiles,
} from './task-from-profiles.ts'

/** One assignment pair on offer between two profiles, in the task's system keys. */
export interface PairOffer {
  readonly id: string
  readonly title: string
  readonly description?: string
  /** Always part of the task; when every pair on offer is fixed the wizard skips step 3. */
  readonly fixed: boolean
  /** The record types of the home system and the other. */
  readonly home: string
  readonly other: string
  /** The directions the user may choose, in the task's form (`both`, `crm->erp`). */
  readonly directions: readonly string[]
  /** The named field assignments, as the task file's `fields` (sides named by the keys). */
  readonly fieldAssignments: Readonly<Record<string, Record<string, unknown>>>
  /** The pair as the task document holds it with the profile's defaults. */
  readonly pair: Record<string, unknown>
}

/**
 * The pairs a home profile and another offer, with what the wizard's step 3 chooses from:
 * the directions, the named field assignments, and each pair as a task document's pair with
 * the defaults (what choosing the pair adds).
 */
export function pairOffers(
  home: LoadedProfile,
  other: LoadedProfile,
  keys?: TaskChoices['keys'],
): { readonly keys: readonly [string, string]; readonly items: readonly PairOffer[] } {
  const names = systemKeysOf(home, other, keys)
  const key = (side: ProfileSide) => (side === 'home' ? names[0] : names[1])
  const offered = pairsOffered(home, other)
  const made =
    offered.length === 0
      ? []
      : (taskFromProfiles(home, other, {
          keys: { home: names[0], other: names[1] },
          pairs: offered.map((p) => p.id),
        }).document.pairs as unknown as Record<string, unknown>[])
  const direction = (d: ProfileDirection) =>
    d === 'both'
      ? 'both'
      : d === 'home->other'
        ? `${names[0]}->${names[1]}`
        : `${names[1]}->${names[0]}`
  const items = offered.map((pair) => ({
    id: pair.id,
    title: pair.title,
    ...(pair.description ? { description: pair.description } : {}),
    fixed: pair.fixed,
    home: pair.home,
    other: pair.other,
    directions: pair.directions.map(direction),
    fieldAssignments: Object.fromEntries(
      Object.entries(pair.fieldAssignments).map(([name, a]) => [name, fieldsOf(a, key)]),
    ),
    pair: made.find((p) => p.id === pair.id) ?? {},
  }))
  return { keys: names, items }
}

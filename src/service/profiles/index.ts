/**
 * System profiles (DESIGN.md §8, docs/profiles.md): the schema, the catalogue loaded from
 * `profiles/` and `OPENSYNC_PROFILES`, and the task a home profile and another make. Used by
 * the CLI, the API and the console's wizard; the task document they produce is the engine's.
 * @module
 */
export type { ConnectionForm, ConnectionValue, ProfileFormField } from './connection-form.ts'
export { listHomeDatabases } from './list-home-databases.ts'
export { type LoadedProfile, type ProfileReadResult, readProfileFile } from './load-profile.ts'
export {
  type LoadProfilesOptions,
  loadProfiles,
  profileSources,
  SHIPPED_PROFILES_DIR,
} from './load-profiles.ts'
export { type PairOffer, pairOffers } from './pair-offers.ts'
export { ProfileCatalog } from './profile-catalog.ts'
export { formatProfileIssue, type ProfileIssue } from './profile-issues.ts'
export {
  FILTER_KINDS,
  type FilterKind,
  PROFILE_DIRECTIONS,
  PROFILE_WINNERS,
  type Profile,
  type ProfileDirection,
  type ProfileInput,
  type ProfilePair,
  profileJsonSchema,
  profileSchema,
} from './profile-schema.ts'
export {
  compareVersions,
  type ProfileStatus,
  profileStatus,
} from './profile-updates.ts'
export {
  type PairChoices,
  type ProfileSide,
  type ProfileTask,
  pairsOffered,
  type SideFilterChoice,
  systemKeysOf,
  type TaskChoices,
  taskFromProfiles,
} from './task-from-profiles.ts'

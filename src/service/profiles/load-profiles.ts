import { existsSync, readFileSync, statSync } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { delimiter, isAbsolute, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { formatPath } from '../../engine/task/index.ts'
import type { BridgeRegistry } from '../../sdk/index.ts'
import { type LoadedProfile, readProfileFile, sideFilterIssues } from './load-profile.ts'
import { ProfileCatalog } from './profile-catalog.ts'
import { displayPath, invalidProfiles, type ProfileIssue } from './profile-issues.ts'

/** The profiles that ship with OpenSync: `profiles/` at the package root. */
export const SHIPPED_PROFILES_DIR = fileURLToPath(new URL('../../../profiles/', import.meta.url))

/** Options of {@link loadProfiles}. */
export interface LoadProfilesOptions {
  /** The bridges profiles may name; a profile of an unknown bridge is invalid. */
  readonly registry: BridgeRegistry
  /**
   * Folders and npm package names to load besides the shipped profiles. Default: the
   * `OPENSYNC_PROFILES` environment variable, split at `,` and the OS path delimiter.
   */
  readonly sources?: readonly string[]
  /** Load the shipped `profiles/` folder. Default true. */
  readonly shipped?: boolean
  /** Where relative folders and packages are resolved. Default the current folder. */
  readonly cwd?: string
  /**
   * `true` (the default): any invalid profile throws one OSY_INVALID_PROFILE listing every
   * problem. `false`: the valid profiles load and the problems are in `catalog.problems`
   * (a service keeps running when one partner profile is broken).
   */
  readonly strict?: boolean
}

/** Splits `OPENSYNC_PROFILES` into its entries (`,` or the OS path delimiter). */
export function profileSources(text: string | undefined): string[] {
  return (text ?? '')
    .split(new RegExp(`[,${delimiter === ';' ? ';' : ':'}]`))
    .map((s) => s.trim())
    .filter(Boolean)
}

/**
 * Loads the profile catalogue: the shipped profiles, then each folder or package of
 * `sources` in order. A folder holds one profile per `<name>.yaml` (or `.yml`, `.json`);
 * files with a second dot (`mailing-pro.rest.yaml`) are the profiles' side files, such as
 * manifests, and are not read as profiles. An npm package exposes a folder: its
 * package.json's `opensync.profiles`, else its `profiles/` folder. Two profiles with one id
 * are an error naming both files. A valid profile of a bridge this process lacks is not an
 * error: it is left out and listed in `catalog.unavailable`.
 */
export async function loadProfiles(options: LoadProfilesOptions): Promise<ProfileCatalog> {
  const cwd = options.cwd ?? process.cwd()
  const problems: ProfileIssue[] = []
  const folders: string[] = []
  if (options.shipped !== false) folders.push(SHIPPED_PROFILES_DIR)
  for (const entry of options.sources ?? profileSources(process.env.OPENSYNC_PROFILES)) {
    const folder = locate(entry, cwd)
    if (typeof folder === 'string') folders.push(folder)
    else
      problems.push({
        source: `OPENSYNC_PROFILES entry ${entry}`,
        path: '',
        message: folder.problem,
      })
  }

  const loaded: LoadedProfile[] = []
  const unavailable: ProfileIssue[] = []
  const seen = new Set<string>()
  for (const folder of folders) {
    const key = resolve(folder)
    if (seen.has(key)) continue
    seen.add(key)
    for (const file of await profileFiles(folder)) {
      const result = await readProfileFile(file, options.registry, cwd)
      if (result.ok) loaded.push(result.profile)
      else if (result.unavailable) unavailable.push(...result.issues)
      else problems.push(...result.issues)
    }
  }

  const byId = new Map<string, LoadedProfile>()
  const unique: LoadedProfile[] = []
  for (const profile of loaded) {
    const first = byId.get(profile.id)
    if (first) {
      problems.push({
        source: displayPath(profile.file, cwd),
        path: 'profile',
        message: `duplicate profile id "${profile.id}": ${displayPath(first.file, cwd)} and ${displayPath(profile.file, cwd)} both use it`,
      })
      continue
    }
    byId.set(profile.id, profile)
    unique.push(profile)
  }
  const usable: LoadedProfile[] = []
  for (const profile of unique) {
    const issues = pairingIssues(profile, byId, cwd)
    problems.push(...issues)
    if (issues.length === 0) usable.push(profile)
  }
  if (problems.length > 0 && options.strict !== false) throw invalidProfiles(problems)
  return new ProfileCatalog(usable, problems, unavailable)
}

/**
 * Checks a profile's pairs against the home profiles they name that are in the catalogue:
 * each can be a home system, offers the pair's home record type (when it lists its types),
 * and its bridge takes the home side's filters. A home profile not in the catalogue is no
 * error: it may come from a package this process does not load.
 */
function pairingIssues(
  profile: LoadedProfile,
  byId: ReadonlyMap<string, LoadedProfile>,
  cwd: string,
): ProfileIssue[] {
  const source = displayPath(profile.file, cwd)
  const issues: ProfileIssue[] = []
  profile.profile.pairs.forEach((pair, i) => {
    pair.homeProfiles?.forEach((id, j) => {
      const home = byId.get(id)
      if (!home) return
      const at = formatPath(['pairs', i, 'homeProfiles', j])
      if (!home.profile.home) {
        issues.push({
          source,
          path: at,
          message: `profile ${id} is no home profile (it has no home: section)`,
        })
        return
      }
      const types = home.profile.recordTypes
      if (types && !Object.hasOwn(types, pair.home)) {
        issues.push({
          source,
          path: formatPath(['pairs', i, 'home']),
          message: `home profile ${id} offers no record type ${pair.home} (${Object.keys(types).join(', ')})`,
        })
      }
      const offer = pair.filters?.home
      if (!offer) return
      for (const issue of sideFilterIssues(offer, home.filterKinds, home.profile.bridge)) {
        issues.push({
          source,
          path: formatPath(['pairs', i, 'filters', 'home', ...issue.path]),
          message: `${issue.message} (home profile ${id})`,
        })
      }
    })
  })
  return issues
}

/** The profile files of a folder, sorted by name. */
async function profileFiles(folder: string): Promise<string[]> {
  const names = await readdir(folder).catch(() => [] as string[])
  return names
    .filter((n) => /^[^.]+\.(ya?ml|json)$/i.test(n) && !/^package(-lock)?\.json$/i.test(n))
    .sort()
    .map((n) => join(folder, n))
}

const PACKAGE_NAME = /^(?:@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/

/**
 * The folder an `OPENSYNC_PROFILES` entry names: a path (absolute, or starting with `.`),
 * or an npm package found from `cwd` as Node would find it; a bare name that is no package
 * but a folder is taken as the folder.
 */
function locate(entry: string, cwd: string): string | { problem: string } {
  const asFolder = resolve(cwd, entry)
  if (isAbsolute(entry) || entry.startsWith('.') || !PACKAGE_NAME.test(entry)) {
    return isFolder(asFolder) ? asFolder : { problem: `no such folder ${asFolder}` }
  }
  const pkg = packageRoot(entry, cwd)
  if (pkg) {
    const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as {
      opensync?: { profiles?: unknown }
    }
    const named = manifest.opensync?.profiles
    const folder = resolve(pkg, typeof named === 'string' ? named : 'profiles')
    return isFolder(folder)
      ? folder
      : { problem: `package ${entry} has no profiles folder ${displayPath(folder, cwd)}` }
  }
  if (isFolder(asFolder)) return asFolder
  return { problem: `no npm package ${entry} (is it installed?) and no such folder` }
}

/**
 * The root folder of an installed package, looked up through the node_modules folders
 * Node would search from `cwd` (not `require.resolve`, which a package's `exports` may
 * forbid for package.json).
 */
function packageRoot(name: string, cwd: string): string | undefined {
  const paths = createRequire(join(cwd, 'noop.js')).resolve.paths(name) ?? []
  for (const dir of paths) {
    const root = join(dir, name)
    if (existsSync(join(root, 'package.json'))) return root
  }
  return undefined
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}

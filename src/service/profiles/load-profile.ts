import { readFile } from 'node:fs/promises'
import { dirname, extname, resolve } from 'node:path'
import { parseDocument } from 'yaml'
import {
  compileTask,
  formatPath,
  type TaskIssue,
  validateTaskFile,
} from '../../engine/task/index.ts'
import { issueMessage, zodIssues } from '../../engine/task/task-issues.ts'
import { type BridgeRegistry, capabilitiesOf, isOpenSyncError } from '../../sdk/index.ts'
import { type ConnectionForm, connectionForm } from './connection-form.ts'
import { displayPath, type ProfileIssue } from './profile-issues.ts'
import {
  type FilterKind,
  type Profile,
  type ProfilePair,
  profileRuleIssues,
  profileSchema,
} from './profile-schema.ts'

/** A profile read from its file, checked against its bridge: what the catalogue holds. */
export interface LoadedProfile {
  /** The profile id (`profile:` in the file). */
  readonly id: string
  /** The file it was read from (absolute). */
  readonly file: string
  /** The validated profile, defaults filled in. */
  readonly profile: Profile
  /**
   * The bridge settings a task made from the profile carries: `manifest` read from its file
   * (so the task needs neither the file nor the profile later), the other settings as written.
   */
  readonly settings?: Readonly<Record<string, unknown>>
  /** The connection step: the form fields shown and the values fixed. */
  readonly connection: ConnectionForm
  /** The filter kinds the profile's bridge takes. */
  readonly filterKinds: readonly FilterKind[]
  /** The home database can be picked from the server's list (`listDatabases`). */
  readonly pickDatabase: boolean
}

/**
 * The outcome of reading one profile file: the profile, or the problems. `unavailable`: the
 * profile is valid but names a bridge this process does not have (a bridge package not in
 * `OPENSYNC_BRIDGES`, or one that is not installed).
 */
export type ProfileReadResult =
  | { readonly ok: true; readonly profile: LoadedProfile }
  | {
      readonly ok: false
      readonly issues: readonly ProfileIssue[]
      readonly unavailable?: boolean
    }

/**
 * Reads, validates and resolves one profile file: the schema and its cross-field rules, the
 * bridge (known to `registry`, with the fields, filter kinds and abilities the profile
 * uses), the manifest file, and each field assignment compiled as the engine will compile
 * it, in every direction the pair offers. Every problem is returned, each with its path.
 */
export async function readProfileFile(
  path: string,
  registry: BridgeRegistry,
  cwd: string = process.cwd(),
): Promise<ProfileReadResult> {
  const file = resolve(cwd, path)
  const source = displayPath(file, cwd)
  const fail = (list: readonly { path: string; message: string }[]): ProfileReadResult => ({
    ok: false,
    issues: list.map((i) => ({ source, path: i.path, message: i.message })),
  })

  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    return fail([
      { path: '', message: code === 'ENOENT' ? 'no such file' : `cannot read: ${code}` },
    ])
  }
  const parsed = parseText(text, extname(file).toLowerCase() === '.json')
  if (!parsed.ok) return fail([{ path: '', message: parsed.message }])
  if (parsed.value === null || parsed.value === undefined) {
    return fail([{ path: '', message: 'the profile is empty' }])
  }

  const checked = profileSchema.safeParse(parsed.value, { error: issueMessage })
  if (!checked.success) return fail(zodIssues(checked.error.issues, parsed.value))
  const profile = checked.data
  const issues: TaskIssue[] = profileRuleIssues(profile).map((i) => ({
    path: formatPath(i.path),
    message: i.message,
  }))
  const add = (p: readonly PropertyKey[], message: string) =>
    issues.push({ path: formatPath(p), message })

  if (!registry.has(profile.bridge)) {
    const known = registry
      .list()
      .map((b) => b.name)
      .join(', ')
    add(['bridge'], `unknown bridge "${profile.bridge}" (known: ${known || 'none'})`)
    // Only the bridge is missing: its package may just not be loaded in this process.
    if (issues.length === 1) {
      const [issue] = issues.map((i) => ({ source, ...i, profile: profile.profile }))
      return { ok: false, issues: [issue!], unavailable: true }
    }
    return fail(issues)
  }
  // Bridge settings, with the manifest read from its file (relative to the profile).
  let settings: Record<string, unknown> | undefined = profile.settings
    ? { ...profile.settings }
    : undefined
  if (profile.manifest !== undefined) {
    if (settings && Object.hasOwn(settings, 'manifest')) {
      add(['manifest'], 'is given twice: here and as settings.manifest; keep one')
    } else {
      const manifestFile = resolve(dirname(file), profile.manifest)
      const manifest = await readManifest(manifestFile)
      if (manifest.ok) settings = { ...settings, manifest: manifest.value }
      else add(['manifest'], `${displayPath(manifestFile, cwd)}: ${manifest.message}`)
    }
  }

  const bridge = registry.get(profile.bridge)
  if (settings && bridge.checkSettings) {
    for (const issue of bridge.checkSettings(settings)) {
      // A manifest's issues point into its own file, which `manifest:` names.
      const inManifest = profile.manifest !== undefined && issue.path.startsWith('manifest.')
      add(
        inManifest ? ['manifest'] : ['settings'],
        inManifest
          ? `${profile.manifest}: ${issue.path.slice('manifest.'.length)}: ${issue.message}`
          : `${issue.path}: ${issue.message}`,
      )
    }
  }
  const { form, issues: formIssues } = connectionForm(
    profile,
    settings && bridge.connectionFieldsFor
      ? { ...bridge, connectionFields: bridge.connectionFieldsFor(settings) }
      : bridge,
    settings !== undefined,
  )
  for (const i of formIssues) add(i.path, i.message)
  const pickDatabase = profile.home?.pickDatabase === true
  if (pickDatabase && !capabilitiesOf(bridge).listDatabases) {
    add(['home', 'pickDatabase'], `bridge ${bridge.name} cannot list the databases of a server`)
  }
  const filterKinds = bridge.filterKinds as readonly FilterKind[]
  profile.pairs.forEach((pair, i) => {
    const own = pair.filters?.other
    if (own) {
      for (const i2 of sideFilterIssues(own, filterKinds, bridge.name)) {
        add(['pairs', i, 'filters', 'other', ...i2.path], i2.message)
      }
    }
    for (const issue of assignmentIssues(pair, i)) issues.push(issue)
  })

  if (issues.length > 0) return fail(issues)
  return {
    ok: true,
    profile: Object.freeze({
      id: profile.profile,
      file,
      profile,
      ...(settings ? { settings: Object.freeze(settings) } : {}),
      connection: form,
      filterKinds,
      pickDatabase,
    }),
  }
}

/**
 * Checks one side's filter offer against the bridge of that side: the kinds it lets the
 * user write, and the conditions its parameters need (SQL for `sql:`, any kind for `field:`).
 */
export function sideFilterIssues(
  filter: NonNullable<NonNullable<ProfilePair['filters']>['home']>,
  kinds: readonly FilterKind[],
  bridge: string,
): { path: readonly PropertyKey[]; message: string }[] {
  const issues: { path: readonly PropertyKey[]; message: string }[] = []
  filter.kinds?.forEach((kind, j) => {
    if (!kinds.includes(kind)) {
      issues.push({
        path: ['kinds', j],
        message: `bridge ${bridge} takes no ${kind} filters (it takes: ${kinds.join(', ') || 'none'})`,
      })
    }
  })
  const anySql = Object.values(filter.parameters).some((p) => p.sql !== undefined)
  for (const [name, p] of Object.entries(filter.parameters)) {
    if (p.sql !== undefined && !kinds.includes('sql')) {
      issues.push({
        path: ['parameters', name, 'sql'],
        message: `bridge ${bridge} takes no SQL filters: use field: for an equality`,
      })
    } else if (p.field !== undefined && !kinds.includes('keyValue') && !kinds.includes('sql')) {
      issues.push({ path: ['parameters', name], message: `bridge ${bridge} takes no filters` })
    } else if (p.field !== undefined && anySql && !kinds.includes('sql')) {
      issues.push({ path: ['parameters', name], message: `bridge ${bridge} takes no SQL filters` })
    }
  }
  return issues
}

/**
 * Compiles each field assignment of a pair as a task would, once per offered direction (a
 * transform that cannot be inverted matters only when values flow back), and reports the
 * engine's problems at their place in the profile.
 */
function assignmentIssues(pair: ProfilePair, index: number): TaskIssue[] {
  const out = new Map<string, TaskIssue>()
  for (const [name, fields] of Object.entries(pair.fieldAssignments)) {
    for (const direction of pair.directions) {
      const document = {
        subject: 'profile check',
        systems: {
          home: { bridge: 'home', connection: {} },
          other: { bridge: 'other', connection: {} },
        },
        pairs: [
          {
            home: { type: pair.home },
            other: { type: pair.other },
            direction,
            fields,
            conflict: pair.conflict,
            deletes: pair.deletes,
          },
        ],
      }
      try {
        compileTask(validateTaskFile(document))
      } catch (error) {
        if (!isOpenSyncError(error) || error.code !== 'OSY_INVALID_TASK') throw error
        for (const issue of (error.details.issues ?? []) as TaskIssue[]) {
          const path = issue.path.startsWith('pairs[0].fields')
            ? `pairs[${index}].fieldAssignments.${name}${issue.path.slice('pairs[0].fields'.length)}`
            : issue.path.replace(/^pairs\[0\]/, `pairs[${index}]`)
          out.set(`${path}\n${issue.message}`, { path, message: issue.message })
        }
      }
    }
  }
  return [...out.values()]
}

type Parsed = { ok: true; value: unknown } | { ok: false; message: string }

function parseText(text: string, json: boolean): Parsed {
  if (json) {
    try {
      return { ok: true, value: JSON.parse(text) }
    } catch (error) {
      return { ok: false, message: `not valid JSON: ${(error as Error).message}` }
    }
  }
  // parseDocument rather than parse: parse() prints warnings to the console itself.
  const document = parseDocument(text, { prettyErrors: true })
  const problem = [...document.errors, ...document.warnings][0]
  if (problem) return { ok: false, message: `not valid YAML: ${problem.message.split('\n')[0]}` }
  try {
    return { ok: true, value: document.toJS({ maxAliasCount: 100 }) }
  } catch (error) {
    return { ok: false, message: `not valid YAML: ${(error as Error).message}` }
  }
}

async function readManifest(file: string): Promise<Parsed> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    return { ok: false, message: code === 'ENOENT' ? 'no such file' : `cannot read: ${code}` }
  }
  const parsed = parseText(text, extname(file).toLowerCase() === '.json')
  if (parsed.ok && (parsed.value === null || typeof parsed.value !== 'object')) {
    return { ok: false, message: 'is not a YAML or JSON document with keys' }
  }
  return parsed
}

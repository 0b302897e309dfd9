import { writeFile } from 'node:fs/promises'
import { isAbsolute, resolve } from 'node:path'
import { Document, isMap, isScalar, isSeq, visit } from 'yaml'
import type { BridgeRegistry } from '../sdk/index.ts'
import type {
  LoadedProfile,
  PairChoices,
  ProfileCatalog,
  ProfileSide,
  ProfileStatus,
  TaskChoices,
} from '../service/profiles/index.ts'
import type { ProfileRefDocument } from '../service/profiles/profile-updates.ts'
import { EXIT } from './cli-kit.ts'
import { table } from './service-commands.ts'

/** What the profile commands need from main.ts. */
export interface ProfileCommandContext {
  readonly registry: () => Promise<BridgeRegistry>
  readonly json: boolean
  readonly write: (text: string) => void
  readonly warn: (text: string) => void
  readonly usage: (message: string) => Error
}

/**
 * For `tasks show`: how each system of a task stands with the profile it was made from,
 * and the lines saying so (empty when the task was not made from profiles).
 */
export async function profileNotes(
  document: unknown,
  registry: () => Promise<BridgeRegistry>,
): Promise<{ statuses: readonly ProfileStatus[]; lines: readonly string[] }> {
  const doc = document as ProfileRefDocument
  const made = Object.values(doc.systems ?? {}).some((s) => s?.profile)
  if (!made) return { statuses: [], lines: [] }
  const { loadProfiles, profileStatus } = await import('../service/profiles/index.ts')
  // A broken profile elsewhere must not hide the task: load leniently.
  const catalog = await loadProfiles({ registry: await registry(), strict: false })
  const statuses = profileStatus(doc, catalog)
  const lines = statuses.map((s) => {
    const what = `${s.system}: ${s.id} ${s.version}`
    switch (s.status) {
      case 'newer':
        return `  profile:   ${what} — the profile now offers version ${s.available}; make a new task from it to take it up (this one keeps working as it is)`
      case 'older':
        return `  profile:   ${what} (the installed profile is older: ${s.available})`
      case 'missing':
        return `  profile:   ${what} (the profile is no longer installed; the task does not need it)`
      default:
        return `  profile:   ${what} (current)`
    }
  })
  return { statuses, lines }
}

/** Options of `opensync tasks new`. */
export interface TasksNewOptions {
  /** The home profile's id (`--from`). */
  readonly from?: string
  readonly subject?: string
  /** `--pair <id>`, repeated. */
  readonly pair?: readonly string[]
  /** `--out <file>`; stdout otherwise. */
  readonly out?: string
  /** `--set <system>.<field>=<value>`, repeated: connection values. */
  readonly set?: readonly string[]
  /** `--param <pair>.<system>.<name>=<value>`, repeated: filter parameter values. */
  readonly param?: readonly string[]
  /** `--direction <pair>=<direction>`, repeated. */
  readonly direction?: readonly string[]
}

async function catalogue(ctx: ProfileCommandContext, strict: boolean): Promise<ProfileCatalog> {
  const { loadProfiles } = await import('../service/profiles/index.ts')
  return loadProfiles({ registry: await ctx.registry(), strict })
}

/** `opensync profiles list|show <id>|validate [file…]` */
export async function profilesCommand(
  sub: string | undefined,
  args: readonly string[],
  ctx: ProfileCommandContext,
): Promise<number> {
  switch (sub) {
    case 'list': {
      if (args.length > 0) throw ctx.usage(`profiles list: unexpected argument "${args[0]}"`)
      const catalog = await catalogue(ctx, false)
      reportProblems(catalog, ctx)
      if (ctx.json) {
        ctx.write(JSON.stringify(catalog.list().map(summaryOf), null, 2))
        return EXIT.ok
      }
      const { displayPath } = await import('../service/profiles/profile-issues.ts')
      const rows = [['id', 'system', 'version', 'bridge', 'home', 'pairs', 'file']]
      for (const p of catalog.list()) {
        rows.push([
          p.id,
          p.profile.system,
          p.profile.version,
          p.profile.bridge,
          p.profile.home ? (p.pickDatabase ? 'yes (pick database)' : 'yes') : '—',
          String(p.profile.pairs.length),
          displayPath(p.file),
        ])
      }
      ctx.write(table(rows))
      return EXIT.ok
    }
    case 'show': {
      const id = args[0]
      if (!id)
        throw ctx.usage('profiles show: the profile id is missing; see opensync profiles list')
      if (args.length > 1) throw ctx.usage(`profiles show: unexpected argument "${args[1]}"`)
      const catalog = await catalogue(ctx, false)
      const profile = catalog.get(id)
      ctx.write(ctx.json ? JSON.stringify(profile, null, 2) : describeProfile(profile, catalog))
      return EXIT.ok
    }
    case 'validate':
      return validate(args, ctx)
    default:
      throw ctx.usage(
        sub === undefined
          ? 'profiles: the subcommand is missing (list, show <id>, validate [file…])'
          : `profiles: unknown subcommand "${sub}"; the subcommands are list, show and validate`,
      )
  }
}

function summaryOf(p: LoadedProfile) {
  return {
    id: p.id,
    system: p.profile.system,
    version: p.profile.version,
    bridge: p.profile.bridge,
    home: p.profile.home !== undefined,
    pickDatabase: p.pickDatabase,
    pairs: p.profile.pairs.map((pair) => pair.id),
    file: p.file,
  }
}

function reportProblems(
  catalog: ProfileCatalog,
  ctx: ProfileCommandContext,
  unavailable = true,
): void {
  for (const issue of unavailable ? catalog.unavailable : []) {
    ctx.warn(`opensync: not available: ${issue.source}: ${issue.message} (see OPENSYNC_BRIDGES)`)
  }
  for (const issue of catalog.problems) {
    ctx.warn(
      `opensync: invalid: ${issue.source}: ${issue.path ? `${issue.path}: ` : ''}${issue.message}`,
    )
  }
}

async function validate(files: readonly string[], ctx: ProfileCommandContext): Promise<number> {
  const { formatProfileIssue, loadProfiles, readProfileFile } = await import(
    '../service/profiles/index.ts'
  )
  const { displayPath } = await import('../service/profiles/profile-issues.ts')
  const registry = await ctx.registry()
  const lines: string[] = []
  let bad = 0
  if (files.length === 0) {
    const catalog = await loadProfiles({ registry, strict: false })
    for (const p of catalog.list()) {
      lines.push(`ok       ${displayPath(p.file)} (${p.id} ${p.profile.version})`)
    }
    for (const issue of [...catalog.unavailable, ...catalog.problems]) {
      lines.push(`invalid  ${formatProfileIssue(issue)}`)
      bad++
    }
  } else {
    for (const file of files) {
      const result = await readProfileFile(file, registry)
      if (result.ok) {
        lines.push(
          `ok       ${displayPath(result.profile.file)} (${result.profile.id} ${result.profile.profile.version})`,
        )
      } else {
        bad++
        for (const issue of result.issues) lines.push(`invalid  ${formatProfileIssue(issue)}`)
      }
    }
  }
  if (ctx.json) {
    ctx.write(JSON.stringify({ valid: bad === 0, lines }, null, 2))
  } else {
    ctx.write(lines.join('\n') || 'No profiles found.')
  }
  return bad === 0 ? EXIT.ok : EXIT.usage
}

/** A profile for a person: what the four wizard steps will offer. */
function describeProfile(p: LoadedProfile, catalog: ProfileCatalog): string {
  const out: string[] = []
  const { profile } = p
  out.push(`${profile.system} ${profile.version} (profile ${p.id}, bridge ${profile.bridge})`)
  if (profile.description) out.push(`  ${profile.description}`)
  out.push(`  file: ${p.file}`)
  if (p.settings) out.push(`  bridge settings: ${Object.keys(p.settings).join(', ')}`)
  out.push('', 'Connection:')
  for (const f of p.connection.fields) {
    const extra = [
      f.required ? 'required' : '',
      f.secret ? 'secret' : '',
      f.default !== undefined ? `default ${f.default}` : '',
      f.options ? `one of ${f.options.join(', ')}` : '',
      f.pickFromServer ? "picked from the server's list" : '',
    ].filter(Boolean)
    out.push(`  ${f.name.padEnd(14)} ${f.label}${extra.length ? ` (${extra.join(', ')})` : ''}`)
    if (f.help) out.push(`  ${''.padEnd(14)} ${f.help}`)
  }
  for (const [name, value] of Object.entries(p.connection.fixed)) {
    out.push(`  ${name.padEnd(14)} fixed: ${value}`)
  }
  out.push('', `Home system: ${profile.home ? 'yes' : 'no'}`)
  if (profile.recordTypes) {
    out.push('', 'Record types:')
    for (const [name, t] of Object.entries(profile.recordTypes)) {
      const extra = [t.cursor ? `cursor ${t.cursor}` : 'no cursor (compared by snapshot)']
      out.push(`  ${name.padEnd(14)} ${t.title ?? name} (${extra.join(', ')})`)
    }
  }
  if (profile.pairs.length > 0) {
    out.push('', 'Pairs on offer with a home system:')
    for (const pair of profile.pairs) {
      const homes = pair.homeProfiles ? pair.homeProfiles.join(', ') : 'any home profile'
      out.push(`  ${pair.id}: ${pair.title} (${pair.fixed ? 'fixed' : 'optional'}; with ${homes})`)
      out.push(`    home ${pair.home} ↔ ${pair.other}`)
      const dflt = pair.direction ?? pair.directions[0]
      out.push(
        `    directions: ${pair.directions.map((d) => (d === dflt ? `${d} (default)` : d)).join(', ')}`,
      )
      for (const side of ['home', 'other'] as const) {
        const f = pair.filters?.[side]
        if (!f) continue
        const params = Object.entries(f.parameters).map(
          ([name, q]) =>
            `${name} "${q.label}" (${q.field ? `${q.field} = value` : q.sql}${q.required ? ', required' : ''})`,
        )
        const kinds = f.kinds ? `filters ${f.kinds.join(', ')}` : ''
        out.push(
          `    ${side} side: ${[kinds, params.length ? `parameters ${params.join('; ')}` : ''].filter(Boolean).join('; ')}`,
        )
      }
      const names = Object.keys(pair.fieldAssignments)
      out.push(
        `    field assignments: ${names.map((n, i) => (i === 0 ? `${n} (default)` : n)).join(', ')}`,
      )
      for (const name of names) {
        const mappings = Object.entries(pair.fieldAssignments[name]!).map(([id, m]) =>
          typeof m === 'string' ? `${id} → ${m}` : `${id}`,
        )
        out.push(`      ${name}: ${mappings.join(', ')}`)
      }
      out.push(
        `    match: ${pair.match.join(', ') || '—'} · conflict: ${pair.conflict.winner} · deletes: ${typeof pair.deletes === 'string' ? pair.deletes : pair.deletes.policy}`,
      )
    }
  }
  const homes = catalog.homes().filter((h) => h.id !== p.id)
  if (profile.pairs.length > 0 && homes.length > 0) {
    out.push(
      '',
      `A task: opensync tasks new --from <home profile> ${p.id} (home profiles: ${homes.map((h) => h.id).join(', ')})`,
    )
  }
  return out.join('\n')
}

/**
 * `opensync tasks new --from <home profile> <other profile>`: writes a task document from
 * the profiles' defaults and the choices given, to `--out` or stdout.
 */
export async function tasksNewCommand(
  args: readonly string[],
  options: TasksNewOptions,
  ctx: ProfileCommandContext,
): Promise<number> {
  if (!options.from) {
    throw ctx.usage('tasks new: --from <home profile> is missing; see opensync profiles list')
  }
  const otherId = args[0]
  if (!otherId) {
    throw ctx.usage('tasks new: the other profile is missing: tasks new --from <home> <other>')
  }
  if (args.length > 1) throw ctx.usage(`tasks new: unexpected argument "${args[1]}"`)
  const { pairsOffered, systemKeysOf, taskFromProfiles } = await import(
    '../service/profiles/index.ts'
  )
  const catalog = await catalogue(ctx, false)
  // Invalid profiles are worth a word; profiles of bridges not loaded only when asked for.
  reportProblems(catalog, ctx, false)
  const home = catalog.get(options.from)
  const other = catalog.get(otherId)
  const [homeKey, otherKey] = systemKeysOf(home, other)
  const keys = { home: homeKey, other: otherKey }
  const sideOf = (word: string, what: string): ProfileSide => {
    if (word === 'home' || word === keys.home) return 'home'
    if (word === 'other' || word === keys.other) return 'other'
    throw ctx.usage(`${what}: "${word}" is neither home, other, ${keys.home} nor ${keys.other}`)
  }

  const connection: Record<ProfileSide, Record<string, string | number | boolean>> = {
    home: {},
    other: {},
  }
  for (const entry of options.set ?? []) {
    const m = /^([^.=]+)\.([^=]+)=(.*)$/s.exec(entry)
    if (!m) throw ctx.usage(`--set ${entry}: write --set <system>.<field>=<value>`)
    const side = sideOf(m[1]!, `--set ${entry}`)
    const profile = side === 'home' ? home : other
    const field = profile.connection.fields.find((f) => f.name === m[2])
    connection[side][m[2]!] = field ? valueFor(field.type, m[3]!) : m[3]!
  }
  // A relative path from the command line or a profile means from here, wherever the task runs.
  for (const [side, profile] of [
    ['home', home],
    ['other', other],
  ] as const) {
    for (const field of profile.connection.fields) {
      if (field.type !== 'path') continue
      const value =
        connection[side][field.name] ?? profile.profile.connection?.defaults?.[field.name]
      if (
        typeof value === 'string' &&
        value !== '' &&
        !isAbsolute(value) &&
        !value.includes('${')
      ) {
        connection[side][field.name] = resolve(value)
      }
    }
  }

  type MutableChoice = { id: string; direction?: PairChoices['direction'] } & {
    parameters: Record<ProfileSide, Record<string, string>>
  }
  const pairChoices = new Map<string, MutableChoice>()
  const choiceFor = (id: string) => {
    let c = pairChoices.get(id)
    if (!c) {
      c = { id, parameters: { home: {}, other: {} } }
      pairChoices.set(id, c)
    }
    return c
  }
  for (const id of options.pair ?? []) choiceFor(id)
  for (const entry of options.param ?? []) {
    const m = /^([^.=]+)\.([^.=]+)\.([^=]+)=(.*)$/s.exec(entry)
    if (!m) throw ctx.usage(`--param ${entry}: write --param <pair>.<system>.<name>=<value>`)
    choiceFor(m[1]!).parameters[sideOf(m[2]!, `--param ${entry}`)][m[3]!] = m[4]!
  }
  for (const entry of options.direction ?? []) {
    const m = /^([^=]+)=(.+)$/.exec(entry)
    const ends = m?.[2]?.split('->')
    if (!m || !ends || (ends.length !== 2 && m[2] !== 'both')) {
      throw ctx.usage(
        `--direction ${entry}: write --direction <pair>=<both|home->other|other->home>`,
      )
    }
    const direction =
      m[2] === 'both'
        ? 'both'
        : `${sideOf(ends[0]!, `--direction ${entry}`)}->${sideOf(ends[1]!, `--direction ${entry}`)}`
    if (direction === 'home->home' || direction === 'other->other') {
      throw ctx.usage(`--direction ${entry}: a direction goes from one system to the other`)
    }
    choiceFor(m[1]!).direction = direction as PairChoices['direction']
  }
  // --pair names the pairs; without it, every pair on offer (those given options included).
  const picked: (string | PairChoices)[] = [...pairChoices.values()]
  if (!options.pair || options.pair.length === 0) {
    for (const pair of pairsOffered(home, other))
      if (!pairChoices.has(pair.id)) picked.push(pair.id)
  }
  const choices: TaskChoices = {
    ...(options.subject ? { subject: options.subject } : {}),
    connection,
    pairs: picked,
  }
  const task = taskFromProfiles(home, other, choices)

  const text = taskYaml(task.document, `opensync tasks new --from ${home.id} ${other.id}`)
  if (options.out) {
    await writeFile(options.out, text, { flag: 'wx' }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'EEXIST')
        throw ctx.usage(`tasks new: ${options.out} exists already; choose another --out`)
      throw error
    })
  } else {
    process.stdout.write(text)
  }
  for (const name of task.env)
    ctx.warn(`opensync: the task reads the secret from $${name}: set it before a run`)
  for (const m of task.missing) ctx.warn(`opensync: still to fill in: ${m.path}: ${m.message}`)
  if (options.out) {
    const next =
      task.missing.length > 0
        ? `fill in the above, then: opensync tasks import ${options.out}`
        : `opensync run ${options.out}`
    ctx.warn(
      `Wrote ${options.out} (${task.document.pairs.length} pair${task.document.pairs.length === 1 ? '' : 's'}). Next: ${next}`,
    )
  }
  return EXIT.ok
}

function valueFor(type: string, text: string): string | number | boolean {
  if (type === 'number' && text.trim() !== '' && Number.isFinite(Number(text))) return Number(text)
  if (type === 'boolean' && (text === 'true' || text === 'false')) return text === 'true'
  return text
}

/**
 * The task document as YAML a person reads: short lists and small maps of plain values on
 * one line (`match: [email]`, `conflict: { winner: crm }`), as the docs write them.
 */
function taskYaml(document: unknown, made: string): string {
  const doc = new Document(document)
  visit(doc, {
    Seq(_, node) {
      if (node.items.every((i) => isScalar(i))) node.flow = true
    },
    Map(_, node) {
      if (
        node.items.length <= 3 &&
        node.items.every((i) => isScalar(i.value) || (isSeq(i.value) && i.value.flow))
      ) {
        node.flow = true
      }
      if (node.items.some((i) => isMap(i.value) && i.value.items.length > 6)) node.flow = false
    },
  })
  return `# Made by ${made}; it holds everything it needs, so it keeps working if the profiles change.\n${doc.toString({ lineWidth: 0 })}`
}

import type { Filter } from '../../sdk/index.ts'
import { compileMapping } from './mapping.ts'
import type {
  ConflictStrategy,
  DeletePolicy,
  ExecutionPlan,
  FieldMapping,
  PairSide,
  ResolvedPair,
  ResolvedSystem,
  ResolvedTask,
  Side,
} from './resolved-task.ts'
import type { MappingLongForm, PairFile, PairSideFile, TaskFile } from './task-file-schema.ts'
import { IssueList, type IssuePath } from './task-issues.ts'

/** Options of {@link compileTask}. */
export interface CompileOptions {
  /** Where the task came from (a file path), for error messages. */
  readonly source?: string
}

/** The default share of a side a run may delete before the guard stops it. */
export const DEFAULT_MAX_DELETE_SHARE = 0.25

/**
 * Turns a validated task file into what the engine runs: sides numbered (side 0 is the
 * first system), mappings compiled, defaults applied. Checks what the schema cannot see —
 * match names, pair ids, transforms that fit their fields, JSONata syntax — and throws one
 * OSY_INVALID_TASK listing every problem.
 */
export function compileTask(file: TaskFile, options: CompileOptions = {}): ResolvedTask {
  const issues = new IssueList()
  const keys = Object.keys(file.systems) as unknown as readonly [string, string]
  const id = file.id ?? slugify(file.subject)
  if (id === '') issues.add(['subject'], 'has no letters or digits to derive an id from; set id')

  const systems = keys.map(
    (key): ResolvedSystem =>
      Object.freeze({
        key,
        bridge: file.systems[key]!.bridge,
        ...(file.systems[key]!.settings ? { settings: file.systems[key]!.settings } : {}),
        connection: Object.freeze({ ...file.systems[key]!.connection }),
      }),
  ) as unknown as readonly [ResolvedSystem, ResolvedSystem]

  const pairIds = new Map<string, number>()
  const pairs: ResolvedPair[] = []
  file.pairs.forEach((pair, index) => {
    const resolved = compilePair(pair, keys, ['pairs', index], issues)
    if (!resolved) return
    const first = pairIds.get(resolved.id)
    if (first !== undefined) {
      const where: IssuePath = pair.id === undefined ? ['pairs', index] : ['pairs', index, 'id']
      const what =
        pair.id === undefined
          ? `its id ${resolved.id} (from the record types)`
          : `id ${resolved.id}`
      issues.add(where, `${what} is already used by pairs[${first}]; give each pair its own id`)
    } else {
      pairIds.set(resolved.id, index)
    }
    pairs.push(resolved)
  })

  issues.throwIfAny(options.source)
  return Object.freeze({
    id,
    subject: file.subject,
    systems,
    pairs: Object.freeze(pairs),
    plan: Object.freeze({ ...file.plan }) as ExecutionPlan,
    ...(file.notify ? { notify: Object.freeze({ ...file.notify }) } : {}),
  })
}

function compilePair(
  pair: PairFile,
  keys: readonly [string, string],
  path: IssuePath,
  issues: IssueList,
): ResolvedPair | undefined {
  const [k0, k1] = keys
  const before = issues.issues.length
  const sides = [side(pair[k0] as PairSideFile), side(pair[k1] as PairSideFile)] as const
  const direction = pair.direction
  const flows = [direction !== `${k1}->${k0}`, direction !== `${k0}->${k1}`] as const

  const mappings: FieldMapping[] = []
  for (const [id, written] of Object.entries(pair.fields)) {
    const mapping = compileMapping(id, written as string | MappingLongForm, {
      keys,
      flows,
      path: [...path, 'fields', id],
      issues,
    })
    if (mapping) mappings.push(mapping)
  }
  checkWrittenOnce(mappings, keys, flows, path, issues)

  const ids = Object.keys(pair.fields)
  const match: string[] = []
  pair.match.forEach((name, i) => {
    if (!ids.includes(name)) {
      issues.add(
        [...path, 'match', i],
        `no mapping ${name} under fields (mappings: ${ids.join(', ')})`,
      )
    } else if (match.includes(name)) {
      issues.add([...path, 'match', i], `lists ${name} twice`)
    } else {
      match.push(name)
    }
  })

  if (issues.issues.length > before) return undefined
  return Object.freeze({
    id: pair.id ?? `${sides[0].type}-${sides[1].type}`,
    sides,
    flows,
    mappings: Object.freeze(mappings),
    match: Object.freeze(match),
    conflict: conflictOf(pair.conflict?.winner ?? k0, keys),
    deletes: deletesOf(pair.deletes),
  })
}

function side(written: PairSideFile): PairSide {
  return Object.freeze({
    type: written.type,
    ...(written.filter ? { filter: written.filter as Filter } : {}),
    ...(written.cursor ? { cursor: written.cursor } : {}),
    lag: written.lag,
    ...(written.externalId ? { externalId: written.externalId } : {}),
    ...(written.key ? { key: Object.freeze([...written.key]) } : {}),
  })
}

/** Two mappings writing one field would overwrite each other in every record. */
function checkWrittenOnce(
  mappings: readonly FieldMapping[],
  keys: readonly [string, string],
  flows: readonly [boolean, boolean],
  path: IssuePath,
  issues: IssueList,
): void {
  for (const t of [0, 1] as const) {
    if (!flows[t === 0 ? 1 : 0]) continue
    const writer = new Map<string, string>()
    for (const m of mappings) {
      for (const field of m.fields[t]) {
        const first = writer.get(field)
        if (first === undefined) writer.set(field, m.id)
        else
          issues.add(
            [...path, 'fields', m.id],
            `writes ${keys[t]} field ${field}, which mapping ${first} writes too`,
          )
      }
    }
  }
}

function conflictOf(winner: string, keys: readonly [string, string]): ConflictStrategy {
  if (winner === 'newest' || winner === 'manual') return Object.freeze({ winner })
  return Object.freeze({ winner: keys.indexOf(winner) as Side })
}

function deletesOf(written: PairFile['deletes']): DeletePolicy {
  if (typeof written === 'string')
    return Object.freeze({ policy: written, maxShare: DEFAULT_MAX_DELETE_SHARE })
  return Object.freeze({ policy: written.policy, maxShare: written.maxShare })
}

/**
 * A stable id from a subject: "Addresses ↔ ERP customers" → `addresses-erp-customers`.
 * Accents are dropped and ß becomes ss, so German subjects give readable ids.
 */
export function slugify(subject: string): string {
  return subject
    .replace(/ß/g, 'ss')
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
}

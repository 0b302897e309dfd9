import type { ResolvedTask } from '../../engine/task/resolved-task.ts'
import { parseJson } from '../../sdk/json.ts'
import type { ConflictDecision, ConflictRow, Store } from '../../store/index.ts'
import {
  andList,
  type CommandGroup,
  EXIT,
  example,
  positiveInt,
  registry,
  type StoreOption,
  storeOption,
  storeUrlOf,
  toJson,
  usage,
  write,
} from '../cli-kit.ts'

interface ListOptions extends StoreOption {
  readonly pair?: string
  readonly json?: boolean
}

interface ResolveOptions extends StoreOption {
  readonly winner?: string
  readonly value?: string
  readonly task?: string
  readonly pair?: string
  readonly json?: boolean
}

/** Values longer than this are cut in the list; `--json` has them whole. */
const VALUE_WIDTH = 40

/** `opensync conflicts list|resolve`: the conflicts a `manual` pair parked, and decisions on them. */
export const conflictsCommands: CommandGroup = (program, cli) => {
  const group = program
    .command('conflicts')
    .description('Conflicts parked for a decision (conflict: { winner: manual }): list, resolve.')
  example(
    group,
    'opensync conflicts list addresses',
    'opensync conflicts resolve 12 --winner erp',
    'opensync conflicts resolve --task addresses --winner crm',
  )

  const list = group
    .command('list')
    .description(
      'Lists the conflicts that wait for a decision: of one task (a task file or the id of a stored task), or of every task.',
    )
    .argument('[task]', 'a task file (YAML or JSON) or the id of a stored task')
    .option('--pair <id>', "only this pair's conflicts")
    .option('--json', 'print JSON')
  storeOption(list)
  example(
    list.action(
      cli.action(async (arg: string | undefined, opts: ListOptions) =>
        withContext(opts, async (ctx) => {
          const task = arg !== undefined ? await ctx.task(arg) : undefined
          if (opts.pair !== undefined && !task)
            throw usage(
              'conflicts list: --pair needs the task: opensync conflicts list <task> --pair <id>',
            )
          if (task && opts.pair !== undefined) pairOf(task, opts.pair)
          const open = await ctx.store.conflicts.open(task?.id, opts.pair)
          if (opts.json) {
            write(toJson(open))
            return EXIT.ok
          }
          if (open.length === 0) {
            write(
              task
                ? `No conflicts of "${task.subject}" (task ${task.id}) wait for a decision.`
                : 'No conflicts wait for a decision.',
            )
            return EXIT.ok
          }
          const { localTime } = await import('../format.ts')
          const byTask = new Map<string, ConflictRow[]>()
          for (const c of open) byTask.set(c.taskId, [...(byTask.get(c.taskId) ?? []), c])
          const parts: string[] = []
          for (const [taskId, rows] of byTask) {
            // A task run from its file only is not stored: its systems go by side then.
            const t = task ?? (await ctx.outline(taskId).catch(() => undefined))
            parts.push(conflictTable(taskId, t, rows, localTime))
          }
          parts.push(
            'Decide one: opensync conflicts resolve <id> --winner <system> (or --value <json>);\nall of a task: opensync conflicts resolve --task <task> --winner <system>. The next run applies it.',
          )
          write(parts.join('\n\n'))
          return EXIT.ok
        }),
      ),
    ),
    'opensync conflicts list                      # every task',
    'opensync conflicts list addresses --json     # one stored task, as JSON',
  )

  const resolve = group
    .command('resolve')
    .description(
      'Decides a parked conflict — a system wins, or a value of your own — or all of a task (or pair) at once; the next run applies it.',
    )
    .argument('[id]', 'the id of the conflict (opensync conflicts list shows them)')
    .option(
      '--winner <system>',
      "the key of the system whose value wins (as in the task's systems)",
    )
    .option(
      '--value <json>',
      'the value both systems get, as JSON ("Bonn", 42, null; an object for a mapping of several fields), as the first system holds it',
    )
    .option('--task <task>', 'every open conflict of this task (a task file or stored id)')
    .option('--pair <id>', 'with --task: only this pair')
    .option('--json', 'print JSON')
  storeOption(resolve)
  example(
    resolve.action(
      cli.action(async (idArg: string | undefined, opts: ResolveOptions) =>
        withContext(opts, async (ctx) => {
          if (opts.winner !== undefined && opts.value !== undefined)
            throw usage('conflicts resolve: give either --winner or --value, not both')
          if (opts.winner === undefined && opts.value === undefined)
            throw usage(
              'conflicts resolve: say how: --winner <system> or --value <json>; see opensync conflicts resolve --help',
            )
          if (idArg === undefined) return resolveAll(ctx, opts)
          if (opts.pair !== undefined)
            throw usage('conflicts resolve: --pair goes with --task, not with a conflict id')
          const id = positiveInt('the conflict id')(idArg)
          const conflict = await ctx.store.conflicts.get(id)
          if (!conflict) throw usage(`conflicts resolve: there is no conflict ${id}`)
          if (conflict.appliedAt !== undefined)
            throw usage(`conflicts resolve: conflict ${id} was decided and applied already`)
          const task =
            opts.task !== undefined
              ? await ctx.task(opts.task)
              : await ctx.outline(conflict.taskId, id)
          if (task.id !== conflict.taskId)
            throw usage(
              `conflicts resolve: conflict ${id} belongs to task ${conflict.taskId}, not ${task.id}`,
            )
          const pair = pairOf(task, conflict.pairId)
          let decision: ConflictDecision
          let said: string
          if (opts.winner !== undefined) {
            const winner = sideOf(task, opts.winner)
            if (!pair.flows[winner])
              throw usage(
                `conflicts resolve: pair ${pair.id} does not write from ${opts.winner} to ${task.systems[1 - winner]!.key}, so ${opts.winner} cannot win`,
              )
            decision = { winner }
            said = `${opts.winner} wins`
          } else {
            if (conflict.mapping === RECORD)
              throw usage(
                `conflicts resolve: conflict ${id} is a delete against an edit: decide it with --winner (the deleting system deletes, the editing one restores)`,
              )
            const value = parseValue(opts.value!)
            const mapping = pair.mappings.find((m) => m.id === conflict.mapping)
            if (!mapping)
              throw usage(
                `conflicts resolve: pair ${pair.id} has no mapping ${conflict.mapping} any more; decide with --winner`,
              )
            const { decidedValues, valueSide } = await import('../../engine/decided-value.ts')
            decidedValues(mapping, valueSide(pair), value)
            decision = { value }
            said = `both get ${short(value)}`
          }
          await ctx.store.conflicts.resolve(id, decision)
          write(
            opts.json
              ? toJson({ id, taskId: task.id, pairId: pair.id, decision })
              : `Conflict ${id} decided: ${said} (${conflict.mapping} of ${recordText(task, conflict)}). The next run of task ${task.id} applies it.`,
          )
          return EXIT.ok
        }),
      ),
    ),
    'opensync conflicts resolve 12 --winner erp',
    `opensync conflicts resolve 13 --value '"Karlsruhe"'`,
    'opensync conflicts resolve --task addresses --pair addresses-customers --winner crm',
  )
}

/** The mapping id of a delete-against-edit conflict (see engine/protocol.ts RECORD_CONFLICT). */
const RECORD = '(record)'

interface Context {
  readonly store: Store
  /** A task file or a stored task's id, as a task outline (no secrets opened). */
  task(arg: string): Promise<ResolvedTask>
  /** A stored task by id; a usage error naming the way out when it is not stored. */
  outline(taskId: string, conflictId?: number): Promise<ResolvedTask>
}

async function withContext(
  opts: StoreOption,
  fn: (ctx: Context) => Promise<number>,
): Promise<number> {
  const url = storeUrlOf(opts)
  const { openAll } = await import('../service-commands.ts')
  const { taskToList, isTaskFile } = await import('../task-source.ts')
  const { store, tasks } = await openAll({ registry, ...(url ? { storeUrl: url } : {}) })
  try {
    return await fn({
      store,
      task: (arg) =>
        isTaskFile(arg) ? taskToList(arg, url ? { storeUrl: url } : {}) : tasks.outline(arg),
      outline: async (taskId, conflictId) => {
        try {
          return await tasks.outline(taskId)
        } catch (error) {
          if ((error as { code?: unknown }).code !== 'OSY_TASK_NOT_FOUND') throw error
          throw usage(
            conflictId !== undefined
              ? `conflicts resolve: conflict ${conflictId} belongs to task ${taskId}, which is not stored: name its task file with --task <file>`
              : `conflicts list: task ${taskId} is not stored: list its conflicts with opensync conflicts list <its task file>`,
          )
        }
      },
    })
  } finally {
    await store.close()
  }
}

/** Every open conflict of a task (or pair) for one winner. */
async function resolveAll(ctx: Context, opts: ResolveOptions): Promise<number> {
  if (opts.task === undefined)
    throw usage(
      'conflicts resolve: name the conflict (opensync conflicts resolve <id> …) or the task (--task <task>)',
    )
  if (opts.value !== undefined)
    throw usage('conflicts resolve: --value decides one conflict at a time; give its id')
  const task = await ctx.task(opts.task)
  const winner = sideOf(task, opts.winner!)
  const pairs = opts.pair !== undefined ? [pairOf(task, opts.pair)] : task.pairs
  let n = 0
  const refused: string[] = []
  for (const pair of pairs) {
    if (!pair.flows[winner]) {
      if ((await ctx.store.conflicts.countOpen(task.id, pair.id)) > 0) refused.push(pair.id)
      continue
    }
    n += await ctx.store.conflicts.resolveAll(task.id, winner, pair.id)
  }
  const refusal =
    refused.length > 0
      ? ` Pair${refused.length > 1 ? 's' : ''} ${andList(refused)} do${refused.length > 1 ? '' : 'es'} not write from ${opts.winner}: ${refused.length > 1 ? 'their' : 'its'} conflicts still wait.`
      : ''
  write(
    opts.json
      ? toJson({ taskId: task.id, winner: opts.winner, resolved: n, refused })
      : `${n} conflict${n === 1 ? '' : 's'} of task ${task.id} decided: ${opts.winner} wins. The next run applies ${n === 1 ? 'it' : 'them'}.${refusal}`,
  )
  return refused.length > 0 && n === 0 ? EXIT.usage : EXIT.ok
}

function sideOf(task: ResolvedTask, key: string): 0 | 1 {
  const i = task.systems.findIndex((s) => s.key === key)
  if (i < 0)
    throw usage(
      `conflicts resolve: --winner must be one of ${andList(task.systems.map((s) => s.key))}, not "${key}"`,
    )
  return i as 0 | 1
}

function pairOf(task: ResolvedTask, pairId: string): ResolvedTask['pairs'][number] {
  const pair = task.pairs.find((p) => p.id === pairId)
  if (!pair)
    throw usage(
      `task ${task.id} has no pair "${pairId}" (its pairs: ${andList(task.pairs.map((p) => p.id))})`,
    )
  return pair
}

/** The JSON of --value; numbers a double cannot hold stay exact (see sdk/json.ts). */
function parseValue(text: string): unknown {
  try {
    return parseJson(text)
  } catch {
    throw usage(`conflicts resolve: --value must be JSON (a text in quotes: '"Bonn"'), not ${text}`)
  }
}

/** The records of a conflict: `crm addresses 7 ↔ erp customers 12`. */
function recordText(task: ResolvedTask, c: ConflictRow): string {
  const pair = task.pairs.find((p) => p.id === c.pairId)
  const [a, b] = task.systems
  return `${a.key} ${pair?.sides[0].type ?? ''} ${c.keys[0]} ↔ ${b.key} ${pair?.sides[1].type ?? ''} ${c.keys[1]}`.replace(
    /\s+/g,
    ' ',
  )
}

/** One task's open conflicts as a table. */
function conflictTable(
  taskId: string,
  task: ResolvedTask | undefined,
  rows: readonly ConflictRow[],
  localTime: (iso: string) => string,
): string {
  const [a, b] = task ? [task.systems[0].key, task.systems[1].key] : ['side 0', 'side 1']
  const multiPair = new Set(rows.map((r) => r.pairId)).size > 1 || (task?.pairs.length ?? 2) > 1
  const header = ['id', ...(multiPair ? ['pair'] : []), 'record', 'field', a, b, 'parked']
  const body = rows.map((c) => [
    String(c.id),
    ...(multiPair ? [c.pairId] : []),
    `${c.keys[0]} ↔ ${c.keys[1]}`,
    c.mapping === RECORD ? '(deleted/edited)' : c.mapping,
    short(unwrap(c.values[0])),
    short(unwrap(c.values[1])),
    localTime(c.updatedAt),
  ])
  const all = [header, ...body]
  const widths = header.map((_, i) => Math.max(...all.map((r) => [...r[i]!].length)))
  const lines = all.map((r) =>
    r
      .map((cell, i) => cell + ' '.repeat(widths[i]! - [...cell].length))
      .join('  ')
      .trimEnd(),
  )
  const n = rows.length
  const what = task ? `"${task.subject}" (task ${taskId})` : `task ${taskId} (not stored)`
  return `${n} conflict${n === 1 ? '' : 's'} of ${what} wait${n === 1 ? 's' : ''} for a decision:\n\n${lines.join('\n')}`
}

/** A mapping's values of one side: the value itself for one field, else the object. */
function unwrap(values: unknown): unknown {
  if (values === null) return null
  if (typeof values === 'object' && !Array.isArray(values)) {
    const entries = Object.entries(values)
    if (entries.length === 1) return entries[0]![1]
  }
  return values
}

function short(value: unknown): string {
  const text = value === null ? 'null' : (JSON.stringify(value) ?? 'undefined')
  return [...text].length > VALUE_WIDTH ? `${[...text].slice(0, VALUE_WIDTH - 1).join('')}…` : text
}

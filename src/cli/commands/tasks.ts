import type { Command } from 'commander'
import type { TaskManager } from '../../service/task-manager.ts'
import type { ExecutionRow, InstanceRow, Store } from '../../store/index.ts'
import { cliActor } from '../cli-actor.ts'
import {
  type CommandGroup,
  describeArgument,
  EXIT,
  example,
  registry,
  type StoreOption,
  storeOption,
  storeUrlOf,
  toJson,
  usage,
  write,
} from '../cli-kit.ts'
import { tasksNewCommand } from './tasks-new.ts'

interface TasksOptions extends StoreOption {
  readonly json?: boolean
}

/** What a `tasks` subcommand works with. */
interface TasksContext {
  readonly store: Store
  readonly tasks: TaskManager
}

/** `opensync tasks …`: stored tasks. */
export const tasksCommands: CommandGroup = (program, cli) => {
  const group = program
    .command('tasks')
    .summary('Stored tasks: import, list, show, start, export, delete, …')
    .description(
      'Stored tasks: import, list, show, export, activate, deactivate, delete, start, cancel.',
    )
  example(
    group,
    'opensync tasks import addresses.task.yaml',
    'opensync tasks list',
    'opensync tasks start addresses',
  )

  /** A subcommand that opens the service's store and task manager. */
  const sub = <O extends TasksOptions>(
    name: string,
    description: string,
    configure: (c: Command) => Command,
    run: (ctx: TasksContext, id: string, opts: O) => Promise<number>,
    ...examples: string[]
  ) => {
    const command = configure(group.command(name).description(description))
    command.option('--json', 'print JSON')
    storeOption(command)
    example(
      command.action(
        cli.action(async (...args: unknown[]) => {
          // commander passes the arguments, then the options, then the command.
          const opts = args.at(-2) as O
          const id = typeof args[0] === 'string' ? args[0] : ''
          const url = storeUrlOf(opts)
          const { openAll } = await import('../service-commands.ts')
          // Listing reads the store as it is: it neither creates nor migrates it.
          const readOnly = name === 'list'
          const opened = await openAll({
            registry,
            ...(url ? { storeUrl: url } : {}),
            ...(readOnly ? { migrate: false } : {}),
          }).catch((error: unknown) => {
            const details = (error as { details?: { missing?: boolean } }).details
            if (readOnly && details?.missing) return undefined
            throw error
          })
          if (!opened)
            return done(
              opts.json
                ? '[]'
                : `No stored tasks: there is no store at ${url ?? '.data/opensync.db'} yet. Add one: opensync tasks import <task file>`,
            )
          const { store, tasks } = opened
          try {
            return await run({ store, tasks }, id, opts)
          } finally {
            await store.close()
          }
        }),
      ),
      ...examples,
    )
    return command
  }
  const withId = (c: Command) =>
    describeArgument(c.argument('<id>', 'the id of a stored task'), 'id', 'the task id')
  tasksNewCommand(group, cli)

  sub(
    'list',
    'Lists the stored tasks: state, plan, next run, last result.',
    (c) => c,
    async ({ store, tasks }, _id, opts) => {
      const list = await tasks.list()
      const lastRuns = new Map<string, ExecutionRow | undefined>()
      for (const t of list) lastRuns.set(t.id, (await store.executions.list(t.id, 1))[0])
      if (opts.json)
        return done(
          toJson(
            list.map(({ document: _d, ...t }) => {
              const last = lastRuns.get(t.id)
              return { ...t, ...(last ? { lastRun: last } : {}) }
            }),
          ),
        )
      if (list.length === 0)
        return done('No stored tasks. Add one: opensync tasks import <task file>')
      const { describePlan, describeNext } = await import('../../service/timekeeper.ts')
      const { localTime } = await import('../format.ts')
      const { table } = await import('../service-commands.ts')
      const now = new Date()
      // Plans run only while a service does: without one, no run is promised.
      const services = await runningServices(store)
      const rows = [['id', 'subject', 'state', 'plan', 'next run', 'last run']]
      const failures: string[] = []
      for (const t of list) {
        const last = lastRuns.get(t.id)
        if (last?.error && last.status === 'failed')
          failures.push(`  ${t.id}: ${last.error.message} [${last.error.code}]`)
        rows.push([
          t.id,
          t.subject,
          t.draft ? 'draft' : t.active ? 'active' : 'inactive',
          t.plan ? describePlan(t.plan) : '—',
          !t.nextRunAt
            ? '—'
            : services.length === 0
              ? 'none: no service running'
              : describeNext(new Date(t.nextRunAt), now),
          last ? `${last.status} ${localTime(last.startedAt)}` : 'never executed',
        ])
      }
      const why = failures.length > 0 ? `\n\nWhy the last run failed:\n${failures.join('\n')}` : ''
      return done(`${table(rows)}${why}\n\n${servicesLine(services)}`)
    },
    'opensync tasks list --json',
  )

  sub(
    'show',
    'Shows a stored task: state, plan, next run, recent executions, the document (secrets masked).',
    withId,
    async ({ store, tasks }, id, opts) => {
      const t = await tasks.get(id)
      const runs = await store.executions.list(t.id, 5)
      const { profileNotes } = await import('../profile-commands.ts')
      const profiles = await profileNotes(t.document, registry)
      if (opts.json) return done(toJson({ ...t, executions: runs, profiles: profiles.statuses }))
      const { describePlan, describeNext } = await import('../../service/timekeeper.ts')
      const { executionsTable, localTime } = await import('../format.ts')
      const { stringify } = await import('yaml')
      const lines = [
        `${t.subject} (task ${t.id}, revision ${t.revision})`,
        `  state:     ${t.draft ? 'draft — not scheduled until saved as a task' : t.active ? 'active' : t.paused ? `paused by itself ${localTime(t.paused.at)}: ${t.paused.reason} (manual starts only; activate it again once fixed)` : 'inactive (manual starts only)'}`,
        `  plan:      ${t.plan ? describePlan(t.plan) : '—'}`,
        `  next run:  ${!t.nextRunAt ? 'not scheduled' : (await runningServices(store)).length === 0 ? `none: no service is running (due ${localTime(t.nextRunAt)} once one is: opensync start)` : `${localTime(t.nextRunAt)} (${describeNext(new Date(t.nextRunAt), new Date())})`}`,
      ]
      const last = runs.find((r) => r.status !== 'queued')
      if (last)
        lines.push(
          `  last run:  ${last.status} ${localTime(last.startedAt)} (execution ${last.id})${last.error ? `: ${last.error.message} [${last.error.code}]` : ''}`,
        )
      for (const issue of t.issues) lines.push(`  missing:   ${issue.path}: ${issue.message}`)
      lines.push(...profiles.lines)
      lines.push(
        '',
        runs.length > 0 ? executionsTable(runs) : 'Never executed.',
        '',
        stringify(t.document).trimEnd(),
      )
      return done(lines.join('\n'))
    },
    'opensync tasks show addresses',
  )

  sub<TasksOptions & { readonly draft?: boolean }>(
    'import',
    'Stores a task file (secrets encrypted); a task with the same id is updated.',
    (c) =>
      describeArgument(
        c
          .argument('<file>', 'the task file (YAML or JSON)')
          .option(
            '--draft',
            'store it as a draft, complete or not (never scheduled or started); without it an incomplete task is refused',
          ),
        'file',
        'the task file',
      ),
    async ({ store, tasks }, file, opts) => {
      const { readFile } = await import('node:fs/promises')
      const text = await readFile(file, 'utf8').catch(() => {
        throw usage(`tasks import: cannot read ${file}`)
      })
      const { parseDocument } = await import('yaml')
      // The task's id as save() finds it: the document's id, else the slug of its subject.
      const doc = parseDocument(text).toJS() as { id?: unknown; subject?: unknown } | null
      const { slugify } = await import('../../engine/task/index.ts')
      const id =
        typeof doc?.id === 'string' && doc.id !== ''
          ? doc.id
          : typeof doc?.subject === 'string' && doc.subject.trim() !== ''
            ? slugify(doc.subject)
            : undefined
      const before = id !== undefined ? await store.taskDefs.get(id) : undefined
      const t = await tasks.save(text, { draft: opts.draft === true })
      const after = await store.taskDefs.get(t.id)
      const { jsonDiff } = await import('../../service/json-diff.ts')
      await store.audit.add({
        actor: cliActor(),
        action: before ? 'task.edited' : 'task.created',
        taskId: t.id,
        detail: {
          revision: t.revision,
          draft: t.draft,
          ...(before && after
            ? { diff: jsonDiff(JSON.parse(before.document), JSON.parse(after.document)) }
            : {}),
        },
      })
      if (opts.json) return done(toJson(t))
      return done(
        t.draft
          ? t.issues.length > 0
            ? `Saved "${t.subject}" as draft ${t.id}: ${t.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`
            : `Saved "${t.subject}" as draft ${t.id}: complete; import it without --draft to make a task of it.`
          : `Saved "${t.subject}" as task ${t.id} (revision ${t.revision}, ${t.active ? 'active' : 'inactive'}).`,
      )
    },
    'opensync tasks import addresses.task.yaml',
    'opensync tasks import half-done.task.yaml --draft',
  )

  sub(
    'export',
    'Prints a stored task as a task file: $VAR references kept, secrets replaced by ********.',
    withId,
    async ({ tasks }, id, opts) => {
      const doc = await tasks.export(id)
      if (opts.json) return done(JSON.stringify(doc, null, 2))
      const { stringify } = await import('yaml')
      return done(stringify(doc).trimEnd())
    },
    'opensync tasks export addresses > addresses.task.yaml',
  )

  for (const [name, description] of [
    ['activate', 'Turns the plan of a stored task on: it runs on its plan.'],
    ['deactivate', 'Turns the plan off: no scheduled runs; manual starts still work.'],
  ] as const) {
    sub(
      name,
      description,
      withId,
      async ({ store, tasks }, id, opts) => {
        const t = name === 'activate' ? await tasks.activate(id) : await tasks.deactivate(id)
        await store.audit.add({
          actor: cliActor(),
          action: name === 'activate' ? 'task.activated' : 'task.deactivated',
          taskId: id,
          detail: { revision: t.revision },
        })
        return done(
          opts.json
            ? toJson(t)
            : `Task ${t.id} is ${t.active ? 'active: it runs on its plan' : 'inactive: it runs only when started by hand'}.`,
        )
      },
      `opensync tasks ${name} addresses`,
    )
  }

  sub<TasksOptions & { readonly yes?: boolean }>(
    'delete',
    'Deletes a stored task with its links, checkpoints and protocols (asks first).',
    (c) => withId(c).option('-y, --yes', 'delete without asking'),
    async ({ store, tasks }, id, opts) => {
      const t = await tasks.get(id)
      if (!opts.yes) {
        if (!process.stdin.isTTY)
          throw usage(
            `tasks delete: add --yes to delete task ${id} and all its links without asking`,
          )
        const { createInterface } = await import('node:readline/promises')
        const rl = createInterface({ input: process.stdin, output: process.stderr })
        const answer = await rl.question(
          `Delete "${t.subject}" (${id}) with its links, checkpoints and protocols? [y/N] `,
        )
        rl.close()
        if (!/^y(es)?$/i.test(answer.trim())) return done('Nothing deleted.')
      }
      await tasks.remove(id)
      await store.audit.add({
        actor: cliActor(),
        action: 'task.deleted',
        taskId: id,
        detail: { revision: t.revision, subject: t.subject },
      })
      return done(opts.json ? toJson({ deleted: id }) : `Deleted task ${id} and its metadata.`)
    },
    'opensync tasks delete addresses --yes',
  )

  sub(
    'start',
    'Queues a manual run of a stored task (behind a running one); a running service picks it up. A draft is refused.',
    withId,
    async ({ store, tasks }, id, opts) => {
      const { executionId, created, runningId } = await tasks.start(id)
      if (created)
        await store.audit.add({
          actor: cliActor(),
          action: 'execution.started',
          taskId: id,
          target: String(executionId),
        })
      const text = created
        ? `Queued execution ${executionId} of task ${id}${runningId !== undefined ? `, after the running execution ${runningId}` : ''}; a running service picks it up.`
        : `Execution ${executionId} of task ${id} is queued already; it runs once.`
      return done(opts.json ? toJson({ executionId, created }) : text)
    },
    'opensync tasks start addresses',
  )

  sub(
    'cancel',
    'Stops the running (or queued) execution of a stored task after its batch in flight.',
    withId,
    async ({ store, tasks }, id, opts) => {
      await tasks.get(id)
      const target = (await store.executions.running(id)) ?? (await store.executions.queued(id))
      if (!target)
        return done(
          opts.json
            ? toJson({ cancelled: null })
            : `Task ${id} has no running or queued execution.`,
        )
      const outcome = await store.executions.requestCancel(target.id)
      const text =
        outcome === 'requested'
          ? `Asked execution ${target.id} to stop: it ends as cancelled after the batch in flight.`
          : outcome === 'cancelled'
            ? `Cancelled the queued execution ${target.id}.`
            : `Execution ${target.id} had already ended.`
      return done(opts.json ? toJson({ executionId: target.id, outcome }) : text)
    },
    'opensync tasks cancel addresses',
  )
}

function done(text: string): number {
  write(text)
  return EXIT.ok
}

/** The service processes (start, worker) that heartbeat: the ones that run plans. */
async function runningServices(store: Store): Promise<InstanceRow[]> {
  return (await store.instances.list()).filter((i) => i.role === 'service' || i.role === 'worker')
}

/** `Service running: …` or why no plan runs. */
function servicesLine(services: readonly InstanceRow[]): string {
  if (services.length === 0)
    return 'No OpenSync service is running, so no plan runs: start one with opensync start (or opensync worker), or run a task now with opensync run <id>.'
  const list = services.map((s) => `${s.role} on ${s.host} (process ${s.pid}, ${s.version})`)
  return `Running: ${list.join('; ')}.`
}

import { readFile } from 'node:fs/promises'
import { extname } from 'node:path'
import { parseArgs } from 'node:util'
import type { ResolvedTask } from '../engine/task/resolved-task.ts'
// Only the error helpers are loaded up front: engine, store and bridges are imported when a
// command needs them, so --help and a mistyped command answer at once.
import { coerceError, isOpenSyncError } from '../sdk/errors.ts'
import type { BridgeRegistry } from '../sdk/index.ts'
import type { Store } from '../store/index.ts'
import { executionReport, executionsTable, summary } from './format.ts'
import { ProgressLine } from './progress.ts'

const HELP = `opensync — keeps the records of two systems in step

Usage:
  opensync run <task file | stored task id> [--dry-run] [--json] [--store <url>] [--batch-size <n>]
      Runs a task once, with progress on the terminal and a summary at the end.
      --dry-run reports what would change and writes nothing; --json prints the
      summary as JSON.
  opensync executions <task file> [<execution id>] [--json] [--store <url>]
      Lists the task's past runs, newest first, or shows one run's protocol.
  opensync demo [<folder>] [--records <n>] [--no-run] [--store <url>]
      Creates a CRM and an ERP demo database (SQLite) with a task between them in
      <folder> (default ./opensync-demo), and runs the task.
  opensync start [--demo] [--store <url>]
      Runs the service in this process: every stored task on its plan, manual starts
      queued behind running ones, until Ctrl-C (which finishes the batches in flight).
      --demo first stores a demo task between demo CRM and ERP databases (in the data folder).
  opensync worker
      Cluster mode: one of any number of processes that share the stored tasks' runs
      on a PostgreSQL store ($OPENSYNC_DATABASE_URL, secret key $OPENSYNC_SECRET_KEY),
      until SIGTERM (which finishes the batches in flight). See docs/cluster.md.
  opensync tasks list|show <id>|import <file> [--draft]|export <id>|activate <id>|
                 deactivate <id>|delete <id> [--yes]|start <id>|cancel <id>   [--json] [--store <url>]
      Stored tasks: secrets are kept encrypted and shown masked; export keeps $VAR
      references and writes placeholders, never a secret; start queues a manual run;
      cancel stops the running (or queued) execution after its batch in flight.
  opensync bridges [--json]
      Lists the available bridges and their connection fields.
  opensync migrate [--store <url>]
      Creates or upgrades the metadata store.

The metadata store is --store, else $OPENSYNC_DATABASE_URL, else .data/opensync.db
(SQLite) in the current folder. Extra bridge packages: OPENSYNC_BRIDGES=pkg1,pkg2.
Exit codes: 0 success, 1 the run failed, 2 bad input (arguments, task file),
130 interrupted.`

const OPTIONS = {
  'dry-run': { type: 'boolean' },
  json: { type: 'boolean' },
  store: { type: 'string' },
  'batch-size': { type: 'string' },
  records: { type: 'string' },
  'no-run': { type: 'boolean' },
  yes: { type: 'boolean', short: 'y' },
  draft: { type: 'boolean' },
  demo: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const

type Option = keyof typeof OPTIONS

/** Per command: the options it takes and how many arguments (at least, at most). */
const COMMANDS: Record<string, { options: readonly Option[]; args: [number, number] }> = {
  run: { options: ['dry-run', 'json', 'store', 'batch-size'], args: [1, 1] },
  executions: { options: ['json', 'store'], args: [1, 2] },
  demo: { options: ['records', 'no-run', 'store'], args: [0, 1] },
  bridges: { options: ['json'], args: [0, 0] },
  start: { options: ['store', 'demo'], args: [0, 0] },
  worker: { options: ['store'], args: [0, 0] },
  tasks: { options: ['json', 'store', 'yes', 'draft'], args: [1, 2] },
  migrate: { options: ['store'], args: [0, 0] },
  help: { options: [], args: [0, 1] },
}

/** Exit codes. */
const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const

/** Runs the CLI with the given arguments; resolves to the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const { values: opts, positionals } = parseArguments(argv)
  const [command, ...args] = positionals
  if (opts.version) {
    process.stdout.write('opensync 0.1.0\n')
    return EXIT.ok
  }
  if (opts.help || command === 'help') {
    process.stdout.write(`${HELP}\n`)
    return EXIT.ok
  }
  if (!command) {
    process.stderr.write(`${HELP}\n`)
    return EXIT.usage
  }
  const spec = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined
  if (!spec) throw usage(`unknown command "${command}"; the commands are ${commandList()}`)
  for (const name of Object.keys(opts) as Option[]) {
    if (name !== 'help' && name !== 'version' && !spec.options.includes(name)) {
      throw usage(`${command}: no option --${name}; see opensync --help`)
    }
  }
  if (args.length < spec.args[0]) {
    throw usage(
      `${command}: ${command === 'tasks' ? 'the subcommand' : 'the task file'} is missing; see opensync --help`,
    )
  }
  if (args.length > spec.args[1]) {
    throw usage(`${command}: unexpected argument "${args[spec.args[1]]}"; see opensync --help`)
  }

  const storeUrl = opts.store ?? process.env.OPENSYNC_DATABASE_URL
  const withStore = async <T>(fn: (store: Store) => Promise<T>): Promise<T> => {
    const { openStore } = await import('../store/index.ts')
    const store = await openStore(storeUrl ? { url: storeUrl } : {})
    try {
      return await fn(store)
    } finally {
      await store.close()
    }
  }
  const registry = async () => {
    const { createRegistry } = await import('../bridges/index.ts')
    return createRegistry(splitList(process.env.OPENSYNC_BRIDGES))
  }

  switch (command) {
    case 'run': {
      const file = args[0]!
      const batchSize = opts['batch-size']
        ? positiveInt(opts['batch-size'], '--batch-size')
        : undefined
      const { existsSync } = await import('node:fs')
      let task: ResolvedTask
      if (existsSync(file) || /\.(ya?ml|json)$/i.test(file)) {
        const { loadTaskFile } = await import('../engine/task/index.ts')
        task = await loadTaskFile(file)
      } else {
        // Not a file: the id of a stored task.
        const { resolveStoredTask } = await import('./service-commands.ts')
        task = await resolveStoredTask(file, { registry, ...(storeUrl ? { storeUrl } : {}) })
      }
      return runCommand(task, file, {
        registry: await registry(),
        withStore,
        dryRun: opts['dry-run'] === true,
        json: opts.json === true,
        ...(batchSize ? { batchSize } : {}),
      })
    }
    case 'executions': {
      const file = args[0]!
      const id = args[1] !== undefined ? positiveInt(args[1], 'the execution id') : undefined
      const task = await loadTaskForListing(file)
      return withStore(async (store) => {
        if (id !== undefined) {
          const row = await store.executions.get(id)
          if (!row || row.taskId !== task.id) {
            throw usage(
              `task "${task.id}" has no execution ${id}; opensync executions ${file} lists them`,
            )
          }
          const log = await store.executions.logs(id)
          write(opts.json ? toJson({ ...row, log }) : executionReport(task, row, log))
          return EXIT.ok
        }
        const rows = await store.executions.list(task.id, 20)
        if (opts.json) write(toJson(rows))
        else if (rows.length === 0) write(`"${task.subject}" (task ${task.id}) has never been run.`)
        else {
          const more = rows.length === 20 ? ' (the latest 20)' : ''
          write(
            `Executions of "${task.subject}" (task ${task.id}), newest first${more}:\n\n${executionsTable(rows)}\n\nOne run's protocol: opensync executions ${file} <id>`,
          )
        }
        return EXIT.ok
      })
    }
    case 'demo': {
      const records = opts.records ? positiveInt(opts.records, '--records') : undefined
      const { runDemo } = await import('./demo.ts')
      return runDemo({
        folder: args[0] ?? 'opensync-demo',
        ...(records ? { records } : {}),
        run: opts['no-run'] !== true,
        registry: await registry(),
        ...(storeUrl ? { storeUrl } : {}),
      })
    }
    case 'bridges': {
      const list = (await registry()).list().map((b) => ({
        name: b.name,
        title: b.title,
        version: b.version,
        filterKinds: b.filterKinds,
        connectionFields: b.connectionFields,
      }))
      if (opts.json) write(JSON.stringify(list, null, 2))
      else {
        const out: string[] = []
        for (const b of list) {
          out.push(
            `${b.name.padEnd(10)} ${b.title} ${b.version} (filters: ${b.filterKinds.join(', ')})`,
          )
          for (const f of b.connectionFields) {
            const extra = [
              f.required ? 'required' : '',
              f.secret ? 'secret' : '',
              f.default !== undefined ? `default ${f.default}` : '',
            ]
              .filter(Boolean)
              .join(', ')
            out.push(`    ${f.name.padEnd(16)} ${f.label}${extra ? ` (${extra})` : ''}`)
          }
        }
        write(out.join('\n'))
      }
      return EXIT.ok
    }
    case 'start':
    case 'worker':
    case 'tasks': {
      const { startCommand, tasksCommand, workerCommand } = await import('./service-commands.ts')
      const ctx = {
        registry,
        ...(storeUrl ? { storeUrl } : {}),
        json: opts.json === true,
        yes: opts.yes === true,
        draft: opts.draft === true,
        demo: opts.demo === true,
        write,
        usage,
      }
      if (command === 'start') return startCommand(ctx)
      if (command === 'worker') return workerCommand(ctx)
      return tasksCommand(args[0]!, args.slice(1), ctx)
    }
    case 'migrate':
      await withStore(async (store) => {
        write(`The metadata store is up to date (${store.dialect}).`)
      })
      return EXIT.ok
    default:
      throw usage(`unknown command "${command}"; the commands are ${commandList()}`)
  }
}

interface RunCommandOptions {
  readonly registry: BridgeRegistry
  readonly withStore: <T>(fn: (store: Store) => Promise<T>) => Promise<T>
  readonly dryRun: boolean
  readonly json: boolean
  readonly batchSize?: number
}

/** `opensync run`: progress on stderr (a terminal only), the summary on stdout. */
async function runCommand(task: ResolvedTask, file: string, o: RunCommandOptions): Promise<number> {
  const progress = new ProgressLine(process.stderr, {
    systems: [task.systems[0].key, task.systems[1].key],
  })
  const abort = new AbortController()
  const onSignal = (signal: NodeJS.Signals) => {
    progress.done()
    process.stderr.write(
      `opensync: ${signal === 'SIGINT' ? 'interrupted' : 'terminated'}; stopping after the batch in flight…\n`,
    )
    abort.abort(new Error(`${signal} received`))
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  const { runTask } = await import('../engine/run-task.ts')
  try {
    const result = await o.withStore((store) =>
      runTask(task, {
        store,
        registry: o.registry,
        dryRun: o.dryRun,
        trigger: 'cli',
        signal: abort.signal,
        ...(o.batchSize ? { batchSize: o.batchSize } : {}),
        onProgress: (p) => progress.update(p),
      }),
    )
    progress.done()
    if (o.json) {
      write(toJson({ task: task.id, subject: task.subject, file, ...result }))
      if (result.error)
        process.stderr.write(
          `opensync: run ${result.status}: ${result.error.message} [${result.error.code}]\n`,
        )
    } else {
      write(summary(task, result, { file }))
    }
    if (result.status === 'succeeded') return EXIT.ok
    return result.status === 'cancelled' && abort.signal.aborted ? EXIT.interrupted : EXIT.failed
  } finally {
    progress.done()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

/**
 * Loads a task file to find its id and systems: `executions` needs no secrets, so a task
 * whose `${VAR}`s are not set is read with the references left as written.
 */
async function loadTaskForListing(file: string): Promise<ResolvedTask> {
  const { loadTaskFile, parseTaskFile } = await import('../engine/task/index.ts')
  try {
    return await loadTaskFile(file)
  } catch (error) {
    if (!isOpenSyncError(error) || error.code !== 'OSY_MISSING_ENV') throw error
    try {
      const text = await readFile(file, 'utf8')
      const format = extname(file).toLowerCase() === '.json' ? 'json' : 'yaml'
      return parseTaskFile(text, { format, env: false, source: file })
    } catch {
      throw error
    }
  }
}

function parseArguments(argv: readonly string[]) {
  try {
    return parseArgs({ args: [...argv], allowPositionals: true, strict: true, options: OPTIONS })
  } catch (error) {
    const code = (error as { code?: string }).code
    const message = (error as Error).message
    const name = /'(-[^' ]+)/.exec(message)?.[1]
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && name) {
      throw usage(`unknown option ${name}; see opensync --help`)
    }
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && name) {
      throw usage(`option ${name} needs a value; see opensync --help`)
    }
    throw usage(message)
  }
}

function commandList(): string {
  const names = Object.keys(COMMANDS).filter((c) => c !== 'help')
  return `${names.slice(0, -1).join(', ')} and ${names.at(-1)}; see opensync --help`
}

function write(text: string): void {
  process.stdout.write(`${text}\n`)
}

function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => (typeof v === 'bigint' ? v.toString() : v), 2)
}

/** A mistake in how the command was called: exit code 2. */
class UsageError extends Error {}

function usage(message: string): UsageError {
  return new UsageError(message)
}

function positiveInt(text: string, what: string): number {
  const n = Number(text)
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw usage(`${what} must be a positive whole number, not "${text}"`)
  }
  return n
}

function splitList(text: string | undefined): string[] {
  return (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
}

/** Prints an error for a person and returns the exit code. */
export function reportError(error: unknown): number {
  if (error instanceof UsageError) {
    process.stderr.write(`opensync: ${error.message}\n`)
    return EXIT.usage
  }
  const e = coerceError(error)
  process.stderr.write(`opensync: ${e.message}${isOpenSyncError(error) ? ` [${e.code}]` : ''}\n`)
  if (e.kind === 'bug' && e.cause instanceof Error && e.cause.stack) {
    process.stderr.write(`${e.cause.stack}\n`)
  }
  return e.kind === 'user' ? EXIT.usage : EXIT.failed
}

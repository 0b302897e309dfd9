import type { RunResult } from '../../engine/run-task.ts'
import type { ResolvedTask } from '../../engine/task/resolved-task.ts'
import {
  type CommandGroup,
  describeArgument,
  EXIT,
  example,
  positiveInt,
  registry,
  type StoreOption,
  storeOption,
  storeUrlOf,
  withStore,
  write,
  writeJson,
} from '../cli-kit.ts'

interface RunOptions extends StoreOption {
  readonly dryRun?: boolean
  readonly json?: boolean
  readonly batchSize?: number
}

/** `opensync run`. */
export const runCommands: CommandGroup = (program, cli) => {
  const run = program
    .command('run')
    .description('Runs a task once, with progress on the terminal and a summary at the end.')
    .argument('<task>', 'a task file (YAML or JSON) or the id of a stored task')
    .option('--dry-run', 'report what would change and write nothing (not even the protocol)')
    .option('--json', 'print the summary as JSON')
    .option(
      '--batch-size <n>',
      'records per read and write batch (default 1000)',
      positiveInt('--batch-size'),
    )
  storeOption(run)
  describeArgument(run, 'task', 'the task file')
  example(
    run.action(
      cli.action(async (arg: string, opts: RunOptions) => {
        const url = storeUrlOf(opts)
        const { taskToRun } = await import('../task-source.ts')
        const task = await taskToRun(arg, url ? { storeUrl: url } : {})
        return runCommand(task, arg, opts)
      }),
    ),
    'opensync run addresses.task.yaml --dry-run   # what would change; writes nothing',
    'opensync run addresses.task.yaml --json      # the summary as JSON',
    'opensync run addresses                       # the stored task with id "addresses"',
  )
}

/** Runs the task: progress on stderr (a terminal only), the summary on stdout. */
async function runCommand(task: ResolvedTask, arg: string, o: RunOptions): Promise<number> {
  const { ProgressLine } = await import('../progress.ts')
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
  const { runTask } = await import('../../engine/run-task.ts')
  const bridges = await registry()
  try {
    const result = await withStore(o, (store) =>
      runTask(task, {
        store,
        registry: bridges,
        dryRun: o.dryRun === true,
        trigger: 'cli',
        signal: abort.signal,
        ...(o.batchSize ? { batchSize: o.batchSize } : {}),
        onProgress: (p) => progress.update(p),
      }),
    )
    progress.done()
    if (o.json) {
      writeJson({ task: task.id, subject: task.subject, file: arg, ...result })
      if (result.error)
        process.stderr.write(
          `opensync: run ${result.status}: ${result.error.message} [${result.error.code}]\n`,
        )
    } else {
      const { summary } = await import('../format.ts')
      write(summary(task, result, { file: arg }))
    }
    return exitCodeOf(result, abort.signal.aborted)
  } finally {
    progress.done()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

/** The exit code of a run's result. */
export function exitCodeOf(result: Pick<RunResult, 'status'>, interrupted: boolean): number {
  if (result.status === 'succeeded') return EXIT.ok
  if (result.status === 'partial') return EXIT.partial
  return result.status === 'cancelled' && interrupted ? EXIT.interrupted : EXIT.failed
}

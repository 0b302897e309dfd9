import {
  type CommandGroup,
  describeArgument,
  EXIT,
  example,
  positiveInt,
  type StoreOption,
  storeOption,
  storeUrlOf,
  toJson,
  usage,
  withStore,
  write,
} from '../cli-kit.ts'

interface ExecutionsOptions extends StoreOption {
  readonly json?: boolean
}

/** How many executions the list shows. */
const LIST_LIMIT = 20

/** `opensync executions`. */
export const executionsCommands: CommandGroup = (program, cli) => {
  const executions = program
    .command('executions')
    .description("Lists a task's past runs, newest first, or shows one run's protocol.")
    .argument('<task>', 'a task file (YAML or JSON) or the id of a stored task')
    .argument('[execution]', 'the id of one execution: shows its counts and protocol')
    .option('--json', 'print JSON')
  storeOption(executions)
  describeArgument(executions, 'task', 'the task file')
  example(
    executions.action(
      cli.action(async (arg: string, executionArg: string | undefined, opts: ExecutionsOptions) => {
        const id =
          executionArg !== undefined ? positiveInt('the execution id')(executionArg) : undefined
        const url = storeUrlOf(opts)
        const { taskToList } = await import('../task-source.ts')
        const task = await taskToList(arg, url ? { storeUrl: url } : {})
        const { executionReport, executionsTable } = await import('../format.ts')
        return withStore(opts, async (store) => {
          if (id !== undefined) {
            const row = await store.executions.get(id)
            if (!row || row.taskId !== task.id) {
              throw usage(
                `task "${task.id}" has no execution ${id}; opensync executions ${arg} lists them`,
              )
            }
            const log = await store.executions.logs(id)
            write(opts.json ? toJson({ ...row, log }) : executionReport(task, row, log))
            return EXIT.ok
          }
          const rows = await store.executions.list(task.id, LIST_LIMIT)
          if (opts.json) write(toJson(rows))
          else if (rows.length === 0)
            write(`"${task.subject}" (task ${task.id}) has never been run.`)
          else {
            const more = rows.length === LIST_LIMIT ? ` (the latest ${LIST_LIMIT})` : ''
            write(
              `Executions of "${task.subject}" (task ${task.id}), newest first${more}:\n\n${executionsTable(rows)}\n\nOne run's protocol: opensync executions ${arg} <id>`,
            )
          }
          return EXIT.ok
        })
      }),
    ),
    'opensync executions addresses.task.yaml       # the latest runs',
    "opensync executions addresses.task.yaml 42    # run 42's counts and protocol",
  )
}

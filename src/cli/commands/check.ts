import {
  type CommandGroup,
  describeArgument,
  EXIT,
  example,
  type StoreOption,
  storeOption,
  storeUrlOf,
  toJson,
  write,
} from '../cli-kit.ts'

interface CheckOptions extends StoreOption {
  readonly json?: boolean
}

/** `opensync check`. */
export const checkCommands: CommandGroup = (program, cli) => {
  const check = program
    .command('check')
    .description(
      'Checks a task against both systems — record types, fields, cursors, keys, match keys, filters, transforms — and lists every problem at once. Writes nothing.',
    )
    .argument('<task>', 'a task file (YAML or JSON) or the id of a stored task')
    .option('--json', 'print the problems as JSON')
  storeOption(check)
  describeArgument(check, 'task', 'the task file')
  example(
    check.action(
      cli.action(async (arg: string, opts: CheckOptions) => {
        const url = storeUrlOf(opts)
        const { taskToRun } = await import('../task-source.ts')
        const task = await taskToRun(arg, url ? { storeUrl: url } : {})
        const { checkTask } = await import('../../engine/check-task.ts')
        const { registry } = await import('../cli-kit.ts')
        const report = await checkTask(task, { registry: await registry() })
        const [a, b] = task.systems
        if (opts.json) write(toJson({ task: task.id, ...report }))
        else if (report.problems.length === 0) {
          const c = report.checked
          write(
            `No problems: "${task.subject}" fits ${a.key} (${a.bridge}) and ${b.key} (${b.bridge}) — ${c.recordTypes} record types, ${c.fields} fields, ${c.filters} filters, ${c.transforms} transforms checked. Nothing was written.`,
          )
        } else {
          const n = report.problems.length
          write(
            [
              `${n} problem${n === 1 ? '' : 's'} in "${task.subject}" against ${a.key} (${a.bridge}) and ${b.key} (${b.bridge}):`,
              ...report.problems.map(
                (p) => `  ${p.path}: ${p.message}${p.code ? ` [${p.code}]` : ''}`,
              ),
              'Nothing was written.',
            ].join('\n'),
          )
        }
        return report.problems.length === 0 ? EXIT.ok : EXIT.failed
      }),
    ),
    'opensync check addresses.task.yaml         # before the first run',
    'opensync check addresses --json            # a stored task, problems as JSON',
  )
}

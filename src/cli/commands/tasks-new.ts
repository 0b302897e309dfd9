import type { Command } from 'commander'
import { type Cli, describeArgument, example } from '../cli-kit.ts'
import type { TasksNewOptions } from '../profile-commands.ts'
import { profileContext } from './profiles.ts'

const collect = (value: string, previous: string[] = []) => [...previous, value]

/** `opensync tasks new --from <home profile> <other profile>`, on the `tasks` group. */
export function tasksNewCommand(group: Command, cli: Cli): void {
  example(
    describeArgument(
      group
        .command('new')
        .description(
          'Writes a task document made from two system profiles (a home profile and another), their defaults and the choices given; to --out or stdout. See docs/profiles.md.',
        )
        .argument('<other>', 'the other profile')
        .requiredOption('--from <home>', 'the home profile')
        .option('--subject <text>', 'the subject (default: "<home system> ↔ <other system>")')
        .option('--pair <id>', 'a pair to include (repeat; default every pair on offer)', collect)
        .option('--set <system.field=value>', 'a connection value (repeat)', collect)
        .option('--param <pair.system.name=value>', 'a filter parameter value (repeat)', collect)
        .option(
          '--direction <pair=direction>',
          'a pair direction, e.g. customers=crm->erp (repeat)',
          collect,
        )
        .option('--out <file>', 'write the task file here (never overwritten)'),
      'other',
      'the other profile',
    ).action(
      cli.action(async (other: string, opts: TasksNewOptions) => {
        const { tasksNewCommand: run } = await import('../profile-commands.ts')
        return run([other], opts, profileContext(false))
      }),
    ),
    'opensync tasks new --from demo-crm demo-erp --param customers.crm.zip=76137 --out crm-erp.task.yaml',
  )
}

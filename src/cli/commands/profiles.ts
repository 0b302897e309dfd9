import { type CommandGroup, describeArgument, example, registry, usage, write } from '../cli-kit.ts'

/** `opensync profiles …`: the system profiles (docs/profiles.md). */
export const profilesCommands: CommandGroup = (program, cli) => {
  const group = program
    .command('profiles')
    .summary('System profiles: list, show, validate')
    .description(
      'System profiles: the shipped ones and those of $OPENSYNC_PROFILES (folders or npm packages, separated by , or the path delimiter).',
    )
  example(group, 'opensync profiles list', 'opensync profiles show demo-erp')

  const run = async (sub: string, args: readonly string[], opts: { json?: boolean }) => {
    const { profilesCommand } = await import('../profile-commands.ts')
    return profilesCommand(sub, args, profileContext(opts.json === true))
  }

  example(
    group
      .command('list')
      .description(
        'Lists the profiles: id, system, version, bridge, home system or not, pairs, file.',
      )
      .option('--json', 'print JSON')
      .action(cli.action(async (opts: { json?: boolean }) => run('list', [], opts))),
    'opensync profiles list --json',
  )
  example(
    describeArgument(
      group
        .command('show')
        .description('Shows what a profile offers: connection form, record types, pairs.')
        .argument('<id>', 'the profile id')
        .option('--json', 'print JSON (the loaded profile)'),
      'id',
      'the profile id',
    ).action(cli.action(async (id: string, opts: { json?: boolean }) => run('show', [id], opts))),
    'opensync profiles show mailing-pro',
  )
  example(
    group
      .command('validate')
      .description(
        'Checks profile files (all profiles without files): every problem with its file and path; exit 2 when one is invalid.',
      )
      .argument('[files...]', 'profile files')
      .option('--json', 'print JSON')
      .action(
        cli.action(async (files: string[], opts: { json?: boolean }) =>
          run('validate', files, opts),
        ),
      ),
    'opensync profiles validate partner/acme-crm.yaml',
  )
}

/** What the profile command functions need. */
export function profileContext(json: boolean) {
  const warn = (text: string) => process.stderr.write(`${text}\n`)
  return { registry, json, write, warn, usage }
}

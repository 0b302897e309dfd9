import {
  type CommandGroup,
  example,
  positiveInt,
  registry,
  type StoreOption,
  storeOption,
  storeUrlOf,
} from '../cli-kit.ts'

interface DemoOptions extends StoreOption {
  readonly records?: number
  /** False with `--no-run`. */
  readonly run: boolean
  readonly force?: boolean
}

/** `opensync demo`. */
export const demoCommands: CommandGroup = (program, cli) => {
  const demo = program
    .command('demo')
    .summary(
      'Creates a demo CRM and ERP with a task between them, and runs it (and a newsletter task).',
    )
    .description(
      'Creates a CRM and an ERP demo database (SQLite) with a task between them, and runs the task; then serves the MailingPro demo API (a fictitious e-mail-marketing service, its data in mailing-pro.json) while its newsletter task — CRM contacts of one postal code → a MailingPro pool — runs once.',
    )
    .argument('[folder]', 'where the demo goes', 'opensync-demo')
    .option('--records <n>', 'addresses in the CRM (default 3000)', positiveInt('--records'))
    .option('--no-run', 'create the demo without running its task')
    .option('--force', 'make the demo anew in a folder that holds one (its files are overwritten)')
  storeOption(demo)
  example(
    demo.action(
      cli.action(async (folder: string, opts: DemoOptions) => {
        const { runDemo } = await import('../demo.ts')
        const url = storeUrlOf(opts)
        return runDemo({
          folder,
          ...(opts.records ? { records: opts.records } : {}),
          run: opts.run,
          force: opts.force === true,
          registry: await registry(),
          ...(url ? { storeUrl: url } : {}),
        })
      }),
    ),
    'opensync demo                      # ./opensync-demo, then runs the task',
    'opensync demo try --records 20000 --no-run',
    'opensync demo try --force          # anew, overwriting the demo in ./try',
  )
}

import {
  type CommandGroup,
  example,
  registry,
  type StoreOption,
  storeOption,
  storeUrlOf,
} from '../cli-kit.ts'

/** `opensync start` and `opensync worker`. */
export const serviceCommands: CommandGroup = (program, cli) => {
  const start = program
    .command('start')
    .summary('Runs the service: every stored task on its plan, until Ctrl-C.')
    .description(
      'Runs the service in this process: every stored task on its plan, manual starts queued behind running ones, until Ctrl-C (which finishes the batches in flight).',
    )
    .option(
      '--demo',
      'first store a demo task between demo CRM and ERP databases (in the data folder)',
    )
  storeOption(start)
  example(
    start.action(
      cli.action(async (opts: StoreOption & { readonly demo?: boolean }) => {
        const { startCommand } = await import('../service-commands.ts')
        const url = storeUrlOf(opts)
        return startCommand({
          registry,
          ...(url ? { storeUrl: url } : {}),
          demo: opts.demo === true,
        })
      }),
    ),
    'opensync start --demo                # the quick start',
    'OPENSYNC_DATA_DIR=/var/lib/opensync opensync start',
  )

  const worker = program
    .command('worker')
    .summary('Cluster mode: a worker sharing the runs of a PostgreSQL store.')
    .description(
      "Cluster mode: one of any number of processes that share the stored tasks' runs on a PostgreSQL store ($OPENSYNC_DATABASE_URL, secret key $OPENSYNC_SECRET_KEY), until SIGTERM (which finishes the batches in flight). See docs/cluster.md.",
    )
  storeOption(worker)
  example(
    worker.action(
      cli.action(async (opts: StoreOption) => {
        const { workerCommand } = await import('../service-commands.ts')
        const url = storeUrlOf(opts)
        return workerCommand({ registry, ...(url ? { storeUrl: url } : {}) })
      }),
    ),
    'OPENSYNC_DATABASE_URL=postgres://opensync@db/opensync OPENSYNC_SECRET_KEY=… opensync worker',
  )
}

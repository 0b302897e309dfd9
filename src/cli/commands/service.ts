import {
  type CommandGroup,
  example,
  registry,
  type StoreOption,
  storeOption,
  storeUrlOf,
} from '../cli-kit.ts'

/** `opensync start`, `opensync api` and `opensync worker`. */
export const serviceCommands: CommandGroup = (program, cli) => {
  const start = program
    .command('start')
    .summary('Runs the service: every stored task on its plan, until Ctrl-C.')
    .description(
      'Runs the service in this process: the HTTP API (on $OPENSYNC_LISTEN, default 127.0.0.1:8080), every stored task on its plan, manual starts queued behind running ones, until Ctrl-C (which finishes the batches in flight).',
    )
    .option(
      '--demo',
      'first store a demo task between demo CRM and ERP databases (in the data folder) and a newsletter task to the MailingPro demo API, which it serves on 127.0.0.1',
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
    'OPENSYNC_LISTEN=0.0.0.0:9000 opensync start   # reachable from other machines',
  )

  const api = program
    .command('api')
    .summary('Serves the HTTP API alone (cluster mode: beside opensync worker processes).')
    .description(
      'Serves the HTTP API without a scheduler or worker, until SIGTERM: in cluster mode beside `opensync worker` processes on one PostgreSQL store, which run what the API queues. Listens on $OPENSYNC_LISTEN (host:port, default 127.0.0.1:8080). See docs/api.md.',
    )
  storeOption(api)
  example(
    api.action(
      cli.action(async (opts: StoreOption) => {
        const { apiCommand } = await import('../service-commands.ts')
        const url = storeUrlOf(opts)
        return apiCommand({ registry, ...(url ? { storeUrl: url } : {}) })
      }),
    ),
    'OPENSYNC_DATABASE_URL=postgres://opensync@db/opensync OPENSYNC_SECRET_KEY=… OPENSYNC_LISTEN=0.0.0.0:8080 opensync api',
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

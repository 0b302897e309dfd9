import {
  type CommandGroup,
  EXIT,
  example,
  type StoreOption,
  storeOption,
  withStore,
  write,
} from '../cli-kit.ts'

/** `opensync migrate`. */
export const migrateCommands: CommandGroup = (program, cli) => {
  const migrate = program.command('migrate').description('Creates or upgrades the metadata store.')
  storeOption(migrate)
  example(
    migrate.action(
      cli.action(async (opts: StoreOption) => {
        await withStore(opts, async (store) => {
          write(`The metadata store is up to date (${store.dialect}).`)
        })
        return EXIT.ok
      }),
    ),
    'opensync migrate --store postgres://opensync@db/opensync',
  )
}

import {
  type CommandGroup,
  example,
  positiveInt,
  type StoreOption,
  storeOption,
  withStore,
} from '../cli-kit.ts'

interface AccessOpts extends StoreOption {
  readonly json?: boolean
  readonly role?: string
  readonly profiles?: string
  readonly user?: string
  readonly scopes?: string
  readonly days?: number
  readonly never?: boolean
}

/** `opensync users …` and `opensync tokens …`: who may use the API and console. */
export const usersCommands: CommandGroup = (program, cli) => {
  const users = program
    .command('users')
    .summary('Users of the API and console: add, list, remove, passwd.')
    .description(
      'Users of the API and console, with a role: admin (everything, users and tokens), editor (tasks), operator (start, cancel, decide conflicts, retry errors), viewer (read). Passwords come from standard input, or are asked for on a terminal.',
    )
  example(users, 'opensync users add ada --role admin', 'opensync users list')
  const sub = (name: string, description: string, withName: boolean) => {
    const c = users.command(withName ? `${name} <username>` : name).description(description)
    c.option('--json', 'print JSON')
    storeOption(c)
    return c
  }
  const add = sub('add', 'Adds a user (the password from standard input or a prompt).', true)
    .option('--role <role>', 'admin, editor, operator or viewer', 'viewer')
    .option(
      '--profiles <ids>',
      'limit the user to tasks of these system profiles (comma-separated)',
    )
  example(
    add.action(
      cli.action(async (username: string, opts: AccessOpts) => {
        const { usersCommand } = await import('../access-commands.ts')
        return withStore(opts, (store) => usersCommand(store, 'add', username, opts))
      }),
    ),
    'opensync users add ada --role admin',
    'echo "$PASSWORD" | opensync users add mailer --role operator --profiles mailing-pro',
  )
  const list = sub('list', 'Lists the users with their roles.', false)
  example(
    list.action(
      cli.action(async (opts: AccessOpts) => {
        const { usersCommand } = await import('../access-commands.ts')
        return withStore(opts, (store) => usersCommand(store, 'list', undefined, opts))
      }),
    ),
    'opensync users list --json',
  )
  const remove = sub('remove', 'Removes a user with their sessions and tokens.', true)
  example(
    remove.action(
      cli.action(async (username: string, opts: AccessOpts) => {
        const { usersCommand } = await import('../access-commands.ts')
        return withStore(opts, (store) => usersCommand(store, 'remove', username, opts))
      }),
    ),
    'opensync users remove ada',
  )
  const passwd = sub('passwd', "Sets a user's password; their sessions end.", true)
  example(
    passwd.action(
      cli.action(async (username: string, opts: AccessOpts) => {
        const { usersCommand } = await import('../access-commands.ts')
        return withStore(opts, (store) => usersCommand(store, 'passwd', username, opts))
      }),
    ),
    'opensync users passwd ada',
  )

  const tokens = program
    .command('tokens')
    .summary('API tokens (Authorization: Bearer): create, list, revoke.')
    .description(
      "API tokens, sent as Authorization: Bearer <token>. A token has scopes (read, operate, edit, admin, metrics) within its user's role, or is a service token without a user; it is shown once and stored as a hash.",
    )
  example(tokens, 'opensync tokens create prometheus --scopes metrics', 'opensync tokens list')
  const create = tokens
    .command('create <name>')
    .description('Creates a token and prints it, once.')
    .option('--scopes <scopes>', 'comma-separated: read, operate, edit, admin, metrics', 'read')
    .option('--user <username>', 'the user it acts for (its role bounds the scopes)')
    .option('--profiles <ids>', 'limit the token to tasks of these system profiles')
    .option('--days <n>', 'days until it expires (default 90)', positiveInt('--days'))
    .option('--never', 'never expires (service tokens only)')
    .option('--json', 'print JSON')
  storeOption(create)
  example(
    create.action(
      cli.action(async (name: string, opts: AccessOpts) => {
        const { tokensCommand } = await import('../access-commands.ts')
        return withStore(opts, (store) => tokensCommand(store, 'create', name, opts))
      }),
    ),
    'opensync tokens create prometheus --scopes metrics --never',
    'opensync tokens create ci --user ada --scopes read,operate --days 30',
  )
  const tokenList = tokens
    .command('list')
    .description('Lists the tokens (never the tokens themselves).')
  tokenList.option('--json', 'print JSON')
  storeOption(tokenList)
  example(
    tokenList.action(
      cli.action(async (opts: AccessOpts) => {
        const { tokensCommand } = await import('../access-commands.ts')
        return withStore(opts, (store) => tokensCommand(store, 'list', undefined, opts))
      }),
    ),
    'opensync tokens list',
  )
  const revoke = tokens.command('revoke <id>').description('Revokes a token at once.')
  revoke.option('--json', 'print JSON')
  storeOption(revoke)
  example(
    revoke.action(
      cli.action(async (id: string, opts: AccessOpts) => {
        const { tokensCommand } = await import('../access-commands.ts')
        return withStore(opts, (store) => tokensCommand(store, 'revoke', id, opts))
      }),
    ),
    'opensync tokens revoke 3',
  )
}

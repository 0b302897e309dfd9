import { createInterface } from 'node:readline'
import { AccessManager } from '../service/access/access-manager.ts'
import { PERMISSIONS, type Permission, ROLES, type Role } from '../service/access/permissions.ts'
import type { Store } from '../store/index.ts'
import { cliActor } from './cli-actor.ts'
import { EXIT, splitList, toJson, usage, write } from './cli-kit.ts'
import { table } from './service-commands.ts'

/**
 * A password: the first line of standard input when it is not a terminal (scripts:
 * `echo "$PW" | opensync users add …`), else asked for twice without echo.
 */
export async function readPassword(prompt = 'Password: '): Promise<string> {
  if (!process.stdin.isTTY) {
    const rl = createInterface({ input: process.stdin })
    for await (const line of rl) {
      rl.close()
      return line
    }
    throw usage('no password on standard input')
  }
  const first = await askHidden(prompt)
  const second = await askHidden('Again: ')
  if (first !== second) throw usage('the two passwords differ')
  return first
}

function askHidden(prompt: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true })
    const out = rl as unknown as { _writeToOutput: (s: string) => void }
    let prompted = false
    out._writeToOutput = (s: string) => {
      // The prompt once, then nothing of what is typed.
      if (!prompted) process.stdout.write(s)
      prompted = true
    }
    rl.question(prompt, (answer) => {
      rl.close()
      process.stdout.write('\n')
      resolve(answer)
    })
  })
}

function role(text: string): Role {
  if (!(ROLES as readonly string[]).includes(text)) {
    throw usage(`--role must be one of ${ROLES.join(', ')}, not "${text}"`)
  }
  return text as Role
}

function scopes(text: string): Permission[] {
  const list = splitList(text)
  const bad = list.filter((s) => !(PERMISSIONS as readonly string[]).includes(s))
  if (list.length === 0 || bad.length > 0) {
    throw usage(
      `--scopes takes one or more of ${PERMISSIONS.join(', ')}${bad.length ? `, not ${bad.join(', ')}` : ''}`,
    )
  }
  return list as Permission[]
}

/** `opensync users add|list|remove|passwd` on an open store. */
export async function usersCommand(
  store: Store,
  action: 'add' | 'list' | 'remove' | 'passwd',
  username: string | undefined,
  opts: { readonly role?: string; readonly profiles?: string; readonly json?: boolean },
): Promise<number> {
  const access = new AccessManager({ store })
  if (action === 'list') {
    const users = await access.listUsers()
    if (opts.json) write(toJson(users))
    else if (users.length === 0)
      write(
        'No users yet: opensync users add <name> --role admin (or open the setup URL that opensync start prints).',
      )
    else
      write(
        table([
          ['USER', 'ROLE', 'PROFILES', 'LOCKED', 'CREATED'],
          ...users.map((u) => [
            u.username,
            u.role,
            u.profiles?.join(',') ?? 'all',
            u.locked ? 'yes' : '',
            u.createdAt,
          ]),
        ]),
      )
    return EXIT.ok
  }
  const name = username!
  if (action === 'add') {
    const password = await readPassword()
    const profiles = opts.profiles !== undefined ? splitList(opts.profiles) : undefined
    const user = await access.addUser(
      {
        username: name,
        password,
        role: role(opts.role ?? 'viewer'),
        ...(profiles ? { profiles } : {}),
      },
      cliActor(),
    )
    write(opts.json ? toJson(user) : `Added ${user.username} (${user.role}).`)
  } else if (action === 'remove') {
    await access.removeUser(name, cliActor())
    write(opts.json ? toJson({ removed: name }) : `Removed ${name} with their sessions and tokens.`)
  } else {
    await access.getUser(name)
    await access.setPassword(name, await readPassword('New password: '), cliActor())
    write(
      opts.json
        ? toJson({ changed: name })
        : `Changed the password of ${name}; their sessions ended.`,
    )
  }
  return EXIT.ok
}

/** `opensync tokens create|list|revoke` on an open store. */
export async function tokensCommand(
  store: Store,
  action: 'create' | 'list' | 'revoke',
  arg: string | undefined,
  opts: {
    readonly user?: string
    readonly scopes?: string
    readonly profiles?: string
    readonly days?: number
    readonly never?: boolean
    readonly json?: boolean
  },
): Promise<number> {
  const access = new AccessManager({ store })
  if (action === 'list') {
    const tokens = await access.listTokens()
    if (opts.json) write(toJson(tokens))
    else if (tokens.length === 0)
      write('No API tokens: opensync tokens create <name> --scopes read')
    else
      write(
        table([
          ['ID', 'NAME', 'USER', 'SCOPES', 'EXPIRES', 'LAST USED'],
          ...tokens.map((t) => [
            String(t.id),
            t.name,
            t.user ?? '(service)',
            t.scopes.join(','),
            t.expiresAt ?? 'never',
            t.lastUsedAt ?? '',
          ]),
        ]),
      )
    return EXIT.ok
  }
  if (action === 'revoke') {
    const id = Number(arg)
    if (!Number.isSafeInteger(id) || id < 1)
      throw usage(`the token id must be a number, not "${arg}"`)
    await access.revokeToken(id, cliActor())
    write(opts.json ? toJson({ revoked: id }) : `Revoked token ${id}.`)
    return EXIT.ok
  }
  const profiles = opts.profiles !== undefined ? splitList(opts.profiles) : undefined
  const created = await access.createToken(
    {
      name: arg!,
      scopes: scopes(opts.scopes ?? 'read'),
      ...(opts.user !== undefined ? { username: opts.user } : {}),
      ...(profiles ? { profiles } : {}),
      expiresInDays: opts.never ? null : (opts.days ?? 90),
    },
    cliActor(),
  )
  if (opts.json) write(toJson({ token: created.token, info: created.view }))
  else
    write(
      `${created.token}\n\nThe token above is shown this once (only its hash is stored). Send it as: Authorization: Bearer <token>\nToken ${created.view.id} "${created.view.name}": ${created.view.scopes.join(', ')}${created.view.user ? ` for ${created.view.user}` : ' (service token)'}, expires ${created.view.expiresAt ?? 'never'}.`,
    )
  return EXIT.ok
}

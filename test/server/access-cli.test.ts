import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { AccessManager } from '../../src/service/access/access-manager.ts'
import { openStore } from '../../src/store/index.ts'

// opensync users … and opensync tokens … through the real CLI, on a SQLite store of its own.

const BIN = fileURLToPath(new URL('../../bin/opensync.js', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'osy-access-cli-'))
const store = join(dir, 'opensync.db')
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function cli(
  args: readonly string[],
  input?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [BIN, ...args, '--store', store],
      (error, stdout, stderr) => {
        const code = error ? ((error as { code?: unknown }).code as number) : 0
        resolve({ code: typeof code === 'number' ? code : -1, stdout, stderr })
      },
    )
    child.stdin?.end(input ?? '')
  })
}

describe('opensync users and tokens', () => {
  it('adds, lists, changes the password of and removes users; a short password is refused', async () => {
    expect(
      (await cli(['users', 'add', 'ada', '--role', 'admin'], 'a long password\n')).stdout,
    ).toContain('Added ada (admin)')
    expect(
      (
        await cli(
          ['users', 'add', 'vic', '--role', 'viewer', '--profiles', 'demo-crm'],
          'another long one\n',
        )
      ).code,
    ).toBe(0)
    const short = await cli(['users', 'add', 'bob'], 'short\n')
    expect(short.code).toBe(2)
    expect(short.stderr).toContain('at least 10 characters')
    const list = JSON.parse((await cli(['users', 'list', '--json'])).stdout) as {
      username: string
      role: string
      profiles?: string[]
    }[]
    expect(list.map((u) => `${u.username}:${u.role}:${u.profiles ?? 'all'}`)).toEqual([
      'ada:admin:all',
      'vic:viewer:demo-crm',
    ])
    expect((await cli(['users', 'passwd', 'vic'], 'a brand new password\n')).code).toBe(0)
    const s = await openStore({ url: store })
    try {
      await expect(
        new AccessManager({ store: s }).signIn('vic', 'a brand new password'),
      ).resolves.toMatchObject({ user: { username: 'vic' } })
    } finally {
      await s.close()
    }
    const last = await cli(['users', 'remove', 'ada'])
    expect(last.code).toBe(2)
    expect(last.stderr).toContain('last admin')
    expect((await cli(['users', 'remove', 'vic'])).code).toBe(0)
  })

  it('creates a token shown once, lists it without the token, and revokes it', async () => {
    const created = await cli([
      'tokens',
      'create',
      'prometheus',
      '--scopes',
      'metrics',
      '--never',
      '--json',
    ])
    expect(created.code, created.stderr).toBe(0)
    const { token, info } = JSON.parse(created.stdout) as { token: string; info: { id: number } }
    expect(token).toMatch(/^osy_/)
    const list = await cli(['tokens', 'list'])
    expect(list.stdout).toContain('prometheus')
    expect(list.stdout).not.toContain(token)
    const tooMuch = await cli(['tokens', 'create', 'x', '--user', 'ada', '--scopes', 'read,bogus'])
    expect(tooMuch.code).toBe(2)
    expect((await cli(['tokens', 'revoke', String(info.id)])).stdout).toContain('Revoked')
    expect((await cli(['tokens', 'list', '--json'])).stdout.trim()).toBe('[]')
    // Every change was audited as the CLI's.
    const s = await openStore({ url: store })
    try {
      const actions = (await s.audit.list({ limit: 100 })).map(
        (e) => `${e.action}:${e.actor.split(':')[0]}`,
      )
      expect(actions).toEqual(
        expect.arrayContaining([
          'user.added:cli',
          'user.password-changed:cli',
          'user.removed:cli',
          'token.created:cli',
          'token.revoked:cli',
        ]),
      )
    } finally {
      await s.close()
    }
  })
})

describe('opensync tasks …', () => {
  it('records task changes made with the CLI as audit events', async () => {
    const { createDemo } = await import('../../src/cli/demo.ts')
    const file = createDemo(join(dir, 'demo'), 20)
    expect((await cli(['tasks', 'import', file])).code).toBe(0)
    expect((await cli(['tasks', 'import', file])).code).toBe(0)
    const s = await openStore({ url: store })
    const [task] = await s.taskDefs.list()
    await s.close()
    expect((await cli(['tasks', 'deactivate', task!.taskId])).code).toBe(0)
    expect((await cli(['tasks', 'start', task!.taskId])).code).toBe(0)
    expect((await cli(['tasks', 'delete', task!.taskId, '--yes'])).code).toBe(0)
    const after = await openStore({ url: store })
    try {
      const events = await after.audit.list({ taskId: task!.taskId, limit: 50 })
      expect(events.map((e) => e.action).reverse()).toEqual([
        'task.created',
        'task.edited',
        'task.deactivated',
        'execution.started',
        'task.deleted',
      ])
      expect(events.every((e) => e.actor.startsWith('cli'))).toBe(true)
    } finally {
      await after.close()
    }
  })
})

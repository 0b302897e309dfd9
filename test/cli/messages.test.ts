import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { cli, rows, sqlite, taskFile, tempDir } from './cli-harness.ts'

// Issue 10, item 14: the smaller ones — bad input, messages that name what to check.
describe.concurrent('opensync: messages that say what to fix', () => {
  const cwd = tempDir()
  const crm = join(cwd, 'crm.db')
  const erp = join(cwd, 'erp.db')
  const store = join(cwd, 'store.db')
  const task = (name: string, crmSystem: string) =>
    taskFile(
      cwd,
      `${name}.task.yaml`,
      `id: ${name}
subject: ${name}
systems:
  crm: ${crmSystem}
  erp: { bridge: sqlite, connection: { file: ${JSON.stringify(erp)} } }
pairs:
  - crm: { type: customers }
    erp: { type: customers }
    fields: { email: email }
    match: [email]
`,
    )
  beforeAll(() => {
    sqlite(
      crm,
      "CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT); INSERT INTO customers (email) VALUES ('a@x.org')",
    )
    sqlite(erp, 'CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT)')
  })

  it('an unknown bridge is bad input: exit 2, and no execution is recorded', async () => {
    const file = task('unknown', '{ bridge: nosuch, connection: {} }')
    const r = await cli(cwd, ['run', file, '--store', store])
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toContain('unknown bridge "nosuch"')
    expect(r.stderr).toContain('[OSY_BRIDGE_NOT_FOUND]')
    const runs = await cli(cwd, ['executions', file, '--store', store, '--json'])
    expect(JSON.parse(runs.stdout)).toEqual([])
  })

  it("PostgreSQL's unreachable message names the port", async () => {
    const file = task(
      'pgdown',
      '{ bridge: postgres, connection: { host: 127.0.0.1, port: 1, user: postgres, database: test } }',
    )
    const r = await cli(cwd, ['run', file, '--store', store])
    expect(r.code).toBe(1)
    expect(r.stdout).toContain('cannot reach PostgreSQL at 127.0.0.1:1 (ECONNREFUSED)')
    const url = task(
      'pgurl',
      '{ bridge: postgres, connection: { url: "postgres://postgres@127.0.0.1:2/test" } }',
    )
    expect((await cli(cwd, ['run', url, '--store', store])).stdout).toContain(
      'cannot reach PostgreSQL at 127.0.0.1:2 ',
    )
  })

  it('a YAML error points at the line of the fault, not where the parser noticed it', async () => {
    const file = taskFile(
      cwd,
      'broken.task.yaml',
      'subject: x\nsystems:\n  crm: { bridge: sqlite\n  erp: { bridge: sqlite }\npairs: []\n',
    )
    const r = await cli(cwd, ['run', file])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(
      'not valid YAML at line 3, column 8 (at "crm:"): the flow map opened with { here is never closed with }',
    )
  })

  it("the protocol names the directions by the systems' keys", async () => {
    const file = task('keys', `{ bridge: sqlite, connection: { file: ${JSON.stringify(crm)} } }`)
    const run = await cli(cwd, ['run', file, '--store', store, '--json'])
    expect(run.code, run.stderr).toBe(0)
    const { executionId } = JSON.parse(run.stdout) as { executionId: number }
    const one = await cli(cwd, ['executions', file, String(executionId), '--store', store])
    expect(one.stdout).toMatch(/pair customers-customers done: crm → erp: read 1, created 1/)
    expect(one.stdout).not.toMatch(/done: →/)
  })

  it('a store that cannot be reached is named with what to check', async () => {
    const r = await cli(cwd, [
      'tasks',
      'list',
      '--store',
      'postgres://postgres@127.0.0.1:1/osy_cli_x',
    ])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(
      'cannot reach the metadata store (PostgreSQL postgres@127.0.0.1:1/osy_cli_x): connect ECONNREFUSED 127.0.0.1:1; check that PostgreSQL runs at that host and port',
    )
    expect(r.stderr).toContain('$OPENSYNC_DATABASE_URL')
  })

  it('tasks list neither creates nor migrates a store', async () => {
    const empty = tempDir()
    const none = await cli(empty, ['tasks', 'list'])
    expect(none.code, none.stderr).toBe(0)
    expect(none.stdout).toContain('No stored tasks: there is no store at .data/opensync.db yet')
    expect(existsSync(join(empty, '.data'))).toBe(false)
    // A database that is not (yet) a store is not turned into one by a listing.
    const other = join(empty, 'other.db')
    sqlite(other, 'CREATE TABLE t (x INTEGER)')
    const r = await cli(empty, ['tasks', 'list', '--store', other])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/is not up to date \(\d+ migrations pending\): run opensync migrate/)
    expect(
      rows<{ name: string }>(other, "SELECT name FROM sqlite_master WHERE type = 'table'"),
    ).toEqual([{ name: 't' }])
  })

  it('importing an unchanged document keeps its revision', async () => {
    const dir = tempDir()
    const file = task('same', `{ bridge: sqlite, connection: { file: ${JSON.stringify(crm)} } }`)
    const first = await cli(dir, ['tasks', 'import', file, '--json'])
    expect(first.code, first.stderr).toBe(0)
    expect((JSON.parse(first.stdout) as { revision: number }).revision).toBe(1)
    const again = await cli(dir, ['tasks', 'import', file, '--json'])
    expect((JSON.parse(again.stdout) as { revision: number }).revision).toBe(1)
    const changed = taskFile(
      cwd,
      'same2.task.yaml',
      `id: same
subject: same, changed
systems:
  crm: { bridge: sqlite, connection: { file: ${JSON.stringify(crm)} } }
  erp: { bridge: sqlite, connection: { file: ${JSON.stringify(erp)} } }
pairs:
  - crm: { type: customers }
    erp: { type: customers }
    fields: { email: email }
`,
    )
    const third = await cli(dir, ['tasks', 'import', changed, '--json'])
    expect((JSON.parse(third.stdout) as { revision: number }).revision).toBe(2)
  })
})

import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { cli, sqlite, taskFile, tempDir } from './cli-harness.ts'

// Item 12 of issue 10: a run that finished with failed records is not a plain success.
describe('opensync run: a run with failed records', () => {
  const cwd = tempDir()
  const store = join(cwd, 'store.db')
  let file = ''
  beforeAll(() => {
    sqlite(
      join(cwd, 'crm.db'),
      `CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT);
       INSERT INTO customers (email) VALUES ('a@x.org'), ('b@x.org'),
         ('this-one-is-far-too-long@example.org');`,
    )
    // The ERP refuses the long address: that one record fails, the others go through.
    sqlite(
      join(cwd, 'erp.db'),
      'CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT CHECK (length(email) < 20))',
    )
    file = taskFile(
      cwd,
      'partial.task.yaml',
      `subject: Partial
systems:
  crm: { bridge: sqlite, connection: { file: ${JSON.stringify(join(cwd, 'crm.db'))} } }
  erp: { bridge: sqlite, connection: { file: ${JSON.stringify(join(cwd, 'erp.db'))} } }
pairs:
  - crm: { type: customers }
    erp: { type: customers }
    fields: { email: email }
    match: [email]
    conflict: { winner: crm }
`,
    )
  })

  it('is partial in the summary, in --json and in the stored execution, and exits 3', async () => {
    const r = await cli(cwd, ['run', file, '--store', store])
    expect(r.code, r.stderr).toBe(3)
    expect(r.stdout).toMatch(/^Run of "Partial" partial in .*: 1 record failed\.$/m)
    expect(r.stdout).not.toMatch(/succeeded/)
    expect(r.stdout).toContain('1 record failed; it is retried on the next run.')

    const json = await cli(cwd, ['run', file, '--store', store, '--json'])
    expect(json.code, json.stderr).toBe(3)
    const parsed = JSON.parse(json.stdout) as { status: string; executionId: number }
    expect(parsed.status).toBe('partial')

    const one = await cli(cwd, [
      'executions',
      file,
      String(parsed.executionId),
      '--json',
      '--store',
      store,
    ])
    expect((JSON.parse(one.stdout) as { status: string }).status).toBe('partial')
    const list = await cli(cwd, ['executions', file, '--store', store])
    expect(list.stdout).toMatch(/^\s*\d+\s+partial\s+cli\s/m)
    expect(list.stdout).not.toMatch(/^\s*\d+\s+succeeded\s/m)
  })

  it('--help documents exit code 3', async () => {
    const r = await cli(cwd, ['--help'])
    expect(r.stdout).toMatch(/^ {2}3 +the run finished, but some records failed/m)
  })
})

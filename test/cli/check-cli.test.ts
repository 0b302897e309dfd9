import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { cli, rows, sqlite, taskFile, tempDir } from './cli-harness.ts'

// Issue 10, item 13: opensync check, and tasks import refusing what fails the offline part.
describe('opensync check', () => {
  const cwd = tempDir()
  const crm = join(cwd, 'crm.db')
  const erp = join(cwd, 'erp.db')
  const systems = `systems:
  crm: { bridge: sqlite, connection: { file: ${JSON.stringify(crm)} } }
  erp: { bridge: sqlite, connection: { file: ${JSON.stringify(erp)} } }`
  beforeAll(() => {
    sqlite(
      crm,
      `CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT, city TEXT, updated_at TEXT);
       INSERT INTO customers (email, city, updated_at) VALUES ('a@x.org', 'Bonn', '2024-01-01');`,
    )
    sqlite(
      erp,
      `CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT, town TEXT);
       CREATE VIEW people AS SELECT email FROM customers;`,
    )
  })

  it('lists every problem at once and writes nothing', async () => {
    const file = taskFile(
      cwd,
      'bad.task.yaml',
      `id: bad
subject: Bad
${systems}
pairs:
  - crm: { type: customers, cursor: updated_at, filter: { sql: "1=1; DROP TABLE customers" } }
    erp: { type: customers, filter: { keyValue: { country: DE } } }
    fields: { email: email, city: city, zip: zip }
    match: [email]
  - crm: { type: addresses }
    erp: { type: people }
    fields: { email: email }
`,
    )
    const contents = () =>
      [crm, erp].map((db) => [
        rows(db, 'SELECT type, name, sql FROM sqlite_master ORDER BY name'),
        rows(db, 'SELECT * FROM customers ORDER BY id'),
      ])
    const before = contents()
    const r = await cli(cwd, ['check', file])
    expect(r.code, r.stderr).toBe(1)
    expect(r.stdout).toMatch(/^8 problems in "Bad" against crm \(sqlite\) and erp \(sqlite\):$/m)
    for (const line of [
      'pairs[0].crm.filter: invalid SQL filter: only one condition is allowed',
      'pairs[0].fields.zip: crm.customers has no field "zip"',
      'pairs[0].fields.city: erp.customers has no field "city" (mapping city; it has: id, email, town)',
      'pairs[0].fields.zip: erp.customers has no field "zip"',
      'pairs[0].erp.filter: erp.customers has no field "country" (filter',
      'pairs[1].crm.type: crm has no record type "addresses" (it has: customers)',
      'pairs[1].erp.key: erp.people has no primary key',
      'pairs[1].erp.type: erp.people is read-only, but the pair writes to it',
    ])
      expect(r.stdout).toContain(`  ${line}`)
    expect(r.stdout).toMatch(/Nothing was written\.$/m)
    const json = await cli(cwd, ['check', file, '--json'])
    const report = JSON.parse(json.stdout) as { problems: { path: string; code?: string }[] }
    expect(report.problems).toHaveLength(8)
    expect(report.problems[0]).toMatchObject({
      path: 'pairs[0].crm.filter',
      code: 'OSY_INVALID_FILTER',
    })
    // Nothing written: not the systems, not a metadata store.
    expect(contents()).toEqual(before)
    expect(existsSync(join(cwd, '.data'))).toBe(false)
  })

  it('a task that fits both systems passes, and so does a stored one by id', async () => {
    const file = taskFile(
      cwd,
      'good.task.yaml',
      `id: good
subject: Good
${systems}
pairs:
  - crm: { type: customers, cursor: updated_at, filter: { sql: "city <> 'Ulm'" } }
    erp: { type: customers }
    fields:
      email: email
      town: { crm: city, erp: town, toErp: { case: upper }, toCrm: { case: lower } }
    match: [email]
`,
    )
    const r = await cli(cwd, ['check', file])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toMatch(
      /^No problems: "Good" fits crm \(sqlite\) and erp \(sqlite\) — 2 record types, \d+ fields, 1 filters, \d+ transforms checked\. Nothing was written\.$/m,
    )
    const dir = tempDir()
    expect((await cli(dir, ['tasks', 'import', file])).code).toBe(0)
    const stored = await cli(dir, ['check', 'good'])
    expect(stored.code, stored.stdout + stored.stderr).toBe(0)
    expect(stored.stdout).toContain('No problems: "Good"')
  })

  it('tasks import --draft keeps a complete task a draft until it is imported without --draft', async () => {
    const dir = tempDir()
    const file = taskFile(
      cwd,
      'later.task.yaml',
      `id: later
subject: Later
${systems}
pairs:
  - crm: { type: customers }
    erp: { type: customers }
    fields: { email: email }
`,
    )
    const draft = await cli(dir, ['tasks', 'import', file, '--draft'])
    expect(draft.code, draft.stderr).toBe(0)
    expect(draft.stdout).toContain('as draft later: complete; import it without --draft')
    const start = await cli(dir, ['tasks', 'start', 'later'])
    expect(start.code).toBe(2)
    expect(start.stderr).toContain('task later is a draft: it is complete, save it as a task')
    const task = await cli(dir, ['tasks', 'import', file, '--json'])
    expect(task.code, task.stderr).toBe(0)
    expect(JSON.parse(task.stdout)).toMatchObject({ draft: false, active: true })
  })

  it('tasks import refuses a task whose SQL filter is not one condition; --draft keeps it as a draft', async () => {
    const dir = tempDir()
    const file = taskFile(
      cwd,
      'inject.task.yaml',
      `id: inject
subject: Inject
${systems}
pairs:
  - crm: { type: customers, filter: { sql: "1=1; DROP TABLE x" } }
    erp: { type: customers }
    fields: { email: email }
`,
    )
    const r = await cli(dir, ['tasks', 'import', file])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(
      'pairs[0].crm.filter: invalid SQL filter: only one condition is allowed',
    )
    const list = await cli(dir, ['tasks', 'list', '--json'])
    expect(JSON.parse(list.stdout)).toEqual([])
    const sub = taskFile(
      cwd,
      'sub.task.yaml',
      `id: sub
subject: Subquery
${systems}
pairs:
  - crm: { type: customers, filter: { sql: "id IN (SELECT id FROM other)" } }
    erp: { type: customers }
    fields: { email: email }
`,
    )
    expect((await cli(dir, ['tasks', 'import', sub])).code).toBe(2)
    const draft = await cli(dir, ['tasks', 'import', file, '--draft', '--json'])
    expect(draft.code, draft.stderr).toBe(0)
    expect(JSON.parse(draft.stdout)).toMatchObject({ draft: true, active: false })
    expect((await cli(dir, ['tasks', 'start', 'inject'])).code).toBe(2)
  })
})

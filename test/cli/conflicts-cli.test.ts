import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { cli, rows, sqlite, taskFile, tempDir } from './cli-harness.ts'

// Item 11 of issue 10: parked conflicts are listed and decided from the CLI, one by one or in
// bulk; the next run applies the decision; the summary counts the conflicts that wait.
describe('opensync conflicts', () => {
  const cwd = tempDir()
  const crm = join(cwd, 'crm.db')
  const erp = join(cwd, 'erp.db')
  let file = ''
  const city = (db: string, email: string) =>
    rows<{ city: string }>(db, `SELECT city FROM customers WHERE email = '${email}'`)[0]?.city

  /** Edits a customer's city differently on both sides. */
  const conflict = (email: string, n: number) => {
    sqlite(crm, `UPDATE customers SET city = 'CRM ${n}' WHERE email = '${email}'`)
    sqlite(erp, `UPDATE customers SET city = 'ERP ${n}' WHERE email = '${email}'`)
  }

  beforeAll(async () => {
    sqlite(
      crm,
      `CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT, city TEXT);
       INSERT INTO customers (email, city) VALUES
         ('a@x.org', 'Bonn'), ('b@x.org', 'Köln'), ('c@x.org', 'Ulm'), ('d@x.org', 'Jena');`,
    )
    sqlite(erp, 'CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT, city TEXT)')
    file = taskFile(
      cwd,
      'cf.task.yaml',
      `id: cf
subject: Conflicts
systems:
  crm: { bridge: sqlite, connection: { file: ${JSON.stringify(crm)} } }
  erp: { bridge: sqlite, connection: { file: ${JSON.stringify(erp)} } }
pairs:
  - id: customers
    crm: { type: customers }
    erp: { type: customers }
    fields: { email: email, city: city }
    match: [email]
    conflict: { winner: manual }
plan: { kind: manual }
`,
    )
    const imported = await cli(cwd, ['tasks', 'import', file])
    expect(imported.code, imported.stderr).toBe(0)
    const first = await cli(cwd, ['run', 'cf'])
    expect(first.code, first.stderr).toBe(0)
  })

  it('lists a parked conflict; the summary says it waits and never claims the sides are in step', async () => {
    conflict('a@x.org', 1)
    const run = await cli(cwd, ['run', 'cf'])
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toContain(
      '1 conflict waits for a decision, so the systems are not in step yet: opensync conflicts list cf',
    )
    // Nothing more to write, but the sides still differ: not "already in step".
    const quiet = await cli(cwd, ['run', 'cf'])
    expect(quiet.stdout).not.toContain('in step:')
    expect(quiet.stdout).not.toContain('already in step')
    expect(quiet.stdout).toContain('1 conflict waits for a decision')
    const json = await cli(cwd, ['run', 'cf', '--json'])
    expect((JSON.parse(json.stdout) as { openConflicts: number }).openConflicts).toBe(1)

    const list = await cli(cwd, ['conflicts', 'list', 'cf'])
    expect(list.code, list.stderr).toBe(0)
    expect(list.stdout).toContain('1 conflict of "Conflicts" (task cf) waits for a decision:')
    expect(list.stdout).toMatch(/^id\s+record\s+field\s+crm\s+erp\s+parked$/m)
    expect(list.stdout).toMatch(/^\d+\s+1 ↔ 1\s+city\s+"CRM 1"\s+"ERP 1"\s+\d{4}-/m)
    const all = await cli(cwd, ['conflicts', 'list'])
    expect(all.stdout).toContain('(task cf)')
  })

  it('resolve <id> --winner: the next run applies it on both sides, once', async () => {
    const [open] = JSON.parse((await cli(cwd, ['conflicts', 'list', 'cf', '--json'])).stdout) as {
      id: number
    }[]
    const bad = await cli(cwd, ['conflicts', 'resolve', String(open!.id), '--winner', 'nobody'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('--winner must be one of crm and erp, not "nobody"')
    const r = await cli(cwd, ['conflicts', 'resolve', String(open!.id), '--winner', 'erp'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain(`Conflict ${open!.id} decided: erp wins`)
    const run = await cli(cwd, ['run', 'cf'])
    expect(run.code, run.stderr).toBe(0)
    expect(city(crm, 'a@x.org')).toBe('ERP 1')
    expect(city(erp, 'a@x.org')).toBe('ERP 1')
    expect(run.stdout).not.toContain('wait for a decision')
    const again = await cli(cwd, ['run', 'cf'])
    expect(again.stdout).toContain('Nothing written: the systems were already in step.')
    expect((await cli(cwd, ['conflicts', 'list', 'cf'])).stdout).toContain(
      'No conflicts of "Conflicts" (task cf) wait for a decision.',
    )
    const twice = await cli(cwd, ['conflicts', 'resolve', String(open!.id), '--winner', 'crm'])
    expect(twice.code).toBe(2)
    expect(twice.stderr).toContain('applied already')
  })

  it('resolve <id> --value: both systems get the value', async () => {
    conflict('b@x.org', 2)
    await cli(cwd, ['run', 'cf'])
    const [open] = JSON.parse((await cli(cwd, ['conflicts', 'list', 'cf', '--json'])).stdout) as {
      id: number
    }[]
    const notJson = await cli(cwd, ['conflicts', 'resolve', String(open!.id), '--value', 'Bonn'])
    expect(notJson.code).toBe(2)
    expect(notJson.stderr).toContain('--value must be JSON')
    const r = await cli(cwd, ['conflicts', 'resolve', String(open!.id), '--value', '"Agreed"'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('both get "Agreed"')
    expect((await cli(cwd, ['run', 'cf'])).code).toBe(0)
    expect(city(crm, 'b@x.org')).toBe('Agreed')
    expect(city(erp, 'b@x.org')).toBe('Agreed')
    expect((await cli(cwd, ['run', 'cf'])).stdout).toContain('already in step')
  })

  it('resolve --task [--pair] --winner decides all of them at once', async () => {
    conflict('c@x.org', 3)
    conflict('d@x.org', 4)
    await cli(cwd, ['run', 'cf'])
    const noPair = await cli(cwd, [
      'conflicts',
      'resolve',
      '--task',
      'cf',
      '--pair',
      'nope',
      '--winner',
      'crm',
    ])
    expect(noPair.code).toBe(2)
    expect(noPair.stderr).toContain('task cf has no pair "nope" (its pairs: customers)')
    const r = await cli(cwd, [
      'conflicts',
      'resolve',
      '--task',
      'cf',
      '--pair',
      'customers',
      '--winner',
      'crm',
    ])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('2 conflicts of task cf decided: crm wins.')
    expect((await cli(cwd, ['run', 'cf'])).code).toBe(0)
    for (const db of [crm, erp]) {
      expect(city(db, 'c@x.org')).toBe('CRM 3')
      expect(city(db, 'd@x.org')).toBe('CRM 4')
    }
    const none = await cli(cwd, ['conflicts', 'resolve', '--winner', 'crm'])
    expect(none.code).toBe(2)
    expect(none.stderr).toContain('name the conflict')
  })

  it('conflicts and its subcommands have their own --help with examples', async () => {
    for (const command of [['conflicts'], ['conflicts', 'list'], ['conflicts', 'resolve']]) {
      const r = await cli(cwd, [...command, '--help'])
      expect(r.code).toBe(0)
      expect(r.stdout).toContain(`Usage: opensync ${command.join(' ')} `)
      expect(r.stdout).toMatch(/^Examples?:\n {2}opensync conflicts/m)
    }
  })
})

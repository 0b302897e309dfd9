import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { afterAll, describe, expect, it } from 'vitest'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, string>
}
const dir = mkdtempSync(join(tmpdir(), 'osy-exports-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('package exports', () => {
  it.each(Object.entries(pkg.exports))('%s resolves to a module that loads', async (_, target) => {
    const module = (await import(join(root, target))) as Record<string, unknown>
    expect(Object.keys(module).length).toBeGreaterThan(0)
  })

  it('the main entry runs a task file from code', async () => {
    const api = (await import(join(root, pkg.exports['.']!))) as typeof import('../../src/index.ts')
    const crm = new Database(join(dir, 'crm.db'))
    crm.exec(`CREATE TABLE contacts (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, email TEXT NOT NULL);
      INSERT INTO contacts (name, email) VALUES ('Ada', 'ada@example.com'), ('Grace', 'grace@example.com')`)
    crm.close()
    const erp = new Database(join(dir, 'erp.db'))
    erp.exec(
      'CREATE TABLE kunden (nr INTEGER PRIMARY KEY AUTOINCREMENT, firma TEXT NOT NULL, mail TEXT NOT NULL)',
    )
    erp.close()
    const task = api.parseTaskFile(
      `subject: From code
systems:
  crm: { bridge: sqlite, connection: { file: "\${DIR}/crm.db" } }
  erp: { bridge: sqlite, connection: { file: "\${DIR}/erp.db" } }
pairs:
  - { crm: { type: contacts }, erp: { type: kunden }, direction: crm->erp, fields: { name: firma, email: mail }, match: [email] }
`,
      { format: 'yaml', env: { DIR: dir } },
    )
    const store = await api.openStore({ url: `sqlite:${join(dir, 'store.db')}` })
    try {
      const registry = await api.createRegistry()
      const first = await api.runTask(task, { store, registry })
      expect(first.status).toBe('succeeded')
      expect(first.totals.created).toBe(2)
      const again = await api.runTask(task, { store, registry })
      expect(again.totals.created + again.totals.updated).toBe(0)
    } finally {
      await store.close()
    }
    const rows = new Database(join(dir, 'erp.db'), { readonly: true })
      .prepare('SELECT firma, mail FROM kunden ORDER BY nr')
      .all()
    expect(rows).toEqual([
      { firma: 'Ada', mail: 'ada@example.com' },
      { firma: 'Grace', mail: 'grace@example.com' },
    ])
    expect(typeof api.Service).toBe('function')
  })
})

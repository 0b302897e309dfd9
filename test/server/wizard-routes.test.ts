/**
 * The wizard's routes (app.inject) against real systems: the demo CRM and ERP (SQLite
 * files made by `opensync demo`) and the PostgreSQL test server for the database list.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import mysql from 'mysql2/promise'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { createDemo } from '../../src/cli/demo.ts'
import type { Role } from '../../src/server/access/permissions.ts'
import { MYSQL_HOST, MYSQL_PORT } from '../support/mysql-harness.ts'
import { PG_URL } from '../support/postgres-harness.ts'
import { type TestServer, testServer } from './server-harness.ts'

let server: TestServer
let crm: string
let erp: string
let taskFile: string
const tokens: Record<string, string> = {}

const call = (who: string, method: 'GET' | 'POST', url: string, payload?: unknown) =>
  server.app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${tokens[who]}` },
    ...(payload !== undefined ? { payload: payload as object } : {}),
  })

const sqlite = (file: string) => ({ bridge: 'sqlite', connection: { file } })

beforeAll(async () => {
  server = await testServer()
  taskFile = createDemo(join(server.dir, 'demo'), 200)
  crm = join(server.dir, 'demo', 'crm.db')
  erp = join(server.dir, 'demo', 'erp.db')
  const password = 'a long enough password 1'
  const users: [string, Role, string[]?][] = [
    ['ed', 'editor'],
    ['vic', 'viewer'],
    ['lim', 'editor', ['demo-erp']],
  ]
  for (const [username, role, profiles] of users) {
    await server.access.addUser(
      { username, password, role, ...(profiles ? { profiles } : {}) },
      'test',
    )
    const scopes = role === 'viewer' ? ['read'] : ['read', 'operate', 'edit']
    tokens[username] = (
      await server.access.createToken({ name: username, username, scopes: scopes as never }, 'test')
    ).token
  }
})
afterAll(() => server.close())

describe('wizard: bridges and profiles', () => {
  it('lists the bridges with their connection forms as fields and JSON Schema with UI hints', async () => {
    const res = await call('vic', 'GET', '/api/bridges')
    expect(res.statusCode).toBe(200)
    const items = res.json().items as {
      name: string
      form: { fields: { name: string }[]; jsonSchema: { properties: Record<string, unknown> } }
    }[]
    const pg = items.find((b) => b.name === 'postgres')!
    expect(pg.form.fields.map((f) => f.name).slice(0, 3)).toEqual(['url', 'host', 'port'])
    expect(pg.form.jsonSchema.properties.password).toMatchObject({
      type: 'string',
      title: 'Password',
      writeOnly: true,
      format: 'password',
    })
    expect(pg.form.jsonSchema.properties.port).toMatchObject({
      type: 'number',
      default: 5432,
      'x-order': 2,
    })
    expect(items.map((b) => b.name)).toEqual(expect.arrayContaining(['sqlite', 'mysql']))
    const one = await call('vic', 'GET', '/api/bridges/sqlite')
    expect(one.json()).toMatchObject({ name: 'sqlite', filterKinds: ['sql', 'keyValue'] })
    expect((await call('vic', 'GET', '/api/bridges/nope')).json()).toMatchObject({
      status: 404,
      code: 'OSY_BRIDGE_NOT_FOUND',
    })
  })

  it('lists and shows profiles; a caller limited to one sees it and the home systems only', async () => {
    const all = (await call('vic', 'GET', '/api/profiles'))
      .json()
      .items.map((p: { id: string }) => p.id)
    expect(all).toEqual(expect.arrayContaining(['demo-crm', 'demo-erp', 'mailing-pro', 'postgres']))
    const limited = (await call('lim', 'GET', '/api/profiles')).json().items as {
      id: string
      home: boolean
    }[]
    expect(limited.map((p) => p.id)).toContain('demo-erp')
    expect(limited.map((p) => p.id)).not.toContain('mailing-pro')
    expect(limited.filter((p) => p.id !== 'demo-erp').every((p) => p.home)).toBe(true)
    expect((await call('lim', 'GET', '/api/profiles/mailing-pro')).statusCode).toBe(404)

    const shown = (await call('vic', 'GET', '/api/profiles/demo-crm')).json()
    expect(shown).toMatchObject({ id: 'demo-crm', bridge: 'sqlite', home: true })
    expect(shown.form.fields[0]).toMatchObject({ name: 'file', label: 'CRM database file' })
    expect(shown.form.jsonSchema.properties.file.title).toBe('CRM database file')
    expect(shown.recordTypes).toEqual(['addresses', 'contacts', 'opportunities'])
  })

  it('makes a task document from two profiles with the choices made, saying what is missing', async () => {
    const made = await call('ed', 'POST', '/api/profiles/task', {
      home: 'demo-crm',
      other: 'demo-erp',
      choices: { connection: { home: { file: crm } } },
    })
    expect(made.statusCode).toBe(200)
    const { document, missing } = made.json()
    expect(Object.keys(document.systems)).toEqual(['crm', 'erp'])
    expect(document.systems.crm.connection.file).toBe(crm)
    expect(document.systems.crm.profile).toMatchObject({ id: 'demo-crm' })
    expect(Array.isArray(missing)).toBe(true)
    expect(
      (await call('vic', 'POST', '/api/profiles/task', { home: 'demo-crm', other: 'demo-erp' }))
        .statusCode,
    ).toBe(403)
    expect(
      (await call('ed', 'POST', '/api/profiles/task', { home: 'nope', other: 'demo-erp' })).json()
        .code,
    ).toBe('OSY_PROFILE_NOT_FOUND')
  })
  it('lists the pairs two profiles offer: directions, named field assignments, the pair with its defaults', async () => {
    const res = await call('vic', 'POST', '/api/profiles/pairs', {
      home: 'demo-crm',
      other: 'demo-erp',
    })
    expect(res.statusCode).toBe(200)
    const { keys, items } = res.json()
    expect(keys).toEqual(['crm', 'erp'])
    const customers = items.find((p: { id: string }) => p.id === 'customers')
    expect(customers).toMatchObject({
      fixed: false,
      home: 'addresses',
      other: 'customers',
      directions: ['both', 'crm->erp', 'erp->crm'],
    })
    expect(Object.keys(customers.fieldAssignments)).toEqual(['standard', 'minimal'])
    expect(customers.fieldAssignments.standard.country).toMatchObject({
      crm: 'country',
      erp: 'land',
      toErp: { map: { Germany: 'DE' } },
    })
    expect(customers.pair).toMatchObject({ id: 'customers', crm: { type: 'addresses' } })
    expect(customers.pair.fields).toEqual(customers.fieldAssignments.standard)
    const renamed = await call('vic', 'POST', '/api/profiles/pairs', {
      home: 'demo-crm',
      other: 'demo-erp',
      keys: { other: 'shop' },
    })
    expect(renamed.json().items[0].directions).toContain('crm->shop')
  })
})

describe('wizard: connections', () => {
  it('checks a connection from given values: fine, or the classified error', async () => {
    expect(
      (await call('ed', 'POST', '/api/connections/check', { system: sqlite(crm) })).json(),
    ).toEqual({ ok: true })
    const missing = await call('ed', 'POST', '/api/connections/check', {
      system: sqlite(join(server.dir, 'none.db')),
    })
    expect(missing.statusCode).toBe(400)
    expect(missing.json().code).toBe('OSY_UNKNOWN_DATABASE')
    const unknownField = await call('ed', 'POST', '/api/connections/check', {
      system: { bridge: 'sqlite', connection: { file: crm, nope: 1 } },
    })
    expect(unknownField.json().code).toBe('OSY_INVALID_CONNECTION')
    expect(
      (await call('vic', 'POST', '/api/connections/check', { system: sqlite(crm) })).statusCode,
    ).toBe(403)
  })

  it('discovers record types and fields', async () => {
    const res = await call('ed', 'POST', '/api/connections/discover', { system: sqlite(erp) })
    const customers = res.json().items.find((t: { name: string }) => t.name === 'customers')
    expect(customers).toMatchObject({ kind: 'table', keyFields: ['cust_no'] })
    expect(customers.fields.map((f: { name: string }) => f.name)).toContain('company_name')
    expect(customers.cursorCandidates).toContain('modified')
  })

  it('lists the databases of a PostgreSQL server', async () => {
    const res = await call('ed', 'POST', '/api/connections/databases', {
      system: { bridge: 'postgres', connection: { url: PG_URL } },
    })
    expect(res.statusCode).toBe(200)
    expect(res.json().items).toContain('test')
    const sqliteList = await call('ed', 'POST', '/api/connections/databases', {
      system: sqlite(crm),
    })
    expect(sqliteList.json().code).toBe('OSY_UNSUPPORTED')
  })

  it("validates a filter for a record type: the parser's message with its position", async () => {
    const check = (filter: unknown) =>
      call('ed', 'POST', '/api/connections/filter', {
        system: sqlite(crm),
        recordType: 'addresses',
        filter,
      })
    expect((await check({ sql: "country = 'DE' AND zip1 LIKE '7%'" })).json()).toEqual({
      valid: true,
    })
    const syntax = (await check({ sql: "country = = 'DE'" })).json()
    expect(syntax).toMatchObject({ valid: false, code: 'OSY_INVALID_FILTER', position: 10 })
    expect(syntax.message).toMatch(/not a valid sqlite condition/)
    const column = (await check({ sql: 'colour = 1' })).json()
    expect(column.valid).toBe(false)
    expect(column.message).toContain('colour')
    expect((await check({ sql: 'id = :id', parameters: { id: 3 } })).json()).toEqual({
      valid: true,
    })
  })

  it('samples records with a filter applied', async () => {
    const db = new Database(crm, { readonly: true })
    const { country } = db.prepare('SELECT country FROM addresses LIMIT 1').get() as {
      country: string
    }
    const expected = (
      db.prepare('SELECT COUNT(*) AS n FROM addresses WHERE country = ?').get(country) as {
        n: number
      }
    ).n
    db.close()
    const res = await call('ed', 'POST', '/api/connections/sample', {
      system: sqlite(crm),
      recordType: 'addresses',
      filter: { keyValue: { country } },
      limit: 5,
    })
    expect(res.statusCode).toBe(200)
    const items = res.json().items as { key: string; values: { country: string } }[]
    expect(items).toHaveLength(Math.min(5, expected))
    expect(items.every((r) => r.values.country === country)).toBe(true)
    expect(
      (
        await call('ed', 'POST', '/api/connections/sample', {
          system: sqlite(crm),
          recordType: 'nope',
        })
      ).json().code,
    ).toBe('OSY_RECORD_TYPE_NOT_FOUND')
  })
})

describe('wizard: dry-run preview', () => {
  it('previews a task document: totals and the first N planned changes per kind, writing nothing', async () => {
    const document = parse(readFileSync(taskFile, 'utf8'))
    const count = () => {
      const db = new Database(erp, { readonly: true })
      const n = (db.prepare('SELECT COUNT(*) AS n FROM customers').get() as { n: number }).n
      db.close()
      return n
    }
    const before = count()
    const res = await call('ed', 'POST', '/api/preview?limit=3', { document })
    expect(res.statusCode).toBe(200)
    const preview = res.json()
    expect(preview.status).toBe('succeeded')
    expect(preview.totals.created).toBeGreaterThan(3)
    expect(preview.changes.create).toHaveLength(3)
    expect(preview.changes.create[0]).toMatchObject({ from: 'crm', to: 'erp' })
    expect(count()).toBe(before)
    expect(await server.store.executions.list(document.id ?? 'x', 5)).toEqual([])

    // A stored task by id, the same way.
    const saved = await server.tasks.save(document)
    const stored = await call('ed', 'POST', `/api/tasks/${saved.id}/preview?limit=2`)
    expect(stored.statusCode).toBe(200)
    expect(stored.json().changes.create).toHaveLength(2)
    expect(await server.store.executions.list(saved.id, 5)).toEqual([])
    expect((await call('ed', 'POST', '/api/tasks/nope/preview')).statusCode).toBe(404)
    const invalid = await call('ed', 'POST', '/api/preview', { document: { subject: 'x' } })
    expect(invalid.json().code).toBe('OSY_INVALID_TASK')
  })
})

describe('wizard: a stored task being edited, its secrets masked', () => {
  // A MariaDB user that needs its password, on a database of its own.
  const user = 'osy_wiz_pw'
  const secret = 'wiz-Secret-7f3a9c-pass'
  const database = 'osy_wiz_pw_db'
  const root = { host: MYSQL_HOST, port: MYSQL_PORT, user: 'root', password: '' }
  const logLines: string[] = []
  let logged: TestServer
  let editor: string
  let limited: string

  const as = (token: string, url: string, payload: unknown) =>
    logged.app.inject({
      method: 'POST',
      url,
      headers: { authorization: `Bearer ${token}` },
      payload: payload as object,
    })

  beforeAll(async () => {
    const admin = await mysql.createConnection(root)
    await admin.query(`DROP DATABASE IF EXISTS \`${database}\``)
    await admin.query(`CREATE DATABASE \`${database}\``)
    await admin.query(`CREATE TABLE \`${database}\`.orders (id INT PRIMARY KEY, total INT)`)
    await admin.query(`CREATE USER IF NOT EXISTS '${user}'@'%' IDENTIFIED BY '${secret}'`)
    await admin.query(`ALTER USER '${user}'@'%' IDENTIFIED BY '${secret}'`)
    await admin.query(`GRANT ALL ON \`${database}\`.* TO '${user}'@'%'`)
    await admin.end()
    logged = await testServer({
      logger: { level: 'trace', stream: { write: (line: string) => logLines.push(line) } },
    })
    editor = await logged.tokenFor('editor')
    limited = await logged.tokenFor('editor', ['demo-erp'])
  })
  afterAll(async () => {
    await logged?.close()
    const admin = await mysql.createConnection(root)
    await admin.query(`DROP DATABASE IF EXISTS \`${database}\``)
    await admin.query(`DROP USER IF EXISTS '${user}'@'%'`)
    await admin.end()
  })

  it('fills in the stored password for the placeholder, for a caller who may see the task, and never shows it', async () => {
    const connection = { host: MYSQL_HOST, port: MYSQL_PORT, user, password: secret, database }
    const created = await logged.app.inject({
      method: 'POST',
      url: '/api/tasks',
      headers: { authorization: `Bearer ${editor}` },
      payload: {
        document: {
          id: 'wiz-pw',
          subject: 'Wizard password',
          systems: { shop: { bridge: 'mysql', connection } },
        },
        draft: true,
      },
    })
    expect(created.statusCode).toBe(201)
    const shown = await logged.app.inject({
      method: 'GET',
      url: '/api/tasks/wiz-pw',
      headers: { authorization: `Bearer ${editor}` },
    })
    const system = shown.json().document.systems.shop
    expect(system.connection.password).toBe('********')
    const stored = { task: 'wiz-pw', system: 'shop' }

    // As the browser holds them, without the reference: the placeholder is the password.
    const refused = await as(editor, '/api/connections/check', { system })
    expect(refused.statusCode).toBeGreaterThanOrEqual(400)
    expect(refused.json().code).toBe('OSY_AUTH_FAILED')

    const responses = [refused.body]
    const checked = await as(editor, '/api/connections/check', { system, stored })
    responses.push(checked.body)
    expect(checked.json()).toEqual({ ok: true })
    const discovered = await as(editor, '/api/connections/discover', { system, stored })
    responses.push(discovered.body)
    expect(discovered.statusCode).toBe(200)
    expect(discovered.json().items.map((t: { name: string }) => t.name)).toContain('orders')
    const listed = await as(editor, '/api/connections/databases', { system, stored })
    responses.push(listed.body)
    expect(listed.json().items).toContain(database)
    const filter = await as(editor, '/api/connections/filter', {
      system,
      stored,
      recordType: 'orders',
      filter: { sql: 'total > 1' },
    })
    responses.push(filter.body)
    expect(filter.json()).toEqual({ valid: true })
    const sample = await as(editor, '/api/connections/sample', {
      system,
      stored,
      recordType: 'orders',
    })
    responses.push(sample.body)
    expect(sample.json()).toEqual({ items: [] })

    // Another system key has nothing to keep; another bridge neither.
    const wrongKey = await as(editor, '/api/connections/check', {
      system,
      stored: { task: 'wiz-pw', system: 'nope' },
    })
    responses.push(wrongKey.body)
    expect(wrongKey.json().code).toBe('OSY_INVALID_TASK')

    // A caller who may not see the task learns nothing of it; a task that is not there: 404.
    const hidden = await as(limited, '/api/connections/discover', { system, stored })
    responses.push(hidden.body)
    expect(hidden.statusCode).toBe(404)
    expect(hidden.json().code).toBe('OSY_TASK_NOT_FOUND')
    const missing = await as(editor, '/api/connections/check', {
      system,
      stored: { task: 'no-such-task', system: 'shop' },
    })
    expect(missing.statusCode).toBe(404)

    // A server that does not answer: a 5xx, which the server logs.
    const down = await as(editor, '/api/connections/check', {
      system: { ...system, connection: { ...system.connection, port: 1 } },
      stored,
    })
    responses.push(down.body)
    expect(down.statusCode).toBeGreaterThanOrEqual(500)
    expect(logLines.length).toBeGreaterThan(0)
    for (const text of [...responses, ...logLines]) expect(text).not.toContain(secret)
  })
})

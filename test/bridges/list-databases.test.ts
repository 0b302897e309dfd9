import { randomBytes } from 'node:crypto'
import mysql from 'mysql2/promise'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createRegistry,
  mysqlBridge,
  postgresBridge,
  sqliteBridge,
} from '../../src/bridges/index.ts'
import { capabilitiesOf, isOpenSyncError, silentLogger } from '../../src/sdk/index.ts'
import { listHomeDatabases, loadProfiles } from '../../src/service/profiles/index.ts'
import { MYSQL_HOST, MYSQL_PORT } from '../support/mysql-harness.ts'
import { PG_URL } from '../support/postgres-harness.ts'

const ctx = { log: silentLogger }
const suffix = () => randomBytes(4).toString('hex')

describe('listDatabases on PostgreSQL', () => {
  const ours = `osy_ld_${suffix()}`
  const closed = `osy_ld_closed_${suffix()}`
  const role = `osy_ld_role_${suffix()}`
  let admin: pg.Client
  const server = new URL(PG_URL)
  const values = { host: server.hostname, port: Number(server.port || 5432), user: 'postgres' }

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: PG_URL })
    await admin.connect()
    await admin.query(`CREATE DATABASE ${ours}`)
    await admin.query(`CREATE DATABASE ${closed}`)
    await admin.query(`REVOKE CONNECT ON DATABASE ${closed} FROM PUBLIC`)
    await admin.query(`CREATE ROLE ${role} LOGIN`)
  })

  afterAll(async () => {
    for (const name of [ours, `${ours}_new`, closed]) {
      await admin.query(`DROP DATABASE IF EXISTS ${name}`)
    }
    await admin.query(`DROP ROLE IF EXISTS ${role}`)
    await admin.end()
  })

  it('says it can, and lists the databases without the templates', async () => {
    expect(capabilitiesOf(postgresBridge).listDatabases).toBe(true)
    const names = await postgresBridge.listDatabases!(values, ctx)
    expect(names).toContain(ours)
    expect(names).toContain('postgres')
    expect(names).not.toContain('template0')
    expect(names).not.toContain('template1')
    expect([...names].sort()).toEqual(names)
  })

  it('leaves out databases the user may not connect to', async () => {
    const asAdmin = await postgresBridge.listDatabases!(values, ctx)
    expect(asAdmin).toContain(closed)
    const asRole = await postgresBridge.listDatabases!({ ...values, user: role }, ctx)
    expect(asRole).toContain(ours)
    expect(asRole).not.toContain(closed)
  })

  it('still lists when the named database was renamed, so the new name can be picked', async () => {
    await admin.query(`ALTER DATABASE ${ours} RENAME TO ${ours}_new`)
    try {
      const url = new URL(PG_URL)
      url.pathname = `/${ours}`
      for (const named of [{ ...values, database: ours }, { url: url.toString() }]) {
        const names = await postgresBridge.listDatabases!(named, ctx)
        expect(names).toContain(`${ours}_new`)
        expect(names).not.toContain(ours)
      }
    } finally {
      await admin.query(`ALTER DATABASE ${ours}_new RENAME TO ${ours}`)
    }
  })

  it("fills the home profile's database drop-down", async () => {
    const registry = await createRegistry()
    const catalog = await loadProfiles({ registry, sources: [] })
    const names = await listHomeDatabases(catalog.get('postgres'), values, registry)
    expect(names).toContain(ours)
    const error = await listHomeDatabases(catalog.get('demo-crm'), {}, registry).catch(
      (e: unknown) => e,
    )
    expect(isOpenSyncError(error) && error.code).toBe('OSY_UNSUPPORTED')
  })

  it('reports a server it cannot reach as such', async () => {
    const error = await postgresBridge.listDatabases!({ ...values, port: 1 }, ctx).catch(
      (e: unknown) => e,
    )
    expect(isOpenSyncError(error) && error.code).toBe('OSY_UNREACHABLE')
  })
})

describe('listDatabases on MySQL/MariaDB', () => {
  const ours = `osy_ld_${suffix()}`
  const other = `osy_ld_other_${suffix()}`
  const user = `osy_ld_${suffix()}`
  let admin: mysql.Connection
  const values = { host: MYSQL_HOST, port: MYSQL_PORT, user: 'root' }

  beforeAll(async () => {
    admin = await mysql.createConnection({ host: MYSQL_HOST, port: MYSQL_PORT, user: 'root' })
    await admin.query(`CREATE DATABASE ${ours}`)
    await admin.query(`CREATE DATABASE ${other}`)
    for (const host of ['%', 'localhost']) {
      await admin.query(`CREATE USER '${user}'@'${host}' IDENTIFIED BY 'pw-${user}'`)
      await admin.query(`GRANT SELECT ON ${ours}.* TO '${user}'@'${host}'`)
    }
  })

  afterAll(async () => {
    for (const host of ['%', 'localhost'])
      await admin.query(`DROP USER IF EXISTS '${user}'@'${host}'`)
    for (const name of [ours, other]) await admin.query(`DROP DATABASE IF EXISTS ${name}`)
    await admin.end()
  })

  it('says it can, and lists the databases without the system schemas', async () => {
    expect(capabilitiesOf(mysqlBridge).listDatabases).toBe(true)
    const names = await mysqlBridge.listDatabases!(values, ctx)
    expect(names).toContain(ours)
    expect(names).toContain(other)
    for (const system of ['mysql', 'information_schema', 'performance_schema', 'sys']) {
      expect(names).not.toContain(system)
    }
  })

  it('lists only the databases the user has rights on', async () => {
    const names = await mysqlBridge.listDatabases!({ ...values, user, password: `pw-${user}` }, ctx)
    expect(names).toEqual([ours])
  })

  it('lists when the named database does not exist (any more)', async () => {
    const gone = { ...values, database: `osy_ld_gone_${suffix()}` }
    expect(await mysqlBridge.listDatabases!(gone, ctx)).toContain(ours)
    const url = `mysql://root@${MYSQL_HOST}:${MYSQL_PORT}/osy_ld_gone_${suffix()}`
    expect(await mysqlBridge.listDatabases!({ url }, ctx)).toContain(ours)
  })

  it('reports a wrong password as an authentication failure', async () => {
    const error = await mysqlBridge.listDatabases!(
      { ...values, user, password: 'wrong' },
      ctx,
    ).catch((e: unknown) => e)
    expect(isOpenSyncError(error) && error.code).toBe('OSY_AUTH_FAILED')
  })
})

describe('listDatabases on SQLite', () => {
  it('is not offered: a file is one database', () => {
    expect(capabilitiesOf(sqliteBridge).listDatabases).toBe(false)
    expect(sqliteBridge.listDatabases).toBeUndefined()
  })
})

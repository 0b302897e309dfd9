/**
 * The shipped MailingPro profile and manifest (profiles/mailing-pro*.yaml), end to end: a
 * task made from the `postgres` and `mailing-pro` profiles (tenant ID, pool ID, a postal
 * code parameter) syncs a PostgreSQL addresses table with the recipients of one pool of
 * the fixture server's MailingPro API, through OAuth2, batch creates and cursor pages.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { stringify } from 'yaml'
import { createRegistry } from '../../src/bridges/index.ts'
import { runTask } from '../../src/engine/run-task.ts'
import { parseTaskFile } from '../../src/engine/task/index.ts'
import { loadProfiles, taskFromProfiles } from '../../src/service/profiles/index.ts'
import { openStore } from '../../src/store/index.ts'
import type { HarnessDb } from '../support/harness.ts'
import { postgresHarness } from '../support/postgres-harness.ts'
import { type FixtureServer, startFixtureServer } from '../support/rest-fixture-server.ts'
import { written } from '../support/sync-fixture.ts'

describe('MailingPro profile', () => {
  let pg: HarnessDb
  let server: FixtureServer
  const pool = 'mp/acme/newsletter/recipients'

  beforeAll(async () => {
    pg = await postgresHarness.setup()
    server = await startFixtureServer({
      auth: { type: 'oauth2', clientId: 'acme-api', clientSecret: 'pool-secret-9' },
      tenants: { acme: ['newsletter', 'other'] },
    })
  })
  afterAll(async () => {
    await server?.close()
    await pg?.teardown()
  })

  it('a task from the postgres and mailing-pro profiles keeps a pool in step with addresses of one postal code', async () => {
    await pg.exec(`CREATE TABLE addresses (id serial PRIMARY KEY, name varchar(80), email varchar(80) UNIQUE,
      zip1 varchar(10), updated_at timestamptz(6) NOT NULL DEFAULT clock_timestamp())`)
    const rows = Array.from(
      { length: 300 },
      (_, i) => `('Name ${i}', 'a${i}@example.com', '${i % 3 === 0 ? '76137' : '10115'}')`,
    )
    await pg.exec(`INSERT INTO addresses (name, email, zip1) VALUES ${rows.join(', ')}`)
    server.insert(pool, [
      { email: 'a0@example.com', firstName: 'Ann', lastName: 'Old', zip: '76137' },
      { email: 'web@example.com', firstName: 'Wes', lastName: 'Web', zip: '76137' },
    ])
    server.insert('mp/acme/other/recipients', [{ email: 'elsewhere@example.com', zip: '76137' }])

    const registry = await createRegistry()
    const catalog = await loadProfiles({ registry, sources: [] })
    const { document, missing } = taskFromProfiles(
      catalog.get('postgres'),
      catalog.get('mailing-pro'),
      {
        id: 'addresses-mailing',
        connection: {
          home: {
            host: '127.0.0.1',
            user: 'postgres',
            database: 'test',
            schema: String(pg.values.schema),
          },
          other: {
            baseUrl: `${server.url}/mp/v1`,
            user: 'acme-api',
            password: 'pool-secret-9',
            tenant: 'acme',
            pool: 'newsletter',
          },
        },
        pairs: [{ id: 'addresses', parameters: { home: { zip: '76137' } } }],
      },
    )
    expect(missing).toEqual([])
    const task = parseTaskFile(stringify(document), { format: 'yaml', env: {} })
    const store = await openStore({ url: join(mkdtempSync(join(tmpdir(), 'osy-mp-')), 'store.db') })
    try {
      const first = await runTask(task, { store, registry })
      expect(first.status, JSON.stringify(first.error)).toBe('succeeded')
      expect(first.totals.errors).toBe(0)
      const recipients = server.rows(pool)
      // The 100 addresses with postal code 76137, plus the one recipient only MailingPro had.
      expect(recipients).toHaveLength(101)
      expect(new Set(recipients.map((r) => r.email)).size).toBe(101)
      expect(recipients.find((r) => r.email === 'a0@example.com')).toMatchObject({
        lastName: 'Name 0',
        firstName: 'Ann',
        zip: '76137',
      })
      expect(recipients.some((r) => r.email === 'a1@example.com')).toBe(false)
      const back = await pg.query(
        `SELECT name, zip1 FROM addresses WHERE email = 'web@example.com'`,
      )
      expect(back).toEqual([{ name: 'Web', zip1: '76137' }])
      expect(server.rows('mp/acme/other/recipients')).toHaveLength(1)
      expect(server.stats.tokens).toBe(1)
      expect(written(await runTask(task, { store, registry }))).toBe(0)

      // A recipient edited in MailingPro comes home on the next run, read since the checkpoint.
      const r = server.rows(pool).find((x) => x.email === 'a3@example.com')!
      server.touch(pool, r.id, { lastName: 'Edited in MailingPro' })
      const before = server.stats.requests
      const third = await runTask(task, { store, registry })
      expect(written(third)).toBe(1)
      expect(server.stats.requests - before).toBeLessThan(10)
      const edited = await pg.query(`SELECT name FROM addresses WHERE email = 'a3@example.com'`)
      expect(edited).toEqual([{ name: 'Edited in MailingPro' }])
    } finally {
      await store.close()
    }
  })
})

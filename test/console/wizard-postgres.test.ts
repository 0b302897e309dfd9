/**
 * The wizard with a real PostgreSQL system: a task from the shipped `postgres` (home) and
 * `mailing-pro` profiles — the shipped pair that offers a PostgreSQL side — built in the
 * browser against a fresh database, its connection tested, run from the task page, and the
 * rows checked in PostgreSQL with a direct query.
 */
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { postgresDialect } from '../../src/sdk/index.ts'
import { PG_URL } from '../support/postgres-harness.ts'
import { type FixtureServer, startFixtureServer } from '../support/rest-fixture-server.ts'
import {
  choose,
  launchBrowser,
  openPage,
  type RunningService,
  seriousViolations,
  signIn,
  startService,
} from './console-harness.ts'

const PASSWORD = 'postgres wizard admin password'
const SUBJECT = 'Wizard: PostgreSQL addresses ↔ MailingPro recipients'
const DATABASE = `osy_pgwiz_${randomBytes(4).toString('hex')}`
const POOL = 'mp/acme/newsletter/recipients'
const q = postgresDialect.quoteIdentifier

let admin: pg.Client
let db: pg.Client | undefined
let server: FixtureServer
let service: RunningService
let browser: Browser
let page: Page

beforeAll(async () => {
  admin = new pg.Client({ connectionString: PG_URL })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${q(DATABASE)}`)
  const url = new URL(PG_URL)
  url.pathname = `/${DATABASE}`
  db = new pg.Client({ connectionString: url.toString() })
  await db.connect()
  // The table the `addresses` pair of the mailing-pro profile expects: name, email, zip1.
  await db.query(`CREATE TABLE addresses (id serial PRIMARY KEY, name varchar(80),
    email varchar(80) UNIQUE, zip1 varchar(10),
    updated_at timestamptz(6) NOT NULL DEFAULT clock_timestamp())`)
  await db.query(
    `INSERT INTO addresses (name, email, zip1) VALUES ('Berg', 'berg@example.com', '76137')`,
  )
  ;[server, service, browser] = await Promise.all([
    startFixtureServer({
      auth: { type: 'oauth2', clientId: 'acme-api', clientSecret: 'pool-secret-9' },
      tenants: { acme: ['newsletter'] },
    }),
    startService([], { OPENSYNC_ADMIN_PASSWORD: PASSWORD }),
    launchBrowser(),
  ])
  server.insert(POOL, [
    { email: 'web@example.com', firstName: 'Wes', lastName: 'Web', zip: '10115' },
    { email: 'mail@example.com', firstName: 'Mia', lastName: 'Mail', zip: '76137' },
  ])
  page = await openPage(browser)
  await signIn(page, service.url, 'admin', PASSWORD)
}, 60_000)
afterAll(async () => {
  await browser?.close()
  await service?.stop()
  await server?.close()
  await db?.end()
  if (admin) {
    await admin.query(`DROP DATABASE IF EXISTS ${q(DATABASE)} WITH (FORCE)`)
    await admin.end()
  }
})

describe('the synchronization wizard with PostgreSQL', () => {
  it('makes a task from the postgres and mailing-pro profiles, tests the connection, runs it and the rows arrive in PostgreSQL', async () => {
    await page.getByRole('link', { name: 'New task' }).click()
    await page.getByRole('heading', { name: 'New synchronization task' }).waitFor()
    await choose(page, 'Home system', /PostgreSQL/)
    await choose(page, 'System to be connected', /MailingPro/)
    await page.getByTestId('profile-postgres').getByText('postgres', { exact: true }).waitFor()
    await page.getByLabel('Subject').fill(SUBJECT)
    await page.getByRole('button', { name: 'Next' }).click()

    // Step 2: the PostgreSQL form (from the bridge's fields); the database from the server.
    const home = page.getByRole('region', { name: 'Home system' })
    await home.locator('input[data-field="host"]').fill('127.0.0.1')
    await home.locator('input[data-field="port"]').fill('5432')
    await home.locator('input[data-field="user"]').fill('postgres')
    await home.getByRole('button', { name: 'Read from server' }).click()
    await home.getByRole('combobox', { name: /^Database/ }).click()
    await page.getByRole('option', { name: DATABASE, exact: true }).click()
    await home.getByRole('button', { name: 'Test connection' }).click()
    await home.getByRole('status').filter({ hasText: 'The connection works.' }).waitFor()

    const other = page.getByRole('region', { name: 'System to be connected' })
    await other.getByLabel(/^Service URL/).fill(`${server.url}/mp/v1`)
    await other.getByLabel(/^Account/).fill('acme-api')
    await other.getByLabel(/^Password/).fill('pool-secret-9')
    await other.getByLabel(/^Tenant ID/).fill('acme')
    await other.getByLabel(/^Pool ID/).fill('newsletter')
    await other.getByRole('button', { name: 'Test connection' }).click()
    await other.getByRole('status').filter({ hasText: 'The connection works.' }).waitFor()
    expect(await seriousViolations(page)).toEqual([])
    await page.getByRole('button', { name: 'Next' }).click()

    // Step 3: the profile's pair, bidirectional, with its standard field assignment.
    const section = page.getByRole('region', { name: /Addresses ↔ Recipients/ })
    await section.waitFor()
    expect(await page.getByRole('checkbox', { name: /Addresses ↔ Recipients/ }).isChecked()).toBe(
      true,
    )
    await page.getByRole('button', { name: 'Next' }).click()

    // Step 4: run by hand only.
    await choose(page, 'Execution plan', 'Manual')
    await page.getByRole('button', { name: 'Save task' }).click()
    await page.getByRole('heading', { name: SUBJECT, exact: true }).waitFor()

    const taskId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop()!)
    const stored = await page.request.get(`${service.url}/api/tasks/${encodeURIComponent(taskId)}`)
    const systems = (await stored.json()).document.systems as Record<string, { bridge: string }>
    expect(Object.values(systems).map((s) => s.bridge)).toEqual(['postgres', 'rest'])

    await page.getByRole('button', { name: 'Start now' }).click()
    await page
      .locator('[data-testid="executions"] tr[data-status="succeeded"]')
      .first()
      .waitFor({ timeout: 30_000 })
    expect(await page.locator('[data-testid="executions"] tr[data-status="failed"]').count()).toBe(
      0,
    )

    // The recipients arrived in PostgreSQL, and the address went to MailingPro.
    const rows = await db!.query('SELECT name, email, zip1 FROM addresses ORDER BY email')
    expect(rows.rows).toEqual([
      { name: 'Berg', email: 'berg@example.com', zip1: '76137' },
      { name: 'Mail', email: 'mail@example.com', zip1: '76137' },
      { name: 'Web', email: 'web@example.com', zip1: '10115' },
    ])
    expect(server.rows(POOL).map((r) => r.email)).toContain('berg@example.com')
  }, 60_000)
})

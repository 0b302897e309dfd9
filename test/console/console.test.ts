import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  launchBrowser,
  type RunningService,
  screenshot,
  seriousViolations,
  startService,
} from './console-harness.ts'

const ADMIN = { username: 'admin', password: 'correct horse battery' }
const VIEWER = { username: 'vera', password: 'viewer password 1' }
const DEMO = 'CRM addresses ↔ ERP customers'

let service: RunningService
let browser: Browser
let context: BrowserContext
let page: Page

beforeAll(async () => {
  ;[service, browser] = await Promise.all([startService(['--demo']), launchBrowser()])
  context = await browser.newContext({
    viewport: { width: 1280, height: 800 },
    reducedMotion: 'reduce',
    locale: 'en-US',
  })
  context.setDefaultTimeout(10_000)
  page = await context.newPage()
})
afterAll(async () => {
  await browser?.close()
  await service?.stop()
})

/** The page passes axe-core (no serious or critical violation) and is photographed for the docs. */
async function checkPage(name: string, on: Page = page): Promise<void> {
  expect(await seriousViolations(on), name).toEqual([])
  await screenshot(on, name)
}

async function signIn(on: Page, user: { username: string; password: string }): Promise<void> {
  await on.goto(`${service.url}/`)
  await on.getByLabel(/^User name/).fill(user.username)
  await on.getByLabel(/^Password/).fill(user.password)
  await on.getByRole('button', { name: 'Sign in' }).click()
  await on.getByRole('heading', { name: 'Synchronization tasks' }).waitFor()
}

describe('the console, in a real browser against opensync start', () => {
  it('creates the first administrator through the one-time setup URL the terminal printed', async () => {
    const setupUrl = /(http:\/\/\S+\/setup\?token=\S+)/.exec(service.output())?.[1]
    expect(setupUrl, service.output()).toBeDefined()
    await page.goto(`${service.url}/`)
    await page.getByRole('heading', { name: 'Sign in to OpenSync' }).waitFor()
    await checkPage('sign-in')

    await page.goto(setupUrl!)
    await page.getByRole('heading', { name: 'Create the first administrator' }).waitFor()
    await page.getByLabel(/^User name/).fill(ADMIN.username)
    await page.getByLabel(/^Password/).fill(ADMIN.password)
    await page.getByLabel(/^Repeat the password/).fill(ADMIN.password)
    await checkPage('setup')
    await page.getByRole('button', { name: 'Create administrator' }).click()
    await page.getByRole('heading', { name: 'Sign in to OpenSync' }).waitFor()

    // The token is spent: the same URL cannot make a second administrator.
    await page.goto(setupUrl!)
    await page.getByLabel(/^User name/).fill('mallory')
    await page.getByLabel(/^Password/).fill(ADMIN.password)
    await page.getByLabel(/^Repeat the password/).fill(ADMIN.password)
    await page.getByRole('button', { name: 'Create administrator' }).click()
    await page.getByRole('alert').waitFor()

    await signIn(page, ADMIN)
    // The service runs here: no banner about planned executions.
    expect(await page.getByTestId('no-service').count()).toBe(0)
  })

  it('lists users and tokens for an administrator, and adds a viewer', async () => {
    await page.getByRole('link', { name: 'Users and tokens' }).click()
    await page.getByRole('heading', { name: 'Users and tokens' }).first().waitFor()
    await page.getByRole('cell', { name: 'admin', exact: true }).waitFor()
    await page.getByRole('button', { name: 'Add user' }).click()
    await page.getByLabel(/^User name/).fill(VIEWER.username)
    await page.getByLabel(/^Password/).fill(VIEWER.password)
    await page.getByRole('combobox', { name: 'Role' }).click()
    await page.getByRole('option', { name: 'Viewer' }).click()
    await page.getByRole('button', { name: 'Add', exact: true }).click()
    await page.getByRole('cell', { name: VIEWER.username, exact: true }).waitFor()
    await page.getByRole('dialog').waitFor({ state: 'detached' })
    await checkPage('users')
  })

  it('lists the tasks, searches them, and opens one with its executions', async () => {
    await page.getByRole('link', { name: 'Overview' }).click()
    const row = page.locator('tr[data-task]').filter({ hasText: DEMO })
    await row.waitFor()
    await page.getByLabel('Search tasks').fill('no such task')
    await page.getByText('No task matches the search.').waitFor()
    await page.getByLabel('Search tasks').fill('crm')
    await row.waitFor()
    // The demo task ran when the service started: its result shows with its icon.
    await expect
      .poll(() => row.locator('[data-status="succeeded"]').count(), { timeout: 30_000 })
      .toBe(1)
    // Both systems are named, by key and bridge (the demo's come from no profile).
    await expect.poll(() => row.textContent()).toContain('crm (sqlite) ↔ erp (sqlite)')
    await checkPage('overview')
    await row.getByRole('link', { name: DEMO }).click()
    await page.getByRole('heading', { name: DEMO }).waitFor()
    await page.locator('[data-testid="executions"] tr[data-status="succeeded"]').first().waitFor()
    await checkPage('task')
  })

  it('starts the task by hand: running, then succeeded, without a reload; a second start is queued', async () => {
    const rows = page.locator('[data-testid="executions"] tbody tr')
    const before = await rows.count()
    await page.getByRole('button', { name: 'Start now' }).click()
    await page.getByRole('button', { name: 'Start now' }).click()
    await page.getByRole('status').filter({ hasText: 'queued' }).waitFor()
    // The list updates itself from the event stream: no reload, no refresh click.
    await expect.poll(() => rows.count(), { timeout: 30_000 }).toBeGreaterThanOrEqual(before + 1)
    await expect
      .poll(() => page.locator('[data-testid="executions"] tr[data-status="succeeded"]').count(), {
        timeout: 60_000,
      })
      .toBeGreaterThanOrEqual(before + 1)
    await page.getByRole('button', { name: 'Refresh' }).click()
  })

  it('shows the protocol of an execution: status, counts per pair and direction, log, changed records', async () => {
    await page.locator('[data-testid="executions"] tbody tr').last().getByRole('link').click()
    await page.getByRole('heading', { name: /Protocol of execution/ }).waitFor()
    await page.getByText('Counts per pair and direction').waitFor()
    await expect.poll(() => page.locator('[data-testid="log"]').textContent()).not.toBe('')
    const changes = page.locator('[data-testid="changes"] tbody tr')
    await expect.poll(() => changes.count(), { timeout: 10_000 }).toBeGreaterThan(0)
    const key = (await changes.first().locator('code').first().textContent())!
    await page.getByLabel('Search by key').fill(key)
    await expect.poll(() => changes.count()).toBeGreaterThan(0)
    await checkPage('protocol')
    await page.getByRole('link', { name: DEMO }).click()
    await page.getByRole('heading', { name: DEMO }).waitFor()
  })

  it('deactivates and reactivates the execution plan', async () => {
    const toggle = page.getByRole('switch', { name: 'Execution plan active' })
    expect(await toggle.isChecked()).toBe(true)
    await toggle.click({ force: true })
    await page.getByText('None: the execution plan is not active').waitFor()
    await toggle.click({ force: true })
    await expect
      .poll(() => page.getByText('None: the execution plan is not active').count())
      .toBe(0)
    expect(await toggle.isChecked()).toBe(true)
  })

  it('shows a viewer no controls that change anything, and the API refuses them anyway', async () => {
    const viewerContext = await browser.newContext({
      viewport: { width: 1280, height: 800 },
      reducedMotion: 'reduce',
    })
    viewerContext.setDefaultTimeout(10_000)
    const viewer = await viewerContext.newPage()
    await signIn(viewer, VIEWER)
    expect(await viewer.getByRole('link', { name: 'New task' }).count()).toBe(0)
    expect(await viewer.getByRole('link', { name: 'Users and tokens' }).count()).toBe(0)
    await viewer.getByRole('link', { name: DEMO }).click()
    await viewer.getByRole('heading', { name: DEMO }).waitFor()
    for (const name of ['Start now', 'Edit', 'Delete']) {
      expect(await viewer.getByRole('button', { name }).count(), name).toBe(0)
      expect(await viewer.getByRole('link', { name }).count(), name).toBe(0)
    }
    expect(await viewer.getByRole('switch', { name: 'Execution plan active' }).isDisabled()).toBe(
      true,
    )
    // The same request the console would send, with the viewer's session and CSRF token.
    const refused = await viewer.evaluate(async () => {
      const session = (await (await fetch('/api/session')).json()) as { csrfToken: string }
      const headers = { 'content-type': 'application/json', 'x-csrf-token': session.csrfToken }
      const user = await fetch('/api/users', {
        method: 'POST',
        headers,
        body: JSON.stringify({
          username: 'eve',
          password: 'a long enough password',
          role: 'admin',
        }),
      })
      const tasks = (await (await fetch('/api/tasks')).json()) as { items: { id: string }[] }
      const remove = await fetch(`/api/tasks/${tasks.items[0]!.id}`, { method: 'DELETE', headers })
      return [user.status, remove.status]
    })
    expect(refused).toEqual([403, 403])
    await viewerContext.close()
  })

  it('speaks German on one full pass, and the choice stays after a reload', async () => {
    await page.goto(`${service.url}/`)
    await page.getByText('Deutsch', { exact: true }).click()
    await page.getByRole('heading', { name: 'Synchronisationsaufgaben' }).waitFor()
    await page.reload()
    await page.getByRole('heading', { name: 'Synchronisationsaufgaben' }).waitFor()
    expect(await page.locator('html').getAttribute('lang')).toBe('de')
    await checkPage('overview-de')
    await page.getByRole('link', { name: 'Benutzer und Tokens' }).click()
    await page.getByRole('heading', { name: 'Benutzer und Tokens' }).first().waitFor()
    await page.getByText('English', { exact: true }).click()
    await page.getByRole('heading', { name: 'Users and tokens' }).first().waitFor()
  })
})

describe('deleting a task', () => {
  it('says what goes with it, wants the id typed, and leaves the overview without it', async () => {
    await page.getByRole('link', { name: 'Overview' }).click()
    await page
      .locator('tr[data-task]')
      .filter({ hasText: DEMO })
      .getByRole('link', { name: DEMO })
      .click()
    await page.getByRole('button', { name: 'Delete' }).click()
    const dialog = page.getByRole('dialog')
    await dialog.getByText(/links between records, the checkpoints and the protocols/).waitFor()
    await dialog.getByText(/match keys instead of creating duplicates/).waitFor()
    const submit = dialog.getByRole('button', { name: 'Delete task' })
    expect(await submit.isDisabled()).toBe(true)
    await checkPage('delete')
    const id = (await page.url()).split('/tasks/')[1]!
    await dialog.getByLabel(/Type the task id/).fill(decodeURIComponent(id))
    await submit.click()
    await page.getByRole('heading', { name: 'Synchronization tasks' }).waitFor()
    // The demo's other task (CRM contacts → the MailingPro demo pool) is left alone.
    await page.locator('tr[data-task]').filter({ hasText: 'Newsletter' }).waitFor()
    expect(await page.locator('tr[data-task]').filter({ hasText: DEMO }).count()).toBe(0)
  })
})

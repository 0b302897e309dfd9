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

let service: RunningService
let browser: Browser
let context: BrowserContext
let page: Page

beforeAll(async () => {
  ;[service, browser] = await Promise.all([startService(), launchBrowser()])
  context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US' })
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
    await checkPage('overview')
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

  it('shows a viewer no controls that change anything, and the API refuses them anyway', async () => {
    const viewerContext = await browser.newContext({ viewport: { width: 1280, height: 800 } })
    viewerContext.setDefaultTimeout(10_000)
    const viewer = await viewerContext.newPage()
    await signIn(viewer, VIEWER)
    expect(await viewer.getByRole('link', { name: 'New task' }).count()).toBe(0)
    expect(await viewer.getByRole('link', { name: 'Users and tokens' }).count()).toBe(0)
    // The same request the console would send, with the viewer's session and CSRF token.
    const refused = await viewer.evaluate(async () => {
      const session = (await (await fetch('/api/session')).json()) as { csrfToken: string }
      const res = await fetch('/api/users', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrfToken },
        body: JSON.stringify({
          username: 'eve',
          password: 'a long enough password',
          role: 'admin',
        }),
      })
      return res.status
    })
    expect(refused).toBe(403)
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

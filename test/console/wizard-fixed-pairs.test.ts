import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  choose,
  launchBrowser,
  openPage,
  type RunningService,
  seriousViolations,
  signIn,
  startService,
} from './console-harness.ts'

const PASSWORD = 'fixed pairs admin password'

/** A partner of the shipped demo CRM; `pairs` are written into it as YAML. */
const profile = (id: string, system: string, pairs: string) => `profile: ${id}
system: ${system}
version: "1"
bridge: sqlite
systemKey: erp
recordTypes:
  customers: { cursor: modified, fields: [cust_no, company_name, email, modified] }
  orders: { fields: [order_no, cust_no, total, status] }
pairs:
${pairs}`

const CUSTOMERS = (fixed: boolean) => `  - id: customers
    title: Addresses to customers
    homeProfiles: [demo-crm]
    home: addresses
    other: customers
    fixed: ${fixed}
    fieldAssignments: { standard: { company: company_name, email: email } }
    match: [email]
`
const ORDERS = `  - id: orders
    title: Opportunities to orders
    homeProfiles: [demo-crm]
    home: opportunities
    other: orders
    directions: [home->other]
    fieldAssignments: { standard: { amount: total } }
`

let folder: string
let service: RunningService
let browser: Browser
let page: Page

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), 'osy-fixed-pairs-'))
  writeFileSync(join(folder, 'fixed-erp.yaml'), profile('fixed-erp', 'Fixed ERP', CUSTOMERS(true)))
  writeFileSync(
    join(folder, 'mixed-erp.yaml'),
    profile('mixed-erp', 'Mixed ERP', CUSTOMERS(true) + ORDERS),
  )
  ;[service, browser] = await Promise.all([
    startService([], { OPENSYNC_ADMIN_PASSWORD: PASSWORD, OPENSYNC_PROFILES: folder }),
    launchBrowser(),
  ])
  page = await openPage(browser)
  await signIn(page, service.url, 'admin', PASSWORD)
})
afterAll(async () => {
  await browser?.close()
  await service?.stop()
  if (folder) rmSync(folder, { recursive: true, force: true })
})

async function newTask(other: RegExp): Promise<void> {
  await page.goto(`${service.url}/`)
  await page.getByRole('link', { name: 'New task' }).click()
  await page.getByRole('heading', { name: 'New synchronization task' }).waitFor()
  await choose(page, 'Home system', /Demo CRM/)
  await choose(page, 'System to be connected', other)
  await page.getByRole('button', { name: 'Next' }).click()
  await page.getByRole('heading', { name: 'Connection', exact: true }).waitFor()
}

describe('the wizard with fixed pairs', () => {
  it('skips Assignments when every pair on offer is fixed, going forward and back', async () => {
    await newTask(/Fixed ERP/)
    await page.getByText('The profiles fix the pairs').waitFor()
    await page.getByRole('button', { name: 'Next' }).click()
    await page.getByRole('heading', { name: 'Execution', exact: true }).waitFor()
    await page.getByRole('combobox', { name: 'Execution plan' }).waitFor()
    // The wizard's Back (the page header has a Back of its own).
    await page.getByRole('button', { name: 'Back' }).last().click()
    await page.getByRole('heading', { name: 'Connection', exact: true }).waitFor()
  })

  it('keeps a fixed pair in (it cannot be taken out) and adds a chosen one with its offered direction', async () => {
    await newTask(/Mixed ERP/)
    await page.getByRole('button', { name: 'Next' }).click()
    await page.getByRole('heading', { name: 'Assignments', exact: true }).waitFor()
    const fixed = page.getByRole('checkbox', { name: /Addresses to customers/ })
    expect(await fixed.isChecked()).toBe(true)
    expect(await fixed.isDisabled()).toBe(true)
    await page.getByRole('region', { name: /Addresses to customers/ }).waitFor()
    const orders = page.getByRole('region', { name: /Opportunities to orders/ })
    // Chosen by default (every pair on offer); taken out, then chosen again with the keyboard.
    await orders.waitFor()
    const offer = page.getByRole('checkbox', { name: /Opportunities to orders/ })
    await offer.uncheck()
    await orders.waitFor({ state: 'detached' })
    await offer.focus()
    await page.keyboard.press('Space')
    await orders.waitFor()
    // The pair offers one way only: crm → erp, and bidirectional cannot be chosen.
    await orders.getByRole('combobox', { name: 'From → to' }).waitFor()
    expect(await orders.getByRole('combobox', { name: 'From → to' }).inputValue()).toBe('crm → erp')
    expect(await orders.getByRole('radio', { name: 'Bidirectional' }).isDisabled()).toBe(true)
    expect(await seriousViolations(page)).toEqual([])
  })
})

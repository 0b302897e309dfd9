import { join } from 'node:path'
import Database from 'better-sqlite3'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  choose,
  launchBrowser,
  openPage,
  type RunningService,
  screenshot,
  seriousViolations,
  signIn,
  startService,
} from './console-harness.ts'

const PASSWORD = 'wizard admin password'
const SUBJECT = 'Wizard: CRM addresses ↔ ERP customers'

let service: RunningService
let browser: Browser
let page: Page

beforeAll(async () => {
  ;[service, browser] = await Promise.all([
    // --demo makes the demo CRM and ERP databases that the two shipped demo profiles describe.
    startService(['--demo'], { OPENSYNC_ADMIN_PASSWORD: PASSWORD }),
    launchBrowser(),
  ])
  page = await openPage(browser)
  await signIn(page, service.url, 'admin', PASSWORD)
})
afterAll(async () => {
  await browser?.close()
  await service?.stop()
})

async function checkPage(name: string): Promise<void> {
  expect(await seriousViolations(page), name).toEqual([])
  await screenshot(page, name)
}

describe('the synchronization wizard', () => {
  it('makes a task from two shipped profiles, saved at step 2, continued from the overview, finished and run', async () => {
    await page.getByRole('link', { name: 'New task' }).click()
    await page.getByRole('heading', { name: 'New synchronization task' }).waitFor()
    await choose(page, 'Home system', /Demo CRM/)
    await choose(page, 'System to be connected', /Demo ERP/)
    await page.getByTestId('profile-demo-erp').getByText('sqlite', { exact: true }).waitFor()
    await page.getByLabel('Subject').fill(SUBJECT)
    await checkPage('wizard-systems')
    await page.getByRole('button', { name: 'Next' }).click()

    // Step 2: the forms come from the bridge's fields as the profiles label them.
    await page.getByLabel(/^CRM database file/).fill(join(service.dataDir, 'demo', 'crm.db'))
    await page.getByLabel(/^ERP database file/).fill(join(service.dataDir, 'demo', 'erp.db'))
    await page
      .getByRole('region', { name: 'System to be connected' })
      .getByRole('button', { name: 'Test connection' })
      .click()
    await page.getByRole('status').filter({ hasText: 'The connection works.' }).waitFor()
    await checkPage('wizard-connection')
    // Saved at step 2 and left; the overview leads back to it.
    await page.getByRole('button', { name: 'Save draft' }).click()
    await page.getByRole('status').filter({ hasText: 'Saved as a draft. It is complete' }).waitFor()
    // The profiles' defaults make it complete already, and it is still a draft: not a task
    // that runs, and a start is refused.
    const draftId = decodeURIComponent(new URL(page.url()).pathname.split('/')[2]!)
    const draft = await page.request.get(`${service.url}/api/tasks/${encodeURIComponent(draftId)}`)
    expect(await draft.json()).toMatchObject({ draft: true, active: false, issues: [] })
    const start = await page.evaluate(async (id) => {
      const session = (await (await fetch('/api/session')).json()) as { csrfToken: string }
      const res = await fetch(`/api/tasks/${encodeURIComponent(id)}/executions`, {
        method: 'POST',
        headers: { 'x-csrf-token': session.csrfToken },
      })
      return { status: res.status, code: ((await res.json()) as { code?: string }).code }
    }, draftId)
    expect(start).toEqual({ status: 409, code: 'OSY_TASK_DRAFT' })
    await page.getByRole('button', { name: 'To the overview' }).click()
    const row = page.locator('tr[data-task]').filter({ hasText: SUBJECT })
    await row.getByText('Draft', { exact: true }).waitFor()
    // A draft opens the wizard.
    await row.getByRole('link', { name: SUBJECT }).click()
    await page.getByRole('heading', { name: /Edit/ }).waitFor()
    expect(await page.getByLabel('Subject').inputValue()).toBe(SUBJECT)
    await page.getByRole('button', { name: 'Next' }).click()
    // What step 2 had is kept.
    expect(await page.getByLabel(/^CRM database file/).inputValue()).toContain('crm.db')
    await page.getByRole('button', { name: 'Next' }).click()

    // Step 3: the pairs on offer; each chosen one adds a section.
    const offer = page.getByRole('checkbox', { name: /Addresses ↔ Customers/ })
    const section = page.getByRole('region', { name: /Addresses ↔ Customers/ })
    await section.waitFor()
    expect(await offer.isChecked()).toBe(true)
    await offer.uncheck()
    await section.waitFor({ state: 'detached' })
    await page.getByText('Choose at least one assignment pair.').waitFor()
    await offer.check()
    await section.waitFor()
    // Unidirectional offers the pair's directions; back to bidirectional.
    await section.getByText('Unidirectional').click()
    await section.getByRole('combobox', { name: 'From → to' }).click()
    expect(await page.getByRole('option', { name: 'erp → crm' }).count()).toBe(1)
    await page.getByRole('option', { name: 'crm → erp' }).click()
    await section.getByText('Bidirectional').click()
    await section.getByRole('combobox', { name: 'From → to' }).waitFor({ state: 'detached' })
    // A named field assignment of the profile, then edited: a row with fields from discovery.
    await choose(page, 'Field assignment', 'minimal')
    const rows = section.locator('[data-testid="fields-customers"] tbody tr')
    await expect.poll(() => rows.count()).toBe(2)
    await section.getByRole('button', { name: 'Add a row' }).click()
    await expect.poll(() => rows.count()).toBe(3)
    // The pickers offer the discovered fields of crm.addresses and erp.customers.
    await page.getByRole('combobox', { name: 'crm field, row 3' }).click()
    expect(await page.getByRole('option', { name: 'zip1' }).count()).toBe(1)
    await page.getByRole('option', { name: 'city', exact: true }).click()
    await choose(page, 'erp field, row 3', 'town')
    await choose(page, 'Transform, row 3', 'Trim spaces')
    expect(await page.getByRole('combobox', { name: 'Field assignment' }).inputValue()).toBe(
      'Edited',
    )
    await choose(page, 'Strategy', 'Decide in the conflict inbox')
    await checkPage('wizard-assignments')
    await page.getByRole('button', { name: 'Next' }).click()

    // Step 4: an interval whose values depend on the unit.
    await choose(page, 'Execution plan', 'Interval')
    await choose(page, 'Time unit', 'Hours')
    await page.getByRole('combobox', { name: 'Interval' }).click()
    expect(await page.getByRole('option', { name: 'every 12 hours' }).count()).toBe(1)
    expect(await page.getByRole('option', { name: 'every 45 minutes' }).count()).toBe(0)
    await page.getByRole('option', { name: 'every 2 hours' }).click()
    await checkPage('wizard-execution')
    await page.getByRole('button', { name: 'Save task' }).click()

    await page.getByRole('heading', { name: SUBJECT, exact: true }).waitFor()
    await page.getByText('every 2 hours').waitFor()
    // The stored task document has the mapping as edited.
    const taskId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop()!)
    const stored = await page.request.get(`${service.url}/api/tasks/${encodeURIComponent(taskId)}`)
    expect(stored.status()).toBe(200)
    // Finished, it is a task, and its plan is on.
    expect(await stored.json()).toMatchObject({ id: draftId, draft: false, active: true })
    const pairs = (await stored.json()).document.pairs as { id: string; fields: unknown }[]
    expect(pairs.map((p) => p.id)).toEqual(['customers'])
    expect(pairs[0]!.fields).toEqual({
      company: 'company_name',
      email: 'email',
      city: { crm: 'city', erp: 'town', toErp: { trim: true } },
    })
    await page.getByRole('button', { name: 'Start now' }).click()
    await page
      .locator('[data-testid="executions"] tr[data-status="succeeded"]')
      .first()
      .waitFor({ timeout: 60_000 })
  })

  it('parks a conflict in the inbox; once decided, the next run applies it', async () => {
    // The same record edited on both sides since the last run.
    const crm = new Database(join(service.dataDir, 'demo', 'crm.db'))
    const erp = new Database(join(service.dataDir, 'demo', 'erp.db'))
    try {
      const { email, company: before } = crm
        .prepare(
          "SELECT email, company FROM addresses WHERE email IS NOT NULL AND zip1 LIKE '7%' ORDER BY id LIMIT 1",
        )
        .get() as { email: string; company: string }
      crm.prepare('UPDATE addresses SET company = ? WHERE email = ?').run('Console CRM GmbH', email)
      erp
        .prepare('UPDATE customers SET company_name = ? WHERE email = ?')
        .run('Console ERP AG', email)
      await page.getByRole('button', { name: 'Start now' }).click()
      await page.getByRole('link', { name: 'Conflicts' }).click()
      // With no task picked, the inbox lists the conflicts of every task, under its subject.
      await page
        .locator('[data-task]')
        .filter({ has: page.getByRole('heading', { name: SUBJECT }) })
        .locator('tr[data-conflict]')
        .filter({ hasText: 'Console ERP AG' })
        .waitFor({ timeout: 30_000 })
      expect(await seriousViolations(page)).toEqual([])
      await choose(page, 'Task', SUBJECT)
      const row = page
        .locator('[data-testid="conflicts"] tr[data-conflict]')
        .filter({ hasText: 'Console ERP AG' })
      await row.waitFor({ timeout: 30_000 })
      expect(await row.textContent()).toContain('Console CRM GmbH')
      // One field's value reads as the value, not as JSON of the mapping.
      expect(await row.textContent()).not.toContain('{"company"')
      // Beside both values, the base: the company both had when last synced.
      expect(before).not.toMatch(/^Console /)
      expect(await row.getByTestId('conflict-base').textContent()).toContain(before)
      expect(await seriousViolations(page)).toEqual([])
      await screenshot(page, 'conflicts')
      await row.getByRole('button', { name: 'Take crm' }).click()
      // Decided, it leaves the list of open conflicts.
      await row.waitFor({ state: 'detached' })

      await page.getByRole('link', { name: 'To the task' }).click()
      await page.getByRole('button', { name: 'Start now' }).click()
      const company = () =>
        (
          erp.prepare('SELECT company_name FROM customers WHERE email = ?').get(email) as {
            company_name: string
          }
        ).company_name
      await expect.poll(company, { timeout: 60_000 }).toBe('Console CRM GmbH')
    } finally {
      crm.close()
      erp.close()
    }
  })

  it('edits the task: the filter (checked as typed) and the plan change', async () => {
    await page.getByRole('link', { name: 'Edit' }).click()
    await page.getByRole('heading', { name: /Edit/ }).waitFor()
    expect(await page.getByLabel('Subject').inputValue()).toBe(SUBJECT)
    for (let step = 0; step < 2; step++) await page.getByRole('button', { name: 'Next' }).click()
    // The filter is checked by the server as it is typed: its message, then valid.
    const filter = page.getByTestId('filter-crm')
    await filter.fill("zip1 = = '76137'")
    await page
      .getByText(/syntax|expected|unexpected|invalid/i)
      .first()
      .waitFor()
    await filter.fill("zip1 LIKE '7%'")
    await page.getByText('The condition is valid.').waitFor()
    await page.getByRole('button', { name: 'Next' }).click()
    await choose(page, 'Execution plan', 'Daily')
    await page.getByRole('textbox', { name: 'Time' }).fill('03:30')
    await page.getByRole('button', { name: 'Save task' }).click()
    await page.getByRole('heading', { name: SUBJECT, exact: true }).waitFor()
    await page.getByText(/daily at 03:30/).waitFor()
  })

  it('authors a map and a const transform, stores them as written, and shows and keeps them when edited', async () => {
    const subject = 'Wizard: transforms'
    await page.goto(`${service.url}/`)
    await page.getByRole('link', { name: 'New task' }).click()
    await choose(page, 'Home system', /Demo CRM/)
    await choose(page, 'System to be connected', /Demo ERP/)
    await page.getByLabel('Subject').fill(subject)
    await page.getByRole('button', { name: 'Next' }).click()
    await page.getByLabel(/^CRM database file/).fill(join(service.dataDir, 'demo', 'crm.db'))
    await page.getByLabel(/^ERP database file/).fill(join(service.dataDir, 'demo', 'erp.db'))
    await page.getByRole('button', { name: 'Next' }).click()
    const section = page.getByRole('region', { name: /Addresses ↔ Customers/ })
    await section.getByText('Unidirectional').click()
    await section.getByRole('combobox', { name: 'From → to' }).click()
    await page.getByRole('option', { name: 'crm → erp' }).click()
    await choose(page, 'Field assignment', 'minimal')
    const rows = section.locator('[data-testid="fields-customers"] tbody tr[data-row]')
    await expect.poll(() => rows.count()).toBe(2)

    // Row 3: the CRM's country names become the ERP's codes, anything else XX.
    await section.getByRole('button', { name: 'Add a row' }).click()
    await choose(page, 'crm field, row 3', /^country$/)
    await choose(page, 'erp field, row 3', /^land$/)
    await choose(page, 'Transform, row 3', 'Replace values (map)')
    const map = page.getByRole('group', { name: 'Transform of row 3 (country)' })
    await map.getByLabel('Value of crm, row 3, entry 1').fill('Germany')
    await map.getByLabel('Becomes in erp, row 3, entry 1').fill('DE')
    await map.getByRole('button', { name: 'Add a value' }).click()
    await map.getByLabel('Value of crm, row 3, entry 2').fill('Austria')
    await map.getByLabel('Becomes in erp, row 3, entry 2').fill('AT')
    await map.getByLabel('Any other value becomes, to erp, row 3').fill('XX')
    // Row 4: no CRM field; the ERP's street gets a fixed value.
    await section.getByRole('button', { name: 'Add a row' }).click()
    await choose(page, 'erp field, row 4', /^street$/)
    const fixed = page.getByRole('group', { name: 'Transform of row 4 (new_4)' })
    // First an expression, which the server checks as it is typed.
    await choose(page, 'Transform, row 4', 'Expression (JSONata)')
    await fixed.getByLabel('JSONata expression to erp, row 4').fill('$uppercase(')
    await fixed.getByText(/JSONata syntax error/).waitFor()
    await choose(page, 'Transform, row 4', 'Fixed value (const)')
    await fixed.getByLabel('Fixed value to erp, row 4').fill('unknown')
    // The server's check finds nothing wrong with either row.
    await expect.poll(() => section.getByText(/problem/).count()).toBe(0)
    await checkPage('wizard-transforms')
    await page.getByRole('button', { name: 'Next' }).click()
    await page.getByRole('button', { name: 'Save task' }).click()
    await page.getByRole('heading', { name: subject, exact: true }).waitFor()

    const taskId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop()!)
    const read = async () => {
      const res = await page.request.get(`${service.url}/api/tasks/${encodeURIComponent(taskId)}`)
      expect(res.status()).toBe(200)
      return (await res.json()) as { draft: boolean; document: { pairs: { fields: unknown }[] } }
    }
    const stored = await read()
    expect(stored.draft).toBe(false)
    expect(stored.document.pairs[0]!.fields).toEqual({
      company: 'company_name',
      email: 'email',
      country: {
        crm: 'country',
        erp: 'land',
        toErp: { map: { Germany: 'DE', Austria: 'AT' }, default: 'XX' },
      },
      new_4: { crm: [], erp: 'street', toErp: { const: 'unknown' } },
    })

    // Edited again, the wizard shows both transforms as stored and saves them back unchanged.
    await page.getByRole('link', { name: 'Edit' }).click()
    for (let step = 0; step < 2; step++) await page.getByRole('button', { name: 'Next' }).click()
    expect(await map.getByLabel('Value of crm, row 3, entry 2').inputValue()).toBe('Austria')
    expect(await map.getByLabel('Becomes in erp, row 3, entry 1').inputValue()).toBe('DE')
    expect(await map.getByLabel('Any other value becomes, to erp, row 3').inputValue()).toBe('XX')
    expect(await fixed.getByLabel('Fixed value to erp, row 4').inputValue()).toBe('unknown')
    expect(await page.getByRole('combobox', { name: 'Transform, row 3' }).inputValue()).toBe(
      'Replace values (map)',
    )
    await page.getByRole('button', { name: 'Save', exact: true }).click()
    await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor()
    expect((await read()).document.pairs[0]!.fields).toEqual(stored.document.pairs[0]!.fields)
  })
})

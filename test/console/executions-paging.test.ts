/**
 * A task's executions past the first page: the list shows the newest 50 and follows the API's
 * cursor to older ones on "Older executions", until none is left.
 */

import { join } from 'node:path'
import Database from 'better-sqlite3'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  addExecutions,
  launchBrowser,
  type RunningService,
  seriousViolations,
  signIn,
  startService,
} from './console-harness.ts'

const PASSWORD = 'paging admin password'
let service: RunningService
let browser: Browser

beforeAll(async () => {
  // `opensync api`: no scheduler or worker, so the history holds exactly what the test wrote.
  ;[service, browser] = await Promise.all([
    startService([], { OPENSYNC_ADMIN_PASSWORD: PASSWORD }, 'api'),
    launchBrowser(),
  ])
})
afterAll(async () => {
  await browser?.close()
  await service?.stop()
})

describe("a task's executions", () => {
  it('shows the newest 50 and loads older ones page by page', async () => {
    const page = await (
      await browser.newContext({ viewport: { width: 1280, height: 800 }, reducedMotion: 'reduce' })
    ).newPage()
    await signIn(page, service.url, 'admin', PASSWORD)
    const made = await page.evaluate(async () => {
      const session = (await (await fetch('/api/session')).json()) as { csrfToken: string }
      const res = await fetch('/api/tasks', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrfToken },
        body: JSON.stringify({ document: { id: 'paged', subject: 'Paged task' }, draft: true }),
      })
      return res.status
    })
    expect(made).toBeLessThan(300)
    addExecutions(service, 'paged', 120)
    const db = new Database(join(service.dataDir, 'opensync.db'), { readonly: true })
    const newest = db
      .prepare("SELECT max(id) AS id FROM osy_executions WHERE task_id = 'paged'")
      .get() as { id: number }
    db.close()

    await page.goto(`${service.url}/tasks/paged`)
    const rows = page.locator('[data-testid="executions"] tr[data-execution]')
    await rows.first().waitFor()
    expect(await rows.count()).toBe(50)
    expect(await rows.first().getAttribute('data-execution')).toBe(String(newest.id))
    const older = page.getByRole('button', { name: /Older executions/ })
    await older.click()
    await expect.poll(() => rows.count()).toBe(100)
    await older.click()
    await expect.poll(() => rows.count()).toBe(120)
    // The last page has no cursor: nothing older to ask for.
    await older.waitFor({ state: 'detached' })
    const ids = await rows.evaluateAll((trs) => trs.map((tr) => Number(tr.dataset.execution)))
    expect(new Set(ids).size).toBe(120)
    expect(ids).toEqual([...ids].sort((a, b) => b - a))
    expect(await seriousViolations(page)).toEqual([])
  })
})

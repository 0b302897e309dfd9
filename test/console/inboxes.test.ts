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

const PASSWORD = 'inbox admin password'
const VIEWER_PASSWORD = 'inbox viewer password'
const SECOND = 'Second demo task'

let service: RunningService
let browser: Browser
let page: Page
let demoId: string

/** A request as the console sends it: the session's cookie and CSRF token. */
async function call(on: Page, method: string, path: string, body?: unknown) {
  return on.evaluate(
    async ({ method, path, body }) => {
      const session = (await (await fetch('/api/session')).json()) as { csrfToken: string }
      const res = await fetch(path, {
        method,
        headers: {
          'x-csrf-token': session.csrfToken,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      })
      return { status: res.status, json: (await res.json()) as Record<string, unknown> }
    },
    { method, path, body },
  )
}

/** Failed records of a task, written into the service's store as a run records them. */
function addRecordErrors(taskId: string, pairId: string, keys: readonly string[]): void {
  const db = new Database(join(service.dataDir, 'opensync.db'))
  try {
    db.pragma('busy_timeout = 10000')
    const insert = db.prepare(
      `INSERT INTO osy_record_errors (task_id, pair_id, direction, record_key, code, message, attempts, quarantined, first_at, last_at)
       VALUES (?, ?, 0, ?, 'OSY_CONSTRAINT_VIOLATION', ?, 3, 1, ?, ?)`,
    )
    const at = new Date().toISOString()
    for (const key of keys) insert.run(taskId, pairId, key, `record ${key} was refused`, at, at)
  } finally {
    db.close()
  }
}

beforeAll(async () => {
  ;[service, browser] = await Promise.all([
    startService(['--demo'], { OPENSYNC_ADMIN_PASSWORD: PASSWORD }),
    launchBrowser(),
  ])
  page = await openPage(browser)
  await signIn(page, service.url, 'admin', PASSWORD)
  // A second task beside the demo task, a start of the demo task, and a viewer: audit events
  // of both tasks, and someone who reads them without the whole trail.
  const tasks = await call(page, 'GET', '/api/tasks')
  demoId = (tasks.json.items as { id: string }[])[0]!.id
  const demo = await call(page, 'GET', `/api/tasks/${demoId}`)
  const created = await call(page, 'POST', '/api/tasks', {
    document: {
      ...(demo.json.document as object),
      id: 'demo-second',
      subject: SECOND,
      plan: { kind: 'manual' },
    },
  })
  expect(created.status, JSON.stringify(created.json)).toBe(201)
  expect((await call(page, 'POST', `/api/tasks/${demoId}/executions`)).status).toBe(202)
  const viewer = await call(page, 'POST', '/api/users', {
    username: 'vera',
    password: VIEWER_PASSWORD,
    role: 'viewer',
  })
  expect(viewer.status, JSON.stringify(viewer.json)).toBeLessThan(300)
  addRecordErrors(demoId, 'customers', ['crm-1', 'crm-2'])
  addRecordErrors('demo-second', 'customers', ['crm-7'])
  // The console loaded its task list before these requests went round it.
  await page.reload()
  await page.getByRole('heading', { name: 'Synchronization tasks' }).waitFor()
})
afterAll(async () => {
  await browser?.close()
  await service?.stop()
})

describe('the inboxes across tasks', () => {
  it('lists the record errors of every task with a link to its task, and of one task once picked', async () => {
    await page.getByRole('link', { name: 'Record errors' }).click()
    const table = page.getByTestId('record-errors')
    const demoRow = table.locator(`tr[data-task="${demoId}"]`)
    const secondRow = table.locator('tr[data-task="demo-second"]')
    await secondRow.waitFor()
    await expect.poll(() => demoRow.count()).toBe(2)
    expect(await secondRow.textContent()).toContain('record crm-7 was refused')
    // The task column names each task; the second's subject links to it.
    expect(await demoRow.first().getByRole('link').textContent()).toBe(
      'CRM addresses ↔ ERP customers',
    )
    expect(await seriousViolations(page)).toEqual([])
    await screenshot(page, 'record-errors')
    // One task picked: its errors only, without the task column.
    await choose(page, 'Task', SECOND)
    await demoRow.first().waitFor({ state: 'detached' })
    await secondRow.waitFor()
    expect(await table.locator('tr[data-task]').count()).toBe(1)
    expect(await table.getByRole('columnheader', { name: 'Task' }).count()).toBe(0)
    await page.getByRole('link', { name: 'To the task' }).click()
    await page.getByRole('heading', { name: SECOND, exact: true }).waitFor()
    // Back to all tasks, the link in the task column opens the task.
    await page.goto(`${service.url}/inbox/errors`)
    await secondRow.getByRole('link', { name: SECOND }).click()
    await page.getByRole('heading', { name: SECOND, exact: true }).waitFor()
  })

  it("shows a viewer the audit events of every task, each with its task, and one task's once picked", async () => {
    const viewer = await openPage(browser)
    await signIn(viewer, service.url, 'vera', VIEWER_PASSWORD)
    await viewer.getByRole('link', { name: 'Audit' }).click()
    const timeline = viewer.getByTestId('audit')
    await timeline.locator('[data-task="demo-second"]').first().waitFor()
    await timeline.locator(`[data-task="${demoId}"]`).first().waitFor()
    expect(await timeline.textContent()).toContain('task.created')
    expect(await timeline.textContent()).toContain('execution.started')
    // Not the events of no task (a viewer is not shown the users added).
    expect(await timeline.textContent()).not.toContain('user.added')
    expect(
      await timeline.locator('[data-task="demo-second"]').getByRole('link').first().textContent(),
    ).toBe(SECOND)
    expect(await seriousViolations(viewer)).toEqual([])
    await screenshot(viewer, 'audit')
    await choose(viewer, 'Task', SECOND)
    await timeline.locator(`[data-task="${demoId}"]`).first().waitFor({ state: 'detached' })
    // The picked task's page replaces the list: wait for its rows rather than count at once
    // (between the two the list is empty while the page loads).
    await timeline.locator('[data-task="demo-second"]').first().waitFor()
    expect(await timeline.locator(`[data-task="${demoId}"]`).count()).toBe(0)
    await viewer.context().close()
  })
})

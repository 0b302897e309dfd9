/**
 * The console's speed in the test browser (Debian's Chromium through playwright-core):
 * - first load: the compressed (brotli) JavaScript the sign-in page loads, goal < 300 KB;
 * - the overview with N tasks (drafts made through the API): from navigation until every
 *   task is counted and the first rows are drawn, goal < 1 s for 1,000;
 * - a task's executions with E rows (written into the store): from navigation until the
 *   first page (50) is drawn, goal < 1 s for 100,000; and one "Older executions" page;
 * - live progress: from an execution's progress event on /api/events to the page showing it.
 *
 *   node bench/console.ts [tasks=1000] [executions=100000]
 */
import { addExecutions, launchBrowser, startService } from '../test/console/console-harness.ts'

const N = Number(process.argv[2] ?? 1000)
const E = Number(process.argv[3] ?? 100_000)
const password = 'bench password 123'
const service = await startService(['--demo'], { OPENSYNC_ADMIN_PASSWORD: password })
const browser = await launchBrowser()
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
  const page = await context.newPage()

  // First load: what the browser fetched, compressed as the server sent it.
  let scriptBytes = 0
  page.on('response', async (response) => {
    if (response.request().resourceType() === 'script') {
      const size = (await response.request().sizes()).responseBodySize
      scriptBytes += size
    }
  })
  await page.goto(`${service.url}/`)
  await page.getByRole('button', { name: 'Sign in' }).waitFor()
  console.log(
    `first load: ${(scriptBytes / 1024).toFixed(1)} KB of compressed JavaScript (goal < 300 KB)`,
  )

  await page.getByLabel(/^User name/).fill('admin')
  await page.getByLabel(/^Password/).fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('heading', { name: 'Synchronization tasks' }).waitFor()

  // N draft tasks through the API, with the session's CSRF token.
  const made = await page.evaluate(async (n) => {
    const session = (await (await fetch('/api/session')).json()) as { csrfToken: string }
    const headers = { 'content-type': 'application/json', 'x-csrf-token': session.csrfToken }
    let ok = 0
    for (let start = 0; start < n; start += 50) {
      const batch = []
      for (let i = start; i < Math.min(n, start + 50); i++) {
        batch.push(
          fetch('/api/tasks', {
            method: 'POST',
            headers,
            body: JSON.stringify({
              document: { id: `bench-${i}`, subject: `Bench task ${String(i).padStart(4, '0')}` },
              draft: true,
            }),
          }).then((r) => (r.ok ? ok++ : 0)),
        )
      }
      await Promise.all(batch)
    }
    return ok
  }, N)
  const total = made + 1
  const runs: number[] = []
  for (let i = 0; i < 3; i++) {
    const started = Date.now()
    await page.goto(`${service.url}/`)
    await page.getByText(`${total} tasks`).waitFor({ timeout: 30_000 })
    await page.locator('tr[data-task]').first().waitFor()
    runs.push(Date.now() - started)
  }
  const rows = await page.locator('tr[data-task]').count()
  console.log(
    `overview with ${total} tasks: ${runs.join(' / ')} ms from navigation to the table (goal < 1000 ms); ${rows} rows in the DOM`,
  )

  // A task's executions: E of them on one of the drafts, the first page and the next one.
  const written = Date.now()
  addExecutions(service, 'bench-0', E)
  const writeMs = Date.now() - written
  const pageRuns: number[] = []
  const rowsOf = page.locator('[data-testid="executions"] tr[data-execution]')
  for (let i = 0; i < 3; i++) {
    const started = Date.now()
    await page.goto(`${service.url}/tasks/bench-0`)
    await rowsOf.first().waitFor({ timeout: 30_000 })
    pageRuns.push(Date.now() - started)
  }
  const firstRows = await rowsOf.count()
  const more = Date.now()
  await page.getByRole('button', { name: /Older executions/ }).click()
  await rowsOf.nth(firstRows).waitFor()
  const moreMs = Date.now() - more
  console.log(
    `task with ${E} executions (written in ${writeMs} ms): ${pageRuns.join(' / ')} ms from navigation to the first ${firstRows} rows (goal < 1000 ms); the next page ${moreMs} ms`,
  )
  await page.goto(`${service.url}/`)
  await page.getByText(`${total} tasks`).waitFor({ timeout: 30_000 })

  // Live progress: the demo task's progress events, timed from the server's stamp to the page.
  await page.getByLabel('Search tasks').fill('CRM')
  await page.getByRole('link', { name: 'CRM addresses ↔ ERP customers' }).click()
  await page.getByRole('heading', { name: 'CRM addresses ↔ ERP customers' }).waitFor()
  const delays = await page.evaluate(async () => {
    const seen: number[] = []
    const source = new EventSource('/api/events')
    source.addEventListener('execution.progress', (message) => {
      const at = Date.parse(
        (JSON.parse((message as unknown as { data: string }).data) as { at: string }).at,
      )
      // The next frame: the page has drawn what the event changed.
      ;(
        globalThis as unknown as { requestAnimationFrame(f: () => void): void }
      ).requestAnimationFrame(() => seen.push(Date.now() - at))
    })
    const session = (await (await fetch('/api/session')).json()) as { csrfToken: string }
    const tasks = (await (await fetch('/api/tasks')).json()) as {
      items: { id: string; draft: boolean }[]
    }
    const demo = tasks.items.find((t) => !t.draft)!
    await fetch(`/api/tasks/${demo.id}/executions`, {
      method: 'POST',
      headers: { 'x-csrf-token': session.csrfToken },
    })
    await new Promise((resolve) => setTimeout(resolve, 8000))
    source.close()
    return seen
  })
  const sorted = [...delays].sort((a, b) => a - b)
  console.log(
    delays.length === 0
      ? 'live progress: no progress event arrived'
      : `live progress: ${delays.length} events, median ${sorted[Math.floor(sorted.length / 2)]} ms, max ${sorted.at(-1)} ms from the engine's event to a frame (goal < 300 ms)`,
  )
} finally {
  await browser.close()
  await service.stop()
}

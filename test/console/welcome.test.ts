import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  launchBrowser,
  type RunningService,
  screenshot,
  seriousViolations,
  startService,
} from './console-harness.ts'

let service: RunningService
let browser: Browser
let page: Page
beforeAll(async () => {
  ;[service, browser] = await Promise.all([startService(), launchBrowser()])
  page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage()
})
afterAll(async () => {
  await browser?.close()
  await service?.stop()
})

describe('the console served by opensync start', () => {
  it('loads in a real browser and shows what the API says about the store', async () => {
    await page.goto(`${service.url}/`)
    await expect.poll(() => page.getByText('sqlite').count()).toBe(1)
    expect(await seriousViolations(page)).toEqual([])
    await screenshot(page, 'welcome')
  })
})

import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  launchBrowser,
  type RunningService,
  screenshot,
  seriousViolations,
  signIn,
  startService,
} from './console-harness.ts'

const PASSWORD = 'banner admin password'
let service: RunningService
let browser: Browser

beforeAll(async () => {
  // `opensync api`: the API and the console, but no scheduler or worker.
  ;[service, browser] = await Promise.all([
    startService([], { OPENSYNC_ADMIN_PASSWORD: PASSWORD }, 'api'),
    launchBrowser(),
  ])
})
afterAll(async () => {
  await browser?.close()
  await service?.stop()
})

describe('the console without a running service', () => {
  it('says that planned executions will not happen', async () => {
    const page = await (
      await browser.newContext({ viewport: { width: 1280, height: 800 }, reducedMotion: 'reduce' })
    ).newPage()
    await signIn(page, service.url, 'admin', PASSWORD)
    const banner = page.getByTestId('no-service')
    await banner.waitFor()
    expect(await banner.textContent()).toContain('Planned executions will not happen')
    expect(await seriousViolations(page)).toEqual([])
    await screenshot(page, 'no-service')
  })
})

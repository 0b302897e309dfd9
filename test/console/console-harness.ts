import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import AxeBuilder from '@axe-core/playwright'
import Database from 'better-sqlite3'
import { type Browser, chromium, type Page } from 'playwright-core'
import { buildConsole } from '../../console/scripts/build.ts'

/** Debian's Chromium, with the flags a headless, offline CI machine needs. */
export const CHROMIUM = process.env.OPENSYNC_CHROMIUM ?? '/usr/bin/chromium'
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
]

/** A real `opensync start` on a free port with its own data folder (SQLite store). */
export interface RunningService {
  readonly url: string
  /** The service's data folder (store, key, the demo's databases under demo/). */
  readonly dataDir: string
  /** Everything the process printed so far (stdout and stderr). */
  output(): string
  stop(): Promise<void>
}

/** Starts `opensync start` (or `api`: the API alone), the console built first, and waits for the URL it prints. */
export async function startService(
  args: readonly string[] = [],
  env: Record<string, string> = {},
  command: 'start' | 'api' = 'start',
): Promise<RunningService> {
  await buildConsole()
  const dataDir = mkdtempSync(join(tmpdir(), 'osy-console-'))
  const child: ChildProcess = spawn(process.execPath, ['bin/opensync.js', command, ...args], {
    env: {
      ...process.env,
      OPENSYNC_DATA_DIR: dataDir,
      OPENSYNC_LISTEN: '127.0.0.1:0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString()
  })
  child.stderr!.on('data', (chunk: Buffer) => {
    out += chunk.toString()
  })
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`opensync start printed no URL:\n${out}`)),
      30_000,
    )
    const look = () => {
      const match = /OpenSync console: (http:\/\/[^\s/]+)\//.exec(out)
      if (match) {
        clearTimeout(timer)
        resolve(match[1]!)
      }
    }
    child.stdout!.on('data', look)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`opensync start exited with ${code}:\n${out}`))
    })
  })
  return {
    url,
    dataDir,
    output: () => out,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve))
        child.kill('SIGTERM')
        await exited
      }
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** Debian's Chromium through playwright-core (no browser download). */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium`)
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS })
}

/**
 * A page in a context of its own, as every console test wants it: a 1280 × 900 window, no
 * animations (screenshots and clicks do not wait for them), 10 s for any wait.
 */
export async function openPage(browser: Browser): Promise<Page> {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 900 },
    reducedMotion: 'reduce',
  })
  context.setDefaultTimeout(10_000)
  return context.newPage()
}

/** The serious and critical axe-core violations of the page as it is now, as readable lines. */
export async function seriousViolations(page: Page): Promise<string[]> {
  const result = await new AxeBuilder({ page }).analyze()
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map(
      (v) =>
        `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`,
    )
}

/**
 * Where screenshots go: docs/console/ (the pictures of docs/console.md) when
 * CONSOLE_SCREENSHOTS=1, else a temporary folder, so an ordinary test run leaves the
 * checkout as it was.
 */
const SHOTS =
  process.env.CONSOLE_SCREENSHOTS === '1'
    ? join(import.meta.dirname, '../../docs/console')
    : join(tmpdir(), 'opensync-console-screenshots')

/** A screenshot of the page as it is (docs/console/<name>.png with CONSOLE_SCREENSHOTS=1). */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true })
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false })
}

/** Signs in on the sign-in page and waits for the overview. */
export async function signIn(
  page: Page,
  url: string,
  username: string,
  password: string,
): Promise<void> {
  await page.goto(`${url}/`)
  await page.getByLabel(/^User name/).fill(username)
  await page.getByLabel(/^Password/).fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('heading', { name: 'Synchronization tasks' }).waitFor()
}

/** Chooses an option of a Mantine select (a combobox) by its label. */
export async function choose(
  page: Page,
  label: string | RegExp,
  option: string | RegExp,
): Promise<void> {
  await page.getByRole('combobox', { name: label }).click()
  await page.getByRole('option', { name: option }).click()
}

/**
 * Writes `n` finished executions of a task straight into the service's SQLite store, older
 * than any real one (an hour apart, ending a year ago), in one transaction: a long history
 * without running it.
 */
export function addExecutions(service: RunningService, taskId: string, n: number): void {
  const db = new Database(join(service.dataDir, 'opensync.db'))
  try {
    db.pragma('busy_timeout = 10000')
    const insert = db.prepare(
      `INSERT INTO osy_executions (task_id, trigger, dry_run, status, started_at, ended_at, counts, cancel_requested)
       VALUES (?, 'schedule', 0, ?, ?, ?, ?, 0)`,
    )
    const end = Date.now() - 365 * 24 * 3600_000
    db.transaction(() => {
      for (let i = n; i > 0; i--) {
        const started = new Date(end - i * 3600_000)
        insert.run(
          taskId,
          i % 10 === 0 ? 'failed' : 'succeeded',
          started.toISOString(),
          new Date(started.getTime() + 1500).toISOString(),
          JSON.stringify({}),
        )
      }
    })()
  } finally {
    db.close()
  }
}

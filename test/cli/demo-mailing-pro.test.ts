/**
 * The demo's second task (issue 12): the MailingPro demo API runs inside `opensync demo`
 * and `opensync start --demo`, and the newsletter task — made from the shipped demo-crm
 * and mailing-pro profiles — fills the demo pool with the CRM contacts of one postal code.
 * The recipients live in the demo folder's mailing-pro.json, across restarts.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DEMO_MAILING_PRO } from '../../src/cli/demo.ts'
import { BIN, cli, rows, sqlite, tempDir } from './cli-harness.ts'

interface DataFile {
  clients: { id: string; secret: string }[]
  tenants: Record<string, Record<string, { id: number; email: string; lastName?: string }[]>>
  port?: number
}

const { tenant, pool, zip } = DEMO_MAILING_PRO
const readData = (dir: string) =>
  JSON.parse(readFileSync(join(dir, 'mailing-pro.json'), 'utf8')) as DataFile
const recipientsOf = (dir: string) => readData(dir).tenants[tenant]![pool]!
/** The e-mails of the CRM contacts whose address has the newsletter's postal code. */
const crmEmails = (dir: string) =>
  rows<{ email: string }>(
    join(dir, 'crm.db'),
    `SELECT c.email FROM contacts c JOIN addresses a ON a.id = c.address_id WHERE a.zip1 = '${zip}'`,
  ).map((r) => r.email)

describe('the MailingPro part of the demo', () => {
  it('opensync demo serves the MailingPro API and runs the newsletter task into the pool', async () => {
    const cwd = tempDir()
    const run = await cli(cwd, ['demo', 'try', '--records', '300', '--store', 'store.db'])
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toContain('mailing-pro.json')
    expect(run.stdout).toMatch(
      /Run of "Newsletter: CRM contacts in 76137 Karlsruhe → MailingPro pool" succeeded/,
    )
    const dir = join(cwd, 'try')
    const emails = crmEmails(dir)
    expect(emails.length).toBeGreaterThan(10)
    const recipients = recipientsOf(dir)
    // Every CRM contact of the postal code, plus the two who subscribed on the web.
    expect(recipients.map((r) => r.email).sort()).toEqual(
      [...emails, 'press@news.example', 'subscriber@web.example'].sort(),
    )
    // The two recipients the pool had of the CRM's contacts now carry the CRM's names.
    const first = rows<{ email: string; last_name: string }>(
      join(dir, 'crm.db'),
      `SELECT c.email, c.last_name FROM contacts c JOIN addresses a ON a.id = c.address_id
       WHERE a.zip1 = '${zip}' ORDER BY c.id LIMIT 1`,
    )[0]!
    expect(recipients.find((r) => r.email === first.email)?.lastName).toBe(first.last_name)
    // The API's client secret is in its data file only: not printed, not in the task file.
    const { secret } = readData(dir).clients[0]!
    expect(run.stdout + run.stderr).not.toContain(secret)
    const taskText = readFileSync(join(dir, 'newsletter.task.yaml'), 'utf8')
    expect(taskText).not.toContain(secret)
    expect(taskText).toContain('profile:\n      id: mailing-pro')
  })

  it('start --demo stores the newsletter task, which succeeds; a restart keeps the recipients and follows a new port; a plain start serves the demo API too', async () => {
    const cwd = tempDir()
    const dir = join(cwd, '.data', 'demo')
    let first: Started | undefined = await start(cwd)
    let blocker: ReturnType<typeof createServer> | undefined
    let second: Started | undefined
    let third: Started | undefined
    try {
      await first.until(() => first!.ended().length >= 2)
      const ended = first.ended()
      const newsletter = ended.find((e) => e.taskId.endsWith('-newsletter'))
      expect(newsletter?.status, first.out()).toBe('succeeded')
      expect(ended.every((e) => e.status === 'succeeded')).toBe(true)
      const port = Number(
        /MailingPro demo API at http:\/\/127\.0\.0\.1:(\d+)/.exec(first.out())?.[1],
      )
      expect(first.out()).toMatch(/OpenSync console: http:\/\/127\.0\.0\.1:\d+\//)
      await first.stop()
      first = undefined

      const before = recipientsOf(dir)
      expect(before.map((r) => r.email).sort()).toEqual(
        [...crmEmails(dir), 'press@news.example', 'subscriber@web.example'].sort(),
      )
      expect(readData(dir).port).toBe(port)
      const secret = readData(dir).clients[0]!.secret
      // A contact added meanwhile; the API's old port taken by another program.
      const address = rows<{ id: number }>(
        join(dir, 'crm.db'),
        `SELECT id FROM addresses WHERE zip1 = '${zip}' ORDER BY id LIMIT 1`,
      )[0]!.id
      sqlite(
        join(dir, 'crm.db'),
        `INSERT INTO contacts (address_id, first_name, last_name, email) VALUES (${address}, 'Neu', 'Kontakt', 'new@example.org')`,
      )
      blocker = createServer()
      await new Promise<void>((resolve) => blocker!.listen(port, '127.0.0.1', resolve))

      second = await start(cwd)
      await second.until(() => /MailingPro demo API at/.test(second!.out()))
      const id = newsletter!.taskId
      const queued = await cli(cwd, ['tasks', 'start', id])
      expect(queued.code, queued.stderr).toBe(0)
      // The stored task follows the API's new URL.
      await second.until(() => second!.ended().length >= 1)
      const again = second.ended()
      expect(again.map((e) => [e.taskId.endsWith('-newsletter'), e.status])).toEqual([
        [true, 'succeeded'],
      ])
      const newPort = Number(
        /MailingPro demo API at http:\/\/127\.0\.0\.1:(\d+)/.exec(second.out())?.[1],
      )
      expect(newPort).not.toBe(port)
      expect(second.out()).not.toContain(secret)
      await second.stop()
      second = undefined
      const after = recipientsOf(dir)
      expect(after.length).toBe(before.length + 1)
      expect(after.slice(0, before.length)).toEqual(before)
      expect(after.at(-1)).toMatchObject({ email: 'new@example.org', lastName: 'Kontakt' })

      // A plain start (no --demo) on the demo's store serves the demo API too: the stored
      // newsletter task still succeeds, and nothing of the demo is stored again.
      third = await start(cwd, false)
      await third.until(() => /MailingPro demo API at/.test(third!.out()))
      expect(third.out()).not.toMatch(/stored the demo|created the demo/)
      const queuedAgain = await cli(cwd, ['tasks', 'start', id])
      expect(queuedAgain.code, queuedAgain.stderr).toBe(0)
      await third.until(() => third!.ended().length >= 1)
      expect(third.ended().map((e) => [e.taskId, e.status])).toEqual([[id, 'succeeded']])
      await third.stop()
      third = undefined
      expect(recipientsOf(dir)).toEqual(after)
    } finally {
      await first?.stop()
      await second?.stop()
      await third?.stop()
      blocker?.close()
    }
  })
})

interface Started {
  out(): string
  ended(): { taskId: string; status: string }[]
  until(done: () => boolean): Promise<void>
  stop(): Promise<void>
}

/** `opensync start --demo` (or without `--demo`) in `cwd`, on a free port. */
async function start(cwd: string, demo = true): Promise<Started> {
  const base: Record<string, string | undefined> = { ...process.env }
  delete base.npm_command
  const child: ChildProcessWithoutNullStreams = spawn(
    process.execPath,
    [BIN, 'start', ...(demo ? ['--demo'] : [])],
    {
      cwd,
      env: { ...base, OPENSYNC_DATABASE_URL: '', OPENSYNC_LISTEN: '127.0.0.1:0' },
    },
  )
  let out = ''
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString()
  })
  child.stderr.on('data', (d: Buffer) => {
    out += d.toString()
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  let stopped: Promise<void> | undefined
  return {
    out: () => out,
    ended: () =>
      out
        .split('\n')
        .filter((l) => l.includes('"msg":"run ended"'))
        .map((l) => JSON.parse(l) as { taskId: string; status: string }),
    async until(done) {
      for (let i = 0; i < 600 && !done(); i++) await new Promise((r) => setTimeout(r, 50))
      expect(done(), out).toBe(true)
    },
    stop() {
      stopped ??= (async () => {
        child.kill('SIGTERM')
        expect(await exited, out).toBe(0)
      })()
      return stopped
    },
  }
}

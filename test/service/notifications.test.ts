/**
 * Notifications of a task: a webhook (a real local HTTP receiver) on the first failure and
 * on recovery, and the plan that pauses itself after N failed runs in a row and says why.
 * Real runs of a real service on SQLite systems; a run fails because its table is missing.
 */
import { mkdtempSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createRegistry } from '../../src/bridges/index.ts'
import { validateTaskFile } from '../../src/engine/task/index.ts'
import type { BridgeLogger } from '../../src/sdk/index.ts'
import { EventHub } from '../../src/service/event-hub.ts'
import type { HubEvent } from '../../src/service/events.ts'
import type { WebhookPayload } from '../../src/service/notifications.ts'
import { openSecretBox } from '../../src/service/secrets.ts'
import { Service } from '../../src/service/service.ts'
import { TaskManager } from '../../src/service/task-manager.ts'
import { openStore, type Store } from '../../src/store/index.ts'

interface Received {
  readonly headers: IncomingMessage['headers']
  readonly body: WebhookPayload
}

const TOKEN = 'hook-token-4711'
// A ${VAR} reference as written in a task file.
const HOOK_REF = ['$', '{HOOK_URL}'].join('')

describe('notifications', () => {
  let dir: string
  let store: Store
  let receiver: Server
  let received: Received[]
  let hookUrl: string
  let service: Service | undefined

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'osy-notify-'))
    store = await openStore({ url: join(dir, 'store.db') })
    received = []
    receiver = createServer((req, res) => {
      let text = ''
      req.on('data', (chunk) => {
        text += chunk
      })
      req.on('end', () => {
        received.push({ headers: req.headers, body: JSON.parse(text) as WebhookPayload })
        res.writeHead(204).end()
      })
    })
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
    hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/${TOKEN}`
  })
  afterEach(async () => {
    await service?.stop()
    service = undefined
    await store.close()
    await new Promise((resolve) => receiver.close(resolve))
  })

  it('posts on the first failure, pauses the plan after two in a row with the reason shown, and posts the recovery', async () => {
    const crm = join(dir, 'crm.db')
    const erp = join(dir, 'erp.db')
    new Database(crm).exec('CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT)')
    new Database(erp).close() // no table yet: every run fails until it is created
    const registry = await createRegistry()
    const hub = new EventHub()
    const events: HubEvent[] = []
    hub.subscribe((e) => events.push(e))
    const lines: string[] = []
    const log = recordingLogger(lines)
    const tasks = new TaskManager({
      store,
      registry,
      box: await openSecretBox({ dataDir: dir }),
      env: { HOOK_URL: hookUrl },
      events: hub,
    })
    await tasks.save(`id: people
subject: People
systems:
  crm: { bridge: sqlite, connection: { file: ${JSON.stringify(crm)} } }
  erp: { bridge: sqlite, connection: { file: ${JSON.stringify(erp)} } }
pairs:
  - crm: { type: people }
    erp: { type: people }
    fields: { email: email }
plan: { kind: daily, at: "${farFromNow()}", timezone: UTC }
notify: { webhook: "${HOOK_REF}", failuresBeforePause: 2 }
`)
    service = new Service({ store, registry, tasks, events: hub, tickMs: 50, log })
    await service.start()
    const run = async () => {
      const ended = waitFor(hub, (e) => e.type === 'execution.ended')
      const { executionId } = await tasks.start('people')
      await ended
      await settled(service!)
      return executionId
    }

    const first = await run()
    expect(received.map((r) => r.body.event)).toEqual(['failure'])
    expect(received[0]!.body).toMatchObject({
      event: 'failure',
      task: { id: 'people', subject: 'People' },
      execution: { id: first, status: 'failed', trigger: 'manual' },
      error: { code: 'OSY_RECORD_TYPE_NOT_FOUND' },
      failuresInRow: 1,
    })
    expect(received[0]!.headers['content-type']).toBe('application/json')
    expect((await tasks.get('people')).active).toBe(true)

    // The second failure in a row: no second "failure" post, but the plan pauses itself.
    const second = await run()
    expect(received.map((r) => r.body.event)).toEqual(['failure', 'paused'])
    expect(received[1]!.body).toMatchObject({ execution: { id: second }, failuresInRow: 2 })
    const paused = await tasks.get('people')
    expect(paused.active).toBe(false)
    expect(paused.paused).toMatchObject({ executionId: second })
    expect(paused.paused!.reason).toMatch(/^2 failed runs in a row \(the task pauses after 2\)/)
    expect(paused.paused!.reason).toContain('OSY_RECORD_TYPE_NOT_FOUND')
    expect(received[1]!.body.reason).toBe(paused.paused!.reason)
    expect(events).toContainEqual(
      expect.objectContaining({
        type: 'task.changed',
        change: 'paused',
        reason: paused.paused!.reason,
      }),
    )
    expect(await store.audit.list({ taskId: 'people', action: 'task.paused' })).toMatchObject([
      { actor: 'service', target: String(second), detail: { reason: paused.paused!.reason } },
    ])
    const protocol = await store.executions.logs(second)
    expect(protocol.at(-1)!.message).toMatch(/^plan paused: 2 failed runs in a row/)

    // Fixed: the table exists; activated again, the next run recovers.
    const db = new Database(erp)
    db.exec('CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT)')
    db.close()
    await tasks.activate('people')
    expect((await tasks.get('people')).paused).toBeUndefined()
    await run()
    expect(received.map((r) => r.body.event)).toEqual(['failure', 'paused', 'recovery'])
    expect(received[2]!.body).toMatchObject({
      execution: { status: 'succeeded' },
      failuresInRow: 0,
    })
    // A success after a success says nothing.
    await run()
    expect(received).toHaveLength(3)
    // The webhook's URL carries a token: it is never logged.
    expect(lines.join('\n')).not.toContain(TOKEN)
  })

  it('a webhook that is down is logged without its URL and holds up nothing', async () => {
    const crm = join(dir, 'crm.db')
    new Database(crm).exec('CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT)')
    const registry = await createRegistry()
    const hub = new EventHub()
    const lines: string[] = []
    const tasks = new TaskManager({
      store,
      registry,
      box: await openSecretBox({ dataDir: dir }),
      events: hub,
    })
    await new Promise((resolve) => receiver.close(resolve))
    receiver = createServer()
    await tasks.save(`id: down
subject: Down
systems:
  crm: { bridge: sqlite, connection: { file: ${JSON.stringify(crm)} } }
  erp: { bridge: sqlite, connection: { file: ${JSON.stringify(join(dir, 'none.db'))} } }
pairs:
  - crm: { type: people }
    erp: { type: people }
    fields: { email: email }
notify: { webhook: "${hookUrl}" }
`)
    service = new Service({
      store,
      registry,
      tasks,
      events: hub,
      tickMs: 50,
      log: recordingLogger(lines),
    })
    await service.start()
    const ended = waitFor(hub, (e) => e.type === 'execution.ended')
    await tasks.start('down')
    await ended
    await settled(service)
    const text = lines.join('\n')
    expect(text).toContain('a webhook notification could not be sent')
    expect(text).not.toContain(TOKEN)
    // No failuresBeforePause: the plan stays on however often it fails.
    expect((await tasks.get('down')).active).toBe(true)
  })

  it('checks the notify settings of a task file', () => {
    const base = {
      subject: 'x',
      systems: { a: { bridge: 'sqlite', connection: {} }, b: { bridge: 'sqlite', connection: {} } },
      pairs: [{ a: { type: 't' }, b: { type: 't' }, fields: { f: 'f' } }],
    }
    expect(
      validateTaskFile({
        ...base,
        notify: { webhook: 'https://hooks.example.com/x', failuresBeforePause: 3 },
      }).notify,
    ).toEqual({
      webhook: 'https://hooks.example.com/x',
      failuresBeforePause: 3,
    })
    expect(validateTaskFile({ ...base, notify: { webhook: HOOK_REF } }).notify?.webhook).toBe(
      HOOK_REF,
    )
    const issues = (notify: unknown) => {
      try {
        validateTaskFile({ ...base, notify })
        return []
      } catch (error) {
        return (error as { details: { issues: { path: string; message: string }[] } }).details
          .issues
      }
    }
    expect(issues({ webhook: 'ftp://example.com' })).toEqual([
      { path: 'notify.webhook', message: 'must be an http:// or https:// URL' },
    ])
    expect(issues({ failuresBeforePause: 0 })[0]?.path).toBe('notify.failuresBeforePause')
    expect(issues({ email: 'x@example.com' })[0]?.message).toMatch(/unknown key/)
  })
})

/** A time of day twelve hours away, so the daily plan does not run during the test. */
function farFromNow(): string {
  return new Date(Date.now() + 12 * 3_600_000).toISOString().slice(11, 16)
}

/** The run's notifications were decided (after its end event) and their posts answered. */
async function settled(service: Service): Promise<void> {
  while (service.worker.active > 0) await new Promise((resolve) => setTimeout(resolve, 10))
  await service.notifier.idle()
}

function waitFor(hub: EventHub, match: (e: HubEvent) => boolean): Promise<HubEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no such event')), 10_000)
    const sub = hub.subscribe((e) => {
      if (!match(e)) return
      clearTimeout(timer)
      sub.close()
      resolve(e)
    })
  })
}

/** A logger that keeps every line it is given, as JSON, to scan for secrets. */
function recordingLogger(lines: string[]): BridgeLogger {
  const write = (data: unknown, message?: string) => lines.push(JSON.stringify({ data, message }))
  const log: BridgeLogger = {
    debug: write,
    info: write,
    warn: write,
    error: write,
    child: () => log,
  } as unknown as BridgeLogger
  return log
}

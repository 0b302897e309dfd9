/**
 * `GET /api/events` against a listening server: Server-Sent Events as a client reads them,
 * a reconnect with Last-Event-ID that gets exactly what it missed, a reset when the missed
 * events are gone, authentication, and a caller limited to one profile.
 */
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EventHub } from '../../src/service/event-hub.ts'
import { type TestServer, testServer } from './server-harness.ts'

const hub = new EventHub({ capacity: 5 })
let server: TestServer
let base: string
let viewer: string
let limited: string

beforeAll(async () => {
  server = await testServer({ events: hub })
  const password = 'a long enough password 1'
  await server.access.addUser({ username: 'vic', password, role: 'viewer' }, 'test')
  await server.access.addUser(
    { username: 'lim', password, role: 'viewer', profiles: ['demo-crm'] },
    'test',
  )
  viewer = (
    await server.access.createToken({ name: 'v', username: 'vic', scopes: ['read'] }, 'test')
  ).token
  limited = (
    await server.access.createToken({ name: 'l', username: 'lim', scopes: ['read'] }, 'test')
  ).token
  await server.app.listen({ host: '127.0.0.1', port: 0 })
  base = `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`
})
afterAll(() => server.close())

interface Message {
  readonly id?: string
  readonly event?: string
  readonly data?: string
}

/** An open SSE stream: its messages as they arrive. */
async function connect(token: string, lastEventId?: string) {
  const abort = new AbortController()
  const res = await fetch(`${base}/api/events`, {
    headers: {
      authorization: `Bearer ${token}`,
      ...(lastEventId ? { 'last-event-id': lastEventId } : {}),
    },
    signal: abort.signal,
  })
  const messages: Message[] = []
  const waiters: (() => void)[] = []
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
  let text = ''
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read()
        if (done) return
        text += value
        let end = text.indexOf('\n\n')
        while (end >= 0) {
          const block = text.slice(0, end)
          text = text.slice(end + 2)
          const message: Record<string, string> = {}
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) continue
            const i = line.indexOf(': ')
            if (i > 0) message[line.slice(0, i)] = line.slice(i + 2)
          }
          if (message.data !== undefined || message.event !== undefined) messages.push(message)
          for (const w of waiters.splice(0)) w()
          end = text.indexOf('\n\n')
        }
      }
    } catch {
      // aborted
    }
  })()
  return {
    res,
    messages,
    /** Waits until `n` messages (beyond the retry line) have arrived. */
    async take(n: number): Promise<Message[]> {
      const deadline = Date.now() + 5000
      while (messages.length < n) {
        if (Date.now() > deadline) throw new Error(`only ${messages.length} of ${n} messages`)
        await new Promise<void>((resolve) => {
          waiters.push(resolve)
          setTimeout(resolve, 100)
        })
      }
      return messages.slice(0, n)
    },
    close: () => abort.abort(),
  }
}

const changed = (taskId: string) =>
  hub.publish({ type: 'task.changed', taskId, change: 'saved', revision: 1 })

describe('GET /api/events', () => {
  it('streams events as SSE, and a reconnect with Last-Event-ID gets exactly what it missed', async () => {
    const first = await connect(viewer)
    expect(first.res.status).toBe(200)
    expect(first.res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    expect(first.res.headers.get('cache-control')).toContain('no-cache')
    const a = changed('a')
    const b = changed('b')
    const got = await first.take(2)
    expect(got.map((m) => m.id)).toEqual([String(a.id), String(b.id)])
    expect(got[0]!.event).toBe('task.changed')
    expect(JSON.parse(got[0]!.data!)).toEqual({ ...a })
    first.close()

    // Published while nobody listens …
    const c = changed('c')
    const d = changed('d')
    // … and received after the reconnect, in order, before the live ones.
    const again = await connect(viewer, String(b.id))
    const e = changed('e')
    const resumed = await again.take(3)
    expect(resumed.map((m) => m.id)).toEqual([c.id, d.id, e.id].map(String))
    expect(resumed.map((m) => JSON.parse(m.data!).taskId)).toEqual(['c', 'd', 'e'])
    again.close()
  })

  it('starts with a reset when the events after Last-Event-ID are no longer kept', async () => {
    const old = changed('old')
    for (let i = 0; i < 6; i++) changed(`n${i}`) // the ring holds 5: "old" and the next are gone
    const stream = await connect(viewer, String(old.id))
    const [reset, ...rest] = await stream.take(6)
    expect(reset).toMatchObject({ event: 'reset', id: String(hub.lastId) })
    expect(rest.map((m) => JSON.parse(m.data!).taskId)).toEqual(['n1', 'n2', 'n3', 'n4', 'n5'])
    stream.close()
  })

  it('refuses a request without valid credentials, and a malformed Last-Event-ID', async () => {
    const none = await fetch(`${base}/api/events`)
    expect(none.status).toBe(401)
    expect(none.headers.get('content-type')).toContain('application/problem+json')
    const wrong = await fetch(`${base}/api/events`, { headers: { authorization: 'Bearer nope' } })
    expect(wrong.status).toBe(401)
    const bad = await fetch(`${base}/api/events`, {
      headers: { authorization: `Bearer ${viewer}`, 'last-event-id': '1; DROP' },
    })
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { code: string }).code).toBe('OSY_INVALID_REQUEST')
  })

  it('shows a caller limited to a profile only the events of tasks made from it', async () => {
    const doc = (id: string, profile?: string) => ({
      id,
      subject: id,
      systems: {
        crm: {
          bridge: 'sqlite',
          connection: { file: 'x.db' },
          ...(profile ? { profile: { id: profile, version: '1.0.0' } } : {}),
        },
        erp: { bridge: 'sqlite', connection: { file: 'y.db' } },
      },
    })
    await server.tasks.save(doc('mine', 'demo-crm'), { draft: true })
    await server.tasks.save(doc('theirs'), { draft: true })
    const stream = await connect(limited)
    changed('theirs')
    changed('mine')
    changed('theirs')
    hub.publish({ type: 'execution.queued', executionId: 9, taskId: 'mine', trigger: 'manual' })
    const got = await stream.take(2)
    expect(got.map((m) => [m.event, JSON.parse(m.data!).taskId])).toEqual([
      ['task.changed', 'mine'],
      ['execution.queued', 'mine'],
    ])
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(stream.messages).toHaveLength(2)
    stream.close()
  })

  it('is in the OpenAPI document', async () => {
    const doc = (await server.app.inject({ method: 'GET', url: '/api/openapi.json' })).json() as {
      paths: Record<string, { get?: { responses: Record<string, { content?: object }> } }>
    }
    expect(Object.keys(doc.paths['/api/events']!.get!.responses['200']!.content!)).toEqual([
      'text/event-stream',
    ])
  })
})

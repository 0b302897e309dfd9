/**
 * The task list is served from a short cache when the server has live events: the same text
 * the uncached route gives, a write through the API shows at once, any live event (a run
 * queued, progressing, ended; a task changed) clears it, and it expires on its own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TaskListCache } from '../../src/server/task-list-cache.ts'
import { EventHub } from '../../src/service/event-hub.ts'
import { type TestServer, testServer } from './server-harness.ts'

const TASK = (id: string) => ({
  draft: true,
  document: { id, subject: `Task ${id}` },
})

describe('the task list cache', () => {
  let cached: TestServer
  let plain: TestServer
  let hub: EventHub
  let token: string
  let plainToken: string

  beforeAll(async () => {
    hub = new EventHub()
    cached = await testServer({ events: hub })
    plain = await testServer()
    token = await cached.tokenFor('editor')
    plainToken = await plain.tokenFor('editor')
  })
  afterAll(async () => {
    await cached?.close()
    await plain?.close()
  })

  const list = async (server: TestServer, bearer: string) => {
    const res = await server.app.inject({
      method: 'GET',
      url: '/api/tasks',
      headers: { authorization: `Bearer ${bearer}` },
    })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/^application\/json/)
    return res
  }
  const create = (server: TestServer, bearer: string, id: string) =>
    server.app.inject({
      method: 'POST',
      url: '/api/tasks',
      headers: { authorization: `Bearer ${bearer}` },
      payload: TASK(id),
    })

  it('answers what the uncached route answers, and a write through the API shows at once', async () => {
    expect((await create(cached, token, 'a')).statusCode).toBe(201)
    expect((await create(plain, plainToken, 'a')).statusCode).toBe(201)
    const ids = (body: string) =>
      (JSON.parse(body) as { items: { id: string; subject: string; draft: boolean }[] }).items.map(
        (t) => [t.id, t.subject, t.draft],
      )
    const one = await list(cached, token)
    expect(ids(one.body)).toEqual(ids((await list(plain, plainToken)).body))
    expect(ids(one.body)).toEqual([['a', 'Task a', true]])
    // Cached: the same text again.
    expect((await list(cached, token)).body).toBe(one.body)
    await create(cached, token, 'b')
    expect(ids((await list(cached, token)).body).map((t) => t[0])).toEqual(['a', 'b'])
  })

  it('a change outside the API shows after a live event, or after the entry expires', async () => {
    const before = (await list(cached, token)).body
    // A change through the task manager alone raises no request here: still the cached text.
    await cached.tasks.save({ id: 'c', subject: 'Task c' }, { draft: true })
    expect((await list(cached, token)).body).toBe(before)
    hub.publish({ type: 'task.changed', taskId: 'c', change: 'saved' })
    expect((await list(cached, token)).body).toContain('"id":"c"')
  })

  it('expires by itself and builds once for concurrent callers', async () => {
    const events = new EventHub()
    const cache = new TaskListCache(events, 50)
    let builds = 0
    const build = async () => {
      builds++
      await new Promise((r) => setTimeout(r, 10))
      return `body ${builds}`
    }
    const [x, y] = await Promise.all([cache.get('k', build), cache.get('k', build)])
    expect([x, y, builds]).toEqual(['body 1', 'body 1', 1])
    expect(await cache.get('other', build)).toBe('body 2')
    await new Promise((r) => setTimeout(r, 60))
    expect(await cache.get('k', build)).toBe('body 3')
    cache.close()
  })
})

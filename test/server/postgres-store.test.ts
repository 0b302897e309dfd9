import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { createDemo } from '../../src/cli/demo.ts'
import { bearer, PASSWORD, sessionHeaders, signIn, testServer } from './server-harness.ts'

// The API's own tables and queries on a PostgreSQL store: setup, sessions, lock-out, tokens,
// tasks with revisions, execution pages, protocol lines and the audit trail.

const s = await testServer({}, { postgres: true })
afterAll(() => s.close())

describe('the API on a PostgreSQL store', () => {
  it('sets up the first admin once, signs in, locks out, and makes tokens', async () => {
    const token = (await s.access.setupToken())!
    const attempt = (username: string) =>
      s.app.inject({
        method: 'POST',
        url: '/api/setup',
        payload: { token, username, password: PASSWORD },
      })
    const [a, b] = await Promise.all([attempt('alice'), attempt('bob')])
    expect([a.statusCode, b.statusCode].sort()).toEqual([201, 409])
    const admin = a.statusCode === 201 ? 'alice' : 'bob'
    const session = await signIn(s.app, admin)
    const created = await s.app.inject({
      method: 'POST',
      url: '/api/users',
      headers: sessionHeaders(session),
      payload: { username: 'vic', password: PASSWORD, role: 'viewer', profiles: ['demo-crm'] },
    })
    expect(created.json()).toMatchObject({ username: 'vic', profiles: ['demo-crm'] })
    for (let i = 0; i < 5; i++)
      await s.app.inject({
        method: 'POST',
        url: '/api/session',
        payload: { username: 'vic', password: 'wrong-wrong-wrong' },
      })
    expect(
      (
        await s.app.inject({
          method: 'POST',
          url: '/api/session',
          payload: { username: 'vic', password: PASSWORD },
        })
      ).statusCode,
    ).toBe(429)
    const made = await s.app.inject({
      method: 'POST',
      url: '/api/tokens',
      headers: sessionHeaders(session),
      payload: { name: 'ci', scopes: ['read', 'operate', 'edit'] },
    })
    expect(made.statusCode).toBe(201)
    const me = await s.app.inject({
      method: 'GET',
      url: '/api/session',
      headers: bearer(made.json().token),
    })
    expect(me.json()).toMatchObject({ via: 'bearer', token: 'ci', username: admin })
  })

  it('keeps tasks with revisions, pages executions, reads lines and the audit trail', async () => {
    const editor = bearer(await s.tokenFor('editor'))
    const demo = parse(readFileSync(createDemo(join(s.dir, 'demo'), 50), 'utf8')) as Record<
      string,
      unknown
    >
    const created = await s.app.inject({
      method: 'POST',
      url: '/api/tasks',
      headers: editor,
      payload: { document: { ...demo, id: 'pg-task' } },
    })
    expect(created.statusCode, created.body).toBe(201)
    const stale = await s.app.inject({
      method: 'PUT',
      url: '/api/tasks/pg-task',
      headers: { ...editor, 'if-match': '"7"' },
      payload: { document: { ...demo, id: 'pg-task', subject: 'x' } },
    })
    expect(stale.statusCode).toBe(412)
    for (let i = 0; i < 2; i++) {
      expect(
        (
          await s.app.inject({
            method: 'POST',
            url: '/api/tasks/pg-task/executions',
            headers: editor,
          })
        ).statusCode,
      ).toBe(202)
      expect(await s.runNext()).toBe(true)
    }
    const page = (
      await s.app.inject({
        method: 'GET',
        url: '/api/executions?task=pg-task&limit=1&status=succeeded',
        headers: editor,
      })
    ).json()
    expect(page.items).toHaveLength(1)
    const next = (
      await s.app.inject({
        method: 'GET',
        url: `/api/executions?task=pg-task&limit=1&cursor=${page.nextCursor}`,
        headers: editor,
      })
    ).json()
    expect(next.items[0].id).toBeLessThan(page.items[0].id)
    const lines = (
      await s.app.inject({
        method: 'GET',
        url: `/api/executions/${page.items[0].id}/lines?after=1`,
        headers: editor,
      })
    ).json()
    expect(lines.items.length).toBeGreaterThan(0)
    const list = (await s.app.inject({ method: 'GET', url: '/api/tasks', headers: editor })).json()
    expect(list.items[0]).toMatchObject({
      id: 'pg-task',
      neverExecuted: false,
      lastExecution: { id: page.items[0].id },
    })
    const audit = (
      await s.app.inject({ method: 'GET', url: '/api/tasks/pg-task/audit', headers: editor })
    ).json()
    expect(audit.items.map((e: { action: string }) => e.action)).toContain('execution.started')
  })
})

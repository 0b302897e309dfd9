import { afterAll, describe, expect, it } from 'vitest'
import { AccessManager } from '../../src/service/access/access-manager.ts'
import { bearer, PASSWORD, sessionHeaders, signIn, testServer } from './server-harness.ts'

describe('first start: the one-time setup', () => {
  it('lets exactly one person create the first admin with the printed token', async () => {
    const s = await testServer()
    try {
      expect((await s.app.inject({ method: 'GET', url: '/api/setup' })).json()).toEqual({
        needed: true,
      })
      const token = await s.access.setupToken()
      expect(token).toMatch(/^[\w-]{40,}$/)
      const wrong = await s.app.inject({
        method: 'POST',
        url: '/api/setup',
        payload: { token: 'guess', username: 'mallory', password: PASSWORD },
      })
      expect(wrong.statusCode).toBe(403)
      const attempt = (username: string) =>
        s.app.inject({
          method: 'POST',
          url: '/api/setup',
          payload: { token, username, password: PASSWORD },
        })
      // Two at once: one wins, the other is told the setup is done.
      const [a, b] = await Promise.all([attempt('alice'), attempt('bob')])
      expect([a.statusCode, b.statusCode].sort()).toEqual([201, 409])
      expect((a.statusCode === 201 ? a : b).json()).toMatchObject({ role: 'admin' })
      expect((await attempt('carol')).json()).toMatchObject({ code: 'OSY_SETUP_DONE' })
      expect((await s.store.users.list()).map((u) => u.role)).toEqual(['admin'])
      expect(await s.access.setupToken()).toBeUndefined()
    } finally {
      await s.close()
    }
  })

  it('OPENSYNC_ADMIN_PASSWORD makes the admin for scripts, only while there is no user', async () => {
    const s = await testServer()
    try {
      const access = new AccessManager({ store: s.store })
      expect(await access.ensureAdmin('admin', PASSWORD)).toMatchObject({ role: 'admin' })
      expect(await access.ensureAdmin('admin2', PASSWORD)).toBeUndefined()
      await signIn(s.app, 'admin')
    } finally {
      await s.close()
    }
  })
})

describe('sessions, CSRF and tokens', async () => {
  const s = await testServer()
  afterAll(() => s.close())
  await s.access.addUser({ username: 'ada', password: PASSWORD, role: 'admin' }, 'test')
  await s.access.addUser({ username: 'vic', password: PASSWORD, role: 'viewer' }, 'test')

  it('a session cookie is HttpOnly and SameSite=Strict; the hash, not the value, is stored', async () => {
    const res = await s.app.inject({
      method: 'POST',
      url: '/api/session',
      payload: { username: 'ada', password: PASSWORD },
    })
    expect(res.statusCode).toBe(200)
    const cookie = res.cookies.find((c) => c.name === 'osy_session')!
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' })
    expect(res.json()).toMatchObject({ via: 'session', username: 'ada', role: 'admin' })
    const me = await s.app.inject({
      method: 'GET',
      url: '/api/session',
      headers: { cookie: `osy_session=${cookie.value}` },
    })
    expect(me.json()).toMatchObject({ username: 'ada', csrfToken: res.json().csrfToken })
  })

  it('refuses a state-changing request of a session without its CSRF token (a cross-site form)', async () => {
    const session = await signIn(s.app, 'ada')
    const form = await s.app.inject({
      method: 'POST',
      url: '/api/users',
      headers: { cookie: session.cookie, 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'username=eve&password=aaaaaaaaaaaa&role=admin',
    })
    expect(form.statusCode).toBe(403)
    expect(form.json()).toMatchObject({ code: 'OSY_CSRF' })
    const wrongToken = await s.app.inject({
      method: 'POST',
      url: '/api/users',
      headers: { cookie: session.cookie, 'x-csrf-token': 'nope' },
      payload: { username: 'eve', password: PASSWORD, role: 'admin' },
    })
    expect(wrongToken.statusCode).toBe(403)
    expect(await s.store.users.byName('eve')).toBeUndefined()
    const withToken = await s.app.inject({
      method: 'POST',
      url: '/api/users',
      headers: sessionHeaders(session),
      payload: { username: 'eve', password: PASSWORD, role: 'operator' },
    })
    expect(withToken.statusCode).toBe(201)
  })

  it('signing out ends the session', async () => {
    const session = await signIn(s.app, 'vic')
    const out = await s.app.inject({
      method: 'DELETE',
      url: '/api/session',
      headers: sessionHeaders(session),
    })
    expect(out.statusCode).toBe(204)
    const after = await s.app.inject({
      method: 'GET',
      url: '/api/session',
      headers: { cookie: session.cookie },
    })
    expect(after.statusCode).toBe(401)
  })

  it('shows a token once, stores its hash, and honours scopes, the role and expiry', async () => {
    const session = await signIn(s.app, 'ada')
    const created = await s.app.inject({
      method: 'POST',
      url: '/api/tokens',
      headers: sessionHeaders(session),
      payload: { name: 'scraper', scopes: ['metrics'] },
    })
    expect(created.statusCode).toBe(201)
    const { token, info } = created.json() as { token: string; info: { id: number } }
    expect(token).toMatch(/^osy_/)
    const list = await s.app.inject({ method: 'GET', url: '/api/tokens', headers: bearer(token) })
    // A metrics token reads metrics, nothing else.
    expect(list.statusCode).toBe(403)
    expect(
      (await s.app.inject({ method: 'GET', url: '/metrics', headers: bearer(token) })).statusCode,
    ).toBe(200)
    const stored = await s.store.apiTokens.get(info.id)
    expect(JSON.stringify(stored)).not.toContain(token.slice(4))
    // A viewer's token cannot be given more than a viewer may do.
    const beyond = await s.app.inject({
      method: 'POST',
      url: '/api/tokens',
      headers: sessionHeaders(session),
      payload: { name: 'x', user: 'vic', scopes: ['edit'] },
    })
    expect(beyond.statusCode).toBe(400)
    const revoke = await s.app.inject({
      method: 'DELETE',
      url: `/api/tokens/${info.id}`,
      headers: sessionHeaders(session),
    })
    expect(revoke.statusCode).toBe(204)
    expect(
      (await s.app.inject({ method: 'GET', url: '/metrics', headers: bearer(token) })).statusCode,
    ).toBe(401)
    // Expired: a clock a year ahead.
    const later = new AccessManager({
      store: s.store,
      now: () => new Date(Date.now() + 366 * 86_400_000),
    })
    const { token: old } = await s.access.createToken(
      { name: 'short', scopes: ['read'], username: 'vic', expiresInDays: 1 },
      'test',
    )
    expect(await s.access.authenticate({ bearer: old })).toBeDefined()
    expect(await later.authenticate({ bearer: old })).toBeUndefined()
  })

  it('audits users and tokens added or removed, with who did it', async () => {
    const actions = (await s.store.audit.list({ limit: 500 })).map(
      (e) => `${e.action} ${e.target} by ${e.actor}`,
    )
    expect(actions).toContain('user.added eve by user:ada')
    expect(actions).toContain('token.created scraper by user:ada')
    expect(actions).toContain('token.revoked scraper by user:ada')
  })
})

describe('sign-in rate limit and lock-out', () => {
  it('locks a user after 5 failures in a row, even for the right password, and audits each', async () => {
    const s = await testServer()
    try {
      await s.access.addUser({ username: 'ada', password: PASSWORD, role: 'admin' }, 'test')
      const attempt = (password: string) =>
        s.app.inject({
          method: 'POST',
          url: '/api/session',
          payload: { username: 'ada', password },
        })
      for (let i = 0; i < 4; i++) expect((await attempt('wrong password!')).statusCode).toBe(401)
      const fifth = await attempt('wrong password!')
      expect(fifth.statusCode).toBe(429)
      expect(fifth.json()).toMatchObject({ code: 'OSY_RATE_LIMITED' })
      expect((await attempt(PASSWORD)).statusCode).toBe(429)
      const failures = await s.store.audit.list({ action: 'sign-in.failed' })
      expect(failures).toHaveLength(6)
      expect(JSON.stringify(failures)).not.toContain('wrong password!')
      // An unknown name fails the same way, without saying the name is unknown.
      const ghost = await s.app.inject({
        method: 'POST',
        url: '/api/session',
        payload: { username: 'ghost', password: PASSWORD },
      })
      expect(ghost.json()).toMatchObject({
        code: 'OSY_UNAUTHENTICATED',
        detail: 'wrong username or password',
      })
    } finally {
      await s.close()
    }
  })

  it('limits sign-in attempts per client address', async () => {
    const s = await testServer()
    try {
      const codes: number[] = []
      for (let i = 0; i < 11; i++) {
        const res = await s.app.inject({
          method: 'POST',
          url: '/api/session',
          payload: { username: `nobody${i}`, password: 'x' },
        })
        codes.push(res.statusCode)
      }
      expect(codes.slice(0, 10).every((c) => c === 401)).toBe(true)
      expect(codes[10]).toBe(429)
    } finally {
      await s.close()
    }
  })
})

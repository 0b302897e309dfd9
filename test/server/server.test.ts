import { afterAll, describe, expect, it } from 'vitest'
import { parseListen, urlOf } from '../../src/server/index.ts'
import { testServer } from './server-harness.ts'

const server = await testServer()
afterAll(() => server.close())

describe('the API server', () => {
  it('answers /healthz and /readyz without credentials', async () => {
    const health = await server.app.inject({ method: 'GET', url: '/healthz' })
    expect(health.statusCode).toBe(200)
    expect(health.json()).toEqual({ status: 'ok' })
    const ready = await server.app.inject({ method: 'GET', url: '/readyz' })
    expect(ready.statusCode).toBe(200)
    expect(ready.json()).toEqual({ status: 'ready', store: 'sqlite' })
  })

  it('says not ready, as a problem, when the store does not answer', async () => {
    const broken = await testServer()
    await broken.store.close()
    const ready = await broken.app.inject({ method: 'GET', url: '/readyz' })
    expect(ready.statusCode).toBe(503)
    expect(ready.headers['content-type']).toContain('application/problem+json')
    expect(ready.json()).toMatchObject({ code: 'OSY_STORE_ERROR', status: 503 })
    expect(ready.body).not.toMatch(/sqlite|kysely|at .*\.ts/i)
    await broken.app.close()
  })

  it('answers unknown routes with a problem, not an HTML page', async () => {
    const res = await server.app.inject({ method: 'GET', url: '/api/nothing/../etc/passwd' })
    expect(res.statusCode).toBe(404)
    expect(res.headers['content-type']).toContain('application/problem+json')
    expect(res.json()).toMatchObject({ code: 'OSY_NOT_FOUND', status: 404 })
  })

  it('refuses /metrics without a token', async () => {
    const res = await server.app.inject({ method: 'GET', url: '/metrics' })
    expect(res.statusCode).toBe(401)
    expect(res.json()).toMatchObject({ code: 'OSY_UNAUTHENTICATED' })
  })

  it('serves the OpenAPI 3.1 document and the reference page', async () => {
    const doc = await server.app.inject({ method: 'GET', url: '/api/openapi.json' })
    expect(doc.statusCode).toBe(200)
    const body = doc.json() as { openapi: string; paths: Record<string, unknown> }
    expect(body.openapi).toBe('3.1.0')
    expect(Object.keys(body.paths)).toEqual(expect.arrayContaining(['/healthz', '/metrics']))
    const page = await server.app.inject({ method: 'GET', url: '/api/docs' })
    expect([200, 302]).toContain(page.statusCode)
  })

  it('sends security headers', async () => {
    const res = await server.app.inject({ method: 'GET', url: '/healthz' })
    expect(res.headers['x-content-type-options']).toBe('nosniff')
    expect(res.headers['content-security-policy']).toBeDefined()
  })
})

describe('OPENSYNC_LISTEN', () => {
  it('defaults to 127.0.0.1:8080 and reads host:port, :port and a port', () => {
    expect(parseListen(undefined)).toEqual({ host: '127.0.0.1', port: 8080 })
    expect(parseListen('0.0.0.0:9000')).toEqual({ host: '0.0.0.0', port: 9000 })
    expect(parseListen(':9001')).toEqual({ host: '127.0.0.1', port: 9001 })
    expect(parseListen('9002')).toEqual({ host: '127.0.0.1', port: 9002 })
    expect(parseListen('[::1]:9003')).toEqual({ host: '::1', port: 9003 })
    expect(() => parseListen('host:99999')).toThrow(/OPENSYNC_LISTEN/)
    expect(urlOf({ host: '0.0.0.0', port: 1 })).toBe('http://localhost:1')
  })
})

describe('behind a reverse proxy', () => {
  it('with trustProxy, counts sign-ins per forwarded client and marks the cookie Secure', async () => {
    const proxied = await testServer({ trustProxy: true })
    try {
      const { PASSWORD } = await import('./server-harness.ts')
      await proxied.access.addUser({ username: 'ada', password: PASSWORD, role: 'viewer' }, 'test')
      const res = await proxied.app.inject({
        method: 'POST',
        url: '/api/session',
        headers: { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.7' },
        payload: { username: 'ada', password: PASSWORD },
      })
      expect(res.cookies.find((c) => c.name === 'osy_session')).toMatchObject({ secure: true })
      const failures = await proxied.store.audit.list({ action: 'sign-in.failed' })
      expect(failures).toEqual([])
      await proxied.app.inject({
        method: 'POST',
        url: '/api/session',
        headers: { 'x-forwarded-for': '203.0.113.7' },
        payload: { username: 'ada', password: 'not the password' },
      })
      const [failed] = await proxied.store.audit.list({ action: 'sign-in.failed' })
      expect(failed!.detail).toMatchObject({ from: '203.0.113.7' })
    } finally {
      await proxied.close()
    }
  })
})

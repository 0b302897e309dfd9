import { readdirSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildConsole } from '../../console/scripts/build.ts'
import { CONSOLE_DIST } from '../../src/server/routes/console-routes.ts'
import { type TestServer, testServer } from './server-harness.ts'

let server: TestServer
beforeAll(async () => {
  await buildConsole()
  server = await testServer()
})
afterAll(() => server.close())

describe('the console on the API origin', () => {
  it('answers its own routes with index.html, never cached, so a reload finds the console', async () => {
    for (const url of ['/', '/tasks/contacts', '/setup?token=abc', '/executions/7']) {
      const res = await server.app.inject({ method: 'GET', url })
      expect(res.statusCode, url).toBe(200)
      expect(res.headers['content-type']).toContain('text/html')
      expect(res.headers['cache-control']).toBe('no-cache')
      expect(res.body).toContain('<div id="root"></div>')
    }
  })

  it('sends its scripts compressed, cached for good, under a strict CSP', async () => {
    const script = readdirSync(`${CONSOLE_DIST}assets`).find((f) => f.endsWith('.js'))!
    const res = await server.app.inject({
      method: 'GET',
      url: `/assets/${script}`,
      headers: { 'accept-encoding': 'br, gzip' },
    })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-encoding']).toBe('br')
    expect(res.headers['cache-control']).toContain('immutable')
    const page = await server.app.inject({ method: 'GET', url: '/' })
    expect(page.headers['content-security-policy']).toContain("script-src 'self'")
  })

  it('leaves /api to the API: an unknown API path is a problem, not the console', async () => {
    const res = await server.app.inject({ method: 'GET', url: '/api/tasks-that-do-not-exist' })
    expect(res.statusCode).toBe(404)
    expect(res.headers['content-type']).toContain('application/problem+json')
    const missing = await server.app.inject({ method: 'GET', url: '/assets/missing.js' })
    expect(missing.statusCode).toBe(404)
  })

  it('does not serve files outside console/dist', async () => {
    for (const url of [
      '/assets/../../package.json',
      '/assets/%2e%2e/%2e%2e/package.json',
      '/..%2fpackage.json',
    ]) {
      const res = await server.app.inject({ method: 'GET', url })
      expect(res.body, url).not.toContain('"devDependencies"')
    }
  })
})

/**
 * `GET /api/status`: the service processes of the store's instance registry, as a real
 * service registers itself, and what the API says when none runs executions.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { createRegistry } from '../../src/bridges/index.ts'
import { Service } from '../../src/service/service.ts'
import { OPENSYNC_VERSION } from '../../src/service/version.ts'
import { bearer, testServer } from './server-harness.ts'

const s = await testServer()
afterAll(() => s.close())

describe('GET /api/status', () => {
  it('lists the running service and its workers; says so when none runs', async () => {
    const token = await s.tokenFor('viewer')
    const status = async () => {
      const res = await s.app.inject({ method: 'GET', url: '/api/status', headers: bearer(token) })
      expect(res.statusCode).toBe(200)
      return res.json()
    }
    const none = await status()
    expect(none).toMatchObject({
      version: OPENSYNC_VERSION,
      store: 'sqlite',
      instances: [],
      workers: 0,
    })
    expect(none.message).toMatch(/^no service is running: planned executions will not happen/)

    const service = new Service({
      store: s.store,
      registry: await createRegistry(),
      tasks: s.tasks,
      tickMs: 60_000,
    })
    await service.start()
    const api = await s.store.instances.register({
      host: 'h2',
      pid: 7,
      version: '0.0.9',
      role: 'api',
    })
    const running = await status()
    expect(running.workers).toBe(1)
    expect(running.message).toBeUndefined()
    expect(running.instances).toEqual([
      expect.objectContaining({
        id: service.instanceId,
        pid: process.pid,
        role: 'service',
        version: OPENSYNC_VERSION,
      }),
      expect.objectContaining({ id: api, host: 'h2', role: 'api' }),
    ])
    await service.stop()
    const after = await status()
    expect(after.instances.map((i: { role: string }) => i.role)).toEqual(['api'])
    expect(after.workers).toBe(0)
    expect((await s.app.inject({ method: 'GET', url: '/api/status' })).statusCode).toBe(401)
  })
})

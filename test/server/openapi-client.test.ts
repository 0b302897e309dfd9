import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Validator } from '@seriousme/openapi-schema-validator'
import createClient from 'openapi-fetch'
import openapiTS, { astToString } from 'openapi-typescript'
import { afterAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import type { paths } from '../../console/src/api/schema.d.ts'
import { createDemo } from '../../src/cli/demo.ts'
import { Service } from '../../src/service/service.ts'
import { testServer } from './server-harness.ts'

// A real client: the types of console/src/api/schema.d.ts are openapi-typescript's output for
// the served document (npm run console:api; the console uses the same file), and
// openapi-fetch drives a listening server with them, as a user's program would.

const s = await testServer()
const service = new Service({ store: s.store, registry: s.registry, tasks: s.tasks, tickMs: 50 })
await service.start()
const base = await s.app.listen({ host: '127.0.0.1', port: 0 })
afterAll(async () => {
  await service.stop()
  await s.close()
})
const token = await s.tokenFor('editor')
const api = createClient<paths>({ baseUrl: base, headers: { authorization: `Bearer ${token}` } })

describe('the OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document (a real validator) and openapi-typescript turns it into types', async () => {
    const res = await fetch(`${base}/api/openapi.json`)
    const text = await res.text()
    const result = await new Validator().validate(JSON.parse(text))
    expect(result.errors ?? [], JSON.stringify(result.errors, null, 2)).toEqual([])
    expect(result.valid).toBe(true)
    const types = astToString(await openapiTS(text, { alphabetize: true }))
    for (const path of ['/api/tasks', '/api/tasks/{id}', '/api/executions/{id}/lines']) {
      expect(types).toContain(`"${path}"`)
    }
    // The task file's own schema is in it, as a component.
    expect(JSON.parse(text).components.schemas.TaskFile.properties.pairs).toBeDefined()
  })

  it('drives a whole scenario through openapi-fetch: draft, complete, activate, start, protocol, delete', async () => {
    const demo = parse(readFileSync(createDemo(join(s.dir, 'demo'), 100), 'utf8')) as Record<
      string,
      unknown
    >
    const draft = await api.POST('/api/tasks', {
      body: { document: { id: 'scenario', subject: 'Scenario' }, draft: true },
    })
    expect(draft.response.status).toBe(201)
    expect(draft.data!.issues.length).toBeGreaterThan(0)
    const complete = await api.PUT('/api/tasks/{id}', {
      params: {
        path: { id: 'scenario' },
        header: { 'if-match': draft.response.headers.get('etag')! },
      },
      body: { document: { ...demo, id: 'scenario', plan: { kind: 'manual' } } },
    })
    expect(complete.error).toBeUndefined()
    expect(complete.data).toMatchObject({ draft: false, issues: [] })
    const activated = await api.POST('/api/tasks/{id}/activate', {
      params: { path: { id: 'scenario' } },
    })
    expect(activated.data?.active).toBe(true)
    const started = await api.POST('/api/tasks/{id}/executions', {
      params: { path: { id: 'scenario' } },
    })
    expect(started.response.status).toBe(202)
    const id = started.data!.execution.id
    let status = started.data!.execution.status
    for (let i = 0; i < 200 && (status === 'queued' || status === 'running'); i++) {
      await new Promise((r) => setTimeout(r, 50))
      status = (await api.GET('/api/executions/{id}', { params: { path: { id } } })).data!.status
    }
    expect(status).toBe('succeeded')
    const execution = await api.GET('/api/executions/{id}', { params: { path: { id } } })
    expect(execution.data!.counts.some((c) => c.from === 'crm' && c.created > 0)).toBe(true)
    const lines = await api.GET('/api/executions/{id}/lines', {
      params: { path: { id }, query: { limit: 1000 } },
    })
    expect(lines.data!.items.length).toBeGreaterThan(0)
    const list = await api.GET('/api/tasks')
    expect(list.data!.items.find((t) => t.id === 'scenario')).toMatchObject({
      lastExecution: { id },
    })
    const deleted = await api.DELETE('/api/tasks/{id}', { params: { path: { id: 'scenario' } } })
    expect(deleted.data?.removed).toContain('links')
    const gone = await api.GET('/api/tasks/{id}', { params: { path: { id: 'scenario' } } })
    expect(gone.response.status).toBe(404)
    expect(gone.error).toMatchObject({ code: 'OSY_TASK_NOT_FOUND' })
  })
})

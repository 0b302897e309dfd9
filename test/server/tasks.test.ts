import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { createDemo } from '../../src/cli/demo.ts'
import { bearer, testServer } from './server-harness.ts'

const s = await testServer()
afterAll(() => s.close())
const editor = bearer(await s.tokenFor('editor'))
const viewer = bearer(await s.tokenFor('viewer'))
const demoFile = createDemo(join(s.dir, 'demo'), 200)
const demo = parse(readFileSync(demoFile, 'utf8')) as Record<string, unknown>

const inject = (
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  url: string,
  headers: Record<string, string>,
  payload?: unknown,
) =>
  s.app.inject({
    method,
    url,
    headers,
    ...(payload !== undefined ? { payload: payload as Record<string, unknown> } : {}),
  })

describe('tasks', () => {
  it('saves a draft with whatever is there and says what is missing', async () => {
    const res = await inject('POST', '/api/tasks', editor, {
      document: { id: 'half', subject: 'Half done', systems: { crm: { bridge: 'sqlite' } } },
      draft: true,
    })
    expect(res.statusCode, res.body).toBe(201)
    const task = res.json()
    expect(task).toMatchObject({
      id: 'half',
      draft: true,
      active: false,
      revision: 1,
      neverExecuted: true,
    })
    expect(task.issues.length).toBeGreaterThan(0)
    expect(task.issues.map((i: { path: string }) => i.path).join(' ')).toMatch(/pairs|systems/)
    expect(res.headers.etag).toBe('"1"')
    // Without draft: true an incomplete document is refused, with its issues.
    const refused = await inject('POST', '/api/tasks', editor, { document: { subject: 'Nope' } })
    expect(refused.statusCode).toBe(400)
    expect(refused.json()).toMatchObject({ code: 'OSY_INVALID_TASK' })
    expect(refused.json().issues.length).toBeGreaterThan(0)
    // The same id again is a conflict, not an overwrite.
    const again = await inject('POST', '/api/tasks', editor, {
      document: { id: 'half', subject: 'Other' },
      draft: true,
    })
    expect(again.statusCode).toBe(409)
  })

  it('changes a draft in parts (merge patch), completes it, and refuses a stale If-Match with 412', async () => {
    const patched = await s.app.inject({
      method: 'PATCH',
      url: '/api/tasks/half',
      headers: { ...editor, 'content-type': 'application/merge-patch+json', 'if-match': '"1"' },
      payload: JSON.stringify({ plan: { kind: 'manual' } }),
    })
    expect(patched.statusCode, patched.body).toBe(200)
    expect(patched.json()).toMatchObject({ revision: 2, draft: true, plan: { kind: 'manual' } })
    const stale = await inject(
      'PUT',
      '/api/tasks/half',
      { ...editor, 'if-match': '"1"' },
      {
        document: { ...demo, id: 'half' },
      },
    )
    expect(stale.statusCode).toBe(412)
    expect(stale.json()).toMatchObject({ code: 'OSY_STALE_REVISION' })
    expect((await inject('GET', '/api/tasks/half', viewer)).json()).toMatchObject({
      revision: 2,
      draft: true,
    })
    const done = await inject(
      'PUT',
      '/api/tasks/half',
      { ...editor, 'if-match': '"2"' },
      {
        document: { ...demo, id: undefined, plan: { kind: 'manual' } },
      },
    )
    expect(done.statusCode, done.body).toBe(200)
    expect(done.json()).toMatchObject({ id: 'half', draft: false, issues: [], revision: 3 })
    // A complete task changes as a whole only.
    const part = await s.app.inject({
      method: 'PATCH',
      url: '/api/tasks/half',
      headers: { ...editor, 'content-type': 'application/merge-patch+json' },
      payload: JSON.stringify({ subject: 'x' }),
    })
    expect(part.statusCode).toBe(400)
  })

  it('keeps a complete document saved with draft: true a draft until it is saved with draft: false', async () => {
    const created = await inject('POST', '/api/tasks', editor, {
      document: { ...demo, id: 'later', subject: 'Later' },
      draft: true,
    })
    expect(created.statusCode, created.body).toBe(201)
    // Complete, and still a draft: not active, not started, not activated.
    expect(created.json()).toMatchObject({ id: 'later', draft: true, active: false, issues: [] })
    const start = await inject('POST', '/api/tasks/later/executions', editor)
    expect(start.statusCode).toBe(409)
    expect(start.json()).toMatchObject({ code: 'OSY_TASK_DRAFT' })
    expect(start.json().detail).toContain('save it as a task')
    expect((await inject('POST', '/api/tasks/later/activate', editor)).statusCode).toBe(409)
    const listed = (await inject('GET', '/api/tasks', viewer)).json().items
    expect(listed.find((t: { id: string }) => t.id === 'later')).toMatchObject({
      draft: true,
      issues: [],
    })
    // A merge patch and a PUT with draft: true keep it a draft.
    const patched = await s.app.inject({
      method: 'PATCH',
      url: '/api/tasks/later',
      headers: { ...editor, 'content-type': 'application/merge-patch+json' },
      payload: JSON.stringify({ subject: 'Later, patched' }),
    })
    expect(patched.json()).toMatchObject({ draft: true, subject: 'Later, patched' })
    const put = await inject('PUT', '/api/tasks/later', editor, {
      document: patched.json().document,
      draft: true,
    })
    expect(put.json()).toMatchObject({ draft: true, active: false })
    // Incomplete without draft: refused with its issues, the draft stays as it was.
    const refused = await inject('PUT', '/api/tasks/later', editor, {
      document: { subject: 'Later' },
      draft: false,
    })
    expect(refused.statusCode).toBe(400)
    expect(refused.json()).toMatchObject({ code: 'OSY_INVALID_TASK' })
    expect(refused.json().issues.length).toBeGreaterThan(0)
    // Saved as a task (the wizard's Finish): complete, and active as its plan says.
    const task = await inject('PUT', '/api/tasks/later', editor, {
      document: put.json().document,
      draft: false,
    })
    expect(task.statusCode, task.body).toBe(200)
    expect(task.json()).toMatchObject({ draft: false, active: true, issues: [] })
    expect((await inject('DELETE', '/api/tasks/later', editor)).statusCode).toBe(200)
  })

  it('validates a document offline', async () => {
    const ok = await inject('POST', '/api/tasks/validate', viewer, { document: demo })
    expect(ok.json()).toEqual({ valid: true, issues: [] })
    const bad = await inject('POST', '/api/tasks/validate', viewer, {
      document: {
        ...demo,
        pairs: [{ crm: { type: 'addresses' }, erp: { type: 'customers' }, direction: 'sideways' }],
      },
    })
    expect(bad.json().valid).toBe(false)
    expect(bad.json().issues[0].path).toContain('pairs')
  })

  it('activates, deactivates, starts (202, one queued at most), and lists state and last result', async () => {
    expect((await inject('POST', '/api/tasks/half/activate', editor)).json()).toMatchObject({
      active: true,
    })
    expect((await inject('POST', '/api/tasks/half/deactivate', editor)).json()).toMatchObject({
      active: false,
    })
    const viewerStart = await inject('POST', '/api/tasks/half/executions', viewer)
    expect(viewerStart.statusCode).toBe(403)
    const first = await inject('POST', '/api/tasks/half/executions', editor)
    expect(first.statusCode).toBe(202)
    expect(first.json()).toMatchObject({
      created: true,
      execution: { status: 'queued', trigger: 'manual' },
    })
    const second = await inject('POST', '/api/tasks/half/executions', editor)
    expect(second.json()).toMatchObject({
      created: false,
      execution: { id: first.json().execution.id },
    })
    const draftStart = await inject('POST', '/api/tasks/nothing-here/executions', editor)
    expect(draftStart.statusCode).toBe(404)
    let list = (await inject('GET', '/api/tasks', viewer)).json().items
    expect(list.find((t: { id: string }) => t.id === 'half')).toMatchObject({
      neverExecuted: true,
      queued: { id: first.json().execution.id },
      // The overview names both systems, whether or not they came from profiles.
      systems: [
        { key: 'crm', bridge: expect.any(String) },
        { key: 'erp', bridge: expect.any(String) },
      ],
    })
    expect(await s.runNext()).toBe(true)
    list = (await inject('GET', '/api/tasks', viewer)).json().items
    const half = list.find((t: { id: string }) => t.id === 'half')
    expect(half).toMatchObject({ neverExecuted: false, lastExecution: { status: 'succeeded' } })
    expect(half.queued).toBeUndefined()
  })

  it('shows an execution with counts by system keys, its protocol lines and its changes, paged', async () => {
    const page = (await inject('GET', '/api/executions?task=half&limit=1', viewer)).json()
    expect(page.items).toHaveLength(1)
    const id = page.items[0].id
    const one = (await inject('GET', `/api/executions/${id}`, viewer)).json()
    expect(
      one.counts.map((c: { from: string; to: string }) => `${c.from}->${c.to}`).sort(),
    ).toEqual(['crm->erp', 'erp->crm'])
    expect(one.totals.created).toBeGreaterThan(0)
    const lines1 = (await inject('GET', `/api/executions/${id}/lines?limit=2`, viewer)).json()
    expect(lines1.items).toHaveLength(2)
    const lines2 = (
      await inject(
        'GET',
        `/api/executions/${id}/lines?after=${lines1.nextAfter}&limit=1000`,
        viewer,
      )
    ).json()
    expect(lines2.items[0].id).toBeGreaterThan(lines1.items[1].id)
    const changes = (
      await inject('GET', `/api/executions/${id}/changes?op=create&limit=5`, viewer)
    ).json()
    expect(changes.items).toHaveLength(5)
    expect(changes.items[0]).toMatchObject({ op: 'create', from: expect.stringMatching(/crm|erp/) })
    const filtered = (await inject('GET', '/api/executions?status=failed&task=half', viewer)).json()
    expect(filtered.items).toEqual([])
    const ranged = (
      await inject(
        'GET',
        `/api/executions?from=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`,
        viewer,
      )
    ).json()
    expect(ranged.items).toEqual([])
    const missing = await inject('GET', '/api/executions/999999', viewer)
    expect(missing.statusCode).toBe(404)
    expect(missing.json().code).toBe('OSY_EXECUTION_NOT_FOUND')
  })

  it('pages executions by cursor without gaps or repeats', async () => {
    for (let i = 0; i < 3; i++) {
      await inject('POST', '/api/tasks/half/executions', editor)
      await s.runNext()
    }
    const all = (await inject('GET', '/api/executions?task=half&limit=500', viewer))
      .json()
      .items.map((e: { id: number }) => e.id)
    const seen: number[] = []
    let cursor: string | undefined
    do {
      const page = (
        await inject(
          'GET',
          `/api/executions?task=half&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
          viewer,
        )
      ).json()
      seen.push(...page.items.map((e: { id: number }) => e.id))
      cursor = page.nextCursor
    } while (cursor)
    expect(seen).toEqual(all)
    expect(all.length).toBeGreaterThanOrEqual(4)
  })

  it('cancels a queued execution', async () => {
    const started = (await inject('POST', '/api/tasks/half/executions', editor)).json()
    const cancel = await inject('POST', `/api/executions/${started.execution.id}/cancel`, editor)
    expect(cancel.json()).toMatchObject({
      outcome: 'cancelled',
      execution: { status: 'cancelled' },
    })
  })

  it('audits every change with who, and an edit with its diff', async () => {
    const events = (await inject('GET', '/api/tasks/half/audit?limit=100', viewer)).json().items
    const actions = events.map((e: { action: string }) => e.action)
    expect(actions).toEqual(
      expect.arrayContaining([
        'task.created',
        'task.edited',
        'task.activated',
        'task.deactivated',
        'execution.started',
        'execution.cancelled',
      ]),
    )
    const edit = events.find(
      (e: { action: string; detail: { diff?: unknown[] } }) =>
        e.action === 'task.edited' && e.detail.diff,
    )
    expect(edit.actor).toMatch(/^token:editor-\d+-token \(editor-\d+\)$/)
    expect(edit.detail.diff.length).toBeGreaterThan(0)
    // The overall trail is for admins.
    expect((await inject('GET', '/api/audit', viewer)).statusCode).toBe(403)
  })

  it('deletes a task and says what went with it', async () => {
    const stale = await inject('DELETE', '/api/tasks/half', { ...editor, 'if-match': '"1"' })
    expect(stale.statusCode).toBe(412)
    const res = await inject('DELETE', '/api/tasks/half', editor)
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({
      id: 'half',
      removed: expect.arrayContaining(['links', 'checkpoints', 'executions and their protocols']),
    })
    expect((await inject('GET', '/api/tasks/half', viewer)).statusCode).toBe(404)
    expect((await inject('GET', '/api/executions?task=half', viewer)).json().items).toEqual([])
    const audit = await s.store.audit.list({ taskId: 'half', action: 'task.deleted' })
    expect(audit).toHaveLength(1)
  })
})

import { Writable } from 'node:stream'
import { pino } from 'pino'
import { afterAll, describe, expect, it } from 'vitest'
import { Worker } from '../../src/service/worker.ts'
import { bearer, testServer } from './server-harness.ts'

// Tasks hold known secrets; then every GET route of the OpenAPI document is called and every
// response, log line and audit event is searched for them: none may appear.

const SECRETS = ['Pw-Known-7f3a9c', 'UrlPw-8b2e41d0', 'DraftPw-5c9d17', 'NewPw-2a6f88e1']

const logLines: string[] = []
const logger = pino(
  { level: 'trace' },
  new Writable({
    write(chunk, _encoding, done) {
      logLines.push(String(chunk))
      done()
    },
  }),
)
const s = await testServer({ logger })
afterAll(() => s.close())
const admin = bearer(await s.tokenFor('admin'))

const pair = {
  pg: { type: 'contacts' },
  my: { type: 'customers' },
  direction: 'both',
  fields: { email: 'email' },
  match: ['email'],
}
const complete = {
  id: 'with-password',
  subject: 'With a password',
  systems: {
    pg: {
      bridge: 'postgres',
      // A role that does not exist: the run fails at once, with its error in the protocol.
      connection: {
        host: '127.0.0.1',
        user: 'osy_no_such_role',
        password: SECRETS[0],
        database: 'osy_none',
      },
    },
    my: { bridge: 'mysql', connection: { url: `mysql://root:${SECRETS[1]}@127.0.0.1:1/none` } },
  },
  pairs: [pair],
  plan: { kind: 'manual' },
}

const post = (url: string, payload?: unknown, headers: Record<string, string> = {}) =>
  s.app.inject({
    method: 'POST',
    url,
    headers: { ...admin, ...headers },
    ...(payload !== undefined ? { payload: payload as Record<string, unknown> } : {}),
  })

describe('secrets never leave the store', () => {
  it('are written, kept when the placeholder comes back, changed, and used by a run', async () => {
    expect((await post('/api/tasks', { document: complete })).statusCode).toBe(201)
    const draft = await post('/api/tasks', {
      document: {
        id: 'draft-password',
        subject: 'Draft',
        systems: { pg: { bridge: 'postgres', connection: { password: SECRETS[2] } } },
      },
      draft: true,
    })
    expect(draft.statusCode).toBe(201)
    // The console's edit: the masked document goes back unchanged; the secret is kept.
    const shown = (
      await s.app.inject({ method: 'GET', url: '/api/tasks/with-password', headers: admin })
    ).json()
    expect(shown.document.systems.pg.connection.password).toBe('********')
    const put = await s.app.inject({
      method: 'PUT',
      url: '/api/tasks/with-password',
      headers: { ...admin, 'if-match': `"${shown.revision}"` },
      payload: { document: { ...shown.document, subject: 'Renamed' } },
    })
    expect(put.statusCode, put.body).toBe(200)
    const resolved = await s.tasks.resolve('with-password')
    expect(resolved.systems[0].connection.password).toBe(SECRETS[0])
    // A new password replaces it; the audit diff says it changed, not what to.
    const changed = await s.app.inject({
      method: 'PUT',
      url: '/api/tasks/with-password',
      headers: admin,
      payload: {
        document: {
          ...put.json().document,
          systems: {
            ...put.json().document.systems,
            pg: {
              ...put.json().document.systems.pg,
              connection: { ...put.json().document.systems.pg.connection, password: SECRETS[3] },
            },
          },
        },
      },
    })
    expect(changed.statusCode, changed.body).toBe(200)
    const diff = (await s.store.audit.list({ taskId: 'with-password', action: 'task.edited' }))[0]!
    expect(JSON.stringify(diff.detail)).toContain('systems.pg.connection.password')
    // The draft, patched: its password stays sealed and kept.
    const patched = await s.app.inject({
      method: 'PATCH',
      url: '/api/tasks/draft-password',
      headers: { ...admin, 'content-type': 'application/merge-patch+json' },
      payload: JSON.stringify({ plan: { kind: 'manual' } }),
    })
    expect(patched.statusCode, patched.body).toBe(200)
    expect(JSON.stringify(await s.store.taskDefs.get('draft-password'))).not.toContain(SECRETS[2])
    // A run that fails to connect: its error and protocol are there to be read.
    expect((await post('/api/tasks/with-password/executions')).statusCode).toBe(202)
    const worker = new Worker({ store: s.store, registry: s.registry, tasks: s.tasks, log: logger })
    expect(await worker.runNext()).toBe(true)
    const runs = await s.store.executions.list('with-password')
    expect(runs[0]!.status).toBe('failed')
  })

  it('appear in no response of any GET route, no log line and no audit event', async () => {
    const doc = (await s.app.inject({ method: 'GET', url: '/api/openapi.json' })).json() as {
      paths: Record<string, Record<string, unknown>>
    }
    const executions = (await s.store.executions.list('with-password')).map((e) => String(e.id))
    const values: Record<string, readonly string[]> = {
      id: ['with-password', 'draft-password', ...executions],
      taskId: ['with-password', 'draft-password'],
      username: ['admin-1'],
      pairId: ['p1'],
    }
    const urls = new Set<string>()
    for (const [path, ops] of Object.entries(doc.paths)) {
      if (!('get' in ops) || path === '/api/events') continue
      let variants = [path]
      for (const [name, options] of Object.entries(values)) {
        if (!path.includes(`{${name}}`)) continue
        variants = variants.flatMap((v) => options.map((o) => v.replace(`{${name}}`, o)))
      }
      for (const v of variants) urls.add(v)
    }
    const answers: string[] = []
    let ok = 0
    for (const url of urls) {
      const res = await s.app.inject({ method: 'GET', url, headers: admin })
      expect(res.statusCode, url).toBeLessThan(500)
      if (res.statusCode === 200) ok++
      answers.push(`${url} ${JSON.stringify(res.headers)} ${res.body}`)
    }
    // The scan read real answers, the protocol of the failed run among them.
    expect(ok).toBeGreaterThan(20)
    expect(answers.join('\n')).toContain('osy_no_such_role')
    const audit = JSON.stringify(await s.store.audit.list({ limit: 500 }))
    expect(audit).toContain('task.edited')
    // The worker logged the run, and its failure.
    expect(logLines.join('')).toContain('run failed')
    for (const secret of SECRETS) {
      expect(
        answers.filter((a) => a.includes(secret)),
        `responses with ${secret}`,
      ).toEqual([])
      expect(
        logLines.filter((l) => l.includes(secret)),
        `log lines with ${secret}`,
      ).toEqual([])
      expect(audit.includes(secret), `audit events with ${secret}`).toBe(false)
    }
  })
})

import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { createDemo } from '../../src/cli/demo.ts'
import {
  PERMISSIONS,
  type Permission,
  ROLE_PERMISSIONS,
  ROLES,
} from '../../src/service/access/permissions.ts'
import type { AccessRow, ParamKind } from './access-rows.ts'
import { bearer, sessionHeaders, signIn, testServer } from './server-harness.ts'

// The authorization matrix: every route of the OpenAPI document, called with no
// credentials, as each role, with a token that lacks the route's scope, and as a user
// limited to another profile. The rows come from test/server/access-rows-*.ts; a route
// without a row (or a row without a route) fails the test.

const here = fileURLToPath(new URL('.', import.meta.url))
const rows = new Map<string, AccessRow>()
for (const file of readdirSync(here)
  .filter((f) => /^access-rows-.+\.ts$/.test(f))
  .sort()) {
  const module = (await import(join(here, file))) as { ROWS: Record<string, AccessRow> }
  for (const [route, row] of Object.entries(module.ROWS)) {
    if (rows.has(route)) throw new Error(`${route} has two rows (${file})`)
    rows.set(route, row)
  }
}

const s = await testServer()
afterAll(() => s.close())

// A task made from the profile demo-crm, with an execution; the limited caller sees neither.
const demo = parse(readFileSync(createDemo(join(s.dir, 'demo'), 50), 'utf8')) as {
  systems: Record<string, Record<string, unknown>>
}
const TASK = 'crm-task'
await s.tasks.save({
  ...demo,
  id: TASK,
  systems: {
    ...demo.systems,
    crm: { ...demo.systems.crm, profile: { id: 'demo-crm', version: '1' } },
  },
})
const { executionId } = await s.tasks.start(TASK)
await s.store.audit.add({ actor: 'test', action: 'task.created', taskId: TASK })

const tokens: Record<string, string> = {}
for (const role of ROLES) tokens[role] = await s.tokenFor(role)
const limited = await s.tokenFor('admin', ['other-profile'])
// A console session of the operator (cookie and CSRF token), beside the operator's token.
const operatorSession = sessionHeaders(await signIn(s.app, 'operator-3'))
/** Per permission, an admin's token with every scope but that one. */
const without = new Map<Permission, string>()
for (const p of PERMISSIONS) {
  const { token } = await s.access.createToken(
    { name: `without-${p}`, username: 'admin-1', scopes: PERMISSIONS.filter((x) => x !== p) },
    'test',
  )
  without.set(p, token)
}

const REAL: Record<ParamKind, string> = {
  task: TASK,
  execution: String(executionId),
  user: 'viewer-4',
  token: '999999',
  pair: 'p1',
  profile: 'demo-crm',
  bridge: 'sqlite',
}
const PROBE: Record<ParamKind, string> = {
  task: 'no-such-task',
  execution: '999999',
  user: 'nobody',
  token: '999999',
  pair: 'no-pair',
  profile: 'no-such-profile',
  bridge: 'no-such-bridge',
}

const doc = (await s.app.inject({ method: 'GET', url: '/api/openapi.json' })).json() as {
  paths: Record<string, Record<string, unknown>>
}
const routes = Object.entries(doc.paths).flatMap(([path, ops]) =>
  Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
)

async function call(route: string, row: AccessRow, headers: Record<string, string>, real: boolean) {
  const [method, path] = route.split(' ') as [string, string]
  const url = path.replace(/\{(\w+)\}/g, (_m, name: string) => {
    const kind = row.params?.[name]
    if (!kind) throw new Error(`${route}: no kind for {${name}} in its row`)
    return encodeURIComponent((real ? REAL : PROBE)[kind])
  })
  const res = await s.app.inject({
    method: method as 'GET',
    url,
    headers,
    ...(row.body !== undefined && method !== 'GET' && method !== 'DELETE'
      ? { payload: row.body as Record<string, unknown> }
      : {}),
  })
  return res
}

describe('the authorization matrix', () => {
  it('has a row for every route of the OpenAPI document, and no row without a route', () => {
    expect(
      routes.filter((r) => !rows.has(r)),
      'routes without a row in test/server/access-rows-*.ts',
    ).toEqual([])
    expect(
      [...rows.keys()].filter((r) => !routes.includes(r)),
      'rows without a route',
    ).toEqual([])
    expect(routes.length).toBeGreaterThan(30)
  })

  for (const [route, row] of rows) {
    const [method] = route.split(' ')
    const isRead = method === 'GET'
    const scoped = Object.values(row.params ?? {}).some((k) => k === 'task' || k === 'execution')

    it(`${route} (${row.access})`, async () => {
      const outcomes: string[] = []
      const expectStatus = (
        who: string,
        status: number,
        ok: (s: number) => boolean,
        want: string,
      ) => {
        outcomes.push(`${who}: ${status}`)
        expect(ok(status), `${route} as ${who} answered ${status}, expected ${want}`).toBe(true)
        expect(status, `${route} as ${who}`).toBeLessThan(500)
      }
      const allowedStatus = (st: number) =>
        st !== 401 && st !== 403 && st < 500 && (!isRead || st < 300 || st === 400)

      // No credentials.
      if (row.access === 'public') {
        const res = await call(route, row, {}, isRead)
        expectStatus('nobody', res.statusCode, (st) => st !== 401 && st !== 403, 'an answer')
      } else {
        const res = await call(route, row, {}, isRead)
        expectStatus('nobody', res.statusCode, (st) => st === 401, '401')
        expect(res.headers['content-type']).toContain('application/problem+json')
      }

      // Each role: allowed calls take real ids when they only read, else ids that do not exist.
      for (const role of ROLES) {
        const allowed =
          row.access === 'public' ||
          row.access === 'authenticated' ||
          ROLE_PERMISSIONS[role].includes(row.access)
        if (allowed && row.stream) continue
        const res = await call(route, row, bearer(tokens[role]!), isRead)
        if (allowed) expectStatus(role, res.statusCode, allowedStatus, 'allowed')
        else expectStatus(role, res.statusCode, (st) => st === 403, '403')
      }

      // The operator signed in to the console answers as the operator's token does (the
      // session's own route, sign-out, is left alone: the later rows need the session).
      if (
        !(route === 'DELETE /api/session') &&
        !(row.stream && ROLE_PERMISSIONS.operator.includes(row.access as Permission))
      ) {
        const allowed =
          row.access === 'public' ||
          row.access === 'authenticated' ||
          ROLE_PERMISSIONS.operator.includes(row.access)
        const res = await call(route, row, operatorSession, isRead)
        if (allowed) expectStatus('operator session', res.statusCode, allowedStatus, 'allowed')
        else expectStatus('operator session', res.statusCode, (st) => st === 403, '403')
      }

      // A token without the route's scope, though its user could.
      if (row.access !== 'public' && row.access !== 'authenticated') {
        const res = await call(route, row, bearer(without.get(row.access)!), isRead)
        expectStatus(`token without ${row.access}`, res.statusCode, (st) => st === 403, '403')
      }

      // A caller limited to another profile: the task and its executions do not exist for them.
      if (row.stream) return
      // Real ids for what names a task or an execution; the rest as for the roles.
      const res = await call(route, row, bearer(limited), scoped || isRead)
      if (scoped) expectStatus('limited', res.statusCode, (st) => st === 404, '404')
      else {
        expectStatus('limited', res.statusCode, (st) => st !== 401 && st !== 403, 'allowed')
        if (isRead)
          expect(res.body, `${route} as limited shows the hidden task`).not.toContain(TASK)
      }
    })
  }
})

/**
 * The MailingPro demo API (src/demo/mailing-pro-api.ts) as the shipped manifest calls it:
 * OAuth2 client credentials, cursor pages, updated_since in (updatedAt, id) order, the
 * unique e-mail of a pool, batch creates, and its data file across a restart.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import {
  addMailingProParsers,
  MailingProService,
  mailingProRoutes,
  newMailingProData,
  startMailingProApi,
} from '../../src/demo/mailing-pro-api.ts'

const apps: FastifyInstance[] = []
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()))
})

async function appOf(service: MailingProService): Promise<FastifyInstance> {
  const app = Fastify()
  addMailingProParsers(app)
  await app.register(mailingProRoutes(service), { prefix: '/mp/v1' })
  apps.push(app)
  return app
}

function demoService(): MailingProService {
  return new MailingProService({
    version: 1,
    clients: [{ id: 'acme-api', secret: 's3cret' }],
    tenants: { acme: { news: [], other: [] } },
  })
}

async function tokenOf(app: FastifyInstance, id = 'acme-api', secret = 's3cret') {
  return app.inject({
    method: 'POST',
    url: '/mp/v1/oauth/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: id,
      client_secret: secret,
    }).toString(),
  })
}

describe('MailingPro demo API', () => {
  it('gives tokens for the right client credentials only, and needs one on every route', async () => {
    const app = await appOf(demoService())
    const wrong = await tokenOf(app, 'acme-api', 'guess')
    expect(wrong.statusCode).toBe(401)
    expect(wrong.json()).toEqual({ error: 'invalid_client' })
    expect((await tokenOf(app, 'nobody', 's3cret')).statusCode).toBe(401)
    const basic = await app.inject({
      method: 'POST',
      url: '/mp/v1/oauth/token',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from('acme-api:s3cret').toString('base64')}`,
      },
      payload: 'grant_type=client_credentials',
    })
    expect(basic.statusCode).toBe(200)
    const list = '/mp/v1/tenants/acme/pools/news/recipients'
    expect((await app.inject({ url: list })).statusCode).toBe(401)
    expect(
      (await app.inject({ url: list, headers: { authorization: 'Bearer made-up' } })).statusCode,
    ).toBe(401)
    const granted = await tokenOf(app)
    expect(granted.statusCode).toBe(200)
    const { access_token, expires_in } = granted.json()
    expect(expires_in).toBe(3600)
    const ok = await app.inject({ url: list, headers: { authorization: `Bearer ${access_token}` } })
    expect(ok.statusCode).toBe(200)
    expect(ok.json()).toEqual({ data: [], next: null, total: 0 })
  })

  it('pages with a cursor and reads changes since a time in (updatedAt, id) order', async () => {
    const service = demoService()
    const app = await appOf(service)
    const auth = { authorization: `Bearer ${(await tokenOf(app)).json().access_token}` }
    const base = '/mp/v1/tenants/acme/pools/news/recipients'
    const rows = service.insert(
      'acme',
      'news',
      Array.from({ length: 7 }, (_, i) => ({ email: `r${i}@example.com`, zip: '76137' })),
    )
    service.insert('acme', 'other', [{ email: 'elsewhere@example.com' }])

    const seen: number[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      const url: string = `${base}?limit=3${cursor ? `&cursor=${cursor}` : ''}`
      const page = (await app.inject({ url, headers: auth })).json()
      expect(page.total).toBe(7)
      seen.push(...page.data.map((r: { id: number }) => r.id))
      cursor = page.next
      pages++
    } while (cursor)
    expect(pages).toBe(3)
    expect(seen).toEqual(rows.map((r) => r.id))

    // Two records changed at one time, the earlier id last changed: (updatedAt, id) order.
    const at = '2030-01-01T00:00:00.000001Z'
    service.touch(
      'acme',
      'news',
      rows[4]!.id,
      { firstName: 'Later' },
      '2030-01-01T00:00:00.000002Z',
    )
    service.touch('acme', 'news', rows[5]!.id, {}, at)
    service.touch('acme', 'news', rows[2]!.id, {}, at)
    const since = await app.inject({
      url: `${base}?updated_since=2030-01-01T00:00:00.000Z&limit=2`,
      headers: auth,
    })
    const first = since.json()
    expect(first.data.map((r: { id: number }) => r.id)).toEqual([rows[2]!.id, rows[5]!.id])
    expect(first.total).toBe(3)
    const rest = (
      await app.inject({
        url: `${base}?updated_since=2030-01-01T00:00:00.000Z&limit=2&cursor=${first.next}`,
        headers: auth,
      })
    ).json()
    expect(rest.data).toMatchObject([{ id: rows[4]!.id, firstName: 'Later' }])
    expect(rest.next).toBeNull()

    // Lookups by several e-mails at once (multiValueFilters).
    const byEmail = (
      await app.inject({
        url: `${base}?email=r1@example.com&email=r6@example.com&email=none@example.com`,
        headers: auth,
      })
    ).json()
    expect(byEmail.data.map((r: { email: string }) => r.email)).toEqual([
      'r1@example.com',
      'r6@example.com',
    ])
  })

  it('keeps e-mails unique per pool, creates in batches and refuses unknown pools', async () => {
    const service = demoService()
    const app = await appOf(service)
    const headers = { authorization: `Bearer ${(await tokenOf(app)).json().access_token}` }
    const base = '/mp/v1/tenants/acme/pools/news/recipients'
    const created = await app.inject({
      method: 'POST',
      url: base,
      headers,
      payload: { email: 'a@example.com', firstName: 'Ann' },
    })
    expect(created.statusCode).toBe(201)
    const { id } = created.json().data
    const again = await app.inject({
      method: 'POST',
      url: base,
      headers,
      payload: { email: 'A@example.com' },
    })
    expect(again.statusCode).toBe(409)
    // The same address in another pool is another recipient.
    const other = await app.inject({
      method: 'POST',
      url: '/mp/v1/tenants/acme/pools/other/recipients',
      headers,
      payload: { email: 'a@example.com' },
    })
    expect(other.statusCode).toBe(201)
    const batch = await app.inject({
      method: 'POST',
      url: `${base}/batch`,
      headers,
      payload: { items: [{ email: 'b@example.com' }, { email: 'a@example.com' }, { zip: '1' }] },
    })
    expect(batch.json().results).toEqual([
      { id: expect.any(Number) },
      { error: 'email a@example.com exists' },
      { error: 'email is required' },
    ])
    const patched = await app.inject({
      method: 'PATCH',
      url: `${base}/${id}`,
      headers,
      payload: { lastName: 'Berg' },
    })
    expect(patched.json().data).toMatchObject({ id, email: 'a@example.com', lastName: 'Berg' })
    expect((await app.inject({ url: `${base}/${id}`, headers })).json().data.firstName).toBe('Ann')
    expect((await app.inject({ method: 'DELETE', url: `${base}/${id}`, headers })).statusCode).toBe(
      204,
    )
    expect((await app.inject({ url: `${base}/${id}`, headers })).statusCode).toBe(404)
    const unknown = await app.inject({
      url: '/mp/v1/tenants/acme/pools/nope/recipients',
      headers,
    })
    expect(unknown.statusCode).toBe(404)
    const big = await app.inject({
      method: 'POST',
      url: base,
      headers: { ...headers, 'content-type': 'application/json' },
      payload: '{"email": "n@example.com", "score": 12345678901234567890}',
    })
    expect(big.statusCode).toBe(422)
    expect(big.json().message).toMatch(/unknown field score/)
  })

  it('keeps its data in a file across a restart, on 127.0.0.1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'osy-mp-api-'))
    const file = join(dir, 'mailing-pro.json')
    MailingProService.write(file, newMailingProData('acme', 'news', [{ email: 'x@example.com' }]))
    const data = JSON.parse(readFileSync(file, 'utf8'))
    const { id: clientId, secret } = data.clients[0]
    const api = await startMailingProApi(MailingProService.open(file), { port: 0 })
    expect(api.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mp\/v1$/)
    const token = await fetch(`${api.url}/oauth/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: clientId,
        client_secret: secret,
      }),
    })
    const headers = {
      authorization: `Bearer ${((await token.json()) as { access_token: string }).access_token}`,
      'content-type': 'application/json',
    }
    const posted = await fetch(`${api.url}/tenants/acme/pools/news/recipients`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ email: 'y@example.com', lastName: 'Ypsilon' }),
    })
    expect(posted.status).toBe(201)
    await api.close()
    expect(existsSync(`${file}.${process.pid}.tmp`)).toBe(false)

    const again = MailingProService.open(file)
    expect(again.rows('acme', 'news').map((r) => [r.email, r.lastName])).toEqual([
      ['x@example.com', undefined],
      ['y@example.com', 'Ypsilon'],
    ])
    // The next start tries the port it had.
    expect(again.port).toBe(api.port)
    const created = again.insert('acme', 'news', [{ email: 'z@example.com' }])[0]!
    expect(created.id).toBeGreaterThan(again.rows('acme', 'news')[1]!.id)
    expect(JSON.stringify(again.data())).not.toContain('"password"')
  })
})

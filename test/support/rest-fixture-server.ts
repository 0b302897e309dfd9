/**
 * A small HTTP API of our own (Fastify) for what json-server lacks: auth of every kind the
 * REST bridge speaks, cursor / page / offset / next-URL / Link pagination on one list, an
 * updated-since parameter, lossless JSON (big integers and exact decimals), bursts of 429
 * and 503 with Retry-After, slow and dropped responses, a record the API refuses, a batch
 * endpoint — and, under /mp/v1, the fictitious MailingPro e-mail-marketing API (tenants,
 * pools, recipients), which is the demo's own (src/demo/mailing-pro-api.ts) with the OAuth2
 * client of `auth`. It listens on a free port of 127.0.0.1; tests and the bench start one each.
 */
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import {
  addMailingProParsers,
  MAILING_PRO_PREFIX,
  MailingProService,
  mailingProRoutes,
} from '../../src/demo/mailing-pro-api.ts'
import { stringifyJson } from '../../src/sdk/json.ts'

type Row = Record<string, unknown> & { id: number; updatedAt: string }

/** How the server checks credentials. */
export type FixtureAuth =
  | { type: 'none' }
  | { type: 'bearer'; token: string }
  | { type: 'basic'; user: string; password: string }
  | { type: 'apiKey'; header?: string; query?: string; key: string }
  | { type: 'oauth2'; clientId: string; clientSecret: string; lifetime?: number }

export interface FixtureOptions {
  readonly auth?: FixtureAuth
  /** MailingPro: the tenants and their pools that exist (its client: `auth`'s OAuth2 one). */
  readonly tenants?: Readonly<Record<string, readonly string[]>>
}

/** A running fixture server. */
export interface FixtureServer {
  readonly url: string
  /** The records of a collection (`people`, or `mp/<tenant>/<pool>/recipients`). */
  rows(collection: string): Row[]
  /** Adds records directly (as another user of the API would), stamped now. */
  insert(collection: string, records: Record<string, unknown>[]): Row[]
  /** Sets a field of a stored record directly, stamping it updated now or at `at`. */
  touch(collection: string, id: number, values: Record<string, unknown>, at?: string): void
  /** The next `count` requests (token requests excepted) answer `status`, with Retry-After. */
  failNext(count: number, status: number, retryAfter?: string): void
  /** The next `count` requests wait `ms` before answering. */
  slowNext(count: number, ms: number): void
  /** The next `count` requests lose their connection before any answer. */
  dropNext(count: number): void
  /** Requests seen, by kind. */
  readonly stats: {
    requests: number
    tokens: number
    byMethod: Record<string, number>
    times: number[]
    /** Requests being answered now, and the most at once (token requests excepted). */
    inFlight: number
    mostInFlight: number
  }
  close(): Promise<void>
}

/** Starts a fixture server on a free port. */
export async function startFixtureServer(options: FixtureOptions = {}): Promise<FixtureServer> {
  const auth = options.auth ?? { type: 'none' }
  const collections = new Map<string, Map<number, Row>>()
  const tokens = new Map<string, number>()
  let nextId = 1
  let lastStamp = 0
  const chaos = {
    fail: 0,
    status: 503,
    retryAfter: undefined as string | undefined,
    slow: 0,
    slowMs: 0,
    drop: 0,
  }
  const stats = {
    requests: 0,
    tokens: 0,
    byMethod: {} as Record<string, number>,
    times: [] as number[],
    inFlight: 0,
    mostInFlight: 0,
  }

  /** A strictly increasing change time with microseconds, like a database's. */
  const stamp = () => {
    const micros = Math.max(Date.now() * 1000, lastStamp + 1)
    lastStamp = micros
    const iso = new Date(Math.floor(micros / 1000)).toISOString().slice(0, 19)
    return `${iso}.${String(micros % 1_000_000).padStart(6, '0')}Z`
  }
  const collection = (name: string) => {
    let c = collections.get(name)
    if (!c) {
      c = new Map()
      collections.set(name, c)
    }
    return c
  }

  // A unique index on email, as a real API's database would have.
  const emailIndex = new WeakMap<Map<number, Row>, Map<unknown, number>>()
  const indexOf = (c: Map<number, Row>) => {
    let index = emailIndex.get(c)
    if (!index) {
      index = new Map()
      emailIndex.set(c, index)
    }
    return index
  }
  const put = (c: Map<number, Row>, id: number, row: Row) => {
    const index = indexOf(c)
    const old = c.get(id)
    if (old && old.email != null && index.get(old.email) === id) index.delete(old.email)
    if (row.email != null) index.set(row.email, id)
    c.set(id, row)
  }
  const remove = (c: Map<number, Row>, id: number) => {
    const old = c.get(id)
    if (!old) return false
    if (old.email != null && indexOf(c).get(old.email) === id) indexOf(c).delete(old.email)
    return c.delete(id)
  }

  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024, keepAliveTimeout: 30_000 })
  addMailingProParsers(app)
  const send = (reply: FastifyReply, status: number, body?: unknown) =>
    reply
      .code(status)
      .type('application/json')
      .send(body === undefined ? '' : stringifyJson(body))

  app.addHook('onRequest', async (req, reply) => {
    const token = req.url.includes('/oauth/token')
    const mailing = req.url.startsWith(`${MAILING_PRO_PREFIX}/`)
    if (token) stats.tokens++
    else {
      stats.requests++
      stats.times.push(performance.now())
      stats.byMethod[req.method] = (stats.byMethod[req.method] ?? 0) + 1
    }
    if (!token && chaos.drop > 0) {
      chaos.drop--
      req.raw.socket.destroy()
      return reply
    }
    if (!token) {
      stats.inFlight++
      stats.mostInFlight = Math.max(stats.mostInFlight, stats.inFlight)
      reply.raw.once('close', () => stats.inFlight--)
    }
    if (!token && chaos.slow > 0) {
      chaos.slow--
      await new Promise((r) => setTimeout(r, chaos.slowMs))
    }
    if (!token && chaos.fail > 0) {
      chaos.fail--
      if (chaos.retryAfter !== undefined) reply.header('retry-after', chaos.retryAfter)
      return send(reply, chaos.status, { message: 'busy, try later' })
    }
    // MailingPro checks its own tokens.
    if (!token && !mailing && !authorized(req))
      return send(reply, 401, { message: 'not authorized' })
    return undefined
  })

  function authorized(req: FastifyRequest): boolean {
    const header = req.headers.authorization ?? ''
    switch (auth.type) {
      case 'none':
        return true
      case 'bearer':
        return header === `Bearer ${auth.token}`
      case 'basic':
        return header === `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}`
      case 'apiKey': {
        if (auth.header) return req.headers[auth.header.toLowerCase()] === auth.key
        return (req.query as Record<string, string>)[auth.query ?? 'api_key'] === auth.key
      }
      case 'oauth2': {
        const expires = tokens.get(header.replace(/^Bearer /, ''))
        return expires !== undefined && expires > Date.now()
      }
    }
  }

  const tokenRoute = async (req: FastifyRequest, reply: FastifyReply) => {
    if (auth.type !== 'oauth2') return send(reply, 404, { message: 'no token endpoint' })
    const form = (req.body ?? {}) as Record<string, string>
    const basic = (req.headers.authorization ?? '').replace(/^Basic /, '')
    const [id, secret] = basic
      ? Buffer.from(basic, 'base64').toString().split(':')
      : [form.client_id, form.client_secret]
    if (
      form.grant_type !== 'client_credentials' ||
      id !== auth.clientId ||
      secret !== auth.clientSecret
    ) {
      return send(reply, 401, { error: 'invalid_client' })
    }
    const token = `t${Math.random().toString(36).slice(2)}`
    const lifetime = auth.lifetime ?? 3600
    tokens.set(token, Date.now() + lifetime * 1000)
    return send(reply, 200, { access_token: token, token_type: 'bearer', expires_in: lifetime })
  }
  app.post('/oauth/token', tokenRoute)

  // --------------------------------------------------------------- MailingPro
  const mailingPro = new MailingProService(
    {
      version: 1,
      clients: auth.type === 'oauth2' ? [{ id: auth.clientId, secret: auth.clientSecret }] : [],
      tenants: Object.fromEntries(
        Object.entries(options.tenants ?? {}).map(([t, pools]) => [
          t,
          Object.fromEntries(pools.map((p) => [p, []])),
        ]),
      ),
    },
    auth.type === 'oauth2' && auth.lifetime !== undefined ? { tokenLifetime: auth.lifetime } : {},
  )
  await app.register(mailingProRoutes(mailingPro), { prefix: MAILING_PRO_PREFIX })
  /** `mp/<tenant>/<pool>/recipients` → [tenant, pool]. */
  const poolOf = (name: string): [string, string] | undefined => {
    const m = /^mp\/([^/]+)\/([^/]+)\/recipients$/.exec(name)
    return m ? [m[1]!, m[2]!] : undefined
  }

  // ------------------------------------------------------------------ records
  const routes: { prefix: string; name: (p: Record<string, string>) => string | undefined }[] = [
    { prefix: '/api/:coll', name: (p) => p.coll },
  ]
  const validate = (
    c: Map<number, Row>,
    values: Record<string, unknown>,
    id?: number,
    name?: string,
  ): string | undefined => {
    // The contract's people resources require an e-mail, as its table does.
    if (name?.startsWith('people_') && id === undefined && values.email == null) {
      return 'email is required'
    }
    if (typeof values.email === 'string' && values.email.includes('reject'))
      return 'the address is on the block list'
    if (values.email != null) {
      const holder = indexOf(c).get(values.email)
      if (holder !== undefined && holder !== id) return `duplicate:${values.email}`
    }
    return undefined
  }
  const refuse = (reply: FastifyReply, problem: string) =>
    problem.startsWith('duplicate:')
      ? send(reply, 409, { message: `email ${problem.slice(10)} exists` })
      : send(reply, 422, { message: problem })
  const clean = (body: unknown): Record<string, unknown> => {
    const { id: _id, updatedAt: _u, ...rest } = (body ?? {}) as Record<string, unknown>
    return rest
  }

  for (const route of routes) {
    const resolve = (req: FastifyRequest) => route.name(req.params as Record<string, string>)

    app.get(route.prefix, async (req, reply) => {
      const name = resolve(req)
      if (!name) return send(reply, 404, { message: 'no such pool' })
      const q = req.query as Record<string, string | string[]>
      const one = (k: string) => (Array.isArray(q[k]) ? q[k][0] : q[k]) as string | undefined
      let rows = [...collection(name).values()]
      const since = one('updated_since')
      if (since) rows = rows.filter((r) => r.updatedAt >= since)
      for (const [k, v] of Object.entries(q)) {
        if (
          [
            'updated_since',
            'limit',
            'cursor',
            'page',
            'per_page',
            'offset',
            'sort',
            'api_key',
          ].includes(k)
        )
          continue
        if (k.endsWith('_gte')) {
          const field = k.slice(0, -4)
          const from = String(v)
          rows = rows.filter((r) => r[field] != null && String(r[field]) >= from)
          continue
        }
        const wanted = (Array.isArray(v) ? v : [v]).map(String)
        rows = rows.filter((r) => wanted.includes(String(r[k])))
      }
      // By (change time, id) when asked for changes; by (sort field, id) when asked; else by id.
      const sortField = since !== undefined ? 'updatedAt' : one('sort')
      // Without a sort field the map's order is id order already (ids only grow).
      if (sortField)
        rows.sort((a, b) => {
          if (sortField) {
            const x = a[sortField] == null ? '' : String(a[sortField])
            const y = b[sortField] == null ? '' : String(b[sortField])
            if (x !== y) return x < y ? -1 : 1
          }
          return a.id - b.id
        })
      const limit = Number(one('limit') ?? one('per_page') ?? 100)
      let start = 0
      const cursor = one('cursor')
      if (cursor) start = Number(Buffer.from(cursor, 'base64url').toString())
      else if (one('offset') !== undefined) start = Number(one('offset'))
      else if (one('page') !== undefined) start = (Number(one('page')) - 1) * limit
      const page = rows.slice(start, start + limit)
      const more = start + limit < rows.length
      const nextQuery = new URLSearchParams(req.url.split('?')[1] ?? '')
      nextQuery.delete('page')
      nextQuery.delete('offset')
      nextQuery.set('cursor', Buffer.from(String(start + limit)).toString('base64url'))
      const path = req.url.split('?')[0]
      const next = more ? `${path}?${nextQuery}` : null
      if (next) reply.header('link', `<${next}>; rel="next"`)
      return send(reply, 200, {
        data: page,
        next: more ? Buffer.from(String(start + limit)).toString('base64url') : null,
        links: { next },
        total: rows.length,
      })
    })

    app.get(`${route.prefix}/:id`, async (req, reply) => {
      const name = resolve(req)
      const row = name ? collection(name).get(Number((req.params as { id: string }).id)) : undefined
      return row ? send(reply, 200, { data: row }) : send(reply, 404, { message: 'not found' })
    })

    app.post(route.prefix, async (req, reply) => {
      const name = resolve(req)
      if (!name) return send(reply, 404, { message: 'no such pool' })
      const c = collection(name)
      const values = clean(req.body)
      const problem = validate(c, values, undefined, name)
      if (problem) return refuse(reply, problem)
      const row: Row = { id: nextId++, ...values, updatedAt: stamp() }
      put(c, row.id, row)
      return send(reply, 201, { data: row })
    })

    app.post(`${route.prefix}/batch`, async (req, reply) => {
      const name = resolve(req)
      if (!name) return send(reply, 404, { message: 'no such pool' })
      const c = collection(name)
      const items = ((req.body as { items?: unknown[] })?.items ?? []) as Record<string, unknown>[]
      const results = items.map((item) => {
        const values = clean(item)
        const problem = validate(c, values, undefined, name)
        if (problem)
          return {
            error: problem.startsWith('duplicate:') ? `email ${problem.slice(10)} exists` : problem,
          }
        const row: Row = { id: nextId++, ...values, updatedAt: stamp() }
        put(c, row.id, row)
        return { id: row.id }
      })
      return send(reply, 200, { results })
    })

    const update = (replace: boolean) => async (req: FastifyRequest, reply: FastifyReply) => {
      const name = resolve(req)
      const c = name ? collection(name) : undefined
      const id = Number((req.params as { id: string }).id)
      const row = c?.get(id)
      if (!c || !row) return send(reply, 404, { message: 'not found' })
      const values = clean(req.body)
      const problem = validate(c, values, id)
      if (problem) return refuse(reply, problem)
      const next: Row = replace
        ? { id, ...values, updatedAt: stamp() }
        : { ...row, ...values, id, updatedAt: stamp() }
      put(c, id, next)
      return send(reply, 200, { data: next })
    }
    app.patch(`${route.prefix}/:id`, update(false))
    app.put(`${route.prefix}/:id`, update(true))

    app.delete(`${route.prefix}/:id`, async (req, reply) => {
      const name = resolve(req)
      const c = name ? collection(name) : undefined
      const id = Number((req.params as { id: string }).id)
      if (!c || !remove(c, id)) return send(reply, 404, { message: 'not found' })
      return send(reply, 204)
    })
  }

  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  return {
    url: address,
    stats,
    rows(name) {
      const pool = poolOf(name)
      if (pool) return mailingPro.rows(...pool)
      return [...collection(name).values()].sort((a, b) => a.id - b.id)
    },
    insert(name, records) {
      const pool = poolOf(name)
      if (pool) return mailingPro.insert(...pool, records)
      const c = collection(name)
      return records.map((values) => {
        const row: Row = { id: nextId++, ...values, updatedAt: stamp() }
        put(c, row.id, row)
        return row
      })
    },
    touch(name, id, values, at) {
      const pool = poolOf(name)
      if (pool) return mailingPro.touch(...pool, id, values, at)
      const c = collection(name)
      const row = c.get(id)
      if (!row) throw new Error(`no row ${id} in ${name}`)
      put(c, id, { ...row, ...values, id, updatedAt: at ?? stamp() })
    },
    failNext(count, status, retryAfter) {
      Object.assign(chaos, { fail: count, status, retryAfter })
    },
    slowNext(count, ms) {
      Object.assign(chaos, { slow: count, slowMs: ms })
    },
    dropNext(count) {
      chaos.drop = count
    },
    close: () => app.close(),
  }
}

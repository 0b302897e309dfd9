/**
 * The MailingPro demo API: the fictitious e-mail-marketing service that the shipped
 * profile and manifest (profiles/mailing-pro*.yaml) describe, small enough to run inside
 * `opensync start --demo` and `opensync demo`, and the one implementation the test fixture
 * server plays MailingPro with. It serves what the manifest uses and nothing more: the
 * OAuth2 client-credentials token endpoint, and the recipients of a tenant's pool — list
 * (cursor pages, `updated_since` sorted by (updatedAt, id), `id`/`email` filters with
 * several values), get, create, batch create, update (PATCH, PUT) and delete — with a unique
 * e-mail per pool and lossless JSON. Its data can live in a JSON file, written atomically a
 * moment after a change and on close, so the recipients outlive a restart.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import Fastify, {
  type FastifyInstance,
  type FastifyPluginAsync,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify'
import { parseJson, stringifyJson } from '../sdk/json.ts'

/** A recipient as the API stores and answers it. */
export type Recipient = Record<string, unknown> & { id: number; updatedAt: string }

/** An API client that may fetch tokens (OAuth2 client credentials). */
export interface MailingProClient {
  readonly id: string
  readonly secret: string
}

/** What the data file holds. */
export interface MailingProData {
  readonly version: 1
  readonly clients: readonly MailingProClient[]
  /** Tenant id → pool ids → the pool's recipients. */
  readonly tenants: Readonly<Record<string, Readonly<Record<string, readonly Recipient[]>>>>
  readonly nextId?: number
  /** The port the API listened on last; tried first on the next start. */
  readonly port?: number
}

/** The fields a recipient has besides `id` and `updatedAt` (which the API sets). */
export const RECIPIENT_FIELDS = ['email', 'firstName', 'lastName', 'zip'] as const

/** The path every route is under, as the manifest's base URL ends. */
export const MAILING_PRO_PREFIX = '/mp/v1'

/** A problem with what a client sent: the status and message the API answers. */
class Refusal extends Error {
  readonly status: number
  constructor(status: number, message: string) {
    super(message)
    this.status = status
  }
}

interface Pool {
  readonly rows: Map<number, Recipient>
  /** A unique index on email, as a real service's database would have. */
  readonly emails: Map<string, number>
}

/**
 * The service's state: clients, tenants, pools and their recipients. With a `file`, every
 * change is written to it (atomically: a temporary file renamed over it) shortly after,
 * and at {@link flush}; a new instance from the same file has the same data.
 */
export class MailingProService {
  readonly #clients: MailingProClient[]
  readonly #pools = new Map<string, Pool>()
  readonly #tenants = new Map<string, string[]>()
  readonly #tokens = new Map<string, number>()
  readonly #file: string | undefined
  readonly #tokenLifetime: number
  #nextId: number
  #lastStamp = 0
  #port: number | undefined
  #timer: NodeJS.Timeout | undefined

  constructor(
    data: MailingProData,
    options: { readonly file?: string; readonly tokenLifetime?: number } = {},
  ) {
    this.#clients = [...data.clients]
    this.#file = options.file
    this.#tokenLifetime = options.tokenLifetime ?? 3600
    this.#port = data.port
    let maxId = 0
    for (const [tenant, pools] of Object.entries(data.tenants)) {
      this.#tenants.set(tenant, Object.keys(pools))
      for (const [pool, rows] of Object.entries(pools)) {
        const p: Pool = { rows: new Map(), emails: new Map() }
        for (const row of rows) {
          this.#put(p, { ...row })
          maxId = Math.max(maxId, row.id)
          this.#lastStamp = Math.max(this.#lastStamp, micros(row.updatedAt))
        }
        this.#pools.set(`${tenant}/${pool}`, p)
      }
    }
    this.#nextId = Math.max(data.nextId ?? 1, maxId + 1)
  }

  /** The service of a data file (see {@link MailingProService.write} for making one). */
  static open(file: string, options: { readonly tokenLifetime?: number } = {}): MailingProService {
    const data = parseJson(readFileSync(file, 'utf8')) as unknown as MailingProData
    if (data?.version !== 1 || !Array.isArray(data.clients) || typeof data.tenants !== 'object') {
      throw new Error(`${file} is not a MailingPro demo data file`)
    }
    return new MailingProService(data, { file, ...options })
  }

  /** Writes a data file (atomically), e.g. a new demo's. */
  static write(file: string, data: MailingProData): void {
    const temp = `${file}.${process.pid}.tmp`
    writeFileSync(temp, `${stringifyJson(data)}\n`, { mode: 0o600 })
    renameSync(temp, file)
  }

  /** The data as the file holds it. */
  data(): MailingProData {
    const tenants: Record<string, Record<string, Recipient[]>> = {}
    for (const [tenant, pools] of this.#tenants) {
      tenants[tenant] = {}
      for (const pool of pools) tenants[tenant][pool] = this.rows(tenant, pool)
    }
    return {
      version: 1,
      clients: this.#clients,
      tenants,
      nextId: this.#nextId,
      ...(this.#port !== undefined ? { port: this.#port } : {}),
    }
  }

  /** The port the API listened on last (kept in the data file). */
  get port(): number | undefined {
    return this.#port
  }

  set port(port: number) {
    if (port === this.#port) return
    this.#port = port
    this.#changed()
  }

  /** The recipients of a pool, by id. */
  rows(tenant: string, pool: string): Recipient[] {
    const p = this.#pool(tenant, pool)
    return [...(p?.rows.values() ?? [])].sort((a, b) => a.id - b.id)
  }

  /** Adds recipients directly (as another user of the service would), stamped now. */
  insert(tenant: string, pool: string, records: readonly Record<string, unknown>[]): Recipient[] {
    const p = this.#need(tenant, pool)
    const rows = records.map((values) => {
      const row: Recipient = { ...values, id: this.#nextId++, updatedAt: this.#stamp() }
      this.#put(p, row)
      return row
    })
    this.#changed()
    return rows
  }

  /** Sets fields of a stored recipient directly, stamping it updated now or at `at`. */
  touch(
    tenant: string,
    pool: string,
    id: number,
    values: Record<string, unknown>,
    at?: string,
  ): void {
    const p = this.#need(tenant, pool)
    const row = p.rows.get(id)
    if (!row) throw new Error(`no recipient ${id} in ${tenant}/${pool}`)
    this.#put(p, { ...row, ...values, id, updatedAt: at ?? this.#stamp() })
    this.#changed()
  }

  /** Writes the data file now, if there is one and something changed. */
  flush(): void {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = undefined
    if (this.#file && this.#dirty) {
      this.#dirty = false
      MailingProService.write(this.#file, this.data())
    }
  }

  #dirty = false

  // ------------------------------------------------------------ what the routes do

  /** A token for a client's id and secret; undefined when they are not a client's. */
  token(id: unknown, secret: unknown): { token: string; lifetime: number } | undefined {
    if (typeof id !== 'string' || typeof secret !== 'string') return undefined
    const client = this.#clients.find((c) => c.id === id)
    if (!client || !sameText(client.secret, secret)) return undefined
    const token = randomBytes(24).toString('base64url')
    const now = Date.now()
    for (const [t, expires] of this.#tokens) if (expires <= now) this.#tokens.delete(t)
    this.#tokens.set(token, now + this.#tokenLifetime * 1000)
    return { token, lifetime: this.#tokenLifetime }
  }

  /** Whether an Authorization header carries a token that has not expired. */
  authorized(header: string | undefined): boolean {
    const match = /^Bearer (.+)$/i.exec(header ?? '')
    const expires = match ? this.#tokens.get(match[1]!) : undefined
    return expires !== undefined && expires > Date.now()
  }

  /**
   * One page of a pool's recipients: with `since`, those changed at or after it, by
   * (updatedAt, id); else by id. `offset` is where the page starts.
   */
  list(
    tenant: string,
    pool: string,
    query: {
      readonly since?: string
      readonly filters?: Readonly<Record<string, readonly string[]>>
      readonly offset: number
      readonly limit: number
    },
  ): { rows: Recipient[]; total: number; more: boolean } {
    this.#need(tenant, pool)
    let rows = this.rows(tenant, pool)
    if (query.since !== undefined) {
      const since = micros(query.since)
      if (Number.isNaN(since)) throw new Refusal(400, 'updated_since must be an ISO timestamp')
      rows = rows.filter((r) => micros(r.updatedAt) >= since)
      rows.sort((a, b) =>
        a.updatedAt === b.updatedAt ? a.id - b.id : micros(a.updatedAt) - micros(b.updatedAt),
      )
    }
    for (const [field, values] of Object.entries(query.filters ?? {})) {
      rows = rows.filter((r) => values.includes(String(r[field])))
    }
    const page = rows.slice(query.offset, query.offset + query.limit)
    return { rows: page, total: rows.length, more: query.offset + query.limit < rows.length }
  }

  get(tenant: string, pool: string, id: number): Recipient | undefined {
    return this.#need(tenant, pool).rows.get(id)
  }

  create(tenant: string, pool: string, body: unknown): Recipient {
    const p = this.#need(tenant, pool)
    const values = this.#values(p, body)
    if (values.email == null) throw new Refusal(422, 'email is required')
    const row: Recipient = { id: this.#nextId++, ...values, updatedAt: this.#stamp() }
    this.#put(p, row)
    this.#changed()
    return row
  }

  update(tenant: string, pool: string, id: number, body: unknown, replace: boolean): Recipient {
    const p = this.#need(tenant, pool)
    const row = p.rows.get(id)
    if (!row) throw new Refusal(404, 'not found')
    const values = this.#values(p, body, id)
    const next: Recipient = replace
      ? { id, ...values, updatedAt: this.#stamp() }
      : { ...row, ...values, id, updatedAt: this.#stamp() }
    if (next.email == null) throw new Refusal(422, 'email is required')
    this.#put(p, next)
    this.#changed()
    return next
  }

  remove(tenant: string, pool: string, id: number): boolean {
    const p = this.#need(tenant, pool)
    const old = p.rows.get(id)
    if (!old) return false
    if (typeof old.email === 'string' && p.emails.get(old.email.toLowerCase()) === id)
      p.emails.delete(old.email.toLowerCase())
    p.rows.delete(id)
    this.#changed()
    return true
  }

  /** Whether the tenant has the pool. */
  has(tenant: string, pool: string): boolean {
    return this.#pool(tenant, pool) !== undefined
  }

  // ------------------------------------------------------------------ inside

  #pool(tenant: string, pool: string): Pool | undefined {
    return this.#tenants.get(tenant)?.includes(pool)
      ? this.#pools.get(`${tenant}/${pool}`)
      : undefined
  }

  #need(tenant: string, pool: string): Pool {
    const p = this.#pool(tenant, pool)
    if (!p) throw new Refusal(404, 'no such pool')
    return p
  }

  /** The recipient fields of a request body, checked: strings or null, e-mail unique. */
  #values(p: Pool, body: unknown, id?: number): Record<string, unknown> {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new Refusal(400, 'the body must be a JSON object')
    }
    const values: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(body)) {
      if (k === 'id' || k === 'updatedAt') continue
      if (!(RECIPIENT_FIELDS as readonly string[]).includes(k)) {
        throw new Refusal(422, `unknown field ${k} (fields: ${RECIPIENT_FIELDS.join(', ')})`)
      }
      if (v !== null && typeof v !== 'string') throw new Refusal(422, `${k} must be a string`)
      values[k] = v
    }
    if (typeof values.email === 'string') {
      const holder = p.emails.get(values.email.toLowerCase())
      if (holder !== undefined && holder !== id) {
        throw new Refusal(409, `email ${values.email} exists`)
      }
    }
    return values
  }

  #put(p: Pool, row: Recipient): void {
    const old = p.rows.get(row.id)
    if (typeof old?.email === 'string' && p.emails.get(old.email.toLowerCase()) === row.id)
      p.emails.delete(old.email.toLowerCase())
    if (typeof row.email === 'string') p.emails.set(row.email.toLowerCase(), row.id)
    p.rows.set(row.id, row)
  }

  /** A strictly increasing change time with microseconds, like a database's. */
  #stamp(): string {
    const now = Math.max(Date.now() * 1000, this.#lastStamp + 1)
    this.#lastStamp = now
    const iso = new Date(Math.floor(now / 1000)).toISOString().slice(0, 19)
    return `${iso}.${String(now % 1_000_000).padStart(6, '0')}Z`
  }

  /** Writes the file a moment after a change: a burst of requests is one write. */
  #changed(): void {
    if (!this.#file) return
    this.#dirty = true
    this.#timer ??= setTimeout(() => this.flush(), 200)
    this.#timer.unref()
  }
}

/** Microseconds since the epoch of an ISO timestamp with up to six fraction digits. */
function micros(iso: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?(Z|[+-]\d\d:\d\d)?$/.exec(iso)
  if (!m) return Number.NaN
  const ms = Date.parse(`${m[1]}${m[3] ?? 'Z'}`)
  return ms * 1000 + Number((m[2] ?? '').padEnd(6, '0'))
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/**
 * Lossless JSON bodies (src/sdk/json.ts) and form bodies (the token request) for an app;
 * call it once on the root app that {@link mailingProRoutes} is registered in.
 */
export function addMailingProParsers(app: FastifyInstance): void {
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, String(body).trim() === '' ? undefined : parseJson(String(body)))
    } catch (error) {
      done(Object.assign(error as Error, { statusCode: 400 }), undefined)
    }
  })
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_req, body, done) => done(null, Object.fromEntries(new URLSearchParams(String(body)))),
  )
}

/** Answers JSON text (lossless), or nothing. */
function send(reply: FastifyReply, status: number, body?: unknown) {
  return reply
    .code(status)
    .type('application/json')
    .send(body === undefined ? '' : stringifyJson(body))
}

/** The routes of the API, relative to where they are registered (`/mp/v1`). */
export function mailingProRoutes(service: MailingProService): FastifyPluginAsync {
  return async (app) => {
    app.addHook('onRequest', async (req, reply) => {
      if (req.routeOptions.url?.endsWith('/oauth/token')) return undefined
      if (!service.authorized(req.headers.authorization)) {
        return send(reply, 401, { error: 'invalid_token', message: 'not authorized' })
      }
      return undefined
    })
    app.setErrorHandler((error, _req, reply) => {
      if (error instanceof Refusal) return send(reply, error.status, { message: error.message })
      const status = (error as { statusCode?: number }).statusCode
      if (status && status >= 400 && status < 500)
        return send(reply, status, { message: (error as Error).message })
      return send(reply, 500, { message: 'internal error' })
    })

    app.post('/oauth/token', async (req, reply) => {
      const form = (req.body ?? {}) as Record<string, unknown>
      const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '')
      let id: unknown = form.client_id
      let secret: unknown = form.client_secret
      if (basic) {
        const text = Buffer.from(basic[1]!, 'base64').toString()
        const colon = text.indexOf(':')
        id = decodeURIComponent(text.slice(0, colon))
        secret = decodeURIComponent(text.slice(colon + 1))
      }
      const granted = form.grant_type === 'client_credentials' && service.token(id, secret)
      if (!granted) return send(reply, 401, { error: 'invalid_client' })
      return send(reply, 200, {
        access_token: granted.token,
        token_type: 'bearer',
        expires_in: granted.lifetime,
      })
    })

    const base = '/tenants/:tenant/pools/:pool/recipients'
    type Params = { tenant: string; pool: string; id?: string }
    const idOf = (req: FastifyRequest) => {
      const id = Number((req.params as Params).id)
      if (!Number.isSafeInteger(id)) throw new Refusal(404, 'not found')
      return id
    }

    app.get(base, async (req, reply) => {
      const { tenant, pool } = req.params as Params
      const q = req.query as Record<string, string | string[]>
      const one = (k: string) => (Array.isArray(q[k]) ? q[k][0] : q[k])
      const filters: Record<string, string[]> = {}
      for (const field of ['id', ...RECIPIENT_FIELDS]) {
        const v = q[field]
        if (v !== undefined) filters[field] = (Array.isArray(v) ? v : [v]).map(String)
      }
      const limit = Number(one('limit') ?? 100)
      if (!Number.isInteger(limit) || limit < 1) throw new Refusal(400, 'limit must be above 0')
      const cursor = one('cursor')
      const offset = cursor ? Number(Buffer.from(cursor, 'base64url').toString()) : 0
      if (!Number.isInteger(offset) || offset < 0) throw new Refusal(400, 'invalid cursor')
      const since = one('updated_since')
      const page = service.list(tenant, pool, {
        ...(since !== undefined ? { since } : {}),
        filters,
        offset,
        limit,
      })
      const next = page.more ? Buffer.from(String(offset + limit)).toString('base64url') : null
      return send(reply, 200, { data: page.rows, next, total: page.total })
    })

    app.get(`${base}/:id`, async (req, reply) => {
      const { tenant, pool } = req.params as Params
      const row = service.get(tenant, pool, idOf(req))
      return row ? send(reply, 200, { data: row }) : send(reply, 404, { message: 'not found' })
    })

    app.post(base, async (req, reply) => {
      const { tenant, pool } = req.params as Params
      return send(reply, 201, { data: service.create(tenant, pool, req.body) })
    })

    app.post(`${base}/batch`, async (req, reply) => {
      const { tenant, pool } = req.params as Params
      if (!service.has(tenant, pool)) throw new Refusal(404, 'no such pool')
      const items = (req.body as { items?: unknown })?.items
      if (!Array.isArray(items)) throw new Refusal(400, 'items must be a list')
      const results = items.map((item) => {
        try {
          return { id: service.create(tenant, pool, item).id }
        } catch (error) {
          if (error instanceof Refusal) return { error: error.message }
          throw error
        }
      })
      return send(reply, 200, { results })
    })

    const update = (replace: boolean) => async (req: FastifyRequest, reply: FastifyReply) => {
      const { tenant, pool } = req.params as Params
      return send(reply, 200, { data: service.update(tenant, pool, idOf(req), req.body, replace) })
    }
    app.patch(`${base}/:id`, update(false))
    app.put(`${base}/:id`, update(true))

    app.delete(`${base}/:id`, async (req, reply) => {
      const { tenant, pool } = req.params as Params
      if (!service.remove(tenant, pool, idOf(req)))
        return send(reply, 404, { message: 'not found' })
      return send(reply, 204)
    })
  }
}

/** A listening MailingPro demo API. */
export interface MailingProApi {
  /** The base URL tasks use: `http://127.0.0.1:<port>/mp/v1`. */
  readonly url: string
  readonly port: number
  readonly service: MailingProService
  /** Stops listening and writes the data file. */
  close(): Promise<void>
}

/**
 * Serves a service on 127.0.0.1: on `port` when given (0: a free one), else on the port it
 * had last when that is free, else on a free one — so a demo's task keeps its URL across
 * restarts unless another process took the port.
 */
export async function startMailingProApi(
  service: MailingProService,
  options: { readonly port?: number } = {},
): Promise<MailingProApi> {
  const app = Fastify({ logger: false, bodyLimit: 16 * 1024 * 1024 })
  addMailingProParsers(app)
  await app.register(mailingProRoutes(service), { prefix: MAILING_PRO_PREFIX })
  const wanted = options.port ?? service.port ?? 0
  try {
    await app.listen({ port: wanted, host: '127.0.0.1' })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || options.port !== undefined)
      throw error
    await app.listen({ port: 0, host: '127.0.0.1' })
  }
  const address = app.server.address()
  const port = typeof address === 'object' && address ? address.port : wanted
  service.port = port
  let closing: Promise<void> | undefined
  return {
    url: `http://127.0.0.1:${port}${MAILING_PRO_PREFIX}`,
    port,
    service,
    close() {
      closing ??= app.close().then(() => service.flush())
      return closing
    },
  }
}

/** A new demo's data: one client with a random secret, one tenant, one pool, recipients. */
export function newMailingProData(
  tenant: string,
  pool: string,
  recipients: readonly Record<string, unknown>[],
  clientId = 'opensync-demo',
): MailingProData {
  const service = new MailingProService({
    version: 1,
    clients: [{ id: clientId, secret: randomBytes(18).toString('base64url') }],
    tenants: { [tenant]: { [pool]: [] } },
  })
  service.insert(tenant, pool, recipients)
  return service.data()
}

/** Reads a data file if it is there. */
export function openMailingProFile(file: string): MailingProService | undefined {
  return existsSync(file) ? MailingProService.open(file) : undefined
}

/**
 * The REST bridge against our Fastify fixture server (test/support/rest-fixture-server.ts):
 * auth, every pagination style, incremental reads, retries of 429/503/5xx, timeouts and
 * dropped connections, per-record write failures, batch endpoints, the shared request
 * budget, lossless values.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createRegistry } from '../../src/bridges/index.ts'
import { checkManifest, restBridge } from '../../src/bridges/rest/index.ts'
import {
  type BridgeConnection,
  isJsonNumber,
  isOpenSyncError,
  type OpenSyncError,
  type RecordBatch,
  type SourceRecord,
  silentLogger,
} from '../../src/sdk/index.ts'
import { loadProfiles } from '../../src/service/profiles/index.ts'
import { type FixtureServer, startFixtureServer } from '../support/rest-fixture-server.ts'

async function collect(batches: AsyncIterable<RecordBatch>) {
  const records: SourceRecord[] = []
  const batchList: RecordBatch[] = []
  for await (const batch of batches) {
    records.push(...batch.records)
    batchList.push(batch)
  }
  return {
    records,
    batches: batchList,
    checkpoint: batchList.findLast((b) => b.checkpoint)?.checkpoint,
  }
}

async function errorOf(promise: Promise<unknown>): Promise<OpenSyncError> {
  try {
    await promise
  } catch (error) {
    if (isOpenSyncError(error)) return error
    throw new Error(`expected an OpenSyncError, got ${String(error)}`, { cause: error })
  }
  throw new Error('expected an error, but the call succeeded')
}

/** A manifest for the fixture's /api/people, with overrides. */
function manifest(overrides: Record<string, unknown> = {}, people: Record<string, unknown> = {}) {
  return {
    rest: 1,
    retries: { max: 4, backoff: 0.02, maxWait: 5 },
    timeout: 2,
    ...overrides,
    recordTypes: {
      people: {
        path: '/api/people',
        fields: {
          id: { type: 'integer', readOnly: true },
          email: 'string',
          name: 'string',
          score: 'decimal',
          big: 'integer',
          updatedAt: { type: 'timestamptz', readOnly: true },
        },
        list: {
          records: 'data',
          pagination: { type: 'cursor', tokenPath: 'next', sizeParam: 'limit' },
          pageSize: 40,
        },
        incremental: { param: 'updated_since', field: 'updatedAt', ordered: true },
        fetch: { record: 'data' },
        filterParams: { email: 'email', id: 'id' },
        create: { keyPath: 'data.id' },
        update: { method: 'PATCH' },
        delete: {},
        ...people,
      },
    },
  }
}

async function connect(server: FixtureServer, m: unknown, values: Record<string, string> = {}) {
  return restBridge.connect(
    { baseUrl: server.url, ...values },
    { log: silentLogger, settings: { manifest: m } },
  )
}

describe('REST manifest', () => {
  it('names the path of every bad field', () => {
    const checked = checkManifest({
      rest: 1,
      auth: { type: 'oauth2', tokenUrl: '/t' },
      recordTypes: {
        people: {
          path: '/people',
          list: { pagination: { type: 'pages' }, pageSize: 0 },
          colour: 'blue',
        },
      },
    })
    expect(checked.ok).toBe(false)
    const issues = checked.ok ? [] : checked.issues.map((i) => `${i.path}: ${i.message}`)
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^auth\.clientId: /),
        expect.stringMatching(/^recordTypes\.people\.list\.pagination\.type: /),
        expect.stringMatching(/^recordTypes\.people\.list\.pageSize: /),
        expect.stringMatching(/^recordTypes\.people: unknown key/),
      ]),
    )
  })

  it('makes profiles validate name the bad field of the manifest a profile embeds', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'osy-rest-profile-'))
    writeFileSync(
      join(dir, 'acme.yaml'),
      'profile: acme\nsystem: ACME\nversion: "1"\nbridge: rest\nmanifest: ./acme.rest.yaml\n',
    )
    writeFileSync(
      join(dir, 'acme.rest.yaml'),
      'rest: 1\nrecordTypes:\n  people:\n    path: /people\n    list: { pagination: { type: pages } }\n',
    )
    const error = await errorOf(
      loadProfiles({ registry: await createRegistry(), sources: [dir], shipped: false }),
    )
    expect(error.code).toBe('OSY_INVALID_PROFILE')
    expect(error.message).toContain(
      'acme.yaml: manifest: ./acme.rest.yaml: recordTypes.people.list.pagination.type: must have a type: none, page, offset, cursor, nextUrl or link',
    )
  })

  it('rejects a connection without a manifest, or with a bad one, as invalid connection values', async () => {
    const none = await errorOf(restBridge.connect({ baseUrl: 'http://x' }, { log: silentLogger }))
    expect(none.code).toBe('OSY_INVALID_CONNECTION')
    const bad = await errorOf(
      restBridge.connect(
        { baseUrl: 'http://x' },
        { log: silentLogger, settings: { manifest: { rest: 2, recordTypes: {} } } },
      ),
    )
    expect(bad.code).toBe('OSY_INVALID_CONNECTION')
    expect(bad.message).toContain('manifest.rest')
    const unknownField = await errorOf(
      restBridge.connect(
        { baseUrl: 'http://x', colour: 'blue' },
        { log: silentLogger, settings: { manifest: manifest() } },
      ),
    )
    expect(unknownField.message).toContain('colour')
  })
})

describe('REST bridge against the fixture server', () => {
  let server: FixtureServer
  let conn: BridgeConnection

  beforeAll(async () => {
    server = await startFixtureServer()
    server.insert(
      'people',
      Array.from({ length: 250 }, (_, i) => ({ email: `p${i}@example.com`, name: `Person ${i}` })),
    )
    conn = await connect(server, manifest())
  })
  afterAll(async () => {
    await conn?.close()
    await server?.close()
  })
  afterEach(() => {
    server.failNext(0, 503)
    server.slowNext(0, 0)
    server.dropNext(0)
  })

  it('discovers declared and inferred fields, the key and the cursor', async () => {
    const [people] = await conn.discover()
    expect(people!.keyFields).toEqual(['id'])
    expect(people!.cursorCandidates[0]).toBe('updatedAt')
    expect(people!.fields.find((f) => f.name === 'updatedAt')!.type).toBe('timestamptz')
    expect(people!.readOnly).toBe(false)
  })

  it.each([
    ['cursor', { type: 'cursor', tokenPath: 'next', sizeParam: 'limit' }],
    ['page', { type: 'page', param: 'page', sizeParam: 'per_page' }],
    ['offset', { type: 'offset', param: 'offset', sizeParam: 'limit' }],
    ['nextUrl', { type: 'nextUrl', urlPath: 'links.next', sizeParam: 'limit' }],
    ['link', { type: 'link', sizeParam: 'limit' }],
  ])('pages with %s pagination: every record once', async (_name, pagination) => {
    const c = await connect(
      server,
      manifest({}, { list: { records: 'data', pagination, pageSize: 40 } }),
    )
    const before = server.stats.requests
    const { records, batches } = await collect(c.read('people', { batchSize: 100 }))
    expect(records).toHaveLength(250)
    expect(new Set(records.map((r) => r.key)).size).toBe(250)
    expect(batches.map((b) => b.records.length)).toEqual([100, 100, 50])
    // 7 pages of 40 (the seventh short), plus one page for inferring fields.
    expect(server.stats.requests - before).toBeLessThanOrEqual(8)
    await c.close()
  })

  it('reads incrementally: since a checkpoint, only what changed after it (plus the lookback)', async () => {
    const first = await collect(conn.read('people', { cursor: 'updatedAt', batchSize: 100 }))
    expect(first.records).toHaveLength(250)
    // Ordered by the API: each batch carries its checkpoint.
    expect(first.batches.every((b) => b.checkpoint)).toBe(true)
    const id = server.rows('people')[10]!.id
    server.touch('people', id, { name: 'Changed' })
    const before = server.stats.requests
    const next = await collect(
      conn.read('people', { cursor: 'updatedAt', since: first.checkpoint! }),
    )
    expect(next.records.map((r) => r.values.name)).toEqual(['Changed'])
    expect(server.stats.requests - before).toBe(1)
    const none = await collect(
      conn.read('people', { cursor: 'updatedAt', since: next.checkpoint! }),
    )
    expect(none.records).toHaveLength(0)
    // A record written late with an older change time is found through the lag window.
    const late = server.rows('people')[20]!.id
    const old = new Date(Date.parse(String(next.checkpoint!.position[0])) - 30_000).toISOString()
    server.touch('people', late, { name: 'Late' }, old.replace('Z', '000Z'))
    expect(
      (await collect(conn.read('people', { cursor: 'updatedAt', since: next.checkpoint! })))
        .records,
    ).toHaveLength(0)
    const lagged = await collect(
      conn.read('people', { cursor: 'updatedAt', since: next.checkpoint!, lag: 60 }),
    )
    expect(lagged.records.map((r) => r.values.name)).toContain('Late')
  })

  it('without declared order, gives the checkpoint with the last batch only', async () => {
    const c = await connect(
      server,
      manifest({}, { incremental: { param: 'updated_since', field: 'updatedAt' } }),
    )
    const { batches } = await collect(c.read('people', { cursor: 'updatedAt', batchSize: 100 }))
    expect(batches.map((b) => b.checkpoint !== undefined)).toEqual([false, false, true])
    await c.close()
  })

  it('filters: key-value pairs go to the API where it can, SQL conditions are evaluated here', async () => {
    const before = server.stats.requests
    const { records } = await collect(
      conn.read('people', { filter: { keyValue: { email: 'p7@example.com' } } }),
    )
    expect(records.map((r) => r.values.name)).toEqual(['Person 7'])
    expect(server.stats.requests - before).toBe(1)
    const sql = await collect(
      conn.read('people', {
        filter: { sql: "name LIKE 'Person 1%' AND lower(email) <> 'p1@example.com'" },
      }),
    )
    // Person 1, 10–19, 100–199, but not p1 nor Person 10 (renamed above).
    expect(sql.records.length).toBe(109)
    const bad = await errorOf(
      collect(conn.read('people', { filter: { sql: '1=1; DROP TABLE people' } })),
    )
    expect(bad.code).toBe('OSY_INVALID_FILTER')
  })

  it("looks records up by key through the list's key parameter", async () => {
    const ids = server
      .rows('people')
      .slice(0, 3)
      .map((r) => String(r.id))
    const { records } = await collect(
      conn.read('people', {
        filter: {
          expr: {
            kind: 'in',
            operand: { kind: 'column', name: 'id' },
            list: [...ids, '999999'].map((v) => ({ kind: 'literal', value: { number: v } })),
            negated: false,
          },
        },
      }),
    )
    expect(records.map((r) => r.key).sort()).toEqual([...ids].sort())
  })

  it('waits as long as Retry-After says on 429, and retries 503 and 500 bursts', async () => {
    server.failNext(2, 429, '1')
    const t0 = performance.now()
    const { records } = await collect(
      conn.read('people', { filter: { keyValue: { email: 'p1@example.com' } } }),
    )
    expect(records).toHaveLength(1)
    expect(performance.now() - t0).toBeGreaterThanOrEqual(1900)

    server.failNext(3, 503)
    expect(
      (await collect(conn.read('people', { filter: { keyValue: { email: 'p2@example.com' } } })))
        .records,
    ).toHaveLength(1)
    server.failNext(3, 500)
    expect(
      (await collect(conn.read('people', { filter: { keyValue: { email: 'p3@example.com' } } })))
        .records,
    ).toHaveLength(1)
  })

  it('gives up after the retries with a transient error', async () => {
    server.failNext(10, 503)
    const error = await errorOf(collect(conn.read('people')))
    expect(error.code).toBe('OSY_SYSTEM_ERROR')
    expect(error.kind).toBe('transient')
  })

  it('retries a slow answer that times out and a dropped connection', async () => {
    server.slowNext(1, 2500)
    expect(
      (await collect(conn.read('people', { filter: { keyValue: { email: 'p4@example.com' } } })))
        .records,
    ).toHaveLength(1)
    server.dropNext(2)
    expect(
      (await collect(conn.read('people', { filter: { keyValue: { email: 'p5@example.com' } } })))
        .records,
    ).toHaveLength(1)
  })

  it('reports a refused record alone: the others of the batch are written', async () => {
    const results = await conn.write('people', [
      { op: 'create', values: { email: 'new1@example.com', name: 'New 1' } },
      { op: 'create', values: { email: 'reject-me@example.com', name: 'Refused' } },
      { op: 'create', values: { email: 'p0@example.com', name: 'Duplicate' } },
      { op: 'create', values: { email: 'new2@example.com', name: 'New 2' } },
      { op: 'update', key: '999999', values: { name: 'ghost' } },
    ])
    expect(results.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual([
      'ok',
      'OSY_CONSTRAINT_VIOLATION',
      'OSY_CONSTRAINT_VIOLATION',
      'ok',
      'OSY_RECORD_NOT_FOUND',
    ])
    const refused = results[1]!
    if (!refused.ok) {
      expect(refused.error.kind).toBe('user')
      expect(refused.error.message).toContain('block list')
    }
    const names = server.rows('people').map((r) => r.name)
    expect(names).toContain('New 1')
    expect(names).toContain('New 2')
    expect(names).not.toContain('Refused')
    const created = results[0]!
    expect(
      created.ok && server.rows('people').find((r) => String(r.id) === created.key)?.email,
    ).toBe('new1@example.com')
  })

  it('updates and deletes by key; two updates of one record apply in order', async () => {
    const [a, b] = server
      .rows('people')
      .slice(0, 2)
      .map((r) => String(r.id))
    const results = await conn.write('people', [
      { op: 'update', key: a!, values: { name: 'first' } },
      { op: 'update', key: a!, values: { name: 'second' } },
      { op: 'delete', key: b! },
      { op: 'delete', key: '999999' },
    ])
    expect(results.every((r) => r.ok)).toBe(true)
    expect(server.rows('people').find((r) => String(r.id) === a)!.name).toBe('second')
    expect(server.rows('people').some((r) => String(r.id) === b)).toBe(false)
  })

  it("keeps the manifest's concurrency across write calls that overlap", async () => {
    const two = await connect(server, manifest({ concurrency: 2 }))
    try {
      server.slowNext(8, 60)
      server.stats.mostInFlight = 0
      const creates = (batch: number) =>
        Array.from({ length: 4 }, (_, i) => ({
          op: 'create' as const,
          values: { email: `overlap${batch}-${i}@example.com`, name: `Overlap ${batch}.${i}` },
        }))
      // The engine keeps two batches' writes in flight on a bridge with concurrentWrites.
      const results = await Promise.all([
        two.write('people', creates(1)),
        two.write('people', creates(2)),
      ])
      expect(results.flat().every((r) => r.ok)).toBe(true)
      expect(server.stats.mostInFlight).toBe(2)
      const emails = new Set(server.rows('people').map((r) => r.email))
      for (const op of [...creates(1), ...creates(2)]) expect(emails).toContain(op.values.email)
    } finally {
      await two.close()
    }
  })

  it('writes through a batch endpoint; one failing item fails alone', async () => {
    const c = await connect(
      server,
      manifest(
        {},
        {
          batch: {
            create: {
              path: '/api/people/batch',
              body: { items: '{{records}}' },
              results: 'results',
              size: 3,
            },
          },
        },
      ),
    )
    const before = server.stats.byMethod.POST ?? 0
    const results = await c.write('people', [
      { op: 'create', values: { email: 'b1@example.com' } },
      { op: 'create', values: { email: 'b2-reject@example.com' } },
      { op: 'create', values: { email: 'b3@example.com' } },
      { op: 'create', values: { email: 'b4@example.com' } },
    ])
    expect(results.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual([
      'ok',
      'OSY_CONSTRAINT_VIOLATION',
      'ok',
      'ok',
    ])
    expect((server.stats.byMethod.POST ?? 0) - before).toBe(2)
    const keys = results.filter((r) => r.ok).map((r) => (r.ok ? r.key : ''))
    for (const key of keys)
      expect(server.rows('people').some((r) => String(r.id) === key)).toBe(true)
    await c.close()
  })

  it('keeps big integers and exact decimals, both ways', async () => {
    const [r] = await conn.write('people', [
      {
        op: 'create',
        values: {
          email: 'exact@example.com',
          big: 9007199254740993n,
          score: '12345678901234567890.123456789',
        },
      },
    ])
    expect(r!.ok).toBe(true)
    const stored = server.rows('people').find((x) => x.email === 'exact@example.com')!
    expect(isJsonNumber(stored.big) && stored.big.rawJSON).toBe('9007199254740993')
    const { records } = await collect(
      conn.read('people', { filter: { keyValue: { email: 'exact@example.com' } } }),
    )
    expect(records[0]!.values.big).toBe(9007199254740993n)
    expect(records[0]!.values.score).toBe('12345678901234567890.123456789')
  })
})

describe('REST auth', () => {
  const cases: [string, Parameters<typeof startFixtureServer>[0], unknown, unknown][] = [
    [
      'bearer',
      { auth: { type: 'bearer', token: 'token-abc-1' } },
      { type: 'bearer', token: '{{token}}' },
      { type: 'bearer', token: 'wrong' },
    ],
    [
      'basic',
      { auth: { type: 'basic', user: 'u', password: 'pass-word-1' } },
      { type: 'basic', username: 'u', password: '{{token}}' },
      { type: 'basic', username: 'u', password: 'wrong' },
    ],
    [
      'API key in a header',
      { auth: { type: 'apiKey', header: 'X-Key', key: 'key-one-1' } },
      { type: 'apiKey', in: 'header', name: 'X-Key', value: '{{token}}' },
      { type: 'apiKey', in: 'header', name: 'X-Key', value: 'wrong' },
    ],
    [
      'API key in the query',
      { auth: { type: 'apiKey', query: 'api_key', key: 'key-two-2' } },
      { type: 'apiKey', in: 'query', name: 'api_key', value: '{{token}}' },
      { type: 'apiKey', in: 'query', name: 'api_key', value: 'wrong' },
    ],
  ]
  const tokens: Record<string, string> = {
    bearer: 'token-abc-1',
    basic: 'pass-word-1',
    'API key in a header': 'key-one-1',
    'API key in the query': 'key-two-2',
  }

  it.each(cases)(
    '%s: good credentials pass, wrong ones are told apart',
    async (name, options, good, bad) => {
      const server = await startFixtureServer(options)
      try {
        const m = manifest({ auth: good, connection: { token: { secret: true } } })
        const ok = await connect(server, m, { token: tokens[name]! })
        await expect(ok.check()).resolves.toBeUndefined()
        const wrong = await connect(server, manifest({ auth: bad }))
        const error = await errorOf(wrong.check())
        expect(error.code).toBe('OSY_AUTH_FAILED')
        expect(error.message).not.toContain(tokens[name]!)
        // Refused on a write, too (declared fields: no read first): the whole write fails,
        // not each record for itself.
        const writer = await connect(server, manifest({ auth: bad }, { inferFields: false }))
        const write = await errorOf(
          writer.write('people', [{ op: 'create', values: { email: 'x@example.com' } }]),
        )
        expect(write.code).toBe('OSY_AUTH_FAILED')
      } finally {
        await server.close()
      }
    },
  )

  it('OAuth2 client credentials: fetches a token, renews it before it expires and after a 401', async () => {
    const server = await startFixtureServer({
      auth: { type: 'oauth2', clientId: 'app', clientSecret: 's3cret', lifetime: 2 },
    })
    try {
      const m = manifest({
        auth: {
          type: 'oauth2',
          tokenUrl: '/oauth/token',
          clientId: 'app',
          clientSecret: '{{secret}}',
          refreshBefore: 1,
        },
        connection: { secret: { secret: true, required: true } },
      })
      const c = await connect(server, m, { secret: 's3cret' })
      await c.check()
      await c.check()
      expect(server.stats.tokens).toBe(1)
      await new Promise((r) => setTimeout(r, 1100))
      await c.check()
      expect(server.stats.tokens).toBe(2)
      const wrong = await connect(server, m, { secret: 'nope' })
      expect((await errorOf(wrong.check())).code).toBe('OSY_AUTH_FAILED')
    } finally {
      await server.close()
    }
  })
})

describe('REST request budget', () => {
  it('is shared by every connection with the same base URL and credentials', async () => {
    const server = await startFixtureServer()
    server.insert('people', [{ email: 'x@example.com' }])
    try {
      // The fixture takes any bearer token: the token only tells the accounts apart.
      const m = manifest({
        rateLimit: { requestsPerSecond: 20, burst: 1 },
        auth: { type: 'bearer', token: '{{who}}' },
        connection: { who: { secret: true } },
      })
      const a = await connect(server, m, { who: 'account-one' })
      const b = await connect(server, m, { who: 'account-one' })
      await Promise.all([a.check(), b.check()]) // fields inferred, buckets made
      const t0 = performance.now()
      await Promise.all([
        ...Array.from({ length: 10 }, () => a.check()),
        ...Array.from({ length: 10 }, () => b.check()),
      ])
      // 20 requests at 20/s through one bucket: about a second, not half of one.
      expect(performance.now() - t0).toBeGreaterThanOrEqual(850)
      const times = server.stats.times.slice(-20)
      const spacing = (times.at(-1)! - times[0]!) / 19
      expect(spacing).toBeGreaterThanOrEqual(40)

      // Another account of the same API has a budget of its own: not queued behind the first.
      const c = await connect(server, m, { who: 'account-two' })
      await c.check()
      const busy = Promise.all(Array.from({ length: 20 }, () => a.check()))
      const t1 = performance.now()
      await Promise.all(Array.from({ length: 3 }, () => c.check()))
      expect(performance.now() - t1).toBeLessThan(500)
      await busy
    } finally {
      await server.close()
    }
  })
})

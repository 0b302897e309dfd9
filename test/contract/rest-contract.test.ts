/**
 * The bridge contract (test/contract/bridge-contract.test.ts) for the REST bridge, against
 * the fixture server: the same clauses wherever the REST bridge's capability flags allow
 * them (cursor reads yes; key scans, upserts and length limits no). The shared suite sets its
 * tables up with SQL DDL, which an HTTP API has no counterpart for, so the clauses are
 * restated here over resources of the fixture server (`people_<n>`), one per test.
 */
import { createServer, type Server, type Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { restBridge } from '../../src/bridges/rest/index.ts'
import {
  type BridgeConnection,
  type Checkpoint,
  type ConnectionValues,
  capabilitiesOf,
  isJsonNumber,
  isOpenSyncError,
  type OpenSyncError,
  type RecordBatch,
  type RecordValues,
  type SourceRecord,
  silentLogger,
  type WriteOp,
  type WriteResult,
} from '../../src/sdk/index.ts'
import { type FixtureServer, startFixtureServer } from '../support/rest-fixture-server.ts'

const TOKEN = 'contract-token-1'

/** The suite's people table as a REST record type of the fixture server. */
function peopleType(path: string, writable = true) {
  return {
    path,
    inferFields: false,
    fields: {
      id: { type: 'integer', readOnly: true },
      email: { type: 'string', nullable: false },
      name: 'string',
      score: 'decimal',
      big: 'integer',
      active: 'boolean',
      born: 'date',
      updated_at: { type: 'timestamptz', nullable: false },
      created: 'timestamp',
      doc: 'json',
      note: 'string',
    },
    list: {
      records: 'data',
      pagination: { type: 'cursor', tokenPath: 'next', sizeParam: 'limit' },
      pageSize: 7,
    },
    incremental: {
      param: 'updated_at_gte',
      field: 'updated_at',
      ordered: true,
      keyset: true,
      query: { sort: 'updated_at' },
    },
    filterParams: { id: 'id', email: 'email' },
    multiValueFilters: true,
    ...(writable
      ? {
          create: { keyPath: 'data.id' },
          update: {},
          delete: {},
          batch: { create: { body: { items: '{{records}}' }, results: 'results', size: 100 } },
        }
      : {}),
  }
}

const TABLES = 30
const manifest = {
  rest: 1,
  connection: { token: { secret: true } },
  auth: { type: 'bearer', token: '{{token}}' },
  timeout: 1,
  retries: { max: 1, backoff: 0.05, maxWait: 2 },
  recordTypes: {
    ...Object.fromEntries(
      Array.from({ length: TABLES }, (_, i) => [
        `people_${i + 1}`,
        peopleType(`/api/people_${i + 1}`),
      ]),
    ),
    people_ro: peopleType('/api/people_1', false),
  },
}

async function collect(batches: AsyncIterable<RecordBatch>) {
  const records: SourceRecord[] = []
  const sizes: number[] = []
  let checkpoint: Checkpoint | undefined
  for await (const batch of batches) {
    records.push(...batch.records)
    sizes.push(batch.records.length)
    checkpoint = batch.checkpoint ?? checkpoint
  }
  return { records, sizes, checkpoint }
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

function person(
  i: number,
  extra: Partial<Record<string, RecordValues[string]>> = {},
): RecordValues {
  return {
    email: `p${i}@example.com`,
    name: `Person ${i}`,
    updated_at: new Date(Date.UTC(2024, 0, 1, 0, 0, i)).toISOString().replace('Z', '000Z'),
    ...extra,
  }
}

function keysOf(results: readonly WriteResult[]): string[] {
  return results.map((r) => {
    if (!r.ok) throw new Error(`write failed: ${r.error.code} ${r.error.message}`)
    return r.key
  })
}

describe('bridge contract: rest', () => {
  let server: FixtureServer
  let conn: BridgeConnection
  let tableNo = 0
  const caps = capabilitiesOf(restBridge)

  const connect = (values: ConnectionValues = { baseUrl: server.url, token: TOKEN }) =>
    restBridge.connect(values, { log: silentLogger, settings: { manifest } })
  const peopleTable = () => `people_${++tableNo}`
  const createPeople = async (table: string, n: number) =>
    keysOf(
      await conn.write(
        table,
        Array.from({ length: n }, (_, i) => ({ op: 'create', values: person(i) }) as WriteOp),
      ),
    )

  beforeAll(async () => {
    server = await startFixtureServer({ auth: { type: 'bearer', token: TOKEN } })
    conn = await connect()
  })
  afterAll(async () => {
    await conn?.close()
    await server?.close()
  })

  it('declares what it can: cursor reads, no key scan, no upsert, no length limits', () => {
    expect(caps).toMatchObject({
      cursorReads: true,
      keyScan: false,
      upsert: false,
      enforcesLength: false,
    })
    expect(conn.readKeys).toBeUndefined()
  })

  describe('check', () => {
    it('passes with good connection values', async () => {
      await expect(conn.check()).resolves.toBeUndefined()
    })
    it('rejects unknown connection fields by name', async () => {
      const error = await errorOf(connect({ baseUrl: server.url, token: TOKEN, colour: 'blue' }))
      expect(error.code).toBe('OSY_INVALID_CONNECTION')
      expect(error.message).toContain('colour')
    })
    it('tells a wrong password', async () => {
      const c = await connect({ baseUrl: server.url, token: 'wrong-password-xyz' })
      const error = await errorOf(c.check())
      expect(error.code).toBe('OSY_AUTH_FAILED')
      expect(error.message).not.toContain('wrong-password-xyz')
    })
    it('tells an unreachable host', async () => {
      const c = await connect({ baseUrl: 'http://127.0.0.1:1', token: TOKEN })
      const error = await errorOf(c.check())
      expect(error.code).toBe('OSY_UNREACHABLE')
      expect(error.kind).toBe('transient')
    })
    it('tells a timeout from a host that never answers', async () => {
      const sockets: Socket[] = []
      const silent: Server = createServer((s) => sockets.push(s))
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
      const port = (silent.address() as { port: number }).port
      try {
        const c = await connect({ baseUrl: `http://127.0.0.1:${port}`, token: TOKEN })
        const error = await errorOf(c.check())
        expect(error.code).toBe('OSY_TIMEOUT')
      } finally {
        for (const s of sockets) s.destroy()
        silent.close()
      }
    })
  })

  it('discovers record types with fields, types, nullability, keys and cursor candidates', async () => {
    const types = new Map((await conn.discover()).map((t) => [t.name, t]))
    const p = types.get('people_1')!
    expect(p.readOnly).toBe(false)
    expect(p.keyFields).toEqual(['id'])
    const fields = Object.fromEntries(p.fields.map((f) => [f.name, f]))
    expect(fields.id).toMatchObject({ type: 'integer', generated: true })
    expect(fields.email).toMatchObject({ type: 'string', nullable: false })
    expect(fields.score!.type).toBe('decimal')
    expect(fields.updated_at).toMatchObject({ type: 'timestamptz', nullable: false })
    expect(fields.doc!.type).toBe('json')
    expect(p.cursorCandidates[0]).toBe('updated_at')
    expect(types.get('people_ro')!.readOnly).toBe(true)
  })

  describe('values', () => {
    it('round-trips every type losslessly: Unicode, emoji, NULL vs empty, decimals, bigints, microseconds, JSON', async () => {
      const table = peopleTable()
      const original: RecordValues = {
        email: 'zoë@example.com',
        name: `Zoë Ångström 😀 — 中文 O'Brien "q" \\ ? ;-- \\'`,
        score: '12345678.1234',
        big: 9007199254740993n,
        active: true,
        born: '1990-02-28',
        updated_at: '2024-03-01T12:34:56.123456Z',
        created: '2024-03-01T12:34:56.654321',
        doc: { a: [1, 'x'], b: null, emoji: '🎉' },
        note: '',
      }
      const empty: RecordValues = {
        email: 'null@example.com',
        updated_at: '2024-03-01T00:00:00.000000Z',
      }
      const [k1, k2] = keysOf(
        await conn.write(table, [
          { op: 'create', values: original },
          { op: 'create', values: empty },
        ]),
      )
      const byKey = new Map((await collect(conn.read(table))).records.map((r) => [r.key, r.values]))
      expect(byKey.get(k1!)).toEqual({ ...original, id: Number(k1) })
      const nulls = byKey.get(k2!)!
      for (const field of ['name', 'score', 'big', 'active', 'born', 'created', 'doc', 'note']) {
        expect(nulls[field], field).toBeNull()
      }
    })

    it('keeps JSON numbers a double cannot hold, digit for digit, both ways', async () => {
      const table = peopleTable()
      const text =
        '{"n": 12345678901234567890, "d": 1.000000000000000000001, "list": [9007199254740993, 1.5]}'
      const response = await fetch(`${server.url}/api/${table}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: `{"email": "json@example.com", "updated_at": "2024-03-01T00:00:00.000000Z", "doc": ${text}}`,
      })
      expect(response.status).toBe(201)
      const exact = (doc: unknown) => {
        const d = doc as { n: unknown; d: unknown; list: unknown[] }
        return [d.n, d.d, d.list[0], d.list[1]].map((v) => (isJsonNumber(v) ? v.rawJSON : v))
      }
      const doc = (await collect(conn.read(table))).records[0]!.values.doc ?? null
      expect(exact(doc)).toEqual([
        '12345678901234567890',
        '1.000000000000000000001',
        '9007199254740993',
        1.5,
      ])
      const [key] = keysOf(
        await conn.write(table, [
          {
            op: 'create',
            values: { email: 'copy@example.com', updated_at: '2024-03-01T00:00:00.000000Z', doc },
          },
        ]),
      )
      const again = (await collect(conn.read(table))).records.find((r) => r.key === key)!
      expect(exact(again.values.doc)).toEqual(exact(doc))
    })
  })

  describe('read', () => {
    it('streams in batches of the asked size, in keyset order on (cursor, key)', async () => {
      const table = peopleTable()
      keysOf(
        await conn.write(
          table,
          Array.from(
            { length: 35 },
            (_, i) => ({ op: 'create', values: person(100 - i) }) as WriteOp,
          ),
        ),
      )
      const { records, sizes, checkpoint } = await collect(
        conn.read(table, { cursor: 'updated_at', batchSize: 10 }),
      )
      expect(sizes).toEqual([10, 10, 10, 5])
      const stamps = records.map((r) => r.values.updated_at as string)
      expect(stamps).toEqual([...stamps].sort())
      expect(checkpoint?.position[0]).toBe(stamps.at(-1))
    })

    it('neither loses nor repeats records whose cursor values tie across batch (and page) boundaries', async () => {
      const table = peopleTable()
      const same = '2024-05-05T05:05:05.500000Z'
      const keys = keysOf(
        await conn.write(
          table,
          Array.from(
            { length: 25 },
            (_, i) => ({ op: 'create', values: person(i, { updated_at: same }) }) as WriteOp,
          ),
        ),
      )
      const first = await collect(conn.read(table, { cursor: 'updated_at', batchSize: 10 }))
      expect(first.records.map((r) => r.key).sort()).toEqual([...keys].sort())
      let afterFirst: Checkpoint | undefined
      for await (const batch of conn.read(table, { cursor: 'updated_at', batchSize: 10 })) {
        afterFirst = batch.checkpoint
        break
      }
      const rest = await collect(
        conn.read(table, { cursor: 'updated_at', since: afterFirst!, batchSize: 10 }),
      )
      expect(rest.records.map((r) => r.key)).toEqual(first.records.slice(10).map((r) => r.key))
      const none = await collect(
        conn.read(table, { cursor: 'updated_at', since: first.checkpoint!, batchSize: 10 }),
      )
      expect(none.records).toHaveLength(0)
    })

    it('finds a record written with an older cursor value during a read, through the lag window', async () => {
      const table = peopleTable()
      await createPeople(table, 30)
      let checkpoint: Checkpoint | undefined
      const seen: SourceRecord[] = []
      let inserted = false
      for await (const batch of conn.read(table, { cursor: 'updated_at', batchSize: 10 })) {
        seen.push(...batch.records)
        checkpoint = batch.checkpoint
        if (!inserted) {
          inserted = true
          server.insert(table, [
            { email: 'late@example.com', updated_at: '2024-01-01T00:00:05.500000Z' },
          ])
        }
      }
      expect(seen.map((r) => r.values.email)).not.toContain('late@example.com')
      expect(
        (await collect(conn.read(table, { cursor: 'updated_at', since: checkpoint! }))).records,
      ).toHaveLength(0)
      const withLag = await collect(
        conn.read(table, { cursor: 'updated_at', since: checkpoint!, lag: 60 }),
      )
      expect(withLag.records.map((r) => r.values.email)).toContain('late@example.com')
    })

    it('reads only the requested fields plus key and cursor', async () => {
      const table = peopleTable()
      await createPeople(table, 1)
      const { records } = await collect(
        conn.read(table, { fields: ['name'], cursor: 'updated_at' }),
      )
      expect(Object.keys(records[0]!.values).sort()).toEqual(['id', 'name', 'updated_at'])
    })

    it('fails clearly on an unknown record type', async () => {
      const error = await errorOf(collect(conn.read('no_such_table')))
      expect(error.code).toBe('OSY_RECORD_TYPE_NOT_FOUND')
      expect(error.message).toContain('no_such_table')
    })

    it('reads by the key fields the caller names', async () => {
      const table = peopleTable()
      await createPeople(table, 3)
      const { records } = await collect(conn.read(table, { keyFields: ['email'], batchSize: 2 }))
      expect(records.map((r) => r.key)).toEqual([
        'p0@example.com',
        'p1@example.com',
        'p2@example.com',
      ])
      const unknown = await errorOf(collect(conn.read(table, { keyFields: ['nope'] })))
      expect(unknown.code).toBe('OSY_FIELD_NOT_FOUND')
    })

    it('rejects an unknown cursor field and a checkpoint of another cursor', async () => {
      const table = peopleTable()
      expect((await errorOf(collect(conn.read(table, { cursor: 'nope' })))).code).toBe(
        'OSY_FIELD_NOT_FOUND',
      )
      const other = await errorOf(
        collect(
          conn.read(table, {
            cursor: 'updated_at',
            since: { cursorField: 'id', position: [1, 1] },
          }),
        ),
      )
      expect(other.code).toBe('OSY_INVALID_CHECKPOINT')
    })
  })

  describe('filters', () => {
    let table: string
    beforeAll(async () => {
      table = peopleTable()
      keysOf(
        await conn.write(
          table,
          Array.from({ length: 20 }, (_, i) => ({
            op: 'create',
            values: person(i, {
              score: `${i}.5000`,
              active: i % 2 === 0,
              name: i < 5 ? `Anna ${i}` : `Bert ${i}`,
            }),
          })) as WriteOp[],
        ),
      )
    })

    it('applies key-value equality pairs', async () => {
      const { records } = await collect(
        conn.read(table, { filter: { keyValue: { active: true, name: 'Anna 2' } } }),
      )
      expect(records.map((r) => r.values.email)).toEqual(['p2@example.com'])
    })

    it('applies an SQL condition, with its meaning', async () => {
      const { records } = await collect(
        conn.read(table, {
          filter: {
            sql: "score > 2 AND (name LIKE 'Anna%' OR email IN ('p10@example.com')) AND note IS NULL",
          },
        }),
      )
      expect(records.map((r) => r.values.email).sort()).toEqual([
        'p10@example.com',
        'p2@example.com',
        'p3@example.com',
        'p4@example.com',
      ])
      const quoted = await collect(
        conn.read(table, { filter: { sql: "name = 'O''Brien' OR lower(name) = 'anna 1'" } }),
      )
      expect(quoted.records.map((r) => r.values.email)).toEqual(['p1@example.com'])
    })

    const malicious: [string, RegExp][] = [
      ['1=1; DROP TABLE people_1', /statement|;/],
      ['1=1 -- and more', /comment/],
      ['id IN (SELECT id FROM people_1)', /subquer/],
      ['sleep(5) = 0', /function sleep\(\) is not allowed|not a valid/],
      ['nosuchcolumn = 1', /unknown column "nosuchcolumn"/],
      ['email', /boolean/],
      ['', /empty/],
    ]
    it.each(malicious)('rejects the filter %s with a clear error', async (sql, message) => {
      const error = await errorOf(collect(conn.read(table, { filter: { sql } })))
      expect(error.code).toBe('OSY_INVALID_FILTER')
      expect(error.message).toMatch(message)
    })
  })

  describe('write', () => {
    it('creates, updates and deletes in batches, one result per op; upserts are refused per op', async () => {
      const table = peopleTable()
      const keys = await createPeople(table, 5)
      expect(new Set(keys).size).toBe(5)
      const results = await conn.write(table, [
        { op: 'update', key: keys[0]!, values: { name: 'Updated 0' } },
        { op: 'update', key: keys[1]!, values: { name: 'Updated 1', score: '1.25' } },
        { op: 'delete', key: keys[2]! },
        {
          op: 'upsert',
          values: { email: 'new@example.com', updated_at: '2024-01-01T00:00:00.000000Z' },
        },
      ])
      expect(results.map((r) => (r.ok ? r.key : r.error.code))).toEqual([
        keys[0],
        keys[1],
        keys[2],
        'OSY_UNSUPPORTED',
      ])
      const byKey = new Map((await collect(conn.read(table))).records.map((r) => [r.key, r.values]))
      expect(byKey.size).toBe(4)
      expect(byKey.get(keys[0]!)).toMatchObject({ name: 'Updated 0', email: 'p0@example.com' })
      expect(byKey.get(keys[1]!)).toMatchObject({ name: 'Updated 1', score: '1.25' })
      expect(byKey.has(keys[2]!)).toBe(false)
    })

    it('writes a batch of updates alone: unchanged values, a record twice, a missing record, a bad value', async () => {
      const table = peopleTable()
      const keys = await createPeople(table, 4)
      const codes = (results: readonly WriteResult[]) =>
        results.map((r) => (r.ok ? r.key : r.error.code))
      const names = async () => (await collect(conn.read(table))).records.map((r) => r.values.name)
      expect(
        codes(
          await conn.write(table, [
            { op: 'update', key: keys[0]!, values: { name: 'Person 0' } },
            { op: 'update', key: keys[1]!, values: { name: 'first' } },
            { op: 'update', key: keys[1]!, values: { name: 'second' } },
            { op: 'update', key: keys[2]!, values: { name: 'Updated 2' } },
          ]),
        ),
      ).toEqual([keys[0], keys[1], keys[1], keys[2]])
      expect(await names()).toEqual(['Person 0', 'second', 'Updated 2', 'Person 3'])
      expect(
        codes(
          await conn.write(table, [
            { op: 'update', key: keys[3]!, values: { name: 'Updated 3' } },
            { op: 'update', key: '424242', values: { name: 'ghost' } },
            { op: 'update', key: keys[1]!, values: { name: 'fine', big: '7' } },
            { op: 'update', key: keys[2]!, values: { name: 'not fine', big: 'not a number' } },
          ]),
        ),
      ).toEqual([keys[3], 'OSY_RECORD_NOT_FOUND', keys[1], 'OSY_WRONG_TYPE'])
      expect(await names()).toEqual(['Person 0', 'fine', 'Updated 2', 'Updated 3'])
    })

    it('writes a big batch of updates: a record early and late in it takes its last values, a missing one is reported', async () => {
      const table = peopleTable()
      const keys = await createPeople(table, 500)
      const ops: WriteOp[] = [
        ...keys.map((key, i) => ({ op: 'update' as const, key, values: { name: `early ${i}` } })),
        ...keys
          .slice(0, 100)
          .map((key, i) => ({ op: 'update' as const, key, values: { name: `late ${i}` } })),
      ]
      expect(keysOf(await conn.write(table, ops))).toEqual([...keys, ...keys.slice(0, 100)])
      const after = new Map(
        (await collect(conn.read(table))).records.map((r) => [r.key, r.values.name]),
      )
      keys.forEach((key, i) => {
        expect(after.get(key)).toBe(i < 100 ? `late ${i}` : `early ${i}`)
      })
      keysOf(await conn.write(table, [{ op: 'delete', key: keys[450]! }]))
      const results = await conn.write(
        table,
        keys.map((key, i) => ({ op: 'update', key, values: { name: `again ${i}` } })),
      )
      results.forEach((r, i) => {
        expect(r.ok ? 'ok' : r.error.code).toBe(i === 450 ? 'OSY_RECORD_NOT_FOUND' : 'ok')
      })
    })

    it('keeps the good records of a batch when one violates a constraint', async () => {
      const table = peopleTable()
      const ops = Array.from(
        { length: 10 },
        (_, i) => ({ op: 'create', values: person(i) }) as WriteOp,
      )
      ops[6] = { op: 'create', values: person(3) } // duplicate e-mail
      const results = await conn.write(table, ops)
      expect(results.filter((r) => r.ok)).toHaveLength(9)
      const bad = results[6]!
      expect(bad.ok ? 'ok' : [bad.error.code, bad.error.kind]).toEqual([
        'OSY_CONSTRAINT_VIOLATION',
        'user',
      ])
      expect((await collect(conn.read(table))).records).toHaveLength(9)
    })

    it('classifies a missing required value, a wrong type and a missing record per op', async () => {
      const table = peopleTable()
      const [key] = keysOf(await conn.write(table, [{ op: 'create', values: person(1) }]))
      const results = await conn.write(table, [
        { op: 'create', values: { name: 'no email', updated_at: '2024-01-01T00:00:00.000000Z' } },
        { op: 'create', values: person(2, { big: 'not a number' }) },
        { op: 'update', key: '424242', values: { name: 'ghost' } },
        { op: 'update', key: key!, values: { name: 'fine' } },
      ])
      expect(results.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual([
        'OSY_CONSTRAINT_VIOLATION',
        'OSY_WRONG_TYPE',
        'OSY_RECORD_NOT_FOUND',
        'ok',
      ])
    })

    it('refuses writes to a read-only record type', async () => {
      const error = await errorOf(
        conn.write('people_ro', [{ op: 'create', values: { email: 'v@example.com' } }]),
      )
      expect(error.code).toBe('OSY_READ_ONLY_RECORD_TYPE')
    })

    it('writes a large batch in few requests and reads it back', async () => {
      const table = peopleTable()
      const before = server.stats.requests
      const keys = keysOf(
        await conn.write(
          table,
          Array.from({ length: 2500 }, (_, i) => ({ op: 'create', values: person(i) }) as WriteOp),
        ),
      )
      expect(server.stats.requests - before).toBeLessThanOrEqual(26) // 25 batch requests (+ describing the type)
      expect(new Set(keys).size).toBe(2500)
      expect(
        (await collect(conn.read(table, { cursor: 'updated_at', batchSize: 1000 }))).records,
      ).toHaveLength(2500)
      const deleted = keysOf(
        await conn.write(
          table,
          keys.slice(0, 2000).map((key) => ({ op: 'delete', key }) as WriteOp),
        ),
      )
      expect(deleted).toHaveLength(2000)
      expect((await collect(conn.read(table))).records).toHaveLength(500)
    })
  })
})

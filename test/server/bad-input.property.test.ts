import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { bearer, testServer } from './server-harness.ts'

// Bad requests built from the OpenAPI document: for every operation, path ids with traversal
// and junk, queries with wrong types, bodies with wrong types, huge strings and unknown keys,
// malformed JSON and other media types. None may answer 500, and none may change anything.

const s = await testServer()
afterAll(() => s.close())
const admin = bearer(await s.tokenFor('admin'))
await s.tasks.save(
  { id: 'draft-one', subject: 'Draft one', systems: { a: { bridge: 'sqlite' } } },
  { draft: true },
)

interface Operation {
  readonly method: string
  readonly path: string
  readonly query: readonly string[]
  readonly body?: { readonly properties?: Record<string, unknown> }
}

const doc = (await s.app.inject({ method: 'GET', url: '/api/openapi.json' })).json() as {
  paths: Record<
    string,
    Record<
      string,
      {
        parameters?: { in: string; name: string }[]
        requestBody?: {
          content: Record<
            string,
            { schema: { $ref?: string; properties?: Record<string, unknown> } }
          >
        }
      }
    >
  >
  components: { schemas: Record<string, { properties?: Record<string, unknown> }> }
}
const operations: Operation[] = []
for (const [path, ops] of Object.entries(doc.paths)) {
  for (const [method, op] of Object.entries(ops)) {
    // The stream never ends; its input is checked by the events tests.
    if (path === '/api/events') continue
    const schema = Object.values(op.requestBody?.content ?? {})[0]?.schema
    const resolved = schema?.$ref ? doc.components.schemas[schema.$ref.split('/').at(-1)!] : schema
    operations.push({
      method: method.toUpperCase(),
      path,
      query: (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name),
      ...(resolved ? { body: resolved } : {}),
    })
  }
}

const junkText = fc.oneof(
  fc.constantFrom(
    '../../etc/passwd',
    '..%2F..%2Fetc%2Fpasswd',
    '%2e%2e%2f',
    '..\\..\\windows',
    '%00',
    "'; drop table osy_task_defs; --",
    '-1',
    '1e309',
    '',
    ' ',
    '𝕏',
  ),
  fc.string({ maxLength: 30 }),
  fc.constantFrom('x'.repeat(600), 'é'.repeat(3000), '/'.repeat(1000)),
)
const wrongValue = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.anything(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.anything(), { maxKeys: 3 }),
  junkText,
)

type Body = { kind: 'json'; value: unknown } | { kind: 'raw'; text: string; type: string }

function bodyFor(op: Operation): fc.Arbitrary<Body> {
  const props = Object.keys(op.body?.properties ?? {})
  const wrongTyped = fc
    .record({
      known: fc.dictionary(fc.constantFrom(...(props.length ? props : ['x'])), wrongValue, {
        maxKeys: 4,
      }),
      unknown: fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), wrongValue, {
        maxKeys: 2,
      }),
    })
    .map(({ known, unknown }) => ({ kind: 'json' as const, value: { ...unknown, ...known } }))
  return fc.oneof(
    wrongTyped,
    fc.anything().map((value) => ({ kind: 'json' as const, value })),
    fc
      .constantFrom(
        '{',
        '{"document":',
        '[1,2',
        'null',
        '"x"',
        '{"__proto__":{"admin":true}}',
        '\u0000',
      )
      .map((text) => ({ kind: 'raw' as const, text, type: 'application/json' })),
    fc
      .tuple(
        fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'application/xml'),
        junkText,
      )
      .map(([type, text]) => ({ kind: 'raw' as const, text, type })),
  )
}

const request = fc.constantFrom(...operations).chain((op) =>
  fc.record({
    op: fc.constant(op),
    params: fc.array(junkText, { minLength: 3, maxLength: 3 }),
    query: fc.dictionary(
      fc.oneof(
        fc.constantFrom(...(op.query.length ? op.query : ['q'])),
        fc.string({ maxLength: 8 }),
      ),
      fc.oneof(junkText, fc.integer().map(String)),
      { maxKeys: 3 },
    ),
    body: bodyFor(op),
  }),
)

/** What a bad request must not change. */
async function fingerprint(): Promise<string> {
  const tasks = (await s.store.taskDefs.list()).map((t) => `${t.taskId}@${t.revision}:${t.active}`)
  const users = (await s.store.users.list()).map((u) => `${u.username}:${u.role}:${u.passwordHash}`)
  const tokens = (await s.store.apiTokens.list()).map((t) => t.id)
  const runs = await s.store.executions.page({ limit: 500 })
  return JSON.stringify({ tasks, users, tokens, runs: runs.map((r) => `${r.id}:${r.status}`) })
}

describe('bad input', () => {
  it(`never answers 500 and never changes anything (${operations.length} operations)`, async () => {
    const before = await fingerprint()
    const seen = new Map<number, number>()
    await fc.assert(
      fc.asyncProperty(request, async ({ op, params, query, body }) => {
        let i = 0
        const path = op.path.replace(/\{\w+\}/g, () => encodeURIComponent(params[i++]!))
        const qs = new URLSearchParams(query).toString()
        const url = qs ? `${path}?${qs}` : path
        const withBody = op.method !== 'GET' && op.method !== 'DELETE'
        const res = await s.app.inject({
          method: op.method as 'POST',
          url,
          headers: {
            ...admin,
            ...(withBody && body.kind === 'raw' ? { 'content-type': body.type } : {}),
          },
          ...(withBody
            ? body.kind === 'raw'
              ? { payload: body.text }
              : {
                  payload: JSON.stringify(body.value),
                  headers: { ...admin, 'content-type': 'application/json' },
                }
            : {}),
        })
        seen.set(res.statusCode, (seen.get(res.statusCode) ?? 0) + 1)
        expect(
          res.statusCode,
          `${op.method} ${url.slice(0, 200)} → ${res.body.slice(0, 300)}`,
        ).toBeLessThan(500)
        if (res.statusCode >= 400) {
          expect(res.headers['content-type']).toContain('application/problem+json')
          expect(res.body).not.toMatch(/ at .*\.(ts|js):\d+/)
        }
      }),
      { numRuns: 400 },
    )
    expect(await fingerprint()).toBe(before)
    // The requests were refused for their input, not waved through.
    expect(seen.get(400) ?? 0).toBeGreaterThan(100)
  })
})

/**
 * The REST bridge against json-server (a real REST server from npm, started here with
 * generated data): reading and writing one of its resources, and a sync PostgreSQL ↔
 * json-server both ways — also when the run is killed in the middle (SIGKILL, as in
 * test/engine/crash-safety.test.ts): nothing lost, nothing duplicated.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRegistry } from '../../src/bridges/index.ts'
import { restBridge } from '../../src/bridges/rest/index.ts'
import { runTask } from '../../src/engine/run-task.ts'
import { parseTaskFile } from '../../src/engine/task/index.ts'
import { type BridgeRegistry, type RecordBatch, silentLogger } from '../../src/sdk/index.ts'
import { openStore } from '../../src/store/index.ts'
import type { HarnessDb } from '../support/harness.ts'
import { type JsonServer, jsonServerManifest, startJsonServer } from '../support/json-server.ts'
import { postgresHarness } from '../support/postgres-harness.ts'
import { written } from '../support/sync-fixture.ts'

const run = promisify(execFile)
const child = new URL('../support/crash-child.ts', import.meta.url).pathname

/** `n` contacts as json-server holds them, changed a minute apart in 2024. */
function webContacts(n: number, from = 0) {
  return Array.from({ length: n }, (_, i) => ({
    id: i + 1,
    email: `p${i + from}@example.com`,
    name: `Web ${i + from}`,
    city: 'Wien',
    updatedAt: new Date(Date.UTC(2024, 0, 1, 0, i + from)).toISOString(),
  }))
}

async function collect(batches: AsyncIterable<RecordBatch>) {
  const out = []
  for await (const b of batches) out.push(...b.records)
  return out
}

describe('REST bridge on json-server', () => {
  let web: JsonServer
  beforeAll(async () => {
    web = await startJsonServer({ contacts: webContacts(1234) })
  })
  afterAll(async () => {
    await web?.close()
  })

  it('reads every record through Link-header pages, and incrementally by keyset pages', async () => {
    const conn = await restBridge.connect(
      { baseUrl: web.url },
      { log: silentLogger, settings: { manifest: jsonServerManifest('contacts') } },
    )
    const all = await collect(conn.read('contacts', { batchSize: 300 }))
    expect(all).toHaveLength(1234)
    expect(new Set(all.map((r) => r.key)).size).toBe(1234)

    const byCursor: RecordBatch[] = []
    for await (const b of conn.read('contacts', { cursor: 'updatedAt', batchSize: 300 }))
      byCursor.push(b)
    expect(byCursor.flatMap((b) => b.records)).toHaveLength(1234)
    const checkpoint = byCursor.at(-1)!.checkpoint!
    expect(checkpoint.position[0]).toBe('2024-01-01T20:33:00.000000Z')

    // A write through the bridge is stamped, so the next incremental read finds it alone.
    const [result] = await conn.write('contacts', [
      { op: 'update', key: '7', values: { city: 'Graz' } },
    ])
    expect(result).toEqual({ ok: true, key: '7' })
    const changed = await collect(conn.read('contacts', { cursor: 'updatedAt', since: checkpoint }))
    expect(changed.map((r) => [r.key, r.values.city])).toEqual([['7', 'Graz']])
    await conn.close()
  })
})

describe('sync PostgreSQL ↔ json-server', () => {
  let pg: HarnessDb
  let registry: BridgeRegistry
  let tables = 0
  beforeAll(async () => {
    pg = await postgresHarness.setup()
    registry = await createRegistry()
  })
  afterAll(async () => {
    await pg?.teardown()
  })

  async function setup() {
    const table = `contacts_${++tables}`
    await pg.exec(postgresHarness.ddl.contacts(table))
    const values = Array.from(
      { length: 120 },
      (_, i) => `('p${i}@example.com', 'Person ${i}', 'Berlin')`,
    )
    await pg.exec(`INSERT INTO "${table}" (email, name, city) VALUES ${values.join(', ')}`)
    // 60 on the web side, of which p90…p119 are in PostgreSQL too (matched by e-mail).
    const server = await startJsonServer({ contacts: webContacts(60, 90) })
    return { table, server }
  }

  function taskYaml(table: string, server: JsonServer): string {
    return `id: ${table}-web
subject: PostgreSQL ↔ json-server ${table}
systems:
  crm: { bridge: postgres, connection: ${JSON.stringify(pg.values)} }
  web:
    bridge: rest
    connection: { baseUrl: "${server.url}" }
    settings: { manifest: ${JSON.stringify(jsonServerManifest('contacts'))} }
pairs:
  - crm: { type: ${table}, cursor: updated_at }
    web: { type: contacts, cursor: updatedAt }
    fields: { email: email, name: name, city: city }
    match: [email]
    direction: both
    conflict: { winner: crm }
`
  }

  async function sides(table: string, server: JsonServer) {
    const crm = new Map(
      (await pg.query(`SELECT email, name, city FROM "${table}"`)).map((r) => [
        String(r.email),
        { name: r.name, city: r.city },
      ]),
    )
    const rows = server.rows('contacts')
    const emails = rows.map((r) => String(r.email))
    const webSide = new Map(rows.map((r) => [String(r.email), { name: r.name, city: r.city }]))
    return { crm, web: webSide, duplicates: emails.length - new Set(emails).size }
  }

  it('syncs both ways; a second run writes nothing; edits on either side flow over', async () => {
    const { table, server } = await setup()
    try {
      const dir = mkdtempSync(join(tmpdir(), 'osy-rest-sync-'))
      const store = await openStore({ url: join(dir, 'store.db') })
      const task = parseTaskFile(taskYaml(table, server), { format: 'yaml', env: {} })
      try {
        const first = await runTask(task, { store, registry, batchSize: 50 })
        expect(first.status, JSON.stringify(first.error)).toBe('succeeded')
        expect(first.totals.errors).toBe(0)
        const { crm, web, duplicates } = await sides(table, server)
        expect(duplicates).toBe(0)
        expect(crm.size).toBe(150)
        expect(web).toEqual(crm)
        expect(crm.get('p100@example.com')).toEqual({ name: 'Person 100', city: 'Berlin' })
        expect(crm.get('p140@example.com')).toEqual({ name: 'Web 140', city: 'Wien' })
        expect(written(await runTask(task, { store, registry, batchSize: 50 }))).toBe(0)

        await pg.exec(`UPDATE "${table}" SET city = 'Edited' WHERE email = 'p3@example.com'`)
        const row = server.rows('contacts').find((r) => r.email === 'p145@example.com')!
        const patch = await fetch(`${server.url}/contacts/${row.id}`, {
          method: 'PATCH',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'Edited on the web', updatedAt: new Date().toISOString() }),
        })
        expect(patch.status).toBe(200)
        const third = await runTask(task, { store, registry, batchSize: 50 })
        expect(third.status).toBe('succeeded')
        expect(written(third)).toBe(2)
        const after = await sides(table, server)
        expect(after.web.get('p3@example.com')!.city).toBe('Edited')
        expect(after.crm.get('p145@example.com')!.name).toBe('Edited on the web')
        expect(written(await runTask(task, { store, registry, batchSize: 50 }))).toBe(0)
      } finally {
        await store.close()
      }
    } finally {
      await server.close()
    }
  })

  it.each([
    ['after-write', 2],
    ['before-write', 4],
    ['after-commit', 3],
  ] as const)(
    'killed at %s #%i, a rerun converges: nothing lost, nothing duplicated',
    async (point, n) => {
      const { table, server } = await setup()
      try {
        const dir = mkdtempSync(join(tmpdir(), 'osy-rest-crash-'))
        const storeFile = join(dir, 'store.db')
        const taskFile = join(dir, 'task.yaml')
        writeFileSync(taskFile, taskYaml(table, server))
        const crashed = await run(process.execPath, [
          child,
          storeFile,
          taskFile,
          point,
          String(n),
        ]).then(
          (r) => r.stdout,
          (e: { signal?: string }) => e.signal,
        )
        expect(crashed).toBe('SIGKILL')
        const task = parseTaskFile(taskYaml(table, server), { format: 'yaml', env: {} })
        const store = await openStore({ url: storeFile })
        try {
          const rerun = await runTask(task, { store, registry, batchSize: 20 })
          expect(rerun.status, JSON.stringify(rerun.error)).toBe('succeeded')
          expect(rerun.totals.errors).toBe(0)
          expect(written(await runTask(task, { store, registry, batchSize: 20 }))).toBe(0)
        } finally {
          await store.close()
        }
        const { crm, web, duplicates } = await sides(table, server)
        expect(duplicates).toBe(0)
        expect(crm.size).toBe(150)
        expect(web).toEqual(crm)
      } finally {
        await server.close()
      }
    },
  )
})

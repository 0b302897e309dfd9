/**
 * The sync engine between a folder of CSV files and PostgreSQL, both ways: the CSV side has
 * no cursor, so every run compares its snapshot with the last; the PostgreSQL side reads by
 * its cursor. A run after a run that changed something writes nothing.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRegistry } from '../../src/bridges/index.ts'
import { type RunResult, runTask } from '../../src/engine/run-task.ts'
import { parseTaskFile } from '../../src/engine/task/index.ts'
import type { BridgeRegistry } from '../../src/sdk/index.ts'
import { openStore, type Store } from '../../src/store/index.ts'
import type { HarnessDb } from '../support/harness.ts'
import { postgresHarness } from '../support/postgres-harness.ts'
import { written } from '../support/sync-fixture.ts'

describe('sync CSV folder ↔ PostgreSQL', () => {
  let folder: string
  let pg: HarnessDb
  let store: Store
  let registry: BridgeRegistry
  let storeDir: string

  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), 'osy-csv-sync-'))
    storeDir = mkdtempSync(join(tmpdir(), 'osy-store-'))
    pg = await postgresHarness.setup()
    store = await openStore({ url: join(storeDir, 'store.db') })
    registry = await createRegistry()
  })

  afterAll(async () => {
    await store?.close()
    await pg?.teardown()
    rmSync(folder, { recursive: true, force: true })
    rmSync(storeDir, { recursive: true, force: true })
  })

  function taskYaml(table: string, extra = ''): string {
    return `id: csv-${table}
subject: ${table} files ↔ PostgreSQL
systems:
  files:
    bridge: csv
    connection: { folder: ${JSON.stringify(folder)} }
    settings:
      recordTypes:
        ${table}:
          key: [id]
          fields: { id: { type: integer, generated: true }, email: { type: string, nullable: false } }
  db: { bridge: postgres, connection: ${JSON.stringify(pg.values)} }
pairs:
  - files: { type: ${table} }
    db: { type: ${table}, cursor: updated_at }
    fields:
      email: email
      name: name
      city: city
      score: score
    match: [email]
    direction: both
${extra}`
  }

  function task(table: string, extra = '') {
    return parseTaskFile(taskYaml(table, extra), { format: 'yaml', env: {} })
  }

  async function run(t: ReturnType<typeof task>): Promise<RunResult> {
    const result = await runTask(t, { store, registry, batchSize: 50 })
    expect(result.error, JSON.stringify(result.error)).toBeUndefined()
    expect(result.status).toBe('succeeded')
    return result
  }

  /** Runs, then runs again and expects the second run to write nothing. */
  async function runTwice(t: ReturnType<typeof task>): Promise<RunResult> {
    const first = await run(t)
    const second = await run(t)
    expect(written(second), JSON.stringify(second.changes.slice(0, 5))).toBe(0)
    expect(second.totals.conflicts).toBe(0)
    return first
  }

  const csvRows = (table: string) => {
    const [, ...lines] = readFileSync(join(folder, `${table}.csv`), 'utf8')
      .trimEnd()
      .split('\n')
    return new Map(
      lines.map((line) => {
        const [, email, name, city, score] = line.split(',')
        return [email!, { name: name || null, city: city || null, score: score || null }]
      }),
    )
  }
  const pgRows = async (table: string) =>
    new Map(
      (await pg.query(`SELECT email, name, city, score::text AS score FROM "${table}"`)).map(
        (r) => [String(r.email), { name: r.name, city: r.city, score: r.score }],
      ),
    )

  it('links by e-mail and creates the rest both ways; a rerun is quiet', async () => {
    const table = 'contacts_a'
    await pg.exec(postgresHarness.ddl.contacts(table))
    writeFileSync(
      join(folder, `${table}.csv`),
      'id,email,name,city,score\n' +
        '1,anna@example.com,Anna,Berlin,1.50\n' +
        '2,bert@example.com,Bert,,2.00\n' +
        '3,cleo@example.com,Cleo,Köln,\n',
    )
    await pg.exec(`INSERT INTO "${table}" (email, name, city, score) VALUES
      ('cleo@example.com', 'Cleo', 'Köln', NULL), ('dora@example.com', 'Dora', 'Bonn', 4.25)`)
    const result = await runTwice(task(table))
    const counts = result.counts[`${table}-${table}`]!
    expect(counts['0->1'].created).toBe(2)
    expect(counts['1->0'].created).toBe(1)
    expect(await pgRows(table)).toEqual(csvRows(table))
    // The new CSV row got the next generated id.
    expect(readFileSync(join(folder, `${table}.csv`), 'utf8')).toContain(
      '4,dora@example.com,Dora,Bonn,4.25\n',
    )
  })

  it('carries edits of the file and of the table across, and deletes where the policy says', async () => {
    const table = 'contacts_b'
    await pg.exec(postgresHarness.ddl.contacts(table))
    const rows = Array.from(
      { length: 120 },
      (_, i) => `${i + 1},p${i}@example.com,Person ${i},Berlin,${i}.50`,
    )
    writeFileSync(join(folder, `${table}.csv`), `id,email,name,city,score\n${rows.join('\n')}\n`)
    const t = task(table, '    deletes: propagate')
    await runTwice(t)
    expect((await pgRows(table)).size).toBe(120)

    // Another program edits the file (two names, one row gone, one new) …
    const edited = rows
      .filter((_, i) => i !== 7)
      .map((line, i) => (i === 0 || i === 50 ? line.replace('Person', 'Renamed') : line))
    edited.push('500,new@example.com,New,Ulm,9.99')
    writeFileSync(join(folder, `${table}.csv`), `id,email,name,city,score\n${edited.join('\n')}\n`)
    // … and someone edits the table.
    await pg.exec(`UPDATE "${table}" SET city = 'Hamburg' WHERE email = 'p99@example.com'`)
    const result = await runTwice(t)
    const counts = result.counts[`${table}-${table}`]!
    expect(counts['0->1']).toMatchObject({ created: 1, updated: 2, deleted: 1 })
    expect(counts['1->0']).toMatchObject({ created: 0, updated: 1, deleted: 0 })
    const db = await pgRows(table)
    expect(db.size).toBe(120)
    expect(db.get('p0@example.com')!.name).toBe('Renamed 0')
    expect(db.has('p7@example.com')).toBe(false)
    expect(db.get('new@example.com')).toEqual({ name: 'New', city: 'Ulm', score: '9.99' })
    expect(csvRows(table).get('p99@example.com')!.city).toBe('Hamburg')
    expect(await pgRows(table)).toEqual(csvRows(table))
  })

  const crashChild = new URL('../support/crash-child.ts', import.meta.url).pathname
  it.each(['before-write', 'after-write', 'after-commit'] as const)(
    'killed at %s into the file, a rerun leaves every record once in it',
    async (point) => {
      const table = `contacts_crash_${point.replace('-', '_')}`
      await pg.exec(postgresHarness.ddl.contacts(table))
      const values = Array.from(
        { length: 100 },
        (_, i) => `('q${i}@example.com', 'Person ${i}', 'Berlin', ${i}.25)`,
      )
      await pg.exec(`INSERT INTO "${table}" (email, name, city, score) VALUES ${values.join(', ')}`)
      // An empty file with a header: the columns the pair maps.
      writeFileSync(join(folder, `${table}.csv`), 'id,email,name,city,score\n')
      const dir = mkdtempSync(join(tmpdir(), 'osy-csv-crash-'))
      const storeFile = join(dir, 'store.db')
      writeFileSync(join(dir, 'task.yaml'), taskYaml(table))
      // The child writes batches of 20 and kills itself at the third batch's moment.
      const crashed = await promisify(execFile)(process.execPath, [
        crashChild,
        storeFile,
        join(dir, 'task.yaml'),
        point,
        '3',
      ]).then(
        (r) => r.stdout,
        (e: { signal?: string }) => e.signal,
      )
      expect(crashed).toBe('SIGKILL')
      const crashStore = await openStore({ url: storeFile })
      try {
        const t = task(table)
        const rerun = await runTask(t, { store: crashStore, registry, batchSize: 20 })
        expect(rerun.status, JSON.stringify(rerun.error)).toBe('succeeded')
        const again = await runTask(t, { store: crashStore, registry, batchSize: 20 })
        expect(written(again)).toBe(0)
      } finally {
        await crashStore.close()
        rmSync(dir, { recursive: true, force: true })
      }
      const lines = readFileSync(join(folder, `${table}.csv`), 'utf8')
        .trimEnd()
        .split('\n')
      expect(lines).toHaveLength(101)
      expect(new Set(lines.map((l) => l.split(',')[1])).size).toBe(101)
      expect(await pgRows(table)).toEqual(csvRows(table))
    },
  )
})

import { randomBytes } from 'node:crypto'
import type { MigrationResultSet } from 'kysely/migration'
import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { openStore } from '../../src/store/index.ts'
import { migrateRetrying } from '../../src/store/migration-provider.ts'
import { PG_URL } from '../support/postgres-harness.ts'

/** A migration run that fails with these errors first, then succeeds. */
function runs(...errors: unknown[]) {
  let calls = 0
  const run = async (): Promise<MigrationResultSet> => {
    const error = errors[calls++]
    return error === undefined ? { results: [] } : { error, results: [] }
  }
  return { run, calls: () => calls }
}

describe('migrateRetrying', () => {
  it('runs again when a table elsewhere vanished while the catalogue was read (42P01)', async () => {
    const r = runs({ code: '42P01' }, { code: '42P01' })
    expect(await migrateRetrying(r.run)).toEqual({ results: [] })
    expect(r.calls()).toBe(3)
  })

  it('runs again when a column elsewhere went away while the catalogue was read (42703)', async () => {
    // The failure seen in CI: "column "name" of relation "people_6" does not exist", raised by
    // pg_get_serial_sequence while another test file altered its table.
    const r = runs({ code: '42703', routine: 'pg_get_serial_sequence' })
    expect(await migrateRetrying(r.run)).toEqual({ results: [] })
    expect(r.calls()).toBe(2)
  })

  it('runs again when a schema elsewhere was dropped while the catalogue was read (3F000)', async () => {
    // The flake seen in the store suite: "schema "osy_store_…" does not exist", another test
    // file's schema, raised by has_schema_privilege while its teardown dropped it.
    const r = runs({ code: '3F000', routine: 'get_namespace_oid' })
    expect(await migrateRetrying(r.run)).toEqual({ results: [] })
    expect(r.calls()).toBe(2)
  })

  it('returns any other failure at once, and gives up on 42P01 after five runs', async () => {
    const other = runs({ code: '42601' })
    expect((await migrateRetrying(other.run)).error).toEqual({ code: '42601' })
    expect(other.calls()).toBe(1)
    const always = runs(...Array.from({ length: 10 }, () => ({ code: '42P01' })))
    expect((await migrateRetrying(always.run)).error).toEqual({ code: '42P01' })
    expect(always.calls()).toBe(5)
  })
})

describe('a PostgreSQL store migrating while another session creates and drops schemas', () => {
  it('opens every time', async () => {
    // A database of its own: the churn must not race the catalogue reads of other test files.
    const database = `osy_churn_${randomBytes(4).toString('hex')}`
    const admin = new pg.Client({ connectionString: PG_URL })
    await admin.connect()
    await admin.query(`create database ${database}`)
    const url = PG_URL.replace(/\/[^/]*$/, `/${database}`)
    const churn = new pg.Client({ connectionString: url })
    await churn.connect()
    let stop = false
    let dropped = 0
    const churning = (async () => {
      while (!stop) {
        const schema = `other_${randomBytes(4).toString('hex')}`
        await churn.query(
          `create schema ${schema}; create table ${schema}.t (id serial primary key)`,
        )
        await churn.query(`drop schema ${schema} cascade`)
        dropped++
      }
    })()
    try {
      // Without retrying on 3F000, about one catalogue read in thirteen fails here, and each
      // migration makes several: twenty stores in a row open only when the race is retried.
      for (let i = 0; i < 20; i++) {
        const store = await openStore({ url, schema: `store_${i}` })
        await store.close()
        // As a test file's teardown would: the catalogue stays the size of one store.
        await churn.query(`drop schema store_${i} cascade`)
      }
      expect(dropped).toBeGreaterThan(10)
    } finally {
      stop = true
      await churning.catch(() => {})
      await churn.end()
      await admin.query(`drop database ${database} with (force)`)
      await admin.end()
    }
  }, 60_000)
})

import type { MigrationResultSet } from 'kysely/migration'
import { describe, expect, it } from 'vitest'
import { migrateRetrying } from '../../src/store/migration-provider.ts'

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

  it('returns any other failure at once, and gives up on 42P01 after five runs', async () => {
    const other = runs({ code: '42601' })
    expect((await migrateRetrying(other.run)).error).toEqual({ code: '42601' })
    expect(other.calls()).toBe(1)
    const always = runs(...Array.from({ length: 10 }, () => ({ code: '42P01' })))
    expect((await migrateRetrying(always.run)).error).toEqual({ code: '42P01' })
    expect(always.calls()).toBe(5)
  })
})

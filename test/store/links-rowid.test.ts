import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openStore, type Store } from '../../src/store/index.ts'
import { MIGRATION_NAMES } from '../../src/store/migration-provider.ts'
import { dialects, type Target } from './store-targets.ts'

const sqlite = dialects.find((d) => d.name === 'sqlite')!

describe('0008: SQLite links in a rowid table', () => {
  let target: Target
  let store: Store | undefined

  beforeAll(async () => {
    target = await sqlite.setup()
    await target.migrateTo('0007-execution-changes')
    // Links as a store before 0008 kept them: a WITHOUT ROWID table in key0 order.
    await target.query(`insert into osy_pairs (task_id, pair_id) values ('t1', 'people')`)
    await target.query(
      `insert into osy_links (pair, key0, key1, base0, base1, synced_at, deleted) values ${Array.from(
        { length: 300 },
        (_, i) =>
          `(1, 'a${i}', 'b${i}', '{"name":"h${i}"}', '=', '2024-05-01T10:00:00.000Z', ${i === 7 ? 1 : 'null'})`,
      ).join(', ')}`,
    )
    expect(await tableSql()).toMatch(/without rowid/i)
    store = await openStore(target.options)
  })
  afterAll(async () => {
    await store?.close()
    await target?.teardown()
  })

  const tableSql = async () =>
    String(
      (
        await target.query(
          `select sql from sqlite_master where type = 'table' and name = 'osy_links'`,
        )
      )[0]?.sql,
    )

  it('moves every link into a rowid table with both key indexes', async () => {
    const applied = await target.query('select name from osy_migrations order by name')
    expect(applied.map((r) => r.name)).toEqual(MIGRATION_NAMES)
    expect(await tableSql()).not.toMatch(/without rowid/i)
    const indexes = await target.query(
      `select name from sqlite_master where type = 'index' and tbl_name = 'osy_links' order by name`,
    )
    expect(indexes.map((r) => r.name)).toEqual(
      expect.arrayContaining(['osy_links_key1', 'osy_links_pair']),
    )
    await expect(target.query('select * from osy_links_0007')).rejects.toThrow()
    expect(await store!.links.count('t1', 'people')).toBe(300)
    const byKey1 = await store!.links.find('t1', 'people', 1, ['b7', 'b299'])
    expect(byKey1.get('b7')).toMatchObject({
      keys: ['a7', 'b7'],
      base: ['{"name":"h7"}', '='],
      deleted: 1,
    })
    expect(byKey1.get('b299')?.keys).toEqual(['a299', 'b299'])
  })

  it('keeps the primary key: an upsert updates, a second link with the same key0 cannot be inserted', async () => {
    const link = {
      taskId: 't1',
      pairId: 'people',
      keys: ['a1', 'b1-moved'] as const,
      base: ['{"name":"new"}', '='] as const,
      syncedAt: '2024-06-01T00:00:00.000Z',
    }
    await store!.links.upsert([link])
    expect((await store!.links.find('t1', 'people', 0, ['a1'])).get('a1')?.keys).toEqual([
      'a1',
      'b1-moved',
    ])
    expect(await store!.links.count('t1', 'people')).toBe(300)
    await expect(store!.links.insert([{ ...link, keys: ['a2', 'b2-again'] }])).rejects.toThrow()
    // The copy wrote the old links in key0 order; links written since follow in their order.
    await store!.links.insert([
      { ...link, keys: ['zz', 'b-zz'] },
      { ...link, keys: ['a00', 'b-a00'] },
    ])
    const scanned: string[] = []
    for await (const batch of store!.links.scan('t1', 'people', 64))
      scanned.push(...batch.map((l) => l.keys[0]))
    expect(scanned).toHaveLength(302)
    expect(scanned.slice(0, 300)).toEqual([...scanned.slice(0, 300)].sort())
    expect(scanned.slice(300)).toEqual(['zz', 'a00'])
  })
})

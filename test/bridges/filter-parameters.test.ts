import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type BridgeConnection,
  type Filter,
  type FilterParameterValue,
  isOpenSyncError,
  silentLogger,
} from '../../src/sdk/index.ts'
import type { HarnessDb } from '../support/harness.ts'
import { harnesses } from '../support/harnesses.ts'

/**
 * Named filter parameters (`zip1 = :zip` with `{ zip: '76137' }`) against the real servers:
 * a value is bound as data in the parsed expression, so whatever text it holds it can only
 * be compared with, never change the condition.
 */
describe.each(harnesses)('filter parameters on $name', (harness) => {
  let db: HarnessDb
  let conn: BridgeConnection
  const table = 'osy_params'

  beforeAll(async () => {
    db = await harness.setup()
    await db.exec(harness.ddl.contacts(table))
    const q = harness.quote
    await db.exec(
      `INSERT INTO ${q(table)} (email, name, city, score) VALUES
        ('a@example.test', 'Anna', '76137', 10),
        ('b@example.test', 'Ben', '76137', 20),
        ('c@example.test', 'Clara', '10115', 30),
        ('d@example.test', 'x'' OR 1=1 --', '80331', 40)`,
    )
    conn = await harness.bridge.connect(db.values, { log: silentLogger })
  })

  afterAll(async () => {
    await conn?.close()
    await db?.teardown()
  })

  async function emails(filter: Filter): Promise<string[]> {
    const out: string[] = []
    for await (const batch of conn.read(table, { filter })) {
      for (const r of batch.records) out.push(String(r.values.email))
    }
    return out.sort()
  }

  const sql = (text: string, parameters: Record<string, FilterParameterValue>): Filter => ({
    sql: text,
    parameters,
  })

  it('binds a value where the condition names the parameter', async () => {
    expect(await emails(sql('city = :zip', { zip: '76137' }))).toEqual([
      'a@example.test',
      'b@example.test',
    ])
    expect(await emails(sql('score >= :min AND city = :zip', { min: 20, zip: '76137' }))).toEqual([
      'b@example.test',
    ])
    expect(await emails(sql('city IN (:a, :b)', { a: '10115', b: '80331' }))).toEqual([
      'c@example.test',
      'd@example.test',
    ])
  })

  it('treats an injection attempt as a value: it matches nothing extra', async () => {
    for (const value of [
      "x' OR 1=1 --",
      "76137' OR '1'='1",
      "x\\' OR 1=1 -- ",
      '76137; DELETE FROM osy_params',
    ]) {
      expect(await emails(sql('city = :zip', { zip: value })), value).toEqual([])
    }
    // Compared as text, the attempt finds only the record that holds exactly that text.
    expect(await emails(sql('name = :name', { name: "x' OR 1=1 --" }))).toEqual(['d@example.test'])
    const rows = await db.query(`SELECT COUNT(*) AS n FROM ${harness.quote(table)}`)
    expect(Number(rows[0]!.n)).toBe(4)
  })

  it('a parameter inside a quoted string is text, not a parameter', async () => {
    await expect(emails(sql("city = ':zip'", { zip: '76137' }))).rejects.toThrow(
      /parameter "zip" has a value but the condition has no :zip/,
    )
    expect(await emails({ sql: "city = ':zip'" })).toEqual([])
  })

  it('rejects a parameter without a value, naming it', async () => {
    const error = await emails(sql('city = :zip', { zpi: '76137' })).catch((e: unknown) => e)
    expect(isOpenSyncError(error) && error.code).toBe('OSY_INVALID_FILTER')
    expect(String((error as Error).message)).toMatch(/parameter :zip has no value/)
    await expect(emails({ sql: 'city = :zip' })).rejects.toThrow(/no values given/)
  })

  it('rejects a number that is not finite', async () => {
    await expect(emails(sql('score > :min', { min: Number.NaN }))).rejects.toThrow(
      /must be a finite number/,
    )
  })
})

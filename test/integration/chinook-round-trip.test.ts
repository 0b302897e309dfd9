/**
 * A realistic round trip through all three bridges with the Chinook sample database:
 * PostgreSQL → MariaDB → SQLite, every value compared with what PostgreSQL holds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BridgeConnection, RecordValues, WriteOp } from '../../src/sdk/index.ts'
import { silentLogger } from '../../src/sdk/index.ts'
import { chinookMysqlSql, chinookPostgresSql } from '../support/chinook.ts'
import type { HarnessDb } from '../support/harness.ts'
import { mysqlHarness } from '../support/mysql-harness.ts'
import { postgresHarness } from '../support/postgres-harness.ts'
import { sqliteHarness } from '../support/sqlite-harness.ts'

/** Chinook's PostgreSQL names are snake_case, its MySQL names PascalCase. */
const pascal = (snake: string) =>
  snake.replace(/(^|_)([a-z])/g, (_, __, c: string) => c.toUpperCase())

const TABLES = ['customer', 'invoice', 'track'] as const
const SQLITE_DDL: Record<(typeof TABLES)[number], string> = {
  customer: `CREATE TABLE Customer (CustomerId INTEGER PRIMARY KEY, FirstName VARCHAR(40) NOT NULL, LastName VARCHAR(20) NOT NULL,
    Company VARCHAR(80), Address VARCHAR(70), City VARCHAR(40), State VARCHAR(40), Country VARCHAR(40), PostalCode VARCHAR(10),
    Phone VARCHAR(24), Fax VARCHAR(24), Email VARCHAR(60) NOT NULL, SupportRepId INTEGER)`,
  invoice: `CREATE TABLE Invoice (InvoiceId INTEGER PRIMARY KEY, CustomerId INTEGER NOT NULL, InvoiceDate DATETIME NOT NULL,
    BillingAddress VARCHAR(70), BillingCity VARCHAR(40), BillingState VARCHAR(40), BillingCountry VARCHAR(40),
    BillingPostalCode VARCHAR(10), Total DECIMAL(10,2) NOT NULL)`,
  track: `CREATE TABLE Track (TrackId INTEGER PRIMARY KEY, Name VARCHAR(200) NOT NULL, AlbumId INTEGER, MediaTypeId INTEGER NOT NULL,
    GenreId INTEGER, Composer VARCHAR(220), Milliseconds INTEGER NOT NULL, Bytes INTEGER, UnitPrice DECIMAL(10,2) NOT NULL)`,
}

async function readAll(conn: BridgeConnection, type: string): Promise<RecordValues[]> {
  const out: RecordValues[] = []
  for await (const batch of conn.read(type, { batchSize: 700 }))
    out.push(...batch.records.map((r) => r.values))
  return out
}

function renamed(rows: readonly RecordValues[]): RecordValues[] {
  return rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [pascal(k), v])))
}

async function copy(
  conn: BridgeConnection,
  type: string,
  rows: readonly RecordValues[],
): Promise<void> {
  for (let i = 0; i < rows.length; i += 1000) {
    const results = await conn.write(
      type,
      rows.slice(i, i + 1000).map((values) => ({ op: 'create', values }) as WriteOp),
    )
    const failed = results.find((r) => !r.ok)
    if (failed && !failed.ok) throw new Error(`${type}: ${failed.error.message}`)
  }
}

describe('Chinook round trip: PostgreSQL → MariaDB → SQLite', () => {
  const dbs: HarnessDb[] = []
  const conns: BridgeConnection[] = []
  let pgConn: BridgeConnection
  let myConn: BridgeConnection
  let liteConn: BridgeConnection
  let myDb: HarnessDb

  beforeAll(async () => {
    const [pgDb, mysqlDb, liteDb] = await Promise.all([
      postgresHarness.setup(),
      mysqlHarness.setup(),
      sqliteHarness.setup(),
    ])
    dbs.push(pgDb, mysqlDb, liteDb)
    myDb = mysqlDb
    await pgDb.exec(chinookPostgresSql())
    await mysqlDb.exec(chinookMysqlSql())
    for (const t of TABLES) {
      await mysqlDb.exec(`CREATE TABLE ${pascal(t)}Copy LIKE ${pascal(t)}`)
      await liteDb.exec(SQLITE_DDL[t])
    }
    pgConn = await postgresHarness.bridge.connect(pgDb.values, { log: silentLogger })
    myConn = await mysqlHarness.bridge.connect(mysqlDb.values, { log: silentLogger })
    liteConn = await sqliteHarness.bridge.connect(liteDb.values, { log: silentLogger })
    conns.push(pgConn, myConn, liteConn)
  }, 180_000)

  afterAll(async () => {
    await Promise.all(conns.map((c) => c.close()))
    await Promise.all(dbs.map((d) => d.teardown()))
  })

  it('reads the same Chinook data from the PostgreSQL and the MySQL script', async () => {
    for (const t of TABLES) {
      const fromPg = renamed(await readAll(pgConn, t))
      const fromMy = await readAll(myConn, pascal(t))
      expect(fromPg.length, t).toBeGreaterThan(50)
      // The two scripts differ in two ways the servers read differently: N'Edinburgh ' is
      // char(n) in PostgreSQL (trailing spaces dropped) but not in MySQL, and MySQL reads
      // the backslash in 'Rusticana \ Act' as an escape. Nothing else may differ.
      const comparable = (rows: RecordValues[]) =>
        rows.map((r) =>
          Object.fromEntries(
            Object.entries(r).map(([k, v]) => [
              k,
              typeof v === 'string'
                ? v.replace(/ +$/, '').replaceAll('\\', '').replace(/ {2,}/g, ' ')
                : v,
            ]),
          ),
        )
      expect(comparable(fromMy), t).toEqual(comparable(fromPg))
    }
  })

  it.each(TABLES)('copies %s through MariaDB and SQLite without changing a value', async (t) => {
    const original = renamed(await readAll(pgConn, t))
    await copy(myConn, `${pascal(t)}Copy`, original)
    const viaMysql = await readAll(myConn, `${pascal(t)}Copy`)
    expect(viaMysql).toEqual(original)
    await copy(liteConn, pascal(t), viaMysql)
    const viaSqlite = await readAll(liteConn, pascal(t))
    expect(viaSqlite).toEqual(original)
    // Names with accents and other scripts made it through untouched.
    if (t === 'customer') expect(viaSqlite.map((r) => r.FirstName)).toContain('François')
    const [{ n }] = (await myDb.query(`SELECT COUNT(*) AS n FROM ${pascal(t)}Copy`)) as [
      { n: number },
    ]
    expect(Number(n)).toBe(original.length)
  })
})

import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import Database from 'better-sqlite3'
import mysql from 'mysql2/promise'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRegistry } from '../../src/bridges/index.ts'
import { runTask } from '../../src/engine/run-task.ts'
import { parseTaskFile } from '../../src/engine/task/index.ts'
import {
  type BridgeConnection,
  type RecordBatch,
  type RecordValues,
  silentLogger,
} from '../../src/sdk/index.ts'
import { openStore } from '../../src/store/index.ts'
import type { BridgeHarness, HarnessDb } from '../support/harness.ts'
import { MYSQL_HOST, MYSQL_PORT, mysqlHarness } from '../support/mysql-harness.ts'
import { PG_URL, postgresHarness } from '../support/postgres-harness.ts'

/**
 * A read by a cursor that no index serves: paged by keyset, every page made the server scan
 * and sort the whole table again (1,000 sorts for a million rows in batches of 1,000: the
 * read grew with the square of the table). Read as one statement, it is one scan and one
 * sort, however many batches it hands out. The statements are counted on the server: the
 * general log (MariaDB) and the table's sequential scans (PostgreSQL).
 */
const ROWS = 2_500
const BATCH = 100

/** How many times the server scanned or queried the table since the last call. */
type ScanCounter = { start(): Promise<void>; scans(): Promise<number>; end(): Promise<void> }

const counters: Record<string, (db: HarnessDb, table: string) => ScanCounter> = {
  mysql: (_db, table) => {
    let admin: mysql.Connection
    return {
      async start() {
        admin = await mysql.createConnection({
          host: MYSQL_HOST,
          port: MYSQL_PORT,
          user: 'root',
          password: '',
        })
        await admin.query("SET GLOBAL log_output = 'TABLE'")
        await admin.query("SET GLOBAL general_log = 'ON'")
      },
      async scans() {
        const [rows] = await admin.query(
          "SELECT COUNT(*) AS n FROM mysql.general_log WHERE command_type = 'Query' AND argument LIKE ?",
          [`SELECT % FROM \`${table}\` % ORDER BY %`],
        )
        return Number((rows as { n: number }[])[0]!.n)
      },
      async end() {
        await admin.query("SET GLOBAL general_log = 'OFF'")
        await admin.query('TRUNCATE TABLE mysql.general_log')
        await admin.end()
      },
    }
  },
  postgres: (db, table) => {
    const admin = new pg.Client({ connectionString: PG_URL })
    /** The table's sequential scans once the server's statistics stopped moving. */
    const seqScans = async (): Promise<number> => {
      let last = -1
      for (let i = 0; i < 40; i++) {
        const { rows } = await admin.query<{ n: string }>(
          'SELECT seq_scan AS n FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = $2',
          [String(db.values.schema), table],
        )
        const n = Number(rows[0]?.n ?? 0)
        if (n === last) return n
        last = n
        await sleep(250)
      }
      return last
    }
    let before = 0
    return {
      async start() {
        await admin.connect()
        before = await seqScans()
      },
      async scans() {
        return (await seqScans()) - before
      },
      async end() {
        await admin.end()
      },
    }
  },
}

describe.each([mysqlHarness, postgresHarness] as BridgeHarness[])(
  'a read by an unindexed cursor: $name',
  (harness) => {
    const table = `stamped_${randomBytes(4).toString('hex')}`
    let db: HarnessDb
    let conn: BridgeConnection

    beforeAll(async () => {
      db = await harness.setup()
      const q = harness.quote
      const stamp = harness.timestampLiteral('2026-01-01 00:00:00')
      await db.exec(
        `CREATE TABLE ${q(table)} (id INT PRIMARY KEY, name VARCHAR(40), updated_at ${harness.name === 'mysql' ? 'TIMESTAMP(6)' : 'timestamptz'} NOT NULL)`,
      )
      // Every row has the same cursor value, as after a bulk load; no index on it.
      const values = Array.from({ length: ROWS }, (_, i) => `(${i + 1}, 'n${i + 1}', ${stamp})`)
      await db.exec(`INSERT INTO ${q(table)} (id, name, updated_at) VALUES ${values.join(', ')}`)
      conn = await connect()
    })

    const connect = () => harness.bridge.connect(db.values, { log: silentLogger })

    afterAll(async () => {
      await conn?.close()
      await db?.teardown()
    })

    const readAll = async (
      each?: (batch: RecordBatch) => Promise<void>,
    ): Promise<{ ids: number[]; batches: number; last?: RecordBatch['checkpoint'] }> => {
      const ids: number[] = []
      let batches = 0
      let last: RecordBatch['checkpoint']
      for await (const batch of conn.read(table, { cursor: 'updated_at', batchSize: BATCH })) {
        if (batch.records.length > 0) batches++
        for (const r of batch.records) ids.push(Number((r.values as RecordValues).id))
        if (batch.checkpoint) last = batch.checkpoint
        await each?.(batch)
      }
      return { ids, batches, ...(last ? { last } : {}) }
    }

    it('reads every row in cursor-then-key order with one statement', async () => {
      const counter = counters[harness.name]!(db, table)
      await counter.start()
      try {
        const { ids, batches, last } = await readAll()
        // PostgreSQL reports a session's scans when it ends (or, idle, within seconds).
        await conn.close()
        conn = await connect()
        expect(ids).toEqual(Array.from({ length: ROWS }, (_, i) => i + 1))
        expect(batches).toBe(ROWS / BATCH)
        expect(last?.position.slice(1)).toEqual([ROWS])
        // One statement (MariaDB may log it once; PostgreSQL scans the table once).
        expect(await counter.scans()).toBe(1)
      } finally {
        await counter.end()
      }
    })

    it('hands the rows over in order to a consumer slower than the server', async () => {
      const { ids } = await readAll(() => sleep(5))
      expect(ids).toEqual(Array.from({ length: ROWS }, (_, i) => i + 1))
    })

    it("says whether an index starts with the cursor, and a run's protocol warns until one does", async () => {
      const q = harness.quote
      const dir = mkdtempSync(join(tmpdir(), 'osy-unindexed-'))
      const file = join(dir, 'copy.db')
      const target = new Database(file)
      target.exec('CREATE TABLE copy (id INTEGER PRIMARY KEY, name TEXT)')
      target.close()
      const task = parseTaskFile(
        JSON.stringify({
          id: `unindexed-${table}`,
          subject: 'unindexed cursor',
          systems: {
            src: { bridge: harness.name, connection: db.values },
            dst: { bridge: 'sqlite', connection: { file } },
          },
          pairs: [
            {
              src: { type: table, cursor: 'updated_at' },
              dst: { type: 'copy' },
              fields: { id: 'id', name: 'name' },
              direction: 'src->dst',
            },
          ],
        }),
        { format: 'json', env: {} },
      )
      const store = await openStore({ url: join(dir, 'store.db') })
      const registry = await createRegistry()
      const warnings = async () => {
        const result = await runTask(task, { store, registry, dryRun: true })
        expect(result.status).toBe('succeeded')
        return result.log.filter((l) => l.level === 'warn').map((l) => l.message)
      }
      try {
        expect(await conn.hasIndexOn!(table, 'updated_at')).toBe(false)
        expect(await conn.hasIndexOn!(table, 'id')).toBe(true)
        expect(await warnings()).toEqual([
          `${table}.updated_at has no index: every run scans all of ${table} to find what changed; an index on updated_at lets a run that finds nothing read nothing`,
        ])
        // An index whose second column is the cursor does not serve it either.
        await db.exec(`CREATE INDEX ${q(`${table}_nu`)} ON ${q(table)} (name, updated_at)`)
        expect(await conn.hasIndexOn!(table, 'updated_at')).toBe(false)
        await db.exec(`CREATE INDEX ${q(`${table}_u`)} ON ${q(table)} (updated_at)`)
        expect(await conn.hasIndexOn!(table, 'updated_at')).toBe(true)
        expect(await warnings()).toEqual([])
        // A view reads tables the bridge does not look into: it cannot tell.
        await db.exec(`CREATE VIEW ${q(`${table}_v`)} AS SELECT * FROM ${q(table)}`)
        expect(await conn.hasIndexOn!(`${table}_v`, 'updated_at')).toBeUndefined()
      } finally {
        await db.exec(`DROP VIEW IF EXISTS ${q(`${table}_v`)}`)
        await db.exec(
          `DROP INDEX ${q(`${table}_u`)}${harness.name === 'mysql' ? ` ON ${q(table)}` : ''}`,
        )
        await db.exec(
          `DROP INDEX ${q(`${table}_nu`)}${harness.name === 'mysql' ? ` ON ${q(table)}` : ''}`,
        )
        await store.close()
        rmSync(dir, { recursive: true, force: true })
      }
    })

    it('a consumer that stops early leaves the connection usable for the next read', async () => {
      for await (const batch of conn.read(table, { cursor: 'updated_at', batchSize: BATCH })) {
        expect(batch.records).toHaveLength(BATCH)
        break
      }
      const { ids } = await readAll()
      expect(ids).toHaveLength(ROWS)
    })
  },
)

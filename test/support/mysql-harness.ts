import { randomBytes } from 'node:crypto'
import mysql from 'mysql2/promise'
import { MysqlConnection, mysqlBridge } from '../../src/bridges/mysql/index.ts'
import type { MysqlPool } from '../../src/bridges/mysql/mysql-driver.ts'
import { mysqlDialect, silentLogger } from '../../src/sdk/index.ts'
import type { BridgeHarness } from './harness.ts'

/** The test server: `MYSQL_HOST`/`MYSQL_PORT`, or the local MariaDB (root, empty password). */
export const MYSQL_HOST = process.env.MYSQL_HOST ?? '127.0.0.1'
export const MYSQL_PORT = Number(process.env.MYSQL_PORT ?? 3306)

const q = mysqlDialect.quoteIdentifier

/** The MySQL/MariaDB bridge against a fresh database on the test server. */
export const mysqlHarness: BridgeHarness = {
  name: 'mysql',
  bridge: mysqlBridge,
  async setup() {
    const database = `osy_${randomBytes(5).toString('hex')}`
    const root = { host: MYSQL_HOST, port: MYSQL_PORT, user: 'root', password: '' }
    const admin = await mysql.createConnection(root)
    await admin.query(`CREATE DATABASE ${q(database)} CHARACTER SET utf8mb4`)
    await admin.end()
    const raw = await mysql.createConnection({
      ...root,
      database,
      multipleStatements: true,
      dateStrings: true,
      supportBigNumbers: true,
      bigNumberStrings: true,
    })
    const utc = "SET time_zone = '+00:00'"
    await raw.query(utc)
    return {
      values: { host: MYSQL_HOST, port: MYSQL_PORT, user: 'root', password: '', database },
      async exec(sql) {
        await raw.query(sql)
        // A test that moved the session zone must not move it for the next statement.
        await raw.query(utc)
      },
      async query(sql) {
        const [rows] = await raw.query(sql)
        return rows as Record<string, unknown>[]
      },
      async teardown() {
        await raw.query(`DROP DATABASE ${q(database)}`)
        await raw.end()
      },
    }
  },
  ddl: {
    people: (t) => `CREATE TABLE ${q(t)} (
      id INT AUTO_INCREMENT PRIMARY KEY,
      email VARCHAR(40) NOT NULL UNIQUE,
      name VARCHAR(200), score DECIMAL(14,4), big BIGINT, active BOOLEAN, born DATE,
      updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
      created DATETIME(6), photo BLOB, doc JSON, note TEXT)`,
    events: (t) => `CREATE TABLE ${q(t)} (site VARCHAR(20) NOT NULL, seq INT NOT NULL,
      payload VARCHAR(100), ts TIMESTAMP(6) NULL DEFAULT NULL, PRIMARY KEY (site, seq))`,
    view: (v, t) => `CREATE VIEW ${q(v)} AS SELECT id, email, name FROM ${q(t)}`,
    drop: (t) => `DROP TABLE ${q(t)}`,
    contacts: (t, o = {}) => `CREATE TABLE ${q(t)} (
      id INT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(80) UNIQUE, name VARCHAR(${o.nameLength ?? 100}),
      city VARCHAR(60), score DECIMAL(10,2), ext_id VARCHAR(80),
      updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6))`,
  },
  quote: q,
  setSessionZone: (offset) => `SET time_zone = '${offset}'`,
  timestampLiteral: (text) => `'${text}'`,
  failures: {
    // root may log in over TCP with the empty password only, so any other password fails.
    wrongPassword: (db) => ({ ...db.values, password: 'wrong-password-xyz' }),
    unknownDatabase: (db) => ({ ...db.values, database: 'osy_no_such_db' }),
    unreachable: () => ({ host: '127.0.0.1', port: 1, user: 'root' }),
    timeout: (port) => ({ host: '127.0.0.1', port, user: 'root', connectTimeout: 1 }),
  },
}

/**
 * A bridge connection to the harness database whose every statement passes through `watch`
 * first: a test counts statements, or answers one itself by returning a promise (a refusal).
 * The pool is set up as the bridge's own (text for dates, big numbers and JSON).
 */
export function watchedMysqlConnection(
  database: string,
  watch: (sql: string) => Promise<[unknown, unknown]> | undefined,
): MysqlConnection {
  const createPool = (): MysqlPool => {
    const pool = mysql.createPool({
      host: MYSQL_HOST,
      port: MYSQL_PORT,
      user: 'root',
      password: '',
      database,
      connectionLimit: 2,
      charset: 'utf8mb4',
      dateStrings: true,
      supportBigNumbers: true,
      bigNumberStrings: true,
      jsonStrings: true,
    })
    return {
      async getConnection() {
        const conn = await pool.getConnection()
        return {
          connection: conn.connection,
          query(sql, values) {
            const answer = watch(typeof sql === 'string' ? sql : sql.sql)
            if (answer) return answer
            return conn.query(sql as string, values as unknown[]) as Promise<[unknown, unknown]>
          },
          escape: (value: unknown) => conn.escape(value),
          release: () => conn.release(),
          destroy: () => conn.destroy(),
        }
      },
      end: () => pool.end(),
    }
  }
  const target = { host: MYSQL_HOST, port: MYSQL_PORT, user: 'root', connectTimeout: 10 }
  return new MysqlConnection(createPool, target, silentLogger)
}

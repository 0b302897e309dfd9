import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { sqliteBridge } from '../../src/bridges/sqlite/index.ts'
import { sqliteDialect } from '../../src/sdk/index.ts'
import type { BridgeHarness } from './harness.ts'

const q = sqliteDialect.quoteIdentifier

/** The SQLite bridge against a fresh database file in a fresh temporary folder. */
export const sqliteHarness: BridgeHarness = {
  name: 'sqlite',
  bridge: sqliteBridge,
  async setup() {
    const folder = mkdtempSync(join(tmpdir(), 'osy-sqlite-'))
    const file = join(folder, 'contract.db')
    // A second, raw connection, as another program on the same file would be.
    const raw = new Database(file)
    return {
      values: { file },
      async exec(sql) {
        raw.exec(sql)
      },
      async query(sql) {
        return raw.prepare(sql).all() as Record<string, unknown>[]
      },
      async teardown() {
        raw.close()
        rmSync(folder, { recursive: true, force: true })
      },
    }
  },
  ddl: {
    people: (t) => `CREATE TABLE ${q(t)} (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      email VARCHAR(40) NOT NULL UNIQUE,
      name VARCHAR(200), score DECIMAL(14,4), big BIGINT, active BOOLEAN, born DATE,
      updated_at TIMESTAMPTZ NOT NULL, created TIMESTAMP, photo BLOB, doc JSON, note TEXT)`,
    events: (t) => `CREATE TABLE ${q(t)} (site VARCHAR(20) NOT NULL, seq INTEGER NOT NULL,
      payload VARCHAR(100), ts TIMESTAMPTZ, PRIMARY KEY (site, seq))`,
    view: (v, t) => `CREATE VIEW ${q(v)} AS SELECT id, email, name FROM ${q(t)}`,
    drop: (t) => `DROP TABLE ${q(t)}`,
    contacts: (t, o = {}) => {
      const now = `strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')`
      return `CREATE TABLE ${q(t)} (id INTEGER PRIMARY KEY AUTOINCREMENT, email VARCHAR(80) UNIQUE, name VARCHAR(${o.nameLength ?? 100})${
        // SQLite ignores declared lengths; a CHECK makes it reject long names like the servers do.
        o.nameLength ? ` CHECK (length(name) <= ${o.nameLength})` : ''
      },
        city VARCHAR(60), score DECIMAL(10,2), ext_id VARCHAR(80), updated_at TIMESTAMPTZ NOT NULL DEFAULT (${now}));
        CREATE TRIGGER ${q(`${t}_touch`)} AFTER UPDATE ON ${q(t)} FOR EACH ROW WHEN NEW.updated_at = OLD.updated_at
        BEGIN UPDATE ${q(t)} SET updated_at = ${now} WHERE id = NEW.id; END`
    },
  },
  quote: q,
  // SQLite has no session time zone: wall-clock text names a UTC instant, stored canonically.
  timestampLiteral: (text) => {
    const [date, time = '00:00:00'] = text.split(/[T ]/)
    const [seconds, fraction = ''] = time.split('.')
    return `'${date}T${seconds}.${fraction.padEnd(6, '0')}Z'`
  },
  failures: {
    unknownDatabase: (db) => ({
      file: join(String(db.values.file), '..', 'no-such-database.db'),
      create: false,
    }),
  },
}

import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { csvBridge } from '../../src/bridges/csv/index.ts'
import type { ContractHarness } from './contract-harness.ts'

const PEOPLE = [
  'id',
  'email',
  'name',
  'score',
  'big',
  'active',
  'born',
  'updated_at',
  'created',
  'photo',
  'doc',
  'note',
]
const EVENTS = ['site', 'seq', 'payload', 'ts']

/**
 * The settings of the contract's CSV folder: every `people_*` and `events_*` file has the
 * columns and types of the suite's tables (the SQL harnesses' DDL, as CSV declarations).
 */
export const CONTRACT_CSV_SETTINGS = {
  recordTypes: {
    'people_*': {
      key: ['id'],
      fields: {
        id: { type: 'integer', generated: true },
        email: { type: 'string', nullable: false },
        name: 'string',
        score: 'decimal',
        big: 'integer',
        active: 'boolean',
        born: 'date',
        updated_at: { type: 'timestamptz', nullable: false },
        created: 'timestamp',
        photo: 'binary',
        doc: 'json',
        note: 'string',
      },
    },
    'events_*': {
      key: ['site', 'seq'],
      fields: {
        site: { type: 'string', nullable: false },
        seq: { type: 'integer', nullable: false },
        payload: 'string',
        ts: 'timestamptz',
      },
    },
  },
}

/** A quoted CSV field: the raw rows the suite adds are written the plain RFC 4180 way. */
const field = (v: string) => `"${v.replaceAll('"', '""')}"`

/** The CSV bridge against a fresh temporary folder. */
export const csvHarness: ContractHarness = {
  name: 'csv',
  bridge: csvBridge,
  lacks: ['views', 'uniqueFields'],
  async setup() {
    const folder = mkdtempSync(join(tmpdir(), 'osy-csv-'))
    const file = (name: string) => join(folder, `${name}.csv`)
    return {
      values: { folder },
      settings: CONTRACT_CSV_SETTINGS,
      recordTypes: {
        async people(name) {
          writeFileSync(file(name), `${PEOPLE.join(',')}\n`)
        },
        async events(name) {
          writeFileSync(file(name), `${EVENTS.join(',')}\n`)
        },
        async view() {
          throw new Error('CSV files have no views')
        },
        async drop(name) {
          rmSync(file(name))
        },
        async insertRaw(name, row) {
          const text = readFileSync(file(name), 'utf8')
          const header = text.split('\n', 1)[0]!.split(',')
          if (header[0] === 'id' && !('id' in row)) {
            // Another program adding a row gives it the next id, as a database would.
            const ids = text
              .split('\n')
              .slice(1)
              .map((l) => Number(l.split(',')[0]) || 0)
            row = { ...row, id: String(Math.max(0, ...ids) + 1) }
          }
          appendFileSync(
            file(name),
            `${header.map((c) => (c in row ? field(row[c]!) : '')).join(',')}\n`,
          )
        },
      },
      async teardown() {
        rmSync(folder, { recursive: true, force: true })
      },
    }
  },
  failures: {
    unknownDatabase: (db) => ({ folder: join(String(db.values.folder), 'no-such-folder') }),
  },
}

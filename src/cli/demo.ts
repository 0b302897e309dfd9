import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import Database from 'better-sqlite3'
import { runTask } from '../engine/run-task.ts'
import { loadTaskFile } from '../engine/task/index.ts'
import type { BridgeRegistry } from '../sdk/index.ts'
import { openStore } from '../store/index.ts'
import { summary } from './format.ts'

/** Options of `opensync demo`. */
export interface DemoOptions {
  readonly folder: string
  /** Addresses in the CRM. Default 3000. */
  readonly records?: number
  readonly run: boolean
  readonly registry: BridgeRegistry
  readonly storeUrl?: string
}

const FIRST = ['Anna', 'Ben', 'Clara', 'David', 'Emma', 'Felix', 'Greta', 'Hugo', 'Ida', 'Jonas', 'Lea', 'Max', 'Nina', 'Oskar', 'Paula', 'Zoë', 'Søren', 'Łukasz']
const LAST = ['Müller', 'Schmidt', 'Schneider', 'Fischer', 'Weber', 'Meyer', 'Wagner', 'Becker', 'Dubois', 'Rossi', 'García', 'Novák', 'Jensen', "O'Brien"]
const WORDS = ['Nord', 'Süd', 'Alpen', 'Rhein', 'Hanse', 'Blau', 'Sonnen', 'Berg', 'Wald', 'Stahl', 'Glas', 'Licht']
const KINDS = ['GmbH', 'AG', 'KG', 'GmbH & Co. KG', 'SE', 'SARL', 'BV']
const PLACES: [string, string, string][] = [
  ['76137', 'Karlsruhe', 'Germany'],
  ['10115', 'Berlin', 'Germany'],
  ['80331', 'München', 'Germany'],
  ['1010', 'Wien', 'Austria'],
  ['8001', 'Zürich', 'Switzerland'],
  ['75001', 'Paris', 'France'],
  ['1012', 'Amsterdam', 'Netherlands'],
]
const STREETS = ['Hauptstraße', 'Kaiserstraße', 'Bahnhofstraße', 'Lindenweg', 'Marktplatz', 'Schillerstraße']

/** A small deterministic PRNG, so every demo has the same data. */
function prng(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const STAMP = `strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')`
const touch = (table: string, key: string, column: string) =>
  `CREATE TRIGGER ${table}_touch AFTER UPDATE ON ${table} FOR EACH ROW WHEN NEW.${column} = OLD.${column}
   BEGIN UPDATE ${table} SET ${column} = ${STAMP} WHERE ${key} = NEW.${key}; END;`

/** Creates the demo's two databases and task file; returns the task file's path. */
export function createDemo(folder: string, records = 3000): string {
  const dir = resolve(folder)
  mkdirSync(dir, { recursive: true })
  const crmFile = join(dir, 'crm.db')
  const erpFile = join(dir, 'erp.db')
  for (const f of [crmFile, erpFile]) rmSync(f, { force: true })
  const rnd = prng(42)
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)]!

  const crm = new Database(crmFile)
  crm.pragma('journal_mode = WAL')
  crm.exec(`
    CREATE TABLE addresses (id INTEGER PRIMARY KEY, company VARCHAR(120) NOT NULL, street VARCHAR(120), zip1 VARCHAR(10),
      city VARCHAR(80), country VARCHAR(60), email VARCHAR(120) UNIQUE, phone VARCHAR(40),
      updated_at TIMESTAMPTZ NOT NULL DEFAULT (${STAMP}));
    CREATE TABLE contacts (id INTEGER PRIMARY KEY, address_id INTEGER REFERENCES addresses(id), first_name VARCHAR(60),
      last_name VARCHAR(60), email VARCHAR(120), updated_at TIMESTAMPTZ NOT NULL DEFAULT (${STAMP}));
    CREATE TABLE opportunities (id INTEGER PRIMARY KEY, address_id INTEGER REFERENCES addresses(id), title VARCHAR(120),
      amount DECIMAL(12,2), stage VARCHAR(20), updated_at TIMESTAMPTZ NOT NULL DEFAULT (${STAMP}));
    CREATE INDEX addresses_cursor ON addresses (updated_at, id);
    ${touch('addresses', 'id', 'updated_at')}`)
  const erp = new Database(erpFile)
  erp.pragma('journal_mode = WAL')
  erp.exec(`
    CREATE TABLE customers (cust_no INTEGER PRIMARY KEY, company_name VARCHAR(120) NOT NULL, street VARCHAR(120),
      postal_code VARCHAR(10), town VARCHAR(80), land CHAR(2), email VARCHAR(120) UNIQUE,
      modified TIMESTAMPTZ NOT NULL DEFAULT (${STAMP}));
    CREATE TABLE orders (order_no INTEGER PRIMARY KEY, cust_no INTEGER REFERENCES customers(cust_no), ordered_on DATE,
      total DECIMAL(12,2), status VARCHAR(20));
    CREATE INDEX customers_cursor ON customers (modified, cust_no);
    ${touch('customers', 'cust_no', 'modified')}`)

  const codes: Record<string, string> = { Germany: 'DE', Austria: 'AT', Switzerland: 'CH', France: 'FR', Netherlands: 'NL' }
  const addAddress = crm.prepare('INSERT INTO addresses (company, street, zip1, city, country, email, phone) VALUES (?, ?, ?, ?, ?, ?, ?)')
  const addContact = crm.prepare('INSERT INTO contacts (address_id, first_name, last_name, email) VALUES (?, ?, ?, ?)')
  const addOpportunity = crm.prepare('INSERT INTO opportunities (address_id, title, amount, stage) VALUES (?, ?, ?, ?)')
  const addCustomer = erp.prepare('INSERT INTO customers (company_name, street, postal_code, town, land, email) VALUES (?, ?, ?, ?, ?, ?)')
  const addOrder = erp.prepare('INSERT INTO orders (cust_no, ordered_on, total, status) VALUES (?, ?, ?, ?)')
  crm.transaction(() => {
    erp.transaction(() => {
      for (let i = 1; i <= records; i++) {
        const company = `${pick(WORDS)}${pick(WORDS).toLowerCase()} ${pick(KINDS)}`
        const [zip, city, country] = pick(PLACES)
        const street = `${pick(STREETS)} ${1 + Math.floor(rnd() * 120)}`
        const email = `info${i}@${company.split(' ')[0]!.toLowerCase().normalize('NFD').replace(/[^a-z]/g, '')}.example`
        const id = Number(addAddress.run(company, street, zip, city, country, email, `+49 721 ${100000 + i}`).lastInsertRowid)
        addContact.run(id, pick(FIRST), pick(LAST), `contact${i}@example.org`)
        if (rnd() < 0.4) addOpportunity.run(id, `${pick(WORDS)} project`, (rnd() * 50000).toFixed(2), pick(['lead', 'offer', 'won', 'lost']))
        // 60% of the companies are in the ERP already, some with an older spelling.
        if (rnd() < 0.6) {
          const cust = Number(addCustomer.run(rnd() < 0.1 ? company.toUpperCase() : company, street, zip, city, codes[country], email).lastInsertRowid)
          addOrder.run(cust, `2024-${String(1 + Math.floor(rnd() * 12)).padStart(2, '0')}-15`, (rnd() * 9000).toFixed(2), 'open')
        }
      }
      for (let i = 1; i <= Math.floor(records / 10); i++) {
        const [zip, city, country] = pick(PLACES)
        addCustomer.run(`${pick(LAST)} Handel ${pick(KINDS)}`, `${pick(STREETS)} ${i}`, zip, city, codes[country], `erp${i}@shop.example`)
      }
    })()
  })()
  crm.close()
  erp.close()

  const taskFile = join(dir, 'demo.task.yaml')
  writeFileSync(
    taskFile,
    `# OpenSync demo: CRM addresses <-> ERP customers. Edit a record in either database
# (sqlite3 crm.db "UPDATE addresses SET city = 'Bonn' WHERE id = 1") and run again:
#   opensync run ${taskFile}
id: demo
subject: CRM addresses ↔ ERP customers
systems:
  crm: { bridge: sqlite, connection: { file: ${JSON.stringify(crmFile)} } }
  erp: { bridge: sqlite, connection: { file: ${JSON.stringify(erpFile)} } }
pairs:
  - crm: { type: addresses, cursor: updated_at }
    erp: { type: customers, cursor: modified }
    direction: both
    fields:
      company: company_name
      street: street
      zip1: postal_code
      city: town
      email: email
      country:
        crm: country
        erp: land
        toErp: { map: { Germany: DE, Austria: AT, Switzerland: CH, France: FR, Netherlands: NL } }
    match: [email]
    conflict: { winner: crm }
    deletes: flag
plan: { kind: interval, every: 15, unit: minutes }
`,
  )
  return taskFile
}

/** `opensync demo`: creates the demo and runs its task once. */
export async function runDemo(options: DemoOptions): Promise<number> {
  const taskFile = createDemo(options.folder, options.records)
  process.stdout.write(`Created ${options.folder}/crm.db, erp.db and ${taskFile}\n`)
  if (!options.run) return 0
  const task = await loadTaskFile(taskFile)
  const store = await openStore(options.storeUrl ? { url: options.storeUrl } : {})
  try {
    // The databases are new: links from an earlier demo would point at records that are gone.
    await store.links.removeTask(task.id)
    const result = await runTask(task, { store, registry: options.registry, trigger: 'demo' })
    process.stdout.write(`\n${summary(task, result)}\n\nRun it again — nothing changes: opensync run ${taskFile}\n`)
    return result.status === 'succeeded' ? 0 : 1
  } finally {
    await store.close()
  }
}

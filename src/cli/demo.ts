import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, isAbsolute, join, relative, resolve } from 'node:path'
import Database from 'better-sqlite3'
import { runTask } from '../engine/run-task.ts'
import { loadTaskFile } from '../engine/task/index.ts'
import type { BridgeRegistry } from '../sdk/index.ts'
import { DEFAULT_SQLITE_FILE, openStore, type Store } from '../store/index.ts'
import { andList, usage } from './cli-kit.ts'
import { quoteArg, summary } from './format.ts'
import { fmt, ProgressLine } from './progress.ts'

/** Options of `opensync demo`. */
export interface DemoOptions {
  readonly folder: string
  /** Addresses in the CRM. Default 3000. */
  readonly records?: number
  readonly run: boolean
  /** Make the demo anew even where its files are already: they are overwritten. */
  readonly force?: boolean
  readonly registry: BridgeRegistry
  readonly storeUrl?: string
}

const FIRST = [
  'Anna',
  'Ben',
  'Clara',
  'David',
  'Emma',
  'Felix',
  'Greta',
  'Hugo',
  'Ida',
  'Jonas',
  'Lea',
  'Max',
  'Nina',
  'Oskar',
  'Paula',
  'Zoë',
  'Søren',
  'Łukasz',
]
const LAST = [
  'Müller',
  'Schmidt',
  'Schneider',
  'Fischer',
  'Weber',
  'Meyer',
  'Wagner',
  'Becker',
  'Dubois',
  'Rossi',
  'García',
  'Novák',
  'Jensen',
  "O'Brien",
]
const WORDS = [
  'Nord',
  'Süd',
  'Alpen',
  'Rhein',
  'Hanse',
  'Blau',
  'Sonnen',
  'Berg',
  'Wald',
  'Stahl',
  'Glas',
  'Licht',
]
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
const STREETS = [
  'Hauptstraße',
  'Kaiserstraße',
  'Bahnhofstraße',
  'Lindenweg',
  'Marktplatz',
  'Schillerstraße',
]

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

/**
 * The demo task's id: one per demo folder. Two demos in one metadata store must not share
 * links: their records have the same keys (the same seed) but are different records.
 */
export function demoTaskId(folder: string): string {
  return `demo-${createHash('sha256').update(resolve(folder)).digest('hex').slice(0, 8)}`
}

/** The files a demo makes in its folder. */
export const DEMO_FILES = ['crm.db', 'erp.db', 'demo.task.yaml'] as const

/**
 * Creates the demo's two databases and task file; returns the task file's path. Files of
 * an earlier demo in the folder are overwritten only with `force`; without it, a folder that
 * holds any of them is refused (exit 2) and nothing is changed.
 */
export function createDemo(folder: string, records = 3000, force = false): string {
  const dir = resolve(folder)
  const there = DEMO_FILES.filter((f) => existsSync(join(dir, f)))
  if (there.length > 0 && !force) {
    throw usage(
      `demo: ${displayPath(dir)} already holds ${andList(there)}; nothing was changed. Add --force to make the demo anew there (overwriting ${there.length === 1 ? 'it' : 'them'}), or name another folder`,
    )
  }
  mkdirSync(dir, { recursive: true })
  const crmFile = join(dir, 'crm.db')
  const erpFile = join(dir, 'erp.db')
  for (const f of [crmFile, erpFile]) {
    for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(f + suffix, { force: true })
  }
  const rnd = prng(42)
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)]!

  const crm = new Database(crmFile)
  crm.pragma('journal_mode = WAL')
  crm.exec(`
    CREATE TABLE addresses (id INTEGER PRIMARY KEY AUTOINCREMENT, company VARCHAR(120) NOT NULL, street VARCHAR(120), zip1 VARCHAR(10),
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
    CREATE TABLE customers (cust_no INTEGER PRIMARY KEY AUTOINCREMENT, company_name VARCHAR(120) NOT NULL, street VARCHAR(120),
      postal_code VARCHAR(10), town VARCHAR(80), land CHAR(2), email VARCHAR(120) UNIQUE,
      modified TIMESTAMPTZ NOT NULL DEFAULT (${STAMP}));
    CREATE TABLE orders (order_no INTEGER PRIMARY KEY, cust_no INTEGER REFERENCES customers(cust_no), ordered_on DATE,
      total DECIMAL(12,2), status VARCHAR(20));
    CREATE INDEX customers_cursor ON customers (modified, cust_no);
    ${touch('customers', 'cust_no', 'modified')}`)

  const codes: Record<string, string> = {
    Germany: 'DE',
    Austria: 'AT',
    Switzerland: 'CH',
    France: 'FR',
    Netherlands: 'NL',
  }
  const addAddress = crm.prepare(
    'INSERT INTO addresses (company, street, zip1, city, country, email, phone) VALUES (?, ?, ?, ?, ?, ?, ?)',
  )
  const addContact = crm.prepare(
    'INSERT INTO contacts (address_id, first_name, last_name, email) VALUES (?, ?, ?, ?)',
  )
  const addOpportunity = crm.prepare(
    'INSERT INTO opportunities (address_id, title, amount, stage) VALUES (?, ?, ?, ?)',
  )
  const addCustomer = erp.prepare(
    'INSERT INTO customers (company_name, street, postal_code, town, land, email) VALUES (?, ?, ?, ?, ?, ?)',
  )
  const addOrder = erp.prepare(
    'INSERT INTO orders (cust_no, ordered_on, total, status) VALUES (?, ?, ?, ?)',
  )
  crm.transaction(() => {
    erp.transaction(() => {
      for (let i = 1; i <= records; i++) {
        const company = `${pick(WORDS)}${pick(WORDS).toLowerCase()} ${pick(KINDS)}`
        const [zip, city, country] = pick(PLACES)
        const street = `${pick(STREETS)} ${1 + Math.floor(rnd() * 120)}`
        const email = `info${i}@${company
          .split(' ')[0]!
          .toLowerCase()
          .normalize('NFD')
          .replace(/[^a-z]/g, '')}.example`
        const id = Number(
          addAddress.run(company, street, zip, city, country, email, `+49 721 ${100000 + i}`)
            .lastInsertRowid,
        )
        addContact.run(id, pick(FIRST), pick(LAST), `contact${i}@example.org`)
        if (rnd() < 0.4)
          addOpportunity.run(
            id,
            `${pick(WORDS)} project`,
            (rnd() * 50000).toFixed(2),
            pick(['lead', 'offer', 'won', 'lost']),
          )
        // 60% of the companies are in the ERP already, some with an older spelling.
        if (rnd() < 0.6) {
          const cust = Number(
            addCustomer.run(
              rnd() < 0.1 ? company.toUpperCase() : company,
              street,
              zip,
              city,
              codes[country],
              email,
            ).lastInsertRowid,
          )
          addOrder.run(
            cust,
            `2024-${String(1 + Math.floor(rnd() * 12)).padStart(2, '0')}-15`,
            (rnd() * 9000).toFixed(2),
            'open',
          )
        }
      }
      for (let i = 1; i <= Math.floor(records / 10); i++) {
        const [zip, city, country] = pick(PLACES)
        addCustomer.run(
          `${pick(LAST)} Handel ${pick(KINDS)}`,
          `${pick(STREETS)} ${i}`,
          zip,
          city,
          codes[country],
          `erp${i}@shop.example`,
        )
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
id: ${demoTaskId(dir)}
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
  const records = options.records ?? 3000
  const taskFile = createDemo(options.folder, records, options.force === true)
  const shown = displayPath(taskFile)
  const folder = displayPath(dirname(taskFile))
  process.stdout.write(
    `Created the demo in ${folder}/:
  crm.db          a CRM: ${fmt(records)} addresses, with contacts and opportunities
  erp.db          an ERP: customers and their orders. About 60% of the CRM's companies
                  are there already (some spelled differently, countries as ISO codes),
                  and ${fmt(Math.floor(records / 10))} customers only the ERP has
  demo.task.yaml  the task: CRM addresses ↔ ERP customers, linked by e-mail
`,
  )
  // Through `npm run demo` the command is not on the PATH, but npx finds it.
  const cli = process.env.npm_command ? 'npx opensync' : 'opensync'
  const task = await loadTaskFile(taskFile)
  if (!options.run) {
    // Without a run, a store is opened only to forget an earlier demo in this folder.
    if (options.storeUrl || existsSync(DEFAULT_SQLITE_FILE)) {
      const store = await openStore(options.storeUrl ? { url: options.storeUrl } : {})
      await forget(store, task.id).finally(() => store.close())
    }
    process.stdout.write(`\nRun it: ${cli} run ${quoteArg(shown)}\n`)
    return 0
  }
  const store = await openStore(options.storeUrl ? { url: options.storeUrl } : {})
  const progress = new ProgressLine(process.stderr, {
    systems: [task.systems[0].key, task.systems[1].key],
  })
  try {
    await forget(store, task.id)
    process.stdout.write(
      '\nRunning the task: it links the companies the ERP already has by e-mail, creates the\n' +
        "others in the ERP and the ERP's own customers in the CRM.\n\n",
    )
    const result = await runTask(task, {
      store,
      registry: options.registry,
      trigger: 'demo',
      onProgress: (p) => progress.update(p),
    })
    progress.done()
    process.stdout.write(`${summary(task, result, { file: shown })}\n`)
    if (result.status !== 'succeeded') return 1
    const file = quoteArg(shown)
    const crm = quoteArg(join(folder, 'crm.db'))
    const hints: [string, string][] = [
      [`${cli} run ${file}`, 'again: nothing to write'],
      [`sqlite3 ${crm} "UPDATE addresses SET city = 'Bonn' WHERE id = 1"`, ''],
      [`${cli} run ${file} --dry-run`, 'shows that one update'],
      [`${cli} executions ${file}`, 'the runs; add an id for its protocol'],
    ]
    const width = Math.max(...hints.filter(([, c]) => c).map(([h]) => h.length))
    process.stdout.write(
      `\nTry next:\n${hints.map(([h, c]) => `  ${c ? `${h.padEnd(width)}   # ${c}` : h}`).join('\n')}\n`,
    )
    return 0
  } finally {
    progress.done()
    await store.close()
  }
}

/**
 * Removes what the store knows of an earlier demo in the same folder: its databases were
 * just made anew, so its links, base state and checkpoints describe records that are gone.
 */
function forget(store: Store, taskId: string): Promise<void> {
  return store.links.removeTask(taskId)
}

/** A path relative to the current folder when it is inside it, else absolute. */
function displayPath(path: string): string {
  const rel = relative(process.cwd(), path)
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path
}

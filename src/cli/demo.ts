import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, isAbsolute, join, relative, resolve } from 'node:path'
import Database from 'better-sqlite3'
import { stringify } from 'yaml'
import {
  MailingProService,
  newMailingProData,
  startMailingProApi,
} from '../demo/mailing-pro-api.ts'
import { runTask } from '../engine/run-task.ts'
import { loadTaskFile, type TaskFileInput } from '../engine/task/index.ts'
import type { ResolvedTask } from '../engine/task/resolved-task.ts'
import type { BridgeRegistry } from '../sdk/index.ts'
import { loadProfiles, taskFromProfiles } from '../service/profiles/index.ts'
import type { TaskManager } from '../service/task-manager.ts'
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
export const DEMO_FILES = [
  'crm.db',
  'erp.db',
  'demo.task.yaml',
  'mailing-pro.json',
  'newsletter.task.yaml',
] as const

/**
 * The demo's MailingPro account: the tenant and pool the newsletter task keeps in step
 * with the CRM contacts of one postal code. The API client's secret is made anew for
 * every demo and kept in the data file (mailing-pro.json) only.
 */
export const DEMO_MAILING_PRO = {
  file: 'mailing-pro.json',
  client: 'opensync-demo',
  tenant: 'demo-tenant',
  pool: 'newsletter-karlsruhe',
  zip: '76137',
  city: 'Karlsruhe',
} as const

/** The newsletter task's id: the demo task's, with `-newsletter`. */
export function newsletterTaskId(folder: string): string {
  return `${demoTaskId(folder)}-newsletter`
}

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
  rmSync(join(dir, 'newsletter.task.yaml'), { force: true })
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
  // MailingPro: a pool with two CRM contacts of the newsletter's postal code (their names
  // outdated), and two recipients only MailingPro has (people who subscribed on the web).
  const known = crm
    .prepare(
      `SELECT c.email, c.first_name, c.last_name FROM contacts c JOIN addresses a ON a.id = c.address_id
       WHERE a.zip1 = ? ORDER BY c.id LIMIT 2`,
    )
    .all(DEMO_MAILING_PRO.zip) as { email: string; first_name: string; last_name: string }[]
  MailingProService.write(
    join(dir, DEMO_MAILING_PRO.file),
    newMailingProData(
      DEMO_MAILING_PRO.tenant,
      DEMO_MAILING_PRO.pool,
      [
        ...known.map((c) => ({
          email: c.email,
          firstName: c.first_name.slice(0, 1),
          lastName: c.last_name.toUpperCase(),
          zip: DEMO_MAILING_PRO.zip,
        })),
        { email: 'subscriber@web.example', firstName: 'Sam', lastName: 'Web', zip: '76137' },
        { email: 'press@news.example', firstName: 'Pia', lastName: 'Presse', zip: '76131' },
      ],
      DEMO_MAILING_PRO.client,
    ),
  )
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

/**
 * The demo's second task, made from the shipped demo-crm and mailing-pro profiles (as
 * `opensync tasks new --from` makes one): the CRM contacts of the addresses in
 * {@link DEMO_MAILING_PRO}'s postal code → the recipients of its pool, linked by e-mail.
 * The API's client secret is in the document only `withSecret` (a task the store keeps,
 * encrypted); otherwise it is a `${VAR}` reference, named in `env`.
 */
export async function newsletterTask(
  folder: string,
  registry: BridgeRegistry,
  baseUrl: string,
  options: { readonly withSecret: boolean },
): Promise<{ readonly document: TaskFileInput; readonly env: readonly string[] }> {
  const dir = resolve(folder)
  const { tenant, pool, zip, city } = DEMO_MAILING_PRO
  const client = MailingProService.open(join(dir, DEMO_MAILING_PRO.file)).data().clients[0]!
  const crmFile = join(dir, 'crm.db')
  const crm = new Database(crmFile, { readonly: true, fileMustExist: true })
  const ids = crm
    .prepare('SELECT id FROM addresses WHERE zip1 = ? ORDER BY id')
    .pluck()
    .all(zip) as number[]
  crm.close()
  const catalog = await loadProfiles({ registry, sources: [] })
  const { document, missing, env } = taskFromProfiles(
    catalog.get('demo-crm'),
    catalog.get('mailing-pro'),
    {
      id: newsletterTaskId(dir),
      subject: `Newsletter: CRM contacts in ${zip} ${city} → MailingPro pool`,
      connection: {
        home: { file: crmFile },
        other: {
          baseUrl,
          user: client.id,
          ...(options.withSecret ? { password: client.secret } : {}),
          tenant,
          pool,
        },
      },
      pairs: [
        {
          id: 'contacts',
          direction: 'home->other',
          // The contacts of the addresses with this postal code (a filter takes no subquery).
          filters: { home: { sql: `address_id IN (${ids.length > 0 ? ids.join(', ') : 0})` } },
        },
      ],
      plan: { kind: 'interval', every: 15, unit: 'minutes' },
    },
  )
  const open = missing.filter((m) => !env.some((v) => m.message.includes(v)))
  if (open.length > 0 && options.withSecret) {
    throw new Error(`the newsletter task is incomplete: ${open.map((m) => m.path).join(', ')}`)
  }
  return { document, env }
}

/** `opensync demo`: creates the demo and runs its two tasks once. */
export async function runDemo(options: DemoOptions): Promise<number> {
  const records = options.records ?? 3000
  const taskFile = createDemo(options.folder, records, options.force === true)
  const shown = displayPath(taskFile)
  const folder = displayPath(dirname(taskFile))
  const mp = DEMO_MAILING_PRO
  const recipients = MailingProService.open(join(dirname(taskFile), mp.file)).rows(
    mp.tenant,
    mp.pool,
  ).length
  process.stdout.write(
    `Created the demo in ${folder}/:
  crm.db            a CRM: ${fmt(records)} addresses, with contacts and opportunities
  erp.db            an ERP: customers and their orders. About 60% of the CRM's companies
                    are there already (some spelled differently, countries as ISO codes),
                    and ${fmt(Math.floor(records / 10))} customers only the ERP has
  demo.task.yaml    the task: CRM addresses ↔ ERP customers, linked by e-mail
  mailing-pro.json  MailingPro, a fictitious e-mail-marketing service: tenant ${mp.tenant},
                    pool ${mp.pool} with ${recipients} recipients. Its API runs while
                    opensync demo (or opensync start --demo) runs
`,
  )
  // Through `npm run demo` the command is not on the PATH, but npx finds it.
  const cli = process.env.npm_command ? 'npx opensync' : 'opensync'
  const task = await loadTaskFile(taskFile)
  if (!options.run) {
    // Without a run, a store is opened only to forget an earlier demo in this folder.
    if (options.storeUrl || existsSync(DEFAULT_SQLITE_FILE)) {
      const store = await openStore(options.storeUrl ? { url: options.storeUrl } : {})
      const ids = [task.id, newsletterTaskId(dirname(taskFile))]
      await Promise.all(ids.map((id) => forget(store, id))).finally(() => store.close())
    }
    process.stdout.write(`\nRun it: ${cli} run ${quoteArg(shown)}\n`)
    return 0
  }
  const store = await openStore(options.storeUrl ? { url: options.storeUrl } : {})
  try {
    await forget(store, task.id)
    process.stdout.write(
      '\nRunning the task: it links the companies the ERP already has by e-mail, creates the\n' +
        "others in the ERP and the ERP's own customers in the CRM.\n\n",
    )
    const result = await runOne(task, store, options.registry)
    process.stdout.write(`${summary(task, result, { file: shown })}\n`)
    if (result.status !== 'succeeded') return 1
    const newsletter = await runNewsletter(dirname(taskFile), store, options.registry)
    if (newsletter !== 'succeeded') return 1
    const file = quoteArg(shown)
    const crm = quoteArg(join(folder, 'crm.db'))
    const hints: [string, string][] = [
      [`${cli} run ${file}`, 'again: nothing to write'],
      [`sqlite3 ${crm} "UPDATE addresses SET city = 'Bonn' WHERE id = 1"`, ''],
      [`${cli} run ${file} --dry-run`, 'shows that one update'],
      [`${cli} executions ${file}`, 'the runs; add an id for its protocol'],
      [`${cli} start --demo`, 'the service and console, with both demo tasks'],
    ]
    const width = Math.max(...hints.filter(([, c]) => c).map(([h]) => h.length))
    process.stdout.write(
      `\nTry next:\n${hints.map(([h, c]) => `  ${c ? `${h.padEnd(width)}   # ${c}` : h}`).join('\n')}\n`,
    )
    return 0
  } finally {
    await store.close()
  }
}

/** Runs a task once with a progress line on stderr. */
async function runOne(task: ResolvedTask, store: Store, registry: BridgeRegistry) {
  const progress = new ProgressLine(process.stderr, {
    systems: [task.systems[0].key, task.systems[1].key],
  })
  try {
    return await runTask(task, {
      store,
      registry,
      trigger: 'demo',
      onProgress: (p) => progress.update(p),
    })
  } finally {
    progress.done()
  }
}

/**
 * The newsletter task of `opensync demo`: the MailingPro demo API is served for the run
 * (on a free port of 127.0.0.1), the task written to newsletter.task.yaml — its client
 * secret a `${VAR}` reference, given to this run only — and run once.
 */
async function runNewsletter(dir: string, store: Store, registry: BridgeRegistry): Promise<string> {
  const service = MailingProService.open(join(dir, DEMO_MAILING_PRO.file))
  const api = await startMailingProApi(service, { port: 0 })
  try {
    const { document, env } = await newsletterTask(dir, registry, api.url, { withSecret: false })
    const file = join(dir, 'newsletter.task.yaml')
    writeFileSync(
      file,
      `# OpenSync demo: the CRM contacts of one postal code → the recipients of a MailingPro pool.
# MailingPro is fictitious: its API (data: mailing-pro.json) ran on ${api.url} while
# opensync demo ran; opensync start --demo serves it too, with this task stored.
${stringify(document)}`,
    )
    const secret = service.data().clients[0]!.secret
    const task = await loadTaskFile(file, {
      ...process.env,
      ...Object.fromEntries(env.map((name) => [name, secret])),
    })
    await forget(store, task.id)
    process.stdout.write(
      `\nRunning the newsletter task: the CRM contacts in ${DEMO_MAILING_PRO.zip} become recipients of the pool.\n\n`,
    )
    const result = await runOne(task, store, registry)
    process.stdout.write(`${summary(task, result, { file: displayPath(file) })}\n`)
    return result.status
  } finally {
    await api.close()
  }
}

/** What `start` hands the demo: the demo folder, the stored tasks, the bridges, its log. */
export interface DemoDeps {
  readonly folder: string
  readonly tasks: TaskManager
  readonly registry: BridgeRegistry
  readonly log: { info(obj: object, msg: string): void }
}

/** What `opensync start --demo` runs beside the service. */
export interface DemoServices {
  /** The MailingPro demo API's base URL, when the demo has MailingPro data. */
  readonly mailingProUrl?: string
  /** Stops the MailingPro demo API and writes its data file. */
  close(): Promise<void>
}

/**
 * `opensync start --demo`, before the service starts: when no demo task is stored, the
 * demo (in `folder`; made there unless it is there already) and its task are stored; then
 * the MailingPro demo API is served from the folder's data file — on the port it had last
 * when that is free, else on a free one — and the stored newsletter task follows its URL
 * (it is stored, with the API's client secret encrypted, along with a new demo task).
 */
export async function startDemo(deps: DemoDeps): Promise<DemoServices> {
  const { tasks, log } = deps
  const dir = resolve(deps.folder)
  const stored = await tasks.list()
  let storedNow = false
  if (!stored.some((t) => t.id.startsWith('demo-'))) {
    // A demo left in the data folder (its task deleted since) is stored again, not overwritten.
    const left = join(dir, 'demo.task.yaml')
    const file = existsSync(left) ? left : createDemo(dir)
    const task = await tasks.save(readFileSync(file, 'utf8'))
    storedNow = true
    log.info(
      { taskId: task.id, file },
      'created the demo CRM and ERP and stored their task: it runs every 15 minutes; edit a record and run: opensync tasks start <id>',
    )
  }
  return serveMailingPro(dir, stored, storedNow, deps)
}

/**
 * `opensync start` without `--demo` on a store that holds the demo's newsletter task (an
 * earlier `npm start`): the MailingPro demo API is served as `start --demo` serves it, so the
 * stored task keeps working. Nothing is stored or created; without the task or the demo's
 * data file nothing is served.
 */
export async function serveDemoApi(deps: DemoDeps): Promise<DemoServices> {
  const dir = resolve(deps.folder)
  const stored = await deps.tasks.list()
  if (!stored.some((t) => t.id === newsletterTaskId(dir))) return { close: async () => {} }
  return serveMailingPro(dir, stored, false, deps)
}

/**
 * Serves the MailingPro demo API from the demo folder's data file; stores the newsletter
 * task when the demo was stored just now, else points the stored one at the API's URL.
 */
async function serveMailingPro(
  dir: string,
  stored: readonly { readonly id: string; readonly draft: boolean }[],
  storedNow: boolean,
  deps: DemoDeps,
): Promise<DemoServices> {
  const { tasks, log } = deps
  const dataFile = join(dir, DEMO_MAILING_PRO.file)
  if (!existsSync(dataFile)) return { close: async () => {} }
  const api = await startMailingProApi(MailingProService.open(dataFile))
  try {
    const id = newsletterTaskId(dir)
    const existing = stored.find((t) => t.id === id)
    if (!existing && storedNow) {
      const { document } = await newsletterTask(dir, deps.registry, api.url, { withSecret: true })
      await tasks.save(document)
      log.info(
        { taskId: id, mailingPro: api.url },
        `stored the demo newsletter task: CRM contacts in ${DEMO_MAILING_PRO.zip} → MailingPro pool ${DEMO_MAILING_PRO.pool}`,
      )
    } else if (existing) {
      await followUrl(tasks, id, api.url, existing.draft)
    }
  } catch (error) {
    await api.close()
    throw error
  }
  log.info({ url: api.url, data: dataFile }, `MailingPro demo API at ${api.url}`)
  return { mailingProUrl: api.url, close: () => api.close() }
}

/**
 * Points the stored newsletter task at the demo API's URL where it names another demo API
 * URL (the port changed); a URL the user set to anything else is left alone. Secrets stay
 * as stored: the exported document has placeholders, which saving keeps.
 */
async function followUrl(tasks: TaskManager, id: string, url: string, draft: boolean) {
  const document = (await tasks.export(id)) as {
    systems?: Record<string, { bridge?: string; connection?: Record<string, unknown> }>
  }
  let changed = false
  for (const system of Object.values(document.systems ?? {})) {
    const baseUrl = system.connection?.baseUrl
    if (
      system.bridge === 'rest' &&
      typeof baseUrl === 'string' &&
      baseUrl !== url &&
      /^http:\/\/127\.0\.0\.1:\d+\/mp\/v1$/.test(baseUrl)
    ) {
      system.connection!.baseUrl = url
      changed = true
    }
  }
  if (changed) await tasks.save(document, draft ? { draft: true } : {})
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

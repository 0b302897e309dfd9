import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRegistry } from '../../src/bridges/index.ts'
import { type RunOptions, type RunResult, runTask } from '../../src/engine/run-task.ts'
import { parseTaskFile } from '../../src/engine/task/index.ts'
import type { ResolvedTask } from '../../src/engine/task/resolved-task.ts'
import type { BridgeRegistry } from '../../src/sdk/index.ts'
import { openStore, type Store } from '../../src/store/index.ts'
import type { BridgeHarness, HarnessDb } from './harness.ts'
import { harnesses } from './harnesses.ts'

/**
 * Pairs of bridges the engine tests run across (same-kind, and each server to the other),
 * each with a label: `describe.each(bridgeCombos())('sync %s', (_label, crm, erp) => …)`.
 */
export function bridgeCombos(): [string, BridgeHarness, BridgeHarness][] {
  const by = new Map(harnesses.map((h) => [h.name, h]))
  const combos: [string, string][] = [
    ['sqlite', 'sqlite'],
    ['postgres', 'mysql'],
    ['mysql', 'postgres'],
  ]
  return combos
    .filter(([a, b]) => by.has(a) && by.has(b))
    .map(([a, b]) => [`${a} (crm) ↔ ${b} (erp)`, by.get(a)!, by.get(b)!])
}

/** Two fresh databases (`crm` and `erp`), a fresh metadata store, and helpers to run tasks between them. */
export class SyncFixture {
  static async create(crm: BridgeHarness, erp: BridgeHarness): Promise<SyncFixture> {
    const [a, b] = await Promise.all([crm.setup(), erp.setup()])
    const dir = mkdtempSync(join(tmpdir(), 'osy-store-'))
    const store = await openStore({ url: join(dir, 'store.db') })
    return new SyncFixture(crm, erp, a, b, store, await createRegistry())
  }

  #tables = 0
  readonly crmHarness: BridgeHarness
  readonly erpHarness: BridgeHarness
  readonly crm: HarnessDb
  readonly erp: HarnessDb
  readonly store: Store
  readonly registry: BridgeRegistry

  private constructor(
    crmHarness: BridgeHarness,
    erpHarness: BridgeHarness,
    crm: HarnessDb,
    erp: HarnessDb,
    store: Store,
    registry: BridgeRegistry,
  ) {
    this.crmHarness = crmHarness
    this.erpHarness = erpHarness
    this.crm = crm
    this.erp = erp
    this.store = store
    this.registry = registry
  }

  /** Creates a contacts table on both sides; returns its name. */
  async contacts(
    options: { crmNameLength?: number; erpNameLength?: number } = {},
  ): Promise<string> {
    const table = `contacts_${++this.#tables}`
    await this.crm.exec(
      this.crmHarness.ddl.contacts(
        table,
        options.crmNameLength ? { nameLength: options.crmNameLength } : {},
      ),
    )
    await this.erp.exec(
      this.erpHarness.ddl.contacts(
        table,
        options.erpNameLength ? { nameLength: options.erpNameLength } : {},
      ),
    )
    return table
  }

  /** A task between the two contacts tables; `pair` lines are added to the pair (YAML, 4-space indent). */
  task(
    table: string,
    pair = '',
    options: {
      id?: string
      /** An SQL condition, or field = value pairs (a key-value filter). */
      crmFilter?: string | Readonly<Record<string, string | number | boolean>>
      erpFilter?: string | Readonly<Record<string, string | number | boolean>>
      lag?: number
      crmType?: string
      crmKey?: string
      /** The crm side's change cursor (default updated_at). */
      crmCursor?: string
      snapshot?: boolean
    } = {},
  ): ResolvedTask {
    const id = options.id ?? table
    const filterOf = (f: (typeof options)['crmFilter']) =>
      f === undefined
        ? ''
        : typeof f === 'string'
          ? `, filter: { sql: ${JSON.stringify(f)} }`
          : `, filter: { keyValue: ${JSON.stringify(f)} }`
    const filter = filterOf(options.crmFilter)
    const lag = options.lag !== undefined ? `, lag: ${options.lag}` : ''
    // Snapshot mode: no cursor, every run reads everything and compares it with the base.
    const cursor = options.snapshot ? '' : ', cursor: updated_at'
    const yaml = `id: ${id}
subject: ${table} CRM ↔ ERP
systems:
  crm: { bridge: ${this.crmHarness.bridge.name}, connection: ${JSON.stringify(this.crm.values)} }
  erp: { bridge: ${this.erpHarness.bridge.name}, connection: ${JSON.stringify(this.erp.values)} }
pairs:
  - crm: { type: ${options.crmType ?? table}${options.crmCursor ? `, cursor: ${options.crmCursor}` : cursor}${lag}${filter}${options.crmKey ? `, key: [${options.crmKey}]` : ''} }
    erp: { type: ${table}${cursor}${lag}${filterOf(options.erpFilter)} }
    fields:
      email: email
      name: name
      city: city
      score: score
    match: [email]
${pair}`
    return parseTaskFile(yaml, { format: 'yaml', env: {} })
  }

  run(task: ResolvedTask, options: Partial<RunOptions> = {}): Promise<RunResult> {
    return runTask(task, { store: this.store, registry: this.registry, batchSize: 50, ...options })
  }

  /** Inserts contacts on a side: `[email, name, city, score]`. */
  async insert(
    side: 'crm' | 'erp',
    table: string,
    rows: readonly (readonly [string, string | null, string | null, string | null])[],
  ): Promise<void> {
    if (rows.length === 0) return
    const h = side === 'crm' ? this.crmHarness : this.erpHarness
    const q = h.quote
    const lit = (v: string | null) => (v === null ? 'NULL' : `'${v.replaceAll("'", "''")}'`)
    await this[side].exec(
      `INSERT INTO ${q(table)} (${['email', 'name', 'city', 'score'].map(q).join(', ')}) VALUES ${rows.map((r) => `(${r.map(lit).join(', ')})`).join(', ')}`,
    )
  }

  /** Runs raw SQL on a side, with `"x"` quoted for that side's dialect. */
  async sql(side: 'crm' | 'erp', text: string): Promise<void> {
    const h = side === 'crm' ? this.crmHarness : this.erpHarness
    await this[side].exec(text.replace(/"([^"]+)"/g, (_, name: string) => h.quote(name)))
  }

  /** The contacts of a side by e-mail, as `{ name, city, score }` with score as text. */
  async rows(
    side: 'crm' | 'erp',
    table: string,
  ): Promise<Map<string, { name: unknown; city: unknown; score: unknown }>> {
    const h = side === 'crm' ? this.crmHarness : this.erpHarness
    const q = h.quote
    const rows = await this[side].query(
      `SELECT ${['email', 'name', 'city', 'score'].map(q).join(', ')} FROM ${q(table)}`,
    )
    return new Map(
      rows.map((r) => [
        String(r.email),
        {
          name: r.name ?? null,
          city: r.city ?? null,
          score: r.score === null || r.score === undefined ? null : Number(r.score).toFixed(2),
        },
      ]),
    )
  }

  async count(side: 'crm' | 'erp', table: string): Promise<number> {
    const q = (side === 'crm' ? this.crmHarness : this.erpHarness).quote
    const [row] = await this[side].query(`SELECT COUNT(*) AS n FROM ${q(table)}`)
    return Number(row!.n)
  }

  async close(): Promise<void> {
    await this.store.close()
    await Promise.all([this.crm.teardown(), this.erp.teardown()])
  }
}

/** What a run wrote: creates, updates and deletes summed over every pair and direction. */
export function written(result: RunResult): number {
  return result.totals.created + result.totals.updated + result.totals.deleted
}

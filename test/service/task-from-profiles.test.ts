// biome-ignore-all lint/suspicious/noTemplateCurlyInString: profiles and tasks write ${VAR} in plain strings
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { stringify } from 'yaml'
import { createRegistry } from '../../src/bridges/index.ts'
import { parseTaskFile } from '../../src/engine/task/index.ts'
import { isOpenSyncError } from '../../src/sdk/index.ts'
import {
  compareVersions,
  loadProfiles,
  type ProfileCatalog,
  profileStatus,
  taskFromProfiles,
} from '../../src/service/profiles/index.ts'

const registry = await createRegistry()
const root = mkdtempSync(join(tmpdir(), 'osy-task-profiles-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

const partner = join(root, 'partner')
mkdirSync(partner)
writeFileSync(
  join(partner, 'acme-shop.yaml'),
  `
profile: acme-shop
system: ACME Shop
version: "4"
bridge: postgres
manifest: ./acme-shop.api.yaml
connection:
  fields:
    host: { label: Shop server }
    password: { required: true }
    database: { label: Shop database, required: true }
    schema: { options: [public, shop] }
  defaults: { port: 5433, schema: shop }
recordTypes:
  buyers: { cursor: changed_at }
  audit: { key: [at, who] }
pairs:
  - id: buyers
    title: Contacts ↔ Buyers
    fixed: true
    home: contacts
    other: buyers
    directions: [home->other, both]
    filters:
      other:
        parameters:
          region: { label: Region, field: region, required: true }
          min: { label: Minimum orders, type: number, sql: "orders >= :min" }
    fieldAssignments:
      standard:
        email: email
        name: { home: [first_name, last_name], other: full_name, toOther: { concat: { separator: " " } } }
    match: [email]
    conflict: { winner: other }
    deletes: { policy: propagate, maxShare: 0.1 }
  - id: audit
    title: Opportunities → Audit
    homeProfiles: [demo-crm]
    home: opportunities
    other: audit
    directions: [home->other]
    fieldAssignments:
      standard: { title: what }
`,
)
writeFileSync(join(partner, 'acme-shop.api.yaml'), 'path: /v1/${tenant}\nlimit: 10\n')

const catalog: ProfileCatalog = await loadProfiles({ registry, sources: [partner] })
const crm = catalog.get('demo-crm')
const erp = catalog.get('demo-erp')
const shop = catalog.get('acme-shop')

function optionError(fn: () => unknown): string {
  try {
    fn()
  } catch (error) {
    expect(isOpenSyncError(error) && error.code).toBe('OSY_INVALID_OPTION')
    return (error as Error).message
  }
  throw new Error('expected OSY_INVALID_OPTION')
}

describe('taskFromProfiles', () => {
  it("makes the demo's task from the profiles' defaults, recording the profiles", () => {
    const { document, missing, env } = taskFromProfiles(crm, erp)
    expect(missing).toEqual([])
    expect(env).toEqual([])
    expect(document.subject).toBe('Demo CRM ↔ Demo ERP')
    expect(document.systems).toEqual({
      crm: {
        bridge: 'sqlite',
        connection: { file: 'opensync-demo/crm.db' },
        profile: { id: 'demo-crm', version: '1' },
      },
      erp: {
        bridge: 'sqlite',
        connection: { file: 'opensync-demo/erp.db' },
        profile: { id: 'demo-erp', version: '1' },
      },
    })
    const [pair] = document.pairs as Record<string, unknown>[]
    expect(pair).toMatchObject({
      id: 'customers',
      crm: { type: 'addresses', cursor: 'updated_at' },
      erp: { type: 'customers', cursor: 'modified' },
      direction: 'both',
      match: ['email'],
      conflict: { winner: 'crm' },
      deletes: 'flag',
    })
    expect((pair!.fields as Record<string, unknown>).country).toEqual({
      crm: 'country',
      erp: 'land',
      toErp: {
        map: { Germany: 'DE', Austria: 'AT', Switzerland: 'CH', France: 'FR', Netherlands: 'NL' },
      },
    })
    // The document is a task the engine runs as it is.
    const task = parseTaskFile(stringify(document))
    expect(task.pairs[0]!.mappings.map((m) => m.id)).toEqual([
      'company',
      'street',
      'zip1',
      'city',
      'email',
      'country',
    ])
  })

  it('takes the choices of the wizard', () => {
    const { document } = taskFromProfiles(crm, erp, {
      subject: 'Karlsruhe only',
      keys: { home: 'my_crm', other: 'my_erp' },
      connection: {
        home: { file: '/data/crm.db' },
        other: { file: '/data/erp.db' },
      },
      pairs: [
        {
          id: 'customers',
          direction: 'other->home',
          fieldAssignment: 'minimal',
          conflict: 'newest',
          deletes: 'ignore',
          parameters: { home: { zip: '76137', country: 'Germany' }, other: { zip: '76137' } },
        },
      ],
      plan: { kind: 'daily', at: '02:30', timezone: 'Europe/Berlin' },
    })
    expect(document.subject).toBe('Karlsruhe only')
    expect(Object.keys(document.systems)).toEqual(['my_crm', 'my_erp'])
    expect(document.systems.my_erp!.connection).toEqual({ file: '/data/erp.db' })
    const [pair] = document.pairs as Record<string, Record<string, unknown>>[]
    expect(pair!.direction).toBe('my_erp->my_crm')
    expect(pair!.fields).toEqual({ company: 'company_name', email: 'email' })
    expect(pair!.conflict).toEqual({ winner: 'newest' })
    expect(pair!.deletes).toBe('ignore')
    // SQL parameters stay parameters, bound when the engine parses the condition.
    expect(pair!.my_crm!.filter).toEqual({
      sql: '(zip1 = :zip) AND (country = :country)',
      parameters: { zip: '76137', country: 'Germany' },
    })
    // Equalities alone stay key-value pairs.
    expect(pair!.my_erp!.filter).toEqual({ keyValue: { postal_code: '76137' } })
    expect(document.plan).toEqual({ kind: 'daily', at: '02:30', timezone: 'Europe/Berlin' })
    parseTaskFile(stringify(document))
  })

  it("joins the user's own filter with the parameters", () => {
    const { document } = taskFromProfiles(crm, erp, {
      pairs: [
        {
          id: 'customers',
          parameters: { home: { zip: '76137' } },
          filters: {
            home: { sql: 'city <> :town', parameters: { town: 'Bonn' } },
            other: { keyValue: { land: 'DE' } },
          },
        },
      ],
    })
    const [pair] = document.pairs as Record<string, Record<string, unknown>>[]
    expect(pair!.crm!.filter).toEqual({
      sql: '(city <> :town) AND (zip1 = :zip)',
      parameters: { town: 'Bonn', zip: '76137' },
    })
    expect(pair!.erp!.filter).toEqual({ keyValue: { land: 'DE' } })
  })

  it('refuses what the profiles do not offer, naming it', () => {
    expect(optionError(() => taskFromProfiles(erp, crm))).toMatch(
      /profile demo-erp cannot be a home system/,
    )
    expect(optionError(() => taskFromProfiles(crm, erp, { pairs: ['orders'] }))).toMatch(
      /pair orders is not on offer between demo-crm and demo-erp \(offered: customers\)/,
    )
    expect(
      optionError(() =>
        taskFromProfiles(crm, shop, { pairs: [{ id: 'buyers', direction: 'other->home' }] }),
      ),
    ).toMatch(/pair buyers offers the directions home->other, both, not other->home/)
    expect(
      optionError(() =>
        taskFromProfiles(crm, erp, { pairs: [{ id: 'customers', fieldAssignment: 'full' }] }),
      ),
    ).toMatch(/has no field assignment full \(it has: standard, minimal\)/)
    expect(
      optionError(() =>
        taskFromProfiles(crm, erp, {
          pairs: [{ id: 'customers', parameters: { home: { postcode: '1' } } }],
        }),
      ),
    ).toMatch(/has no home filter parameter postcode \(parameters: zip, country\)/)
    expect(
      optionError(() =>
        taskFromProfiles(crm, erp, {
          pairs: [{ id: 'customers', parameters: { home: { country: 'Spain' } } }],
        }),
      ),
    ).toMatch(/must be one of Germany, Austria/)
    expect(
      optionError(() => taskFromProfiles(crm, shop, { connection: { other: { port: 1 } } })),
    ).toMatch(/profile acme-shop fixes port/)
    expect(
      optionError(() => taskFromProfiles(crm, shop, { connection: { other: { schema: 'x' } } })),
    ).toMatch(/must be one of public, shop/)
    expect(optionError(() => taskFromProfiles(crm, erp, { keys: { home: 'both' } }))).toMatch(
      /reserved word/,
    )
  })

  it('copies everything a task needs: settings embedded, keys, fixed values, secrets by reference', () => {
    const { document, missing, env } = taskFromProfiles(crm, shop, {
      pairs: [{ id: 'buyers', parameters: { other: { region: 'south', min: '3' } } }],
      connection: { other: { database: 'shop' } },
    })
    expect(env).toEqual(['ACME_SHOP_PASSWORD'])
    expect(missing).toEqual([])
    expect(document.systems.acme_shop).toEqual({
      bridge: 'postgres',
      connection: {
        password: '${ACME_SHOP_PASSWORD}',
        database: 'shop',
        schema: 'shop',
        port: 5433,
      },
      // `${` in settings is data: written $${ so the task's substitution gives the text back.
      settings: { manifest: { path: '/v1/$${tenant}', limit: 10 } },
      profile: { id: 'acme-shop', version: '4' },
    })
    const [pair] = document.pairs as Record<string, Record<string, unknown>>[]
    expect(pair!.acme_shop).toEqual({
      type: 'buyers',
      cursor: 'changed_at',
      filter: {
        sql: '(region = :region) AND (orders >= :min)',
        parameters: { region: 'south', min: 3 },
      },
    })
    expect(pair!.direction).toBe('crm->acme_shop')
    expect(pair!.fields).toEqual({
      email: 'email',
      name: {
        crm: ['first_name', 'last_name'],
        acme_shop: 'full_name',
        toAcme_shop: { concat: { separator: ' ' } },
      },
    })
    expect(pair!.conflict).toEqual({ winner: 'acme_shop' })
    expect(pair!.deletes).toEqual({ policy: 'propagate', maxShare: 0.1 })
    const task = parseTaskFile(stringify(document), { env: { ACME_SHOP_PASSWORD: 'pw' } })
    expect(task.systems[1].settings).toEqual({ manifest: { path: '/v1/${tenant}', limit: 10 } })
    expect(task.systems[1].connection.password).toBe('pw')
  })

  it('a fixed pair is always on, a pair for another home is not offered', () => {
    const none = taskFromProfiles(crm, shop, { pairs: [] })
    expect(none.document.pairs.map((p) => p.id)).toEqual(['buyers'])
    const all = taskFromProfiles(crm, shop)
    expect(all.document.pairs.map((p) => p.id)).toEqual(['buyers', 'audit'])
    const pg = catalog.get('postgres')
    const withPg = taskFromProfiles(pg, shop)
    expect(withPg.document.pairs.map((p) => p.id)).toEqual(['buyers'])
    expect(Object.keys(withPg.document.systems)).toEqual(['db', 'acme_shop'])
  })

  it('says what is missing, and a required parameter without a value stops the run', () => {
    const { document, missing } = taskFromProfiles(catalog.get('postgres'), shop)
    expect(missing.map((m) => m.path)).toEqual([
      'systems.db.connection.database',
      'systems.acme_shop.connection.database',
      'pairs[0].acme_shop.filter.parameters.region',
    ])
    const [pair] = document.pairs as Record<string, Record<string, unknown>>[]
    expect(pair!.acme_shop!.filter).toEqual({ sql: 'region = :region', parameters: {} })
    const nothing = taskFromProfiles(crm, catalog.get('postgres'))
    expect(nothing.missing.map((m) => `${m.path}: ${m.message}`)).toContain(
      'pairs: postgres offers no pairs with demo-crm: write them yourself',
    )
  })
})

describe('profile versions', () => {
  it('compare part by part', () => {
    expect(compareVersions('3.10', '3.9')).toBeGreaterThan(0)
    expect(compareVersions('2', '10')).toBeLessThan(0)
    expect(compareVersions('1.0', '1.0')).toBe(0)
    expect(compareVersions('1.0.1', '1.0')).toBeGreaterThan(0)
    expect(compareVersions('2024-02', '2024-10')).toBeLessThan(0)
  })

  it('tell a task whether its profile now offers something newer', () => {
    const doc = {
      systems: {
        crm: { profile: { id: 'demo-crm', version: '1' } },
        shop: { profile: { id: 'acme-shop', version: '3' } },
        gone: { profile: { id: 'acme-gone', version: '1' } },
        plain: {},
      },
    }
    expect(profileStatus(doc, catalog)).toEqual([
      { system: 'crm', id: 'demo-crm', version: '1', status: 'current', available: '1' },
      { system: 'shop', id: 'acme-shop', version: '3', status: 'newer', available: '4' },
      { system: 'gone', id: 'acme-gone', version: '1', status: 'missing' },
    ])
  })
})

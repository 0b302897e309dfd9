// biome-ignore-all lint/suspicious/noTemplateCurlyInString: profiles and tasks write ${VAR} in plain strings
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { builtinBridges, createRegistry } from '../../src/bridges/index.ts'
import { isOpenSyncError } from '../../src/sdk/index.ts'
import {
  loadProfiles,
  type ProfileIssue,
  profileJsonSchema,
  profileSources,
  readProfileFile,
  SHIPPED_PROFILES_DIR,
} from '../../src/service/profiles/index.ts'

const registry = await createRegistry()
const root = mkdtempSync(join(tmpdir(), 'osy-profiles-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

let folders = 0
/** A fresh folder with the given files. */
function folder(files: Record<string, string>): string {
  const dir = join(root, `f${++folders}`)
  mkdirSync(dir, { recursive: true })
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true })
    writeFileSync(join(dir, name), text)
  }
  return dir
}

const ERP = `
profile: acme-erp
system: ACME ERP
version: "2.1"
bridge: sqlite
systemKey: acme
connection:
  fields: { file: { label: ERP file } }
recordTypes:
  customers: { title: Customers, cursor: modified }
pairs:
  - id: customers
    title: Addresses ↔ Customers
    homeProfiles: [demo-crm]
    home: addresses
    other: customers
    fieldAssignments:
      standard: { email: email, company: company_name }
      minimal: { email: email }
    match: [email]
`

/** The issues of one profile text, as `path: message` lines. */
async function issuesOf(text: string, extra: Record<string, string> = {}): Promise<string[]> {
  const dir = folder({ 'p.yaml': text, ...extra })
  const result = await readProfileFile(join(dir, 'p.yaml'), registry)
  expect(result.ok, 'the profile should be invalid').toBe(false)
  return result.ok ? [] : result.issues.map((i) => `${i.path}: ${i.message}`)
}

/** A copy of ERP with one line replaced. */
function edit(from: string, to: string, text = ERP): string {
  expect(text).toContain(from)
  return text.replace(from, to)
}

describe('shipped profiles', () => {
  it('are all valid; only those of bridges this build lacks are set aside', async () => {
    const catalog = await loadProfiles({ registry, sources: [] })
    expect(catalog.problems).toEqual([])
    const ids = catalog.list().map((p) => p.id)
    expect(ids).toEqual(expect.arrayContaining(['demo-crm', 'demo-erp', 'postgres', 'mysql']))
    const builtin = new Set(builtinBridges.map((b) => b.name))
    for (const issue of catalog.unavailable) {
      const bridge = parse(
        readFileSync(join(SHIPPED_PROFILES_DIR, `${issue.profile}.yaml`), 'utf8'),
      ).bridge as string
      expect(builtin.has(bridge), issue.message).toBe(false)
    }
    expect(catalog.list().length + catalog.unavailable.length).toBe(5)
  })

  it('mailing-pro offers recipients with email, firstName, lastName and zip', () => {
    const text = parse(readFileSync(join(SHIPPED_PROFILES_DIR, 'mailing-pro.yaml'), 'utf8'))
    expect(text.bridge).toBe('rest')
    expect(text.manifest).toBe('./mailing-pro.rest.yaml')
    expect(text.recordTypes.recipients.fields).toEqual(
      expect.arrayContaining(['email', 'firstName', 'lastName', 'zip']),
    )
    for (const pair of text.pairs) expect(pair.other).toBe('recipients')
  })

  it('the home profiles of servers pick their database from the server', async () => {
    const catalog = await loadProfiles({ registry, sources: [] })
    for (const id of ['postgres', 'mysql']) {
      const p = catalog.get(id)
      expect(p.pickDatabase).toBe(true)
      expect(p.connection.fields.find((f) => f.name === 'database')?.pickFromServer).toBe(true)
    }
    expect(catalog.homes().map((p) => p.id)).toEqual(['demo-crm', 'mysql', 'postgres'])
  })
})

describe('the profile schema', () => {
  it('is one JSON Schema for editors and the API', () => {
    const schema = profileJsonSchema as {
      required: string[]
      properties: Record<string, unknown>
      additionalProperties: boolean
    }
    expect(schema.required).toEqual(
      expect.arrayContaining(['profile', 'system', 'version', 'bridge']),
    )
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining(['connection', 'home', 'recordTypes', 'pairs', 'manifest']),
    )
    expect(schema.additionalProperties).toBe(false)
    expect(JSON.stringify(schema)).toContain('"ProfilePair"')
  })

  it('reads a valid profile with its defaults', async () => {
    const dir = folder({ 'acme-erp.yaml': ERP })
    const result = await readProfileFile(join(dir, 'acme-erp.yaml'), registry)
    if (!result.ok) throw new Error(JSON.stringify(result.issues))
    const { profile, connection } = result.profile
    expect(profile.version).toBe('2.1')
    expect(profile.pairs[0]!.directions).toEqual(['both', 'home->other', 'other->home'])
    expect(profile.pairs[0]!.conflict).toEqual({ winner: 'home' })
    expect(profile.pairs[0]!.fixed).toBe(false)
    // Shown: only the file, relabelled; the bridge's other fields are hidden with its defaults.
    expect(connection.fields.map((f) => [f.name, f.label, f.required])).toEqual([
      ['file', 'ERP file', true],
    ])
  })

  it('a number as version is read as text', async () => {
    const dir = folder({ 'p.yaml': edit('version: "2.1"', 'version: 3') })
    const result = await readProfileFile(join(dir, 'p.yaml'), registry)
    expect(result.ok && result.profile.profile.version).toBe('3')
  })

  it('reports each kind of problem at its path', async () => {
    expect(
      await issuesOf(
        edit('title: Addresses ↔ Customers', 'title: x\n    directions: [both, sideways]'),
      ),
    ).toEqual(['pairs[0].directions[1]: must be one of both, home->other, other->home'])
    expect(await issuesOf(edit('system: ACME ERP\n', ''))).toEqual(['system: is required'])
    expect(
      await issuesOf(edit('    match: [email]', '    match: [email]\n    fitler: {}')),
    ).toEqual([
      'pairs[0].fitler: unknown key (allowed: id, title, description, homeProfiles, home, other, fixed, directions, direction, filters, fieldAssignments, match, conflict, deletes)',
    ])
    expect(await issuesOf(edit('profile: acme-erp', 'profile: ACME ERP'))).toEqual([
      'profile: must be a slug: lowercase letters and digits, separated by single hyphens or underscores',
    ])
    expect(
      await issuesOf(
        edit(
          '    home: addresses',
          '    home: addresses\n    directions: [home->other]\n    direction: both',
        ),
      ),
    ).toEqual(['pairs[0].direction: must be one of the offered directions (home->other)'])
    expect(
      await issuesOf(edit('minimal: { email: email }', 'minimal: { company: company_name }')),
    ).toEqual(['pairs[0].match[0]: field assignment minimal has no mapping email'])
    expect(await issuesOf(edit('    other: customers', '    other: clients'))).toEqual([
      'pairs[0].other: no record type clients under recordTypes (customers)',
    ])
    expect(
      await issuesOf(edit('conflict', 'conflict', `${ERP}    conflict: { winner: erp }\n`)),
    ).toEqual(['pairs[0].conflict.winner: must be one of home, other, newest, manual'])
  })

  it('checks the connection section against the bridge', async () => {
    expect(
      await issuesOf(edit('fields: { file: { label: ERP file } }', 'fields: { path: {} }')),
    ).toEqual([
      'connection.fields.path: bridge sqlite has no connection field path (fields: file, create, readOnly, busyTimeout)',
    ])
    const pg = `profile: pg\nsystem: PG\nversion: "1"\nbridge: postgres\nconnection:\n  fields: { host: {}, password: {} }\n  defaults: { password: hunter2 }\n`
    expect(await issuesOf(pg)).toEqual([
      'connection.defaults.password: is a secret: a profile gives it no value, the task does',
    ])
    const unsecret = `profile: pg\nsystem: PG\nversion: "1"\nbridge: postgres\nconnection:\n  fields: { password: { secret: false } }\n`
    expect(await issuesOf(unsecret)).toEqual(['connection.fields.password.secret: must be true'])
    expect(await issuesOf(`${ERP}home: { pickDatabase: true, databaseField: file }\n`)).toEqual([
      'home.pickDatabase: bridge sqlite cannot list the databases of a server',
    ])
    expect(await issuesOf(edit('bridge: sqlite', 'bridge: hubspot'))).toEqual([
      'bridge: unknown bridge "hubspot" (known: postgres, mysql, sqlite, rest, csv)',
    ])
  })

  it('checks named filter parameters', async () => {
    const withParams = (params: string) =>
      edit(
        '    match: [email]',
        `    match: [email]\n    filters:\n      home:\n        parameters:\n${params}`,
      )
    expect(await issuesOf(withParams('          zip: { label: Postal code }\n'))).toEqual([
      'pairs[0].filters.home.parameters.zip: needs exactly one of field (field = value) and sql (a condition with :name)',
    ])
    expect(
      await issuesOf(withParams(`          zip: { label: Postal code, sql: "zip1 = ':zip'" }\n`)),
    ).toEqual(['pairs[0].filters.home.parameters.zip.sql: must name the parameter as :zip'])
    expect(
      await issuesOf(
        withParams(
          '          min: { label: Minimum, type: number, default: "5", sql: "score > :min" }\n',
        ),
      ),
    ).toEqual(['pairs[0].filters.home.parameters.min.default: must be a number'])
    expect(
      await issuesOf(
        withParams(
          '          zip: { label: Postal code, sql: "zip1 = :zip" }\n          name: { label: Name, field: "Last Name" }\n',
        ),
      ),
    ).toEqual([
      'pairs[0].filters.home.parameters.name.field: joins SQL conditions of this side, so it must be a plain lowercase column name; write sql: instead',
    ])
    expect(
      await issuesOf(withParams('          "1zip": { label: Postal code, field: zip1 }\n')),
    ).toEqual([
      'pairs[0].filters.home.parameters["1zip"]: a parameter name uses letters, digits and _ and does not start with a digit',
    ])
  })

  it('compiles each field assignment as the engine will, in every offered direction', async () => {
    const countries = `
      standard:
        email: email
        country: { home: country, other: land, toOther: { map: { Germany: DE, Deutschland: DE } } }
      minimal: { email: email }`
    const text = edit(
      `
      standard: { email: email, company: company_name }
      minimal: { email: email }`,
      countries,
    )
    expect(await issuesOf(text)).toEqual([
      'pairs[0].fieldAssignments.standard.country.toOther.map: Germany and Deutschland both map to DE, so the map cannot be inverted; other->home needs toHome',
    ])
    // Offered one way only, the same map is fine.
    const oneWay = edit(
      '    home: addresses',
      '    home: addresses\n    directions: [home->other]',
      text,
    )
    const dir = folder({ 'p.yaml': oneWay })
    expect((await readProfileFile(join(dir, 'p.yaml'), registry)).ok).toBe(true)
  })

  it('reads the manifest beside the profile, and names it when it is missing', async () => {
    const dir = folder({
      'p.yaml': `${ERP}manifest: ./acme.side.yaml\n`,
      'acme.side.yaml': 'base: https://acme.example\nheaders: { x-tenant: "${tenant}" }\n',
    })
    const result = await readProfileFile(join(dir, 'p.yaml'), registry)
    if (!result.ok) throw new Error(JSON.stringify(result.issues))
    expect(result.profile.settings).toEqual({
      manifest: { base: 'https://acme.example', headers: { 'x-tenant': '${tenant}' } },
    })
    const issues = await issuesOf(`${ERP}manifest: ./gone.rest.yaml\n`)
    expect(issues).toHaveLength(1)
    expect(issues[0]).toMatch(/^manifest: .*gone\.rest\.yaml: no such file$/)
  })

  it('names the file and the YAML problem', async () => {
    const dir = folder({ 'p.yaml': 'profile: [unclosed\n' })
    const result = await readProfileFile(join(dir, 'p.yaml'), registry)
    expect(result.ok).toBe(false)
    if (result.ok) return
    expect(result.issues[0]!.source).toMatch(/p\.yaml$/)
    expect(result.issues[0]!.message).toMatch(/^not valid YAML: /)
  })
})

describe('loading the catalogue', () => {
  it('throws one error naming each file and path', async () => {
    const dir = folder({
      'good.yaml': ERP,
      'bad.yaml': edit('profile: acme-erp', 'profile: acme-bad\n# x', edit('[email]', '[mail]')),
      'worse.yaml': 'profile: x\nsystem: X\nversion: "1"\nbridge: sqlite\npairs: [{ id: p }]\n',
    })
    const error = await loadProfiles({ registry, sources: [dir], shipped: false }).catch(
      (e: unknown) => e,
    )
    expect(isOpenSyncError(error) && error.code).toBe('OSY_INVALID_PROFILE')
    const message = (error as Error).message
    expect(message).toContain(
      `${join(dir, 'bad.yaml')}: pairs[0].match[0]: field assignment standard has no mapping mail`,
    )
    expect(message).toContain(`${join(dir, 'worse.yaml')}: pairs[0].title: is required`)
    expect(message).not.toContain('good.yaml')
  })

  it('keeps the valid profiles when not strict, listing the problems', async () => {
    const dir = folder({ 'good.yaml': ERP, 'bad.yaml': 'profile: bad\n' })
    const catalog = await loadProfiles({ registry, sources: [dir], shipped: false, strict: false })
    expect(catalog.list().map((p) => p.id)).toEqual(['acme-erp'])
    expect(catalog.problems.map((p) => p.path)).toEqual(['system', 'version', 'bridge'])
  })

  it('refuses two profiles with one id, naming both files', async () => {
    const a = folder({ 'acme-erp.yaml': ERP })
    const b = folder({ 'copy.yaml': ERP })
    const error = await loadProfiles({ registry, sources: [a, b], shipped: false }).catch(
      (e: unknown) => e,
    )
    expect((error as Error).message).toContain(
      `duplicate profile id "acme-erp": ${join(a, 'acme-erp.yaml')} and ${join(b, 'copy.yaml')} both use it`,
    )
    const shipped = folder({ 'mine.yaml': edit('profile: acme-erp', 'profile: demo-crm') })
    await expect(loadProfiles({ registry, sources: [shipped] })).rejects.toThrow(
      /duplicate profile id "demo-crm": profiles\/demo-crm\.yaml and /,
    )
  })

  it('reads OPENSYNC_PROFILES: folders separated by , or the path delimiter', async () => {
    const a = folder({
      'acme-erp.yaml': ERP,
      'acme-erp.rest.yaml': 'not: a profile\n',
      'README.md': '#',
    })
    const b = folder({ 'other.yml': edit('profile: acme-erp', 'profile: acme-two') })
    const c = folder({
      'third.json': JSON.stringify(parse(edit('profile: acme-erp', 'profile: acme-three'))),
    })
    expect(profileSources(` ${a} ,${b}${delimiter}${c}`)).toEqual([a, b, c])
    const before = process.env.OPENSYNC_PROFILES
    process.env.OPENSYNC_PROFILES = `${a},${b}${delimiter}${c}`
    try {
      const catalog = await loadProfiles({ registry })
      const ids = catalog.list().map((p) => p.id)
      expect(ids).toEqual(
        expect.arrayContaining(['acme-erp', 'acme-two', 'acme-three', 'demo-crm']),
      )
    } finally {
      if (before === undefined) delete process.env.OPENSYNC_PROFILES
      else process.env.OPENSYNC_PROFILES = before
    }
  })

  it('reads npm packages from node_modules: package.json opensync.profiles, or profiles/', async () => {
    const project = folder({
      'node_modules/acme-profiles/package.json': JSON.stringify({
        name: 'acme-profiles',
        exports: { '.': './index.js' },
        opensync: { profiles: './systems' },
      }),
      'node_modules/acme-profiles/systems/acme-erp.yaml': ERP,
      'node_modules/@acme/more/package.json': JSON.stringify({ name: '@acme/more' }),
      'node_modules/@acme/more/profiles/two.yaml': edit('profile: acme-erp', 'profile: acme-two'),
      'node_modules/empty-pkg/package.json': JSON.stringify({ name: 'empty-pkg' }),
    })
    const catalog = await loadProfiles({
      registry,
      sources: ['acme-profiles', '@acme/more'],
      shipped: false,
      cwd: join(project, 'node_modules', '..'),
    })
    expect(catalog.list().map((p) => [p.id, p.file])).toEqual([
      ['acme-erp', join(project, 'node_modules/acme-profiles/systems/acme-erp.yaml')],
      ['acme-two', join(project, 'node_modules/@acme/more/profiles/two.yaml')],
    ])
    const problems = async (sources: string[]): Promise<readonly ProfileIssue[]> =>
      (await loadProfiles({ registry, sources, shipped: false, cwd: project, strict: false }))
        .problems
    expect((await problems(['empty-pkg']))[0]!.message).toMatch(
      /^package empty-pkg has no profiles folder/,
    )
    expect((await problems(['no-such-pkg']))[0]!.message).toMatch(/no npm package no-such-pkg/)
    expect((await problems(['./nowhere']))[0]!.message).toMatch(/^no such folder /)
  })

  it('checks a pair against the home profiles it names', async () => {
    const dir = folder({ 'p.yaml': edit('    home: addresses', '    home: invoices') })
    await expect(loadProfiles({ registry, sources: [dir] })).rejects.toThrow(
      /p\.yaml: pairs\[0\]\.home: home profile demo-crm offers no record type invoices \(addresses, contacts, opportunities\)/,
    )
    const notHome = folder({
      'p.yaml': edit('homeProfiles: [demo-crm]', 'homeProfiles: [demo-erp]'),
    })
    await expect(loadProfiles({ registry, sources: [notHome] })).rejects.toThrow(
      /pairs\[0\]\.homeProfiles\[0\]: profile demo-erp is no home profile/,
    )
  })
})

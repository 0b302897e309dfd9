// biome-ignore-all lint/suspicious/noTemplateCurlyInString: task files write ${VAR} in plain strings
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import {
  loadTaskFile,
  parseTaskFile,
  readTaskDocument,
  taskFileJsonSchema,
} from '../../src/engine/task/index.ts'
import { compile, errorOf, problems, taskDocument } from './task-helpers.ts'

const designExample = fileURLToPath(
  new URL('../../examples/design-example.task.yaml', import.meta.url),
)

describe('the DESIGN.md §6 task file', () => {
  it('loads and compiles with ERP_PW set', async () => {
    const task = await loadTaskFile(designExample, { ERP_PW: 's3cret' })
    expect(task.id).toBe('addresses-erp-customers')
    expect(task.subject).toBe('Addresses ↔ ERP customers')
    expect(task.systems.map((s) => [s.key, s.bridge])).toEqual([
      ['crm', 'postgres'],
      ['erp', 'mysql'],
    ])
    expect(task.systems[1].connection).toEqual({
      host: '127.0.0.1',
      user: 'root',
      password: 's3cret',
      database: 'erp',
    })
    const pair = task.pairs[0]!
    expect(pair.id).toBe('addresses-customers')
    expect(pair.sides[0]).toEqual({
      type: 'addresses',
      filter: { sql: "zip1 = '76137'" },
      cursor: 'updated_at',
      lag: 5,
    })
    expect(pair.sides[1]).toEqual({
      type: 'customers',
      filter: { keyValue: { country: 'DE' } },
      lag: 5,
    })
    expect(pair.flows).toEqual([true, true])
    expect(pair.mappings.map((m) => [m.id, m.fields])).toEqual([
      ['name', [['name'], ['company_name']]],
      ['zip1', [['zip1'], ['postal_code']]],
      ['email', [['email'], ['email']]],
    ])
    expect(pair.match).toEqual(['email'])
    expect(pair.conflict).toEqual({ winner: 0 })
    expect(pair.deletes).toEqual({ policy: 'propagate', maxShare: 0.25 })
    expect(task.plan).toEqual({ kind: 'interval', every: 15, unit: 'minutes', active: true })
    expect(await pair.mappings[0]!.convert(0, { name: 'ACME GmbH' })).toEqual({
      company_name: 'ACME GmbH',
    })
    expect(await pair.mappings[1]!.convert(1, { postal_code: '76137' })).toEqual({ zip1: '76137' })
  })

  it('names the variable and where it is used when ERP_PW is missing', async () => {
    const error = await errorOf(() => loadTaskFile(designExample, {}))
    expect(error.code).toBe('OSY_MISSING_ENV')
    expect(error.message).toBe(
      `environment variable ERP_PW is not set (used at systems.erp.connection.password in ${designExample})`,
    )
    expect(error.details.variables).toEqual(['ERP_PW'])
  })

  it('reads the same task from JSON, by file extension', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'osy-task-'))
    const path = join(folder, 'contacts.task.json')
    await writeFile(path, JSON.stringify(taskDocument()))
    const task = await loadTaskFile(path, {})
    expect(task.pairs[0]!.id).toBe('contacts-customers')
    // YAML is a superset of JSON, so the default format reads the text as well.
    expect(parseTaskFile(JSON.stringify(taskDocument()), { env: {} }).pairs[0]!.id).toBe(
      'contacts-customers',
    )
  })

  it('says so when the file does not exist', async () => {
    const error = await errorOf(() => loadTaskFile('/nonexistent/task.yaml', {}))
    expect(error.code).toBe('OSY_INVALID_TASK')
    expect(error.message).toBe('cannot read task file /nonexistent/task.yaml: no such file')
  })
})

describe('defaults', () => {
  it('fills in direction, conflict, deletes, lag, ids and plan', () => {
    const task = compile(taskDocument({}, { subject: 'Kunden → Übersicht: Straße & Co.' }))
    const pair = task.pairs[0]!
    expect(task.id).toBe('kunden-ubersicht-strasse-co')
    expect(pair.id).toBe('contacts-customers')
    expect(pair.flows).toEqual([true, true])
    expect(pair.conflict).toEqual({ winner: 0 })
    expect(pair.deletes).toEqual({ policy: 'ignore', maxShare: 0.25 })
    expect(pair.sides.map((s) => s.lag)).toEqual([5, 5])
    expect(pair.match).toEqual([])
    expect(task.plan).toEqual({ kind: 'manual', active: true })
  })

  it('hands bridge settings through to the resolved system, and only where given', () => {
    const doc = taskDocument({})
    const systems = doc.systems as Record<string, Record<string, unknown>>
    const [first] = Object.keys(systems)
    systems[first!]!.settings = { manifest: { baseUrl: 'https://api.example.test' } }
    const task = compile(doc)
    expect(task.systems[0].settings).toEqual({ manifest: { baseUrl: 'https://api.example.test' } })
    expect('settings' in task.systems[1]).toBe(false)
  })

  it('takes explicit ids, one-way directions, other winners and delete limits', () => {
    const task = compile(
      taskDocument(
        {
          id: 'contacts',
          direction: 'erp->crm',
          conflict: { winner: 'erp' },
          deletes: { policy: 'flag', maxShare: 0.1 },
          crm: { type: 'contacts', lag: 0, externalId: 'erp_no' },
        },
        { id: 'crm-sync' },
      ),
    )
    const pair = task.pairs[0]!
    expect(task.id).toBe('crm-sync')
    expect(pair.id).toBe('contacts')
    expect(pair.flows).toEqual([false, true])
    expect(pair.conflict).toEqual({ winner: 1 })
    expect(pair.deletes).toEqual({ policy: 'flag', maxShare: 0.1 })
    expect(pair.sides[0]).toEqual({ type: 'contacts', lag: 0, externalId: 'erp_no' })
    expect(compile(taskDocument({ conflict: { winner: 'newest' } })).pairs[0]!.conflict).toEqual({
      winner: 'newest',
    })
    expect(compile(taskDocument({ direction: 'crm->erp' })).pairs[0]!.flows).toEqual([true, false])
  })

  it('accepts every kind of plan', () => {
    const plan = (p: unknown) => compile(taskDocument({}, { plan: p })).plan
    expect(plan({ kind: 'continuous' })).toEqual({ kind: 'continuous', active: true })
    expect(plan({ kind: 'interval', every: 2, unit: 'hours', active: false })).toEqual({
      kind: 'interval',
      every: 2,
      unit: 'hours',
      active: false,
    })
    expect(plan({ kind: 'daily', at: '02:30', timezone: 'Europe/Berlin' })).toEqual({
      kind: 'daily',
      at: '02:30',
      timezone: 'Europe/Berlin',
      active: true,
    })
  })
})

describe('validation errors', () => {
  it('lists every problem in one error, as path: message', async () => {
    const document = taskDocument({
      conflict: { winner: 'sap' },
      direction: 'crm=>erp',
      deletes: 'wipe',
    })
    const error = await errorOf(() => compile(document))
    expect(error.code).toBe('OSY_INVALID_TASK')
    expect(error.message).toBe(
      [
        'invalid task file:',
        '  pairs[0].direction: must be one of crm->erp, erp->crm, both',
        '  pairs[0].conflict.winner: must be one of crm, erp, newest, manual',
        '  pairs[0].deletes: must be one of propagate, ignore, flag',
      ].join('\n'),
    )
    expect(error.details.issues).toEqual([
      { path: 'pairs[0].direction', message: 'must be one of crm->erp, erp->crm, both' },
      { path: 'pairs[0].conflict.winner', message: 'must be one of crm, erp, newest, manual' },
      { path: 'pairs[0].deletes', message: 'must be one of propagate, ignore, flag' },
    ])
  })

  it('names the source file in the message', async () => {
    const text = JSON.stringify(taskDocument({ conflict: { winner: 'sap' } }))
    const error = await errorOf(() =>
      parseTaskFile(text, { env: {}, source: 'tasks/contacts.yaml' }),
    )
    expect(error.message.split('\n')[0]).toBe('invalid task file tasks/contacts.yaml:')
    expect(error.details.source).toBe('tasks/contacts.yaml')
  })

  it('rejects unknown keys at every level, naming the allowed ones', async () => {
    const document = taskDocument(
      {
        crm: { type: 'contacts', fitler: { sql: 'x = 1' } },
        fields: { name: { crm: 'name', erp: 'company_name', toERP: { trim: true } } },
        conflicts: { winner: 'crm' },
      },
      { schedule: 'daily' },
    )
    document.systems.erp = { ...document.systems.erp, pasword: 'x' } as never
    expect(await problems(() => compile(document))).toEqual([
      'systems.erp.pasword: unknown key (allowed: bridge, connection, settings, profile)',
      'pairs[0].crm.fitler: unknown key (allowed: type, filter, cursor, lag, externalId, key)',
      'pairs[0].fields.name.toERP: unknown key (allowed: crm, erp, toErp, toCrm)',
      'pairs[0].conflicts: unknown key (allowed: crm, erp, id, direction, fields, match, conflict, deletes)',
      'schedule: unknown key (allowed: id, subject, systems, pairs, plan, notify)',
    ])
  })

  it('requires subject, two systems and at least one pair', async () => {
    expect(await problems(() => compile({ systems: {}, pairs: [] }))).toEqual([
      'subject: is required',
      'systems: must name exactly two systems (found 0)',
      'pairs: must have at least 1 entry',
    ])
    expect(
      await problems(() => compile({ ...taskDocument(), subject: undefined, pairs: [] })),
    ).toEqual(['subject: is required', 'pairs: must have at least 1 entry'])
  })

  it('checks system keys and their shape before the pairs that use them', async () => {
    const document = taskDocument(
      { conflict: { winner: 'sap' } },
      {
        systems: {
          CRM: { bridge: 'postgres', connection: {} },
          fields: { bridge: 'mysql', connection: {} },
          shop: { connection: { url: 1 } },
        },
      },
    )
    // Pairs are not checked: their keys depend on the systems.
    expect(await problems(() => compile(document))).toEqual([
      'systems.shop.bridge: is required',
      'systems: must name exactly two systems (found 3: CRM, fields, shop)',
      'systems.CRM: a system key must start with a lowercase letter and use only a-z, 0-9 and _',
      'systems.fields: "fields" is a reserved word; choose another system key',
    ])
  })

  it('checks pair sides against the system keys', async () => {
    const document = taskDocument({ erp: undefined, shop: { type: 'orders' } })
    expect(await problems(() => compile(document))).toEqual([
      'pairs[0].erp: is required',
      'pairs[0].shop: unknown key (allowed: crm, erp, id, direction, fields, match, conflict, deletes)',
    ])
  })

  it('explains bad filters, lags and delete limits', async () => {
    const document = taskDocument({
      crm: { type: 'contacts', filter: { sql: 42 }, lag: -1 },
      erp: { type: 'customers', filter: { where: "country = 'DE'" } },
      deletes: { policy: 'propagate', maxShare: 1.5 },
    })
    expect(await problems(() => compile(document))).toEqual([
      'pairs[0].crm.filter.sql: must be a string',
      'pairs[0].crm.lag: must be at least 0',
      'pairs[0].erp.filter: must be { sql: <condition> } or { keyValue: { <field>: <value> } }',
      'pairs[0].deletes.maxShare: must be at most 1',
    ])
  })

  it('explains bad plans', async () => {
    const plan = (p: unknown) => problems(() => compile(taskDocument({}, { plan: p })))
    expect(await plan({ kind: 'weekly' })).toEqual([
      'plan.kind: must be one of manual, continuous, interval, daily',
    ])
    expect(await plan({ every: 5 })).toEqual(['plan.kind: is required'])
    expect(await plan({ kind: 'interval', every: 0, unit: 'days' })).toEqual([
      'plan.every: must be greater than 0',
      'plan.unit: must be one of minutes, hours',
    ])
    expect(await plan({ kind: 'interval', every: 1.5, unit: 'hours' })).toEqual([
      'plan.every: must be a whole number',
    ])
    expect(await plan({ kind: 'daily', at: '24:00', timezone: 'Europe/Berlinn' })).toEqual([
      'plan.at: must be a time of day as HH:MM (00:00 to 23:59)',
      'plan.timezone: must be an IANA time zone such as Europe/Berlin or UTC',
    ])
    expect(await plan({ kind: 'daily', at: '02:30', timezone: '+01:00' })).toEqual([
      'plan.timezone: must be an IANA time zone such as Europe/Berlin or UTC',
    ])
  })

  it('requires a slug as task id', async () => {
    expect(await problems(() => compile(taskDocument({}, { id: 'Contacts Sync' })))).toEqual([
      'id: must be a slug: lowercase letters and digits, separated by single hyphens or underscores',
    ])
    expect(await problems(() => compile(taskDocument({}, { subject: '→ ←' })))).toEqual([
      'subject: has no letters or digits to derive an id from; set id',
    ])
  })

  it('checks that match names existing mappings', async () => {
    const document = taskDocument({
      fields: { name: 'company_name', email: 'mail' },
      match: ['email', 'mail', 'email'],
    })
    expect(await problems(() => compile(document))).toEqual([
      'pairs[0].match[1]: no mapping mail under fields (mappings: name, email)',
      'pairs[0].match[2]: lists email twice',
    ])
    expect(
      compile(taskDocument({ fields: { email: 'mail' }, match: ['email'] })).pairs[0]!.match,
    ).toEqual(['email'])
  })

  it('refuses two pairs with the same id', async () => {
    const base = taskDocument()
    const pair = base.pairs[0]!
    const document = { ...base, pairs: [pair, pair, { ...pair, id: 'contacts-customers' }] }
    expect(await problems(() => compile(document))).toEqual([
      'pairs[1]: its id contacts-customers (from the record types) is already used by pairs[0]; give each pair its own id',
      'pairs[2].id: id contacts-customers is already used by pairs[0]; give each pair its own id',
    ])
    const fixed = { ...base, pairs: [pair, { ...pair, id: 'contacts-again' }] }
    expect(compile(fixed).pairs.map((p) => p.id)).toEqual(['contacts-customers', 'contacts-again'])
  })

  it('explains mappings in the wrong form', async () => {
    const document = taskDocument({
      fields: {
        name: 42,
        country: { crm: 'country' },
      },
    })
    expect(await problems(() => compile(document))).toEqual([
      'pairs[0].fields.name: must be a field name of erp (short form) or { crm, erp, toErp?, toCrm? } (long form)',
      'pairs[0].fields.country.erp: is required',
    ])
    expect(
      await problems(() =>
        compile(
          taskDocument({
            fields: { city: { crm: 'city', erp: ['ort', 'ort'] }, none: { crm: [], erp: [] } },
          }),
        ),
      ),
    ).toEqual([
      'pairs[0].fields.city.erp: names the field ort twice',
      'pairs[0].fields.none: must name at least one field of crm or erp',
    ])
  })

  it('refuses two mappings that write the same field', async () => {
    const document = taskDocument({ fields: { name: 'company_name', title: 'company_name' } })
    expect(await problems(() => compile(document))).toEqual([
      'pairs[0].fields.title: writes erp field company_name, which mapping name writes too',
    ])
    // Reading one field twice is fine when nothing is written back to it.
    const oneWay = taskDocument({
      direction: 'crm->erp',
      fields: { name: 'company_name', n2: { crm: 'name', erp: 'search_name' } },
    })
    expect(compile(oneWay).pairs[0]!.mappings).toHaveLength(2)
  })

  it('reports broken YAML and JSON with the position', async () => {
    const yaml = 'subject: x\nsystems: { crm: [\n'
    const [yamlProblem] = await problems(() => parseTaskFile(yaml, { env: {} }))
    // The line that opened the unclosed bracket, not the end of the file where it was noticed.
    expect(yamlProblem).toMatch(
      /^not valid YAML at line 2, column 17 \(at "systems:"\): the flow sequence opened with \[ here is never closed/,
    )
    const [duplicate] = await problems(() => parseTaskFile('subject: a\nsubject: b\n', { env: {} }))
    expect(duplicate).toBe(
      'not valid YAML at line 2, column 1 (at "subject:"): Map keys must be unique',
    )
    const [json] = await problems(() => parseTaskFile('{"subject": }', { format: 'json', env: {} }))
    expect(json).toMatch(/^not valid JSON: ./)
    expect(await problems(() => parseTaskFile('# nothing here\n', { env: {} }))).toEqual([
      'the task file is empty',
    ])
  })
})

describe('environment variables', () => {
  const withConnection = (connection: Record<string, unknown>) =>
    taskDocument(
      {},
      {
        systems: {
          crm: { bridge: 'postgres', connection },
          erp: { bridge: 'mysql', connection: {} },
        },
      },
    )

  it('replaces ${VAR} in any string, several times in one value', () => {
    const document = withConnection({ url: 'postgres://${PG_USER}:${PG_PW}@${PG_HOST}/crm' })
    document.pairs[0]!.crm = { type: '${CRM_TABLE}' }
    const task = compile(document, {
      PG_USER: 'sync',
      PG_PW: 'p@ss',
      PG_HOST: 'db',
      CRM_TABLE: 'people',
    })
    expect(task.systems[0].connection.url).toBe('postgres://sync:p@ss@db/crm')
    expect(task.pairs[0]!.sides[0].type).toBe('people')
  })

  it('writes a literal ${ for $${', () => {
    const task = compile(withConnection({ password: 'a$${b}c', note: 'costs $5' }), {})
    expect(task.systems[0].connection).toEqual({ password: 'a${b}c', note: 'costs $5' })
  })

  it('lists every missing variable with the paths that use it', async () => {
    const document = withConnection({
      user: '${PG_USER}',
      password: '${PG_PW}',
      url: '${PG_USER}@db',
    })
    const error = await errorOf(() => compile(document, { PG_PW: 'x' }))
    expect(error.code).toBe('OSY_MISSING_ENV')
    expect(error.message).toBe(
      'environment variable PG_USER is not set (used at systems.crm.connection.user, systems.crm.connection.url)',
    )
    const both = await errorOf(() => compile(document, {}))
    expect(both.message).toBe(
      [
        'environment variables are missing:',
        '  PG_USER is not set (used at systems.crm.connection.user, systems.crm.connection.url)',
        '  PG_PW is not set (used at systems.crm.connection.password)',
      ].join('\n'),
    )
  })

  it('treats an empty variable as set', () => {
    expect(
      compile(withConnection({ password: '${PG_PW}' }), { PG_PW: '' }).systems[0].connection
        .password,
    ).toBe('')
  })

  it('refuses a ${ that is not a reference', async () => {
    expect(await problems(() => compile(withConnection({ password: 'a${b c}' })))).toEqual([
      'systems.crm.connection.password: has "${" without a variable name and "}" after it; write ${NAME}, or $${ for a literal "${"',
    ])
  })

  it('never shows a substituted value in an error', async () => {
    const document = taskDocument({ direction: '${DIRECTION}' })
    const error = await errorOf(() => compile(document, { DIRECTION: 'hunter2-secret' }))
    expect(error.message).toContain('pairs[0].direction: must be one of crm->erp, erp->crm, both')
    expect(JSON.stringify(error.toJSON())).not.toContain('hunter2-secret')
  })

  it('keeps references as written when asked not to substitute (for export)', () => {
    const text = JSON.stringify(withConnection({ password: '${PG_PW}' }))
    const file = readTaskDocument(text, { format: 'json', env: false })
    expect(file.systems.crm!.connection.password).toBe('${PG_PW}')
    expect(file.pairs[0]!.direction).toBe('both')
  })

  it('accepts only documents that also compile', async () => {
    const text = JSON.stringify(taskDocument({ match: ['mail'] }))
    expect(await problems(() => readTaskDocument(text, { format: 'json', env: false }))).toEqual([
      'pairs[0].match[0]: no mapping mail under fields (mappings: name)',
    ])
  })
})

describe('JSON Schema', () => {
  it('describes the document for editors: known keys, no others', () => {
    const schema = taskFileJsonSchema as {
      properties: Record<string, unknown>
      required: string[]
      additionalProperties: boolean
    }
    expect(Object.keys(schema.properties)).toEqual([
      'id',
      'subject',
      'systems',
      'pairs',
      'plan',
      'notify',
    ])
    expect(schema.required).toEqual(['subject', 'systems', 'pairs'])
    expect(schema.additionalProperties).toBe(false)
  })
})

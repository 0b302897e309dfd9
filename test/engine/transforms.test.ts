import { describe, expect, it } from 'vitest'
import { compile, errorOf, mapping, problems, taskDocument } from './task-helpers.ts'

const fieldsDoc = (fields: Record<string, unknown>, pair: Record<string, unknown> = {}) =>
  taskDocument({ fields, ...pair })

describe('map', () => {
  const country = {
    country: { crm: 'country', erp: 'land', toErp: { map: { Germany: 'DE', Austria: 'AT' } } },
  }

  it('maps values and inverts the map for the other direction', async () => {
    const m = mapping(country)
    expect(await m.convert(0, { country: 'Germany' })).toEqual({ land: 'DE' })
    expect(await m.convert(1, { land: 'AT' })).toEqual({ country: 'Austria' })
  })

  it('fails on a value not in the map, naming the mapping and the type, not the value', async () => {
    const error = await errorOf(() => mapping(country).convert(0, { country: 'France' }))
    expect(error.code).toBe('OSY_TRANSFORM_FAILED')
    expect(error.message).toBe(
      'mapping country (crm->erp), step 1 (map): the map has no entry for this string and no default',
    )
    expect(error.details).toMatchObject({
      mapping: 'country',
      direction: 'crm->erp',
      valueType: 'a string',
    })
    expect(JSON.stringify(error.toJSON())).not.toContain('France')
  })

  it('uses the default for unmapped values and null; without a default null stays null', async () => {
    const m = mapping({
      country: {
        crm: 'country',
        erp: 'land',
        toErp: { map: { Germany: 'DE' }, default: 'XX' },
        toCrm: { map: { DE: 'Germany' } },
      },
    })
    expect(await m.convert(0, { country: 'France' })).toEqual({ land: 'XX' })
    expect(await m.convert(0, { country: null })).toEqual({ land: 'XX' })
    expect(await m.convert(1, { land: null })).toEqual({ country: null })
  })

  it('looks numbers and booleans up by their text', async () => {
    const m = mapping({
      active: {
        crm: 'active',
        erp: 'status',
        toErp: { map: { true: 'A', false: 'I' } },
        toCrm: { map: { A: true, I: false } },
      },
    })
    expect(await m.convert(0, { active: true })).toEqual({ status: 'A' })
    expect(await m.convert(1, { status: 'I' })).toEqual({ active: false })
    const level = mapping({
      level: { crm: 'level', erp: 'stufe', toErp: { map: { 1: 'Gold', 2: 'Silber' } } },
    })
    expect(await level.convert(0, { level: 2 })).toEqual({ stufe: 'Silber' })
    // The inverse gives the map's keys, which are text.
    expect(await level.convert(1, { stufe: 'Gold' })).toEqual({ level: '1' })
  })

  it('refuses to invert a map that is not one-to-one, unless the way back is given or not used', async () => {
    const fields = {
      country: {
        crm: 'country',
        erp: 'land',
        toErp: { map: { Germany: 'DE', Deutschland: 'DE' } },
      },
    }
    expect(await problems(() => compile(fieldsDoc(fields)))).toEqual([
      'pairs[0].fields.country.toErp.map: Germany and Deutschland both map to DE, so the map cannot be inverted; erp->crm needs toCrm',
    ])
    const oneWay = mapping(fields, { direction: 'crm->erp' })
    expect(await oneWay.convert(0, { country: 'Deutschland' })).toEqual({ land: 'DE' })
    const withBack = mapping({ country: { ...fields.country, toCrm: { map: { DE: 'Germany' } } } })
    expect(await withBack.convert(1, { land: 'DE' })).toEqual({ country: 'Germany' })
  })

  it('inverts a map inside a list of steps, leaving out trim and case', async () => {
    const m = mapping({
      country: {
        crm: 'country',
        erp: 'land',
        toErp: [{ trim: true }, { case: 'lower' }, { map: { germany: 'DE' } }],
      },
    })
    expect(await m.convert(0, { country: ' Germany ' })).toEqual({ land: 'DE' })
    expect(await m.convert(1, { land: 'DE' })).toEqual({ country: 'germany' })
  })
})

describe('const', () => {
  it('writes a fixed value into a field the other system does not have', async () => {
    const m = mapping({ origin: { crm: [], erp: 'origin', toErp: { const: 'CRM' } } })
    expect(await m.convert(0, {})).toEqual({ origin: 'CRM' })
    // Nothing goes back: the crm has no field for it.
    expect(await m.convert(1, { origin: 'manual entry' })).toEqual({})
  })

  it('has no inverse when both sides have a field', async () => {
    const fields = { origin: { crm: 'source', erp: 'origin', toErp: { const: 'CRM' } } }
    expect(await problems(() => compile(fieldsDoc(fields)))).toEqual([
      'pairs[0].fields.origin.toErp.const: a const step has no inverse; erp->crm needs toCrm',
    ])
  })

  it('needs a value-making step when it reads no field', async () => {
    expect(
      await problems(() => compile(fieldsDoc({ origin: { crm: [], erp: 'origin' } }))),
    ).toEqual([
      'pairs[0].fields.origin: crm has no field here and erp has 1 field, so crm->erp needs toErp with a const or expr step',
    ])
    expect(
      await problems(() =>
        compile(fieldsDoc({ origin: { crm: [], erp: 'origin', toErp: { trim: true } } })),
      ),
    ).toEqual([
      'pairs[0].fields.origin.toErp: this mapping reads no field of crm, so it must start with a const or expr step',
    ])
  })
})

describe('type', () => {
  const typed = (type: string, back: string, format?: string) =>
    mapping({
      v: {
        crm: 'value',
        erp: 'wert',
        toErp: format ? { type, format } : { type },
        toCrm: format ? { type: back, format } : { type: back },
      },
    })

  it('converts text and numbers both ways', async () => {
    const m = typed('number', 'string')
    expect(await m.convert(0, { value: ' 1234.50 ' })).toEqual({ wert: 1234.5 })
    expect(await m.convert(0, { value: '' })).toEqual({ wert: null })
    expect(await m.convert(1, { wert: 1234.5 })).toEqual({ value: '1234.5' })
    const error = await errorOf(() => m.convert(0, { value: '1.234,50' }))
    expect(error.message).toBe(
      'mapping v (crm->erp), step 1 (type): cannot convert a string to number: it is not a decimal number',
    )
  })

  it('converts whole numbers, keeping big ones exact', async () => {
    const m = typed('integer', 'string')
    expect(await m.convert(0, { value: '42' })).toEqual({ wert: 42 })
    expect(await m.convert(0, { value: '12345678901234567890' })).toEqual({
      wert: 12345678901234567890n,
    })
    expect(await m.convert(1, { wert: 12345678901234567890n })).toEqual({
      value: '12345678901234567890',
    })
    const error = await errorOf(() => m.convert(0, { value: '42.5' }))
    expect(error.message).toBe(
      'mapping v (crm->erp), step 1 (type): cannot convert a string to integer: it is not a whole number',
    )
  })

  it('reads yes/no, true/false and 1/0 as booleans', async () => {
    const m = typed('boolean', 'string')
    const read = async (value: unknown) => (await m.convert(0, { value: value as never })).wert
    expect([
      await read('yes'),
      await read('No'),
      await read('1'),
      await read('0'),
      await read('TRUE'),
      await read('false'),
    ]).toEqual([true, false, true, false, true, false])
    expect(await read(1)).toBe(true)
    expect(await m.convert(1, { wert: true })).toEqual({ value: 'true' })
    const error = await errorOf(() => read('maybe'))
    expect(error.message).toBe(
      'mapping v (crm->erp), step 1 (type): cannot convert a string to boolean: expected true/false, yes/no or 1/0',
    )
  })

  it("writes dates as DD.MM.YYYY and reads them back into 'YYYY-MM-DD' by itself", async () => {
    const m = mapping({
      birthday: {
        crm: 'birthday',
        erp: 'geburtstag',
        toErp: { type: 'string', format: 'DD.MM.YYYY' },
      },
    })
    expect(await m.convert(0, { birthday: '2024-03-01' })).toEqual({ geburtstag: '01.03.2024' })
    expect(await m.convert(1, { geburtstag: '01.03.2024' })).toEqual({ birthday: '2024-03-01' })
    expect(await m.convert(1, { geburtstag: '1.3.2024' })).toEqual({ birthday: '2024-03-01' })
    expect(await m.convert(1, { geburtstag: null })).toEqual({ birthday: null })
    const error = await errorOf(() => m.convert(1, { geburtstag: '31.02.2024' }))
    expect(error.message).toBe(
      'mapping birthday (erp->crm), step 1 (type): cannot convert a string to date: it is not a valid date in the format DD.MM.YYYY',
    )
  })

  it('reads US dates and writes timestamps in a format with time', async () => {
    const us = typed('date', 'string', 'MM/DD/YYYY')
    expect(await us.convert(0, { value: '03/01/2024' })).toEqual({ wert: '2024-03-01' })
    expect(await us.convert(1, { wert: '2024-12-24' })).toEqual({ value: '12/24/2024' })
    const stamp = mapping({
      at: {
        crm: 'changed_at',
        erp: 'geaendert',
        toErp: { type: 'string', format: 'DD.MM.YYYY HH:mm' },
      },
    })
    expect(await stamp.convert(0, { changed_at: '2024-03-01T14:05:09.123456' })).toEqual({
      geaendert: '01.03.2024 14:05',
    })
    expect(await stamp.convert(1, { geaendert: '01.03.2024 14:05' })).toEqual({
      changed_at: '2024-03-01T14:05:00.000000',
    })
    const compact = typed('date', 'string', 'YYYYMMDD')
    expect(await compact.convert(0, { value: '20240301' })).toEqual({ wert: '2024-03-01' })
  })

  it('turns canonical timestamps into dates and dates into timestamps without a format', async () => {
    const m = typed('date', 'timestamp')
    expect(await m.convert(0, { value: '2024-03-01T23:59:59.000000' })).toEqual({
      wert: '2024-03-01',
    })
    expect(await m.convert(1, { wert: '2024-03-01' })).toEqual({
      value: '2024-03-01T00:00:00.000000',
    })
  })

  it('checks formats when the task is loaded', async () => {
    const fields = (toErp: unknown) =>
      fieldsDoc({ d: { crm: 'd', erp: 'd', toErp, toCrm: { trim: true } } })
    expect(await problems(() => compile(fields({ type: 'date', format: 'DD.MM.YY' })))).toEqual([
      'pairs[0].fields.d.toErp.format: has "Y" where a token is expected; tokens are YYYY, MM, DD, HH, mm, ss',
    ])
    expect(await problems(() => compile(fields({ type: 'date', format: 'HH:mm' })))).toEqual([
      'pairs[0].fields.d.toErp.format: must have YYYY, MM and DD to read a date',
    ])
    expect(await problems(() => compile(fields({ type: 'number', format: 'YYYY' })))).toEqual([
      'pairs[0].fields.d.toErp.format: applies only to the types string, date and timestamp',
    ])
    expect(await problems(() => compile(fields({ type: 'money' })))).toEqual([
      'pairs[0].fields.d.toErp.type: must be one of string, number, integer, boolean, date, timestamp',
    ])
  })
})

describe('trim and case', () => {
  it('cleans up names on the way out and sends the value back as it is', async () => {
    const m = mapping({
      name: { crm: 'name', erp: 'name', toErp: [{ trim: true }, { case: 'title' }] },
    })
    expect(await m.convert(0, { name: "  ANNA-MARIA o'neil " })).toEqual({
      name: "Anna-Maria O'neil",
    })
    expect(await m.convert(1, { name: 'Anna-Maria' })).toEqual({ name: 'Anna-Maria' })
    const upper = mapping({
      code: { crm: 'code', erp: 'code', toErp: { case: 'upper' }, toCrm: { case: 'lower' } },
    })
    expect(await upper.convert(0, { code: 'de' })).toEqual({ code: 'DE' })
    expect(await upper.convert(1, { code: 'AT' })).toEqual({ code: 'at' })
    expect(await upper.convert(0, { code: null })).toEqual({ code: null })
  })
})

describe('concat and split', () => {
  const name = {
    name: { crm: ['first_name', 'last_name'], erp: 'name', toErp: { concat: { separator: ' ' } } },
  }

  it('joins first and last name, and splits the name back, the rest going to the last field', async () => {
    const m = mapping(name)
    expect(await m.convert(0, { first_name: 'Anna', last_name: 'Schmidt' })).toEqual({
      name: 'Anna Schmidt',
    })
    expect(await m.convert(0, { first_name: null, last_name: 'Schmidt' })).toEqual({
      name: 'Schmidt',
    })
    expect(await m.convert(0, { first_name: null, last_name: null })).toEqual({ name: null })
    expect(await m.convert(1, { name: 'Anna Maria Schmidt' })).toEqual({
      first_name: 'Anna',
      last_name: 'Maria Schmidt',
    })
    expect(await m.convert(1, { name: 'Cher' })).toEqual({ first_name: 'Cher', last_name: null })
  })

  it('splits "Last, First" with its own separator and trims each part', async () => {
    const m = mapping({
      name: {
        crm: 'display_name',
        erp: ['nachname', 'vorname'],
        toErp: [{ split: { separator: ',' } }, { trim: true }],
        toCrm: { concat: { separator: ', ' } },
      },
    })
    expect(await m.convert(0, { display_name: 'Schmidt,  Anna' })).toEqual({
      nachname: 'Schmidt',
      vorname: 'Anna',
    })
    expect(await m.convert(1, { nachname: 'Schmidt', vorname: 'Anna' })).toEqual({
      display_name: 'Schmidt, Anna',
    })
  })

  it('refuses concat of one field, split into one field, and several fields without a transform', async () => {
    expect(
      await problems(() =>
        compile(
          fieldsDoc({ n: { crm: 'name', erp: 'name', toErp: { concat: { separator: ' ' } } } }),
        ),
      ),
    ).toEqual([
      'pairs[0].fields.n.toErp: concat joins several fields, but this mapping reads one field of crm',
    ])
    expect(
      await problems(() =>
        compile(
          fieldsDoc({ n: { crm: 'name', erp: 'name', toErp: { split: { separator: ' ' } } } }),
        ),
      ),
    ).toEqual([
      'pairs[0].fields.n.toErp: split fills several fields, but this mapping writes one field of erp',
    ])
    expect(
      await problems(() =>
        compile(fieldsDoc({ n: { crm: ['first_name', 'last_name'], erp: 'name' } })),
      ),
    ).toEqual([
      'pairs[0].fields.n: crm has 2 fields here and erp has 1 field, so crm->erp needs toErp with a concat or expr step',
      'pairs[0].fields.n: erp has 1 field here and crm has 2 fields, so erp->crm needs toCrm with a split or expr step',
    ])
  })

  it('copies several fields to as many fields in order', async () => {
    const m = mapping({ address: { crm: ['street', 'city'], erp: ['strasse', 'ort'] } })
    expect(await m.convert(0, { street: 'Hauptstr. 1', city: 'Karlsruhe' })).toEqual({
      strasse: 'Hauptstr. 1',
      ort: 'Karlsruhe',
    })
  })
})

describe('expr (JSONata)', () => {
  it('computes a value both ways: euros to cents and back', async () => {
    const m = mapping({
      price: {
        crm: 'price',
        erp: 'price_cents',
        toErp: { expr: '$round($value * 100)' },
        toCrm: { expr: '$ / 100' },
      },
    })
    expect(await m.convert(0, { price: 12.5 })).toEqual({ price_cents: 1250 })
    expect(await m.convert(1, { price_cents: 1999 })).toEqual({ price: 19.99 })
  })

  it('sees all source fields as $record and several fields as a list in $', async () => {
    const m = mapping({
      name: {
        crm: ['first_name', 'last_name'],
        erp: 'name',
        toErp: { expr: "$uppercase($record.last_name) & ', ' & $record.first_name" },
        toCrm: { expr: "[$substringAfter($, ', '), $substringBefore($, ', ')]" },
      },
    })
    expect(await m.convert(0, { first_name: 'Anna', last_name: 'Schmidt' })).toEqual({
      name: 'SCHMIDT, Anna',
    })
    expect(await m.convert(1, { name: 'SCHMIDT, Anna' })).toEqual({
      first_name: 'Anna',
      last_name: 'SCHMIDT',
    })
    const joined = mapping(
      { full: { crm: ['a', 'b'], erp: 'ab', toErp: { expr: "$join($, '-')" } } },
      { direction: 'crm->erp' },
    )
    expect(await joined.convert(0, { a: 'x', b: 'y' })).toEqual({ ab: 'x-y' })
  })

  it('reports a syntax error when the task is loaded, with the position', async () => {
    expect(
      await problems(() =>
        compile(
          fieldsDoc({
            n: { crm: 'name', erp: 'name', toErp: { expr: '$uppercase(' }, toCrm: { trim: true } },
          }),
        ),
      ),
    ).toEqual([
      'pairs[0].fields.n.toErp.expr: JSONata syntax error at position 11: Expected ")" before end of expression',
    ])
  })

  it('has no inverse', async () => {
    expect(
      await problems(() =>
        compile(fieldsDoc({ n: { crm: 'name', erp: 'name', toErp: { expr: '$uppercase($)' } } })),
      ),
    ).toEqual(['pairs[0].fields.n.toErp.expr: an expr step has no inverse; erp->crm needs toCrm'])
  })

  it('fails per value without showing it, and stops a runaway expression', async () => {
    const m = mapping(
      { n: { crm: 'amount', erp: 'amount', toErp: { expr: '$number($) + 1' } } },
      { direction: 'crm->erp' },
    )
    const error = await errorOf(() => m.convert(0, { amount: 'zwölf' }))
    expect(error.code).toBe('OSY_TRANSFORM_FAILED')
    expect(error.message).toMatch(
      /^mapping n \(crm->erp\), step 1 \(expr\): the expression failed: D3030 /,
    )
    expect(error.message).not.toContain('zwölf')
    const loop = mapping(
      { n: { crm: 'a', erp: 'b', toErp: { expr: '($f := function($x) { $f($x) }; $f(1))' } } },
      { direction: 'crm->erp' },
    )
    const stopped = await errorOf(() => loop.convert(0, { a: 1 }))
    expect(stopped.message).toMatch(/D1012 Evaluation timeout after 1000 milliseconds/)
  })

  it('cannot reach JavaScript from an expression', async () => {
    const m = mapping(
      {
        n: {
          crm: 'a',
          erp: 'b',
          toErp: { expr: '$record.constructor.constructor("return process")()' },
        },
      },
      { direction: 'crm->erp' },
    )
    expect(await m.convert(0, { a: 'x' })).toEqual({ b: null })
  })
})

describe('transform steps as written', () => {
  it('names an unknown step, or several steps in one entry', async () => {
    const doc = (toErp: unknown) =>
      fieldsDoc({ n: { crm: 'name', erp: 'name', toErp, toCrm: { trim: true } } })
    expect(await problems(() => compile(doc({ uppercase: true })))).toEqual([
      'pairs[0].fields.n.toErp: unknown step "uppercase" (steps: map, const, type, trim, case, concat, split, expr)',
    ])
    expect(await problems(() => compile(doc([{ trim: true, case: 'upper' }])))).toEqual([
      'pairs[0].fields.n.toErp[0]: has several steps (trim, case); write them as a list, one step per entry',
    ])
    expect(await problems(() => compile(doc([{ trim: true }, { map: {} }])))).toEqual([
      'pairs[0].fields.n.toErp[1].map: must not be empty',
    ])
    expect(await problems(() => compile(doc('upper')))).toEqual([
      'pairs[0].fields.n.toErp: must be a transform step or a list of steps',
    ])
  })

  it('keeps a plain rename synchronous and the mapping spec in long form', () => {
    const task = compile(taskDocument({ fields: { name: 'company_name' } }))
    const m = task.pairs[0]!.mappings[0]!
    expect(m.convert(0, { name: 'ACME' })).toEqual({ company_name: 'ACME' })
    expect(m.spec).toEqual({ crm: 'name', erp: 'company_name' })
  })

  it('marks plain renames, per direction, so the engine may copy without converting', () => {
    const task = compile(
      taskDocument({
        fields: {
          name: 'company_name',
          country: { crm: 'country', erp: 'land', toErp: { map: { Germany: 'DE' } } },
          city: { crm: 'city', erp: 'ort', toCrm: { trim: true } },
          full: { crm: ['first', 'last'], erp: 'full_name', toErp: { concat: { separator: ' ' } } },
        },
      }),
    )
    const plain = Object.fromEntries(task.pairs[0]!.mappings.map((m) => [m.id, m.plain]))
    expect(plain).toEqual({
      name: [true, true],
      // map inverts for the way back, so neither way copies as it is
      country: [false, false],
      // trim on the way to crm; the way to erp is the inverse of trim, which copies
      city: [true, false],
      full: [false, false],
    })
  })
})

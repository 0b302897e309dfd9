import { describe, expect, it } from 'vitest'
import { fieldsOf, freeId, rowsOf, transformChoice } from '../../console/src/wizard/field-rows.ts'

describe("the wizard's field rows", () => {
  const fields = {
    email: 'email',
    country: { crm: 'country', erp: 'land', toErp: { map: { Germany: 'DE' } } },
    name: { crm: ['first', 'last'], erp: 'name', toErp: { concat: { separator: ' ' } } },
    origin: { crm: [], erp: 'origin', toErp: { const: 'CRM' } },
  }

  it('reads short and long forms and writes them back as they were', () => {
    const rows = rowsOf(fields, 'crm', 'erp')
    expect(rows[0]).toEqual({ id: 'email', a: ['email'], b: ['email'], transforms: {} })
    expect(rows[2]!.a).toEqual(['first', 'last'])
    expect(fieldsOf(rows, 'crm', 'erp')).toEqual(fields)
  })

  it('writes the long form once a row is renamed or has a transform, the short form otherwise', () => {
    const [email] = rowsOf({ email: 'email' }, 'crm', 'erp')
    expect(fieldsOf([{ ...email!, a: ['mail'] }], 'crm', 'erp')).toEqual({
      email: { crm: 'mail', erp: 'email' },
    })
    expect(fieldsOf([{ ...email!, transforms: { toErp: { trim: true } } }], 'crm', 'erp')).toEqual({
      email: { crm: 'email', erp: 'email', toErp: { trim: true } },
    })
    expect(
      fieldsOf([{ id: 'city', a: ['city'], b: ['town'], transforms: {} }], 'crm', 'erp'),
    ).toEqual({ city: 'town' })
  })

  it('names transforms it offers and keeps others as written; ids stay unique', () => {
    expect(transformChoice(undefined)).toBe('none')
    expect(transformChoice({ case: 'upper' })).toBe('case:upper')
    expect(transformChoice({ map: { a: 'b' } })).toBe('kept')
    const rows = rowsOf({ city: 'town', city_2: 'place' }, 'crm', 'erp')
    expect(freeId(rows, 'city')).toBe('city_3')
    expect(freeId(rows, 'city', 'city')).toBe('city')
    expect(freeId(rows, 'zip')).toBe('zip')
  })
})

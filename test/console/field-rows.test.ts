import { describe, expect, it } from 'vitest'
import {
  choiceTransform,
  constText,
  constValue,
  duplicateValues,
  FORM_STEPS,
  fieldsOf,
  freeId,
  isUnder,
  mapEntriesOf,
  mappingPath,
  mapStep,
  needsForm,
  newStep,
  rowsOf,
  STEP_KINDS,
  stepKind,
  stepsOf,
  transformChoice,
  transformOf,
} from '../../console/src/wizard/field-rows.ts'
import {
  TRANSFORM_STEP_KINDS,
  transformStepSchema,
} from '../../src/engine/task/task-file-schema.ts'

/** A step of every kind the task file knows, as a task file writes them. */
const EVERY_STEP = [
  { map: { Germany: 'DE', '1': 2, yes: true, none: null }, default: 'XX' },
  { const: { origin: 'CRM', since: 2024 } },
  { type: 'date', format: 'DD.MM.YYYY' },
  { trim: true },
  { case: 'title' },
  { concat: { separator: ', ' } },
  { split: { separator: ';' } },
  { expr: "$uppercase($record.last_name) & ', ' & $record.first_name" },
]

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

  it('writes back every kind of transform, a list of steps and both ways, unchanged', () => {
    const every = {
      ...Object.fromEntries(
        EVERY_STEP.map((step, i) => [`m${i}`, { crm: `c${i}`, erp: `e${i}`, toErp: step }]),
      ),
      both: {
        crm: 'display_name',
        erp: ['last_name', 'first_name'],
        toErp: [{ split: { separator: ',' } }, { trim: true }],
        toCrm: [{ concat: { separator: ', ' } }],
      },
    }
    const rows = rowsOf(every, 'crm', 'erp')
    expect(JSON.stringify(fieldsOf(rows, 'crm', 'erp'))).toBe(JSON.stringify(every))
    // Every step the wizard edits is one the task file's schema takes.
    for (const step of EVERY_STEP) expect(transformStepSchema.safeParse(step).success).toBe(true)
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

  it('keeps ids unique', () => {
    const rows = rowsOf({ city: 'town', city_2: 'place' }, 'crm', 'erp')
    expect(freeId(rows, 'city')).toBe('city_3')
    expect(freeId(rows, 'city', 'city')).toBe('city')
    expect(freeId(rows, 'zip')).toBe('zip')
  })
})

describe("the wizard's transform steps", () => {
  it('knows every step kind of the task file, and each new step is one the schema takes but a map', () => {
    expect([...STEP_KINDS].sort()).toEqual([...TRANSFORM_STEP_KINDS].sort())
    for (const kind of STEP_KINDS) {
      expect(stepKind(newStep(kind))).toBe(kind)
      // A new map has no entries yet: the server's check says so until one is typed.
      expect(transformStepSchema.safeParse(newStep(kind)).success).toBe(kind !== 'map')
    }
    expect(EVERY_STEP.map(stepKind)).toEqual(STEP_KINDS)
  })

  it('reads a transform as steps and writes it back: none, one step, a list', () => {
    expect(stepsOf(undefined)).toEqual([])
    expect(transformOf([])).toBeUndefined()
    for (const step of EVERY_STEP) {
      expect(stepsOf(step)).toEqual([step])
      expect(transformOf(stepsOf(step)!)).toEqual(step)
    }
    const list = [{ trim: true }, { case: 'upper' }, { map: { DEU: 'DE' } }]
    expect(transformOf(stepsOf(list)!)).toEqual(list)
  })

  it('leaves what is no step it knows as written', () => {
    for (const odd of [
      { trim: false },
      { map: { a: { nested: true } } },
      { map: { a: 'b' }, format: 'x' },
      { trim: true, case: 'upper' },
      { concat: { separator: ' ', extra: 1 } },
      { unknown: 1 },
      [],
      'trim',
    ]) {
      expect(stepsOf(odd)).toBeUndefined()
      expect(transformChoice(odd)).toBe('kept')
    }
  })

  it("names a row's transform for its select, and makes the transform of a choice", () => {
    expect(transformChoice(undefined)).toBe('none')
    expect(transformChoice({ case: 'upper' })).toBe('case:upper')
    expect(transformChoice({ type: 'date', format: 'DD.MM.YYYY' })).toBe('type:date')
    expect(transformChoice({ map: { a: 'b' } })).toBe('map')
    expect(transformChoice({ expr: '$' })).toBe('expr')
    expect(transformChoice([{ trim: true }, { case: 'lower' }])).toBe('steps')
    expect(choiceTransform('none')).toBeUndefined()
    expect(choiceTransform('case:title')).toEqual({ case: 'title' })
    for (const kind of FORM_STEPS) expect(stepKind(choiceTransform(kind))).toBe(kind)
  })

  it('shows the form below a row for the steps that need more than the select', () => {
    expect(needsForm([])).toBe(false)
    expect(needsForm([{ trim: true }])).toBe(false)
    expect(needsForm([{ case: 'upper' }])).toBe(false)
    expect(needsForm([{ type: 'integer' }])).toBe(false)
    expect(needsForm([{ type: 'date', format: 'DD.MM.YYYY' }])).toBe(true)
    for (const kind of FORM_STEPS) expect(needsForm([newStep(kind)])).toBe(true)
    expect(needsForm([{ trim: true }, { case: 'upper' }])).toBe(true)
  })

  it("edits a map's entries and default; untouched values keep their type", () => {
    const step = { map: { Germany: 'DE', '1': 2, none: null }, default: false }
    const entries = mapEntriesOf(step)
    expect(entries).toEqual([
      { from: '1', to: 2 },
      { from: 'Germany', to: 'DE' },
      { from: 'none', to: null },
    ])
    expect(mapStep(entries, false)).toEqual(step)
    // A new entry counts once its value is typed; the default goes when emptied.
    const typing = [...entries, { from: '', to: 'AT' }]
    expect(mapStep(typing, undefined)).toEqual({ map: step.map })
    const edited = [...entries.slice(1), { from: 'Austria', to: 'AT' }, { from: '1', to: 'one' }]
    expect(mapStep(edited, 'XX')).toEqual({
      map: { Germany: 'DE', none: null, Austria: 'AT', '1': 'one' },
      default: 'XX',
    })
    expect(duplicateValues([...edited, { from: 'Germany', to: 'D' }])).toEqual(['Germany'])
    expect(duplicateValues(typing)).toEqual([])
  })

  it('edits a const as text, or as JSON for any other value', () => {
    for (const value of ['CRM', '', 42, true, null, ['a', 1], { origin: 'CRM' }]) {
      const form = constText(value)
      expect(form.json).toBe(typeof value !== 'string')
      expect(constValue(form.text, form.json)).toEqual({ value })
    }
    expect(constValue('42', false)).toEqual({ value: '42' })
    expect(constValue('{oops', true)).toHaveProperty('error')
  })

  it("finds the check's issues of a mapping by its path", () => {
    expect(mappingPath('pairs[0]', 'city')).toBe('pairs[0].fields.city')
    expect(mappingPath('pairs[1]', 'e-mail')).toBe('pairs[1].fields["e-mail"]')
    const path = mappingPath('pairs[0]', 'city')
    expect(isUnder('pairs[0].fields.city.toErp.map', path)).toBe(true)
    expect(isUnder('pairs[0].fields.city.toErp[1]', path)).toBe(true)
    expect(isUnder('pairs[0].fields.city', path)).toBe(true)
    expect(isUnder('pairs[0].fields.city_2', path)).toBe(false)
  })
})

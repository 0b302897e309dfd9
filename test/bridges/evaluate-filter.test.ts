/**
 * Filter expressions evaluated in a bridge (src/bridges/shared/evaluate-filter.ts), as the
 * CSV bridge does: SQL's three-valued logic, exact numbers, LIKE, IN lists of keys.
 */
import { describe, expect, it } from 'vitest'
import { compileFilter } from '../../src/bridges/shared/evaluate-filter.ts'
import {
  type FieldInfo,
  type FieldType,
  parseSqlFilter,
  postgresDialect,
  type RecordValues,
} from '../../src/sdk/index.ts'

const field = (name: string, type: FieldType): FieldInfo => ({
  name,
  type,
  nativeType: type,
  nullable: true,
})
const fields = [
  field('id', 'integer'),
  field('name', 'string'),
  field('amount', 'decimal'),
  field('big', 'integer'),
  field('active', 'boolean'),
]

function matches(sql: string, values: RecordValues): boolean {
  return compileFilter(parseSqlFilter(sql, postgresDialect, fields), fields)(values)
}

describe('filters evaluated in the bridge', () => {
  it('treat NULL as unknown: neither a comparison nor its negation matches', () => {
    const row = { id: 1, name: null }
    expect(matches("name = 'x'", row)).toBe(false)
    expect(matches("name <> 'x'", row)).toBe(false)
    expect(matches("NOT name = 'x'", row)).toBe(false)
    expect(matches('name IS NULL', row)).toBe(true)
    // Unknown OR true is true; unknown AND true is unknown.
    expect(matches("name = 'x' OR id = 1", row)).toBe(true)
    expect(matches("name = 'x' AND id = 1", row)).toBe(false)
    expect(matches("id NOT IN (2, 3) AND coalesce(name, 'none') = 'none'", row)).toBe(true)
    // x NOT IN (…, NULL) is never true.
    expect(matches('id NOT IN (2, NULL)', row)).toBe(false)
  })

  it('compare numbers exactly, decimal text and integers beyond 2^53 alike', () => {
    expect(matches('amount > 0.1', { amount: '0.10000000000000000001' })).toBe(true)
    expect(matches('amount = 12.5', { amount: '12.500' })).toBe(true)
    expect(matches('amount < -1', { amount: '-1.5' })).toBe(true)
    expect(matches('big = 9007199254740993', { big: 9007199254740993n })).toBe(true)
    expect(matches('big = 9007199254740992', { big: 9007199254740993n })).toBe(false)
    expect(matches('id BETWEEN 2 AND 4', { id: 4 })).toBe(true)
    expect(matches('id + 1 = 5', { id: 4 })).toBe(true)
  })

  it('match LIKE case-sensitively and ILIKE without case, with % and _', () => {
    const row = { name: 'Anna_Maria' }
    expect(matches("name LIKE 'Anna%'", row)).toBe(true)
    expect(matches("name LIKE 'anna%'", row)).toBe(false)
    expect(matches("name ILIKE 'anna%'", row)).toBe(true)
    expect(matches("name LIKE 'Ann_\\_Maria'", row)).toBe(true)
    expect(matches("name LIKE 'Ann_\\_Mari'", row)).toBe(false)
    expect(matches("lower(name) = 'anna_maria' AND length(name) = 10", row)).toBe(true)
  })

  it('look keys up in IN lists of numbers and text', () => {
    expect(matches('id IN (1, 2, 3)', { id: 2 })).toBe(true)
    expect(matches('id IN (1, 2, 3)', { id: 7 })).toBe(false)
    expect(matches("name IN ('a', 'b')", { name: 'b' })).toBe(true)
    expect(matches('active = true', { active: true })).toBe(true)
    expect(matches('active = false', { active: true })).toBe(false)
  })
})

import { describe, expect, it } from 'vitest'
import { conformValue, type FieldInfo, needsConforming, roundDecimal } from '../../src/sdk/index.ts'

const field = (type: FieldInfo['type'], scale?: number): FieldInfo => ({
  name: 'f',
  type,
  nativeType: type,
  nullable: true,
  ...(scale !== undefined ? { scale } : {}),
})

describe('values in the form the target field stores them', () => {
  it('moves instants and wall-clock times across the zone boundary, and gives dates midnight', () => {
    expect(conformValue('2024-03-01T12:34:56.500000Z', field('timestamp', 6))).toBe(
      '2024-03-01T12:34:56.500000',
    )
    expect(conformValue('2024-03-01T12:34:56.500000', field('timestamptz', 6))).toBe(
      '2024-03-01T12:34:56.500000Z',
    )
    expect(conformValue('2024-03-01T12:00:00+02:00', field('timestamptz'))).toBe(
      '2024-03-01T10:00:00.000000Z',
    )
    expect(conformValue('2024-02-29', field('timestamp'))).toBe('2024-02-29T00:00:00.000000')
    expect(conformValue('2024-02-29', field('timestamptz'))).toBe('2024-02-29T00:00:00.000000Z')
  })

  it('rounds fractional seconds half up to the field, carrying into the next day and year', () => {
    expect(conformValue('2024-03-01T12:34:56.500000', field('timestamp', 0))).toBe(
      '2024-03-01T12:34:57.000000',
    )
    expect(conformValue('2024-12-31T23:59:59.999999Z', field('timestamptz', 0))).toBe(
      '2025-01-01T00:00:00.000000Z',
    )
    expect(conformValue('2024-03-01T12:34:56.123456', field('timestamp', 3))).toBe(
      '2024-03-01T12:34:56.123000',
    )
    expect(conformValue('12:34:56.5', field('time', 0))).toBe('12:34:57.000000')
    expect(conformValue('23:59:59.9', field('time', 0))).toBe('23:59:59.000000')
  })

  it('rounds decimals half away from zero to the scale, carrying through nines', () => {
    expect(roundDecimal('0.125', 2)).toBe('0.13')
    expect(roundDecimal('-0.125', 2)).toBe('-0.13')
    expect(roundDecimal('9.995', 2)).toBe('10.00')
    expect(roundDecimal('-0.004', 2)).toBe('0.00')
    expect(roundDecimal('12.3', 2)).toBe('12.3')
    expect(conformValue(1.5, field('decimal', 2))).toBe('1.5')
    expect(conformValue(1e21, field('decimal'))).toBe('1000000000000000000000')
  })

  it('writes numbers and documents as text into text fields, and lower-cases uuids', () => {
    expect(conformValue(1.5, field('string'))).toBe('1.5')
    expect(conformValue(12345678901234567890n, field('string'))).toBe('12345678901234567890')
    expect(conformValue({ b: 1, a: [true] }, field('string'))).toBe('{"b":1,"a":[true]}')
    expect(conformValue('0F8FAD5B-D9CB-469F-A165-70867728950E', field('uuid'))).toBe(
      '0f8fad5b-d9cb-469f-a165-70867728950e',
    )
    expect(conformValue('12.50', field('float'))).toBe(12.5)
  })

  it('is skipped where it cannot change a value: same type and no fewer digits', () => {
    expect(needsConforming(field('string'), field('string'))).toBe(false)
    expect(needsConforming(field('decimal', 4), field('decimal', 4))).toBe(false)
    expect(needsConforming(field('decimal', 4), field('decimal', 2))).toBe(true)
    expect(needsConforming(field('timestamptz', 6), field('timestamp', 6))).toBe(true)
    expect(needsConforming(field('integer'), field('binary'))).toBe(false)
  })
})

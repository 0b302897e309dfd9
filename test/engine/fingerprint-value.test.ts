import { describe, expect, it } from 'vitest'
import { fingerprint, fingerprintOf } from '../../src/engine/fingerprint.ts'
import { valuesOfFingerprint } from '../../src/engine/fingerprint-value.ts'
import type { FieldInfo } from '../../src/sdk/index.ts'

const types = new Map<string, FieldInfo>([
  ['price', { name: 'price', type: 'decimal', nativeType: 'decimal', nullable: true }],
])

describe('values of a base fingerprint', () => {
  it('gives back what a fingerprint keeps, field by field', () => {
    expect(valuesOfFingerprint(fingerprintOf('Ada'), ['name'])).toEqual({ name: 'Ada' })
    expect(valuesOfFingerprint(fingerprintOf(null), ['name'])).toEqual({ name: null })
    expect(valuesOfFingerprint(fingerprintOf(42), ['n'])).toEqual({ n: 42 })
    expect(valuesOfFingerprint(fingerprintOf(true), ['b'])).toEqual({ b: true })
    expect(valuesOfFingerprint(fingerprintOf({ b: 1, a: [2] }), ['j'])).toEqual({
      j: { a: [2], b: 1 },
    })
    expect(valuesOfFingerprint(fingerprintOf(new Uint8Array([1, 2])), ['x'])).toEqual({
      x: 'AQI=',
    })
    // Digits beyond a double's precision stay text rather than being rounded.
    expect(valuesOfFingerprint(fingerprintOf(12345678901234567890n), ['n'])).toEqual({
      n: '12345678901234567890',
    })
    const both = fingerprint({ first: 'Ada', price: '1.50' }, ['first', 'price'], types)
    expect(valuesOfFingerprint(both, ['first', 'price'])).toEqual({ first: 'Ada', price: 1.5 })
  })

  it('knows nothing of a missing base or a long value kept as a hash', () => {
    expect(valuesOfFingerprint(undefined, ['name'])).toBeUndefined()
    const long = fingerprintOf('x'.repeat(100))
    expect(long.startsWith('#')).toBe(true)
    expect(valuesOfFingerprint(long, ['name'])).toBeUndefined()
    expect(valuesOfFingerprint(fingerprintOf('Ada'), ['a', 'b'])).toBeUndefined()
  })
})

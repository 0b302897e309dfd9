import { describe, expect, it } from 'vitest'
import {
  canonical,
  fingerprint,
  fingerprintOf,
  isPlainText,
  sameCanonical,
} from '../../src/engine/fingerprint.ts'
import type { FieldInfo } from '../../src/sdk/index.ts'

const field = (name: string, type: FieldInfo['type']): [string, FieldInfo] => [
  name,
  { name, type, nativeType: type, nullable: true },
]

describe('fingerprints', () => {
  it('read values that mean the same alike', () => {
    expect(canonical('1.50', 'decimal')).toBe(canonical(1.5))
    expect(canonical('007', 'integer')).toBe(canonical(7n))
    expect(canonical('-0.0', 'decimal')).toBe('n0')
    expect(canonical('-0', 'decimal')).toBe('n0')
    expect(canonical('-0.50', 'decimal')).toBe('n-0.5')
    expect(canonical('379.25', 'decimal')).toBe('n379.25')
    expect(canonical('0010.100', 'decimal')).toBe('n10.1')
    expect(canonical('1.50', 'string')).toBe('s1.50')
    expect(canonical({ b: 1, a: [2, { d: 3, c: 4 }] })).toBe(
      canonical({ a: [2, { c: 4, d: 3 }], b: 1 }),
    )
    expect(canonical(null)).toBe(canonical(undefined))
  })

  it('of one field is the fingerprint of that field among others', () => {
    const types = new Map([field('price', 'decimal'), field('name', 'string')])
    const values = { price: '12.30', name: 'ACME' }
    expect(fingerprintOf('12.30', 'decimal')).toBe(fingerprint(values, ['price'], types))
    expect(fingerprintOf('ACME', 'string')).toBe(fingerprint(values, ['name'], types))
    expect(fingerprintOf(undefined)).toBe(fingerprint(values, ['missing'], types))
  })

  it('replaces long text by a hash, so a link stays small', () => {
    const long = 'x'.repeat(200)
    expect(fingerprintOf(long)).toMatch(/^#[\w-]{27}$/)
    expect(fingerprintOf(long)).toBe(fingerprint({ a: long }, ['a']))
    expect(fingerprintOf(`${long}y`)).not.toBe(fingerprintOf(long))
  })

  it('tells when a fingerprint is s and the value itself (the base text is then written from it)', () => {
    const cases: [unknown, FieldInfo['type'] | undefined][] = [
      ['ACME', 'string'],
      ['12.50', 'decimal'],
      ['12.50', 'string'],
      ['x'.repeat(63), 'string'],
      ['x'.repeat(64), 'string'],
      ['', undefined],
      [5, 'integer'],
      [null, 'string'],
    ]
    for (const [value, type] of cases) {
      const plain = isPlainText(value as never, type)
      expect(plain, `${String(value)} ${type}`).toBe(
        fingerprintOf(value as never, type) === `s${String(value)}`,
      )
    }
  })

  it('knows which field types read a value alike (a plain rename fingerprints once)', () => {
    expect(sameCanonical('decimal', 'integer')).toBe(true)
    expect(sameCanonical('string', 'timestamp')).toBe(true)
    expect(sameCanonical(undefined, 'string')).toBe(true)
    expect(sameCanonical('decimal', 'string')).toBe(false)
    // the claim itself, on values where it matters
    for (const [a, b] of [
      ['decimal', 'float'],
      ['string', 'json'],
      ['decimal', 'string'],
    ] as const) {
      const alike = ['1.50', '007', 'abc'].every((v) => canonical(v, a) === canonical(v, b))
      expect(alike).toBe(sameCanonical(a, b))
    }
  })
})

import { describe, expect, it } from 'vitest'
import { fingerprintOf } from '../../src/engine/fingerprint.ts'
import { canonicalJsonNumber, isJsonNumber, parseJson, stringifyJson } from '../../src/sdk/index.ts'

describe('exact JSON', () => {
  it('keeps numbers a double cannot hold as their text, and every other number as a number', () => {
    const doc = parseJson(
      '{"big": 12345678901234567890, "long": 1.000000000000000000001, "huge": 1e400, "safe": 9007199254740991, "unsafe": -9007199254740993, "plain": 1.5, "zeros": 1.50, "exp": 1.5e3, "tiny": 5e-324}',
    ) as Record<string, unknown>
    for (const key of ['big', 'long', 'huge', 'unsafe'])
      expect(isJsonNumber(doc[key]), key).toBe(true)
    expect(doc.safe).toBe(9007199254740991)
    expect(doc.plain).toBe(1.5)
    expect(doc.zeros).toBe(1.5)
    expect(doc.exp).toBe(1500)
    expect(doc.tiny).toBe(5e-324)
    expect(stringifyJson(doc)).toBe(
      '{"big":12345678901234567890,"long":1.000000000000000000001,"huge":1e400,"safe":9007199254740991,"unsafe":-9007199254740993,"plain":1.5,"zeros":1.5,"exp":1500,"tiny":5e-324}',
    )
  })

  it('writes bigints of the value model as exact numbers', () => {
    expect(stringifyJson({ n: 12345678901234567890n, list: [1n] })).toBe(
      '{"n":12345678901234567890,"list":[1]}',
    )
  })

  it('gives one canonical text to numbers that are equal, however written', () => {
    expect(canonicalJsonNumber('1.50')).toBe('1.5')
    expect(canonicalJsonNumber('1.5e3')).toBe('1500')
    expect(canonicalJsonNumber('-0.0')).toBe('0')
    expect(canonicalJsonNumber('0.000123')).toBe('0.000123')
    expect(canonicalJsonNumber('1e400')).toBe('1e400')
    expect(canonicalJsonNumber('12345678901234567890')).toBe('12345678901234567890')
  })

  it('fingerprints a document alike whether a number came as text or as a double, and apart when digits differ', () => {
    const a = parseJson('{"n": 12345678901234567890, "x": 1.50}')
    const b = parseJson('{"x": 1.5, "n": 12345678901234567890}')
    const c = parseJson('{"x": 1.5, "n": 12345678901234567891}')
    expect(fingerprintOf(a, 'json')).toBe(fingerprintOf(b, 'json'))
    expect(fingerprintOf(a, 'json')).not.toBe(fingerprintOf(c, 'json'))
    // Through a double, the two big numbers would be the same.
    expect(JSON.parse('12345678901234567890')).toBe(JSON.parse('12345678901234567891'))
  })
})

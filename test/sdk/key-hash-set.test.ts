import { describe, expect, it } from 'vitest'
import { KeyHashSet } from '../../src/sdk/index.ts'

describe('KeyHashSet', () => {
  it('tells keys it holds from keys it does not, through growth', () => {
    const set = new KeyHashSet()
    const n = 50_000
    for (let i = 0; i < n; i++) expect(set.add(`k${i}`)).toBe(true)
    expect(set.size).toBe(n)
    for (let i = 0; i < n; i++) expect(set.has(`k${i}`)).toBe(true)
    // Keys never added: none is found (a collision is about 1 in 10^14 here).
    for (let i = n; i < 2 * n; i++) expect(set.has(`k${i}`)).toBe(false)
  })

  it('says when a key was there already, and keeps its size', () => {
    const set = new KeyHashSet()
    expect(set.add('["7","2024"]')).toBe(true)
    expect(set.add('["7","2024"]')).toBe(false)
    expect(set.add('["7","2025"]')).toBe(true)
    expect(set.size).toBe(2)
    expect(set.has('')).toBe(false)
    expect(set.add('')).toBe(true)
    expect(set.has('')).toBe(true)
  })
})

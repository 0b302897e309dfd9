import { afterEach, describe, expect, it, vi } from 'vitest'
import { toJson, writeJson } from '../../src/cli/cli-kit.ts'

/** What writeJson wrote to stdout, and in how many writes. */
function captured(object: Record<string, unknown>): { text: string; writes: number } {
  const chunks: string[] = []
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    chunks.push(String(chunk))
    return true
  })
  try {
    writeJson(object)
  } finally {
    spy.mockRestore()
  }
  return { text: chunks.join(''), writes: chunks.length }
}

describe('writeJson', () => {
  afterEach(() => vi.restoreAllMocks())

  it('writes the text toJson gives, arrays included', () => {
    const object = {
      task: 'a "quoted"\nname',
      empty: [],
      changes: [
        { op: 'create', values: { id: 1n, list: [1, [2, 3]], text: 'line\nbreak' } },
        undefined,
        'plain',
        [],
        { nested: { deeper: [{ x: null }] } },
      ],
      skipped: undefined,
      counts: { read: 3, nested: [1, 2] },
      log: [{ level: 'info', message: 'ok' }],
      at: new Date('2026-12-04T00:00:00.000Z'),
    }
    expect(captured(object).text).toBe(`${toJson(object)}\n`)
  })

  it('writes thousands of elements in pieces, never as one string', () => {
    const changes = Array.from({ length: 10_000 }, (_, i) => ({
      op: 'update',
      sourceKey: String(i),
      values: { email: `c${i}@example.com`, city: 'Köln' },
    }))
    const { text, writes } = captured({ task: 't', changes })
    expect(text).toBe(`${toJson({ task: 't', changes })}\n`)
    expect(writes).toBeGreaterThan(10)
    expect(JSON.parse(text).changes).toHaveLength(10_000)
  })
})

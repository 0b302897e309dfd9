import { describe, expect, it } from 'vitest'
import { eta, ProgressLine, type ProgressStream, progressText } from '../../src/cli/progress.ts'
import type { PairProgress } from '../../src/engine/pair-run.ts'
import { type Counts, emptyCounts } from '../../src/engine/protocol.ts'

// Issue 10, item 15: progress shows the total and an ETA where the total is known.
const counts = (over: Partial<Counts>): Counts => ({ ...emptyCounts(), ...over })
const progress = (over: Partial<PairProgress> & { counts: Counts }): PairProgress => ({
  pairId: 'addresses-customers',
  direction: '0->1',
  phase: 'read',
  ...over,
})

describe('progress line with totals', () => {
  it('shows the share read and, after a second, the time left at the rate so far', () => {
    const p = progress({ total: 10_000, counts: counts({ read: 2_500, created: 2_000 }) })
    // Not a second yet: no ETA from a rate that means nothing.
    expect(progressText(p, ['crm', 'erp'], 500)).toBe(
      'addresses-customers crm → erp: 2,500 of 10,000 read (25%), 2,000 written',
    )
    // 2,500 in 10 s: 7,500 left take 30 s.
    expect(progressText(p, ['crm', 'erp'], 10_000)).toBe(
      'addresses-customers crm → erp: 2,500 of 10,000 read (25%), 2,000 written, ETA 30 s',
    )
    // 2,500 in 100 s: 7,500 left take 5 min.
    expect(progressText(p, ['crm', 'erp'], 100_000)).toMatch(/, ETA 5 min 00 s$/)
    const done = progress({ total: 10, counts: counts({ read: 10 }) })
    expect(progressText(done, ['crm', 'erp'], 2_000)).toMatch(/10 of 10 read \(100%\).*ETA 0 s$/)
  })

  it('without a total (a run from a checkpoint, a bridge that cannot count): counts only', () => {
    const p = progress({ counts: counts({ read: 300, created: 300 }) })
    expect(progressText(p, ['crm', 'erp'], 60_000)).toBe(
      'addresses-customers crm → erp: 300 read, 300 written',
    )
    expect(progressText({ ...p, total: 0 }, ['crm', 'erp'], 60_000)).not.toContain('ETA')
  })

  it('ETA text: seconds, minutes, hours', () => {
    expect(eta(400)).toBe('1 s')
    expect(eta(42_000)).toBe('42 s')
    expect(eta(185_000)).toBe('3 min 05 s')
    expect(eta(7_620_000)).toBe('2 h 07 min')
  })

  it('the line measures each pass from when it was first heard of', () => {
    const writes: string[] = []
    const stream: ProgressStream = { isTTY: true, columns: 200, write: (t) => writes.push(t) }
    let now = 0
    const line = new ProgressLine(stream, { systems: ['crm', 'erp'], now: () => now })
    line.update(progress({ total: 1_000, counts: counts({ read: 0 }) }))
    now = 4_000
    line.update(progress({ total: 1_000, counts: counts({ read: 400 }) }))
    // 400 in 4 s: 600 left take 6 s.
    expect(writes.at(-1)).toBe(
      '\r\x1b[2K⠙ addresses-customers crm → erp: 400 of 1,000 read (40%), 0 written, ETA 6 s',
    )
    // The other direction starts its own clock.
    now = 5_000
    line.update(progress({ direction: '1->0', total: 50, counts: counts({ read: 10 }) }))
    expect(writes.at(-1)).toBe(
      '\r\x1b[2K⠹ addresses-customers erp → crm: 10 of 50 read (20%), 0 written',
    )
  })
})

import { describe, expect, it } from 'vitest'
import { Metrics } from '../../src/service/metrics.ts'

const totals = {
  read: 10,
  created: 2,
  updated: 3,
  deleted: 1,
  unchanged: 4,
  conflicts: 1,
  errors: 0,
  unlinked: 0,
}

describe('metrics', () => {
  it('counts runs, records and durations per task in the Prometheus text format', () => {
    const m = new Metrics()
    m.observe({ taskId: 'a', status: 'succeeded', seconds: 0.3, totals, lateSeconds: 1.5 })
    m.observe({ taskId: 'a', status: 'failed', seconds: 20, totals })
    m.observe({ taskId: 'b"x', status: 'succeeded', seconds: 2, totals })
    const text = m.text()
    expect(text).toContain('# TYPE opensync_runs_total counter')
    expect(text).toContain('opensync_runs_total{task="a",status="succeeded"} 1')
    expect(text).toContain('opensync_runs_total{task="a",status="failed"} 1')
    expect(text).toContain('opensync_records_total{task="a",op="created"} 4')
    expect(text).toContain('opensync_run_duration_seconds_bucket{task="a",le="0.5"} 1')
    expect(text).toContain('opensync_run_duration_seconds_bucket{task="a",le="60"} 2')
    expect(text).toContain('opensync_run_duration_seconds_count{task="a"} 2')
    expect(text).toContain('opensync_schedule_lateness_seconds_sum{task="a"} 1.5')
    expect(text).toContain('task="b\\"x"')
    // Every sample line is `name{labels} value`.
    for (const line of text
      .trim()
      .split('\n')
      .filter((l) => !l.startsWith('#'))) {
      expect(line).toMatch(/^[a-z_]+\{[^}]*\} [0-9.e+-]+$/)
    }
  })
})

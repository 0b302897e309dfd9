import type { Counts } from '../store/index.ts'

/** One finished run, as the metrics see it. */
export interface RunObservation {
  readonly taskId: string
  readonly status: 'succeeded' | 'partial' | 'failed' | 'cancelled'
  readonly seconds: number
  readonly totals: Counts
  /** When the run was due (plans) and when it started: the scheduling lateness. */
  readonly lateSeconds?: number
}

const BUCKETS = [0.1, 0.5, 1, 5, 15, 60, 300, 1800] as const

interface TaskSeries {
  readonly runs: Map<string, number>
  readonly records: Map<string, number>
  readonly buckets: number[]
  sum: number
  count: number
  lastEnd: number
  lateSum: number
  lateCount: number
}

/**
 * Counters and durations per task in the Prometheus text format (version 0.0.4), for the
 * API's `/metrics`. Kept in memory by each process; a scraper sums them across workers.
 */
export class Metrics {
  readonly #tasks = new Map<string, TaskSeries>()

  observe(run: RunObservation): void {
    let s = this.#tasks.get(run.taskId)
    if (!s) {
      s = {
        runs: new Map(),
        records: new Map(),
        buckets: BUCKETS.map(() => 0),
        sum: 0,
        count: 0,
        lastEnd: 0,
        lateSum: 0,
        lateCount: 0,
      }
      this.#tasks.set(run.taskId, s)
    }
    s.runs.set(run.status, (s.runs.get(run.status) ?? 0) + 1)
    for (const op of ['read', 'created', 'updated', 'deleted', 'conflicts', 'errors'] as const) {
      s.records.set(op, (s.records.get(op) ?? 0) + run.totals[op])
    }
    BUCKETS.forEach((b, i) => {
      if (run.seconds <= b) s.buckets[i]!++
    })
    s.sum += run.seconds
    s.count++
    s.lastEnd = Date.now() / 1000
    if (run.lateSeconds !== undefined) {
      s.lateSum += run.lateSeconds
      s.lateCount++
    }
  }

  /** The exposition text. */
  text(): string {
    const out: string[] = []
    const family = (name: string, type: string, help: string, rows: string[]) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...rows)
    }
    const tasks = [...this.#tasks.entries()].sort(([a], [b]) => (a < b ? -1 : 1))
    const label = (task: string, extra = '') => `{task="${escapeLabel(task)}"${extra}}`
    family(
      'opensync_runs_total',
      'counter',
      'Finished runs by status.',
      tasks.flatMap(([t, s]) =>
        [...s.runs].map(
          ([status, n]) => `opensync_runs_total${label(t, `,status="${status}"`)} ${n}`,
        ),
      ),
    )
    family(
      'opensync_records_total',
      'counter',
      'Records read, created, updated, deleted, in conflict or failed.',
      tasks.flatMap(([t, s]) =>
        [...s.records].map(([op, n]) => `opensync_records_total${label(t, `,op="${op}"`)} ${n}`),
      ),
    )
    family(
      'opensync_run_duration_seconds',
      'histogram',
      'How long runs took.',
      tasks.flatMap(([t, s]) => [
        ...BUCKETS.map(
          (b, i) => `opensync_run_duration_seconds_bucket${label(t, `,le="${b}"`)} ${s.buckets[i]}`,
        ),
        `opensync_run_duration_seconds_bucket${label(t, ',le="+Inf"')} ${s.count}`,
        `opensync_run_duration_seconds_sum${label(t)} ${s.sum}`,
        `opensync_run_duration_seconds_count${label(t)} ${s.count}`,
      ]),
    )
    family(
      'opensync_schedule_lateness_seconds',
      'summary',
      'How long after its planned time a scheduled run started.',
      tasks.flatMap(([t, s]) => [
        `opensync_schedule_lateness_seconds_sum${label(t)} ${s.lateSum}`,
        `opensync_schedule_lateness_seconds_count${label(t)} ${s.lateCount}`,
      ]),
    )
    family(
      'opensync_last_run_end_timestamp_seconds',
      'gauge',
      'When the last run of the task ended (Unix time).',
      tasks.map(([t, s]) => `opensync_last_run_end_timestamp_seconds${label(t)} ${s.lastEnd}`),
    )
    return `${out.join('\n')}\n`
  }
}

function escapeLabel(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n')
}

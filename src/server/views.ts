import type { z } from 'zod'
import { systemsOf, type TaskSummary, type TaskView } from '../service/task-manager.ts'
import type { ChangeRow, ExecutionRow, LatestExecutions, LogLine } from '../store/index.ts'
import { taskProfiles } from './access/task-visibility.ts'
import type {
  changeSchema,
  executionDetailSchema,
  executionSchema,
  lineSchema,
  taskDetailSchema,
  taskSummarySchema,
} from './schemas/task-schemas.ts'

// How stored rows become API responses: the one place where store and engine names turn
// into the API's (directions named by system keys, `startedAt` only once started).

/** The two system keys of a task document, in order; `0` and `1` while a draft has none. */
export function systemKeys(document: unknown): readonly [string, string] {
  const systems = (document as { systems?: unknown } | null)?.systems
  const keys = systems && typeof systems === 'object' ? Object.keys(systems) : []
  return [keys[0] ?? '0', keys[1] ?? '1']
}

const ZERO = {
  read: 0,
  created: 0,
  updated: 0,
  deleted: 0,
  unchanged: 0,
  conflicts: 0,
  errors: 0,
  unlinked: 0,
}

export function executionOut(row: ExecutionRow): z.infer<typeof executionSchema> {
  const totals: Record<string, number> = { ...ZERO }
  for (const pair of Object.values(row.counts)) {
    for (const counts of Object.values(pair)) {
      for (const [k, v] of Object.entries(counts)) totals[k] = (totals[k] ?? 0) + Number(v)
    }
  }
  return {
    id: row.id,
    taskId: row.taskId,
    status: row.status,
    trigger: row.trigger,
    dryRun: row.dryRun,
    ...(row.queuedAt !== undefined ? { queuedAt: row.queuedAt } : {}),
    ...(row.status !== 'queued' ? { startedAt: row.startedAt } : {}),
    ...(row.endedAt !== undefined ? { endedAt: row.endedAt } : {}),
    ...(row.scheduledFor !== undefined ? { scheduledFor: row.scheduledFor } : {}),
    cancelRequested: row.cancelRequested,
    ...(row.error ? { error: { code: row.error.code, message: row.error.message } } : {}),
    totals,
  }
}

export function executionDetailOut(
  row: ExecutionRow,
  keys: readonly [string, string],
): z.infer<typeof executionDetailSchema> {
  const counts = []
  for (const [pair, directions] of Object.entries(row.counts)) {
    for (const [direction, c] of Object.entries(directions)) {
      const [from, to] = direction === '1->0' ? [keys[1], keys[0]] : [keys[0], keys[1]]
      counts.push({ ...ZERO, ...c, pair, from, to })
    }
  }
  return { ...executionOut(row), counts }
}

export function taskSummaryOut(
  view: TaskView | TaskSummary,
  latest: LatestExecutions | undefined,
): z.infer<typeof taskSummarySchema> {
  return {
    id: view.id,
    subject: view.subject,
    draft: view.draft,
    active: view.active,
    ...(view.plan ? { plan: { ...view.plan } } : {}),
    ...(view.nextRunAt ? { nextRunAt: view.nextRunAt } : {}),
    ...(latest?.finished ? { lastExecution: executionOut(latest.finished) } : {}),
    ...(latest?.running ? { running: executionOut(latest.running) } : {}),
    ...(latest?.queued ? { queued: executionOut(latest.queued) } : {}),
    neverExecuted: !latest?.finished && !latest?.running,
    issues: view.issues.map((i) => ({ path: i.path, message: i.message })),
    profiles: 'profiles' in view ? [...view.profiles] : taskProfiles(view.document),
    systems: ('systems' in view ? view.systems : systemsOf(view.document)).map((s) => ({ ...s })),
    revision: view.revision,
    createdAt: view.createdAt,
    updatedAt: view.updatedAt,
  }
}

export function taskDetailOut(
  view: TaskView,
  latest: LatestExecutions | undefined,
): z.infer<typeof taskDetailSchema> {
  const document = view.document
  return {
    ...taskSummaryOut(view, latest),
    document:
      document && typeof document === 'object' && !Array.isArray(document)
        ? (document as Record<string, unknown>)
        : {},
    ...(view.paused ? { paused: { ...view.paused } } : {}),
  }
}

export function lineOut(line: LogLine): z.infer<typeof lineSchema> {
  return {
    id: line.id,
    at: line.at,
    level: line.level,
    ...(line.pairId !== undefined ? { pairId: line.pairId } : {}),
    message: line.message,
    ...(line.data !== undefined ? { data: line.data } : {}),
  }
}

export function changeOut(
  change: ChangeRow,
  keys: readonly [string, string],
): z.infer<typeof changeSchema> {
  const [from, to] = change.direction === 1 ? [keys[1], keys[0]] : [keys[0], keys[1]]
  return {
    id: change.id,
    pairId: change.pairId,
    from,
    to,
    op: change.op,
    sourceKey: change.sourceKey,
    ...(change.targetKey !== undefined ? { targetKey: change.targetKey } : {}),
    ...(change.detail !== undefined ? { detail: { ...change.detail } } : {}),
  }
}

import type {
  Counts,
  Direction,
  ExecutionCounts,
  LogEntry,
  PlannedChange,
} from '../engine/protocol.ts'
import { sumCounts } from '../engine/protocol.ts'
import type { RunResult } from '../engine/run-task.ts'
import type { ResolvedPair, ResolvedTask } from '../engine/task/resolved-task.ts'
import type { ExecutionRow } from '../store/index.ts'
import { fmt, plural } from './progress.ts'

const COLUMNS = [
  'read',
  'created',
  'updated',
  'deleted',
  'unchanged',
  'conflicts',
  'errors',
] as const
const DIRECTIONS: readonly Direction[] = ['0->1', '1->0']

/** Planned changes a dry run lists; `--json` has them all. */
const MAX_CHANGES = 100
/** Warnings the summary lists; the protocol has them all. */
const MAX_WARNINGS = 10

/**
 * A table of counts: a line per pair, then a row per direction it runs in, directions named
 * by the systems' keys. The `unlinked` column appears only when a record was unlinked.
 */
export function countsTable(task: ResolvedTask, counts: ExecutionCounts): string {
  const keys = task.systems.map((s) => s.key)
  const columns: (keyof Counts)[] = [...COLUMNS]
  const all = Object.values(counts).flatMap((dirs) => Object.values(dirs))
  if (all.some((c) => (c.unlinked ?? 0) > 0)) columns.push('unlinked')

  type Line = { title: string } | { cells: string[] }
  const lines: Line[] = []
  const pairIds = [
    ...task.pairs.map((p) => p.id),
    ...Object.keys(counts).filter((id) => !task.pairs.some((p) => p.id === id)),
  ]
  for (const pairId of pairIds) {
    const pair = task.pairs.find((p) => p.id === pairId)
    const dirs = counts[pairId]
    // A pair the run never reached (it failed before) has no counts: leave it out.
    if (!dirs) continue
    lines.push({ title: pair ? pairTitle(task, pair) : pairId })
    for (const [i, dir] of DIRECTIONS.entries()) {
      const c = dirs[dir]
      const runs = pair ? pair.flows[i] : c !== undefined && columns.some((k) => c[k] > 0)
      if (!runs) continue
      const label = dir === '0->1' ? `${keys[0]} → ${keys[1]}` : `${keys[1]} → ${keys[0]}`
      lines.push({ cells: [`  ${label}`, ...columns.map((k) => fmt(c?.[k] ?? 0))] })
    }
  }
  if (lines.length === 0) return ''
  const rows = lines.flatMap((l) => ('cells' in l ? [l.cells] : []))
  const header = ['', ...columns]
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const render = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[0]!) : cell.padStart(widths[i]!)))
      .join('  ')
      .trimEnd()
  return [render(header), ...lines.map((l) => ('cells' in l ? render(l.cells) : l.title))].join(
    '\n',
  )
}

/** `addresses-customers: crm addresses ↔ erp customers` */
function pairTitle(task: ResolvedTask, pair: ResolvedPair): string {
  const [a, b] = task.systems
  return `${pair.id}: ${a.key} ${pair.sides[0].type} ↔ ${b.key} ${pair.sides[1].type}`
}

/** Where the summary can point for more. */
export interface SummaryOptions {
  /** The task file as the user named it, for the `opensync executions` hint. */
  readonly file?: string
}

/** The readable end-of-run summary. */
export function summary(
  task: ResolvedTask,
  result: RunResult,
  options: SummaryOptions = {},
): string {
  const what = result.dryRun ? 'Dry run' : 'Run'
  const id = result.executionId !== undefined ? ` (execution ${result.executionId})` : ''
  const took = duration(result.startedAt, result.endedAt)
  const when = result.status === 'succeeded' || result.status === 'partial' ? 'in' : 'after'
  const failed =
    result.status === 'partial'
      ? `: ${fmt(result.totals.errors)} ${plural(result.totals.errors, 'record')} failed`
      : ''
  const lines = [`${what} of "${task.subject}" ${result.status} ${when} ${took}${id}${failed}.`]

  const table = countsTable(task, result.counts)
  if (table) lines.push('', table)
  lines.push('')

  if (result.error?.code === 'OSY_ABORTED') {
    lines.push(
      'Interrupted: the batches committed so far are kept (their records stay linked). The next run reads:',
      ...resumeLines(task),
    )
  } else if (result.error) {
    lines.push(`Error: ${result.error.message} [${result.error.code}]`)
  }
  if (table || !result.error) lines.push(...outcome(task, result, options))

  // The line that repeats the failure is left out: it is printed above.
  const warnings = result.log.filter(
    (l) => l.level !== 'info' && !(result.error && l.level === 'error' && l.pairId === undefined),
  )
  if (warnings.length > 0) {
    lines.push('', `${fmt(warnings.length)} ${plural(warnings.length, 'warning')}:`)
    for (const w of warnings.slice(0, MAX_WARNINGS)) {
      lines.push(
        `  ${w.level === 'error' ? 'error: ' : ''}${w.pairId ? `[${w.pairId}] ` : ''}${w.message}`,
      )
    }
    if (warnings.length > MAX_WARNINGS)
      lines.push(`  … and ${fmt(warnings.length - MAX_WARNINGS)} more`)
  }

  if (result.dryRun) {
    // A dry run that failed before planning anything has no list to show.
    if (result.changes.length > 0 || !result.error)
      lines.push('', changesList(task, result.changes))
    lines.push('', 'Dry run: nothing was written.')
  } else if (result.executionId !== undefined && (warnings.length > 0 || result.error)) {
    const file = options.file ? quoteArg(options.file) : '<task file>'
    lines.push('', `The protocol: opensync executions ${file} ${result.executionId}`)
  }
  return lines.join('\n')
}

/**
 * What the run after an interrupted one really reads again, per pair and source side: from
 * the checkpoint of the last committed batch where the side has a cursor (less its lag
 * window), everything where it has none — compared with what was synced, so only the
 * records not yet written are written.
 */
function resumeLines(task: ResolvedTask): string[] {
  const lines: string[] = []
  for (const pair of task.pairs) {
    for (const s of [0, 1] as const) {
      if (!pair.flows[s]) continue
      const side = pair.sides[s]
      const what = side.cursor
        ? `the records changed since the last committed batch (cursor ${side.cursor}${side.lag > 0 ? `, and a lag window of ${side.lag} before it for late commits` : ''})`
        : 'every record again (no cursor): each is compared with what was synced, and only the ones not yet written are written'
      lines.push(
        `  ${task.pairs.length > 1 ? `[${pair.id}] ` : ''}${task.systems[s].key} ${side.type}: ${what}`,
      )
    }
  }
  return lines
}

/** What the run wrote, in words: which system got how many creates, updates and deletes. */
function outcome(task: ResolvedTask, result: RunResult, options: SummaryOptions): string[] {
  const keys = task.systems.map((s) => s.key)
  // Writes of direction 0->1 land in system 1, of 1->0 in system 0; listed in run order.
  const into = new Map<number, { created: number; updated: number; deleted: number }>()
  for (const dirs of Object.values(result.counts)) {
    for (const dir of DIRECTIONS) {
      const c = dirs[dir]
      if (!c) continue
      const target = dir === '0->1' ? 1 : 0
      const sum = into.get(target) ?? { created: 0, updated: 0, deleted: 0 }
      sum.created += c.created
      sum.updated += c.updated
      sum.deleted += c.deleted
      into.set(target, sum)
    }
  }
  const lines: string[] = []
  for (const [s, c] of into) {
    const ops = [
      c.created > 0 ? `${fmt(c.created)} created` : '',
      c.updated > 0 ? `${fmt(c.updated)} updated` : '',
      c.deleted > 0 ? `${fmt(c.deleted)} deleted` : '',
    ].filter(Boolean)
    if (ops.length > 0) {
      lines.push(
        `${result.dryRun ? 'Would write to' : 'Written to'} ${keys[s]}: ${ops.join(', ')}.`,
      )
    }
  }
  const t = result.totals
  // Parked conflicts keep the sides apart, whatever this run wrote.
  const waiting = result.openConflicts ?? 0
  if (lines.length === 0) {
    if (t.errors === 0 && t.conflicts === 0 && waiting === 0 && result.status === 'succeeded') {
      lines.push(
        result.dryRun
          ? 'Nothing would be written: the systems are in step.'
          : 'Nothing written: the systems were already in step.',
      )
    } else {
      lines.push(result.dryRun ? 'Nothing would be written.' : 'Nothing written.')
    }
  }
  if (t.conflicts > 0) lines.push(conflictLine(task, result.counts))
  if (waiting > 0) {
    const arg = quoteArg(options.file ?? task.id)
    lines.push(
      `${fmt(waiting)} ${plural(waiting, 'conflict')} ${waiting === 1 ? 'waits' : 'wait'} for a decision, so the systems are not in step yet: opensync conflicts list ${arg}`,
    )
  }
  if (t.errors > 0) {
    lines.push(
      `${fmt(t.errors)} ${plural(t.errors, 'record')} failed; ${t.errors === 1 ? 'it is' : 'they are'} retried on the next run.`,
    )
  }
  if (t.unlinked > 0) {
    lines.push(
      `${fmt(t.unlinked)} ${plural(t.unlinked, 'record')} unlinked (left the filter or gone on the other side).`,
    )
  }
  return lines
}

function conflictLine(task: ResolvedTask, counts: ExecutionCounts): string {
  const how = new Map<string, number>()
  for (const id of Object.keys(counts)) {
    const n = DIRECTIONS.reduce((sum, d) => sum + (counts[id]?.[d]?.conflicts ?? 0), 0)
    if (n === 0) continue
    const w = task.pairs.find((p) => p.id === id)?.conflict.winner
    const text =
      w === undefined
        ? 'resolved'
        : w === 'manual'
          ? 'parked for a decision'
          : w === 'newest'
            ? 'the newer change won'
            : `the value in ${task.systems[w].key} won`
    how.set(text, (how.get(text) ?? 0) + n)
  }
  const total = [...how.values()].reduce((a, b) => a + b, 0)
  const parts = [...how].map(([text, n]) => (how.size === 1 ? text : `${fmt(n)} ${text}`))
  return `${fmt(total)} field ${plural(total, 'conflict')}: ${parts.join('; ')}.`
}

/** The planned changes of a dry run, one line each (at most {@link MAX_CHANGES}). */
export function changesList(task: ResolvedTask, changes: readonly PlannedChange[]): string {
  if (changes.length === 0) return 'No changes planned.'
  const lines = changes.slice(0, MAX_CHANGES).map((c) => `  ${changeLine(task, c)}`)
  if (changes.length > MAX_CHANGES) {
    lines.push(`  … and ${fmt(changes.length - MAX_CHANGES)} more (--json lists them all)`)
  }
  return `Planned changes (${fmt(changes.length)}):\n${lines.join('\n')}`
}

/** One planned change: `crm → erp  update customers 1 (from addresses 1): town = "Bonn"`. */
export function changeLine(task: ResolvedTask, c: PlannedChange): string {
  const from = c.direction === '0->1' ? 0 : 1
  const to = 1 - from
  const pair = task.pairs.find((p) => p.id === c.pairId)
  const type = (s: number) => pair?.sides[s]?.type ?? (s === 0 ? 'side 0' : 'side 1')
  const keys = task.systems.map((s) => s.key)
  const prefix = `${pair && task.pairs.length > 1 ? `[${c.pairId}] ` : ''}${keys[from]} → ${keys[to]}  `
  const target = c.targetKey !== undefined ? ` ${c.targetKey}` : ''
  const source = `${type(from)} ${c.sourceKey}`
  switch (c.op) {
    case 'create':
      return `${prefix}create ${type(to)} (from ${source}): ${valuesText(c.values)}`
    case 'update':
    case 'upsert':
      return `${prefix}${c.op} ${type(to)}${target} (from ${source}): ${valuesText(c.values)}`
    case 'delete':
      return `${prefix}delete ${type(to)}${target} (${source} was deleted)`
    case 'flag':
      return `${prefix}flag ${type(to)}${target} (${source} was deleted; deletes: flag)`
    case 'unlink':
      return `${prefix}unlink ${source} from ${type(to)}${target}`
    case 'link':
      return `${prefix}link ${source} to ${type(to)}${target}`
    case 'conflict': {
      const v = c.values as { mapping?: string; values?: [unknown, unknown] } | undefined
      const both = v?.values
        ? `: ${keys[0]} ${valuesText(v.values[0])} vs ${keys[1]} ${valuesText(v.values[1])}`
        : ''
      return `${prefix}conflict on ${v?.mapping ?? '?'} (${source} ↔ ${type(to)}${target})${both}`
    }
    default:
      return `${prefix}${String(c.op)} ${source}`
  }
}

/** `town = "Bonn", zip = "53111"`, cut after 160 characters. */
function valuesText(values: unknown): string {
  let text: string
  if (values !== null && typeof values === 'object' && !Array.isArray(values)) {
    const entries = Object.entries(values)
    text =
      entries.length === 0
        ? '(no fields)'
        : entries.map(([k, v]) => `${k} = ${JSON.stringify(v) ?? 'undefined'}`).join(', ')
  } else {
    text = JSON.stringify(values) ?? 'undefined'
  }
  return text.length > 160 ? `${text.slice(0, 159)}…` : text
}

/** The list of a task's executions, newest first. */
export function executionsTable(rows: readonly ExecutionRow[]): string {
  const header = [
    'id',
    'status',
    'trigger',
    'started',
    'took',
    'created',
    'updated',
    'deleted',
    'conflicts',
    'errors',
  ]
  const body = rows.map((r) => {
    const t = totals(r.counts)
    return [
      String(r.id),
      r.status,
      r.trigger,
      localTime(r.startedAt),
      r.endedAt ? duration(r.startedAt, r.endedAt) : '–',
      fmt(t.created),
      fmt(t.updated),
      fmt(t.deleted),
      fmt(t.conflicts),
      fmt(t.errors),
    ]
  })
  const all = [header, ...body]
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i]!.length)))
  const left = new Set([1, 2, 3])
  return all
    .map((r) =>
      r
        .map((cell, i) => (left.has(i) ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}

/** One execution: what, when, its counts and its protocol. */
export function executionReport(
  task: ResolvedTask,
  row: ExecutionRow,
  log: readonly LogEntry[],
): string {
  const took = row.endedAt ? `, took ${duration(row.startedAt, row.endedAt)}` : ', still running'
  const lines = [
    `Execution ${row.id} of "${task.subject}": ${row.status}${row.dryRun ? ' (dry run)' : ''}`,
    `Started ${localTime(row.startedAt)} by ${row.trigger}${took}.`,
  ]
  if (row.error) lines.push(`Error: ${row.error.message} [${row.error.code}]`)
  const table = countsTable(task, row.counts)
  if (table) lines.push('', table)
  lines.push(
    '',
    `Protocol (${fmt(log.length)} ${plural(log.length, 'line')}):`,
    logLines(log, row.startedAt),
  )
  return lines.join('\n')
}

/**
 * Protocol lines as text: local time, level, pair, message. The date is a line of its own,
 * whenever it differs from the one before (`since`, the execution's start, if given).
 */
export function logLines(entries: readonly LogEntry[], since?: string): string {
  let day = since ? localTime(since).split(' ')[0]! : ''
  const out: string[] = []
  for (const e of entries) {
    const [date, time] = localTime(e.at, true).split(' ') as [string, string]
    if (date !== day) {
      out.push(`  ${date}`)
      day = date
    }
    out.push(
      `  ${time}  ${e.level.padEnd(5)}  ${e.pairId ? `[${e.pairId}] ` : ''}${e.message}`.trimEnd(),
    )
  }
  return out.join('\n')
}

/** Sums counts over every pair and direction. */
export const totals = sumCounts

/** `0.3 s`, `42 s`, `3 min 05 s`, `2 h 07 min`. */
export function duration(from: string, to: string): string {
  const ms = Math.max(0, Date.parse(to) - Date.parse(from))
  if (Number.isNaN(ms)) return '?'
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`
  const s = Math.round(ms / 1000)
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`
}

/** An ISO time as local `YYYY-MM-DD HH:MM:SS` (with milliseconds if asked). */
export function localTime(iso: string, millis = false): string {
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return iso
  const p = (n: number, w = 2) => String(n).padStart(w, '0')
  const date = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`
  const time = `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
  return `${date} ${time}${millis ? `.${p(d.getMilliseconds(), 3)}` : ''}`
}

/** A path as a shell argument: quoted only when it needs to be. */
export function quoteArg(text: string): string {
  return /^[\w./:@%+=,-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`
}

import type { Counts, ExecutionCounts, LogEntry, PlannedChange } from '../engine/protocol.ts'
import type { RunResult } from '../engine/run-task.ts'
import type { ResolvedTask } from '../engine/task/resolved-task.ts'
import { fmt } from './progress.ts'

const COLUMNS: (keyof Counts)[] = ['read', 'created', 'updated', 'deleted', 'unchanged', 'conflicts', 'errors', 'unlinked']

/** A table of counts per pair and direction, directions named by the systems' keys. */
export function countsTable(task: ResolvedTask, counts: ExecutionCounts): string {
  const keys = task.systems.map((s) => s.key)
  const rows: string[][] = [['pair', 'direction', ...COLUMNS]]
  for (const [pairId, dirs] of Object.entries(counts)) {
    for (const [dir, c] of Object.entries(dirs)) {
      if (COLUMNS.every((k) => c[k] === 0)) continue
      const label = dir === '0->1' ? `${keys[0]} → ${keys[1]}` : `${keys[1]} → ${keys[0]}`
      rows.push([pairId, label, ...COLUMNS.map((k) => fmt(c[k]))])
    }
  }
  if (rows.length === 1) return 'nothing to do: no records matched'
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  return rows.map((r) => r.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ')).join('\n')
}

/** The readable end-of-run summary. */
export function summary(task: ResolvedTask, result: RunResult): string {
  const seconds = ((Date.parse(result.endedAt) - Date.parse(result.startedAt)) / 1000).toFixed(1)
  const head = `${result.dryRun ? 'Dry run' : 'Run'} of "${task.subject}" ${result.status} in ${seconds}s${
    result.executionId !== undefined ? ` (execution ${result.executionId})` : ''
  }`
  const lines = [head, '', countsTable(task, result.counts)]
  if (result.error) lines.push('', `error ${result.error.code}: ${result.error.message}`)
  const warnings = result.log.filter((l) => l.level !== 'info')
  if (warnings.length > 0) {
    lines.push('', `${warnings.length} warning(s):`)
    for (const w of warnings.slice(0, 20)) lines.push(`  ${w.level}: ${w.message}`)
    if (warnings.length > 20) lines.push(`  … and ${warnings.length - 20} more (see opensync executions)`)
  }
  if (result.dryRun) lines.push('', changesList(task, result.changes), '', 'Nothing was written (dry run).')
  return lines.join('\n')
}

/** The planned changes of a dry run, one line each (at most 200). */
export function changesList(task: ResolvedTask, changes: readonly PlannedChange[]): string {
  if (changes.length === 0) return 'No changes.'
  const keys = task.systems.map((s) => s.key)
  const lines = changes.slice(0, 200).map((c) => {
    const [from, to] = c.direction === '0->1' ? [keys[0], keys[1]] : [keys[1], keys[0]]
    const values = c.values !== undefined ? ` ${JSON.stringify(c.values)}` : ''
    return `  ${c.op.padEnd(8)} ${c.pairId} ${from}:${c.sourceKey} → ${to}:${c.targetKey ?? '(new)'}${values}`
  })
  if (changes.length > 200) lines.push(`  … and ${changes.length - 200} more (use --json for all)`)
  return `Planned changes:\n${lines.join('\n')}`
}

/** Protocol lines as text. */
export function logLines(entries: readonly LogEntry[]): string {
  return entries.map((e) => `${e.at}  ${e.level.padEnd(5)}  ${e.pairId ? `[${e.pairId}] ` : ''}${e.message}`).join('\n')
}

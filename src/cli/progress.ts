import type { PairProgress } from '../engine/pair-run.ts'

/** The part of a terminal stream the progress line uses (a fake one in tests). */
export interface ProgressStream {
  readonly isTTY?: boolean
  readonly columns?: number
  write(text: string): unknown
}

/** How a {@link ProgressLine} behaves. */
export interface ProgressOptions {
  /** Draw at all. Default: when the stream is a terminal that understands cursor movement. */
  readonly enabled?: boolean
  /** The task's two system keys, to name directions (`crm → erp`). Default `0`/`1`. */
  readonly systems?: readonly [string, string]
  /** Milliseconds between redraws. Default 100. */
  readonly interval?: number
  /** The clock, for tests. */
  readonly now?: () => number
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏']

/**
 * A one-line live progress display on a terminal: records read and written so far in the
 * pair and direction being run, redrawn at most ten times a second. Silent when the stream
 * is not a terminal, so piped and logged output stays clean.
 */
export class ProgressLine {
  readonly #stream: ProgressStream
  readonly #enabled: boolean
  readonly #systems: readonly [string, string]
  readonly #interval: number
  readonly #now: () => number
  #last = Number.NEGATIVE_INFINITY
  #shown = false
  #tick = 0
  /** When each pass (pair and direction) was first heard of, for its ETA. */
  readonly #started = new Map<string, number>()

  constructor(stream: ProgressStream = process.stderr, options: ProgressOptions = {}) {
    this.#stream = stream
    this.#enabled = options.enabled ?? isInteractive(stream)
    this.#systems = options.systems ?? ['0', '1']
    this.#interval = options.interval ?? 100
    this.#now = options.now ?? Date.now
  }

  /** Whether the line is drawn at all. */
  get enabled(): boolean {
    return this.#enabled
  }

  update(p: PairProgress): void {
    if (!this.#enabled) return
    const now = this.#now()
    const pass = `${p.pairId}\u0000${p.direction}\u0000${p.phase}`
    if (!this.#started.has(pass)) this.#started.set(pass, now)
    if (now - this.#last < this.#interval) return
    this.#last = now
    const frame = SPINNER[this.#tick++ % SPINNER.length]
    const text = `${frame} ${progressText(p, this.#systems, now - this.#started.get(pass)!)}`
    const width = Math.max(20, (this.#stream.columns || 80) - 1)
    this.#stream.write(`\r\x1b[2K${clip(text, width)}`)
    this.#shown = true
  }

  /** Clears the line, so the summary starts on a clean line. */
  done(): void {
    if (this.#shown) this.#stream.write('\r\x1b[2K')
    this.#shown = false
  }
}

/**
 * The progress text of one update, without the spinner. With the pass's total (when the
 * bridge could count it): the share read, and after a second an ETA from the rate so far.
 */
export function progressText(
  p: PairProgress,
  systems: readonly [string, string],
  elapsedMs?: number,
): string {
  const c = p.counts
  const [from, to] = p.direction === '0->1' ? systems : [systems[1], systems[0]]
  const written = c.created + c.updated + c.deleted
  const phase = p.phase === 'deletes' ? ' (checking deletes)' : ''
  const total = p.total !== undefined && p.total > 0 ? p.total : undefined
  const read =
    total !== undefined
      ? `${fmt(c.read)} of ${fmt(total)} read (${Math.min(100, Math.floor((c.read / total) * 100))}%)`
      : `${fmt(c.read)} read`
  const parts = [read, `${fmt(written)} written`]
  if (c.conflicts > 0) parts.push(`${fmt(c.conflicts)} ${plural(c.conflicts, 'conflict')}`)
  if (c.errors > 0) parts.push(`${fmt(c.errors)} ${plural(c.errors, 'error')}`)
  if (total !== undefined && elapsedMs !== undefined && elapsedMs >= 1000 && c.read > 0) {
    const left = Math.max(0, total - c.read)
    parts.push(left === 0 ? 'ETA 0 s' : `ETA ${eta((left * elapsedMs) / c.read)}`)
  }
  return `${p.pairId} ${from} → ${to}${phase}: ${parts.join(', ')}`
}

/** `8 s`, `3 min 05 s`, `2 h 07 min`: the time left, rounded up to a second. */
export function eta(ms: number): string {
  const s = Math.max(1, Math.ceil(ms / 1000))
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`
}

/** Whether a stream is a terminal that can redraw a line. */
export function isInteractive(stream: ProgressStream): boolean {
  return stream.isTTY === true && process.env.TERM !== 'dumb'
}

function clip(text: string, width: number): string {
  const chars = [...text]
  return chars.length <= width ? text : `${chars.slice(0, width - 1).join('')}…`
}

/** A count with thousands separators. */
export function fmt(n: number): string {
  return n.toLocaleString('en-US')
}

/** `word` or `words`, by count. */
export function plural(n: number, word: string, many = `${word}s`): string {
  return n === 1 ? word : many
}

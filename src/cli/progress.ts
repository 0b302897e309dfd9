import type { PairProgress } from '../engine/pair-run.ts'

/**
 * A one-line live progress display on a terminal: records read and written per pair and
 * direction, redrawn at most ten times a second. Silent when stderr is not a terminal.
 */
export class ProgressLine {
  readonly #stream: NodeJS.WriteStream
  readonly #enabled: boolean
  #last = 0
  #shown = false
  readonly #spinner = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏']
  #tick = 0

  constructor(stream: NodeJS.WriteStream = process.stderr, enabled = stream.isTTY === true) {
    this.#stream = stream
    this.#enabled = enabled
  }

  update(p: PairProgress): void {
    if (!this.#enabled) return
    const now = Date.now()
    if (now - this.#last < 100) return
    this.#last = now
    const c = p.counts
    const written = c.created + c.updated + c.deleted
    const frame = this.#spinner[this.#tick++ % this.#spinner.length]
    const text = `${frame} ${p.pairId} ${p.direction} ${p.phase}: read ${fmt(c.read)} · written ${fmt(written)} (+${fmt(c.created)} ~${fmt(c.updated)} -${fmt(c.deleted)}) · unchanged ${fmt(c.unchanged)} · errors ${fmt(c.errors)}`
    const width = this.#stream.columns ?? 120
    this.#stream.write(`\r\x1b[2K${text.slice(0, width - 1)}`)
    this.#shown = true
  }

  /** Clears the line before the summary is printed. */
  done(): void {
    if (this.#shown) this.#stream.write('\r\x1b[2K')
    this.#shown = false
  }
}

/** A count with thousands separators. */
export function fmt(n: number): string {
  return n.toLocaleString('en-US')
}

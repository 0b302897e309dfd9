import type { EventHub } from '../service/event-hub.ts'

/**
 * The task list, serialised, for a moment (issue 11's speed goal: 1,000 tasks at 200
 * requests/s). Building it costs ~40 ms of CPU (every task's document and latest execution,
 * a 600 KB answer), and a console tab per administrator polls it. An entry lives until any
 * live event (a task changed, an execution queued, progressed or ended — in cluster mode from
 * any process), any write through this API, or `ttlMs` passes: changes from a process
 * without events (a CLI `tasks import` beside a SQLite store) show within that second.
 * Only built with an event hub: without one, nothing would tell it that runs moved on.
 */
export class TaskListCache {
  readonly #ttlMs: number
  readonly #entries = new Map<string, { readonly at: number; readonly body: Promise<string> }>()
  #generation = 0

  constructor(events: EventHub, ttlMs = 1000) {
    this.#ttlMs = ttlMs
    this.#subscription = events.subscribe(() => this.clear())
  }

  readonly #subscription: { close(): void }

  /** The cached body for `key` (the caller's visibility), built once by concurrent callers. */
  get(key: string, build: () => Promise<string>): Promise<string> {
    const now = Date.now()
    const hit = this.#entries.get(key)
    if (hit && now - hit.at < this.#ttlMs) return hit.body
    const generation = this.#generation
    const body = build()
    this.#entries.set(key, { at: now, body })
    // A failed build is not kept; nor is one that an event overtook while it was built.
    body.then(
      () => {
        if (generation !== this.#generation) this.#entries.delete(key)
      },
      () => this.#entries.delete(key),
    )
    return body
  }

  clear(): void {
    this.#generation++
    this.#entries.clear()
  }

  close(): void {
    this.#subscription.close()
    this.clear()
  }
}

/**
 * At most `size` write requests in flight at once on one connection, however many `write`
 * calls share it: the manifest's `concurrency` holds when the engine keeps two batches'
 * writes in flight (the bridge declares `concurrentWrites`). Waiters go in arrival order.
 */
export class RequestGate {
  readonly size: number
  #active = 0
  readonly #waiting: (() => void)[] = []

  constructor(size: number) {
    this.size = size
  }

  /** Runs fn once a slot is free, and frees the slot when it settles. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#active >= this.size) await new Promise<void>((resolve) => this.#waiting.push(resolve))
    else this.#active++
    try {
      return await fn()
    } finally {
      // The slot passes straight to the next waiter, so a newcomer cannot take it in between.
      const next = this.#waiting.shift()
      if (next) next()
      else this.#active--
    }
  }
}

import { createHash } from 'node:crypto'
import { OpenSyncError } from '../../sdk/index.ts'

/**
 * A token bucket as the generic cell rate algorithm: each request reserves the next free
 * slot at once, so waiters are served in order and a burst of `burst` requests passes
 * without waiting. One bucket per API and identity lives in the process
 * ({@link sharedBucket}), so every task that reaches the same system shares one budget.
 */
export class TokenBucket {
  #interval: number
  #tolerance: number
  /** The theoretical arrival time of the next request, in ms. */
  #tat = 0

  constructor(requestsPerSecond: number, burst = 1) {
    this.#interval = 1000 / requestsPerSecond
    this.#tolerance = (Math.max(1, burst) - 1) * this.#interval
  }

  /** Narrows the budget when another user of the same system declares a smaller one. */
  narrow(requestsPerSecond: number, burst = 1): void {
    const interval = 1000 / requestsPerSecond
    if (interval > this.#interval) this.#interval = interval
    this.#tolerance = Math.min(this.#tolerance, (Math.max(1, burst) - 1) * this.#interval)
  }

  /** Waits for a request slot. */
  async take(signal?: AbortSignal): Promise<void> {
    const now = performance.now()
    const tat = Math.max(this.#tat, now)
    this.#tat = tat + this.#interval
    const wait = tat - this.#tolerance - now
    if (wait > 0) await sleep(wait, signal)
  }
}

const buckets = new Map<string, TokenBucket>()

/**
 * The process-wide bucket of one system: keyed by its base URL and a hash of the
 * credentials, so two tasks with the same account share a budget and a second account of
 * the same API gets its own (APIs count per account).
 */
export function sharedBucket(
  baseUrl: string,
  identity: string,
  requestsPerSecond: number,
  burst?: number,
): TokenBucket {
  const key = `${baseUrl}\u0000${createHash('sha256').update(identity).digest('hex')}`
  let bucket = buckets.get(key)
  if (bucket) bucket.narrow(requestsPerSecond, burst)
  else {
    bucket = new TokenBucket(requestsPerSecond, burst)
    buckets.set(key, bucket)
  }
  return bucket
}

/** Waits `ms`, or rejects with OSY_ABORTED when the signal fires first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(aborted(signal))
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(timer)
      reject(aborted(signal!))
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

function aborted(signal: AbortSignal): OpenSyncError {
  const reason = signal.reason
  if (reason instanceof OpenSyncError) return reason
  return new OpenSyncError('OSY_ABORTED', 'the operation was aborted', { cause: reason })
}

import type { ResolvedTask } from '../engine/task/index.ts'
import { type BridgeLogger, coerceError, silentLogger } from '../sdk/index.ts'
import type { ExecutionRow, Store } from '../store/index.ts'
import type { EventHub } from './event-hub.ts'
import { OPENSYNC_VERSION } from './version.ts'

/** What a webhook receives (JSON, POST). */
export interface WebhookPayload {
  /** `failure`: a run failed after one that did not; `recovery`: the reverse; `paused`: the plan paused itself. */
  readonly event: 'failure' | 'recovery' | 'paused'
  readonly task: { readonly id: string; readonly subject: string }
  readonly execution: {
    readonly id: number
    readonly status: string
    readonly trigger: string
    readonly startedAt: string
    readonly endedAt?: string
  }
  readonly error?: { readonly code: string; readonly message: string }
  /** Failed runs in a row, this one included (0 on recovery). */
  readonly failuresInRow: number
  /** Why the plan paused (`paused` only). */
  readonly reason?: string
}

/** Options of a {@link Notifier}. */
export interface NotifierOptions {
  readonly store: Store
  /**
   * Pauses a task's plan (the TaskManager). Only the method used is named: the task manager
   * imports this module, and importing it back would be an import circle.
   */
  readonly tasks: { deactivate(taskId: string): Promise<unknown> }
  /** Where `task.changed` (paused) goes. */
  readonly events?: EventHub
  /** How long a webhook may take to answer. Default 10 s. */
  readonly timeoutMs?: number
  readonly log?: BridgeLogger
}

/** What a protocol line that paused the plan carries in its data. */
export const PAUSE_MARK = 'planPaused'

/**
 * A task's notifications (its `notify:` settings): a webhook when a run fails after one that
 * did not and when a run succeeds after failures, and the plan that pauses itself after
 * `failuresBeforePause` failed runs in a row. A partial run (some records failed, kept in the
 * inbox) counts as a run that worked; cancelled runs count neither way. The pause
 * deactivates the task and writes why into the failed run's protocol, where `tasks show`
 * and the API find it. Webhooks are sent in the background: a slow receiver never holds a
 * worker; a failed delivery is logged (without the URL, which often carries a token).
 */
export class Notifier {
  readonly #o: NotifierOptions
  readonly #sending = new Set<Promise<void>>()

  constructor(options: NotifierOptions) {
    this.#o = options
  }

  get #log(): BridgeLogger {
    return this.#o.log ?? silentLogger
  }

  /** Deliveries in flight have ended (for tests and shutdown). */
  async idle(): Promise<void> {
    while (this.#sending.size > 0) await Promise.allSettled([...this.#sending])
  }

  /** Called when a run of the task has ended and its execution is finished in the store. */
  async runEnded(execution: ExecutionRow, task: ResolvedTask | undefined): Promise<void> {
    const notify = task?.notify
    if (!task || !notify) return
    const { store } = this.#o
    const limit = Math.max(notify.failuresBeforePause ?? 1, 1) + 1
    // Newest first; the run that just ended is among them (a queued one may be newer).
    const finished = (await store.executions.list(task.id, limit + 10)).filter(
      (e) => e.status === 'succeeded' || e.status === 'partial' || e.status === 'failed',
    )
    const current = finished.find((e) => e.id === execution.id)
    if (!current) return
    const history = finished.slice(finished.indexOf(current))
    let failuresInRow = 0
    while (history[failuresInRow]?.status === 'failed') failuresInRow++
    const base = {
      task: { id: task.id, subject: task.subject },
      execution: {
        id: current.id,
        status: current.status,
        trigger: current.trigger,
        startedAt: current.startedAt,
        ...(current.endedAt ? { endedAt: current.endedAt } : {}),
      },
      ...(current.error ? { error: current.error } : {}),
      failuresInRow,
    }
    if (current.status !== 'failed') {
      if (history[1]?.status === 'failed')
        this.#send(notify.webhook, { event: 'recovery', ...base })
      return
    }
    if (failuresInRow === 1) this.#send(notify.webhook, { event: 'failure', ...base })
    const pauseAfter = notify.failuresBeforePause
    if (pauseAfter === undefined || failuresInRow < pauseAfter) return
    const stored = await store.taskDefs.get(task.id)
    if (!stored?.active) return
    const reason = `${failuresInRow} failed runs in a row (the task pauses after ${pauseAfter}); the last one: ${current.error?.message ?? 'failed'}${current.error ? ` [${current.error.code}]` : ''}`
    await this.#o.tasks.deactivate(task.id)
    await store.executions.log(current.id, [
      {
        at: new Date().toISOString(),
        level: 'warn',
        message: `plan paused: ${reason}; activate the task again once the cause is fixed`,
        data: { [PAUSE_MARK]: true, reason },
      },
    ])
    await store.audit.add({
      actor: 'service',
      action: 'task.paused',
      taskId: task.id,
      target: String(current.id),
      detail: { reason },
    })
    this.#log.warn({ taskId: task.id, executionId: current.id, failuresInRow }, 'plan paused')
    this.#o.events?.publish({ type: 'task.changed', taskId: task.id, change: 'paused', reason })
    this.#send(notify.webhook, { event: 'paused', ...base, reason })
  }

  #send(url: string | undefined, payload: WebhookPayload): void {
    if (!url) return
    const sending = this.#post(url, payload).finally(() => this.#sending.delete(sending))
    this.#sending.add(sending)
  }

  async #post(url: string, payload: WebhookPayload): Promise<void> {
    const where = { taskId: payload.task.id, event: payload.event }
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': `opensync/${OPENSYNC_VERSION}`,
        },
        body: JSON.stringify(payload),
        redirect: 'error',
        signal: AbortSignal.timeout(this.#o.timeoutMs ?? 10_000),
      })
      await response.body?.cancel()
      if (!response.ok)
        this.#log.warn({ ...where, status: response.status }, 'the webhook refused a notification')
    } catch (error) {
      const e = coerceError(error, 'OSY_UNREACHABLE')
      // Only the code: an error message from fetch may repeat the URL with its token.
      this.#log.warn({ ...where, code: e.code }, 'a webhook notification could not be sent')
    }
  }
}

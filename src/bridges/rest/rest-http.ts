import { type BridgeLogger, OpenSyncError, throwIfAborted } from '../../sdk/index.ts'
import type { Authenticator } from './rest-auth.ts'
import { retryAfterMs, statusError } from './rest-errors.ts'
import type { RestManifest } from './rest-manifest.ts'
import { sleep, type TokenBucket } from './rest-rate-limit.ts'

/** One HTTP request of the bridge. */
export interface HttpRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  /** Absolute URL (query included). */
  readonly url: string
  readonly headers?: Readonly<Record<string, string>>
  /** JSON text. */
  readonly body?: string
  readonly signal?: AbortSignal | undefined
}

/** An answer: status, headers and the body as text. Only 2xx and 4xx come back; the rest throws. */
export interface HttpResponse {
  readonly status: number
  readonly headers: Headers
  readonly text: string
}

/**
 * The bridge's HTTP client over Node's `fetch`: every request waits for the shared
 * budget, carries the credentials and the manifest's headers, and has a timeout. 429 and
 * 503 wait as long as `Retry-After` says (capped by `retries.maxWait`); other 5xx,
 * timeouts and dropped connections are retried with exponential back-off and jitter. A
 * POST whose connection dropped after it was sent is not repeated (it may have been
 * applied): that is reported as a transient error of the request. 4xx answers come back
 * for the caller to classify per record.
 */
export class HttpClient {
  readonly #manifest: RestManifest
  readonly #auth: Authenticator
  readonly #bucket: TokenBucket | undefined
  readonly #headers: Readonly<Record<string, string>>
  readonly #log: BridgeLogger
  /** Requests sent, for tests and the bench. */
  requests = 0

  constructor(options: {
    manifest: RestManifest
    auth: Authenticator
    bucket: TokenBucket | undefined
    headers: Readonly<Record<string, string>>
    log: BridgeLogger
  }) {
    this.#manifest = options.manifest
    this.#auth = options.auth
    this.#bucket = options.bucket
    this.#headers = options.headers
    this.#log = options.log
  }

  /** Sends a request with credentials, budget and retries. */
  async send(request: HttpRequest): Promise<HttpResponse> {
    const { retries } = this.#manifest
    let renewed = false
    for (let attempt = 0; ; attempt++) {
      throwIfAborted(request.signal)
      const credentials = await this.#auth.credentials(
        (url, init, signal) =>
          this.#raw({ method: 'POST', url, headers: init.headers, body: init.body, signal }).then(
            (r) => ({ status: r.status, text: r.text }),
          ),
        request.signal,
      )
      const url = new URL(request.url)
      for (const [k, v] of Object.entries(credentials.query)) url.searchParams.set(k, v)
      const headers = { ...this.#headers, ...request.headers, ...credentials.headers }
      let outcome: HttpResponse | OpenSyncError
      let hinted: number | undefined
      try {
        outcome = await this.#raw({ ...request, url: url.toString(), headers })
      } catch (error) {
        if (
          !(error instanceof OpenSyncError) ||
          error.kind !== 'transient' ||
          error.code === 'OSY_ABORTED'
        )
          throw error
        outcome = error
      }
      if (!(outcome instanceof OpenSyncError)) {
        const status = outcome.status
        if (status < 400) return outcome
        if (status === 401 && this.#auth.renewable && !renewed) {
          // The token expired early or was revoked: one new token, then the answer stands.
          renewed = true
          this.#auth.invalidate()
          attempt--
          continue
        }
        if (status < 500 && status !== 429) return outcome
        const hint = status === 429 || status === 503 ? retryAfterMs(outcome.headers) : undefined
        outcome = statusError(status, outcome.text, `${request.method} ${redactUrl(request.url)}`)
        hinted = hint
      }
      const error = outcome
      const dropped = error.details.sent === true
      if (attempt >= retries.max || (dropped && request.method === 'POST')) throw error
      const backoff = retries.backoff * 1000 * 2 ** attempt * (0.5 + Math.random() / 2)
      const wait = Math.min(hinted ?? backoff, retries.maxWait * 1000)
      this.#log.debug(
        {
          method: request.method,
          url: redactUrl(request.url),
          code: error.code,
          attempt: attempt + 1,
          waitMs: Math.round(wait),
        },
        'REST request retried',
      )
      await sleep(wait, request.signal)
    }
  }

  /** One request: budget, timeout, transport errors classified. No retries. */
  async #raw(request: HttpRequest): Promise<HttpResponse> {
    await this.#bucket?.take(request.signal)
    this.requests++
    const timeout = AbortSignal.timeout(this.#manifest.timeout * 1000)
    const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout
    let response: Response
    try {
      response = await fetch(request.url, {
        method: request.method,
        headers: {
          accept: 'application/json',
          ...(request.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...request.headers,
        },
        ...(request.body !== undefined ? { body: request.body } : {}),
        signal,
      })
    } catch (error) {
      throw transportError(error, request, timeout)
    }
    let text: string
    try {
      text = await response.text()
    } catch (error) {
      // The answer started and broke off: the request was received.
      const e = transportError(error, request, timeout)
      throw new OpenSyncError(e.code, e.message, {
        cause: error,
        details: { ...e.details, sent: true },
      })
    }
    return { status: response.status, headers: response.headers, text }
  }
}

function transportError(error: unknown, request: HttpRequest, timeout: AbortSignal): OpenSyncError {
  const where = `${request.method} ${redactUrl(request.url)}`
  if (request.signal?.aborted) {
    return new OpenSyncError('OSY_ABORTED', 'the operation was aborted', {
      cause: request.signal.reason,
    })
  }
  if (timeout.aborted) {
    return new OpenSyncError('OSY_TIMEOUT', `${where}: no answer in time`, {
      cause: error,
      details: { sent: true },
    })
  }
  const cause = (error as { cause?: { code?: string } }).cause
  const code = cause?.code ?? (error as { code?: string }).code ?? ''
  // Refused or unresolvable: the request never left. Anything else broke off after sending.
  const neverSent =
    /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|UND_ERR_CONNECT/.test(code)
  return new OpenSyncError('OSY_UNREACHABLE', `${where}: ${code || (error as Error).message}`, {
    cause: error,
    details: { systemCode: code, sent: !neverSent },
  })
}

/** A URL for logs and messages: no query (it may hold an API key), no user info. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    return `${u.origin}${u.pathname}`
  } catch {
    return '(url)'
  }
}

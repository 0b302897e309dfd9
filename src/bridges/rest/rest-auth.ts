import { OpenSyncError } from '../../sdk/index.ts'
import type { RestAuth } from './rest-manifest.ts'
import { renderString, type TemplateScope } from './rest-template.ts'

/** What a request carries to authenticate: headers and query parameters. */
export interface Credentials {
  readonly headers: Readonly<Record<string, string>>
  readonly query: Readonly<Record<string, string>>
}

/** Posts the token request; the HTTP client passes its own, budgeted and retried, sender. */
export type TokenFetch = (
  url: string,
  init: { headers: Record<string, string>; body: string },
  signal?: AbortSignal,
) => Promise<{ status: number; text: string }>

/**
 * The credentials of a manifest's auth method, with the values filled in from the
 * connection. OAuth2 client credentials fetches a token when first needed, renews it
 * shortly before it expires, and again when the API answers 401 (`invalidate`).
 */
export class Authenticator {
  readonly #auth: RestAuth
  readonly #scope: TemplateScope
  readonly #resolveUrl: (path: string) => string
  #token: { value: string; expiresAt: number } | undefined
  #pending: Promise<string> | undefined

  constructor(auth: RestAuth, scope: TemplateScope, resolveUrl: (path: string) => string) {
    this.#auth = auth
    this.#scope = scope
    this.#resolveUrl = resolveUrl
  }

  /** Text that identifies the account (for the shared request budget); hashed by the caller. */
  identity(): string {
    const a = this.#auth
    const r = (t: string) => renderString(t, this.#scope)
    switch (a.type) {
      case 'none':
        return 'none'
      case 'apiKey':
        return `apiKey:${r(a.value)}`
      case 'bearer':
        return `bearer:${r(a.token)}`
      case 'basic':
        return `basic:${r(a.username)}:${r(a.password)}`
      case 'oauth2':
        return `oauth2:${r(a.clientId)}:${r(a.clientSecret)}`
    }
  }

  /** Whether a 401 may be cured by fetching a new token. */
  get renewable(): boolean {
    return this.#auth.type === 'oauth2'
  }

  /** Drops the current token (the API refused it). */
  invalidate(): void {
    this.#token = undefined
  }

  /** The headers and query parameters of the next request. */
  async credentials(fetchToken: TokenFetch, signal?: AbortSignal): Promise<Credentials> {
    const a = this.#auth
    const r = (t: string) => renderString(t, this.#scope)
    switch (a.type) {
      case 'none':
        return { headers: {}, query: {} }
      case 'apiKey':
        return a.in === 'header'
          ? { headers: { [a.name]: r(a.value) }, query: {} }
          : { headers: {}, query: { [a.name]: r(a.value) } }
      case 'bearer':
        return { headers: { authorization: `Bearer ${r(a.token)}` }, query: {} }
      case 'basic':
        return { headers: { authorization: basic(r(a.username), r(a.password)) }, query: {} }
      case 'oauth2': {
        const token = await this.#oauthToken(fetchToken, signal)
        return { headers: { authorization: `Bearer ${token}` }, query: {} }
      }
    }
  }

  async #oauthToken(fetchToken: TokenFetch, signal?: AbortSignal): Promise<string> {
    const a = this.#auth
    if (a.type !== 'oauth2') throw new Error('not oauth2')
    if (this.#token && Date.now() < this.#token.expiresAt - a.refreshBefore * 1000) {
      return this.#token.value
    }
    // One token request at a time: concurrent requests wait for the same one.
    this.#pending ??= (async () => {
      const r = (t: string) => renderString(t, this.#scope)
      const form = new URLSearchParams({ grant_type: 'client_credentials' })
      if (a.scope) form.set('scope', r(a.scope))
      const headers: Record<string, string> = {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      }
      if (a.clientAuth === 'basic') headers.authorization = basic(r(a.clientId), r(a.clientSecret))
      else {
        form.set('client_id', r(a.clientId))
        form.set('client_secret', r(a.clientSecret))
      }
      const response = await fetchToken(
        this.#resolveUrl(r(a.tokenUrl)),
        { headers, body: form.toString() },
        signal,
      )
      if (response.status === 400 || response.status === 401 || response.status === 403) {
        throw new OpenSyncError(
          'OSY_AUTH_FAILED',
          `the token endpoint refused the client credentials (HTTP ${response.status})`,
          {
            details: { systemCode: String(response.status) },
          },
        )
      }
      let body: { access_token?: unknown; expires_in?: unknown }
      try {
        body = JSON.parse(response.text) as typeof body
      } catch {
        body = {}
      }
      if (response.status >= 300 || typeof body.access_token !== 'string') {
        throw new OpenSyncError(
          'OSY_SYSTEM_ERROR',
          `the token endpoint answered HTTP ${response.status} without an access_token`,
          {
            details: { systemCode: String(response.status) },
          },
        )
      }
      const lifetime = typeof body.expires_in === 'number' ? body.expires_in : 3600
      this.#token = { value: body.access_token, expiresAt: Date.now() + lifetime * 1000 }
      return body.access_token
    })().finally(() => {
      this.#pending = undefined
    })
    return this.#pending
  }
}

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
}

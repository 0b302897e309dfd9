import createClient, { type Middleware } from 'openapi-fetch'
import type { paths } from './schema.d.ts'

/** The session's CSRF token (from the session answer), repeated on every state-changing request. */
let csrfToken: string | undefined
export function setCsrfToken(token: string | undefined): void {
  csrfToken = token
}

/** Listeners told when the server answers 401: the session ended, the sign-in page follows. */
const signedOut = new Set<() => void>()
export function onSignedOut(listener: () => void): () => void {
  signedOut.add(listener)
  return () => signedOut.delete(listener)
}

const session: Middleware = {
  onRequest({ request }) {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      if (csrfToken) request.headers.set('x-csrf-token', csrfToken)
    }
    return request
  },
  onResponse({ response, request }) {
    if (response.status === 401 && !new URL(request.url).pathname.startsWith('/api/session')) {
      for (const listener of signedOut) listener()
    }
    return response
  },
}

/** The typed API client: paths, parameters and bodies come from the server's OpenAPI document. */
export const api = createClient<paths>({
  baseUrl: window.location.origin,
  credentials: 'same-origin',
})
api.use(session)

/** A problem+json answer of the API, thrown so TanStack Query sees a failure. */
export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
    readonly details?: unknown,
    /** What is wrong with a request or task document, by path (OSY_INVALID_TASK, …). */
    readonly issues: readonly ProblemIssue[] = [],
  ) {
    super(message)
  }
}

/** One problem of an invalid request or document. */
export interface ProblemIssue {
  readonly path: string
  readonly message: string
}

interface Problem {
  readonly title?: string
  readonly detail?: string
  readonly code?: string
  readonly details?: unknown
  readonly issues?: readonly ProblemIssue[]
}

/** The data of an openapi-fetch answer, or an ApiProblem with the server's message. */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.error !== undefined || !result.response.ok) {
    const problem = (result.error ?? {}) as Problem
    throw new ApiProblem(
      result.response.status,
      problem.code,
      problem.detail ?? problem.title ?? result.response.statusText,
      problem.details,
      problem.issues ?? [],
    )
  }
  return result.data as T
}

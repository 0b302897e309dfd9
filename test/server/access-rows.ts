import type { Access } from '../../src/service/access/permissions.ts'

/**
 * What a path parameter names, so the matrix can fill it: a real task, execution, user or
 * pair of the fixture, or (for calls that change something) one that does not exist.
 */
export type ParamKind = 'task' | 'execution' | 'user' | 'token' | 'pair' | 'profile' | 'bridge'

/** One row of the authorization matrix: a route of the OpenAPI document and what it needs. */
export interface AccessRow {
  /** The permission the route needs: public, authenticated, or one permission. */
  readonly access: Access
  /** What each path parameter names. Routes with a task or execution are hidden from a user limited to other profiles (404). */
  readonly params?: Readonly<Record<string, ParamKind>>
  /** The JSON body sent (any; validation answers after authorization). */
  readonly body?: unknown
  /** An endless response (SSE): only callers that must be refused are called. */
  readonly stream?: boolean
}

/** Rows by `METHOD /path` as the OpenAPI document writes it. */
export type AccessRows = Readonly<Record<string, AccessRow>>

/**
 * One error class for the whole of OpenSync, modelled on Fastify's error catalogue:
 * every error has a stable `code` (never reused), a `kind` that tells callers what to do
 * with it, an HTTP status for the API, and the original `cause`.
 */

/**
 * - `user`: bad input or configuration; retrying will not help, the message names what to fix.
 * - `transient`: the system was busy or unreachable; retried with back-off.
 * - `bug`: an invariant broke; reported, never retried.
 */
export type ErrorKind = 'user' | 'transient' | 'bug'

/** The catalogue entry of one error code. */
export interface ErrorDefinition {
  readonly kind: ErrorKind
  readonly status: number
  readonly title: string
}

/** Every error code OpenSync raises. Codes are stable: add new ones, never rename or reuse. */
export const ERRORS = {
  OSY_INVALID_CONNECTION: { kind: 'user', status: 400, title: 'invalid connection values' },
  OSY_AUTH_FAILED: { kind: 'user', status: 400, title: 'authentication failed' },
  OSY_UNKNOWN_DATABASE: { kind: 'user', status: 400, title: 'unknown database' },
  OSY_UNREACHABLE: { kind: 'transient', status: 503, title: 'system unreachable' },
  OSY_TIMEOUT: { kind: 'transient', status: 504, title: 'timeout' },
  OSY_RECORD_TYPE_NOT_FOUND: { kind: 'user', status: 404, title: 'record type not found' },
  OSY_FIELD_NOT_FOUND: { kind: 'user', status: 400, title: 'field not found' },
  OSY_READ_ONLY_RECORD_TYPE: { kind: 'user', status: 400, title: 'record type is read-only' },
  OSY_INVALID_FILTER: { kind: 'user', status: 400, title: 'invalid filter' },
  OSY_INVALID_CHECKPOINT: { kind: 'user', status: 400, title: 'invalid checkpoint' },
  OSY_CONSTRAINT_VIOLATION: { kind: 'user', status: 409, title: 'constraint violation' },
  OSY_VALUE_TOO_LONG: { kind: 'user', status: 400, title: 'value too long' },
  OSY_WRONG_TYPE: { kind: 'user', status: 400, title: 'value of the wrong type' },
  OSY_RECORD_NOT_FOUND: { kind: 'user', status: 404, title: 'record not found' },
  OSY_UNSUPPORTED: { kind: 'user', status: 400, title: 'operation not supported' },
  OSY_FILE_PARSE_ERROR: { kind: 'user', status: 422, title: 'file cannot be parsed' },
  OSY_DUPLICATE_KEY: { kind: 'user', status: 409, title: 'key appears twice in a file' },
  OSY_INVALID_OPTION: { kind: 'user', status: 400, title: 'invalid option' },
  OSY_BRIDGE_NOT_FOUND: { kind: 'user', status: 404, title: 'bridge not found' },
  OSY_INVALID_BRIDGE: { kind: 'user', status: 400, title: 'invalid bridge module' },
  OSY_INVALID_TASK: { kind: 'user', status: 400, title: 'invalid task' },
  OSY_INVALID_PROFILE: { kind: 'user', status: 400, title: 'invalid system profile' },
  OSY_PROFILE_NOT_FOUND: { kind: 'user', status: 404, title: 'system profile not found' },
  OSY_MISSING_ENV: { kind: 'user', status: 400, title: 'missing environment variable' },
  OSY_TRANSFORM_FAILED: { kind: 'user', status: 422, title: 'field transform failed' },
  OSY_DELETE_GUARD: { kind: 'user', status: 409, title: 'mass delete stopped' },
  OSY_STORE_ERROR: { kind: 'transient', status: 503, title: 'metadata store error' },
  OSY_TASK_NOT_FOUND: { kind: 'user', status: 404, title: 'task not found' },
  OSY_TASK_RUNNING: { kind: 'user', status: 409, title: 'task is running' },
  OSY_TASK_DRAFT: { kind: 'user', status: 409, title: 'task is a draft' },
  OSY_REVISION_CONFLICT: { kind: 'user', status: 409, title: 'task changed meanwhile' },
  OSY_LEASE_LOST: { kind: 'transient', status: 409, title: 'execution lease lost' },
  OSY_SECRET_KEY_INVALID: { kind: 'user', status: 500, title: 'invalid secret key' },
  OSY_SECRET_KEY_MISMATCH: {
    kind: 'user',
    status: 500,
    title: 'secrets were encrypted with another key',
  },
  OSY_SECRET_CORRUPT: { kind: 'bug', status: 500, title: 'encrypted secret cannot be read' },
  OSY_ALREADY_STARTED: { kind: 'user', status: 409, title: 'service already running' },
  OSY_ABORTED: { kind: 'transient', status: 499, title: 'aborted' },
  OSY_SYSTEM_ERROR: { kind: 'transient', status: 502, title: 'system error' },
  OSY_INVALID_REQUEST: { kind: 'user', status: 400, title: 'invalid request' },
  OSY_UNAUTHENTICATED: { kind: 'user', status: 401, title: 'authentication required' },
  OSY_FORBIDDEN: { kind: 'user', status: 403, title: 'not permitted' },
  OSY_CSRF: { kind: 'user', status: 403, title: 'missing or wrong CSRF token' },
  OSY_NOT_FOUND: { kind: 'user', status: 404, title: 'not found' },
  OSY_EXECUTION_NOT_FOUND: { kind: 'user', status: 404, title: 'execution not found' },
  OSY_USER_NOT_FOUND: { kind: 'user', status: 404, title: 'user not found' },
  OSY_TOKEN_NOT_FOUND: { kind: 'user', status: 404, title: 'API token not found' },
  OSY_USER_EXISTS: { kind: 'user', status: 409, title: 'user exists' },
  OSY_SETUP_DONE: { kind: 'user', status: 409, title: 'setup already done' },
  OSY_STALE_REVISION: { kind: 'user', status: 412, title: 'stale revision' },
  OSY_UNSUPPORTED_MEDIA_TYPE: { kind: 'user', status: 415, title: 'unsupported media type' },
  OSY_RATE_LIMITED: { kind: 'user', status: 429, title: 'too many requests' },
  OSY_INTERNAL: { kind: 'bug', status: 500, title: 'internal error' },
} as const satisfies Record<string, ErrorDefinition>

/** A stable error code from the catalogue. */
export type ErrorCode = keyof typeof ERRORS

/** Extra facts that travel with an error; never put secrets here. */
export interface ErrorDetails {
  /** The field, column or input path the error is about. */
  readonly field?: string
  /** The record type the error is about. */
  readonly recordType?: string
  /** The system's own error code (SQLSTATE, errno), for people who know the system. */
  readonly systemCode?: string
  readonly [key: string]: unknown
}

/** The base error of OpenSync. */
export class OpenSyncError extends Error {
  override readonly name = 'OpenSyncError'
  readonly code: ErrorCode
  readonly kind: ErrorKind
  readonly status: number
  readonly details: ErrorDetails

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; details?: ErrorDetails; kind?: ErrorKind } = {},
  ) {
    super(message, { cause: options.cause })
    const def: ErrorDefinition = ERRORS[code]
    this.code = code
    this.kind = options.kind ?? def.kind
    this.status = def.status
    this.details = options.details ?? {}
  }

  /** A plain object for protocols and API responses (no stack, no cause chain). */
  toJSON(): { code: ErrorCode; kind: ErrorKind; message: string; details: ErrorDetails } {
    return { code: this.code, kind: this.kind, message: this.message, details: this.details }
  }
}

/** True when `value` is an OpenSyncError (also across duplicated module copies). */
export function isOpenSyncError(value: unknown): value is OpenSyncError {
  return (
    value instanceof OpenSyncError ||
    (value instanceof Error &&
      value.name === 'OpenSyncError' &&
      typeof (value as { code?: unknown }).code === 'string')
  )
}

/**
 * Turns anything thrown into an OpenSyncError, as graphile-worker's `coerceError` does at
 * every boundary. Unknown errors become `OSY_INTERNAL` (a bug) unless a fallback code is given.
 */
export function coerceError(value: unknown, fallback: ErrorCode = 'OSY_INTERNAL'): OpenSyncError {
  if (isOpenSyncError(value)) return value
  if (value instanceof Error) {
    if (value.name === 'AbortError')
      return new OpenSyncError('OSY_ABORTED', value.message, { cause: value })
    return new OpenSyncError(fallback, value.message, { cause: value })
  }
  return new OpenSyncError(fallback, String(value))
}

/**
 * Throws when the signal has fired: the abort reason itself when it is an OpenSyncError (a
 * lost lease stays OSY_LEASE_LOST), else OSY_ABORTED.
 */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (!signal?.aborted) return
  if (isOpenSyncError(signal.reason)) throw signal.reason
  throw new OpenSyncError('OSY_ABORTED', 'the operation was aborted', { cause: signal.reason })
}

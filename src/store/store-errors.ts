import { type ErrorKind, isOpenSyncError, OpenSyncError } from '../sdk/errors.ts'

/**
 * SQLite result codes and PostgreSQL SQLSTATE classes that mean the statement itself is wrong
 * (a constraint, a type, a syntax error): retrying cannot help, so they are bugs. Everything
 * else (busy, locked, connection lost, serialization failure) keeps the catalogue's
 * `transient` kind and is retried by the caller.
 */
const BUG_CODES = /^(SQLITE_(CONSTRAINT|ERROR|MISMATCH|RANGE|TOOBIG)|2[23]|42)/

/** Wraps what a store operation threw in OSY_STORE_ERROR; OpenSync errors pass unchanged. */
export function storeError(operation: string, cause: unknown): OpenSyncError {
  if (isOpenSyncError(cause)) return cause
  const systemCode = systemCodeOf(cause)
  const kind: ErrorKind | undefined =
    cause instanceof TypeError || (systemCode !== undefined && BUG_CODES.test(systemCode))
      ? 'bug'
      : undefined
  const reason = cause instanceof Error ? cause.message : String(cause)
  return new OpenSyncError('OSY_STORE_ERROR', `metadata store: ${operation} failed: ${reason}`, {
    cause,
    details: systemCode !== undefined ? { systemCode } : {},
    ...(kind !== undefined ? { kind } : {}),
  })
}

function systemCodeOf(cause: unknown): string | undefined {
  const code = (cause as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

/** True when a statement broke a unique index (SQLite's constraint, PostgreSQL's 23505). */
export function isUniqueViolation(cause: unknown): boolean {
  const code = systemCodeOf(cause)
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE'
}

import { existsSync } from 'node:fs'
import { coerceError, type ErrorCode, isOpenSyncError, OpenSyncError } from '../../sdk/index.ts'

/** The fields of a better-sqlite3 `SqliteError` that classification reads. */
interface SqliteErrorLike {
  readonly code?: string
  readonly message?: string
}

/** What an error message may name: the file and the busy timeout, never more. */
export interface SqliteTarget {
  readonly file: string
  readonly busyTimeout: number
}

/** Extended result codes that concern one record alone, by `SqliteError.code`. */
const PER_RECORD: Readonly<Record<string, ErrorCode>> = {
  SQLITE_CONSTRAINT: 'OSY_CONSTRAINT_VIOLATION',
  SQLITE_CONSTRAINT_UNIQUE: 'OSY_CONSTRAINT_VIOLATION',
  SQLITE_CONSTRAINT_PRIMARYKEY: 'OSY_CONSTRAINT_VIOLATION',
  SQLITE_CONSTRAINT_NOTNULL: 'OSY_CONSTRAINT_VIOLATION',
  SQLITE_CONSTRAINT_FOREIGNKEY: 'OSY_CONSTRAINT_VIOLATION',
  SQLITE_CONSTRAINT_CHECK: 'OSY_CONSTRAINT_VIOLATION',
  // RAISE(ABORT, …) in a trigger: the schema's own rule refused the record.
  SQLITE_CONSTRAINT_TRIGGER: 'OSY_CONSTRAINT_VIOLATION',
  SQLITE_CONSTRAINT_ROWID: 'OSY_CONSTRAINT_VIOLATION',
  // A STRICT table refused a value of another storage class.
  SQLITE_CONSTRAINT_DATATYPE: 'OSY_WRONG_TYPE',
  // A non-integer for an INTEGER PRIMARY KEY.
  SQLITE_MISMATCH: 'OSY_WRONG_TYPE',
  SQLITE_TOOBIG: 'OSY_VALUE_TOO_LONG',
}

/**
 * Classifies an error of one record's write. Bridge-made errors (wrong type, unknown field,
 * missing record) pass through; `undefined` means the database itself failed and the whole
 * write must throw.
 */
export function classifyRecordError(error: unknown, recordType: string): OpenSyncError | undefined {
  if (isOpenSyncError(error)) return error
  const e = error as SqliteErrorLike
  const code = e?.code ? PER_RECORD[e.code] : undefined
  if (!code) return undefined
  // "UNIQUE constraint failed: people.email" names the column after the table.
  const field = /constraint failed: [^.\s]+\.([^,\s]+)/.exec(e.message ?? '')?.[1]
  return new OpenSyncError(code, `"${recordType}": ${e.message ?? code}`, {
    cause: error,
    details: { recordType, systemCode: e.code, ...(field ? { field } : {}) },
  })
}

/**
 * Classifies an error of opening the file or of a whole statement, for a person to act on.
 * `recordType` names the table a statement was about, for "no such table".
 */
export function classifySystemError(
  error: unknown,
  target: SqliteTarget,
  recordType?: string,
): OpenSyncError {
  if (isOpenSyncError(error)) return error
  const e = error as SqliteErrorLike
  const code = e?.code ?? ''
  const message = e?.message ?? String(error)
  const file = target.file
  const details = code ? { systemCode: code } : {}
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new OpenSyncError(
      'OSY_TIMEOUT',
      `SQLite database ${file} stayed locked by another connection for longer than busyTimeout (${target.busyTimeout} ms)`,
      { cause: error, details: { ...details, field: 'busyTimeout' } },
    )
  }
  if (code === 'SQLITE_NOTADB') {
    return new OpenSyncError(
      'OSY_INVALID_CONNECTION',
      `${file} is not an SQLite database (the file exists but its header is not SQLite's)`,
      { cause: error, details: { ...details, field: 'file' } },
    )
  }
  if (code.startsWith('SQLITE_CANTOPEN') || /directory does not exist/.test(message)) {
    return existsSync(file)
      ? new OpenSyncError(
          'OSY_INVALID_CONNECTION',
          `cannot open SQLite database ${file}: check the file's and its folder's permissions`,
          { cause: error, details: { ...details, field: 'file' } },
        )
      : unknownDatabase(file, error)
  }
  if (code.startsWith('SQLITE_READONLY')) {
    return new OpenSyncError(
      'OSY_INVALID_CONNECTION',
      `SQLite database ${file} cannot be written (read-only file or folder): fix the permissions or set readOnly`,
      { cause: error, details: { ...details, field: 'readOnly' } },
    )
  }
  if (code.startsWith('SQLITE_CORRUPT')) {
    // Retrying cannot mend a damaged file, so this is the user's to fix, not transient.
    return new OpenSyncError('OSY_SYSTEM_ERROR', `SQLite database ${file} is damaged: ${message}`, {
      cause: error,
      details,
      kind: 'user',
    })
  }
  if (code === 'SQLITE_ERROR') {
    const table = /no such table: (?:main\.)?(\S+)/.exec(message)?.[1]
    if (table) {
      return new OpenSyncError(
        'OSY_RECORD_TYPE_NOT_FOUND',
        `no table or view "${recordType ?? table}" in ${file} (${message})`,
        { cause: error, details: { ...details, recordType: recordType ?? table } },
      )
    }
    const column = /no such column: (\S+)/.exec(message)?.[1]
    if (column) {
      return new OpenSyncError('OSY_FIELD_NOT_FOUND', `${message} in ${file}`, {
        cause: error,
        details: { ...details, field: column, ...(recordType ? { recordType } : {}) },
      })
    }
  }
  if (code) {
    return new OpenSyncError('OSY_SYSTEM_ERROR', `SQLite database ${file}: ${message}`, {
      cause: error,
      details,
    })
  }
  return coerceError(error, 'OSY_SYSTEM_ERROR')
}

/** The error for a database file that is not there. */
export function unknownDatabase(file: string, cause?: unknown): OpenSyncError {
  return new OpenSyncError(
    'OSY_UNKNOWN_DATABASE',
    `SQLite database file ${file} does not exist (set create to make a new one)`,
    { cause, details: { field: 'file' } },
  )
}

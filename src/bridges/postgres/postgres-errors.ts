import { coerceError, type ErrorCode, OpenSyncError } from '../../sdk/index.ts'

/** The fields of a pg DatabaseError or a Node socket error that classification reads. */
interface PgErrorLike {
  readonly code?: string
  readonly message?: string
  readonly column?: string
  readonly constraint?: string
  readonly table?: string
}

const PER_RECORD: Readonly<Record<string, ErrorCode>> = {
  '23505': 'OSY_CONSTRAINT_VIOLATION', // unique_violation
  '23502': 'OSY_CONSTRAINT_VIOLATION', // not_null_violation
  '23503': 'OSY_CONSTRAINT_VIOLATION', // foreign_key_violation
  '23514': 'OSY_CONSTRAINT_VIOLATION', // check_violation
  '23P01': 'OSY_CONSTRAINT_VIOLATION', // exclusion_violation
  '21000': 'OSY_CONSTRAINT_VIOLATION', // cardinality_violation: the same key twice in one upsert
  '22001': 'OSY_VALUE_TOO_LONG', // string_data_right_truncation
  '22P02': 'OSY_WRONG_TYPE', // invalid_text_representation
  '22003': 'OSY_WRONG_TYPE', // numeric_value_out_of_range
  '22007': 'OSY_WRONG_TYPE', // invalid_datetime_format
  '22008': 'OSY_WRONG_TYPE', // datetime_field_overflow
  '22021': 'OSY_WRONG_TYPE', // character_not_in_repertoire
  '22023': 'OSY_WRONG_TYPE', // invalid_parameter_value
  '22004': 'OSY_CONSTRAINT_VIOLATION', // null_value_not_allowed
  '2202E': 'OSY_WRONG_TYPE', // array_subscript_error
  '22P05': 'OSY_WRONG_TYPE', // untranslatable_character
  '22030': 'OSY_WRONG_TYPE', // duplicate_json_object_key_value
  '22032': 'OSY_WRONG_TYPE', // invalid_json_text
}

/** Classifies an error of one record's write; `undefined` when it is not about the record. */
export function classifyRecordError(error: unknown): OpenSyncError | undefined {
  const e = error as PgErrorLike
  const code = e?.code ? PER_RECORD[e.code] : undefined
  if (!code) return undefined
  const details = {
    systemCode: e.code,
    ...(e.column ? { field: e.column } : {}),
    ...(e.constraint ? { constraint: e.constraint } : {}),
  }
  return new OpenSyncError(code, e.message ?? code, { cause: error, details })
}

/** Classifies an error of connecting or of a whole statement, for a person to act on. */
export function classifyConnectionError(
  error: unknown,
  where: { host?: string; port?: number; database?: string },
): OpenSyncError {
  const e = error as PgErrorLike
  // host:port, so a server on another port than the one named is found at once.
  const target = where.host
    ? `${where.host}${where.port !== undefined ? `:${where.port}` : ''}`
    : 'the server'
  switch (e?.code) {
    case '28P01':
    case '28000':
      return new OpenSyncError(
        'OSY_AUTH_FAILED',
        `PostgreSQL at ${target} refused the user name or password`,
        {
          cause: error,
          details: { systemCode: e.code, field: 'password' },
        },
      )
    case '3D000':
      return new OpenSyncError(
        'OSY_UNKNOWN_DATABASE',
        `database "${where.database}" does not exist on ${target}`,
        {
          cause: error,
          details: { systemCode: e.code, field: 'database' },
        },
      )
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EAI_AGAIN':
      return new OpenSyncError(
        'OSY_UNREACHABLE',
        `cannot reach PostgreSQL at ${target} (${e.code}): are the host and port right and the server running?`,
        { cause: error, details: { systemCode: e.code, field: 'host' } },
      )
    case '57P01':
    case '57P02':
    case '57P03':
    case '53300':
      return new OpenSyncError(
        'OSY_UNREACHABLE',
        `PostgreSQL at ${target} is not accepting connections now`,
        {
          cause: error,
          details: { systemCode: e.code },
        },
      )
    case 'ETIMEDOUT':
      return timeout(error, target)
  }
  if (/timeout|timed out/i.test(e?.message ?? '')) return timeout(error, target)
  return coerceError(error, 'OSY_SYSTEM_ERROR')
}

function timeout(error: unknown, target: string): OpenSyncError {
  return new OpenSyncError(
    'OSY_TIMEOUT',
    `PostgreSQL at ${target} did not answer in time: check host, port and firewall, or raise connectTimeout`,
    { cause: error, details: { field: 'connectTimeout' } },
  )
}

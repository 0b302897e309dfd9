import { isOpenSyncError, OpenSyncError } from '../../sdk/index.ts'

/** Where a connection points, for error messages. Never holds the password. */
export interface MysqlTarget {
  readonly host: string
  readonly port: number
  readonly user: string
  readonly database?: string
  /** Connect timeout in seconds. */
  readonly connectTimeout: number
}

/** The fields of a `mysql2` error this bridge looks at. */
interface DriverError {
  readonly code?: string
  readonly errno?: number
  readonly sqlMessage?: string
  readonly message?: string
}

const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ECONNRESET',
  'EPIPE',
  'PROTOCOL_CONNECTION_LOST',
  'ER_SERVER_SHUTDOWN',
  'ER_CON_COUNT_ERROR',
  'ER_TOO_MANY_USER_CONNECTIONS',
])
const TIMEOUT = new Set(['ETIMEDOUT', 'PROTOCOL_SEQUENCE_TIMEOUT'])
/** Lost connection (2013), server gone away (2006): the session is over. */
const LOST_ERRNO = new Set([2006, 2013])

/**
 * Classifies an error of the connection as a whole: login, database, network. The message
 * tells a person what to fix and never contains the password, even if the server echoed it.
 */
export function classifyConnectionError(
  error: unknown,
  target: MysqlTarget,
  secret?: string,
): OpenSyncError {
  if (isOpenSyncError(error)) return error
  const e = (error ?? {}) as DriverError
  const where = `${target.host}:${target.port}`
  const details = { systemCode: e.code ?? String(e.errno ?? '') }
  const make = (code: ConstructorParameters<typeof OpenSyncError>[0], message: string) =>
    new OpenSyncError(code, redact(message, secret), { cause: error, details })

  if (e.errno === 1045 || e.code === 'ER_ACCESS_DENIED_ERROR') {
    return make(
      'OSY_AUTH_FAILED',
      `the MySQL server at ${where} refused user "${target.user}": check the user name and password, and that the user may connect from this host`,
    )
  }
  if (e.errno === 1044 || e.code === 'ER_DBACCESS_DENIED_ERROR') {
    return make(
      'OSY_AUTH_FAILED',
      `user "${target.user}" may not use database "${target.database ?? ''}" at ${where}: grant access or choose another database`,
    )
  }
  if (e.errno === 1049 || e.code === 'ER_BAD_DB_ERROR') {
    return make(
      'OSY_UNKNOWN_DATABASE',
      `database "${target.database ?? ''}" does not exist at ${where}: check its name or create it`,
    )
  }
  if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') {
    return make('OSY_UNREACHABLE', `host "${target.host}" was not found: check the host name`)
  }
  if ((e.code && UNREACHABLE.has(e.code)) || (e.errno !== undefined && LOST_ERRNO.has(e.errno))) {
    return make(
      'OSY_UNREACHABLE',
      `cannot reach the MySQL server at ${where} (${e.code ?? e.errno}): check host and port, and that the server is running`,
    )
  }
  if (e.code && TIMEOUT.has(e.code)) {
    return make(
      'OSY_TIMEOUT',
      `the MySQL server at ${where} did not answer within ${target.connectTimeout} s: check host, port and firewalls`,
    )
  }
  const text = e.sqlMessage ?? e.message ?? String(error)
  if (e.errno === 1142 || e.errno === 1143 || e.errno === 1227) {
    return new OpenSyncError('OSY_SYSTEM_ERROR', redact(`permission denied: ${text}`, secret), {
      cause: error,
      details,
      kind: 'user',
    })
  }
  return make('OSY_SYSTEM_ERROR', `MySQL error: ${text}`)
}

/**
 * Classifies an error of one write op: constraint, length and type errors belong to the
 * record; anything else (the connection was lost, a deadlock) returns `undefined`, so the
 * whole write throws and is retried.
 */
export function classifyRecordError(error: unknown): OpenSyncError | undefined {
  if (isOpenSyncError(error)) return error.kind === 'user' ? error : undefined
  const e = (error ?? {}) as DriverError
  const text = e.sqlMessage ?? e.message ?? ''
  const field = columnOf(text)
  const details = { systemCode: e.code ?? String(e.errno), ...(field ? { field } : {}) }
  const make = (code: ConstructorParameters<typeof OpenSyncError>[0], what: string) =>
    new OpenSyncError(code, `${what}: ${text}`, { cause: error, details })
  switch (e.errno) {
    case 1062: // duplicate key
    case 1586:
      return make('OSY_CONSTRAINT_VIOLATION', 'another record already has this unique value')
    case 1048: // column cannot be null
    case 1364: // no value and no default
      return make(
        'OSY_CONSTRAINT_VIOLATION',
        `a required field${field ? ` "${field}"` : ''} has no value`,
      )
    case 1451: // row is referenced by a foreign key
    case 1217:
      return make('OSY_CONSTRAINT_VIOLATION', 'other records still refer to this record')
    case 1452: // foreign key target missing
    case 1216:
      return make('OSY_CONSTRAINT_VIOLATION', 'the record refers to a record that does not exist')
    case 3819: // MySQL CHECK constraint
    case 4025: // MariaDB CHECK constraint
      return make('OSY_CONSTRAINT_VIOLATION', 'a check constraint rejected the record')
    case 3105: // MySQL: value for a generated column
    case 1906: // MariaDB: value for a generated column
      return make(
        'OSY_CONSTRAINT_VIOLATION',
        `the computed field${field ? ` "${field}"` : ''} cannot be written`,
      )
    case 1406:
      return make('OSY_VALUE_TOO_LONG', `the value${field ? ` of "${field}"` : ''} is too long`)
    case 1366: // incorrect value for the column's type
    case 1367:
    case 1264: // out of range
    case 1690:
    case 1292: // incorrect date/time or number text
    case 1265: // data truncated (enum, set, decimal)
    case 1411:
    case 3140: // MySQL: invalid JSON text
    case 4038: // MariaDB: syntax error in JSON text
      return make(
        'OSY_WRONG_TYPE',
        `the value${field ? ` of "${field}"` : ''} does not fit the field's type`,
      )
    default:
      return undefined
  }
}

/** True when the error means the session is unusable, so its connection must be closed. */
export function isConnectionLost(error: unknown): boolean {
  const e = (error ?? {}) as DriverError & { fatal?: boolean }
  return (
    e.fatal === true ||
    (e.code !== undefined && (UNREACHABLE.has(e.code) || TIMEOUT.has(e.code))) ||
    (e.errno !== undefined && LOST_ERRNO.has(e.errno))
  )
}

/** The column a server message names (`Column 'email' cannot be null`, `` `db`.`t`.`big` ``). */
function columnOf(message: string): string | undefined {
  const m = /(?:column|field) (?:`[^`]*`\.)*[`']([^`']+)[`']/i.exec(message)
  return m?.[1]
}

function redact(message: string, secret: string | undefined): string {
  return secret ? message.replaceAll(secret, '***') : message
}

import {
  type Bridge,
  type BridgeContext,
  type ConnectionValues,
  type FieldSpec,
  OpenSyncError,
  resolveConnectionValues,
  throwIfAborted,
} from '../../sdk/index.ts'
import type { MysqlPool } from './mysql-driver.ts'
import type { MysqlTarget } from './mysql-errors.ts'

/** The connection form of the MySQL/MariaDB bridge. */
export const mysqlConnectionFields: readonly FieldSpec[] = [
  {
    name: 'url',
    label: 'Connection URL',
    type: 'url',
    // A URL may carry the password.
    secret: true,
    help: 'mysql://user:password@host:3306/database — instead of the fields below; fields given as well override its parts',
  },
  { name: 'host', label: 'Host', type: 'string', default: '127.0.0.1' },
  { name: 'port', label: 'Port', type: 'number', default: 3306 },
  { name: 'user', label: 'User', type: 'string' },
  { name: 'password', label: 'Password', type: 'string', secret: true },
  {
    name: 'database',
    label: 'Database',
    type: 'string',
    help: 'the database whose tables and views are the record types',
  },
  {
    name: 'connectTimeout',
    label: 'Connect timeout (s)',
    type: 'number',
    default: 10,
    help: 'seconds to wait for the server to answer when connecting',
  },
]

/** Connections per bridge connection: one long read and a write can overlap, with room to spare. */
const POOL_SIZE = 4

/**
 * The MySQL and MariaDB bridge (driver: `mysql2`). Sessions run in UTC with a strict SQL
 * mode; reads page by keyset inside one consistent-snapshot transaction; writes go as
 * multi-row statements, with `INSERT … RETURNING` on MariaDB 10.5+.
 */
export const mysqlBridge: Bridge = {
  name: 'mysql',
  title: 'MySQL / MariaDB',
  version: '1.0.0',
  connectionFields: mysqlConnectionFields,
  filterKinds: ['sql', 'keyValue'],
  capabilities: {
    cursorReads: true,
    keyScan: true,
    upsert: true,
    snapshotReads: true,
    listDatabases: true,
    // Each write takes a pooled connection and runs in its own transaction.
    concurrentWrites: true,
  },
  async connect(values: ConnectionValues, ctx: BridgeContext) {
    return open(values, ctx)
  },
  async listDatabases(values: ConnectionValues, ctx: BridgeContext) {
    // Without a database the server lists them all; the one named may be gone (renamed).
    const connection = await open(withoutDatabase(values), ctx)
    try {
      return await connection.listDatabases()
    } finally {
      await connection.close()
    }
  },
}

/** Opens a connection (the pool is made on first use). */
async function open(values: ConnectionValues, ctx: BridgeContext) {
  throwIfAborted(ctx.signal)
  const resolved = resolveConnectionValues(mysqlConnectionFields, values, {
    requireOneOf: [['url', 'user']],
  })
  const settings = settingsOf(resolved, values)
  const { password, ...target } = settings
  // The driver and the connection code load with the first connection, so a process that
  // connects to no MySQL system never loads them (mysql2 alone is 8–15 MB of RSS).
  const [{ default: mysql }, { MysqlConnection }] = await Promise.all([
    import('mysql2/promise'),
    import('./mysql-connection.ts'),
  ])
  // A statement without values goes as it is. The driver would otherwise scan its text for
  // placeholders all the same, and a batch of inserts carries its values escaped into the
  // text (mysql-writer.ts): 200 KB of quoted strings a statement, skipped character by
  // character. With values: the driver's own formatting, unchanged.
  function queryFormat(
    this: { config: { stringifyObjects?: boolean } },
    sql: string,
    values: unknown,
    timezone: string,
  ): string {
    if (values === undefined || (Array.isArray(values) && values.length === 0)) return sql
    return mysql.format(sql, values as never, this.config.stringifyObjects, timezone)
  }
  const createPool = () =>
    mysql.createPool({
      host: settings.host,
      port: settings.port,
      user: settings.user,
      ...(password !== undefined ? { password } : {}),
      ...(settings.database !== undefined ? { database: settings.database } : {}),
      connectTimeout: settings.connectTimeout * 1000,
      connectionLimit: POOL_SIZE,
      maxIdle: POOL_SIZE,
      charset: 'utf8mb4',
      // Exact text for dates, BIGINT, DECIMAL and JSON; mysql-values.ts makes them canonical.
      dateStrings: true,
      supportBigNumbers: true,
      bigNumberStrings: true,
      jsonStrings: true,
      multipleStatements: false,
      // Affected rows count the rows an UPDATE matched, changed or not (mysql2's default,
      // relied on: updates that skip their locking read check their count with it).
      flags: ['FOUND_ROWS'],
      enableKeepAlive: true,
      // mysql2 types the option as returning nothing; it returns the statement's text.
      queryFormat: queryFormat as never,
    }) as unknown as MysqlPool
  return new MysqlConnection(createPool, target, ctx.log, password)
}

/** The values without a database, in the URL too: the server's list needs none. */
function withoutDatabase(values: ConnectionValues): ConnectionValues {
  if (values.url !== undefined && values.url !== '') {
    try {
      const url = new URL(String(values.url))
      url.pathname = '/'
      return { ...values, url: url.toString(), database: undefined }
    } catch {
      // A malformed URL is reported by connecting, with the bridge's own message.
    }
  }
  return { ...values, database: undefined }
}

type Settings = MysqlTarget & { readonly password?: string }

/**
 * Merges the URL (when given) with the separate fields: a field the user entered wins over
 * the URL's part, a field's default does not. Messages never repeat the URL: it may hold
 * the password.
 */
function settingsOf(
  resolved: Readonly<Record<string, string | number | boolean>>,
  entered: ConnectionValues,
): Settings {
  const given = (name: string) => entered[name] !== undefined && entered[name] !== ''
  let fromUrl: Partial<Record<'host' | 'port' | 'user' | 'password' | 'database', string>> = {}
  if (resolved.url !== undefined) fromUrl = parseUrl(String(resolved.url))
  const pick = (name: keyof typeof fromUrl): string | undefined =>
    given(name) ? String(resolved[name]) : (fromUrl[name] ?? optional(resolved[name]))
  const port = Number(pick('port'))
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw invalid('port', 'connection field "port" must be a whole number from 1 to 65535')
  }
  const connectTimeout = Number(resolved.connectTimeout)
  if (!(connectTimeout > 0)) {
    throw invalid('connectTimeout', 'connection field "connectTimeout" must be more than 0 seconds')
  }
  const user = pick('user')
  if (user === undefined) throw invalid('user', 'connection field "user" is required')
  const password = pick('password')
  const database = pick('database')
  return {
    host: pick('host') ?? '127.0.0.1',
    port,
    user,
    connectTimeout,
    ...(password !== undefined ? { password } : {}),
    ...(database !== undefined ? { database } : {}),
  }
}

function parseUrl(text: string): Partial<Record<string, string>> {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw invalid(
      'url',
      'connection field "url" is not a valid URL (mysql://user:password@host:3306/database)',
    )
  }
  if (url.protocol !== 'mysql:' && url.protocol !== 'mariadb:') {
    throw invalid(
      'url',
      `connection field "url" must start with mysql:// or mariadb://, not ${url.protocol}//`,
    )
  }
  if (url.search !== '') {
    throw invalid(
      'url',
      'connection field "url" must not carry options after "?": use the separate fields',
    )
  }
  const out: Record<string, string> = {}
  if (url.hostname) out.host = url.hostname.replace(/^\[(.*)\]$/, '$1')
  if (url.port) out.port = url.port
  if (url.username) out.user = decodeURIComponent(url.username)
  if (url.password) out.password = decodeURIComponent(url.password)
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''))
  if (database) out.database = database
  return out
}

function optional(value: string | number | boolean | undefined): string | undefined {
  return value === undefined ? undefined : String(value)
}

function invalid(field: string, message: string): OpenSyncError {
  return new OpenSyncError('OSY_INVALID_CONNECTION', message, { details: { field } })
}

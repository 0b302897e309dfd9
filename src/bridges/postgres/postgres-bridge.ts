import {
  type Bridge,
  type BridgeContext,
  type ConnectionValues,
  type FieldSpec,
  isOpenSyncError,
  resolveConnectionValues,
  throwIfAborted,
} from '../../sdk/index.ts'
import type { PostgresPool } from './postgres-driver.ts'

/** The connection form of the PostgreSQL bridge. */
export const postgresConnectionFields: readonly FieldSpec[] = [
  {
    name: 'url',
    label: 'Connection URL',
    type: 'url',
    secret: true,
    help: 'postgres://user:password@host:5432/database — instead of the fields below',
  },
  { name: 'host', label: 'Host', type: 'string', default: '127.0.0.1' },
  { name: 'port', label: 'Port', type: 'number', default: 5432 },
  { name: 'user', label: 'User', type: 'string', default: 'postgres' },
  { name: 'password', label: 'Password', type: 'string', secret: true },
  { name: 'database', label: 'Database', type: 'string' },
  {
    name: 'schema',
    label: 'Schema',
    type: 'string',
    default: 'public',
    help: 'the schema whose tables are record types',
  },
  { name: 'ssl', label: 'Use TLS', type: 'boolean', default: false },
  { name: 'connectTimeout', label: 'Connect timeout (s)', type: 'number', default: 10 },
  { name: 'poolSize', label: 'Connections', type: 'number', default: 4 },
]

/**
 * The PostgreSQL bridge (driver: `pg`). Sessions run in UTC; reads run in read-only
 * REPEATABLE READ transactions; writes go as one `unnest` statement per op group.
 */
export const postgresBridge: Bridge = {
  name: 'postgres',
  title: 'PostgreSQL',
  version: '1.0.0',
  connectionFields: postgresConnectionFields,
  filterKinds: ['sql', 'keyValue'],
  capabilities: {
    cursorReads: true,
    keyScan: true,
    upsert: true,
    snapshotReads: true,
    enforcesLength: true,
    listDatabases: true,
    // Each write takes a pooled connection and runs in its own transaction.
    concurrentWrites: true,
  },
  async connect(values: ConnectionValues, _ctx: BridgeContext) {
    return open(values)
  },
  async listDatabases(values: ConnectionValues, ctx: BridgeContext) {
    // Any database of the server lists them all. The one named may be gone (renamed: the
    // very reason to list), so the maintenance databases are the fallbacks.
    const named = targetOf(resolveConnectionValues(postgresConnectionFields, values)).database
    const candidates = [...new Set([named, 'postgres', 'template1'])]
    for (const [i, database] of candidates.entries()) {
      throwIfAborted(ctx.signal)
      const connection = await open(withDatabase(values, database))
      try {
        return await connection.listDatabases()
      } catch (error) {
        const last = i === candidates.length - 1
        if (last || !isOpenSyncError(error) || error.code !== 'OSY_UNKNOWN_DATABASE') throw error
      } finally {
        await connection.close()
      }
    }
    return []
  },
}

async function open(values: ConnectionValues) {
  const v = resolveConnectionValues(postgresConnectionFields, values)
  const base = v.url ? { connectionString: String(v.url) } : {}
  // The driver and the connection code load with the first connection, so a process that
  // connects to no PostgreSQL system never loads them.
  const [{ default: pg }, { PostgresConnection }, { typeParsers }] = await Promise.all([
    import('pg'),
    import('./postgres-connection.ts'),
    import('./postgres-values.ts'),
  ])
  const pool = new pg.Pool({
    ...base,
    ...(v.url ? {} : { host: String(v.host), port: Number(v.port), user: String(v.user) }),
    ...(v.password !== undefined ? { password: String(v.password) } : {}),
    ...(v.database !== undefined ? { database: String(v.database) } : {}),
    ...(v.ssl ? { ssl: true } : {}),
    max: Number(v.poolSize),
    connectionTimeoutMillis: Number(v.connectTimeout) * 1000,
    options: '-c TimeZone=UTC -c DateStyle=ISO',
    application_name: 'opensync',
    types: typeParsers,
  })
  // An idle client that dies (server restart) must not crash the process.
  pool.on('error', () => {})
  const target = targetOf(v)
  return new PostgresConnection(pool as unknown as PostgresPool, target)
}

/** The values pointed at another database of the same server (in the URL, when one is used). */
function withDatabase(values: ConnectionValues, database: string): ConnectionValues {
  if (values.url !== undefined && values.url !== '') {
    const url = new URL(String(values.url))
    url.pathname = `/${encodeURIComponent(database)}`
    return { ...values, url: url.toString(), database: undefined }
  }
  return { ...values, database }
}

function targetOf(v: Readonly<Record<string, string | number | boolean>>) {
  if (v.url) {
    const url = new URL(String(v.url))
    return {
      host: url.hostname,
      port: url.port ? Number(url.port) : 5432,
      database: url.pathname.slice(1) || String(v.user),
      schema: String(v.schema),
    }
  }
  return {
    host: String(v.host),
    port: v.port !== undefined && v.port !== '' ? Number(v.port) : 5432,
    database: String(v.database ?? v.user),
    schema: String(v.schema),
  }
}

import { resolve } from 'node:path'
import {
  type Bridge,
  type BridgeContext,
  type ConnectionValues,
  type FieldSpec,
  OpenSyncError,
  resolveConnectionValues,
  throwIfAborted,
} from '../../sdk/index.ts'

/** The connection form of the SQLite bridge. */
export const sqliteConnectionFields: readonly FieldSpec[] = [
  {
    name: 'file',
    label: 'Database file',
    type: 'path',
    required: true,
    help: 'path of the SQLite database file, e.g. /var/lib/shop/shop.db',
  },
  {
    name: 'create',
    label: 'Create the file if missing',
    type: 'boolean',
    default: false,
    help: 'off: a missing file is an error, so a typo in the path cannot create an empty database',
  },
  {
    name: 'readOnly',
    label: 'Read only',
    type: 'boolean',
    default: false,
    help: 'open the file read-only; every table can then be read but not written',
  },
  {
    name: 'busyTimeout',
    label: 'Busy timeout (ms)',
    type: 'number',
    default: 5000,
    help: 'how long to wait for another program that holds the database lock',
  },
]

/**
 * The SQLite bridge (driver: better-sqlite3, in-process and synchronous). The file is
 * opened on first use in WAL mode; reads page by keyset inside one read transaction (one
 * snapshot); writes run one prepared statement per op under a savepoint, all in one
 * transaction per batch.
 *
 * @example
 * const conn = await sqliteBridge.connect({ file: './shop.db' }, { log: silentLogger })
 * for await (const batch of conn.read('customers', { cursor: 'updated_at' })) console.log(batch.records)
 */
export const sqliteBridge: Bridge = {
  name: 'sqlite',
  title: 'SQLite',
  version: '1.0.0',
  connectionFields: sqliteConnectionFields,
  filterKinds: ['sql', 'keyValue'],
  capabilities: {
    cursorReads: true,
    keyScan: true,
    upsert: true,
    snapshotReads: true,
    // SQLite stores text of any length whatever VARCHAR(n) says.
    enforcesLength: false,
  },
  async connect(values: ConnectionValues, ctx: BridgeContext) {
    throwIfAborted(ctx.signal)
    const v = resolveConnectionValues(sqliteConnectionFields, values)
    const file = String(v.file)
    // An in-memory database would be a different, empty one on every handle we open.
    if (file.trim() === ':memory:' || file.startsWith('file:')) {
      throw new OpenSyncError(
        'OSY_INVALID_CONNECTION',
        'connection field "file" must be the path of a database file',
        { details: { field: 'file' } },
      )
    }
    const busyTimeout = Number(v.busyTimeout)
    if (!Number.isInteger(busyTimeout) || busyTimeout < 0 || busyTimeout > 2 ** 31 - 1) {
      throw new OpenSyncError(
        'OSY_INVALID_CONNECTION',
        'connection field "busyTimeout" must be a whole number of milliseconds, 0 or more',
        { details: { field: 'busyTimeout' } },
      )
    }
    // The driver and the connection code load with the first connection, so a process that
    // connects to no SQLite system never loads them.
    const [{ SqliteConnection }, { openBetterSqlite3 }] = await Promise.all([
      import('./sqlite-connection.ts'),
      import('./sqlite-driver.ts'),
    ])
    return new SqliteConnection({
      file: resolve(file),
      create: v.create === true,
      readOnly: v.readOnly === true,
      busyTimeout,
      open: openBetterSqlite3,
      log: ctx.log,
    })
  },
}

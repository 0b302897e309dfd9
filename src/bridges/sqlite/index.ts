export { sqliteBridge, sqliteConnectionFields } from './sqlite-bridge.ts'
export { SqliteConnection, type SqliteConnectionOptions } from './sqlite-connection.ts'
export type {
  SqliteDatabase,
  SqliteOpen,
  SqliteOpenOptions,
  SqliteStatement,
} from './sqlite-driver.ts'
export type { SqliteFieldInfo, SqliteRecordType } from './sqlite-introspector.ts'

export { postgresBridge, postgresConnectionFields } from './postgres-bridge.ts'
export { PostgresConnection } from './postgres-connection.ts'
export type { PostgresPool, PostgresPoolClient, PostgresQueryable } from './postgres-driver.ts'

export { mysqlBridge, mysqlConnectionFields } from './mysql-bridge.ts'
export { MysqlConnection, type MysqlServerInfo } from './mysql-connection.ts'
export type {
  MysqlPool,
  MysqlPoolConnection,
  MysqlQueryable,
  MysqlResultHeader,
  MysqlRow,
} from './mysql-driver.ts'

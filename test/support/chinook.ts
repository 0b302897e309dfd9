import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** The Chinook sample database (MIT, see its LICENSE.md), kept in the repository. */
const DATASETS = fileURLToPath(new URL('../fixtures/chinook/', import.meta.url))

/** The PostgreSQL script without its DROP/CREATE DATABASE and `\c` lines, to run in any schema. */
export function chinookPostgresSql(): string {
  const text = readFileSync(`${DATASETS}chinook-postgresql.sql`, 'utf8')
  return text.slice(text.indexOf('\\c chinook;') + '\\c chinook;'.length)
}

/** The MySQL script without its DROP/CREATE DATABASE and USE lines, to run in any database. */
export function chinookMysqlSql(): string {
  const text = readFileSync(`${DATASETS}chinook-mysql.sql`, 'utf8')
  return text.slice(text.indexOf('USE `Chinook`;') + 'USE `Chinook`;'.length)
}

import {
  type CompiledSql,
  compileSqlFilter,
  type Filter,
  type RecordTypeInfo,
  type SqlDialect,
} from '../../sdk/index.ts'
import { filterExpr } from './read-plan.ts'

/**
 * `SELECT COUNT(*)` of a record type with its filter validated and compiled as a read's is
 * (the user's text never reaches the system): what `count` of every SQL bridge runs, so a
 * progress line can show a total and an ETA.
 */
export function countSql(
  dialect: SqlDialect,
  from: string,
  type: RecordTypeInfo,
  filter: Filter | undefined,
): CompiledSql {
  const compiled = filter
    ? compileSqlFilter(filterExpr(filter, dialect, type.fields), dialect, 1)
    : undefined
  return {
    sql: `SELECT COUNT(*) AS n FROM ${from}${compiled ? ` WHERE ${compiled.sql}` : ''}`,
    params: compiled?.params ?? [],
  }
}

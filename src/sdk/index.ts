/**
 * The OpenSync bridge SDK: the one module a bridge imports. See docs/bridges.md.
 * @module
 */
export * from './bridge.ts'
export * from './conform-value.ts'
export * from './connection-fields.ts'
export * from './errors.ts'
export * from './filter/compile-sql-filter.ts'
export * from './filter/filter-expr.ts'
export * from './filter/parse-sql-filter.ts'
export * from './filter/sql-dialect.ts'
export * from './json.ts'
export * from './key-hash-set.ts'
export * from './record-type.ts'
export * from './registry.ts'
export * from './values.ts'

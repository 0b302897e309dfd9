import type { BridgeHarness } from './harness.ts'

const loaders: Record<string, () => Promise<BridgeHarness>> = {
  postgres: async () => (await import('./postgres-harness.ts')).postgresHarness,
  mysql: async () => (await import('./mysql-harness.ts')).mysqlHarness,
  sqlite: async () => (await import('./sqlite-harness.ts')).sqliteHarness,
}

/** Every built-in SQL bridge, for suites that loop over them. `BRIDGES=postgres,sqlite` narrows the list. */
export const harnesses: BridgeHarness[] = await Promise.all(
  Object.keys(loaders)
    .filter((name) => !process.env.BRIDGES || process.env.BRIDGES.split(',').includes(name))
    .map((name) => loaders[name]!()),
)

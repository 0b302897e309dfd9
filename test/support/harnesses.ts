import type { BridgeHarness } from './harness.ts'
import { mysqlHarness } from './mysql-harness.ts'
import { postgresHarness } from './postgres-harness.ts'
import { sqliteHarness } from './sqlite-harness.ts'

/** Every built-in SQL bridge, for suites that loop over them. `BRIDGES=postgres,sqlite` narrows the list. */
export const harnesses: BridgeHarness[] = [postgresHarness, mysqlHarness, sqliteHarness].filter(
  (h) => !process.env.BRIDGES || process.env.BRIDGES.split(',').includes(h.name),
)

import { type Bridge, BridgeRegistry } from '../sdk/index.ts'
// The bridge definitions only, not the folders' index.ts: each bridge loads its driver and
// connection code when it first connects, so a registry costs no driver's memory.
import { csvBridge } from './csv/csv-bridge.ts'
import { mysqlBridge } from './mysql/mysql-bridge.ts'
import { postgresBridge } from './postgres/postgres-bridge.ts'
import { restBridge } from './rest/rest-bridge.ts'
import { sqliteBridge } from './sqlite/sqlite-bridge.ts'

/** The bridges that ship with OpenSync. */
export const builtinBridges: readonly Bridge[] = [
  postgresBridge,
  mysqlBridge,
  sqliteBridge,
  restBridge,
  csvBridge,
]

/**
 * A registry with the built-in bridges plus the npm packages (or module paths) named in
 * `packages`, e.g. from `OPENSYNC_BRIDGES=opensync-bridge-hubspot,./my-bridge.js`.
 */
export async function createRegistry(packages: readonly string[] = []): Promise<BridgeRegistry> {
  const registry = new BridgeRegistry(builtinBridges)
  for (const specifier of packages) await registry.load(specifier)
  return registry
}

export { csvBridge, mysqlBridge, postgresBridge, restBridge, sqliteBridge }

import {
  type BridgeRegistry,
  type ConnectionValues,
  capabilitiesOf,
  OpenSyncError,
  silentLogger,
} from '../../sdk/index.ts'
import type { ConnectionValue } from './connection-form.ts'
import type { LoadedProfile } from './load-profile.ts'

/**
 * The databases of the server a home profile's connection values point at, for the
 * database drop-down of the connection step (profiles with `home.pickDatabase`). The
 * profile's fixed and default values apply; the database field itself is not needed. A
 * task stores the picked name, so a renamed database is fixed by picking the new name.
 */
export async function listHomeDatabases(
  profile: LoadedProfile,
  values: Readonly<Record<string, ConnectionValue>>,
  registry: BridgeRegistry,
  signal?: AbortSignal,
): Promise<readonly string[]> {
  const bridge = registry.get(profile.profile.bridge)
  if (!bridge.listDatabases || !capabilitiesOf(bridge).listDatabases) {
    throw new OpenSyncError(
      'OSY_UNSUPPORTED',
      `bridge ${bridge.name} cannot list the databases of a server`,
    )
  }
  const merged: ConnectionValues = {
    ...(profile.profile.connection?.defaults ?? {}),
    ...values,
    ...profile.connection.fixed,
  }
  return bridge.listDatabases(merged, { log: silentLogger, ...(signal ? { signal } : {}) })
}

import type { Bridge } from './bridge.ts'
import { OpenSyncError } from './errors.ts'

/**
 * The bridges a process knows, by name: the built-ins plus npm packages named in config.
 * A bridge package exports a {@link Bridge} as its default export (or as `bridge`).
 *
 * @example
 * const registry = new BridgeRegistry([postgresBridge])
 * await registry.load('opensync-bridge-hubspot')
 * const bridge = registry.get('hubspot')
 */
export class BridgeRegistry {
  readonly #bridges = new Map<string, Bridge>()

  constructor(bridges: Iterable<Bridge> = []) {
    for (const bridge of bridges) this.register(bridge)
  }

  /** Adds a bridge; a second bridge with the same name is refused. */
  register(bridge: Bridge): this {
    assertBridge(bridge, bridge?.name ?? '(unnamed)')
    if (this.#bridges.has(bridge.name)) {
      throw new OpenSyncError(
        'OSY_INVALID_BRIDGE',
        `a bridge named "${bridge.name}" is already registered`,
      )
    }
    this.#bridges.set(bridge.name, bridge)
    return this
  }

  /** Imports an npm package (or a module path) and registers the bridge it exports. */
  async load(specifier: string): Promise<Bridge> {
    let mod: { default?: unknown; bridge?: unknown }
    try {
      mod = (await import(specifier)) as typeof mod
    } catch (cause) {
      throw new OpenSyncError(
        'OSY_BRIDGE_NOT_FOUND',
        `cannot load bridge package "${specifier}": is it installed?`,
        {
          cause,
        },
      )
    }
    const candidate = (mod.bridge ?? mod.default) as Bridge
    assertBridge(candidate, specifier)
    this.register(candidate)
    return candidate
  }

  /** The bridge of that name; throws OSY_BRIDGE_NOT_FOUND naming the known ones. */
  get(name: string): Bridge {
    const bridge = this.#bridges.get(name)
    if (!bridge) {
      throw new OpenSyncError(
        'OSY_BRIDGE_NOT_FOUND',
        `unknown bridge "${name}" (known: ${[...this.#bridges.keys()].join(', ') || 'none'})`,
      )
    }
    return bridge
  }

  has(name: string): boolean {
    return this.#bridges.has(name)
  }

  /** All registered bridges, in registration order. */
  list(): readonly Bridge[] {
    return [...this.#bridges.values()]
  }
}

function assertBridge(value: unknown, source: string): asserts value is Bridge {
  const b = value as Partial<Bridge> | undefined
  const problems: string[] = []
  if (!b || typeof b !== 'object') problems.push('no bridge object exported')
  else {
    if (typeof b.name !== 'string' || !/^[a-z][a-z0-9-]*$/.test(b.name))
      problems.push('name must be lower-case letters, digits and dashes')
    if (typeof b.connect !== 'function') problems.push('connect() is missing')
    if (!Array.isArray(b.connectionFields)) problems.push('connectionFields is missing')
    if (!Array.isArray(b.filterKinds)) problems.push('filterKinds is missing')
  }
  if (problems.length > 0) {
    throw new OpenSyncError(
      'OSY_INVALID_BRIDGE',
      `"${source}" is not a valid bridge: ${problems.join('; ')}`,
    )
  }
}

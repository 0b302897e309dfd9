import type { Selectable } from 'kysely'
import { clockNow, clockPlus } from './store-clock.ts'
import type { RepoContext } from './store-context.ts'
import type { InstanceTable } from './tables.ts'

/** What a service process says about itself when it registers. */
export interface InstanceInfo {
  readonly host: string
  readonly pid: number
  /** The OpenSync version it runs. */
  readonly version: string
  /** `service` (`opensync start`: scheduler and worker), `worker`, `api`, … */
  readonly role: string
}

/** A registered service process. */
export interface InstanceRow extends InstanceInfo {
  readonly id: number
  /** When it registered (database clock, ISO). */
  readonly startedAt: string
  /** Its latest heartbeat (database clock, ISO). */
  readonly heartbeatAt: string
}

/** How often a service heartbeats by default, and how long an instance counts as alive. */
export const INSTANCE_HEARTBEAT_MS = 10_000
export const INSTANCE_ALIVE_MS = 3 * INSTANCE_HEARTBEAT_MS

/**
 * The registry of running service processes. Each registers on start, heartbeats while it
 * runs and removes itself on shutdown; one that crashed stops heartbeating, is left out of
 * `list` once its heartbeat is older than `aliveWithinMs`, and is deleted by a later `list`
 * or `register` after ten times that. Times are the database clock's (see store-clock.ts),
 * so hosts with drifting clocks agree.
 */
export interface InstanceRepo {
  /** Registers a process; returns its id, for `heartbeat` and `remove`. */
  register(info: InstanceInfo): Promise<number>
  /** Renews the heartbeat; false when the entry is gone (expired and swept): register again. */
  heartbeat(id: number): Promise<boolean>
  /** The processes that heartbeat within `aliveWithinMs` (default 30 s), oldest first. */
  list(options?: { readonly aliveWithinMs?: number }): Promise<InstanceRow[]>
  remove(id: number): Promise<void>
}

/** Entries silent for this many alive windows are deleted. */
const SWEEP_FACTOR = 10

/** The instance repository on a connection. */
export function instanceRepo(ctx: RepoContext): InstanceRepo {
  const { dialect } = ctx
  const sweep = (ms: number) =>
    ctx.run('instances.sweep', (db) =>
      db
        .deleteFrom('osy_instances')
        .where('heartbeat_at', '<', clockPlus(dialect, -ms * SWEEP_FACTOR))
        .execute(),
    )
  return {
    async register(info) {
      await sweep(INSTANCE_ALIVE_MS)
      return ctx.run('instances.register', async (db) => {
        const row = await db
          .insertInto('osy_instances')
          .values({
            host: info.host,
            pid: info.pid,
            version: info.version,
            role: info.role,
            started_at: clockNow(dialect),
            heartbeat_at: clockNow(dialect),
          })
          .returning('id')
          .executeTakeFirstOrThrow()
        return Number(row.id)
      })
    },

    heartbeat(id) {
      return ctx.run('instances.heartbeat', async (db) => {
        const result = await db
          .updateTable('osy_instances')
          .set({ heartbeat_at: clockNow(dialect) })
          .where('id', '=', id)
          .executeTakeFirst()
        return result.numUpdatedRows > 0n
      })
    },

    async list(options = {}) {
      const ms = options.aliveWithinMs ?? INSTANCE_ALIVE_MS
      await sweep(ms)
      return ctx.run('instances.list', async (db) => {
        const rows = await db
          .selectFrom('osy_instances')
          .selectAll()
          .where('heartbeat_at', '>=', clockPlus(dialect, -ms))
          .orderBy('id')
          .execute()
        return rows.map(toInstance)
      })
    },

    remove(id) {
      return ctx.run('instances.remove', async (db) => {
        await db.deleteFrom('osy_instances').where('id', '=', id).execute()
      })
    },
  }
}

function toInstance(row: Selectable<InstanceTable>): InstanceRow {
  return {
    id: Number(row.id),
    host: row.host,
    pid: Number(row.pid),
    version: row.version,
    role: row.role,
    startedAt: row.started_at,
    heartbeatAt: row.heartbeat_at,
  }
}

import {
  type BridgeConnection,
  type BridgeLogger,
  type BridgeRegistry,
  capabilitiesOf,
  coerceError,
  OpenSyncError,
  type RecordTypeInfo,
  silentLogger,
} from '../sdk/index.ts'
import type { Store, StoreRepos } from '../store/index.ts'
import { DEFAULT_LEASE_MS, isDeadLocalOwner, processOwner } from './lease.ts'
import { type PairProgress, PairRun, type Probe } from './pair-run.ts'
import {
  type Counts,
  type ExecutionCounts,
  type LogEntry,
  type PlannedChange,
  Protocol,
} from './protocol.ts'
import type { ResolvedPair, ResolvedTask, Side } from './task/resolved-task.ts'

/** Options of one run. */
export interface RunOptions {
  readonly store: Store
  readonly registry: BridgeRegistry
  /** Compute and report everything, write nothing anywhere (not even the protocol). */
  readonly dryRun?: boolean
  /** Who or what started the run, for the protocol (`cli`, `manual`, `plan`). */
  readonly trigger?: string
  /** Records per read and write batch. Default 1000. */
  readonly batchSize?: number
  /** Failed attempts after which a record is quarantined. Default 3. */
  readonly quarantineAfter?: number
  readonly signal?: AbortSignal
  readonly onProgress?: (progress: PairProgress) => void
  readonly log?: BridgeLogger
  /** Hears each moment of each batch (instrumentation, crash tests). */
  readonly probe?: Probe
  /**
   * An execution the service already claimed, with the lease owner: the run uses it instead
   * of starting one, and every commit first checks the lease is still this owner's, so a
   * worker that lost its lease (paused, partitioned) can no longer commit anything.
   */
  readonly execution?: { readonly id: number; readonly owner: string }
  /** The lease of the run's execution. Default 30 s, renewed every third of it. */
  readonly leaseMs?: number
}

/**
 * Starts an execution directly (no service queue): expired leases are failed first, and a
 * run left by a process of this machine that is gone is taken over at once.
 */
async function begin(
  store: Store,
  taskId: string,
  trigger: string,
  owner: string,
  leaseMs: number,
): Promise<number> {
  await store.executions.expire()
  const running = await store.executions.running(taskId)
  if (running && (running.owner === undefined || isDeadLocalOwner(running.owner))) {
    await store.executions.finish(running.id, {
      status: 'failed',
      counts: running.counts,
      error: {
        code: 'OSY_LEASE_LOST',
        message: `the process that ran it (${running.owner ?? 'unknown'}) is gone`,
      },
    })
  }
  return store.executions.begin({ taskId, trigger, dryRun: false, owner, leaseMs })
}

/** The outcome of one run. */
export interface RunResult {
  /** The stored execution; absent in a dry run. */
  readonly executionId?: number
  /**
   * `partial`: the run went through, but some records failed (counted in `errors`; they are
   * retried by the next run). `succeeded` only when no record failed.
   */
  readonly status: 'succeeded' | 'partial' | 'failed' | 'cancelled'
  readonly dryRun: boolean
  readonly counts: ExecutionCounts
  readonly totals: Counts
  /** The changes made or (dry run) planned, up to 10,000. */
  readonly changes: readonly PlannedChange[]
  /** The readable protocol (always complete in a dry run; in a real run it is also stored). */
  readonly log: readonly LogEntry[]
  readonly error?: { readonly code: string; readonly message: string }
  /**
   * Parked conflicts of the task that wait for a decision after the run (`opensync conflicts
   * list`): while there are any, the sides are not in step even when nothing was written.
   */
  readonly openConflicts: number
  readonly startedAt: string
  readonly endedAt: string
}

/**
 * Runs a task once: connects both systems, checks that every pair's record types and
 * fields exist, runs each pair, and keeps the protocol. Never throws for a failed run:
 * the failure is in the result (and the stored execution); it throws only when the store
 * itself cannot record the execution, and for a bridge the registry does not know
 * (OSY_BRIDGE_NOT_FOUND, before anything is recorded).
 */
export async function runTask(task: ResolvedTask, options: RunOptions): Promise<RunResult> {
  const { store, dryRun = false } = options
  // An unknown bridge is bad input, not a failed run: it is refused before an execution is
  // recorded (OSY_BRIDGE_NOT_FOUND, a user error), as an invalid task file is.
  const bridges = task.systems.map((system) => options.registry.get(system.bridge))
  const startedAt = new Date().toISOString()
  const protocol = new Protocol({ keepChanges: true })
  const fullLog: LogEntry[] = []
  const owner = dryRun ? undefined : (options.execution?.owner ?? processOwner())
  const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS
  const executionId = dryRun
    ? undefined
    : (options.execution?.id ??
      (await begin(store, task.id, options.trigger ?? 'cli', owner!, leaseMs)))
  // The run holds a lease while it runs, renewed here: a run whose process stalls past it is
  // taken over and, through the fence on every commit, can no longer write anything.
  const lease = new AbortController()
  const signal = options.signal ? AbortSignal.any([options.signal, lease.signal]) : lease.signal
  const heartbeat =
    executionId === undefined
      ? undefined
      : setInterval(
          () => {
            store.executions.heartbeat(executionId, owner!, leaseMs).then(
              (beat) => {
                if (!beat.alive) {
                  lease.abort(
                    new OpenSyncError('OSY_LEASE_LOST', `execution ${executionId} lost its lease`),
                  )
                } else if (beat.cancelRequested) {
                  lease.abort(new OpenSyncError('OSY_ABORTED', 'cancelled by request'))
                }
              },
              () => {},
            )
          },
          Math.max(50, Math.floor(leaseMs / 3)),
        )
  const flush = async () => {
    const entries = protocol.drain()
    const changes = protocol.drainChanges()
    fullLog.push(...entries)
    if (executionId === undefined) return
    if (entries.length > 0) await store.executions.log(executionId, entries)
    if (changes.length > 0) await store.changes.add(executionId, changes)
  }
  const conns: BridgeConnection[] = []
  let status: RunResult['status'] = 'succeeded'
  let error: OpenSyncError | undefined
  try {
    protocol.log(
      'info',
      `${dryRun ? 'dry run' : 'run'} of "${task.subject}" started (${options.trigger ?? 'cli'})`,
    )
    const snapshotReads: boolean[] = []
    const concurrentWrites: boolean[] = []
    for (const [i, system] of task.systems.entries()) {
      const bridge = bridges[i]!
      const capabilities = capabilitiesOf(bridge)
      snapshotReads.push(capabilities.snapshotReads)
      concurrentWrites.push(capabilities.concurrentWrites)
      const conn = await bridge.connect(system.connection, {
        log: options.log ?? silentLogger,
        signal,
        ...(system.settings ? { settings: system.settings } : {}),
      })
      conns.push(conn)
      await conn.check()
    }
    const discovered = await Promise.all(conns.map((c) => c.discover()))
    for (const pair of task.pairs) {
      const types = [0, 1].map((s) => recordType(task, pair, s as Side, discovered[s]!)) as [
        RecordTypeInfo,
        RecordTypeInfo,
      ]
      checkPair(task, pair, types)
      const onProgress = options.onProgress
        ? await withTotals(task, pair, conns, store, options.onProgress)
        : undefined
      await new PairRun({
        task,
        pair,
        conns: conns as [BridgeConnection, BridgeConnection],
        types,
        snapshotReads: snapshotReads as [boolean, boolean],
        concurrentWrites: concurrentWrites as [boolean, boolean],
        store,
        protocol,
        dryRun,
        batchSize: options.batchSize ?? 1000,
        quarantineAfter: options.quarantineAfter ?? 3,
        signal,
        ...(onProgress ? { onProgress } : {}),
        ...(options.probe ? { probe: options.probe } : {}),
        ...(options.execution
          ? {
              fence: (tx: StoreRepos) =>
                tx.executions.fence(options.execution!.id, options.execution!.owner),
            }
          : {}),
        flush: dryRun ? async () => {} : flush,
      }).run()
      const c = protocol.counts[pair.id]
      protocol.log('info', `pair ${pair.id} done: ${directionsText(task, pair, c)}`, pair.id)
    }
  } catch (e) {
    error = coerceError(e)
    status = error.code === 'OSY_ABORTED' ? 'cancelled' : 'failed'
    protocol.log('error', `${status}: ${error.message}`, undefined, { code: error.code })
  } finally {
    clearInterval(heartbeat)
    await Promise.all(conns.map((c) => c.close().catch(() => {})))
  }
  const totals = protocol.totals()
  if (status === 'succeeded' && totals.errors > 0) status = 'partial'
  protocol.log('info', `${dryRun ? 'dry run' : 'run'} ${status}: ${summary(totals)}`)
  await flush()
  const errorInfo = error ? { code: error.code, message: error.message } : undefined
  const openConflicts = await store.conflicts.countOpen(task.id).catch(() => 0)
  if (executionId !== undefined) {
    try {
      await store.executions.finish(executionId, {
        status,
        counts: protocol.counts,
        ...(errorInfo ? { error: errorInfo } : {}),
        ...(owner ? { owner } : {}),
      })
    } catch (e) {
      // A stale run (its lease taken over) must not overwrite the outcome of the run that
      // replaced it; its result stays in what this function returns.
      if (coerceError(e).code !== 'OSY_LEASE_LOST') throw e
    }
    await store.tasks.touch(task.id)
  }
  return {
    ...(executionId !== undefined ? { executionId } : {}),
    status,
    dryRun,
    counts: protocol.counts,
    totals,
    changes: protocol.changes,
    log: fullLog,
    ...(errorInfo ? { error: errorInfo } : {}),
    openConflicts,
    startedAt,
    endedAt: new Date().toISOString(),
  }
}

/**
 * The progress callback with each read pass's total: counted by the source bridge (when it
 * can count) where the pass reads the whole record type — no cursor, or no checkpoint yet.
 * A count that fails only leaves the total out.
 */
async function withTotals(
  task: ResolvedTask,
  pair: ResolvedPair,
  conns: readonly BridgeConnection[],
  store: Store,
  onProgress: (p: PairProgress) => void,
): Promise<(p: PairProgress) => void> {
  const totals: (number | undefined)[] = [undefined, undefined]
  for (const s of [0, 1] as const) {
    const side = pair.sides[s]
    const conn = conns[s]
    if (!pair.flows[s] || !conn?.count) continue
    if (side.cursor && (await store.checkpoints.get(task.id, pair.id, s))) continue
    totals[s] = await conn
      .count(side.type, side.filter ? { filter: side.filter } : {})
      .catch(() => undefined)
  }
  return (p) => {
    const total = p.phase === 'read' ? totals[p.direction === '0->1' ? 0 : 1] : undefined
    onProgress(total !== undefined ? { ...p, total } : p)
  }
}

/** `crm → erp: read 3, …; erp → crm: read 2, …`, the directions the pair runs in, by key. */
function directionsText(
  task: ResolvedTask,
  pair: ResolvedPair,
  counts: Record<'0->1' | '1->0', Counts> | undefined,
): string {
  const [a, b] = [task.systems[0].key, task.systems[1].key]
  const parts: string[] = []
  if (pair.flows[0]) parts.push(`${a} → ${b}: ${summary(counts?.['0->1'])}`)
  if (pair.flows[1]) parts.push(`${b} → ${a}: ${summary(counts?.['1->0'])}`)
  return parts.join('; ')
}

function summary(c: Counts | undefined): string {
  if (!c) return 'nothing'
  return `read ${c.read}, created ${c.created}, updated ${c.updated}, deleted ${c.deleted}, unchanged ${c.unchanged}, conflicts ${c.conflicts}, errors ${c.errors}`
}

function recordType(
  task: ResolvedTask,
  pair: ResolvedPair,
  s: Side,
  types: readonly RecordTypeInfo[],
): RecordTypeInfo {
  const name = pair.sides[s].type
  const found = types.find((t) => t.name === name)
  if (!found) {
    throw new OpenSyncError(
      'OSY_RECORD_TYPE_NOT_FOUND',
      `pair ${pair.id}: ${task.systems[s].key} has no record type "${name}" (it has: ${types.map((t) => t.name).join(', ') || 'none'})`,
      { details: { recordType: name } },
    )
  }
  // A view or a keyless table is identified by the key fields the pair names.
  const key = pair.sides[s].key
  return key ? { ...found, keyFields: [...key] } : found
}

/** Checks the pair's fields against what the systems have, before anything is read. */
function checkPair(
  task: ResolvedTask,
  pair: ResolvedPair,
  types: readonly [RecordTypeInfo, RecordTypeInfo],
): void {
  for (const s of [0, 1] as const) {
    const names = new Set(types[s].fields.map((f) => f.name))
    const where = `pair ${pair.id}: ${task.systems[s].key}.${pair.sides[s].type}`
    const need = (field: string, what: string) => {
      if (!names.has(field)) {
        throw new OpenSyncError(
          'OSY_FIELD_NOT_FOUND',
          `${where} has no field "${field}" (${what})`,
          {
            details: { recordType: pair.sides[s].type, field },
          },
        )
      }
    }
    for (const m of pair.mappings) for (const f of m.fields[s]) need(f, `mapping ${m.id}`)
    if (pair.sides[s].cursor) need(pair.sides[s].cursor!, 'cursor')
    if (pair.sides[s].externalId) need(pair.sides[s].externalId!, 'externalId')
    for (const f of pair.sides[s].key ?? []) need(f, 'key')
    if (types[s].keyFields.length === 0) {
      throw new OpenSyncError(
        'OSY_UNSUPPORTED',
        `${where} has no primary key, so its records cannot be linked: name the fields that identify a record with key: [field, …] on that side`,
      )
    }
    if (pair.flows[1 - s] && types[s].readOnly) {
      throw new OpenSyncError(
        'OSY_READ_ONLY_RECORD_TYPE',
        `${where} is read-only but the pair writes to it`,
      )
    }
  }
}

import type { ResolvedTask } from '../engine/task/index.ts'
import { OpenSyncError } from '../sdk/index.ts'
import type { StoredCheckpoint } from '../store/checkpoint-repo.ts'
import {
  type ConflictRow,
  positionOf,
  type RecordErrorPageQuery,
  type RecordErrorPosition,
  type RecordErrorRow,
  type Side,
  type Store,
} from '../store/index.ts'
import type { TaskManager } from './task-manager.ts'

/** An open conflict as the inbox shows it: sides named by the task's system keys. */
export interface InboxConflict {
  readonly id: number
  readonly pairId: string
  /** The field mapping in conflict. */
  readonly mapping: string
  /**
   * Per system key: the record's key, its values of the mapping's fields, and the base (the
   * values last synced, before both edits; null where the store does not know them).
   */
  readonly sides: Readonly<
    Record<string, { readonly key: string; readonly values: unknown; readonly base: unknown }>
  >
  readonly createdAt: string
  readonly updatedAt: string
  /** The winner chosen (a system key), once decided; the next run applies it. */
  readonly winner?: string
  /** The value decided instead of a winner. */
  readonly value?: unknown
}

/** A task's open conflicts, in the inbox across tasks. */
export interface TaskConflicts {
  readonly taskId: string
  readonly subject: string
  /** How many conflicts of the task wait for a decision. */
  readonly count: number
  /** The oldest of them, at most the limit asked for. */
  readonly conflicts: InboxConflict[]
}

/** One decision: which system's value wins, or a value of one's own. */
export type ConflictDecision =
  | {
      readonly id: number
      /** The system key whose value wins. */
      readonly winner: string
    }
  | {
      readonly id: number
      /**
       * The value decided, as the first system holds it (the second when the pair does not
       * flow from the first); the run writes it there and, mapped, on the other side.
       */
      readonly value: unknown
    }

/** A record that failed to sync, as the inbox shows it. */
export interface InboxRecordError {
  readonly pairId: string
  /** The system the record came from, and the one it failed to reach. */
  readonly from: string
  readonly to: string
  readonly key: string
  readonly code: string
  readonly message: string
  readonly attempts: number
  /** Runs stopped retrying it (after repeated failures) until someone retries it. */
  readonly quarantined: boolean
  readonly firstAt: string
  readonly lastAt: string
}

/** A failed record in the inbox across tasks, with its task. */
export interface TaskRecordError extends InboxRecordError {
  readonly taskId: string
  readonly subject: string
}

/** Names one failed record. */
export interface RecordRef {
  readonly pairId: string
  /** The system key the record came from. */
  readonly from: string
  readonly key: string
}

/** The checkpoint of one side of a pair. */
export interface SideCheckpoint {
  readonly pairId: string
  /** The system key of the side. */
  readonly system: string
  /** Absent before the first committed batch, or after a reset. */
  readonly checkpoint?: StoredCheckpoint
}

/**
 * The inboxes of a task: conflicts parked for a person (decide one or many), records that
 * failed (retry now, ignore), and the checkpoints of each pair and side (reset a pair, so
 * its next run reads both sides from the start and links what is linked already, creating
 * nothing twice). Sides are named by the task's system keys throughout.
 */
export class Inbox {
  readonly #store: Store
  readonly #tasks: TaskManager

  constructor(options: { store: Store; tasks: TaskManager }) {
    this.#store = options.store
    this.#tasks = options.tasks
  }

  /** The open (undecided) conflicts of the task, or of one pair, oldest first. */
  async conflicts(taskId: string, pairId?: string): Promise<InboxConflict[]> {
    const task = await this.#tasks.outline(taskId)
    const rows = await this.#store.conflicts.open(taskId, pairId)
    return rows.map((row) => conflictOf(task, row))
  }

  /**
   * The open conflicts of every task that `visible` lets through, by task (in task id order),
   * at most `limit` of each (its oldest); tasks without open conflicts are left out.
   */
  async allConflicts(
    visible: (taskId: string) => Promise<boolean>,
    limit: number,
  ): Promise<TaskConflicts[]> {
    const byTask = new Map<string, ConflictRow[]>()
    for (const row of await this.#store.conflicts.open(undefined)) {
      const rows = byTask.get(row.taskId)
      if (rows) rows.push(row)
      else byTask.set(row.taskId, [row])
    }
    const out: TaskConflicts[] = []
    for (const taskId of [...byTask.keys()].sort()) {
      if (!(await visible(taskId))) continue
      const task = await this.#tasks.outline(taskId).catch((e: unknown) => {
        // Deleted since the conflicts were read: nothing to show.
        if (e instanceof OpenSyncError && e.code === 'OSY_TASK_NOT_FOUND') return undefined
        throw e
      })
      if (!task) continue
      const rows = byTask.get(taskId)!
      out.push({
        taskId,
        subject: task.subject,
        count: rows.length,
        conflicts: rows.slice(0, limit).map((row) => conflictOf(task, row)),
      })
    }
    return out
  }

  /**
   * Records decisions: each conflict's winner (a system key) or a value. All or nothing: an
   * unknown conflict or system refuses the whole request before anything is written. The
   * next run applies them.
   */
  async decide(taskId: string, decisions: readonly ConflictDecision[]): Promise<InboxConflict[]> {
    const task = await this.#tasks.outline(taskId)
    const open = new Map((await this.#store.conflicts.open(taskId)).map((c) => [c.id, c]))
    const sides = decisions.map((d) => {
      if (!open.has(d.id)) {
        throw new OpenSyncError(
          'OSY_RECORD_NOT_FOUND',
          `task ${taskId} has no open conflict ${d.id}`,
          { details: { field: 'id', id: d.id } },
        )
      }
      return 'winner' in d ? { winner: sideOf(task, d.winner, 'winner') } : { value: d.value }
    })
    await this.#store.transaction(async (tx) => {
      for (const [i, d] of decisions.entries()) await tx.conflicts.resolve(d.id, sides[i]!)
    })
    const at = new Date().toISOString()
    return decisions.map((d, i) =>
      conflictOf(task, { ...open.get(d.id)!, ...sides[i]!, resolvedAt: at }),
    )
  }

  /** The task's failed records. */
  async recordErrors(taskId: string): Promise<InboxRecordError[]> {
    const task = await this.#tasks.outline(taskId)
    return (await this.#store.recordErrors.list(taskId)).map((e) => recordErrorOf(task, e))
  }

  /**
   * A page of the failed records of the tasks asked for (every task without `taskIds`),
   * newest first by when they first failed, each with its task; `next` is where the next
   * page starts, absent on the last one.
   */
  async recordErrorPage(
    query: RecordErrorPageQuery,
  ): Promise<{ items: TaskRecordError[]; next?: RecordErrorPosition }> {
    const rows = await this.#store.recordErrors.page(query)
    const tasks = new Map<string, ResolvedTask | undefined>()
    const items: TaskRecordError[] = []
    for (const row of rows) {
      if (!tasks.has(row.taskId)) {
        const task = await this.#tasks.outline(row.taskId).catch((e: unknown) => {
          // Deleted since the errors were read (they go with it): nothing to show.
          if (e instanceof OpenSyncError && e.code === 'OSY_TASK_NOT_FOUND') return undefined
          throw e
        })
        tasks.set(row.taskId, task)
      }
      const task = tasks.get(row.taskId)
      if (task) items.push({ taskId: task.id, subject: task.subject, ...recordErrorOf(task, row) })
    }
    return {
      items,
      ...(rows.length === query.limit ? { next: positionOf(rows.at(-1)!) } : {}),
    }
  }

  /**
   * Retry now: the records leave quarantine with their attempts from zero, and a run is
   * queued (behind a running one) that retries them. Returns how many records had an error
   * and the queued execution.
   */
  async retry(
    taskId: string,
    records: readonly RecordRef[],
  ): Promise<{ released: number; executionId: number }> {
    const task = await this.#tasks.outline(taskId)
    let released = 0
    for (const [ref, keys] of this.#grouped(task, records))
      released += await this.#store.recordErrors.release(taskId, ref.pairId, ref.side, keys)
    const { executionId } = await this.#tasks.start(taskId, 'retry')
    return { released, executionId }
  }

  /**
   * Ignore: the errors are forgotten; the records are not retried and sync again only when
   * they change. Returns how many were listed.
   */
  async ignore(taskId: string, records: readonly RecordRef[]): Promise<number> {
    const task = await this.#tasks.outline(taskId)
    const before = (await this.#store.recordErrors.list(taskId)).length
    for (const [ref, keys] of this.#grouped(task, records))
      await this.#store.recordErrors.clear(taskId, ref.pairId, ref.side, keys)
    return before - (await this.#store.recordErrors.list(taskId)).length
  }

  /** The checkpoint of every side of every pair. */
  async checkpoints(taskId: string): Promise<SideCheckpoint[]> {
    const task = await this.#tasks.outline(taskId)
    const out: SideCheckpoint[] = []
    for (const pair of task.pairs) {
      for (const side of [0, 1] as const) {
        const checkpoint = await this.#store.checkpoints.get(taskId, pair.id, side)
        out.push({
          pairId: pair.id,
          system: task.systems[side].key,
          ...(checkpoint ? { checkpoint } : {}),
        })
      }
    }
    return out
  }

  /**
   * Forgets both checkpoints of one pair: its next run reads every record of both sides
   * again and compares them with the links it has, so nothing is created twice. Refused
   * while the task runs (the run would write the checkpoint back).
   */
  async resetPair(taskId: string, pairId: string): Promise<SideCheckpoint[]> {
    const task = await this.#tasks.outline(taskId)
    if (!task.pairs.some((p) => p.id === pairId)) {
      throw new OpenSyncError(
        'OSY_NOT_FOUND',
        `task ${taskId} has no pair ${pairId} (pairs: ${task.pairs.map((p) => p.id).join(', ') || 'none'})`,
        { details: { field: 'pairId' } },
      )
    }
    const running = await this.#store.executions.running(taskId)
    if (running) {
      throw new OpenSyncError(
        'OSY_TASK_RUNNING',
        `task ${taskId} is running (execution ${running.id}): reset its checkpoints after the run`,
      )
    }
    await this.#store.transaction(async (tx) => {
      await tx.checkpoints.set(taskId, pairId, 0, null)
      await tx.checkpoints.set(taskId, pairId, 1, null)
    })
    return (await this.checkpoints(taskId)).filter((c) => c.pairId === pairId)
  }

  /** Record refs grouped by pair and side, checked against the task. */
  #grouped(
    task: ResolvedTask,
    records: readonly RecordRef[],
  ): Map<{ pairId: string; side: Side }, string[]> {
    const groups = new Map<string, { ref: { pairId: string; side: Side }; keys: string[] }>()
    for (const r of records) {
      if (!task.pairs.some((p) => p.id === r.pairId)) {
        throw new OpenSyncError('OSY_NOT_FOUND', `task ${task.id} has no pair ${r.pairId}`, {
          details: { field: 'pairId' },
        })
      }
      const side = sideOf(task, r.from, 'from')
      const id = JSON.stringify([r.pairId, side])
      const group = groups.get(id) ?? { ref: { pairId: r.pairId, side }, keys: [] }
      group.keys.push(r.key)
      groups.set(id, group)
    }
    return new Map([...groups.values()].map((g) => [g.ref, g.keys]))
  }
}

function sideOf(task: ResolvedTask, key: string, field: string): Side {
  const side = task.systems.findIndex((s) => s.key === key)
  if (side < 0) {
    throw new OpenSyncError(
      'OSY_INVALID_REQUEST',
      `${field} must be one of the task's systems: ${task.systems.map((s) => s.key).join(', ')}`,
      { details: { field } },
    )
  }
  return side as Side
}

function recordErrorOf(task: ResolvedTask, e: RecordErrorRow): InboxRecordError {
  const keys = task.systems.map((s) => s.key)
  return {
    pairId: e.pairId,
    from: keys[e.direction]!,
    to: keys[1 - e.direction]!,
    key: e.key,
    code: e.code,
    message: e.message,
    attempts: e.attempts,
    quarantined: e.quarantined,
    firstAt: e.firstAt,
    lastAt: e.lastAt,
  }
}

function conflictOf(task: ResolvedTask, row: ConflictRow): InboxConflict {
  const [k0, k1] = task.systems.map((s) => s.key) as [string, string]
  return {
    id: row.id,
    pairId: row.pairId,
    mapping: row.mapping,
    sides: {
      [k0]: { key: row.keys[0], values: row.values[0], base: row.base?.[0] ?? null },
      [k1]: { key: row.keys[1], values: row.values[1], base: row.base?.[1] ?? null },
    },
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    ...(row.winner !== undefined ? { winner: row.winner === 0 ? k0 : k1 } : {}),
    ...('value' in row ? { value: row.value } : {}),
  }
}

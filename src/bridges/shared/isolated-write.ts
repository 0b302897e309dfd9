import {
  coerceError,
  type OpenSyncError,
  throwIfAborted,
  type WriteOp,
  type WriteResult,
} from '../../sdk/index.ts'

/**
 * Applies a group of ops as one statement (or a few) and returns, per op in order, the
 * record's key or an error that concerns that op alone and needs no rollback (an update
 * whose record does not exist). It must be atomic: when it throws, none of the group's ops
 * may remain applied (run it inside a savepoint or a transaction).
 */
export type ApplyGroup<Op> = (ops: readonly Op[]) => Promise<readonly (string | OpenSyncError)[]>

/**
 * Classifies an error thrown by one op alone: a per-record error (constraint, too long,
 * wrong type) is returned; `undefined` means the system itself failed and the write throws.
 */
export type ClassifyError = (error: unknown) => OpenSyncError | undefined

/**
 * Writes a group so that one bad record never fails the others, without a round trip per
 * record on the happy path: the whole group goes in one statement; when that fails, the
 * group is split in halves until the failing ops stand alone. A batch with one bad row
 * costs about 2·log2(n) extra statements.
 */
export async function writeIsolated<Op>(
  ops: readonly Op[],
  apply: ApplyGroup<Op>,
  classify: ClassifyError,
  signal?: AbortSignal,
): Promise<WriteResult[]> {
  const results: WriteResult[] = new Array(ops.length)
  const run = async (start: number, end: number): Promise<void> => {
    throwIfAborted(signal)
    const slice = ops.slice(start, end)
    try {
      const keys = await apply(slice)
      keys.forEach((key, i) => {
        results[start + i] = typeof key === 'string' ? { ok: true, key } : { ok: false, error: key }
      })
    } catch (error) {
      const classified = classify(error)
      if (!classified) throw coerceError(error, 'OSY_SYSTEM_ERROR')
      if (slice.length === 1) {
        results[start] = { ok: false, error: classified }
        return
      }
      const mid = start + Math.ceil(slice.length / 2)
      await run(start, mid)
      await run(mid, end)
    }
  }
  if (ops.length > 0) await run(0, ops.length)
  return results
}

/** Ops of one kind and one field set, with their places in the original batch. */
export interface OpGroup<K extends WriteOp['op']> {
  readonly op: K
  /** The sorted names of the fields the group's ops set (empty for deletes). */
  readonly fields: readonly string[]
  readonly indexes: number[]
  readonly ops: Extract<WriteOp, { op: K }>[]
}

/**
 * Groups a batch by op kind and field set, so each group can become one multi-row
 * statement. Groups come in the order creates, upserts, updates, deletes, whatever order
 * the ops came in: a batch must not hold two ops on the same record (the engine never
 * sends one).
 */
export function groupOps(ops: readonly WriteOp[]): OpGroup<WriteOp['op']>[] {
  const groups = new Map<string, OpGroup<WriteOp['op']>>()
  const order: Record<WriteOp['op'], number> = { create: 0, upsert: 1, update: 2, delete: 3 }
  // Ops of a batch mostly share one shape: the op before's group is checked first, without
  // sorting the field names again.
  let last: { op: WriteOp['op']; names: string[]; group: OpGroup<WriteOp['op']> } | undefined
  ops.forEach((op, index) => {
    let group =
      last !== undefined && last.op === op.op && sameNames(last.names, op) ? last.group : undefined
    if (!group) {
      const names = op.op === 'delete' ? [] : Object.keys(op.values)
      const fields = names.toSorted()
      const id = `${op.op}\u0000${fields.join('\u0000')}`
      group = groups.get(id)
      if (!group) {
        group = { op: op.op, fields, indexes: [], ops: [] }
        groups.set(id, group)
      }
      last = { op: op.op, names, group }
    }
    group.indexes.push(index)
    ;(group.ops as WriteOp[]).push(op)
  })
  return [...groups.values()].sort((a, b) => order[a.op] - order[b.op])
}

/** Whether an op sets exactly these fields, in this order (no array made per op). */
function sameNames(names: readonly string[], op: WriteOp): boolean {
  if (op.op === 'delete') return names.length === 0
  let i = 0
  for (const name in op.values) if (names[i++] !== name) return false
  return i === names.length
}

/** Splits an array into chunks of at most `size`. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

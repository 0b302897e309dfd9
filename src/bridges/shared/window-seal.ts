import {
  type Checkpoint,
  type CheckpointValue,
  type CompiledSql,
  compileSqlFilter,
  type FieldInfo,
  type FilterExpr,
  type SqlDialect,
  type WindowSeal,
} from '../../sdk/index.ts'
import { lagWindowStart } from './lag-window.ts'
import type { ReadPlan } from './read-plan.ts'

/**
 * Sealing the lag window (docs/bridges.md, "The lag window"): a read since a checkpoint
 * re-reads every record whose cursor lies within `lag` of the checkpoint, for late commits.
 * After a bulk load that is every row. A bridge that reads in one snapshot can seal what it
 * saw there instead: a count and an aggregate hash of (key, cursor) over the window, taken
 * in the read's own snapshot. The next read takes the same digest in its snapshot; equal, no
 * record appeared, changed or left in the window, and the read continues after the position.
 */

/** How a dialect hashes one row's key and cursor and sums the hashes exactly, as text. */
export type SealHash = (columns: readonly string[]) => string

/** PostgreSQL: a 64-bit hash of the row's text, summed as numeric (exact). */
export const postgresSealHash: SealHash = (columns) =>
  `coalesce(sum(hashtextextended(ROW(${columns.join(', ')})::text, 0)), 0)::text`

/** MySQL / MariaDB: CRC32 of the parts, summed as DECIMAL (exact). */
export const mysqlSealHash: SealHash = (columns) =>
  `CAST(COALESCE(SUM(CRC32(CONCAT_WS('|', ${columns.map((c) => `COALESCE(${c}, '')`).join(', ')}))), 0) AS CHAR)`

/** The digest query of the records with `lower ≤ cursor ≤ upper` (values in driver form). */
export function sealSql(options: {
  readonly dialect: SqlDialect
  readonly from: string
  readonly plan: ReadPlan
  readonly filter?: FilterExpr
  readonly hash: SealHash
  readonly lower: unknown
  readonly upper: unknown
}): CompiledSql {
  const { dialect, plan } = options
  const q = (name: string) => dialect.quoteIdentifier(name)
  const params: unknown[] = []
  const where: string[] = []
  if (options.filter) {
    const compiled = compileSqlFilter(options.filter, dialect, 1)
    params.push(...compiled.params)
    where.push(compiled.sql)
  }
  const cursor = q(plan.order[0]!.name)
  params.push(options.lower)
  where.push(`${cursor} >= ${dialect.placeholder(params.length)}`)
  params.push(options.upper)
  where.push(`${cursor} <= ${dialect.placeholder(params.length)}`)
  const hash = options.hash(plan.order.map((f) => q(f.name)))
  return {
    sql: `SELECT COUNT(*) AS n, ${hash} AS d FROM ${options.from} WHERE ${where.join(' AND ')}`,
    params,
  }
}

/** Runs a digest query for `[lower, upper]` (canonical values) in the read's snapshot. */
export type RunSeal = (
  lower: CheckpointValue,
  upper: CheckpointValue,
) => Promise<{ count: number; digest: string }>

/**
 * Where a read since a sealed checkpoint starts: after the position when the window holds
 * what the last read saw there, else (no seal, a wider window, a different digest) at the
 * window's start as before. `undefined` leaves the plan as it is.
 */
export async function unsealedStart(
  plan: ReadPlan,
  run: RunSeal,
): Promise<{ readonly after: readonly CheckpointValue[] } | undefined> {
  const since = plan.window?.since
  const seal = since?.seal
  if (!since || !seal || plan.atLeast === undefined) return undefined
  if (seal.to !== since.position[0] || seal.to === null) return undefined
  // The seal must cover the part of the window this read would re-read.
  if (compare(seal.from, plan.atLeast) > 0) return undefined
  const now = await run(seal.from, seal.to)
  if (now.count !== seal.count || now.digest !== seal.digest) return undefined
  return { after: since.position }
}

/** The checkpoint with the seal of its window, when the plan has a lag window. */
export async function sealed(
  checkpoint: Checkpoint,
  plan: ReadPlan,
  run: RunSeal,
): Promise<Checkpoint> {
  const seal = await sealAt(plan, checkpoint.position, run)
  return seal ? { ...checkpoint, seal } : checkpoint
}

/** The plan without its lag window's start (a read that continues after the position). */
export function withoutAtLeast(plan: ReadPlan): ReadPlan {
  const { atLeast: _, ...rest } = plan
  return rest
}

/** The seal of the window behind the position a read ended at, in the same snapshot. */
export async function sealAt(
  plan: ReadPlan,
  position: readonly CheckpointValue[],
  run: RunSeal,
): Promise<WindowSeal | undefined> {
  const window = plan.window
  const to = position[0]
  if (!window || to === null || to === undefined) return undefined
  const cursor: FieldInfo = plan.order[0]!
  const from = lagWindowStart(to, cursor.type, window.lag)
  const { count, digest } = await run(from, to)
  return { from, to, count, digest }
}

/** Orders two canonical cursor values of one field (numbers numerically, text as text). */
function compare(a: CheckpointValue, b: CheckpointValue): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b
  const x = String(a)
  const y = String(b)
  if (/^-?\d+$/.test(x) && /^-?\d+$/.test(y)) {
    const d = BigInt(x) - BigInt(y)
    return d > 0n ? 1 : d < 0n ? -1 : 0
  }
  return x < y ? -1 : x > y ? 1 : 0
}

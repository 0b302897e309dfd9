import { OpenSyncError } from '../sdk/errors.ts'
import type { Checkpoint, WindowSeal } from '../sdk/values.ts'
import { fromJsonText, now, toJsonText } from './batching.ts'
import type { RepoContext } from './store-context.ts'
import type { Side } from './types.ts'

/** A bridge's checkpoint plus when the read that reached it began (ISO), for the lag window. */
export type StoredCheckpoint = Checkpoint & { readonly readAt?: string }

/** The change-stream position of each side of each pair. */
export interface CheckpointRepo {
  /** The checkpoint of a side, or undefined before the first committed batch. */
  get(taskId: string, pairId: string, side: Side): Promise<StoredCheckpoint | undefined>
  /** Stores the checkpoint; `null` forgets it, so the next run reads the side from the start. */
  set(
    taskId: string,
    pairId: string,
    side: Side,
    checkpoint: StoredCheckpoint | null,
  ): Promise<void>
}

/** The checkpoint repository on a connection. */
export function checkpointRepo(ctx: RepoContext): CheckpointRepo {
  return {
    get(taskId, pairId, side) {
      return ctx.run('checkpoints.get', async (db) => {
        const row = await db
          .selectFrom('osy_checkpoints')
          .select('checkpoint')
          .where('task_id', '=', taskId)
          .where('pair_id', '=', pairId)
          .where('side', '=', side)
          .executeTakeFirst()
        return row === undefined ? undefined : toCheckpoint(row.checkpoint)
      })
    },

    set(taskId, pairId, side, checkpoint) {
      return ctx.run('checkpoints.set', async (db) => {
        if (checkpoint === null) {
          await db
            .deleteFrom('osy_checkpoints')
            .where('task_id', '=', taskId)
            .where('pair_id', '=', pairId)
            .where('side', '=', side)
            .execute()
          return
        }
        const text = toJsonText({
          cursorField: checkpoint.cursorField,
          position: checkpoint.position,
          ...(checkpoint.seal ? { seal: checkpoint.seal } : {}),
          ...(checkpoint.readAt ? { readAt: checkpoint.readAt } : {}),
        })
        const at = now()
        await db
          .insertInto('osy_checkpoints')
          .values({
            task_id: taskId,
            pair_id: pairId,
            side,
            checkpoint: text,
            updated_at: at,
          })
          .onConflict((oc) =>
            oc
              .columns(['task_id', 'pair_id', 'side'])
              .doUpdateSet({ checkpoint: text, updated_at: at }),
          )
          .execute()
      })
    },
  }
}

/** Reads a stored checkpoint, refusing text that is not one (a hand-edited row, say). */
function toCheckpoint(text: string): StoredCheckpoint {
  const value = fromJsonText(text) as Partial<StoredCheckpoint> | null
  if (
    value === null ||
    typeof value !== 'object' ||
    typeof value.cursorField !== 'string' ||
    !Array.isArray(value.position)
  ) {
    throw new OpenSyncError('OSY_INVALID_CHECKPOINT', `stored checkpoint is malformed: ${text}`)
  }
  return {
    cursorField: value.cursorField,
    position: value.position,
    ...(isSeal(value.seal) ? { seal: value.seal } : {}),
    ...(typeof value.readAt === 'string' ? { readAt: value.readAt } : {}),
  }
}

/** A stored window seal, or not one (older rows have none; a malformed one is dropped). */
function isSeal(value: unknown): value is WindowSeal {
  if (value === null || typeof value !== 'object') return false
  const v = value as Partial<WindowSeal>
  return 'from' in v && 'to' in v && typeof v.count === 'number' && typeof v.digest === 'string'
}

import type { Selectable } from 'kysely'
import { fromJsonText, now, toJsonText } from './batching.ts'
import type { RepoContext } from './store-context.ts'
import type { AuditEventTable } from './tables.ts'

/** What an audit event records: who did what, to which task or target, with what detail. */
export interface AuditInput {
  /** `user:alice`, `token:ci (alice)`, `cli`, `anonymous`. */
  readonly actor: string
  /** `task.created`, `task.edited`, `execution.started`, `user.added`, `sign-in.failed`, … */
  readonly action: string
  readonly taskId?: string
  /** What else the event is about: a username, a token's name, an execution id. */
  readonly target?: string
  /** Any JSON: a task's diff, a decision. Never a secret. */
  readonly detail?: unknown
}

/** A stored audit event. */
export interface AuditEvent extends AuditInput {
  readonly id: number
  readonly at: string
}

/** Which audit events to list: newest first, paged by `before`. */
export interface AuditQuery {
  readonly taskId?: string
  /** Only events of one of these tasks (an empty list: none). */
  readonly taskIds?: readonly string[]
  /** Only events of a task (no sign-ins, users, tokens). */
  readonly ofTasks?: boolean
  readonly action?: string
  /** Only events with a smaller id (the cursor of the next page). */
  readonly before?: number
  /** At most this many (default 50, at most 500). */
  readonly limit?: number
}

/** The audit trail: append-only. */
export interface AuditRepo {
  add(event: AuditInput): Promise<AuditEvent>
  list(query?: AuditQuery): Promise<AuditEvent[]>
}

/** The audit repository on a connection. */
export function auditRepo(ctx: RepoContext): AuditRepo {
  return {
    add(e) {
      return ctx.run('audit.add', async (db) => {
        const row = await db
          .insertInto('osy_audit_events')
          .values({
            at: now(),
            actor: e.actor,
            action: e.action,
            task_id: e.taskId ?? null,
            target: e.target ?? null,
            detail: e.detail === undefined ? null : toJsonText(e.detail),
          })
          .returningAll()
          .executeTakeFirstOrThrow()
        return toEvent(row)
      })
    },

    list(query = {}) {
      if (query.taskIds?.length === 0) return Promise.resolve([])
      return ctx.run('audit.list', async (db) => {
        let q = db.selectFrom('osy_audit_events').selectAll()
        if (query.taskId !== undefined) q = q.where('task_id', '=', query.taskId)
        if (query.taskIds !== undefined) q = q.where('task_id', 'in', [...query.taskIds])
        if (query.ofTasks) q = q.where('task_id', 'is not', null)
        if (query.action !== undefined) q = q.where('action', '=', query.action)
        if (query.before !== undefined) q = q.where('id', '<', query.before)
        const limit = Math.min(Math.max(1, query.limit ?? 50), 500)
        const rows = await q.orderBy('id', 'desc').limit(limit).execute()
        return rows.map(toEvent)
      })
    },
  }
}

function toEvent(row: Selectable<AuditEventTable>): AuditEvent {
  return {
    id: Number(row.id),
    at: row.at,
    actor: row.actor,
    action: row.action,
    ...(row.task_id !== null ? { taskId: row.task_id } : {}),
    ...(row.target !== null ? { target: row.target } : {}),
    ...(row.detail !== null ? { detail: fromJsonText(row.detail) } : {}),
  }
}

import type { RepoContext } from './store-context.ts'

/** A console session as stored. */
export interface StoredSession {
  /** The SHA-256 (hex) of the cookie's value. */
  readonly id: string
  readonly userId: number
  readonly csrfToken: string
  readonly createdAt: string
  readonly expiresAt: string
}

/** Console sessions. */
export interface SessionRepo {
  add(session: StoredSession): Promise<void>
  /** The session while it has not expired at `at`. */
  get(id: string, at: string): Promise<StoredSession | undefined>
  remove(id: string): Promise<void>
  /** Ends every session of a user (a new password, a removed user). */
  removeForUser(userId: number): Promise<void>
  /** Deletes sessions that expired before `at`. */
  prune(at: string): Promise<number>
}

/** The session repository on a connection. */
export function sessionRepo(ctx: RepoContext): SessionRepo {
  return {
    add(s) {
      return ctx.run('sessions.add', async (db) => {
        await db
          .insertInto('osy_sessions')
          .values({
            id: s.id,
            user_id: s.userId,
            csrf_token: s.csrfToken,
            created_at: s.createdAt,
            expires_at: s.expiresAt,
          })
          .execute()
      })
    },

    get(id, at) {
      return ctx.run('sessions.get', async (db) => {
        const row = await db
          .selectFrom('osy_sessions')
          .selectAll()
          .where('id', '=', id)
          .where('expires_at', '>', at)
          .executeTakeFirst()
        return row === undefined
          ? undefined
          : {
              id: row.id,
              userId: Number(row.user_id),
              csrfToken: row.csrf_token,
              createdAt: row.created_at,
              expiresAt: row.expires_at,
            }
      })
    },

    remove(id) {
      return ctx.run('sessions.remove', async (db) => {
        await db.deleteFrom('osy_sessions').where('id', '=', id).execute()
      })
    },

    removeForUser(userId) {
      return ctx.run('sessions.removeForUser', async (db) => {
        await db.deleteFrom('osy_sessions').where('user_id', '=', userId).execute()
      })
    },

    prune(at) {
      return ctx.run('sessions.prune', async (db) => {
        const result = await db
          .deleteFrom('osy_sessions')
          .where('expires_at', '<=', at)
          .executeTakeFirst()
        return Number(result.numDeletedRows)
      })
    },
  }
}

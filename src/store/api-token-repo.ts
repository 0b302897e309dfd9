import type { Selectable } from 'kysely'
import { fromJsonText, now, toJsonText } from './batching.ts'
import type { RepoContext } from './store-context.ts'
import type { ApiTokenTable } from './tables.ts'

/** An API token as stored: its hash, never the token. */
export interface StoredApiToken {
  readonly id: number
  readonly name: string
  readonly tokenHash: string
  /** The user it acts for; absent for a service token (made with the CLI). */
  readonly userId?: number
  readonly scopes: readonly string[]
  readonly profiles?: readonly string[]
  readonly createdAt: string
  readonly expiresAt?: string
  readonly lastUsedAt?: string
}

/** What creating a token writes. */
export interface ApiTokenInput {
  readonly name: string
  readonly tokenHash: string
  readonly userId?: number
  readonly scopes: readonly string[]
  readonly profiles?: readonly string[]
  readonly expiresAt?: string
}

/** API tokens. */
export interface ApiTokenRepo {
  add(token: ApiTokenInput): Promise<StoredApiToken>
  /** The token with this hash, expired or not. */
  byHash(tokenHash: string): Promise<StoredApiToken | undefined>
  get(id: number): Promise<StoredApiToken | undefined>
  /** Every token, or a user's. */
  list(userId?: number): Promise<StoredApiToken[]>
  /** Notes a use (at most the time of it; the caller throttles). */
  used(id: number, at: string): Promise<void>
  /** Revokes (deletes) the token; false when there was none. */
  remove(id: number): Promise<boolean>
}

/** The API token repository on a connection. */
export function apiTokenRepo(ctx: RepoContext): ApiTokenRepo {
  return {
    add(t) {
      return ctx.run('apiTokens.add', async (db) => {
        const row = await db
          .insertInto('osy_api_tokens')
          .values({
            name: t.name,
            token_hash: t.tokenHash,
            user_id: t.userId ?? null,
            scopes: toJsonText(t.scopes),
            profiles: t.profiles === undefined ? null : toJsonText(t.profiles),
            created_at: now(),
            expires_at: t.expiresAt ?? null,
            last_used_at: null,
          })
          .returningAll()
          .executeTakeFirstOrThrow()
        return toToken(row)
      })
    },

    byHash(tokenHash) {
      return ctx.run('apiTokens.byHash', async (db) => {
        const row = await db
          .selectFrom('osy_api_tokens')
          .selectAll()
          .where('token_hash', '=', tokenHash)
          .executeTakeFirst()
        return row === undefined ? undefined : toToken(row)
      })
    },

    get(id) {
      return ctx.run('apiTokens.get', async (db) => {
        const row = await db
          .selectFrom('osy_api_tokens')
          .selectAll()
          .where('id', '=', id)
          .executeTakeFirst()
        return row === undefined ? undefined : toToken(row)
      })
    },

    list(userId) {
      return ctx.run('apiTokens.list', async (db) => {
        let q = db.selectFrom('osy_api_tokens').selectAll()
        if (userId !== undefined) q = q.where('user_id', '=', userId)
        const rows = await q.orderBy('id').execute()
        return rows.map(toToken)
      })
    },

    used(id, at) {
      return ctx.run('apiTokens.used', async (db) => {
        await db
          .updateTable('osy_api_tokens')
          .set({ last_used_at: at })
          .where('id', '=', id)
          .execute()
      })
    },

    remove(id) {
      return ctx.run('apiTokens.remove', async (db) => {
        const result = await db.deleteFrom('osy_api_tokens').where('id', '=', id).executeTakeFirst()
        return result.numDeletedRows > 0n
      })
    },
  }
}

function toToken(row: Selectable<ApiTokenTable>): StoredApiToken {
  return {
    id: Number(row.id),
    name: row.name,
    tokenHash: row.token_hash,
    ...(row.user_id !== null ? { userId: Number(row.user_id) } : {}),
    scopes: fromJsonText(row.scopes) as string[],
    ...(row.profiles !== null ? { profiles: fromJsonText(row.profiles) as string[] } : {}),
    createdAt: row.created_at,
    ...(row.expires_at !== null ? { expiresAt: row.expires_at } : {}),
    ...(row.last_used_at !== null ? { lastUsedAt: row.last_used_at } : {}),
  }
}

import { type Selectable, sql } from 'kysely'
import { OpenSyncError } from '../sdk/errors.ts'
import { fromJsonText, now, toJsonText } from './batching.ts'
import type { RepoContext } from './store-context.ts'
import { isUniqueViolation } from './store-errors.ts'
import type { UserTable } from './tables.ts'

/** A user as stored (the password as its hash). */
export interface StoredUser {
  readonly id: number
  readonly username: string
  readonly passwordHash: string
  readonly role: string
  /** The system profiles the user is limited to; absent when not limited. */
  readonly profiles?: readonly string[]
  readonly failedSignIns: number
  readonly lockedUntil?: string
  readonly createdAt: string
  readonly updatedAt: string
}

/** What creating a user writes. */
export interface UserInput {
  readonly username: string
  readonly passwordHash: string
  readonly role: string
  readonly profiles?: readonly string[]
}

/** The users of the API and console. */
export interface UserRepo {
  /** Adds a user; OSY_USER_EXISTS when the name is taken. */
  add(user: UserInput): Promise<StoredUser>
  /**
   * Adds the first user, only while there is none (the one-time setup): in one statement,
   * so two people racing for the setup cannot both win. Undefined when a user exists.
   */
  addFirst(user: UserInput): Promise<StoredUser | undefined>
  get(id: number): Promise<StoredUser | undefined>
  byName(username: string): Promise<StoredUser | undefined>
  list(): Promise<StoredUser[]>
  count(): Promise<number>
  /** Changes the password hash, role or profiles; false when there is no such user. */
  update(
    id: number,
    change: {
      readonly passwordHash?: string
      readonly role?: string
      readonly profiles?: readonly string[] | null
    },
  ): Promise<boolean>
  /** Records a failed sign-in (and a lock when given); returns the failures in a row. */
  failedSignIn(id: number, lockedUntil?: string): Promise<number>
  /** Clears the failures and the lock after a successful sign-in. */
  signedIn(id: number): Promise<void>
  /** Removes the user with their sessions and tokens; false when there was none. */
  remove(id: number): Promise<boolean>
}

/** The advisory lock (a constant of our own) that serializes the first user's creation. */
const FIRST_USER_LOCK = 0x05_c0_00_01

/** The user repository on a connection. */
export function userRepo(ctx: RepoContext): UserRepo {
  const values = (user: UserInput) => {
    const at = now()
    return {
      username: user.username,
      password_hash: user.passwordHash,
      role: user.role,
      profiles: user.profiles === undefined ? null : toJsonText(user.profiles),
      failed_sign_ins: 0,
      locked_until: null,
      created_at: at,
      updated_at: at,
    }
  }
  return {
    add(user) {
      return ctx.run('users.add', async (db) => {
        try {
          const row = await db
            .insertInto('osy_users')
            .values(values(user))
            .returningAll()
            .executeTakeFirstOrThrow()
          return toUser(row)
        } catch (cause) {
          if (!isUniqueViolation(cause)) throw cause
          throw new OpenSyncError('OSY_USER_EXISTS', `there is a user "${user.username}" already`, {
            details: { username: user.username },
          })
        }
      })
    },

    addFirst(user) {
      return ctx.write('users.addFirst', 2, async (db) => {
        const v = values(user)
        // PostgreSQL's snapshots would let two racing inserts both see no user: a lock for
        // the length of the transaction puts them one after the other (SQLite's single
        // writer does so already).
        if (ctx.dialect === 'postgres')
          await sql`select pg_advisory_xact_lock(${FIRST_USER_LOCK})`.execute(db)
        const row = await db
          .insertInto('osy_users')
          .columns(Object.keys(v) as (keyof typeof v)[])
          .expression(
            db
              .selectNoFrom((eb) => [
                eb.val(v.username).as('username'),
                eb.val(v.password_hash).as('password_hash'),
                eb.val(v.role).as('role'),
                eb.val(v.profiles).as('profiles'),
                eb.val(v.failed_sign_ins).as('failed_sign_ins'),
                eb.val(v.locked_until).as('locked_until'),
                eb.val(v.created_at).as('created_at'),
                eb.val(v.updated_at).as('updated_at'),
              ])
              .where(({ not, exists, selectFrom }) =>
                not(exists(selectFrom('osy_users').select('id'))),
              ),
          )
          .returningAll()
          .executeTakeFirst()
        return row === undefined ? undefined : toUser(row)
      })
    },

    get(id) {
      return ctx.run('users.get', async (db) => {
        const row = await db
          .selectFrom('osy_users')
          .selectAll()
          .where('id', '=', id)
          .executeTakeFirst()
        return row === undefined ? undefined : toUser(row)
      })
    },

    byName(username) {
      return ctx.run('users.byName', async (db) => {
        const row = await db
          .selectFrom('osy_users')
          .selectAll()
          .where('username', '=', username)
          .executeTakeFirst()
        return row === undefined ? undefined : toUser(row)
      })
    },

    list() {
      return ctx.run('users.list', async (db) => {
        const rows = await db.selectFrom('osy_users').selectAll().orderBy('username').execute()
        return rows.map(toUser)
      })
    },

    count() {
      return ctx.run('users.count', async (db) => {
        const row = await db
          .selectFrom('osy_users')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow()
        return Number(row.n)
      })
    },

    update(id, change) {
      return ctx.run('users.update', async (db) => {
        const result = await db
          .updateTable('osy_users')
          .set({
            ...(change.passwordHash !== undefined ? { password_hash: change.passwordHash } : {}),
            ...(change.role !== undefined ? { role: change.role } : {}),
            ...(change.profiles !== undefined
              ? { profiles: change.profiles === null ? null : toJsonText(change.profiles) }
              : {}),
            updated_at: now(),
          })
          .where('id', '=', id)
          .executeTakeFirst()
        return result.numUpdatedRows > 0n
      })
    },

    failedSignIn(id, lockedUntil) {
      return ctx.run('users.failedSignIn', async (db) => {
        const row = await db
          .updateTable('osy_users')
          .set((eb) => ({
            failed_sign_ins: eb(eb.ref('failed_sign_ins'), '+', 1),
            ...(lockedUntil !== undefined ? { locked_until: lockedUntil } : {}),
          }))
          .where('id', '=', id)
          .returning('failed_sign_ins')
          .executeTakeFirst()
        return row?.failed_sign_ins ?? 0
      })
    },

    signedIn(id) {
      return ctx.run('users.signedIn', async (db) => {
        await db
          .updateTable('osy_users')
          .set({ failed_sign_ins: 0, locked_until: null })
          .where('id', '=', id)
          .execute()
      })
    },

    remove(id) {
      return ctx.write('users.remove', 3, async (db) => {
        // The foreign keys cascade, but SQLite enforces them only with its pragma on.
        await db.deleteFrom('osy_sessions').where('user_id', '=', id).execute()
        await db.deleteFrom('osy_api_tokens').where('user_id', '=', id).execute()
        const result = await db.deleteFrom('osy_users').where('id', '=', id).executeTakeFirst()
        return result.numDeletedRows > 0n
      })
    },
  }
}

function toUser(row: Selectable<UserTable>): StoredUser {
  return {
    id: Number(row.id),
    username: row.username,
    passwordHash: row.password_hash,
    role: row.role,
    ...(row.profiles !== null ? { profiles: fromJsonText(row.profiles) as string[] } : {}),
    failedSignIns: row.failed_sign_ins,
    ...(row.locked_until !== null ? { lockedUntil: row.locked_until } : {}),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
}

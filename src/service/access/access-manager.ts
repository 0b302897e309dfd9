import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { OpenSyncError } from '../../sdk/errors.ts'
import type { Store, StoredApiToken, StoredUser } from '../../store/index.ts'
import { checkPassword, decoyHash, hashPassword, verifyPassword } from './passwords.ts'
import {
  PERMISSIONS,
  type Permission,
  type Principal,
  ROLE_PERMISSIONS,
  ROLES,
  type Role,
} from './permissions.ts'

/** A user as the API and CLI show it: never the hash. */
export interface UserView {
  readonly id: number
  readonly username: string
  readonly role: Role
  readonly profiles?: readonly string[]
  readonly locked: boolean
  readonly createdAt: string
}

/** An API token as listed: never the token, which is shown once when it is created. */
export interface TokenView {
  readonly id: number
  readonly name: string
  readonly user?: string
  readonly scopes: readonly Permission[]
  readonly profiles?: readonly string[]
  readonly createdAt: string
  readonly expiresAt?: string
  readonly lastUsedAt?: string
}

/** What a new user is given. */
export interface NewUser {
  readonly username: string
  readonly password: string
  readonly role: Role
  readonly profiles?: readonly string[]
}

/** What a new token is given. */
export interface NewToken {
  readonly name: string
  /** The user it acts for (its role bounds the scopes); none for a service token. */
  readonly username?: string
  readonly scopes: readonly Permission[]
  readonly profiles?: readonly string[]
  /** Days until it expires (default 90); null: never (service tokens only). */
  readonly expiresInDays?: number | null
}

/** A signed-in console session: the cookie's value goes to the browser only. */
export interface SignedIn {
  readonly cookie: string
  readonly csrfToken: string
  readonly expiresAt: string
  readonly user: UserView
}

/** Options of the {@link AccessManager}. */
export interface AccessOptions {
  readonly store: Store
  /** Failed sign-ins in a row that lock a user (default 5), and for how long (default 15 min). */
  readonly lockAfter?: number
  readonly lockMinutes?: number
  /** How long a console session lasts (default 12 hours). */
  readonly sessionHours?: number
  readonly now?: () => Date
}

const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/
const TOKEN_PREFIX = 'osy_'
const DEFAULT_TOKEN_DAYS = 90

/** SHA-256 (hex) of a session cookie or API token: what the store keeps. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex')
}

function randomToken(): string {
  return randomBytes(32).toString('base64url')
}

/**
 * Users, console sessions, API tokens and the one-time setup: who may call the API and
 * what they may do. Every change is an audit event (`actor` names who made it).
 */
export class AccessManager {
  readonly #store: Store
  readonly #o: AccessOptions
  #setupToken?: string

  constructor(options: AccessOptions) {
    this.#store = options.store
    this.#o = options
  }

  // ------------------------------------------------------------------ users

  async addUser(user: NewUser, actor: string): Promise<UserView> {
    checkUser(user)
    const stored = await this.#store.users.add({
      username: user.username,
      passwordHash: await hashPassword(user.password),
      role: user.role,
      ...(user.profiles !== undefined ? { profiles: user.profiles } : {}),
    })
    await this.#audit(actor, 'user.added', stored.username, {
      role: stored.role,
      ...(user.profiles ? { profiles: user.profiles } : {}),
    })
    return userView(stored, this.#now())
  }

  async listUsers(): Promise<UserView[]> {
    const now = this.#now()
    return (await this.#store.users.list()).map((u) => userView(u, now))
  }

  async getUser(username: string): Promise<UserView> {
    return userView(await this.#user(username), this.#now())
  }

  async removeUser(username: string, actor: string): Promise<void> {
    const user = await this.#user(username)
    if (user.role === 'admin') {
      const admins = (await this.#store.users.list()).filter((u) => u.role === 'admin')
      if (admins.length === 1) {
        throw new OpenSyncError(
          'OSY_INVALID_REQUEST',
          `${username} is the last admin: make another user admin first`,
        )
      }
    }
    await this.#store.users.remove(user.id)
    await this.#audit(actor, 'user.removed', username)
  }

  /** Sets a new password; the user's sessions end. */
  async setPassword(username: string, password: string, actor: string): Promise<void> {
    const user = await this.#user(username)
    await this.#store.users.update(user.id, { passwordHash: await hashPassword(password) })
    await this.#store.users.signedIn(user.id)
    await this.#store.sessions.removeForUser(user.id)
    await this.#audit(actor, 'user.password-changed', username)
  }

  /** Changes a user's role or profile limit; the user's sessions end. */
  async updateUser(
    username: string,
    change: { readonly role?: Role; readonly profiles?: readonly string[] | null },
    actor: string,
  ): Promise<UserView> {
    const user = await this.#user(username)
    if (change.role !== undefined && !ROLES.includes(change.role)) throw badRole(change.role)
    await this.#store.users.update(user.id, change)
    await this.#store.sessions.removeForUser(user.id)
    await this.#audit(actor, 'user.changed', username, change)
    return this.getUser(username)
  }

  // ------------------------------------------------------------------ setup

  /** True while there is no user: the one-time setup is open. */
  async needsSetup(): Promise<boolean> {
    return (await this.#store.users.count()) === 0
  }

  /**
   * The one-time setup token of this process, made on first call: whoever holds it may create
   * the first admin, once. Undefined when a user exists already.
   */
  async setupToken(): Promise<string | undefined> {
    if (!(await this.needsSetup())) return undefined
    this.#setupToken ??= randomToken()
    return this.#setupToken
  }

  /** Creates the first admin with the setup token; OSY_SETUP_DONE once a user exists. */
  async completeSetup(
    token: string,
    user: { readonly username: string; readonly password: string },
  ): Promise<UserView> {
    const expected = this.#setupToken
    if (!(await this.needsSetup())) {
      throw new OpenSyncError('OSY_SETUP_DONE', 'the first administrator exists already: sign in')
    }
    if (expected === undefined || !sameText(token, expected)) {
      throw new OpenSyncError(
        'OSY_FORBIDDEN',
        'the setup token is not valid: use the setup URL this process printed when it started',
      )
    }
    checkUser({ ...user, role: 'admin' })
    const stored = await this.#store.users.addFirst({
      username: user.username,
      passwordHash: await hashPassword(user.password),
      role: 'admin',
    })
    if (!stored) {
      throw new OpenSyncError('OSY_SETUP_DONE', 'the first administrator exists already: sign in')
    }
    this.#setupToken = undefined
    await this.#audit(`user:${stored.username}`, 'user.added', stored.username, {
      role: 'admin',
      via: 'setup',
    })
    return userView(stored, this.#now())
  }

  /**
   * OPENSYNC_ADMIN_PASSWORD: the first admin for scripts, made only while there is no user.
   * Returns the user made, or undefined when one existed.
   */
  async ensureAdmin(username: string, password: string): Promise<UserView | undefined> {
    checkUser({ username, password, role: 'admin' })
    const stored = await this.#store.users.addFirst({
      username,
      passwordHash: await hashPassword(password),
      role: 'admin',
    })
    if (!stored) return undefined
    this.#setupToken = undefined
    await this.#audit('env:OPENSYNC_ADMIN_PASSWORD', 'user.added', username, { role: 'admin' })
    return userView(stored, this.#now())
  }

  // ------------------------------------------------------------------ sessions

  /**
   * Checks a password and opens a console session. Every failure is an audit event; after
   * `lockAfter` failures in a row the user is locked for `lockMinutes` (OSY_RATE_LIMITED),
   * correct password or not. An unknown name fails as slowly as a wrong password.
   */
  async signIn(username: string, password: string, from?: string): Promise<SignedIn> {
    const now = this.#now()
    const user = USERNAME.test(username) ? await this.#store.users.byName(username) : undefined
    if (user?.lockedUntil !== undefined && Date.parse(user.lockedUntil) > now.getTime()) {
      await this.#audit('anonymous', 'sign-in.failed', username, { reason: 'locked', from })
      throw locked(user.lockedUntil)
    }
    const ok = await verifyPassword(password, user?.passwordHash ?? (await decoyHash()))
    if (!user || !ok) {
      let lockedUntil: string | undefined
      if (user) {
        const lockAfter = this.#o.lockAfter ?? 5
        const failures = user.failedSignIns + 1
        if (failures >= lockAfter) {
          lockedUntil = new Date(now.getTime() + (this.#o.lockMinutes ?? 15) * 60_000).toISOString()
        }
        await this.#store.users.failedSignIn(user.id, lockedUntil)
      }
      await this.#audit('anonymous', 'sign-in.failed', username, {
        reason: user ? 'wrong password' : 'unknown user',
        ...(lockedUntil ? { lockedUntil } : {}),
        ...(from ? { from } : {}),
      })
      if (lockedUntil) throw locked(lockedUntil)
      throw new OpenSyncError('OSY_UNAUTHENTICATED', 'wrong username or password')
    }
    await this.#store.users.signedIn(user.id)
    await this.#store.sessions.prune(now.toISOString())
    const cookie = randomToken()
    const csrfToken = randomToken()
    const expiresAt = new Date(
      now.getTime() + (this.#o.sessionHours ?? 12) * 3_600_000,
    ).toISOString()
    await this.#store.sessions.add({
      id: tokenHash(cookie),
      userId: user.id,
      csrfToken,
      createdAt: now.toISOString(),
      expiresAt,
    })
    return { cookie, csrfToken, expiresAt, user: userView({ ...user, failedSignIns: 0 }, now) }
  }

  async signOut(sessionId: string): Promise<void> {
    await this.#store.sessions.remove(sessionId)
  }

  // ------------------------------------------------------------------ tokens

  /** Creates an API token; the token itself is in the answer only, never stored. */
  async createToken(
    input: NewToken,
    actor: string,
  ): Promise<{ readonly token: string; readonly view: TokenView }> {
    if (!/^\S.{0,99}$/.test(input.name)) {
      throw new OpenSyncError(
        'OSY_INVALID_REQUEST',
        'a token needs a name (at most 100 characters)',
        {
          details: { field: 'name' },
        },
      )
    }
    const scopes = [...new Set(input.scopes)]
    const unknown = scopes.filter((s) => !PERMISSIONS.includes(s))
    if (scopes.length === 0 || unknown.length > 0) {
      throw new OpenSyncError(
        'OSY_INVALID_REQUEST',
        `a token needs one or more scopes of ${PERMISSIONS.join(', ')}${unknown.length ? ` (not ${unknown.join(', ')})` : ''}`,
        { details: { field: 'scopes' } },
      )
    }
    const user = input.username !== undefined ? await this.#user(input.username) : undefined
    if (user) {
      const granted = ROLE_PERMISSIONS[user.role as Role] ?? []
      const beyond = scopes.filter((s) => !granted.includes(s))
      if (beyond.length > 0) {
        throw new OpenSyncError(
          'OSY_INVALID_REQUEST',
          `${user.username} is ${user.role}: a token of theirs cannot have ${beyond.join(', ')}`,
          { details: { field: 'scopes' } },
        )
      }
    }
    const days = input.expiresInDays === undefined ? DEFAULT_TOKEN_DAYS : input.expiresInDays
    if (days === null && user) {
      throw new OpenSyncError(
        'OSY_INVALID_REQUEST',
        "a user's token must expire; only service tokens may live forever",
        { details: { field: 'expiresInDays' } },
      )
    }
    const token = `${TOKEN_PREFIX}${randomToken()}`
    const stored = await this.#store.apiTokens.add({
      name: input.name,
      tokenHash: tokenHash(token),
      ...(user ? { userId: user.id } : {}),
      scopes,
      ...(input.profiles !== undefined ? { profiles: input.profiles } : {}),
      ...(days !== null
        ? { expiresAt: new Date(this.#now().getTime() + days * 86_400_000).toISOString() }
        : {}),
    })
    await this.#audit(actor, 'token.created', input.name, {
      id: stored.id,
      scopes,
      ...(user ? { user: user.username } : {}),
    })
    return { token, view: tokenView(stored, user) }
  }

  async listTokens(): Promise<TokenView[]> {
    const users = new Map((await this.#store.users.list()).map((u) => [u.id, u]))
    return (await this.#store.apiTokens.list()).map((t) =>
      tokenView(t, t.userId !== undefined ? users.get(t.userId) : undefined),
    )
  }

  async revokeToken(id: number, actor: string): Promise<void> {
    const token = await this.#store.apiTokens.get(id)
    if (!token || !(await this.#store.apiTokens.remove(id))) {
      throw new OpenSyncError('OSY_TOKEN_NOT_FOUND', `there is no API token ${id}`)
    }
    await this.#audit(actor, 'token.revoked', token.name, { id })
  }

  // ------------------------------------------------------------------ authentication

  /** The caller behind a Bearer token or a session cookie; undefined when neither is valid. */
  async authenticate(credentials: {
    readonly bearer?: string
    readonly session?: string
  }): Promise<Principal | undefined> {
    const now = this.#now()
    if (credentials.bearer !== undefined) return this.#fromToken(credentials.bearer, now)
    if (credentials.session !== undefined) {
      const id = tokenHash(credentials.session)
      const session = await this.#store.sessions.get(id, now.toISOString())
      if (!session) return undefined
      const user = await this.#store.users.get(session.userId)
      if (!user) return undefined
      return {
        via: 'session',
        userId: user.id,
        username: user.username,
        role: user.role as Role,
        permissions: new Set(ROLE_PERMISSIONS[user.role as Role] ?? []),
        ...(user.profiles !== undefined ? { profiles: user.profiles } : {}),
        csrfToken: session.csrfToken,
        sessionId: id,
      }
    }
    return undefined
  }

  async #fromToken(bearer: string, now: Date): Promise<Principal | undefined> {
    if (!bearer.startsWith(TOKEN_PREFIX) || bearer.length > 200) return undefined
    const token = await this.#store.apiTokens.byHash(tokenHash(bearer))
    if (!token) return undefined
    if (token.expiresAt !== undefined && Date.parse(token.expiresAt) <= now.getTime()) {
      return undefined
    }
    const user = token.userId !== undefined ? await this.#store.users.get(token.userId) : undefined
    if (token.userId !== undefined && !user) return undefined
    const granted = user ? (ROLE_PERMISSIONS[user.role as Role] ?? []) : PERMISSIONS
    const permissions = new Set(
      token.scopes.filter((s): s is Permission => (granted as readonly string[]).includes(s)),
    )
    const profiles = intersect(token.profiles, user?.profiles)
    // A use a minute after the last one is noted: "last used" without a write per request.
    if (!token.lastUsedAt || now.getTime() - Date.parse(token.lastUsedAt) > 60_000) {
      await this.#store.apiTokens.used(token.id, now.toISOString())
    }
    return {
      via: 'bearer',
      tokenId: token.id,
      tokenName: token.name,
      ...(user ? { userId: user.id, username: user.username, role: user.role as Role } : {}),
      permissions,
      ...(profiles !== undefined ? { profiles } : {}),
    }
  }

  // ------------------------------------------------------------------ helpers

  async #user(username: string): Promise<StoredUser> {
    const user = USERNAME.test(username) ? await this.#store.users.byName(username) : undefined
    if (!user) throw new OpenSyncError('OSY_USER_NOT_FOUND', `there is no user "${username}"`)
    return user
  }

  async #audit(actor: string, action: string, target: string, detail?: unknown): Promise<void> {
    await this.#store.audit.add({ actor, action, target, ...(detail ? { detail } : {}) })
  }

  #now(): Date {
    return this.#o.now?.() ?? new Date()
  }
}

function checkUser(user: NewUser): void {
  if (!USERNAME.test(user.username)) {
    throw new OpenSyncError(
      'OSY_INVALID_REQUEST',
      'a username is 1 to 64 letters, digits, dots, hyphens, underscores or @, starting with a letter or digit',
      { details: { field: 'username' } },
    )
  }
  if (!ROLES.includes(user.role)) throw badRole(user.role)
  checkPassword(user.password)
}

function badRole(role: string): OpenSyncError {
  return new OpenSyncError(
    'OSY_INVALID_REQUEST',
    `the role must be one of ${ROLES.join(', ')}, not "${role}"`,
    { details: { field: 'role' } },
  )
}

function locked(until: string): OpenSyncError {
  return new OpenSyncError(
    'OSY_RATE_LIMITED',
    `too many failed sign-ins: the user is locked until ${until}`,
    { details: { lockedUntil: until } },
  )
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

function intersect(
  a: readonly string[] | undefined,
  b: readonly string[] | undefined,
): readonly string[] | undefined {
  if (a === undefined) return b
  if (b === undefined) return a
  return a.filter((x) => b.includes(x))
}

function userView(user: StoredUser, now: Date): UserView {
  return {
    id: user.id,
    username: user.username,
    role: user.role as Role,
    ...(user.profiles !== undefined ? { profiles: user.profiles } : {}),
    locked: user.lockedUntil !== undefined && Date.parse(user.lockedUntil) > now.getTime(),
    createdAt: user.createdAt,
  }
}

function tokenView(token: StoredApiToken, user: StoredUser | undefined): TokenView {
  return {
    id: token.id,
    name: token.name,
    ...(user ? { user: user.username } : {}),
    scopes: token.scopes as Permission[],
    ...(token.profiles !== undefined ? { profiles: token.profiles } : {}),
    createdAt: token.createdAt,
    ...(token.expiresAt !== undefined ? { expiresAt: token.expiresAt } : {}),
    ...(token.lastUsedAt !== undefined ? { lastUsedAt: token.lastUsedAt } : {}),
  }
}

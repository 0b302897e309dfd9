/**
 * What a caller may do. Every route declares the one permission it needs (`config.access`);
 * roles grant permissions, and an API token's scopes narrow what its owner's role grants.
 */
export const PERMISSIONS = ['read', 'operate', 'edit', 'admin', 'metrics'] as const

/** One permission: `read` (see), `operate` (start, cancel, decide, retry), `edit` (tasks), `admin` (users, tokens), `metrics`. */
export type Permission = (typeof PERMISSIONS)[number]

/** The roles of users, from most to least powerful. */
export const ROLES = ['admin', 'editor', 'operator', 'viewer'] as const

/** A user's role. */
export type Role = (typeof ROLES)[number]

/**
 * The permissions of each role. Each role includes the ones below it: an editor may also
 * start and cancel runs, as an operator may, since whoever edits a task has to try it.
 * `metrics` is for scrapers: only admins hold it, and grant it to a token with that scope.
 */
export const ROLE_PERMISSIONS: Readonly<Record<Role, readonly Permission[]>> = {
  admin: ['read', 'operate', 'edit', 'admin', 'metrics'],
  editor: ['read', 'operate', 'edit'],
  operator: ['read', 'operate'],
  viewer: ['read'],
}

/**
 * What a route needs: `public` (anyone, no credentials), `authenticated` (any signed-in
 * user or token), or one permission.
 */
export type Access = 'public' | 'authenticated' | Permission

/** Who is calling, once authenticated. */
export interface Principal {
  /** How the credentials came: a console session cookie or an `Authorization: Bearer` token. */
  readonly via: 'session' | 'bearer'
  readonly userId?: number
  readonly username?: string
  readonly role?: Role
  readonly tokenId?: number
  readonly tokenName?: string
  readonly permissions: ReadonlySet<Permission>
  /** The system profiles this caller is limited to; undefined when not limited. */
  readonly profiles?: readonly string[]
  /** The session's CSRF token, which every state-changing request must repeat. */
  readonly csrfToken?: string
  /** The session's id (its hash), for signing out. */
  readonly sessionId?: string
}

/** `user:alice`, `token:ci (alice)`: who did something, for audit events and logs. */
export function actorOf(principal: Principal | undefined): string {
  if (!principal) return 'anonymous'
  if (principal.tokenName !== undefined)
    return `token:${principal.tokenName}${principal.username ? ` (${principal.username})` : ''}`
  return `user:${principal.username ?? '?'}`
}

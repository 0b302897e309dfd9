import type { FastifyRequest } from 'fastify'
import type { BridgeRegistry } from '../sdk/index.ts'
import type { AccessManager } from '../service/access/access-manager.ts'
import type { EventHub } from '../service/event-hub.ts'
import type { TaskManager } from '../service/task-manager.ts'
import type { Store } from '../store/index.ts'
import type { Access, Principal } from './access/permissions.ts'

/** The credentials a request carried, before they are checked. */
export interface Credentials {
  /** The token of `Authorization: Bearer <token>`. */
  readonly bearer?: string
  /** The value of the `osy_session` cookie. */
  readonly session?: string
}

/**
 * What every route plugin gets (as `opts.ctx`): the store, the task manager, the bridges,
 * and the service's pieces. One object, so a route file needs no imports of its wiring.
 */
export interface ServerContext {
  readonly store: Store
  readonly tasks: TaskManager
  readonly registry: BridgeRegistry
  /** The Prometheus text of `/metrics` (the service's `metrics.text()`). */
  readonly metrics: () => string
  /** Users, sessions, API tokens and the one-time setup. */
  readonly access: AccessManager
  /** Live events of this process (and, in cluster mode, of the others): `GET /api/events`. */
  readonly events?: EventHub
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * What the route needs (see access/permissions.ts). Every route must say; a route
     * without it fails the server's start rather than answer to anyone.
     */
    access?: Access
  }
  interface FastifyRequest {
    /** The authenticated caller; undefined on public routes called without credentials. */
    principal?: Principal
    /**
     * The parsed body before validation: what the client wrote. Validation fills in the
     * generic task schema's defaults; the task manager validates the document itself, against
     * the schema of its own system keys (see writtenDocument).
     */
    writtenBody?: unknown
  }
}

/** The `document` member of the body as the client wrote it (defaults not filled in). */
export function writtenDocument(request: FastifyRequest): unknown {
  return (request.writtenBody as { document?: unknown } | null | undefined)?.document
}

/** The caller of a route that is not public: set by the authentication hook. */
export function principalOf(request: FastifyRequest): Principal {
  const principal = request.principal
  if (!principal) throw new Error('principalOf() on a public route without credentials')
  return principal
}

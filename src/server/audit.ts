import type { FastifyRequest } from 'fastify'
import type { AuditEvent, AuditInput } from '../store/index.ts'
import { actorOf } from './access/permissions.ts'
import type { ServerContext } from './server-context.ts'

/**
 * Records an audit event of a request: who (the signed-in user or token) did `action`, when.
 * Every route that changes something calls it after the change.
 *
 * @example
 * await recordAudit(request, ctx, { action: 'conflict.decided', taskId, target: String(id), detail: { winner } })
 */
export function recordAudit(
  request: FastifyRequest,
  ctx: Pick<ServerContext, 'store'>,
  event: Omit<AuditInput, 'actor'>,
): Promise<AuditEvent> {
  return ctx.store.audit.add({ actor: actorOf(request.principal), ...event })
}

import { z } from 'zod'
import { OpenSyncError } from '../../sdk/errors.ts'
import type { HubEvent } from '../../service/events.ts'
import { hubEventSchema } from '../../service/events.ts'
import { canSeeTask } from '../access/task-visibility.ts'
import { AUTH_PROBLEMS, problems } from '../schemas/common.ts'
import { principalOf } from '../server-context.ts'
import type { RoutePlugin } from './route-plugin.ts'

/** A comment line this often keeps proxies and browsers from closing an idle stream. */
const HEARTBEAT_MS = 15_000
/** A client this far behind (bytes not yet taken by its socket) is dropped; it resumes. */
const MAX_BACKLOG = 1024 * 1024

const lastEventId = z
  .string()
  .regex(/^\d{1,16}$/, 'an event id is a whole number')
  .optional()

/**
 * `GET /api/events`: live events as Server-Sent Events (`id`, `event`: the type, `data`: the
 * event as JSON). A client that reconnects sends `Last-Event-ID` (browsers do by themselves)
 * and first receives what it missed; when those events are no longer kept, the stream
 * starts with an `event: reset`, and the client reloads what it shows.
 */
export const eventsRoutes: RoutePlugin = async (app, { ctx }) => {
  app.get(
    '/api/events',
    {
      config: { access: 'read' },
      schema: {
        tags: ['events'],
        summary: 'Live events (Server-Sent Events); Last-Event-ID resumes',
        description:
          'execution.queued, execution.started, execution.progress (per batch, at most every 250 ms per execution), execution.ended, task.changed, conflict.parked. Each message: `id: <n>`, `event: <type>`, `data: <the event as JSON>`. `event: reset` means events were missed: reload. A comment line every 15 s keeps the stream open.',
        headers: z.object({ 'last-event-id': lastEventId }),
        querystring: z.object({
          lastEventId: lastEventId.describe('For clients that cannot set the header.'),
        }),
        response: {
          200: {
            description: 'An endless text/event-stream',
            content: { 'text/event-stream': { schema: hubEventSchema } },
          },
          ...problems(...AUTH_PROBLEMS, 503),
        },
      },
    },
    async (request, reply) => {
      const hub = ctx.events
      if (!hub) throw new OpenSyncError('OSY_UNSUPPORTED', 'this server has no live events')
      const principal = principalOf(request)
      const header = request.headers['last-event-id']
      const from = header ?? request.query.lastEventId
      const after = from === undefined ? undefined : Number(from)
      const raw = reply.raw
      reply.hijack()
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        // nginx would otherwise buffer the stream.
        'x-accel-buffering': 'no',
        'x-content-type-options': 'nosniff',
      })
      raw.write('retry: 2000\n\n')
      const visible = visibility(principal.profiles !== undefined, async (taskId) => {
        const task = await ctx.store.taskDefs.get(taskId)
        return task !== undefined && canSeeTask(principal, JSON.parse(task.document))
      })
      let closed = false
      const send = (event: HubEvent) => {
        if (closed) return
        raw.write(`id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`)
        if (raw.writableLength > MAX_BACKLOG) raw.destroy()
      }
      if (after !== undefined && !hub.since(after).complete)
        raw.write(`id: ${hub.lastId}\nevent: reset\ndata: {}\n\n`)
      const subscription = hub.subscribe((event) => visible(event, send), after)
      const heartbeat = setInterval(() => raw.write(': heartbeat\n\n'), HEARTBEAT_MS)
      heartbeat.unref()
      raw.on('close', () => {
        closed = true
        clearInterval(heartbeat)
        subscription.close()
      })
    },
  )
}

/**
 * Passes on the events a caller may see, in order. A caller limited to some profiles sees
 * only the events of tasks made from them: each task is looked up once, then remembered
 * (again after it changes); the events wait in one chain so their order stays.
 */
function visibility(
  limited: boolean,
  canSee: (taskId: string) => Promise<boolean>,
): (event: HubEvent, send: (event: HubEvent) => void) => void {
  if (!limited) return (event, send) => send(event)
  const known = new Map<string, boolean>()
  let chain = Promise.resolve()
  return (event, send) => {
    chain = chain.then(async () => {
      if (event.type === 'task.changed' && event.change !== 'deleted') known.delete(event.taskId)
      let ok = known.get(event.taskId)
      if (ok === undefined) {
        ok = await canSee(event.taskId).catch(() => false)
        known.set(event.taskId, ok)
      }
      if (ok) send(event)
    })
  }
}

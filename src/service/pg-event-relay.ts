import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { type BridgeLogger, coerceError, silentLogger } from '../sdk/index.ts'
import type { Store } from '../store/index.ts'
import type { EventRelay } from './event-hub.ts'
import { type HubEvent, type HubEventData, hubEventDataSchema } from './events.ts'

/** Looks up the whole event a notification names by reference (its payload was too large). */
export type EventLoader = (ref: EventRef) => Promise<HubEventData | undefined>

/** What a notification carries instead of an event that does not fit. */
export interface EventRef {
  readonly type: HubEventData['type']
  readonly executionId?: number
  readonly taskId?: string
}

/** Options of a {@link PgEventRelay}. */
export interface PgEventRelayOptions {
  /** The store's PostgreSQL URL; its `?schema=` names the channel, so stores never mix. */
  readonly url: string
  /** Rebuilds events sent by reference; default: none (such events are dropped with a warning). */
  readonly load?: EventLoader
  /** Payloads above this many bytes go by reference. PostgreSQL's limit is 8000. */
  readonly maxPayload?: number
  readonly log?: BridgeLogger
}

/** Wire format of one notification: origin, then the event or a reference to it. */
interface Wire {
  readonly o: string
  readonly at: string
  readonly e?: unknown
  readonly r?: EventRef
}

/**
 * Events between the processes of a cluster by PostgreSQL LISTEN/NOTIFY on one channel of
 * the store's database, with JSON payloads: no bus of our own to run. A notification larger
 * than PostgreSQL allows carries a reference instead (the execution it is about), and the
 * receiving process reads the rest from the store. The listening connection is opened again
 * after it breaks; events sent meanwhile do not arrive (LISTEN has no history).
 */
export class PgEventRelay implements EventRelay {
  /** Tells this process's notifications from the others'. */
  readonly origin = randomUUID()
  readonly channel: string
  readonly #o: PgEventRelayOptions
  readonly #url: string
  #client?: pg.Client
  #deliver?: (event: HubEventData, at: string) => void
  #stopped = false
  #retry?: NodeJS.Timeout

  constructor(options: PgEventRelayOptions) {
    this.#o = options
    const url = new URL(options.url)
    const schema = url.searchParams.get('schema') || 'public'
    url.searchParams.delete('schema')
    this.#url = url.toString()
    // A channel is an identifier: at most 63 bytes.
    this.channel = `opensync_events:${schema}`.slice(0, 63)
  }

  get #log(): BridgeLogger {
    return this.#o.log ?? silentLogger
  }

  async start(deliver: (event: HubEventData, at: string) => void): Promise<void> {
    this.#deliver = deliver
    await this.#connect()
  }

  async #connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.#url,
      application_name: 'opensync-events',
    })
    client.on('notification', (message) => {
      if (message.channel === this.channel && message.payload) void this.#receive(message.payload)
    })
    const lost = (error?: unknown) => {
      if (this.#client !== client || this.#stopped) return
      this.#client = undefined
      this.#log.warn(
        error ? { err: coerceError(error).toJSON() } : {},
        'the event channel connection broke: listening again in 1 s',
      )
      client.end().catch(() => {})
      this.#retry = setTimeout(() => void this.#reconnect(), 1000)
    }
    client.on('error', lost)
    client.on('end', () => lost())
    await client.connect()
    await client.query(`LISTEN ${quoteIdent(this.channel)}`)
    this.#client = client
  }

  async #reconnect(): Promise<void> {
    if (this.#stopped) return
    try {
      await this.#connect()
    } catch (error) {
      this.#log.warn({ err: coerceError(error).toJSON() }, 'the event channel is still unreachable')
      this.#retry = setTimeout(() => void this.#reconnect(), 1000)
    }
  }

  async send(event: HubEvent): Promise<void> {
    const client = this.#client
    if (!client) throw new Error('the event channel is not connected')
    const { id: _id, at, ...data } = event
    let payload = JSON.stringify({ o: this.origin, at, e: data } satisfies Wire)
    if (Buffer.byteLength(payload) > (this.#o.maxPayload ?? 7900)) {
      const r: EventRef = {
        type: data.type,
        ...('executionId' in data ? { executionId: data.executionId } : {}),
        ...('taskId' in data ? { taskId: data.taskId } : {}),
      }
      payload = JSON.stringify({ o: this.origin, at, r } satisfies Wire)
    }
    await client.query('SELECT pg_notify($1, $2)', [this.channel, payload])
  }

  async #receive(payload: string): Promise<void> {
    let wire: Wire
    try {
      wire = JSON.parse(payload) as Wire
    } catch {
      this.#log.warn({ channel: this.channel }, 'a notification on the event channel is not JSON')
      return
    }
    if (wire.o === this.origin) return
    let data: unknown = wire.e
    if (wire.r) {
      data = await this.#o.load?.(wire.r).catch((error) => {
        this.#log.warn({ err: coerceError(error).toJSON() }, 'an event by reference failed to load')
        return undefined
      })
      if (data === undefined) {
        this.#log.warn({ ref: wire.r }, 'an event sent by reference could not be loaded')
        return
      }
    }
    // Whatever else writes to the channel must not reach subscribers unchecked.
    const parsed = hubEventDataSchema.safeParse(data)
    if (!parsed.success) {
      this.#log.warn({ channel: this.channel }, 'a notification on the event channel is no event')
      return
    }
    this.#deliver?.(parsed.data, typeof wire.at === 'string' ? wire.at : new Date().toISOString())
  }

  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#retry)
    const client = this.#client
    this.#client = undefined
    await client?.end().catch(() => {})
  }
}

/** Rebuilds a by-reference `execution.ended` from the store's execution row. */
export function storeEventLoader(store: Store): EventLoader {
  return async (ref) => {
    if (ref.type !== 'execution.ended' || ref.executionId === undefined) return undefined
    const row = await store.executions.get(ref.executionId)
    if (
      !row ||
      (row.status !== 'succeeded' && row.status !== 'failed' && row.status !== 'cancelled')
    )
      return undefined
    return {
      type: 'execution.ended',
      executionId: row.id,
      taskId: row.taskId,
      status: row.status,
      counts: row.counts,
      ...(row.error ? { error: row.error } : {}),
    }
  }
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

import { type BridgeLogger, coerceError, silentLogger } from '../sdk/index.ts'
import type { HubEvent, HubEventData } from './events.ts'

/**
 * Carries events between the hubs of the processes that share a store (cluster mode). A
 * relay never delivers a hub's own events back to it.
 */
export interface EventRelay {
  /** Starts listening; `deliver` receives the events other processes published. */
  start(deliver: (event: HubEventData, at: string) => void): Promise<void>
  /** Sends one event of this process to the others. */
  send(event: HubEvent): Promise<void>
  stop(): Promise<void>
}

/** Options of an {@link EventHub}. */
export interface EventHubOptions {
  /** Events kept for subscribers that resume (`Last-Event-ID`). Default 1000. */
  readonly capacity?: number
  /** Cluster mode: where events from other processes come from and ours go. */
  readonly relay?: EventRelay
  /**
   * The id before the first event. Default: the start time in microseconds, so the ids of a
   * restarted process are above those of the one before and an old id is seen as a gap.
   */
  readonly lastId?: number
  readonly log?: BridgeLogger
}

/** One subscriber: receives every event from the moment it subscribed (or after its `after`). */
export type EventListener = (event: HubEvent) => void

/** A subscription of {@link EventHub.subscribe}. */
export interface Subscription {
  /**
   * False when the events after the given id are no longer all in the buffer (too old, or
   * an id of another process or of an earlier start): the subscriber must reload its state;
   * it was sent the whole buffer.
   */
  readonly complete: boolean
  close(): void
}

/**
 * The live events of one process: execution queued, started, progress, ended; task changed;
 * conflict parked. Each event gets the next id of this hub and goes into a ring buffer, so a
 * subscriber that lost its connection resumes after the last id it saw. With a relay, the
 * events of every process sharing the store arrive here too, numbered by this hub as they
 * arrive, so ids stay monotonic for each subscriber.
 */
export class EventHub {
  readonly #capacity: number
  readonly #buffer: HubEvent[] = []
  /** Where the oldest event sits in `#buffer` once it is full. */
  #head = 0
  readonly #listeners = new Set<EventListener>()
  readonly #relay: EventRelay | undefined
  readonly #log: BridgeLogger
  readonly #firstId: number
  #lastId: number
  #starting?: Promise<void>
  #stopping?: Promise<void>

  constructor(options: EventHubOptions = {}) {
    this.#capacity = Math.max(1, options.capacity ?? 1000)
    this.#relay = options.relay
    this.#log = options.log ?? silentLogger
    this.#lastId = options.lastId ?? Date.now() * 1000
    this.#firstId = this.#lastId + 1
  }

  /** The id of the newest event. */
  get lastId(): number {
    return this.#lastId
  }

  /** Subscribers now. */
  get subscribers(): number {
    return this.#listeners.size
  }

  /** Starts the relay (cluster mode); idempotent. Events published before it are local only. */
  start(): Promise<void> {
    this.#starting ??= this.#relay
      ? this.#relay.start((data, at) => this.#append(data, at))
      : Promise.resolve()
    return this.#starting
  }

  /** Stops the relay; idempotent. Subscribers stay, and hear local events only. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      await this.#starting?.catch(() => {})
      await this.#relay?.stop()
    })()
    return this.#stopping
  }

  /** Publishes an event of this process: to the subscribers here and, by the relay, elsewhere. */
  publish(data: HubEventData): HubEvent {
    const event = this.#append(data, new Date().toISOString())
    if (this.#relay && this.#starting && !this.#stopping) {
      this.#relay
        .send(event)
        .catch((error) =>
          this.#log.warn(
            { err: coerceError(error).toJSON(), type: event.type },
            'an event could not be sent to the other processes',
          ),
        )
    }
    return event
  }

  /**
   * Subscribes: `listener` first receives the buffered events after `after` (a
   * `Last-Event-ID`), synchronously, then every new one. Without `after`, new ones only.
   */
  subscribe(listener: EventListener, after?: number): Subscription {
    const { events, complete } =
      after === undefined ? { events: [], complete: true } : this.since(after)
    for (const event of events) listener(event)
    this.#listeners.add(listener)
    return { complete, close: () => this.#listeners.delete(listener) }
  }

  /** The buffered events after `after`, and whether they are all that happened since. */
  since(after: number): { events: HubEvent[]; complete: boolean } {
    const all = this.#ordered()
    const oldest = all[0]?.id ?? this.#lastId + 1
    // Ids run without gaps from #firstId; the buffer covers `after` if it holds the next one.
    const complete = after >= this.#firstId - 1 && after <= this.#lastId && after >= oldest - 1
    return { events: complete ? all.filter((e) => e.id > after) : all, complete }
  }

  #ordered(): HubEvent[] {
    return this.#buffer.length < this.#capacity
      ? [...this.#buffer]
      : [...this.#buffer.slice(this.#head), ...this.#buffer.slice(0, this.#head)]
  }

  #append(data: HubEventData, at: string): HubEvent {
    const event = Object.freeze({ ...data, id: ++this.#lastId, at }) as HubEvent
    if (this.#buffer.length < this.#capacity) this.#buffer.push(event)
    else {
      this.#buffer[this.#head] = event
      this.#head = (this.#head + 1) % this.#capacity
    }
    for (const listener of this.#listeners) {
      try {
        listener(event)
      } catch (error) {
        // One broken subscriber (a closed socket) must not keep the event from the others.
        this.#log.warn({ err: coerceError(error).toJSON() }, 'an event subscriber failed')
      }
    }
    return event
  }
}

// Channels: ordered logs of messages, and the subscriptions that follow them. The hub
// knows no transport: a transport brings a Feed (how it encodes a message, once for all
// its subscribers) and, for each client, an Outlet (how bytes reach that client).
//
//   publish ─▶ channel.history (ids 1, 2, 3 ...; the last 1000 messages, 8 MiB)
//                 │
//                 ├─▶ feed "sse":    encode once ─▶ every SSE outlet
//                 ├─▶ feed "ws":     encode once ─▶ every WebSocket outlet
//                 └─▶ waiters (parked long polls), answered and forgotten
//
// A subscription starts with `after`: none means "from now on"; 0 means "all retained
// history"; N means "from N+1". What is no longer retained (or an N from another life of
// the server, beyond the newest id) is announced with a gap record, then the oldest
// retained message follows. History is replayed at the pace of the client's socket;
// then messages are pushed live, and a client that lets too much pile up is cut off
// (it resumes later from the last id it saw).

import { Buffer } from 'node:buffer'

export interface Message {
  readonly id: number
  readonly data: string
  /** The event name, or '' when the message has none. */
  readonly event: string
  /** Bytes of `data` in UTF-8: what the history's byte limit counts. */
  readonly size: number
  /** {"id":N,"data":"..."} with "event" when there is one: made once, used by every JSON transport. */
  readonly envelope: string
}

/** How one transport writes messages: each is encoded once, whatever the number of subscribers. */
export interface Feed<Wire> {
  /** The wire form of a message. Called once per message per feed for live delivery; cache it for replays. */
  encode(message: Message): Wire
  /** The wire form of a gap: the client missed messages; `first` is the id sent next. */
  encodeGap(first: number): Wire
}

/** One client's end of a subscription: its socket, as the transport writes to it. */
export interface Outlet<Wire> {
  /** Writes; false when the socket's buffer is full (call drained() before writing more). */
  write(wire: Wire): boolean
  /** Resolves when the socket can take more (or is gone). */
  drained(): Promise<void>
  /** Bytes written and not yet sent: what the slow-client limit counts. */
  readonly queuedBytes: number
  /** Ends the client's connection with the transport's own signal; it resumes from its last id. */
  cutOff(): void
}

export interface HubLimits {
  /** Messages kept per channel. */
  historyMessages: number
  /** Bytes of message data kept per channel. */
  historyBytes: number
  /** Live channels; a new one past it is refused (503). */
  maxChannels: number
  /** Bytes queued for one client, beyond the message being written, before it is cut off. */
  maxQueuedBytes: number
}

export const DEFAULT_HUB_LIMITS: HubLimits = {
  historyMessages: 1000,
  historyBytes: 8 * 1024 * 1024,
  maxChannels: 10_000,
  maxQueuedBytes: 4 * 1024 * 1024,
}

/** A channel name or event name: 1-64 characters of [A-Za-z0-9_.-] (CONTRACT.md). */
export const NAME = /^[A-Za-z0-9_.-]{1,64}$/

export class HubError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

export class Hub {
  readonly limits: HubLimits
  private readonly channels = new Map<string, Channel>()

  constructor(limits: Partial<HubLimits> = {}) {
    this.limits = { ...DEFAULT_HUB_LIMITS, ...limits }
  }

  get channelCount(): number {
    return this.channels.size
  }

  /** The channel of that name, made if need be. Throws HubError: 404 for a bad name, 503 past the channel limit. */
  channel(name: string): Channel {
    const existing = this.channels.get(name)
    if (existing !== undefined) return existing
    if (!NAME.test(name)) throw new HubError(404, 'BAD_CHANNEL_NAME', 'a channel name is 1-64 characters of A-Z a-z 0-9 _ . -')
    if (this.channels.size >= this.limits.maxChannels) {
      throw new HubError(503, 'TOO_MANY_CHANNELS', `the server holds its limit of ${this.limits.maxChannels} channels; try again later`)
    }
    const channel = new Channel(name, this)
    this.channels.set(name, channel)
    return channel
  }

  /** The channel if it exists, without making it. */
  find(name: string): Channel | undefined {
    return this.channels.get(name)
  }

  /** Called by a channel that holds nothing and serves no one. */
  release(channel: Channel): void {
    if (this.channels.get(channel.name) === channel) this.channels.delete(channel.name)
  }
}

/** Where a reader starts: the gap to announce first (or 0), and the id of the first message to send. */
export interface StartPoint {
  readonly gapFirst: number
  readonly from: number
}

export class Channel {
  /** Retained messages, oldest first. */
  private history: Message[] = []
  /** Index in `history` of the oldest retained message (the array is compacted now and then). */
  private head = 0
  private historyBytes = 0
  /** Bytes of data of the messages before `head`: dropped, but held until the array is compacted. */
  private droppedBytes = 0
  private nextId = 1
  /** Subscriptions by feed: each feed encodes a message once for all of its group. */
  private readonly groups = new Map<Feed<unknown>, Set<Subscription<unknown>>>()
  private subscriberCount = 0
  /** Parked long polls: called once with the next message, then forgotten. */
  private readonly waiters = new Set<(message: Message) => void>()

  constructor(
    readonly name: string,
    private readonly hub: Hub,
  ) {}

  /** The id of the newest message, 0 when none was ever published. */
  get lastId(): number {
    return this.nextId - 1
  }

  /** The id of the oldest retained message, or the next id when none is retained. */
  get firstRetainedId(): number {
    return this.head < this.history.length ? this.history[this.head].id : this.nextId
  }

  get subscribers(): number {
    return this.subscriberCount + this.waiters.size
  }

  publish(data: string, event = ''): Message {
    const id = this.nextId++
    const envelope = event === '' ? `{"id":${id},"data":${JSON.stringify(data)}}` : `{"id":${id},"data":${JSON.stringify(data)},"event":${JSON.stringify(event)}}`
    const message: Message = { id, data, event, size: Buffer.byteLength(data), envelope }
    this.retain(message)
    for (const [feed, group] of this.groups) {
      let wire: unknown
      let encoded = false
      for (const subscription of group) {
        if (!subscription.live) continue
        if (!encoded) {
          wire = feed.encode(message)
          encoded = true
        }
        subscription.deliver(message, wire)
      }
    }
    if (this.waiters.size > 0) {
      const waiters = [...this.waiters]
      this.waiters.clear()
      for (const waiter of waiters) waiter(message)
    }
    return message
  }

  /**
   * Where a reader with cursor `after` starts (CONTRACT.md): undefined means "from now on";
   * 0 means all retained history; past what is retained, or beyond the newest id, a gap.
   */
  startPoint(after: number | undefined): StartPoint {
    if (after === undefined) return { gapFirst: 0, from: this.nextId }
    const first = this.firstRetainedId
    if (after === 0) return { gapFirst: 0, from: first }
    if (after > this.lastId || after + 1 < first) return { gapFirst: first, from: first }
    return { gapFirst: 0, from: after + 1 }
  }

  /** Retained messages with id >= from, at most `limit`. */
  messagesFrom(from: number, limit = Infinity): Message[] {
    const start = this.indexOf(from)
    const end = Math.min(this.history.length, start + limit)
    return this.history.slice(start, end)
  }

  /** The retained message with that id, or undefined. */
  message(id: number): Message | undefined {
    const index = this.indexOf(id)
    const message = this.history[index]
    return message !== undefined && message.id === id ? message : undefined
  }

  /** Starts a subscription for `outlet`, writing through `feed`. */
  subscribe<Wire>(feed: Feed<Wire>, outlet: Outlet<Wire>, after: number | undefined): Subscription<Wire> {
    const subscription = new Subscription(this, feed, outlet, this.hub.limits.maxQueuedBytes)
    let group = this.groups.get(feed as Feed<unknown>)
    if (group === undefined) {
      group = new Set()
      this.groups.set(feed as Feed<unknown>, group)
    }
    group.add(subscription as Subscription<unknown>)
    this.subscriberCount++
    subscription.start(this.startPoint(after))
    return subscription
  }

  unsubscribe(subscription: Subscription<unknown>): void {
    const group = this.groups.get(subscription.feed)
    if (group === undefined || !group.delete(subscription)) return
    if (group.size === 0) this.groups.delete(subscription.feed)
    this.subscriberCount--
    this.releaseIfEmpty()
  }

  /** Parks a long poll until the next message; returns its removal (the client went away, or it timed out). */
  wait(waiter: (message: Message) => void): () => void {
    this.waiters.add(waiter)
    return () => {
      this.waiters.delete(waiter)
      this.releaseIfEmpty()
    }
  }

  /** Channels with no subscribers and no history are freed (CONTRACT.md). */
  releaseIfEmpty(): void {
    if (this.subscribers === 0 && this.head >= this.history.length) this.hub.release(this)
  }

  private retain(message: Message): void {
    const { historyMessages, historyBytes } = this.hub.limits
    this.history.push(message)
    this.historyBytes += message.size
    while (this.history.length - this.head > historyMessages || (this.historyBytes > historyBytes && this.history.length - this.head > 1)) {
      const size = this.history[this.head].size
      this.historyBytes -= size
      this.droppedBytes += size
      this.head++
    }
    // Drop the forgotten part now and then, not on every message; and as soon as it holds more
    // data than the history may (64 forgotten messages of 1 MiB would hold 64 MiB, and their
    // encoded forms with them).
    if ((this.head > 64 && this.head * 2 > this.history.length) || this.droppedBytes > historyBytes) {
      this.history = this.history.slice(this.head)
      this.head = 0
      this.droppedBytes = 0
    }
  }

  /** The index in `history` of the first retained message with id >= `id`. */
  private indexOf(id: number): number {
    if (this.head >= this.history.length) return this.history.length
    // Ids are consecutive: the index follows from the oldest retained one.
    const offset = id - this.history[this.head].id
    return offset <= 0 ? this.head : Math.min(this.history.length, this.head + offset)
  }
}

/**
 * One client following one channel through one transport. It replays what it missed at
 * the pace of its socket, then turns live: from then on, each new message is written as
 * soon as it is published, and a client that lets more than maxQueuedBytes pile up is
 * cut off.
 */
export class Subscription<Wire> {
  /** The id of the last message written to this client (its cursor). */
  lastId = 0
  /** Live: new messages are pushed by the channel. Not live: still replaying history. */
  live = false
  closed = false

  constructor(
    readonly channel: Channel,
    readonly feed: Feed<Wire>,
    private readonly outlet: Outlet<Wire>,
    private readonly maxQueuedBytes: number,
  ) {}

  start(point: StartPoint): void {
    this.lastId = point.from - 1
    if (point.gapFirst !== 0 && !this.outlet.write(this.feed.encodeGap(point.gapFirst))) {
      void this.replay(true)
      return
    }
    void this.replay(false)
  }

  /** A live message from the channel. */
  deliver(message: Message, wire: Wire): void {
    if (this.closed) return
    // The limit counts what waits beyond the message being written (CONTRACT.md).
    if (this.outlet.queuedBytes > this.maxQueuedBytes) {
      this.cutOff()
      return
    }
    this.lastId = message.id
    this.outlet.write(wire)
  }

  /** The client is gone (or was cut off): the channel forgets it. */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.live = false
    this.channel.unsubscribe(this as Subscription<unknown>)
  }

  private cutOff(): void {
    this.close()
    this.outlet.cutOff()
  }

  /** Writes retained messages after lastId, each when the socket can take it, then turns live. */
  private async replay(waitFirst: boolean): Promise<void> {
    if (waitFirst) await this.outlet.drained()
    const channel = this.channel
    while (!this.closed) {
      const next = this.lastId + 1
      if (next > channel.lastId) {
        this.live = true // caught up: from here the channel pushes
        return
      }
      const first = channel.firstRetainedId
      if (next < first) {
        // Messages left the history while this client read slowly: say so, go on.
        this.lastId = first - 1
        if (!this.outlet.write(this.feed.encodeGap(first))) await this.outlet.drained()
        continue
      }
      const message = channel.message(next)!
      this.lastId = next
      if (!this.outlet.write(this.feed.encode(message))) await this.outlet.drained()
    }
  }
}

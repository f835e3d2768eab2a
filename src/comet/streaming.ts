// What the streamed responses (SSE, the NDJSON stream, the forever iframe) share:
//
// - TextFeed: a message's bytes for one format and one framing, made once and kept (in a
//   WeakMap, so they go when the message leaves the history) for every subscriber and
//   every replay. HTTP/1.1 clients get chunks; HTTP/1.0 clients, which cannot read
//   chunks, get the bytes as they are, on a response that ends by closing.
// - StreamOutlet: one client's response, as the hub writes to it.
// - Streams: the open streamed responses, with one sweep that writes a heartbeat to the
//   idle ones (proxies close silent connections) and ends them all on shutdown.

import { Buffer } from 'node:buffer'
import { now } from '../clock.ts'
import { encodeChunk } from '../http/chunked.ts'
import { allowCors, type CorsPolicy } from '../http/cors.ts'
import type { HttpListener } from '../http/listener.ts'
import type { IncomingRequest } from '../http/request.ts'
import type { Response } from '../http/response.ts'
import type { RouteHandler } from '../http/router.ts'
import type { Feed, Hub, Message, Outlet, Subscription } from '../hub/hub.ts'
import { afterParameter, channelOf } from '../hub/query.ts'

/** How a transport writes a message, or a gap, as text. */
export interface TextFormat {
  message(message: Message): string
  gap(first: number): string
}

export class TextFeed implements Feed<Buffer> {
  private readonly cache = new WeakMap<Message, Buffer>()

  constructor(
    private readonly format: TextFormat,
    /** Chunk framing (HTTP/1.1), or the bytes as they are (HTTP/1.0). */
    readonly chunked: boolean,
  ) {}

  encode(message: Message): Buffer {
    let wire = this.cache.get(message)
    if (wire === undefined) {
      wire = this.frame(this.format.message(message))
      this.cache.set(message, wire)
    }
    return wire
  }

  encodeGap(first: number): Buffer {
    return this.frame(this.format.gap(first))
  }

  frame(text: string): Buffer {
    return this.chunked ? encodeChunk(text) : Buffer.from(text)
  }
}

/** A format's two feeds: one per framing. */
export function feedsFor(format: TextFormat): { chunked: TextFeed; raw: TextFeed } {
  return { chunked: new TextFeed(format, true), raw: new TextFeed(format, false) }
}

export class StreamOutlet implements Outlet<Buffer> {
  /** When bytes were last written (../clock.ts): the sweep writes a heartbeat after silence. */
  lastWrite = now()
  subscription: Subscription<Buffer> | null = null
  private ended = false

  constructor(
    readonly res: Response,
    readonly feed: TextFeed,
    /** The heartbeat, framed for this response. */
    private readonly heartbeat: Buffer,
    private readonly onEnd: (outlet: StreamOutlet) => void,
  ) {}

  write(wire: Buffer): boolean {
    this.lastWrite = now()
    this.res.batchThisTurn()
    return this.feed.chunked ? this.res.writeEncodedChunk(wire) : this.res.write(wire)
  }

  /** Writes text framed the way this response frames (the first lines of a stream, say). */
  writeText(text: string): boolean {
    return this.write(this.feed.frame(text))
  }

  drained(): Promise<void> {
    return this.res.drained()
  }

  get queuedBytes(): number {
    return this.res.queuedBytes
  }

  /**
   * A slow client: the last chunk goes behind what it has not read, and the connection
   * closes (destroyed after a short linger if the client still does not read); it resumes
   * from its last id.
   */
  cutOff(): void {
    this.end()
  }

  beat(time: number, everyMs: number): void {
    if (time - this.lastWrite >= everyMs) this.write(this.heartbeat)
  }

  /** Ends the response cleanly (the last chunk) and closes the connection. */
  end(): void {
    if (this.ended) return
    this.closed()
    this.res.closeAfter()
    this.res.end()
  }

  /** The response ended or the client went away: forget the subscription and the outlet. */
  closed(): void {
    if (this.ended) return
    this.ended = true
    this.subscription?.close()
    this.onEnd(this)
  }
}

export class Streams {
  private readonly open = new Set<StreamOutlet>()
  private sweepTimer: NodeJS.Timeout | null = null

  constructor(
    listener: HttpListener,
    /** Silence after which a heartbeat is written. */
    private readonly heartbeatMs: number,
  ) {
    listener.onShutdown(() => this.shutdown())
  }

  get count(): number {
    return this.open.size
  }

  /** Starts a streamed response: sends its head and keeps it until the client or the server ends it. */
  start(res: Response, feeds: { chunked: TextFeed; raw: TextFeed }, heartbeat: string): StreamOutlet {
    // A stream ends only when the server ends it, and then the connection closes: say so in
    // the head, so that no client puts the connection back in a pool to reuse.
    res.closeAfter()
    res.waitsForEvents = true
    res.flushHeaders()
    const feed = res.chunked ? feeds.chunked : feeds.raw
    const outlet = new StreamOutlet(res, feed, feed.frame(heartbeat), this.forget)
    res.onAbort(() => outlet.closed())
    this.open.add(outlet)
    this.startSweep()
    return outlet
  }

  /** Shutdown: every stream ends with its last chunk (CONTRACT.md). */
  shutdown(): void {
    for (const outlet of [...this.open]) outlet.end()
  }

  private readonly forget = (outlet: StreamOutlet): void => {
    this.open.delete(outlet)
    if (this.open.size === 0 && this.sweepTimer !== null) {
      clearInterval(this.sweepTimer)
      this.sweepTimer = null
    }
  }

  private startSweep(): void {
    if (this.sweepTimer !== null) return
    const every = Math.max(10, Math.min(1000, Math.floor(this.heartbeatMs / 4)))
    this.sweepTimer = setInterval(() => {
      const time = now()
      for (const outlet of this.open) outlet.beat(time, this.heartbeatMs)
    }, every)
    this.sweepTimer.unref()
  }
}

/** The head of a streamed response, and what it writes first. */
export interface StreamHead {
  contentType: string
  cacheControl: string
  heartbeat: string
  /** Text written before anything else (SSE's retry:, the iframe's padding). */
  preamble?: string
}

/** What makes one streamed route: its format and head, and what it writes first. */
export interface StreamedRouteSpec extends StreamHead {
  /** The feeds for this request (the iframe's depend on its callback; checks may throw HttpError). */
  feeds(req: IncomingRequest): { chunked: TextFeed; raw: TextFeed }
  /** The cursor; by default the after= parameter (SSE lets Last-Event-ID win). */
  cursor?(req: IncomingRequest): number | undefined
}

/**
 * Starts a streamed response: the status and head (`fields` adds to it), then the preamble.
 * A HEAD request gets the head alone and ends: null, nothing to stream.
 */
export function openStream(
  req: IncomingRequest,
  res: Response,
  streams: Streams,
  head: StreamHead,
  feeds: { chunked: TextFeed; raw: TextFeed },
  fields?: () => void,
): StreamOutlet | null {
  res.status = 200
  res.setHeader('Content-Type', head.contentType)
  res.setHeader('Cache-Control', head.cacheControl)
  res.setHeader('X-Accel-Buffering', 'no') // nginx: pass each message on at once
  fields?.()
  if (req.method === 'HEAD') {
    res.flushHeaders()
    res.end()
    return null
  }
  const outlet = streams.start(res, feeds, head.heartbeat)
  if (head.preamble !== undefined) outlet.writeText(head.preamble)
  return outlet
}

/** A route that streams a channel: checks the request, sends the head, then the channel's messages. */
export function streamedRoute(hub: Hub, streams: Streams, cors: CorsPolicy, spec: StreamedRouteSpec): RouteHandler {
  return (req, res) => {
    // Every check before the channel is made: a refused request leaves no channel behind.
    const feeds = spec.feeds(req)
    const after = spec.cursor ? spec.cursor(req) : afterParameter(req)
    const channel = channelOf(hub, req)
    const outlet = openStream(req, res, streams, spec, feeds, () => allowCors(req, res, cors))
    if (outlet === null) return channel.releaseIfEmpty()
    outlet.subscription = channel.subscribe(outlet.feed, outlet, after)
  }
}

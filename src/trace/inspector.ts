// GET /trace: the trace as Server-Sent Events, for public/inspector.html.
//
//   <= HTTP/1.1 200 OK
//      Content-Type: text/event-stream
//
//      retry: 1000
//
//      data: {"conn":3,"transport":"sse","dir":"out","kind":"sse","lines":[...],"bytes":41,"time":...}
//
//      event: dropped                 this inspector did not keep up: N events were left out
//      data: {"dropped":N}
//
// Tracing runs while at least one inspector is connected (or --trace prints), so opening
// the page is enough; when the last inspector leaves, tracing costs nothing again. The
// stream's own exchange is never traced (tracer.ts leaves TRACE_PATH out), else every
// event would make another one.
//
// Only loopback clients may open it: it shows every byte of every client (the secrets the
// tracer knows of are redacted, but messages and cookies are not).
//
// A slow inspector must not grow memory: past MAX_BACKLOG of unsent bytes its events are
// dropped and counted, and it is told how many when it has caught up.

import { Buffer } from 'node:buffer'
import { feedsFor, openStream, type StreamHead, type Streams, type StreamOutlet } from '../comet/streaming.ts'
import { encodeChunk } from '../http/chunked.ts'
import { HttpError } from '../http/errors.ts'
import type { HttpListener } from '../http/listener.ts'
import type { RouteHandler } from '../http/router.ts'
import { encodeComment, encodeEvent, encodeRetry } from '../sse/encoder.ts'
import { tracer, type TraceEvent, type TraceSink } from './tracer.ts'

/** Unsent bytes for one inspector past which its events are dropped. */
export const MAX_BACKLOG = 256 * 1024

/** How soon a browser reconnects to the trace (the server restarted, say). */
const RETRY_MS = 1000

/** Whether an address is this machine: 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6. */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address
  return address === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4)
}

// The stream carries no channel messages: its text is written directly, so the format is never used.
const FEEDS = feedsFor({ message: () => '', gap: () => '' })

const HEAD: StreamHead = {
  contentType: 'text/event-stream',
  cacheControl: 'no-cache',
  heartbeat: encodeComment(),
  preamble: encodeRetry(RETRY_MS),
}

interface Inspector {
  readonly outlet: StreamOutlet
  /** Events left out since it was last told. */
  dropped: number
}

export class TraceInspectors implements TraceSink {
  private readonly inspectors = new Set<Inspector>()
  /** Events left out for slow inspectors, in all. */
  droppedEvents = 0

  constructor(
    private readonly streams: Streams,
    listener: HttpListener,
  ) {
    // The streams end themselves on shutdown (Streams); the tracer lets go of them here.
    listener.onShutdown(() => {
      for (const inspector of [...this.inspectors]) this.forget(inspector)
    })
  }

  get count(): number {
    return this.inspectors.size
  }

  route(): RouteHandler {
    return (req, res) => {
      if (!isLoopback(req.remoteAddress)) {
        throw new HttpError(
          403,
          'TRACE_NOT_LOOPBACK',
          `/trace shows every byte this server sees: only clients on this machine (127.0.0.1, ::1) may open it, not ${req.remoteAddress ?? 'an unknown address'}`,
        )
      }
      const outlet = openStream(req, res, this.streams, HEAD, FEEDS)
      if (outlet === null) return
      const inspector: Inspector = { outlet, dropped: 0 }
      this.inspectors.add(inspector)
      tracer.attach(this)
      res.onAbort(() => this.forget(inspector))
    }
  }

  /** TraceSink: one event, encoded once, to every inspector that keeps up. */
  event(event: TraceEvent): void {
    let chunked: Buffer | null = null
    let raw: Buffer | null = null
    for (const inspector of this.inspectors) {
      const { outlet } = inspector
      if (outlet.res.ended || outlet.res.aborted) {
        this.forget(inspector)
        continue
      }
      if (outlet.queuedBytes > MAX_BACKLOG) {
        inspector.dropped++
        this.droppedEvents++
        continue
      }
      if (inspector.dropped > 0) {
        outlet.writeText(encodeEvent({ event: 'dropped', data: `{"dropped":${inspector.dropped}}` }))
        inspector.dropped = 0
      }
      // JSON holds no line break, so the event is one data: line.
      if (outlet.feed.chunked) outlet.write((chunked ??= encodeChunk(encodeEvent({ data: JSON.stringify(event) }))))
      else outlet.write((raw ??= Buffer.from(encodeEvent({ data: JSON.stringify(event) }))))
    }
  }

  private forget(inspector: Inspector): void {
    if (!this.inspectors.delete(inspector)) return
    if (this.inspectors.size === 0) tracer.detach(this)
  }
}

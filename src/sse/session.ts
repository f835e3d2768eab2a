// GET /sse/{channel}: Server-Sent Events.
//
//   <= HTTP/1.1 200 OK
//      Content-Type: text/event-stream
//      Cache-Control: no-cache
//      X-Accel-Buffering: no          (nginx: pass each event on at once)
//      Transfer-Encoding: chunked
//
//      retry: 3000                    how long the browser waits before it reconnects
//
//      id: 1                          then one event per message, each in its own chunk
//      data: hello
//
//      :                              a comment when idle, so proxies keep the line open
//
// A browser that lost the connection comes back to the same URL with Last-Event-ID: the
// id it saw last, which wins over ?after= (the URL still carries the first cursor).

import type { CorsPolicy } from '../http/cors.ts'
import type { RouteHandler } from '../http/router.ts'
import type { Hub } from '../hub/hub.ts'
import { afterParameter, cursor } from '../hub/query.ts'
import { feedsFor, streamedRoute, type Streams } from '../comet/streaming.ts'
import { encodeComment, encodeEvent, encodeRetry } from './encoder.ts'

const SSE = feedsFor({
  message: (message) => encodeEvent({ id: message.id, event: message.event, data: message.data }),
  // No id: field, so that the browser's Last-Event-ID stays the id of the last real message.
  gap: (first) => encodeEvent({ event: 'gap', data: `{"first":${first}}` }),
})

const HEARTBEAT = encodeComment()

export interface SseOptions {
  /** The reconnection delay sent first, in ms. */
  retryMs: number
  cors: CorsPolicy
}

export function sseRoute(hub: Hub, streams: Streams, options: SseOptions): RouteHandler {
  return streamedRoute(hub, streams, options.cors, {
    contentType: 'text/event-stream',
    cacheControl: 'no-cache',
    feeds: () => SSE,
    heartbeat: HEARTBEAT,
    preamble: encodeRetry(options.retryMs),
    cursor(req) {
      const lastEventId = req.header('last-event-id')
      return lastEventId !== undefined && lastEventId !== '' ? cursor(lastEventId.trim(), 'Last-Event-ID') : afterParameter(req)
    },
  })
}

// GET /stream/{channel}: HTTP streaming, one JSON envelope per line (NDJSON), each line
// its own chunk, flushed at once (the socket has Nagle off).
//
//   <= HTTP/1.1 200 OK
//      Content-Type: application/x-ndjson
//      Transfer-Encoding: chunked
//
//      18\r\n{"id":1,"data":"hello"}\n\r\n        one chunk: size in hex, CRLF, the line, CRLF
//      1\r\n\n\r\n                                a heartbeat: an empty line
//
// A page reads it with fetch() and a ReadableStream, or XMLHttpRequest's responseText
// as it grows (readyState 3).

import type { CorsPolicy } from '../http/cors.ts'
import type { RouteHandler } from '../http/router.ts'
import type { Hub } from '../hub/hub.ts'
import { feedsFor, streamedRoute, type Streams } from './streaming.ts'

const NDJSON = feedsFor({
  message: (message) => `${message.envelope}\n`,
  gap: (first) => `{"gap":true,"first":${first}}\n`,
})

export function streamRoute(hub: Hub, streams: Streams, cors: CorsPolicy): RouteHandler {
  return streamedRoute(hub, streams, cors, {
    contentType: 'application/x-ndjson',
    cacheControl: 'no-store',
    feeds: () => NDJSON,
    heartbeat: '\n',
  })
}

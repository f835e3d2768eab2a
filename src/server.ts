// The composition root: one listener, one router, one hub, the routes.
//
//   GET  /hello                   the smallest response (benchmarks use it)
//   POST /echo                    the request body back, with its Content-Type
//   GET  /echo       (WebSocket)  every message sent back as it came
//   POST /publish/{channel}       the body becomes a message of the channel
//   GET  /poll/{channel}          short polling
//   GET  /longpoll/{channel}      long polling
//   GET  /stream/{channel}        HTTP streaming (NDJSON, chunked)
//   GET  /iframe/{channel}        the forever iframe
//   GET  /sse/{channel}           Server-Sent Events
//   GET  /ws/{channel}  (WebSocket) the channel both ways
//   GET  /trace                   the wire trace as SSE, for public/inspector.html (loopback only)
//   GET  /*                       static files from public/

import { LongPolls } from './comet/longpoll.ts'
import { pollRoute } from './comet/poll.ts'
import { iframeRoute } from './comet/iframe.ts'
import { streamRoute } from './comet/stream.ts'
import { Streams } from './comet/streaming.ts'
import { preflight, type CorsPolicy } from './http/cors.ts'
import { HttpError } from './http/errors.ts'
import { HttpListener } from './http/listener.ts'
import { Router } from './http/router.ts'
import { serveStatic } from './http/static.ts'
import { Hub, NAME } from './hub/hub.ts'
import { mayPublish, publishRoute, tokenMatches } from './hub/publish.ts'
import { afterParameter, channelOf } from './hub/query.ts'
import type { ServerOptions } from './options.ts'
import { sseRoute } from './sse/session.ts'
import { TraceInspectors } from './trace/inspector.ts'
import { channelSession } from './ws/channel.ts'
import { DEFAULT_DEFLATE } from './ws/deflate.ts'
import { WsEndpoint } from './ws/endpoint.ts'
import type { SessionHandler } from './ws/session.ts'

export interface PushServer {
  readonly listener: HttpListener
  readonly router: Router
  readonly hub: Hub
  /** The WebSocket endpoint behind GET /echo. */
  readonly echo: WsEndpoint
  /** The WebSocket endpoint behind GET /ws/{channel}. */
  readonly channels: WsEndpoint
  readonly streams: Streams
  readonly longPolls: LongPolls
  /** The clients of GET /trace. */
  readonly inspectors: TraceInspectors
}

/** The WebSocket echo: the same opcode and payload back; reading waits while the client does not read. */
const ECHO: SessionHandler = {
  onMessage(session, data, isBinary) {
    if (!session.send(data, isBinary)) session.pauseReading()
  },
  onDrain(session) {
    session.resumeReading()
  },
}

export function createPushServer(options: ServerOptions): PushServer {
  const router = new Router()
  const listener = new HttpListener(router.handle, options)
  const hub = new Hub({
    historyMessages: options.historyMessages,
    historyBytes: options.historyBytes,
    maxChannels: options.maxChannels,
    maxQueuedBytes: options.maxBufferedBytes,
  })
  const cors: CorsPolicy = { allowedOrigins: options.allowedOrigins }
  const streams = new Streams(listener, options.heartbeatMs)
  const longPolls = new LongPolls(listener)
  const session = {
    maxBufferedBytes: options.maxBufferedBytes,
    pingIntervalMs: options.wsPingIntervalMs,
    pongTimeoutMs: options.wsPongTimeoutMs,
    closeTimeoutMs: options.wsCloseTimeoutMs,
    protocols: [],
    allowedOrigins: options.allowedOrigins,
  }
  const deflate = options.deflate ? { ...DEFAULT_DEFLATE, threshold: options.deflateThreshold } : null
  const echo = new WsEndpoint({ ...session, maxMessageBytes: options.wsMaxMessageBytes, deflate }, listener)
  // Broadcast: every message compressed on its own, so one compressed frame serves every client.
  const channels = new WsEndpoint(
    { ...session, maxMessageBytes: options.maxBodyBytes, deflate: deflate && { ...deflate, serverNoContextTakeover: true } },
    listener,
  )

  router.get('/hello', (_req, res) => {
    res.send(200, 'hello world', 'text/plain')
  })

  router.post('/echo', async (req, res) => {
    const body = await req.readBody()
    res.status = 200
    res.setHeader('Content-Type', req.header('content-type') ?? 'application/octet-stream')
    res.end(body)
  })
  router.get('/echo', echo.route(() => ECHO))

  router.post('/publish/:channel', publishRoute(hub, options.publishToken))

  const subscriptionRoutes: [string, ReturnType<typeof pollRoute>][] = [
    ['/poll/:channel', pollRoute(hub, cors)],
    ['/longpoll/:channel', longPolls.route(hub, cors)],
    ['/stream/:channel', streamRoute(hub, streams, cors)],
    ['/iframe/:channel', iframeRoute(hub, streams, cors)],
    ['/sse/:channel', sseRoute(hub, streams, { retryMs: options.sseRetryMs, cors })],
  ]
  for (const [path, route] of subscriptionRoutes) {
    router.get(path, route)
    router.on('OPTIONS', path, preflight(cors, 'GET, HEAD'))
  }

  const channelRoute = channels.route((req) => {
    const token = options.publishToken
    // The cursor is checked before the channel is made: a refused request leaves no empty channel behind.
    const after = afterParameter(req)
    return channelSession({
      channel: channelOf(hub, req),
      after,
      mayPublish: token === null || mayPublish(req, token) || tokenMatches(token, req.query.get('token')),
      deflateThreshold: options.deflateThreshold,
    })
  })
  router.get('/ws/:channel', (req, res) => {
    // A channel name that breaks the rules is a path nothing serves, before anything else.
    if (!NAME.test(req.params.channel)) throw new HttpError(404, 'BAD_CHANNEL_NAME', 'a channel name is 1-64 characters of A-Z a-z 0-9 _ . -')
    return channelRoute(req, res)
  })

  const inspectors = new TraceInspectors(streams, listener)
  router.get('/trace', inspectors.route())

  router.setFallback(serveStatic(options.publicDir))
  return { listener, router, hub, echo, channels, streams, longPolls, inspectors }
}

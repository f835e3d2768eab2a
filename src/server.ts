// The composition root: one listener, one router, the routes.
//
//   GET  /hello   the smallest response (benchmarks use it)
//   POST /echo    the request body back, with its Content-Type
//   GET  /echo    with Upgrade: websocket, every message sent back as it came
//   GET  /*       static files from public/

import { HttpListener } from './http/listener.ts'
import { Router } from './http/router.ts'
import { serveStatic } from './http/static.ts'
import type { ServerOptions } from './options.ts'
import { DEFAULT_DEFLATE } from './ws/deflate.ts'
import { WsEndpoint } from './ws/endpoint.ts'
import type { SessionHandler } from './ws/session.ts'

export interface PushServer {
  readonly listener: HttpListener
  readonly router: Router
  /** The WebSocket endpoint behind GET /echo. */
  readonly echo: WsEndpoint
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
  const echo = new WsEndpoint(
    {
      maxMessageBytes: options.wsMaxMessageBytes,
      maxBufferedBytes: options.maxBufferedBytes,
      pingIntervalMs: options.wsPingIntervalMs,
      pongTimeoutMs: options.wsPongTimeoutMs,
      closeTimeoutMs: options.wsCloseTimeoutMs,
      protocols: [],
      allowedOrigins: options.allowedOrigins,
      deflate: options.deflate ? { ...DEFAULT_DEFLATE, threshold: options.deflateThreshold } : null,
    },
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

  router.setFallback(serveStatic(options.publicDir))
  return { listener, router, echo }
}

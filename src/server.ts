// The composition root: one listener, one router, the routes.
//
//   GET  /hello   the smallest response (benchmarks use it)
//   POST /echo    the request body back, with its Content-Type
//   GET  /*       static files from public/

import { HttpListener } from './http/listener.ts'
import { Router } from './http/router.ts'
import { serveStatic } from './http/static.ts'
import type { ServerOptions } from './options.ts'

export interface PushServer {
  readonly listener: HttpListener
  readonly router: Router
}

export function createPushServer(options: ServerOptions): PushServer {
  const router = new Router()

  router.get('/hello', (_req, res) => {
    res.send(200, 'hello world', 'text/plain')
  })

  router.post('/echo', async (req, res) => {
    const body = await req.readBody()
    res.status = 200
    res.setHeader('Content-Type', req.header('content-type') ?? 'application/octet-stream')
    res.end(body)
  })

  router.setFallback(serveStatic(options.publicDir))

  const listener = new HttpListener(router.handle, options)
  return { listener, router }
}

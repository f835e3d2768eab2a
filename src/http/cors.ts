// CORS (the Fetch standard): which pages of other origins may read a response.
//
// By default any origin may read the subscription routes, without credentials
// ("Access-Control-Allow-Origin: *"). With an allowlist, only those origins may, with
// credentials, and the response varies with Origin, which caches must know. Requests
// without Origin (curl, servers) are not cross-origin at all and are never refused.

import type { IncomingRequest } from './request.ts'
import type { Response } from './response.ts'
import type { RouteHandler } from './router.ts'

export interface CorsPolicy {
  /** Origins that may read responses with credentials; empty: every origin, without credentials. */
  readonly allowedOrigins: readonly string[]
}

export function allowCors(req: IncomingRequest, res: Response, policy: CorsPolicy): void {
  if (policy.allowedOrigins.length === 0) {
    res.setHeader('Access-Control-Allow-Origin', '*')
    return
  }
  res.appendHeader('Vary', 'Origin')
  const origin = req.header('origin')
  if (origin !== undefined && policy.allowedOrigins.includes(origin)) {
    res.setHeader('Access-Control-Allow-Origin', origin)
    res.setHeader('Access-Control-Allow-Credentials', 'true')
  }
}

const TOKEN_LIST = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:[ \t]*,[ \t]*[!#$%&'*+\-.^_`|~0-9A-Za-z]+)*$/

/** Answers a preflight (OPTIONS) for a route taking `methods`. An origin not allowed gets no CORS fields: the browser refuses. */
export function preflight(policy: CorsPolicy, methods: string): RouteHandler {
  return (req, res) => {
    allowCors(req, res, policy)
    res.setHeader('Allow', `${methods}, OPTIONS`)
    res.setHeader('Access-Control-Allow-Methods', methods)
    // The request fields a page asks to send (Last-Event-ID, Cache-Control...): allowed by name.
    const requested = req.header('access-control-request-headers')
    if (requested !== undefined && TOKEN_LIST.test(requested.trim())) res.setHeader('Access-Control-Allow-Headers', requested.trim())
    res.setHeader('Access-Control-Max-Age', '600')
    res.status = 204
    res.end()
  }
}

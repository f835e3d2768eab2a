// Method + path routing, with :parameters.
//
//   router.get('/poll/:channel', handler)    GET /poll/news   → handler, params { channel: 'news' }
//
// What a request that no route takes gets (RFC 9110 §15.5, §15.6):
//   a method no one implements             501, whatever the path
//   a path that exists with other methods  405 with Allow
//   a path that nothing serves             404, whatever the method
// HEAD is served by the GET handler (the response writer leaves the body out) and
// OPTIONS is answered from the route table. A fallback (the static files) may take the
// GET and HEAD requests no route matched.

import { HttpError } from './errors.ts'
import { KNOWN_METHODS } from './parser.ts'
import type { IncomingRequest } from './request.ts'
import type { Response } from './response.ts'

export type RouteHandler = (req: IncomingRequest, res: Response) => void | Promise<void>

const NO_PARAMS: Record<string, string> = Object.freeze({}) as Record<string, string>

/** Known methods get 405 or 404 rather than 501. */
const KNOWN = new Set(KNOWN_METHODS)

interface Route {
  readonly pattern: string
  /** Literal segments as strings; parameters as { name }. */
  readonly segments: readonly (string | { readonly name: string })[]
  readonly handlers: Map<string, RouteHandler>
}

export class Router {
  private readonly routes: Route[] = []
  /**
   * Routes without parameters, by the length of their path: most requests are found here
   * without splitting the path. Compared, not hashed: a request's path is a new string each
   * time, and hashing it for a Map costs more than comparing it with the routes of its length.
   */
  private readonly exactByLength: Route[][] = []
  private fallback: RouteHandler | null = null

  get(pattern: string, handler: RouteHandler): this {
    return this.on('GET', pattern, handler)
  }

  post(pattern: string, handler: RouteHandler): this {
    return this.on('POST', pattern, handler)
  }

  on(method: string, pattern: string, handler: RouteHandler): this {
    // Any other method gets 501 before routing: a handler for it could never run.
    if (!KNOWN.has(method)) throw new Error(`${method} is not a method this server implements (${KNOWN_METHODS.join(', ')})`)
    let route = this.routes.find((r) => r.pattern === pattern)
    if (!route) {
      route = { pattern, segments: parsePattern(pattern), handlers: new Map() }
      this.routes.push(route)
      if (!pattern.includes(':')) (this.exactByLength[pattern.length] ??= []).push(route)
    }
    if (route.handlers.has(method)) throw new Error(`${method} ${pattern} is routed twice`)
    route.handlers.set(method, handler)
    return this
  }

  /** Takes the requests no route matched; it answers 404 and 405 itself. */
  setFallback(handler: RouteHandler): this {
    this.fallback = handler
    return this
  }

  /** The request handler for the connection: routes, or answers the error itself. */
  readonly handle = (req: IncomingRequest, res: Response): void | Promise<void> => {
    const { method, form, path } = req.head
    // The usual request first: a path routed as it is, with a handler for its method
    // (handlers exist for known methods only, so no 501 is skipped).
    const exact = this.exactRoute(path)
    if (exact !== undefined) {
      const handler = exact.handlers.get(method)
      if (handler !== undefined) return handler(req, res)
    }
    if (!KNOWN.has(method)) {
      return res.error(new HttpError(501, 'METHOD_NOT_IMPLEMENTED', `the method ${method} is not implemented by this server`))
    }
    if (form === 'authority') {
      // CONNECT asks for a tunnel; this is an origin server, not a proxy.
      res.closeAfter()
      return res.error(new HttpError(501, 'CONNECT_NOT_IMPLEMENTED', 'CONNECT is not served: this server is not a proxy'))
    }
    if (form === 'asterisk') return this.answerOptions(res, this.allMethods())

    if (exact !== undefined) return this.serve(exact, NO_PARAMS, req, res)
    const segments = splitPath(path)
    // A malformed target is a malformed request: 400, and the connection closes (CONTRACT.md).
    if (segments === null) return res.closeAfter().error(new HttpError(400, 'INVALID_PATH', 'the path has an invalid percent-encoding'))
    for (const route of this.routes) {
      const params = matchRoute(route, segments)
      if (params !== null) return this.serve(route, params, req, res)
    }
    if (this.fallback) return this.fallback(req, res)
    return res.error(new HttpError(404, 'NOT_FOUND', `nothing is served at ${path}`))
  }

  private exactRoute(path: string): Route | undefined {
    const routes = this.exactByLength[path.length]
    if (routes === undefined) return undefined
    for (let i = 0; i < routes.length; i++) if (routes[i].pattern === path) return routes[i]
    return undefined
  }

  private serve(route: Route, params: Record<string, string>, req: IncomingRequest, res: Response): void | Promise<void> {
    const method = req.head.method
    const handler = route.handlers.get(method) ?? (method === 'HEAD' ? route.handlers.get('GET') : undefined)
    if (handler) {
      if (params !== NO_PARAMS) req.params = params
      return handler(req, res)
    }
    const allow = allowedMethods(route)
    if (method === 'OPTIONS') return this.answerOptions(res, allow)
    res.setHeader('Allow', allow)
    return res.error(new HttpError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed here; allowed: ${allow}`))
  }

  private answerOptions(res: Response, allow: string): void {
    res.status = 204
    res.setHeader('Allow', allow)
    res.end()
  }

  private allMethods(): string {
    const methods = new Set(['GET', 'HEAD', 'OPTIONS'])
    for (const route of this.routes) for (const method of route.handlers.keys()) methods.add(method)
    return [...methods].join(', ')
  }
}

function parsePattern(pattern: string): (string | { name: string })[] {
  if (!pattern.startsWith('/')) throw new Error(`a route pattern starts with "/": ${pattern}`)
  return pattern
    .slice(1)
    .split('/')
    .map((segment) => (segment.startsWith(':') ? { name: segment.slice(1) } : segment))
}

/** The path's segments, percent-decoded; null when an escape is malformed. */
export function splitPath(path: string): string[] | null {
  const segments = path.slice(1).split('/')
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]
    if (segment.includes('%')) {
      try {
        segments[i] = decodeURIComponent(segment)
      } catch {
        return null
      }
    }
  }
  return segments
}

function matchRoute(route: Route, segments: string[]): Record<string, string> | null {
  const pattern = route.segments
  if (pattern.length !== segments.length) return null
  let params: Record<string, string> | null = null
  for (let i = 0; i < pattern.length; i++) {
    const expected = pattern[i]
    if (typeof expected === 'string') {
      if (expected !== segments[i]) return null
    } else {
      if (segments[i] === '') return null
      ;(params ??= {})[expected.name] = segments[i]
    }
  }
  return params ?? {}
}

function allowedMethods(route: Route): string {
  const methods = [...route.handlers.keys()]
  if (methods.includes('GET') && !methods.includes('HEAD')) methods.splice(methods.indexOf('GET') + 1, 0, 'HEAD')
  methods.push('OPTIONS')
  return methods.join(', ')
}

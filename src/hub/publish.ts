// POST /publish/{channel}?event=E: the request body (UTF-8) becomes one message.
//
//   => POST /publish/news HTTP/1.1            <= HTTP/1.1 200 OK
//      Content-Length: 5                         Content-Type: application/json
//                                                {"id":7}
//      hello
//
// With a publish token configured, publishing needs "Authorization: Bearer TOKEN" (401
// without it). The route sends no CORS fields: pages of other origins cannot publish.

import { Buffer } from 'node:buffer'
import { timingSafeEqual } from 'node:crypto'
import { HttpError } from '../http/errors.ts'
import type { IncomingRequest } from '../http/request.ts'
import type { RouteHandler } from '../http/router.ts'
import { isValidUtf8 } from '../ws/utf8.ts'
import { NAME, type Hub } from './hub.ts'
import { channelOf } from './query.ts'

/** Whether `offered` is the token, compared in constant time. */
export function tokenMatches(token: string, offered: string | null | undefined): boolean {
  if (offered === null || offered === undefined) return false
  const a = Buffer.from(token)
  const b = Buffer.from(offered)
  return a.length === b.length && timingSafeEqual(a, b)
}

/** Whether the request may publish: no token configured, or "Authorization: Bearer TOKEN". */
export function mayPublish(req: IncomingRequest, token: string | null): boolean {
  if (token === null) return true
  const authorization = req.header('authorization')
  const match = authorization === undefined ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization)
  return tokenMatches(token, match?.[1])
}

/** `event=E`: a name like a channel's, or none. */
export function eventParameter(req: IncomingRequest): string {
  const event = req.query.get('event')
  if (event === null || event === '') return ''
  if (!NAME.test(event)) throw new HttpError(400, 'BAD_EVENT_NAME', 'an event name is 1-64 characters of A-Z a-z 0-9 _ . -')
  return event
}

export function publishRoute(hub: Hub, token: string | null): RouteHandler {
  return async (req, res) => {
    if (!mayPublish(req, token)) {
      throw new HttpError(401, 'PUBLISH_TOKEN', 'publishing needs "Authorization: Bearer <token>"', ['WWW-Authenticate', 'Bearer realm="publish"'])
    }
    const event = eventParameter(req)
    // The name is checked, and the body read, before the channel is made: a refused
    // request leaves no empty channel behind.
    if (!NAME.test(req.params.channel)) throw new HttpError(404, 'BAD_CHANNEL_NAME', 'a channel name is 1-64 characters of A-Z a-z 0-9 _ . -')
    const body = await req.readBody() // over the body limit: 413 (the parser's)
    if (!isValidUtf8(body)) throw new HttpError(400, 'BODY_NOT_UTF8', 'a message is UTF-8 text')
    const message = channelOf(hub, req).publish(body.toString('utf8'), event)
    res.json(200, { id: message.id })
  }
}

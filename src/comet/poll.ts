// GET /poll/{channel}?after=N: short polling. Answers at once with what came after N:
//
//   <= {"messages":[{"id":5,"data":"a"},{"id":6,"data":"b"}],"last":6}
//
// and the client polls again later with after=6. The cursor is what makes polling lose
// nothing: a message published between two polls is in the next answer. The ETag names
// the answer (server life, newest id, cursor, oldest retained id): a client that sends it
// back in If-None-Match gets 304 and no body while nothing changed.

import type { CorsPolicy } from '../http/cors.ts'
import { allowCors } from '../http/cors.ts'
import type { RouteHandler } from '../http/router.ts'
import type { Channel, Hub } from '../hub/hub.ts'
import { afterParameter, channelOf } from '../hub/query.ts'

/** The JSON answer of /poll and /longpoll for a cursor, with the gap record first when there is one. */
export function pollBody(channel: Channel, after: number | undefined): string {
  const point = channel.startPoint(after)
  const messages = channel.messagesFrom(point.from)
  let json = '{'
  if (point.gapFirst !== 0) json += `"gap":{"first":${point.gapFirst}},`
  json += '"messages":['
  for (let i = 0; i < messages.length; i++) json += (i === 0 ? '' : ',') + messages[i].envelope
  return `${json}],"last":${channel.lastId}}`
}

/** A token of this server's life: an ETag from another life never matches. */
const LIFE = Date.now().toString(36)

export function pollRoute(hub: Hub, cors: CorsPolicy): RouteHandler {
  return (req, res) => {
    const after = afterParameter(req)
    const channel = channelOf(hub, req)
    const etag = `"${LIFE}.${channel.lastId}.${after ?? '-'}.${channel.firstRetainedId}"`
    res.setHeader('Cache-Control', 'no-store')
    res.setHeader('ETag', etag)
    allowCors(req, res, cors)
    // A page of another origin may read the ETag, to send it back in If-None-Match.
    res.setHeader('Access-Control-Expose-Headers', 'ETag')
    const ifNoneMatch = req.header('if-none-match')
    // "*" matches any current representation, and there always is one (RFC 9110 §13.1.2).
    if (ifNoneMatch !== undefined && ifNoneMatch.split(',').some((tag) => tag.trim() === '*' || tag.trim().replace(/^W\//, '') === etag)) {
      res.status = 304
      res.end()
    } else {
      // Only a response with content says what it is: a 304 carries none (RFC 9110 §15.4.5).
      res.status = 200
      res.setHeader('Content-Type', 'application/json')
      res.end(pollBody(channel, after))
    }
    channel.releaseIfEmpty()
  }
}

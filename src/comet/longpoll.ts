// GET /longpoll/{channel}?after=N&timeout=S: long polling. If something came after N, the
// answer is the same as /poll's, at once. Otherwise the request waits ("parks") until the
// next message is published, and is answered with it within the same event-loop turn;
// after S seconds with nothing, 204. A client that goes away while parked is forgotten at
// once, so no answer is ever written to a dead socket.
//
// When a publish wakes many parked polls, they all wait on the same cursor (the newest id
// before it), so they all get the same answer: it is made once per message.

import { Buffer } from 'node:buffer'
import type { CorsPolicy } from '../http/cors.ts'
import { allowCors } from '../http/cors.ts'
import { HttpError } from '../http/errors.ts'
import type { HttpListener } from '../http/listener.ts'
import type { Response } from '../http/response.ts'
import type { RouteHandler } from '../http/router.ts'
import type { Hub, Message } from '../hub/hub.ts'
import { afterParameter, channelOf } from '../hub/query.ts'
import { pollBody } from './poll.ts'

/** The timeout, in seconds: an integer from 1 to 120, 25 when absent (CONTRACT.md). */
function timeoutParameter(raw: string | null): number {
  if (raw === null) return 25
  if (!/^[0-9]{1,3}$/.test(raw) || Number(raw) < 1 || Number(raw) > 120) {
    throw new HttpError(400, 'BAD_TIMEOUT', `timeout must be a whole number of seconds from 1 to 120, got ${JSON.stringify(raw)}`)
  }
  return Number(raw)
}

/** The answer that wakes every poll parked on a channel: one message. */
const wakeBodies = new WeakMap<Message, Buffer>()

function wakeBody(message: Message): Buffer {
  let body = wakeBodies.get(message)
  if (body === undefined) {
    body = Buffer.from(`{"messages":[${message.envelope}],"last":${message.id}}`)
    wakeBodies.set(message, body)
  }
  return body
}

export class LongPolls {
  /** Parked polls, to answer 204 on shutdown. */
  private readonly parked = new Set<(closing?: boolean) => void>()

  constructor(listener: HttpListener) {
    listener.onShutdown(() => {
      // The connection closes after this answer: say so in it (RFC 9112 §9.6).
      for (const answer of [...this.parked]) answer(true)
    })
  }

  get count(): number {
    return this.parked.size
  }

  route(hub: Hub, cors: CorsPolicy): RouteHandler {
    return (req, res) => {
      const timeout = timeoutParameter(req.query.get('timeout'))
      const after = afterParameter(req)
      const channel = channelOf(hub, req)
      res.setHeader('Cache-Control', 'no-store')
      allowCors(req, res, cors)
      const point = channel.startPoint(after)
      if (point.gapFirst !== 0 || point.from <= channel.lastId) {
        res.status = 200
        res.setHeader('Content-Type', 'application/json')
        res.end(pollBody(channel, after))
        channel.releaseIfEmpty()
        return
      }
      this.park(res, timeout, (waiter) => channel.wait(waiter))
    }
  }

  private park(res: Response, timeoutSeconds: number, wait: (waiter: (message: Message) => void) => () => void): void {
    let done = false
    const finish = (): boolean => {
      if (done) return false
      done = true
      clearTimeout(timer)
      unwait()
      this.parked.delete(noMessage)
      return true
    }
    const noMessage = (closing = false) => {
      if (!finish()) return
      if (closing) res.closeAfter()
      res.status = 204
      res.end()
    }
    const unwait = wait((message) => {
      if (!finish()) return
      res.status = 200
      // The 204 of a timeout has no content, so no Content-Type either.
      res.setHeader('Content-Type', 'application/json')
      res.end(wakeBody(message))
    })
    const timer = setTimeout(() => noMessage(), timeoutSeconds * 1000)
    this.parked.add(noMessage)
    res.waitsForEvents = true
    res.onAbort(finish)
  }
}

// A WebSocket endpoint: what a route needs to speak WebSocket. It answers the
// handshake (or refuses it with the HTTP status that says why) and takes the socket over
// from the HTTP connection. The session it makes is the socket's new owner: the listener's
// sweep ticks its timers (heartbeat, pong and close timeouts), and on shutdown it closes
// with 1001. The endpoint keeps no list of its own; it counts its sessions.

import { HttpError } from '../http/errors.ts'
import type { HttpListener } from '../http/listener.ts'
import type { RouteHandler } from '../http/router.ts'
import type { IncomingRequest } from '../http/request.ts'
import type { DeflateConfig, DeflateParams } from './deflate.ts'
import { acceptHandshake, type HandshakeOptions } from './handshake.ts'
import { WsSession, type SessionHandler, type SessionOptions } from './session.ts'

export interface EndpointOptions extends Omit<SessionOptions, 'deflate' | 'deflateThreshold' | 'protocol' | 'onGone'> {
  /** Subprotocols this endpoint speaks. */
  protocols: readonly string[]
  /** Origins allowed to connect; empty: all. */
  allowedOrigins: readonly string[]
  /** permessage-deflate as offered here, or null to decline it. */
  deflate: DeflateConfig | null
}

/** Makes the handler of a new session; it sees the request that opened it. */
export type SessionFactory = (request: IncomingRequest) => SessionHandler

export class WsEndpoint {
  private sessions = 0
  /** The session options without compression or subprotocol, shared by every session that agreed on neither. */
  private readonly plainOptions: SessionOptions
  /**
   * The session options for each agreement on compression and subprotocol (see optionsFor),
   * shared by every session that came to it. There are a few hundred at most: the
   * permessage-deflate parameters combine in a few hundred ways, and the subprotocol is one
   * this route speaks.
   */
  private readonly agreedOptions = new Map<string, SessionOptions>()

  constructor(
    readonly options: EndpointOptions,
    listener: HttpListener,
  ) {
    this.plainOptions = {
      ...options,
      deflate: null,
      deflateThreshold: options.deflate?.threshold ?? Infinity,
      protocol: null,
      onGone: () => this.sessions--,
    }
    listener.sweepFor(Math.min(options.pingIntervalMs, options.pongTimeoutMs, options.closeTimeoutMs))
  }

  /** Sessions open (or closing) now. */
  get sessionCount(): number {
    return this.sessions
  }

  /** A route handler: upgrades a valid handshake to a session made by `factory`, or answers the error. */
  route(factory: SessionFactory): RouteHandler {
    const handshakeOptions: HandshakeOptions = {
      protocols: this.options.protocols,
      allowedOrigins: this.options.allowedOrigins,
      deflate: this.options.deflate,
      extensionAnswers: new Map(),
    }
    return (req, res) => {
      const handshake = acceptHandshake(req.head, handshakeOptions)
      if (handshake instanceof HttpError) {
        // A malformed handshake is a malformed request: the connection closes (CONTRACT.md).
        if (handshake.status === 400) res.closeAfter()
        return res.error(handshake)
      }
      // The route's own checks come before the switch: an HttpError here is still an HTTP answer.
      const handler = factory(req)
      req.takeOver((socket, rest) => {
        const session = new WsSession(socket, this.optionsFor(handshake.deflate, handshake.protocol), handler)
        this.sessions++
        session.open(handshake.response, rest)
      })
    }
  }

  /**
   * The options of a session that agreed on `deflate` and `protocol`: one object for each
   * agreement, not one per session, since an idle connection should cost no more with
   * compression agreed than without. The 101 response's extension line states every
   * parameter that was agreed, so it tells the agreements apart.
   */
  private optionsFor(deflate: DeflateParams | null, protocol: string | null): SessionOptions {
    if (deflate === null && protocol === null) return this.plainOptions
    const key = `${protocol ?? ''} ${deflate === null ? '' : deflate.response}`
    let options = this.agreedOptions.get(key)
    if (options === undefined) {
      options = { ...this.plainOptions, deflate, protocol }
      this.agreedOptions.set(key, options)
    }
    return options
  }
}

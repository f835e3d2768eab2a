// A WebSocket endpoint: what a route needs to speak WebSocket. It answers the
// handshake (or refuses it with the HTTP status that says why), takes the socket over
// from the HTTP connection, keeps its sessions, runs one sweep for all their timers
// (heartbeat, pong and close timeouts), and closes them with 1001 on shutdown.

import { now } from '../clock.ts'
import { HttpError } from '../http/errors.ts'
import type { HttpListener } from '../http/listener.ts'
import type { RouteHandler } from '../http/router.ts'
import type { IncomingRequest } from '../http/request.ts'
import type { DeflateConfig } from './deflate.ts'
import { CloseCode } from './errors.ts'
import { acceptHandshake } from './handshake.ts'
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
  private readonly sessions = new Set<WsSession>()
  private sweepTimer: NodeJS.Timeout | null = null
  /** The session options without compression or subprotocol, shared by every session that agreed on neither. */
  private readonly plainOptions: SessionOptions

  constructor(
    readonly options: EndpointOptions,
    listener: HttpListener,
  ) {
    this.plainOptions = {
      ...options,
      deflate: null,
      deflateThreshold: options.deflate?.threshold ?? Infinity,
      protocol: null,
      onGone: (session) => this.forget(session),
    }
    listener.onShutdown(() => this.shutdown())
  }

  get sessionCount(): number {
    return this.sessions.size
  }

  /** A route handler: upgrades a valid handshake to a session made by `factory`, or answers the error. */
  route(factory: SessionFactory): RouteHandler {
    const handshakeOptions = {
      protocols: this.options.protocols,
      allowedOrigins: this.options.allowedOrigins,
      deflate: this.options.deflate,
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
        const { deflate, protocol } = handshake
        const options = deflate === null && protocol === null ? this.plainOptions : { ...this.plainOptions, deflate, protocol }
        const session = new WsSession(socket, options, handler)
        this.sessions.add(session)
        this.startSweep()
        session.open(handshake.response, rest)
      })
    }
  }

  /** Closes every session with 1001 (RFC 6455 §7.4.1: the server is going away). */
  shutdown(): void {
    for (const session of this.sessions) session.close(CloseCode.GOING_AWAY, 'server shutting down')
  }

  private forget(session: WsSession): void {
    this.sessions.delete(session)
    if (this.sessions.size === 0) this.stopSweep()
  }

  private startSweep(): void {
    if (this.sweepTimer !== null) return
    const { pingIntervalMs, pongTimeoutMs, closeTimeoutMs } = this.options
    // A quarter of the shortest timeout, between 10 ms and 1 s.
    const every = Math.max(10, Math.min(1000, Math.floor(Math.min(pingIntervalMs, pongTimeoutMs, closeTimeoutMs) / 4)))
    this.sweepTimer = setInterval(() => {
      const time = now()
      for (const session of this.sessions) session.tick(time)
    }, every)
    this.sweepTimer.unref()
  }

  private stopSweep(): void {
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer)
    this.sweepTimer = null
  }
}

// One HTTP/1.1 connection: owns the socket, feeds its bytes to the parser, runs one
// request at a time, writes the responses in request order, and decides when to close.
//
//            first byte              head complete            body complete
//   idle ───────────────▶ head ─────────────────▶ body ─────────────────▶ responding
//    ▲      (idle timeout)   (head timeout: 408)     (body timeout: 408)       │
//    └─────────────────────────────────────────────────────────────────────────┘
//                       response ended, keep-alive: the next pipelined request
//
// Pipelining (RFC 9112 §9.3.2): requests are handled strictly one after the other, so
// responses leave in request order without buffering them. Bytes of later requests that
// arrive while a response is pending are held (bounded) and parsed when it ends.
//
// Backpressure: when the socket cannot take more output (write() returned false), no
// further request is started and the socket stops being read until 'drain'.
//
// Closing: after "Connection: close", a parse error, or on shutdown, the socket is
// half-closed and what the client still sends is read and dropped for a moment, so that
// a reset does not destroy the response before the client has read it (RFC 9112 §9.6).

import { Buffer } from 'node:buffer'
import type { Socket } from 'node:net'
import { tracer } from '../trace/tracer.ts'
import { HttpError } from './errors.ts'
import { RequestParser, type ParserLimits, type RequestHead } from './parser.ts'
import { IncomingRequest, type RequestOwner, type Takeover } from './request.ts'
import { continue100, Response, standaloneError, type ResponseSink } from './response.ts'
import { attachOwner, detachOwner, type SocketOwner } from './socket-owner.ts'
import { batchThisTurn, queuedBytes } from './write-batch.ts'

export interface ConnectionOptions extends ParserLimits {
  /** From the first byte of a request to the end of its head. Past it: 408 (slowloris). */
  headerTimeoutMs: number
  /** From the end of the head to the end of the body. Past it: 408. */
  bodyTimeoutMs: number
  /** Between requests, and while the client does not read what we wrote. Past it: closed. */
  idleTimeoutMs: number
  /** Bytes of later requests held while a response is pending, before reading pauses. */
  maxPendingInputBytes: number
}

/** Serves one request; it may respond later, but must end `res` (or the client goes away). */
export type RequestHandler = (req: IncomingRequest, res: Response) => void | Promise<void>

type Deadline = 'none' | 'idle' | 'head' | 'body' | 'stalled' | 'linger'

/** How long a closing connection keeps reading (and dropping) before it is destroyed. */
const LINGER_MS = 2000

/** A deadline set since the last sweep: the next one starts it (see setDeadline). */
const NOT_ARMED = -1

export class Connection implements ResponseSink, RequestOwner, SocketOwner {
  private readonly parser: RequestParser
  private request: IncomingRequest | null = null
  private response: Response | null = null
  /** The current request's message has ended (its body was read in full). */
  private requestEnded = false
  private continueSent = false
  private takeover: Takeover | null = null
  /** Bytes that arrived while a response was pending; parsed when it ends. */
  private held: Buffer[] = []
  private heldBytes = 0
  private pumping = false
  /** Requests started in this pump; from the second one on, output is corked into one write. */
  private startedInPump = 0
  private corked = false
  private pausedForDrain = false
  private pausedForInput = false
  /** No further request will be read: the connection closes after the current response. */
  private closeRequested = false
  /** The socket is half-closed or gone; nothing more is parsed. */
  private finishedReading = false
  private peerEnded = false
  private detached = false
  /**
   * What the current deadline is for, and when it passes (on the clock of ../clock.ts);
   * NOT_ARMED until the first sweep after it was set (see setDeadline).
   */
  private deadline: Deadline = 'none'
  private deadlineAt = NOT_ARMED

  constructor(
    readonly socket: Socket,
    private readonly handler: RequestHandler,
    private readonly options: ConnectionOptions,
  ) {
    this.parser = new RequestParser(options)
    attachOwner(socket, this)
    this.setDeadline('idle')
  }

  // ---- ResponseSink: what responses write through

  write(data: Buffer | string): boolean {
    if (this.socket.destroyed) return false
    return typeof data === 'string' ? this.socket.write(data, 'latin1') : this.socket.write(data)
  }

  get closing(): boolean {
    // A client that announced a body with Expect: 100-continue, and was answered before
    // we asked for it, may never send it: the connection cannot be reused (RFC 9110 §10.1.1).
    const unsentBody = this.request !== null && !this.requestEnded && this.request.head.expectContinue && !this.continueSent
    return this.closeRequested || unsentBody
  }

  get queuedBytes(): number {
    return queuedBytes(this.socket)
  }

  batchThisTurn(): void {
    batchThisTurn(this.socket)
  }

  drained(): Promise<void> {
    const socket = this.socket
    if (!socket.writableNeedDrain || socket.destroyed) return Promise.resolve()
    // A response waiting on a client that does not read what we wrote: it has the idle
    // timeout to read some of it, or it is dropped (socketDrain clears the deadline).
    if (this.deadline === 'none') this.setDeadline('stalled')
    return new Promise((resolve) => {
      const done = () => {
        socket.off('drain', done)
        socket.off('close', done)
        resolve()
      }
      socket.on('drain', done)
      socket.on('close', done)
    })
  }

  finished(response: Response): void {
    if (response !== this.response) return
    if (!response.keepAlive) this.closeRequested = true
    if (!this.requestEnded) {
      // Answered before the body was read: the rest of it is dropped as it arrives,
      // unless the connection closes anyway.
      this.request!.discardBody()
      if (this.closeRequested) this.closeGracefully()
      return
    }
    this.completeExchange()
  }

  // ---- RequestOwner: what requests ask of their connection

  bodyWanted(request: IncomingRequest): void {
    if (request !== this.request || this.continueSent || this.response!.headersSent) return
    if (request.head.expectContinue) {
      this.continueSent = true
      const interim = continue100()
      if (tracer.on) tracer.responseText(this, request.head, interim)
      this.write(interim)
    }
  }

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress
  }

  takeOver(request: IncomingRequest, takeover: Takeover): void {
    if (request !== this.request) return
    this.takeover = takeover
    // Taken after the handler awaited something: the request may have ended already, and
    // the loop stopped there to wait for a response. The hand-off comes with 'paused'.
    if (this.requestEnded) this.pump()
  }

  // ---- the server's side

  /** Called by the listener's sweep: acts on a deadline that has passed. */
  tick(time: number): void {
    if (this.deadline === 'none') return
    if (this.deadlineAt === NOT_ARMED) {
      this.deadlineAt = time + this.timeoutOf(this.deadline)
      return
    }
    if (time < this.deadlineAt) return
    const kind = this.deadline
    this.setDeadline('none')
    switch (kind) {
      case 'idle':
        this.closeGracefully()
        break
      case 'head':
        this.failRequest(new HttpError(408, 'HEAD_TIMEOUT', `the request head did not arrive within ${this.options.headerTimeoutMs} ms`))
        break
      case 'body':
        this.failRequest(new HttpError(408, 'BODY_TIMEOUT', `the request body did not arrive within ${this.options.bodyTimeoutMs} ms`))
        break
      case 'stalled':
      case 'linger':
        this.socket.destroy()
        break
    }
  }

  /** Shutdown: close now if between requests, else after the current response. */
  shutdown(): void {
    this.closeRequested = true
    if (this.request === null) this.closeGracefully()
  }

  // ---- socket events

  socketData(chunk: Buffer): void {
    if (this.finishedReading) return // lingering after close: dropped
    if (this.request !== null && this.requestEnded) {
      // A response is pending: hold the bytes of the next requests until it ends.
      this.held.push(chunk)
      this.heldBytes += chunk.length
      if (this.heldBytes > this.options.maxPendingInputBytes && !this.pausedForInput) {
        this.pausedForInput = true
        this.socket.pause()
      }
      return
    }
    this.parser.feed(chunk)
    this.pump()
  }

  socketEnd(): void {
    // The client has sent all it will (it may still read). Every complete request it sent
    // is answered in order; then the connection closes (see endOfInput).
    this.peerEnded = true
    if (this.finishedReading) return
    if (this.request !== null && this.requestEnded) {
      // A client waiting for events (a parked long poll, a stream) that half-closes has gone:
      // browsers never half-close while they wait for an answer. Forget it at once.
      if (this.response?.waitsForEvents) this.socket.destroy()
      return // otherwise completeExchange goes on from here
    }
    this.pump()
  }

  socketError(): void {
    // ECONNRESET, EPIPE and the like: nothing can be answered any more.
    this.socket.destroy()
  }

  socketClose(): void {
    this.finishedReading = true
    this.deadline = 'none'
    this.request?.failBody(new HttpError(400, 'CONNECTION_CLOSED', 'the connection closed'))
    this.response?.abort()
    this.request = null
    this.response = null
  }

  socketDrain(): void {
    if (this.deadline === 'stalled') this.setDeadline('none')
    if (!this.pausedForDrain) return
    this.pausedForDrain = false
    this.socket.resume()
    this.pump()
  }

  // ---- the request loop

  private pump(): void {
    if (this.pumping || this.finishedReading || this.detached) return
    this.pumping = true
    this.startedInPump = 0
    try {
      this.pullEvents()
    } finally {
      this.pumping = false
      if (this.corked) {
        // Pipelined responses leave together, in one writev.
        this.corked = false
        if (!this.detached && !this.socket.destroyed) this.socket.uncork()
      }
    }
  }

  private pullEvents(): void {
    for (;;) {
      if (this.finishedReading || this.detached) return
      // Waiting on a response: the next request waits too (responses stay in order).
      if (this.request !== null && this.requestEnded && this.takeover === null) return
      if (this.request === null && this.socket.writableNeedDrain) {
        // The client is not reading what we send: stop reading what it sends.
        this.pausedForDrain = true
        this.socket.pause()
        this.setDeadline('stalled')
        return
      }
      const event = this.parser.next()
      switch (event.type) {
        case 'need-data':
          if (this.peerEnded) this.endOfInput()
          else this.armReadDeadline()
          return
        case 'head':
          this.startExchange(event)
          break
        case 'body':
          if (tracer.on) tracer.requestBody(this, event.data.length)
          this.request!.pushBody(event.data)
          break
        case 'end':
          this.endOfRequest()
          break
        case 'paused':
          this.upgradeOrResume()
          break
        case 'error':
          this.failRequest(event.error)
          return
      }
    }
  }

  private startExchange(head: RequestHead): void {
    if (++this.startedInPump === 2 && !this.corked) {
      // A second request in the same read: pipelining. One write for all their responses.
      this.corked = true
      this.socket.cork()
    }
    const request = new IncomingRequest(head, this)
    const response = new Response(this, head)
    if (tracer.on) tracer.requestHead(this, this.socket, head)
    this.request = request
    this.response = response
    this.requestEnded = false
    this.continueSent = false
    this.takeover = null
    if (head.contentLength !== 0) this.setDeadline('body')
    else this.setDeadline('none')
    try {
      const result = this.handler(request, response)
      if (result !== undefined) result.catch((error: unknown) => this.handlerFailed(response, error))
    } catch (error) {
      this.handlerFailed(response, error)
    }
  }

  private endOfRequest(): void {
    const request = this.request!
    this.requestEnded = true
    if (tracer.on) tracer.requestEnd(this)
    if (this.deadline === 'body') this.setDeadline('none')
    request.endBody()
    if (this.response!.ended) this.completeExchange()
  }

  /** The request has been read and its response written: on to the next one, or close. */
  private completeExchange(): void {
    if (this.takeover !== null) return // the upgrade hand-off comes with the 'paused' event
    this.request = null
    this.response = null
    this.requestEnded = false
    if (this.closeRequested) {
      this.closeGracefully()
      return
    }
    if (this.pausedForInput) {
      this.pausedForInput = false
      this.socket.resume()
    }
    if (this.heldBytes > 0) {
      this.parser.feed(this.held.length === 1 ? this.held[0] : Buffer.concat(this.held, this.heldBytes))
      this.held = []
      this.heldBytes = 0
    }
    this.pump()
  }

  private upgradeOrResume(): void {
    const takeover = this.takeover
    if (takeover === null) {
      // The handler answered the Upgrade request as plain HTTP (RFC 9110 §7.8 lets it).
      this.parser.resume()
      return
    }
    // Hand the socket, and every byte read past the request, to the new protocol.
    this.detached = true
    this.setDeadline('none')
    const socket = this.socket
    detachOwner(socket) // paused: the new owner resumes it once it listens
    if (this.corked) {
      this.corked = false
      socket.uncork()
    }
    const remaining = this.parser.takeRemaining()
    // Usually nothing came after the request: the parser's remainder is handed on as it is.
    const rest = this.held.length === 0 ? remaining : Buffer.concat([remaining, ...this.held])
    this.held = []
    this.request = null
    this.response = null
    try {
      takeover(socket, rest)
    } catch (error) {
      console.error('push-wire: an upgrade handler failed:', error)
      socket.destroy()
    }
  }

  /** The client half-closed and every byte it sent has been parsed. */
  private endOfInput(): void {
    const error = this.request !== null ? new HttpError(400, 'INCOMPLETE_MESSAGE', 'the connection ended in the middle of a request') : this.parser.finish()
    if (error !== null) this.failRequest(error)
    else this.closeGracefully()
  }

  /** A request that cannot be served: answer with the error if we still can, then close. */
  private failRequest(error: HttpError): void {
    this.request?.failBody(error)
    const response = this.response
    this.closeRequested = true
    if (response === null) {
      const answer = standaloneError(error)
      if (tracer.on) tracer.responseText(this, null, answer)
      this.write(answer)
      this.closeGracefully()
    } else if (!response.headersSent) {
      response.closeAfter()
      response.error(error)
      this.closeGracefully()
    } else if (response.ended) {
      // Already answered (the body was being dropped): just close.
      this.closeGracefully()
    } else {
      // Mid-response there is no way to say it: drop the connection.
      this.socket.destroy()
    }
  }

  private handlerFailed(response: Response, error: unknown): void {
    if (response.ended || response.aborted) return
    if (error instanceof HttpError) {
      if (!response.headersSent) {
        if (error.status === 400 || error.status === 408 || error.status === 413) response.closeAfter()
        response.error(error)
        return
      }
    } else {
      console.error('push-wire: a request handler failed:', error)
    }
    if (response.headersSent) {
      this.socket.destroy()
      return
    }
    response.closeAfter()
    response.error(new HttpError(500, 'HANDLER_FAILED', 'the server failed while answering this request'))
  }

  private closeGracefully(): void {
    if (this.finishedReading) return
    this.finishedReading = true
    this.request?.discardBody()
    this.held = []
    this.heldBytes = 0
    this.socket.end()
    if (this.peerEnded) return // both sides done: 'close' follows the flush
    // Keep reading (and dropping) so that late bytes from the client do not provoke a reset.
    if (this.pausedForInput || this.pausedForDrain) this.socket.resume()
    this.setDeadline('linger')
  }

  private armReadDeadline(): void {
    if (this.request !== null) return // the body deadline runs
    if (this.parser.idle) {
      if (this.deadline !== 'idle') this.setDeadline('idle')
    } else if (this.deadline !== 'head') {
      this.setDeadline('head')
    }
  }

  /**
   * Sets what the connection waits for. The clock is not read here, on every request: the
   * next sweep starts the deadline from its own time, and a later sweep finds it passed, so
   * it acts between its timeout and its timeout plus two sweep periods (a sweep period is a
   * quarter of the shortest timeout) after now.
   */
  private setDeadline(kind: Deadline): void {
    this.deadline = kind
    this.deadlineAt = NOT_ARMED
  }

  private timeoutOf(kind: Deadline): number {
    switch (kind) {
      case 'idle':
      case 'stalled':
        return this.options.idleTimeoutMs
      case 'head':
        return this.options.headerTimeoutMs
      case 'body':
        return this.options.bodyTimeoutMs
      case 'linger':
        return LINGER_MS
      case 'none':
        return Infinity
    }
  }
}

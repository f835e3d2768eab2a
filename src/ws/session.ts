// One WebSocket connection, from the 101 response to the closed socket (RFC 6455).
//
//                   close() sends Close                peer's Close arrives
//        ┌──────┐ ─────────────────────▶ ┌─────────┐ ───────────────────────▶ ┌────────┐
//        │ open │                         │ closing │   (or the close timeout)  │ closed │
//        └──────┘ ─────────────────────────────────────────────────────────────▶└────────┘
//              peer's Close arrives: Close sent back at once; a protocol error: Close
//              with its code; then, in every case, the server closes TCP first (§7.1.1)
//
// Reading: socket bytes go to the frame decoder; data frames are put together into
// messages (control frames may come between fragments and are answered at once); text
// is checked as it arrives; a compressed message is inflated before it is delivered,
// and nothing after it is read until then, so messages arrive in order.
//
// Writing: messages go out in the order sent; one being compressed holds back the ones
// after it. A peer that lets more than maxBufferedBytes pile up is closed with 1008.
//
// Time: the listener's sweep calls tick(): idle peers are pinged, peers that do not
// answer are dropped, and a close handshake that is not answered ends with the socket.

import { Buffer } from 'node:buffer'
import type { Socket } from 'node:net'
import { now } from '../clock.ts'
import { MessageCompressor, MessageDecompressor, type DeflateParams } from './deflate.ts'
import { CloseCode, WsError } from './errors.ts'
import { closePayload, encodeFrame, frameHeader, FrameDecoder, Opcode, type FramePiece } from './frame.ts'
import { isValidUtf8, Utf8Validator } from './utf8.ts'
import { attachOwner, type SocketOwner } from '../http/socket-owner.ts'
import { batchThisTurn, queuedBytes } from '../http/write-batch.ts'
import { tracer } from '../trace/tracer.ts'

export interface SessionOptions {
  /** Largest message after reassembly and after inflation. Past it: 1009. */
  maxMessageBytes: number
  /** Bytes waiting to be sent, beyond the message being written, before the peer is cut off with 1008. */
  maxBufferedBytes: number
  /** Silence after which the server pings. */
  pingIntervalMs: number
  /** How long a ping waits for its pong before the peer is dropped. */
  pongTimeoutMs: number
  /** How long a Close we sent waits for the peer's before the socket is destroyed. */
  closeTimeoutMs: number
  /** permessage-deflate as negotiated, or null. */
  deflate: DeflateParams | null
  /** Messages smaller than this go uncompressed even when deflate was negotiated. */
  deflateThreshold: number
  /** The subprotocol agreed in the handshake, or null. */
  protocol: string | null
  /** Told when the session has closed (the endpoint forgets it). */
  onGone: ((session: WsSession) => void) | null
}

export interface SessionHandler {
  /** The 101 response is written: the session may send. */
  onOpen?(session: WsSession): void
  /** A whole message: text (valid UTF-8) or binary. */
  onMessage?(session: WsSession, data: Buffer, isBinary: boolean): void
  /** The connection closed: the code and reason of the peer's Close (1005 without one, 1006 without a Close frame at all). */
  onClose?(session: WsSession, code: number, reason: string): void
  /** The socket can take more output again (after send() returned false). */
  onDrain?(session: WsSession): void
}

export type SessionState = 'open' | 'closing' | 'closed'

/** Bytes of output past which send() returns false (backpressure, not yet the 1008 limit). */
const HIGH_WATER = 64 * 1024

// The session's yes-or-no state, as bits of one number (one field, where booleans would take one each).
/** A Close was sent, received, or the connection failed: closing. */
const CLOSING = 1
/** The socket has closed. */
const CLOSED = 2
const CLOSE_SENT = 4
/** The peer's Close arrived, or the connection failed: nothing more is read. */
const CLOSE_RECEIVED = 8
/** A compressed message is being inflated: reading waits. */
const INFLATING = 16
/** The application paused reading. */
const READING_PAUSED = 32
/** send() said false: onDrain is owed once the output is below the high-water mark. */
const DRAIN_OWED = 64
/** Bytes arrived since the sweep last looked: the next ping is due an interval from then. */
const HEARD = 128
/** The deadline is for an answer (the pong to our ping, the end of a close handshake): past it, the socket is destroyed. */
const AWAITING = 256

// A session has a decoder only while bytes of a frame are held: an idle connection keeps
// none. The last one dropped waits here for the next session that reads, so that a read of
// whole frames (a message, a pong) does not make a decoder for itself and throw it away.
// Reads are handled one at a time, so one spare is enough.
let spareDecoder: FrameDecoder | null = null

/** The message being received, while its frames arrive. */
interface IncomingMessage {
  opcode: number
  compressed: boolean
  /** Its pieces so far. */
  parts: Buffer[]
  bytes: number
  /** Checks a text message as it arrives; null for binary and compressed messages. */
  utf8: Utf8Validator | null
}

/** Sends waiting behind a message being compressed. */
interface PendingSends {
  chain: Promise<void>
  /** Payload bytes still being compressed: they count as buffered. */
  bytes: number
}

/** What few sessions need, made the first time one does: an idle connection goes without. */
interface SessionExtras {
  /** Made for the first message to compress, if permessage-deflate was agreed. */
  compressor: MessageCompressor | null
  /** Made for the first compressed message to arrive, if permessage-deflate was agreed. */
  decompressor: MessageDecompressor | null
  /** Null unless sends wait behind a compression. */
  pending: PendingSends | null
  /** drained() promises to keep; null when none. */
  drainWaiters: (() => void)[] | null
  /** How it ended, once a Close arrived or the connection failed; null before. */
  ending: { code: number; reason: string } | null
}

/**
 * One WebSocket connection. An idle connection is what thousands of clients are most of
 * the time, so a session holds only what every connection needs (eight fields); the state
 * of a message being received exists while it arrives, and compression, sends waiting for
 * it, drain promises and the ending are in one object made when first needed.
 */
export class WsSession implements SocketOwner {
  private flags = 0
  /**
   * For the listener's sweep (clock of ../clock.ts): with AWAITING, when the answer is due;
   * otherwise when the next ping is (an interval after the peer was last heard).
   */
  private deadline: number
  /** Made when bytes arrive, dropped at a frame boundary with nothing buffered. */
  private decoder: FrameDecoder | null = null
  /** Null between messages. */
  private message: IncomingMessage | null = null
  private extras: SessionExtras | null = null

  constructor(
    readonly socket: Socket,
    private readonly options: SessionOptions,
    private readonly handler: SessionHandler,
  ) {
    this.deadline = now() + options.pingIntervalMs
    socket.setNoDelay(true)
    // When the peer ends its side without a Close frame (an abnormal closure, 1006), Node
    // ends ours: the session needs no 'end' listener of its own.
    socket.allowHalfOpen = false
    attachOwner(socket, this)
  }

  get state(): SessionState {
    return this.flags & CLOSED ? 'closed' : this.flags & CLOSING ? 'closing' : 'open'
  }

  /** The subprotocol agreed in the handshake. */
  get protocol(): string | null {
    return this.options.protocol
  }

  /** Starts the session: writes the 101 response, then reads what followed the request. */
  open(response: string, rest: Buffer): void {
    if (tracer.on) tracer.wsHandshake(this.socket, response)
    this.socket.write(response, 'latin1')
    this.handler.onOpen?.(this)
    if (rest.length > 0) this.socketData(rest)
    this.socket.resume()
  }

  /** permessage-deflate as agreed in the handshake, or null. */
  get deflate(): DeflateParams | null {
    return this.options.deflate
  }

  private more(): SessionExtras {
    return (this.extras ??= { compressor: null, decompressor: null, pending: null, drainWaiters: null, ending: null })
  }

  /** permessage-deflate's compressor (it was agreed), made when first needed: a session that never sends a large message has none. */
  private compressor(): MessageCompressor {
    const deflate = this.options.deflate!
    return (this.more().compressor ??= new MessageCompressor(deflate.serverMaxWindowBits, deflate.serverNoContextTakeover))
  }

  /** permessage-deflate's decompressor (it was agreed), made when the first compressed message arrives. */
  private decompressor(): MessageDecompressor {
    const deflate = this.options.deflate!
    return (this.more().decompressor ??= new MessageDecompressor(this.options.maxMessageBytes, deflate.clientNoContextTakeover))
  }

  /** Sends waiting behind a compression, or null. */
  private get pending(): PendingSends | null {
    return this.extras === null ? null : this.extras.pending
  }

  // ---- the API a route handler uses

  /** Bytes written but not yet sent, and messages waiting to be compressed. */
  get bufferedAmount(): number {
    const pending = this.pending
    return queuedBytes(this.socket) + (pending === null ? 0 : pending.bytes)
  }

  /**
   * Sends a text (string) or binary (Buffer) message. Returns false when output is
   * backing up: wait for onDrain. Past maxBufferedBytes the peer is closed with 1008.
   */
  send(data: string | Buffer, binary = typeof data !== 'string'): boolean {
    if (this.flags & (CLOSING | CLOSED)) return false
    const payload = typeof data === 'string' ? Buffer.from(data) : data
    if (this.bufferedAmount > this.options.maxBufferedBytes) {
      this.fail(new WsError(CloseCode.POLICY_VIOLATION, 'SLOW_READER', 'the client does not read what it is sent'))
      return false
    }
    const opcode = binary ? Opcode.BINARY : Opcode.TEXT
    if (this.options.deflate !== null && payload.length >= this.options.deflateThreshold) {
      this.queueCompressed(opcode, payload)
    } else if (this.pending !== null) {
      this.afterPendingSends(() => this.writeMessage(opcode, payload, false))
    } else {
      this.writeMessage(opcode, payload, false)
    }
    return this.belowHighWater()
  }

  /**
   * Writes a frame encoded once for many sessions (a broadcast); it must fit what this
   * session negotiated. A frame still being compressed is written, in order, when ready;
   * until then its `bytes` (the payload before compression) count as buffered, so that a
   * burst of broadcasts cannot pile up past maxBufferedBytes while it is compressed.
   */
  sendEncoded(frame: Buffer | Promise<Buffer>, bytes = 0): boolean {
    if (this.flags & (CLOSING | CLOSED)) return false
    if (this.bufferedAmount > this.options.maxBufferedBytes) {
      this.fail(new WsError(CloseCode.POLICY_VIOLATION, 'SLOW_READER', 'the client does not read what it is sent'))
      return false
    }
    if (frame instanceof Promise) {
      this.afterPendingSends(async () => {
        const ready = await frame
        this.pending!.bytes -= bytes
        this.writeRaw(ready)
        this.checkDrained()
      }, bytes)
    } else if (this.pending !== null) this.afterPendingSends(() => this.writeRaw(frame))
    else this.writeRaw(frame)
    return this.belowHighWater()
  }

  /** Writes made during this turn of the event loop leave together at its end (see write-batch.ts). */
  batchThisTurn(): void {
    batchThisTurn(this.socket)
  }

  /** Resolves when the output is below the high-water mark again (or the session is over). */
  drained(): Promise<void> {
    if (this.flags & (CLOSING | CLOSED) || this.bufferedAmount < HIGH_WATER) return Promise.resolve()
    this.flags |= DRAIN_OWED
    const extras = this.more()
    return new Promise((resolve) => (extras.drainWaiters ??= []).push(resolve))
  }

  private writeRaw(frame: Buffer): void {
    if (this.flags & (CLOSING | CLOSED) || !this.socket.writable) return
    if (tracer.on) tracer.wsSent(this.socket, frame)
    this.socket.write(frame)
  }

  /** Whether more may be sent now; if not, onDrain is owed and will come. */
  private belowHighWater(): boolean {
    if (this.bufferedAmount < HIGH_WATER) return true
    this.flags |= DRAIN_OWED
    return false
  }

  /** Pays the owed onDrain once the socket and the compressor have both caught up. */
  private checkDrained(): void {
    if (!(this.flags & DRAIN_OWED) || this.flags & (CLOSING | CLOSED)) return
    if (this.bufferedAmount >= HIGH_WATER || this.socket.writableNeedDrain) return
    this.flags &= ~DRAIN_OWED
    this.releaseDrainWaiters()
    this.handler.onDrain?.(this)
  }

  private releaseDrainWaiters(): void {
    const extras = this.extras
    if (extras === null || extras.drainWaiters === null) return
    const waiters = extras.drainWaiters
    extras.drainWaiters = null
    for (const resolve of waiters) resolve()
  }

  ping(payload: Buffer = EMPTY): void {
    if (!(this.flags & (CLOSING | CLOSED))) this.writeFrame(Opcode.PING, payload)
  }

  /** Starts the closing handshake (RFC 6455 §7.1.2): sends Close and waits for the peer's. */
  close(code: number = CloseCode.NORMAL, reason = ''): void {
    if (this.flags & (CLOSING | CLOSED)) return
    this.sendClose(code, reason)
    this.flags |= CLOSING
    this.awaitAnswer(now() + this.options.closeTimeoutMs)
  }

  /** Stops reading the peer (its messages wait in the socket) until resumeReading(). */
  pauseReading(): void {
    this.flags |= READING_PAUSED
    this.socket.pause()
  }

  resumeReading(): void {
    if (!(this.flags & READING_PAUSED)) return
    this.flags &= ~READING_PAUSED
    if (!(this.flags & CLOSED)) this.socket.resume()
    this.pump()
  }

  /** The server is going away (RFC 6455 §7.4.1: 1001): the close handshake starts. */
  shutdown(): void {
    this.close(CloseCode.GOING_AWAY, 'server shutting down')
  }

  /**
   * Called by the listener's sweep with the time (../clock.ts): heartbeat and timeouts. The
   * peer was heard if the HEARD bit is set, somewhen since the last sweep: a ping is due an
   * interval after that sweep (late by at most a sweep period, a quarter of the shortest
   * timeout, and reading a chunk costs no clock read).
   */
  tick(time: number): void {
    const flags = this.flags
    if (flags & CLOSED) return
    if (flags & AWAITING) {
      // The pong to our ping is late (a dead peer: half-open TCP must not live on), or the
      // peer did not answer our Close, or did not close TCP after the handshake.
      if (time >= this.deadline) this.socket.destroy()
      return
    }
    if (flags & HEARD) {
      this.flags = flags & ~HEARD
      this.deadline = time + this.options.pingIntervalMs
    } else if (!(flags & CLOSING) && time >= this.deadline) {
      this.writeEncoded(EMPTY_PING)
      this.awaitAnswer(time + this.options.pongTimeoutMs)
    }
  }

  /** Past `deadline` without the answer, the sweep destroys the socket. */
  private awaitAnswer(deadline: number): void {
    this.flags |= AWAITING
    this.deadline = deadline
  }

  // ---- reading

  socketData(chunk: Buffer): void {
    if (this.flags & (CLOSE_RECEIVED | CLOSED)) return
    this.flags |= HEARD
    // Before the decoder unmasks the bytes in place.
    if (tracer.on) tracer.wsReceived(this.socket, chunk, this.decoder === null || this.decoder.idle)
    ;(this.decoder ??= this.takeDecoder()).feed(chunk)
    // What this read makes us send (echoes, pongs) leaves in one writev, not a write each.
    const socket = this.socket
    socket.cork()
    try {
      this.pump()
    } finally {
      if (!socket.destroyed) socket.uncork()
    }
  }

  private pump(): void {
    while (!(this.flags & (INFLATING | READING_PAUSED | CLOSE_RECEIVED | CLOSED))) {
      const decoder = this.decoder
      if (decoder === null) return
      const event = decoder.next()
      if (event.type === 'need-data') {
        if (decoder.idle) {
          this.decoder = null
          spareDecoder ??= decoder
        }
        return
      }
      if (event.type === 'error') {
        this.fail(event.error)
        return
      }
      const failure = this.onFrame(event)
      if (failure) {
        this.fail(failure)
        return
      }
    }
  }

  /** The spare decoder if there is one (see spareDecoder), else a new one. */
  private takeDecoder(): FrameDecoder {
    const allowRsv1 = this.options.deflate !== null
    const decoder = spareDecoder
    if (decoder === null) return new FrameDecoder({ expectMasked: true, allowRsv1, maxPayload: this.options.maxMessageBytes })
    spareDecoder = null
    decoder.reuse(allowRsv1, this.options.maxMessageBytes)
    return decoder
  }

  private onFrame(piece: FramePiece): WsError | undefined {
    switch (piece.opcode) {
      case Opcode.PING:
        // RFC 6455 §5.5.2: a Pong with the same payload, at once, even inside a fragmented message.
        if (this.flags & CLOSING) return
        // A peer that pings and does not read the pongs piles them up like any slow reader.
        if (this.bufferedAmount > this.options.maxBufferedBytes) {
          return new WsError(CloseCode.POLICY_VIOLATION, 'SLOW_READER', 'the client does not read what it is sent')
        }
        this.writeFrame(Opcode.PONG, piece.data)
        return
      case Opcode.PONG:
        // Unsolicited pongs are fine (§5.5.3). While closing, the deadline is the close's.
        if (!(this.flags & CLOSING)) this.flags &= ~AWAITING
        return
      case Opcode.CLOSE:
        return this.onCloseFrame(piece.data)
    }
    // After our Close, data is dropped until the peer's Close arrives (§5.5.1).
    if (this.flags & CLOSING) return
    if (piece.first) {
      const continuing = this.message !== null
      if (piece.opcode === Opcode.CONTINUATION) {
        if (!continuing) return new WsError(CloseCode.PROTOCOL_ERROR, 'UNEXPECTED_CONTINUATION', 'a continuation frame with no message to continue')
      } else {
        if (continuing) return new WsError(CloseCode.PROTOCOL_ERROR, 'EXPECTED_CONTINUATION', 'a new message began inside a fragmented one')
        const utf8 = piece.opcode === Opcode.TEXT && !piece.rsv1 ? new Utf8Validator() : null
        this.message = { opcode: piece.opcode, compressed: piece.rsv1, parts: [], bytes: 0, utf8 }
      }
    }
    // Begun by this frame's first piece, or by the message's first frame.
    const message = this.message!
    const data = piece.data
    if (data.length > 0) {
      message.bytes += data.length
      if (message.bytes > this.options.maxMessageBytes) {
        return new WsError(CloseCode.MESSAGE_TOO_BIG, 'MESSAGE_TOO_BIG', `a message of more than ${this.options.maxMessageBytes} bytes`)
      }
      // Fail fast: the piece with the first invalid byte fails the connection (§8.1).
      if (message.utf8 !== null && !message.utf8.write(data)) {
        return new WsError(CloseCode.INVALID_PAYLOAD, 'INVALID_UTF8', 'a text message is not valid UTF-8')
      }
      message.parts.push(data)
    }
    if (piece.last && piece.fin) return this.endMessage(message)
  }

  private endMessage(message: IncomingMessage): WsError | undefined {
    this.message = null
    const isBinary = message.opcode === Opcode.BINARY
    const parts = message.parts
    const payload = parts.length === 0 ? EMPTY : parts.length === 1 ? parts[0] : Buffer.concat(parts, message.bytes)
    if (!message.compressed) {
      if (message.utf8 !== null && !message.utf8.end()) return new WsError(CloseCode.INVALID_PAYLOAD, 'INVALID_UTF8', 'a text message ends inside a UTF-8 sequence')
      this.deliver(payload, isBinary)
      return
    }
    // Nothing more is read until this message is inflated: messages stay in order.
    this.flags |= INFLATING
    this.decompressor().decompress(payload).then(
      (inflated) => {
        this.flags &= ~INFLATING
        if (this.flags & CLOSED) return
        if (!isBinary && !isValidUtf8(inflated)) {
          this.fail(new WsError(CloseCode.INVALID_PAYLOAD, 'INVALID_UTF8', 'a text message is not valid UTF-8'))
          return
        }
        this.deliver(inflated, isBinary)
        this.pump()
      },
      (error: WsError) => {
        this.flags &= ~INFLATING
        this.fail(error)
      },
    )
  }

  private deliver(message: Buffer, isBinary: boolean): void {
    if (this.flags & (CLOSING | CLOSED)) return
    this.handler.onMessage?.(this, message, isBinary)
  }

  // RFC 6455 §5.5.1, §7.4: the code is optional; when present it must be one a peer may send.
  private onCloseFrame(payload: Buffer): WsError | undefined {
    let code: number = CloseCode.NO_STATUS
    let reason = ''
    if (payload.length === 1) return new WsError(CloseCode.PROTOCOL_ERROR, 'BAD_CLOSE_PAYLOAD', 'a Close payload of one byte')
    if (payload.length >= 2) {
      code = payload.readUInt16BE(0)
      if (!isValidCloseCode(code)) return new WsError(CloseCode.PROTOCOL_ERROR, 'BAD_CLOSE_CODE', `close code ${code} may not be sent`)
      const text = payload.subarray(2)
      if (!isValidUtf8(text)) return new WsError(CloseCode.INVALID_PAYLOAD, 'BAD_CLOSE_REASON', 'the close reason is not valid UTF-8')
      reason = text.toString()
    }
    this.flags |= CLOSE_RECEIVED
    this.more().ending = { code, reason }
    // Answer a Close we did not start with one echoing the code, then close TCP first (§7.1.1).
    this.sendClose(code === CloseCode.NO_STATUS ? null : code, '')
    this.flags |= CLOSING
    this.endSocket()
  }

  // ---- writing

  private queueCompressed(opcode: number, payload: Buffer): void {
    const compressed = this.compressor().compress(payload).then(
      (data) => ({ data }),
      () => null,
    )
    this.afterPendingSends(async () => {
      const result = await compressed
      this.pending!.bytes -= payload.length
      if (result === null) {
        this.fail(new WsError(CloseCode.INTERNAL_ERROR, 'DEFLATE_FAILED', 'a message could not be compressed'))
        return
      }
      this.writeMessage(opcode, result.data, true)
      this.checkDrained()
    }, payload.length)
  }

  /**
   * Runs `write` once the sends before it are out; `bytes` of payload count as buffered
   * until it runs. The chain is dropped when it runs dry.
   */
  private afterPendingSends(write: () => void | Promise<void>, bytes = 0): void {
    const extras = this.more()
    const pending = (extras.pending ??= { chain: Promise.resolve(), bytes: 0 })
    pending.bytes += bytes
    const chain: Promise<void> = pending.chain
      .then(write)
      // A frame that could not be made (its compression failed): the connection cannot go on.
      .catch(() => this.fail(new WsError(CloseCode.INTERNAL_ERROR, 'SEND_FAILED', 'a message could not be prepared')))
      .finally(() => {
        if (extras.pending !== null && extras.pending.chain === chain) extras.pending = null
      })
    pending.chain = chain
  }

  private writeMessage(opcode: number, payload: Buffer, compressed: boolean): void {
    if (this.flags & (CLOSING | CLOSED) || !this.socket.writable) return
    if (payload.length <= 16 * 1024) {
      const frame = encodeFrame(opcode, payload, { rsv1: compressed })
      if (tracer.on) tracer.wsSent(this.socket, frame)
      this.socket.write(frame)
    } else {
      // Large: header and payload as two writes in one writev, without copying the payload.
      const header = frameHeader(opcode, payload.length, { rsv1: compressed })
      if (tracer.on) tracer.wsSentParts(this.socket, header, payload)
      this.socket.cork()
      this.socket.write(header)
      this.socket.write(payload)
      this.socket.uncork()
    }
  }

  private writeFrame(opcode: number, payload: Buffer): void {
    this.writeEncoded(encodeFrame(opcode, payload))
  }

  private writeEncoded(frame: Buffer): void {
    if (!this.socket.writable) return
    if (tracer.on) tracer.wsSent(this.socket, frame)
    this.socket.write(frame)
  }

  private sendClose(code: number | null, reason: string): void {
    if (this.flags & CLOSE_SENT) return
    this.flags |= CLOSE_SENT
    // Control frames are not held behind compressed messages: the Close goes now.
    this.writeFrame(Opcode.CLOSE, code === null ? EMPTY : closePayload(code, truncateUtf8(reason, 123)))
  }

  /** Fail the connection (RFC 6455 §7.1.7): a Close with the error's code, then TCP closes. */
  private fail(error: WsError): void {
    if (this.flags & CLOSED) return
    this.sendClose(error.closeCode, error.message)
    if (!(this.flags & CLOSE_RECEIVED)) {
      this.more().ending = { code: error.closeCode === CloseCode.POLICY_VIOLATION ? error.closeCode : CloseCode.ABNORMAL, reason: error.message }
    }
    this.flags |= CLOSE_RECEIVED | CLOSING // nothing more is read
    this.endSocket()
  }

  private endSocket(): void {
    this.socket.end()
    // The peer has the close timeout to read what is still queued (a slow reader cut off with
    // 1008 sees the code only after its backlog) and to close its side.
    this.awaitAnswer(now() + this.options.closeTimeoutMs)
    // Keep reading (and dropping) until the peer closes, so its last bytes do not reset the connection.
    if (this.flags & READING_PAUSED) {
      this.flags &= ~READING_PAUSED
      this.socket.resume()
    }
  }

  // ---- socket events

  socketError(): void {
    this.socket.destroy()
  }

  socketDrain(): void {
    this.checkDrained()
  }

  socketClose(): void {
    if (this.flags & CLOSED) return
    this.flags |= CLOSED
    const extras = this.extras
    if (extras !== null) {
      extras.decompressor?.close()
      extras.compressor?.close()
    }
    this.message = null
    // The peer's Close (1005 when it had no code), our verdict on a failure, or 1006: none at all.
    const ending = this.extras?.ending ?? ABNORMAL_CLOSURE
    this.releaseDrainWaiters()
    this.options.onGone?.(this)
    this.handler.onClose?.(this, ending.code, ending.reason)
  }
}

const EMPTY = Buffer.alloc(0)
/** The heartbeat's ping: the same two bytes to every client, encoded once (sockets do not modify what they write). */
const EMPTY_PING = encodeFrame(Opcode.PING, EMPTY)
const ABNORMAL_CLOSURE = Object.freeze({ code: CloseCode.ABNORMAL, reason: '' })

/** Close codes a peer may send (RFC 6455 §7.4.1, §7.4.2, and the IANA registry through 1014). */
export function isValidCloseCode(code: number): boolean {
  if (code >= 3000 && code <= 4999) return true
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014)
}

/** At most `max` bytes of UTF-8, cut on a character boundary. */
function truncateUtf8(text: string, max: number): string {
  if (Buffer.byteLength(text) <= max) return text
  let cut = text
  while (Buffer.byteLength(cut) > max - 3) cut = cut.slice(0, -1)
  return `${cut}...`
}

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
// Time: the endpoint's sweep calls tick(): idle peers are pinged, peers that do not
// answer are dropped, and a close handshake that is not answered ends with the socket.

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

export class WsSession implements SocketOwner {
  state: SessionState = 'open'
  /** The subprotocol agreed in the handshake. */
  readonly protocol: string | null
  // Codec state exists only while bytes are in flight: an idle connection holds none of it.
  /** Made when bytes arrive, dropped at a frame boundary with nothing buffered. */
  private decoder: FrameDecoder | null = null
  /** Made when a text message starts, dropped when it ends. */
  private utf8: Utf8Validator | null = null
  private readonly compressor: MessageCompressor | null
  private readonly decompressor: MessageDecompressor | null

  // The message being received.
  private messageOpcode = 0
  private messageCompressed = false
  /** The current message's pieces, null between messages. */
  private parts: Buffer[] | null = null
  private messageBytes = 0

  /** Reading waits: a compressed message is being inflated, or the application paused it. */
  private inflating = false
  private readingPaused = false
  /** Sends wait behind a message being compressed; null when none is. */
  private sendChain: Promise<void> | null = null
  private compressingBytes = 0
  /** send() said false: onDrain is owed once the output is below the high-water mark. */
  private drainOwed = false
  /** drained() promises to keep. */
  private drainWaiters: (() => void)[] | null = null

  private closeSent = false
  private closeReceived = false
  private closeCode: number = CloseCode.ABNORMAL
  private closeReason = ''

  // Time, kept as deadlines the sweep checks.
  private lastHeard = now()
  private pongDueAt = 0
  private closeDueAt = 0

  constructor(
    readonly socket: Socket,
    private readonly options: SessionOptions,
    private readonly handler: SessionHandler,
    protocol: string | null = null,
    /** Told when the session has closed (the endpoint forgets it). */
    private readonly onGone: ((session: WsSession) => void) | null = null,
  ) {
    this.protocol = protocol
    const deflate = options.deflate
    this.compressor = deflate ? new MessageCompressor(deflate.serverMaxWindowBits, deflate.serverNoContextTakeover) : null
    this.decompressor = deflate ? new MessageDecompressor(options.maxMessageBytes, deflate.clientNoContextTakeover) : null
    socket.setNoDelay(true)
    attachOwner(socket, this)
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

  // ---- the API a route handler uses

  /** Bytes written but not yet sent, and messages waiting to be compressed. */
  get bufferedAmount(): number {
    return queuedBytes(this.socket) + this.compressingBytes
  }

  /**
   * Sends a text (string) or binary (Buffer) message. Returns false when output is
   * backing up: wait for onDrain. Past maxBufferedBytes the peer is closed with 1008.
   */
  send(data: string | Buffer, binary = typeof data !== 'string'): boolean {
    if (this.state !== 'open') return false
    const payload = typeof data === 'string' ? Buffer.from(data) : data
    if (this.bufferedAmount > this.options.maxBufferedBytes) {
      this.fail(new WsError(CloseCode.POLICY_VIOLATION, 'SLOW_READER', 'the client does not read what it is sent'))
      return false
    }
    const opcode = binary ? Opcode.BINARY : Opcode.TEXT
    if (this.compressor !== null && payload.length >= this.options.deflateThreshold) {
      this.queueCompressed(opcode, payload)
    } else if (this.sendChain !== null) {
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
    if (this.state !== 'open') return false
    if (this.bufferedAmount > this.options.maxBufferedBytes) {
      this.fail(new WsError(CloseCode.POLICY_VIOLATION, 'SLOW_READER', 'the client does not read what it is sent'))
      return false
    }
    if (frame instanceof Promise) {
      this.compressingBytes += bytes
      this.afterPendingSends(async () => {
        const ready = await frame
        this.compressingBytes -= bytes
        this.writeRaw(ready)
        this.checkDrained()
      })
    } else if (this.sendChain !== null) this.afterPendingSends(() => this.writeRaw(frame))
    else this.writeRaw(frame)
    return this.belowHighWater()
  }

  /** Writes made during this turn of the event loop leave together at its end (see write-batch.ts). */
  batchThisTurn(): void {
    batchThisTurn(this.socket)
  }

  /** Resolves when the output is below the high-water mark again (or the session is over). */
  drained(): Promise<void> {
    if (this.state !== 'open' || this.bufferedAmount < HIGH_WATER) return Promise.resolve()
    this.drainOwed = true
    return new Promise((resolve) => (this.drainWaiters ??= []).push(resolve))
  }

  private writeRaw(frame: Buffer): void {
    if (this.state !== 'open' || this.socket.destroyed) return
    if (tracer.on) tracer.wsSent(this.socket, frame)
    this.socket.write(frame)
  }

  /** Whether more may be sent now; if not, onDrain is owed and will come. */
  private belowHighWater(): boolean {
    if (this.bufferedAmount < HIGH_WATER) return true
    this.drainOwed = true
    return false
  }

  /** Pays the owed onDrain once the socket and the compressor have both caught up. */
  private checkDrained(): void {
    if (!this.drainOwed || this.state !== 'open') return
    if (this.bufferedAmount >= HIGH_WATER || this.socket.writableNeedDrain) return
    this.drainOwed = false
    this.releaseDrainWaiters()
    this.handler.onDrain?.(this)
  }

  private releaseDrainWaiters(): void {
    const waiters = this.drainWaiters
    this.drainWaiters = null
    if (waiters !== null) for (const resolve of waiters) resolve()
  }

  ping(payload: Buffer = EMPTY): void {
    if (this.state === 'open') this.writeFrame(Opcode.PING, payload)
  }

  /** Starts the closing handshake (RFC 6455 §7.1.2): sends Close and waits for the peer's. */
  close(code: number = CloseCode.NORMAL, reason = ''): void {
    if (this.state !== 'open') return
    this.sendClose(code, reason)
    this.state = 'closing'
    this.closeDueAt = now() + this.options.closeTimeoutMs
  }

  /** Stops reading the peer (its messages wait in the socket) until resumeReading(). */
  pauseReading(): void {
    this.readingPaused = true
    this.socket.pause()
  }

  resumeReading(): void {
    if (!this.readingPaused) return
    this.readingPaused = false
    if (this.state !== 'closed') this.socket.resume()
    this.pump()
  }

  /** Called by the endpoint's sweep with the time (../clock.ts): heartbeat and timeouts. */
  tick(time: number): void {
    if (this.state === 'closed') return
    if (this.closeDueAt !== 0 && time >= this.closeDueAt) {
      // The peer did not answer our Close, or did not close TCP after the handshake.
      this.socket.destroy()
      return
    }
    if (this.state !== 'open') return
    if (this.pongDueAt !== 0) {
      if (time >= this.pongDueAt) this.socket.destroy() // a dead peer: half-open TCP must not live on
      return
    }
    if (time - this.lastHeard >= this.options.pingIntervalMs) {
      this.writeFrame(Opcode.PING, EMPTY)
      this.pongDueAt = time + this.options.pongTimeoutMs
    }
  }

  // ---- reading

  socketData(chunk: Buffer): void {
    if (this.closeReceived || this.state === 'closed') return
    this.lastHeard = now()
    // Before the decoder unmasks the bytes in place.
    if (tracer.on) tracer.wsReceived(this.socket, chunk, this.decoder === null || this.decoder.idle)
    ;(this.decoder ??= new FrameDecoder({ expectMasked: true, allowRsv1: this.options.deflate !== null, maxPayload: this.options.maxMessageBytes })).feed(chunk)
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
    while (!this.inflating && !this.readingPaused && !this.closeReceived && this.state !== 'closed') {
      const decoder = this.decoder
      if (decoder === null) return
      const event = decoder.next()
      if (event.type === 'need-data') {
        if (decoder.idle) this.decoder = null
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

  private onFrame(piece: FramePiece): WsError | undefined {
    switch (piece.opcode) {
      case Opcode.PING:
        // RFC 6455 §5.5.2: a Pong with the same payload, at once, even inside a fragmented message.
        if (this.state !== 'open') return
        // A peer that pings and does not read the pongs piles them up like any slow reader.
        if (this.bufferedAmount > this.options.maxBufferedBytes) {
          return new WsError(CloseCode.POLICY_VIOLATION, 'SLOW_READER', 'the client does not read what it is sent')
        }
        this.writeFrame(Opcode.PONG, piece.data)
        return
      case Opcode.PONG:
        this.pongDueAt = 0 // unsolicited pongs are fine (§5.5.3)
        return
      case Opcode.CLOSE:
        return this.onCloseFrame(piece.data)
    }
    // After our Close, data is dropped until the peer's Close arrives (§5.5.1).
    if (this.state !== 'open') return
    if (piece.first) {
      const continuing = this.messageOpcode !== 0
      if (piece.opcode === Opcode.CONTINUATION) {
        if (!continuing) return new WsError(CloseCode.PROTOCOL_ERROR, 'UNEXPECTED_CONTINUATION', 'a continuation frame with no message to continue')
      } else {
        if (continuing) return new WsError(CloseCode.PROTOCOL_ERROR, 'EXPECTED_CONTINUATION', 'a new message began inside a fragmented one')
        this.messageOpcode = piece.opcode
        this.messageCompressed = piece.rsv1
        if (piece.opcode === Opcode.TEXT && !piece.rsv1) this.utf8 = new Utf8Validator()
      }
    }
    const data = piece.data
    if (data.length > 0) {
      this.messageBytes += data.length
      if (this.messageBytes > this.options.maxMessageBytes) {
        return new WsError(CloseCode.MESSAGE_TOO_BIG, 'MESSAGE_TOO_BIG', `a message of more than ${this.options.maxMessageBytes} bytes`)
      }
      // Fail fast: the piece with the first invalid byte fails the connection (§8.1).
      if (this.utf8 !== null && !this.utf8.write(data)) {
        return new WsError(CloseCode.INVALID_PAYLOAD, 'INVALID_UTF8', 'a text message is not valid UTF-8')
      }
      if (this.parts === null) this.parts = [data]
      else this.parts.push(data)
    }
    if (piece.last && piece.fin) return this.endMessage()
  }

  private endMessage(): WsError | undefined {
    const isBinary = this.messageOpcode === Opcode.BINARY
    const compressed = this.messageCompressed
    const parts = this.parts
    const payload = parts === null ? EMPTY : parts.length === 1 ? parts[0] : Buffer.concat(parts, this.messageBytes)
    const utf8 = this.utf8
    this.parts = null
    this.utf8 = null
    this.messageBytes = 0
    this.messageOpcode = 0
    this.messageCompressed = false
    if (!compressed) {
      if (utf8 !== null && !utf8.end()) return new WsError(CloseCode.INVALID_PAYLOAD, 'INVALID_UTF8', 'a text message ends inside a UTF-8 sequence')
      this.deliver(payload, isBinary)
      return
    }
    // Nothing more is read until this message is inflated: messages stay in order.
    this.inflating = true
    this.decompressor!.decompress(payload).then(
      (message) => {
        this.inflating = false
        if (this.state === 'closed') return
        if (!isBinary && !isValidUtf8(message)) {
          this.fail(new WsError(CloseCode.INVALID_PAYLOAD, 'INVALID_UTF8', 'a text message is not valid UTF-8'))
          return
        }
        this.deliver(message, isBinary)
        this.pump()
      },
      (error: WsError) => {
        this.inflating = false
        this.fail(error)
      },
    )
  }

  private deliver(message: Buffer, isBinary: boolean): void {
    if (this.state !== 'open') return
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
    this.closeReceived = true
    this.closeCode = code
    this.closeReason = reason
    // Answer a Close we did not start with one echoing the code, then close TCP first (§7.1.1).
    if (!this.closeSent) this.sendClose(code === CloseCode.NO_STATUS ? null : code, '')
    this.state = 'closing'
    this.endSocket()
  }

  // ---- writing

  private queueCompressed(opcode: number, payload: Buffer): void {
    this.compressingBytes += payload.length
    const compressed = this.compressor!.compress(payload).then(
      (data) => ({ data }),
      () => null,
    )
    this.afterPendingSends(async () => {
      const result = await compressed
      this.compressingBytes -= payload.length
      if (result === null) {
        this.fail(new WsError(CloseCode.INTERNAL_ERROR, 'DEFLATE_FAILED', 'a message could not be compressed'))
        return
      }
      this.writeMessage(opcode, result.data, true)
      this.checkDrained()
    })
  }

  /** Runs `write` once the sends before it are out; the chain is dropped when it runs dry. */
  private afterPendingSends(write: () => void | Promise<void>): void {
    const chain: Promise<void> = (this.sendChain ?? Promise.resolve())
      .then(write)
      // A frame that could not be made (its compression failed): the connection cannot go on.
      .catch(() => this.fail(new WsError(CloseCode.INTERNAL_ERROR, 'SEND_FAILED', 'a message could not be prepared')))
      .finally(() => {
        if (this.sendChain === chain) this.sendChain = null
      })
    this.sendChain = chain
  }

  private writeMessage(opcode: number, payload: Buffer, compressed: boolean): void {
    if (this.state !== 'open' || this.socket.destroyed) return
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
    if (this.socket.destroyed) return
    const frame = encodeFrame(opcode, payload)
    if (tracer.on) tracer.wsSent(this.socket, frame)
    this.socket.write(frame)
  }

  private sendClose(code: number | null, reason: string): void {
    if (this.closeSent) return
    this.closeSent = true
    // Control frames are not held behind compressed messages: the Close goes now.
    this.writeFrame(Opcode.CLOSE, code === null ? EMPTY : closePayload(code, truncateUtf8(reason, 123)))
  }

  /** Fail the connection (RFC 6455 §7.1.7): a Close with the error's code, then TCP closes. */
  private fail(error: WsError): void {
    if (this.state === 'closed') return
    if (!this.closeSent) this.sendClose(error.closeCode, error.message)
    if (!this.closeReceived) {
      this.closeCode = error.closeCode === CloseCode.POLICY_VIOLATION ? error.closeCode : CloseCode.ABNORMAL
      this.closeReason = error.message
    }
    this.closeReceived = true // nothing more is read
    this.state = 'closing'
    this.endSocket()
  }

  private endSocket(): void {
    this.socket.end()
    // The peer has the close timeout to read what is still queued (a slow reader cut off with
    // 1008 sees the code only after its backlog) and to close its side.
    this.closeDueAt = now() + this.options.closeTimeoutMs
    // Keep reading (and dropping) until the peer closes, so its last bytes do not reset the connection.
    if (this.readingPaused) {
      this.readingPaused = false
      this.socket.resume()
    }
  }

  // ---- socket events

  socketEnd(): void {
    // The peer closed its side. Without a Close frame first, that is an abnormal closure (1006).
    if (this.state === 'open') this.state = 'closing'
    this.socket.end()
  }

  socketError(): void {
    this.socket.destroy()
  }

  socketDrain(): void {
    this.checkDrained()
  }

  socketClose(): void {
    if (this.state === 'closed') return
    this.state = 'closed'
    this.decompressor?.close()
    this.compressor?.close()
    this.parts = null
    const code = this.closeReceived || this.closeSent ? this.closeCode : CloseCode.ABNORMAL
    this.releaseDrainWaiters()
    this.onGone?.(this)
    this.handler.onClose?.(this, code, this.closeReason)
  }
}

const EMPTY = Buffer.alloc(0)

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

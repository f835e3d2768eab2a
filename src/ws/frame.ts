// The WebSocket frame codec (RFC 6455 §5.2), pure: bytes in, frames out, and back.
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-------+-+-------------+-------------------------------+
//   |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//   |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//   |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//   | |1|2|3|       |K|             |                               |
//   +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//   |     Extended payload length continued, if payload len == 127  |
//   + - - - - - - - - - - - - - - - +-------------------------------+
//   |                               | Masking-key, if MASK set to 1 |
//   +-------------------------------+-------------------------------+
//   | Masking-key (continued)       |          Payload Data         |
//   +-------------------------------- - - - - - - - - - - - - - - - +
//
// The decoder is fed bytes of any size, one at a time included, and hands out the
// payload in pieces as it arrives (so a text message can be checked as it comes), each
// piece unmasked in place. A data frame whose payload is all there comes out as one
// piece. Control frames always come out whole (they are at most 125 bytes).
// Every rule it enforces fails with the close code the session sends.

import { Buffer } from 'node:buffer'
import { carryOver } from '../bytes.ts'
import { CloseCode, WsError } from './errors.ts'

export const Opcode = {
  CONTINUATION: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const

export function isControl(opcode: number): boolean {
  return (opcode & 0x8) !== 0
}

export interface DecoderOptions {
  /** RFC 6455 §5.1: a server expects masked frames, a client unmasked ones. */
  expectMasked: boolean
  /** RSV1 marks a compressed message: allowed only when permessage-deflate was negotiated (RFC 7692 §6). */
  allowRsv1: boolean
  /** The largest payload one frame may declare; past it, 1009 before any of it is read. */
  maxPayload: number
}

/** A piece of one frame's payload, unmasked. */
export interface FramePiece {
  readonly type: 'frame'
  readonly fin: boolean
  readonly rsv1: boolean
  readonly opcode: number
  /** The frame's whole payload length, as declared. */
  readonly length: number
  /** These bytes of the payload: a view into the fed bytes (unmasked in place). */
  readonly data: Buffer
  /** The first piece of the frame (its header has just been read). */
  readonly first: boolean
  /** The last piece of the frame. */
  readonly last: boolean
}

export interface DecodeFailure {
  readonly type: 'error'
  readonly error: WsError
}

export type DecoderEvent = FramePiece | DecodeFailure | { readonly type: 'need-data' }

const NEED_DATA = Object.freeze({ type: 'need-data' as const })
const EMPTY = Buffer.alloc(0)

// What the decoder waits for.
const enum State {
  Header, // the first two bytes
  Length16, // a 16-bit extended length
  Length64, // a 64-bit extended length
  MaskKey, // the 4-byte masking key
  Payload, // payload bytes of a data frame
  ControlPayload, // the payload of a control frame, gathered whole
  Failed,
}

export class FrameDecoder {
  private state = State.Header
  private input: Buffer = EMPTY
  private pos = 0
  /** Header (or control payload) bytes gathered across feeds; made when first needed. */
  private scratch: Buffer | null = null
  private gathered = 0
  /** Where take() found the bytes it asked for: the input, or the scratch buffer. */
  private taken: Buffer = EMPTY
  private failure: DecodeFailure | null = null

  // The frame being read.
  private fin = false
  private rsv1 = false
  private opcode = 0
  private masked = false
  private length = 0
  private remaining = 0
  /**
   * The masking key's four bytes as one signed 32-bit integer, first byte highest: a number
   * (a small integer to V8), not a Buffer, so reading a frame's header allocates nothing.
   */
  private maskKey = 0
  private maskOffset = 0
  private firstPiece = true
  private readonly expectMasked: boolean
  private maxPayload: number
  /** RSV1 is allowed: set once permessage-deflate is in use. */
  allowRsv1: boolean

  constructor(options: DecoderOptions) {
    this.expectMasked = options.expectMasked
    this.maxPayload = options.maxPayload
    this.allowRsv1 = options.allowRsv1
  }

  /** The bytes must be the caller's to change: payloads are unmasked in place. */
  feed(chunk: Buffer): void {
    if (this.state === State.Failed) return
    this.input = carryOver(this.input, this.pos, chunk)
    this.taken = EMPTY // what take() found is read at once; kept here, an old input would stay alive
    this.pos = 0
  }

  /** Bytes fed but not yet consumed. */
  get buffered(): number {
    return this.input.length - this.pos
  }

  /** Between frames with nothing held: the decoder could be dropped and a new one would carry on. */
  get idle(): boolean {
    return this.state === State.Header && this.gathered === 0 && this.pos === this.input.length
  }

  /**
   * Sets an idle decoder up to read another connection's frames, with that connection's
   * limits; which side it decodes for (expectMasked) stays.
   */
  reuse(allowRsv1: boolean, maxPayload: number): void {
    if (!this.idle) throw new Error('only an idle decoder can be reused')
    this.allowRsv1 = allowRsv1
    this.maxPayload = maxPayload
  }

  next(): DecoderEvent {
    for (;;) {
      switch (this.state) {
        case State.Header: {
          const at = this.take(2)
          if (at === -1) return this.needData()
          const failed = this.readHeader(this.taken[at], this.taken[at + 1])
          if (failed) return failed
          break
        }
        case State.Length16: {
          const at = this.take(2)
          if (at === -1) return this.needData()
          const failed = this.setLength(this.taken.readUInt16BE(at))
          if (failed) return failed
          break
        }
        case State.Length64: {
          const at = this.take(8)
          if (at === -1) return this.needData()
          const high = this.taken.readUInt32BE(at)
          // RFC 6455 §5.2: "the most significant bit MUST be 0".
          if (high >= 0x80000000) return this.fail(CloseCode.PROTOCOL_ERROR, 'LENGTH_TOP_BIT', 'a 64-bit payload length with its top bit set')
          const failed = this.setLength(high * 0x1_0000_0000 + this.taken.readUInt32BE(at + 4))
          if (failed) return failed
          break
        }
        case State.MaskKey: {
          const at = this.take(4)
          if (at === -1) return this.needData()
          this.maskKey = this.taken.readInt32BE(at)
          this.startPayload()
          break
        }
        case State.Payload:
          return this.readPayload()
        case State.ControlPayload: {
          const length = this.length
          const at = this.take(length)
          if (at === -1) return this.needData()
          // Copied out: the input is the caller's, and the scratch buffer is reused for the next frame.
          let data = EMPTY
          if (length > 0) {
            data = Buffer.allocUnsafe(length)
            this.taken.copy(data, 0, at, at + length)
            if (this.masked) unmaskWithKey(data, this.maskKey, 0)
          }
          this.state = State.Header
          return this.piece(data, true, true)
        }
        case State.Failed:
          return this.failure!
      }
    }
  }

  private readHeader(b0: number, b1: number): DecodeFailure | undefined {
    this.fin = (b0 & 0x80) !== 0
    this.rsv1 = (b0 & 0x40) !== 0
    this.opcode = b0 & 0x0f
    this.masked = (b1 & 0x80) !== 0
    const length7 = b1 & 0x7f
    const opcode = this.opcode
    const control = isControl(opcode)

    if ((b0 & 0x30) !== 0) return this.fail(CloseCode.PROTOCOL_ERROR, 'RSV_SET', 'RSV2 or RSV3 is set, and no extension defines them')
    if (opcode > Opcode.BINARY && !control) return this.fail(CloseCode.PROTOCOL_ERROR, 'RESERVED_OPCODE', `opcode ${opcode} is reserved`)
    if (opcode > Opcode.PONG) return this.fail(CloseCode.PROTOCOL_ERROR, 'RESERVED_OPCODE', `opcode ${opcode} is reserved`)
    if (this.rsv1 && (!this.allowRsv1 || control || opcode === Opcode.CONTINUATION)) {
      // RFC 7692 §6.1: RSV1 only on the first frame of a compressed data message.
      return this.fail(CloseCode.PROTOCOL_ERROR, 'RSV1_SET', 'RSV1 is set where no compression was negotiated for this frame')
    }
    if (control && !this.fin) return this.fail(CloseCode.PROTOCOL_ERROR, 'FRAGMENTED_CONTROL', 'control frames must not be fragmented (RFC 6455 §5.5)')
    if (control && length7 > 125) return this.fail(CloseCode.PROTOCOL_ERROR, 'CONTROL_TOO_LONG', 'control frames carry 125 bytes or less (RFC 6455 §5.5)')
    if (this.masked !== this.expectMasked) {
      return this.expectMasked
        ? this.fail(CloseCode.PROTOCOL_ERROR, 'UNMASKED_FRAME', 'a client must mask every frame it sends (RFC 6455 §5.1)')
        : this.fail(CloseCode.PROTOCOL_ERROR, 'MASKED_FRAME', 'a server must not mask its frames (RFC 6455 §5.1)')
    }
    if (length7 === 126) this.state = State.Length16
    else if (length7 === 127) this.state = State.Length64
    else return this.setLength(length7)
  }

  private setLength(length: number): DecodeFailure | undefined {
    if (length > this.maxPayload) {
      return this.fail(CloseCode.MESSAGE_TOO_BIG, 'FRAME_TOO_BIG', `a frame of ${length} bytes is over the ${this.maxPayload}-byte limit`)
    }
    this.length = length
    if (this.masked) this.state = State.MaskKey
    else this.startPayload()
  }

  private startPayload(): void {
    this.remaining = this.length
    this.maskOffset = 0
    this.firstPiece = true
    this.state = isControl(this.opcode) ? State.ControlPayload : State.Payload
  }

  private readPayload(): DecoderEvent {
    const available = this.input.length - this.pos
    if (available === 0 && this.remaining > 0) return this.needData()
    const n = available < this.remaining ? available : this.remaining
    const data = this.input.subarray(this.pos, this.pos + n)
    this.pos += n
    this.remaining -= n
    if (this.masked && n > 0) {
      unmaskWithKey(data, this.maskKey, this.maskOffset)
      this.maskOffset = (this.maskOffset + n) & 3
    }
    const first = this.firstPiece
    this.firstPiece = false
    const last = this.remaining === 0
    if (last) this.state = State.Header
    return this.piece(data, first, last)
  }

  private piece(data: Buffer, first: boolean, last: boolean): FramePiece {
    return { type: 'frame', fin: this.fin, rsv1: this.rsv1, opcode: this.opcode, length: this.length, data, first, last }
  }

  /**
   * The next n bytes of a header (or a control payload): where they start in `this.taken`,
   * which is the input when they are all there, else the scratch buffer they were gathered
   * into across feeds. -1: wait for more. No view is made: a frame's header costs no object.
   */
  private take(n: number): number {
    const available = this.input.length - this.pos
    if (this.gathered === 0 && available >= n) {
      this.taken = this.input
      this.pos += n
      return this.pos - n
    }
    const scratch = (this.scratch ??= Buffer.allocUnsafe(125))
    const copied = Math.min(n - this.gathered, available)
    this.input.copy(scratch, this.gathered, this.pos, this.pos + copied)
    this.pos += copied
    this.gathered += copied
    if (this.gathered < n) return -1
    this.gathered = 0
    this.taken = scratch
    return 0
  }

  /** Everything fed is consumed: let go of the input, so an idle connection holds no buffer. */
  private needData(): DecoderEvent {
    if (this.pos === this.input.length) {
      this.input = EMPTY
      this.taken = EMPTY
      this.pos = 0
    }
    return NEED_DATA
  }

  private fail(closeCode: number, code: string, message: string): DecodeFailure {
    this.failure = { type: 'error', error: new WsError(closeCode, code, message) }
    this.state = State.Failed
    this.input = EMPTY
    this.taken = EMPTY
    this.pos = 0
    return this.failure
  }
}

/** XORs data with the 4-byte key, starting at `offset` into the key (RFC 6455 §5.3). */
export function unmask(data: Uint8Array, key: Uint8Array, offset: number): void {
  unmaskWithKey(data, (key[0] << 24) | (key[1] << 16) | (key[2] << 8) | key[3], offset)
}

/** unmask() with the key as a 32-bit integer, its first byte highest. */
function unmaskWithKey(data: Uint8Array, key: number, offset: number): void {
  // The key byte for data[0] is byte (offset & 3) of the key: rotate the key so it comes first.
  const shift = (offset & 3) * 8
  const rotated = shift === 0 ? key : (key << shift) | (key >>> (32 - shift))
  const k0 = (rotated >>> 24) & 0xff
  const k1 = (rotated >>> 16) & 0xff
  const k2 = (rotated >>> 8) & 0xff
  const k3 = rotated & 0xff
  const length = data.length
  const whole = length & ~3
  let i = 0
  for (; i < whole; i += 4) {
    data[i] ^= k0
    data[i + 1] ^= k1
    data[i + 2] ^= k2
    data[i + 3] ^= k3
  }
  if (i < length) data[i] ^= k0
  if (i + 1 < length) data[i + 1] ^= k1
  if (i + 2 < length) data[i + 2] ^= k2
}

export interface EncodeOptions {
  fin?: boolean
  rsv1?: boolean
  /** A client's 4-byte masking key. Servers never mask (RFC 6455 §5.1). */
  mask?: Uint8Array
}

/** The header of a frame: 2 to 14 bytes, with the shortest length encoding (RFC 6455 §5.2). */
export function frameHeader(opcode: number, length: number, options: EncodeOptions = {}): Buffer {
  const { fin = true, rsv1 = false, mask } = options
  const extended = length <= 125 ? 0 : length <= 0xffff ? 2 : 8
  const header = Buffer.allocUnsafe(2 + extended + (mask ? 4 : 0))
  header[0] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode
  const maskBit = mask ? 0x80 : 0
  if (extended === 0) {
    header[1] = maskBit | length
  } else if (extended === 2) {
    header[1] = maskBit | 126
    header.writeUInt16BE(length, 2)
  } else {
    header[1] = maskBit | 127
    header.writeUInt32BE(Math.floor(length / 0x1_0000_0000), 2)
    header.writeUInt32BE(length >>> 0, 6)
  }
  if (mask) header.set(mask.subarray(0, 4), 2 + extended)
  return header
}

/**
 * A whole frame in one Buffer (header and payload copied together). Encode a broadcast
 * message once and write the same Buffer to every socket.
 */
export function encodeFrame(opcode: number, payload: Uint8Array, options: EncodeOptions = {}): Buffer {
  const header = frameHeader(opcode, payload.length, options)
  const frame = Buffer.allocUnsafe(header.length + payload.length)
  header.copy(frame, 0)
  frame.set(payload, header.length)
  if (options.mask) unmask(frame.subarray(header.length), options.mask, 0)
  return frame
}

/** The payload of a close frame: a 2-byte code and a UTF-8 reason of 123 bytes at most (RFC 6455 §5.5.1). */
export function closePayload(code: number, reason = ''): Buffer {
  const text = Buffer.from(reason)
  if (text.length > 123) throw new RangeError('a close reason is at most 123 bytes')
  const payload = Buffer.allocUnsafe(2 + text.length)
  payload.writeUInt16BE(code, 0)
  text.copy(payload, 2)
  return payload
}

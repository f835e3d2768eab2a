// Cuts a stream of WebSocket bytes into frames for showing them, pure: bytes in (any
// size, as TCP delivered them), one record per complete frame out, whatever the reads.
//
// It validates nothing (the session's FrameDecoder does that): it reads only what it
// needs to find where a frame ends (RFC 6455 §5.2: the 7-bit length, or 126 and a 16-bit
// length, or 127 and a 64-bit one; 4 more bytes when MASK is set) and keeps the header and
// the first bytes of the payload, enough to annotate, so that tracing a 16 MiB frame does
// not hold 16 MiB.

import { Buffer } from 'node:buffer'
import { SHOWN_BYTES } from './annotate.ts'

/** Payload bytes kept per frame: what is shown, and a few more to end a UTF-8 character. */
const KEPT_PAYLOAD = SHOWN_BYTES + 4

export interface SplitFrame {
  /** The header and the first bytes of the payload (all of it when short): annotateWsFramePrefix(prefix). */
  readonly prefix: Buffer
  /** The frame's bytes on the wire, header included. */
  readonly size: number
  /** The prefix is the whole frame. */
  readonly whole: boolean
}

// What the splitter waits for.
const enum State {
  Header, // the first two bytes, then the rest of the header they announce
  Payload, // the payload: the first bytes kept, the rest counted
}

export class FrameSplitter {
  private state = State.Header
  /** The frame being read: header and kept payload bytes. */
  private kept: Buffer = Buffer.allocUnsafe(14 + KEPT_PAYLOAD)
  private keptLength = 0
  private headerLength = 2
  private payloadLeft = 0
  private size = 0

  /** The frames that `chunk` completes, in order. */
  push(chunk: Buffer): SplitFrame[] {
    const frames: SplitFrame[] = []
    let at = 0
    while (at < chunk.length) {
      if (this.state === State.Header) {
        const need = this.headerLength - this.keptLength
        const n = Math.min(need, chunk.length - at)
        chunk.copy(this.kept, this.keptLength, at, at + n)
        this.keptLength += n
        at += n
        if (this.keptLength < this.headerLength) continue
        if (this.headerLength === 2) {
          // The first two bytes say how long the header is.
          const length7 = this.kept[1] & 0x7f
          this.headerLength = 2 + (length7 === 126 ? 2 : length7 === 127 ? 8 : 0) + ((this.kept[1] & 0x80) !== 0 ? 4 : 0)
          if (this.keptLength < this.headerLength) continue
        }
        const length7 = this.kept[1] & 0x7f
        this.payloadLeft =
          length7 === 126 ? this.kept.readUInt16BE(2) : length7 === 127 ? this.kept.readUInt32BE(2) * 0x1_0000_0000 + this.kept.readUInt32BE(6) : length7
        this.size = this.headerLength + this.payloadLeft
        this.state = State.Payload
      }
      const n = Math.min(this.payloadLeft, chunk.length - at)
      const keep = Math.min(n, this.headerLength + KEPT_PAYLOAD - this.keptLength)
      if (keep > 0) {
        chunk.copy(this.kept, this.keptLength, at, at + keep)
        this.keptLength += keep
      }
      at += n
      this.payloadLeft -= n
      if (this.payloadLeft === 0) frames.push(this.finish())
    }
    return frames
  }

  /** Between frames: nothing of a frame is held. */
  get idle(): boolean {
    return this.state === State.Header && this.keptLength === 0
  }

  private finish(): SplitFrame {
    const prefix = Buffer.from(this.kept.subarray(0, this.keptLength))
    const frame = { prefix, size: this.size, whole: prefix.length === this.size }
    this.state = State.Header
    this.keptLength = 0
    this.headerLength = 2
    this.size = 0
    return frame
  }
}

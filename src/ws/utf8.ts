// An incremental UTF-8 validator (RFC 3629) for text messages that arrive in pieces:
// frames, fragments, and reads of the socket. It fails on the piece that holds the
// first invalid byte, not at the end of the message (RFC 6455 §8.1: fail fast).
//
// Well-formed sequences (RFC 3629 §4):
//
//   lead     1st next   2nd next   3rd next
//   00-7F
//   C2-DF    80-BF
//   E0       A0-BF      80-BF                 (no overlong 3-byte forms)
//   E1-EC    80-BF      80-BF
//   ED       80-9F      80-BF                 (no surrogates U+D800-DFFF)
//   EE-EF    80-BF      80-BF
//   F0       90-BF      80-BF      80-BF      (no overlong 4-byte forms)
//   F1-F3    80-BF      80-BF      80-BF
//   F4       80-8F      80-BF      80-BF      (nothing above U+10FFFF)
//
// The bulk of each piece is checked by node's isUtf8 (native, vectorised); only the
// sequence split across two pieces is followed byte by byte, with the table above.

import { isUtf8 } from 'node:buffer'

export class Utf8Validator {
  /** Continuation bytes still owed by a sequence that began in an earlier piece. */
  private owed = 0
  /** The range the next continuation byte must fall in (the first may be narrower). */
  private low = 0x80
  private high = 0xbf

  /** Checks the next piece of the text. False as soon as it cannot be UTF-8. */
  write(bytes: Uint8Array): boolean {
    const end = bytes.length
    let i = 0
    // Finish the sequence the previous piece ended inside.
    while (this.owed > 0 && i < end) {
      const byte = bytes[i++]
      if (byte < this.low || byte > this.high) return false
      this.low = 0x80
      this.high = 0xbf
      this.owed--
    }
    if (i === end) return true

    // Find where an unfinished sequence at the end of this piece begins (at most 3 bytes back).
    let tail = end
    for (let back = end - 1; back >= i && back >= end - 3; back--) {
      const byte = bytes[back]
      if (byte < 0x80) break
      if (byte >= 0xc0) {
        if (end - back < sequenceLength(byte)) tail = back
        break
      }
    }
    if (tail > i && !isShortAscii(bytes, i, tail) && !isUtf8(bytes.subarray(i, tail))) return false

    // The unfinished sequence: check what there is of it and remember what it owes.
    if (tail < end) {
      const lead = bytes[tail]
      if (lead < 0xc2 || lead > 0xf4) return false
      this.owed = sequenceLength(lead) - 1
      this.low = lead === 0xe0 ? 0xa0 : lead === 0xf0 ? 0x90 : 0x80
      this.high = lead === 0xed ? 0x9f : lead === 0xf4 ? 0x8f : 0xbf
      for (let j = tail + 1; j < end; j++) {
        const byte = bytes[j]
        if (byte < this.low || byte > this.high) return false
        this.low = 0x80
        this.high = 0xbf
        this.owed--
      }
    }
    return true
  }

  /** The text ended. False if it ended inside a sequence. Ready for the next text after. */
  end(): boolean {
    const complete = this.owed === 0
    this.reset()
    return complete
  }

  reset(): void {
    this.owed = 0
    this.low = 0x80
    this.high = 0xbf
  }
}

/** Whether a complete text (a close reason, a whole message) is UTF-8. */
export function isValidUtf8(bytes: Uint8Array): boolean {
  return isShortAscii(bytes, 0, bytes.length) || isUtf8(bytes)
}

function sequenceLength(lead: number): number {
  return lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2
}

/** True for a short run of ASCII, which is cheaper to check here than with a call into native code. */
function isShortAscii(bytes: Uint8Array, start: number, end: number): boolean {
  if (end - start > 64) return false
  for (let i = start; i < end; i++) if (bytes[i] >= 0x80) return false
  return true
}

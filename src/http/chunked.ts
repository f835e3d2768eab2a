// The chunked transfer coding, sending side (RFC 9112 §7.1):
//
//   chunk      = chunk-size CRLF chunk-data CRLF        e.g.  "b\r\nhello world\r\n"
//   last-chunk = "0" CRLF, then an empty trailer section: "0\r\n\r\n"
//
// Pure: bytes in, bytes out. A chunk is encoded into one Buffer so that a message
// broadcast to many streams is framed once and the same Buffer written to each.
// (Decoding lives in the request parser, whose trailer section reuses its field lines.)

import { Buffer } from 'node:buffer'

const CRLF = '\r\n'

/** The terminating chunk with an empty trailer section. */
export const LAST_CHUNK: Buffer = Buffer.from('0\r\n\r\n', 'latin1')

/** One chunk holding `data`. Empty data would read as the last chunk, so it is refused. */
export function encodeChunk(data: Buffer | string): Buffer {
  const length = typeof data === 'string' ? Buffer.byteLength(data) : data.length
  if (length === 0) throw new RangeError('an empty chunk would end the body; send LAST_CHUNK to end it')
  const size = length.toString(16)
  const out = Buffer.allocUnsafe(size.length + 2 + length + 2)
  let at = out.write(size + CRLF, 0, 'latin1')
  at += typeof data === 'string' ? out.write(data, at, 'utf8') : data.copy(out, at)
  out.write(CRLF, at, 'latin1')
  return out
}

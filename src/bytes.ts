// What the incremental codecs (the HTTP parser, the WebSocket frame decoder) share.

import { Buffer } from 'node:buffer'

/** The bytes a codec has not consumed yet, then the new ones: its input after a feed. */
export function carryOver(input: Buffer, consumed: number, chunk: Buffer): Buffer {
  return consumed < input.length ? Buffer.concat([input.subarray(consumed), chunk]) : chunk
}

// Transcripts of docs/08-websocket-frames.md: the frames (RFC 6455 §5), UTF-8, the channel
// route's envelopes, permessage-deflate on the wire (RFC 7692), and the errors.

import { Opcode, SAMPLE_KEY, SAMPLE_MASK, type Connection, type Transcript } from '../recorder.ts'
import type { Scenario } from '../transcripts.ts'
import { encodeFrame, frameHeader } from '../../../src/ws/frame.ts'

const HOST = 'Host: 127.0.0.1:8080\r\n'

/** Opens a WebSocket on `path`; the handshake is shown unless `quiet` (then only noted). */
async function open(t: Transcript, path: string, options: { extensions?: string; quiet?: boolean } = {}): Promise<Connection> {
  const c = await t.connect()
  const extensions = options.extensions === undefined ? '' : `Sec-WebSocket-Extensions: ${options.extensions}\r\n`
  const request = `GET ${path} HTTP/1.1\r\n${HOST}Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${SAMPLE_KEY}\r\nSec-WebSocket-Version: 13\r\n${extensions}\r\n`
  if (options.quiet) {
    await c.quietly(async () => {
      c.send(request)
      await c.head()
    })
    t.note(`handshake: GET ${path}${options.extensions ? ` with ${options.extensions}` : ''}, 101 Switching Protocols (not shown)`)
  } else {
    c.send(request)
    await c.head()
  }
  return c
}

/** Reads the server's Close frame and the end of TCP. */
async function closedWith(c: Connection): Promise<void> {
  const frame = await c.frame()
  if (frame.opcode !== Opcode.CLOSE) throw new Error(`expected a Close frame, got opcode ${frame.opcode}`)
  await c.closed()
}

export const scenarios: Record<string, Scenario> = {
  /** RFC 6455 §5.7's first examples: "Hello" masked from the client, unmasked from the server. */
  'ws-frame-hello': async (t) => {
    const c = await open(t, '/echo', { quiet: true })
    const [up, down] = [c.bytesSent, c.bytesReceived]
    c.sendFrame(Opcode.TEXT, 'Hello')
    await c.frame()
    t.note(`5 bytes of text: ${c.bytesSent - up} bytes up, ${c.bytesReceived - down} bytes down`)
  },

  /** A message in two fragments (RFC 6455 §5.4), with a ping between them; a binary message. */
  'ws-frame-fragments': async (t) => {
    const c = await open(t, '/echo', { quiet: true })
    c.sendFrame(Opcode.TEXT, 'Hel', { fin: false })
    c.sendFrame(Opcode.PING, 'between')
    c.sendFrame(Opcode.CONTINUATION, 'lo')
    await c.frame()
    await c.frame()
    c.sendFrame(Opcode.BINARY, Buffer.from([0xde, 0xad, 0xbe, 0xef]))
    await c.frame()
  },

  /** A payload of 130 bytes: the 16-bit length form. */
  'ws-frame-16bit': async (t) => {
    const c = await open(t, '/echo', { quiet: true })
    c.sendFrame(Opcode.TEXT, 'x'.repeat(130))
    await c.frame()
  },

  /** UTF-8 checked as it arrives: a character split between two frames is fine; a byte that can never be UTF-8 fails at once. */
  'ws-frame-utf8': async (t) => {
    const c = await open(t, '/echo', { quiet: true })
    const text = Buffer.from('κόσμε')
    t.note(`"κόσμε" is ${text.length} bytes of UTF-8; the first frame ends inside the "ό" (cf 8c)`)
    c.sendFrame(Opcode.TEXT, text.subarray(0, 3), { fin: false })
    c.sendFrame(Opcode.CONTINUATION, text.subarray(3))
    await c.frame()
    t.note('a new message whose first fragment is "café ok" in Latin-1 (é is the byte e9), not UTF-8; its last fragment is never sent')
    c.sendFrame(Opcode.TEXT, Buffer.from('café ok', 'latin1'), { fin: false })
    await closedWith(c)
  },

  /** /ws/{channel}: envelopes both ways, a named event, and the gap frame. */
  'ws-frame-channel': {
    options: { historyMessages: 3 },
    run: async (t) => {
      for (const data of ['one', 'two', 'three', 'four', 'five']) await t.publish('news', data)
      t.note('the channel keeps the last 3 messages (ids 3, 4 and 5); this client saw up to 1')
      const c = await open(t, '/ws/news?after=1', { quiet: true })
      for (let frame = 0; frame < 4; frame++) await c.frame()
      await t.publish('news', '{"price":101.5}', 'price')
      await c.frame()
      t.note('a text frame from the client is published to the channel, and comes back to every subscriber')
      c.sendFrame(Opcode.TEXT, 'hi from the socket')
      await c.frame()
    },
  },

  /**
   * permessage-deflate (RFC 7692 §7.2.3): the RFC's compressed "Hello" sent twice (the second
   * time using the first as its window); the server (threshold 1 byte here) compresses too.
   */
  'ws-frame-deflate': {
    options: { deflateThreshold: 1 },
    run: async (t) => {
      const c = await open(t, '/echo', { extensions: 'permessage-deflate' })
      c.sendRawFrame(encodeFrame(Opcode.TEXT, Buffer.from('f248cdc9c90700', 'hex'), { rsv1: true, mask: SAMPLE_MASK }))
      await c.frame()
      c.sendRawFrame(encodeFrame(Opcode.TEXT, Buffer.from('f200110000', 'hex'), { rsv1: true, mask: SAMPLE_MASK }))
      await c.frame()
    },
  },

  /** The protocol errors, each on its own connection, each closing with its code. */
  'ws-frame-errors': async (t) => {
    t.note('an unmasked frame from a client')
    let c = await open(t, '/echo', { quiet: true })
    c.sendFrame(Opcode.TEXT, 'Hello', { mask: false })
    await closedWith(c)

    t.note('a reserved opcode (0x3)')
    c = await open(t, '/echo', { quiet: true })
    c.sendRawFrame(encodeFrame(0x3, Buffer.from('?'), { mask: SAMPLE_MASK }))
    await closedWith(c)

    t.note('a frame header that announces 1 GiB (the limit on /echo is 16 MiB): refused before any payload')
    c = await open(t, '/echo', { quiet: true })
    c.sendRawFrame(frameHeader(Opcode.BINARY, 1024 * 1024 * 1024, { mask: SAMPLE_MASK }))
    await closedWith(c)
  },

  /** A binary frame on /ws/{channel}: the channel carries text, so the server closes with 1003 and waits for the client's Close. */
  'ws-frame-binary-channel': async (t) => {
    const c = await open(t, '/ws/news', { quiet: true })
    c.sendFrame(Opcode.BINARY, Buffer.from([0x01, 0x02]))
    await c.frame()
    t.note('the client answers the Close, as RFC 6455 §5.5.1 asks')
    c.sendFrame(Opcode.CLOSE, Buffer.from([0x03, 0xeb]))
    await c.closed()
  },
}

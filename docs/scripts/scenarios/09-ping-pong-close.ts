// Transcripts of docs/09-ping-pong-close.md: ping and pong (RFC 6455 §5.5.2-3), the
// server's heartbeat, the closing handshake (§5.5.1, §7) and the ways a connection ends.

import { Opcode, SAMPLE_KEY, type Connection, type Transcript } from '../recorder.ts'
import type { Scenario } from '../transcripts.ts'

const HOST = 'Host: 127.0.0.1:8080\r\n'

/** Opens a WebSocket on `path` without recording the handshake (chapter 7 shows it); notes that it happened. */
async function open(t: Transcript, path: string): Promise<Connection> {
  const c = await t.connect()
  await c.quietly(async () => {
    c.send(`GET ${path} HTTP/1.1\r\n${HOST}Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${SAMPLE_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`)
    const head = await c.head()
    if (head.status !== 101) throw new Error(`the handshake on ${path} got ${head.status}`)
  })
  t.note(`handshake: GET ${path}, 101 Switching Protocols (not shown)`)
  return c
}

/** A Close payload: the code, then the reason's bytes. */
function closeBody(code: number, reason: string | Buffer = ''): Buffer {
  const text = typeof reason === 'string' ? Buffer.from(reason) : reason
  const body = Buffer.alloc(2 + text.length)
  body.writeUInt16BE(code, 0)
  text.copy(body, 2)
  return body
}

async function expectFrame(c: Connection, opcode: number): Promise<Buffer> {
  const frame = await c.frame()
  if (frame.opcode !== opcode) throw new Error(`expected opcode ${opcode}, got ${frame.opcode}`)
  return frame.payload
}

export const scenarios: Record<string, Scenario> = {
  /** A ping gets a pong with the same payload; an unsolicited pong gets nothing. */
  'ws-ping-pong': async (t) => {
    const c = await open(t, '/echo')
    c.sendFrame(Opcode.PING, 'are you there?')
    await expectFrame(c, Opcode.PONG)
    t.note('a pong nobody asked for (a one-way heartbeat, RFC 6455 §5.5.3): no answer')
    c.sendFrame(Opcode.PONG, 'still here')
    c.sendFrame(Opcode.TEXT, 'next')
    await expectFrame(c, Opcode.TEXT)
  },

  /** The server's heartbeat (wsPingIntervalMs: 200 here; 30 s by default): a ping after silence, the client's pong. */
  'ws-heartbeat': {
    options: { wsPingIntervalMs: 200, wsPongTimeoutMs: 200 },
    run: async (t) => {
      const c = await open(t, '/echo')
      t.note('200 ms without a byte from the client')
      await expectFrame(c, Opcode.PING)
      c.sendFrame(Opcode.PONG, '')
      t.note('200 ms of silence again')
      await expectFrame(c, Opcode.PING)
      c.sendFrame(Opcode.PONG, '')
    },
  },

  /** A peer that does not answer the ping (a crashed host, a cable pulled): dropped after wsPongTimeoutMs. */
  'ws-dead-peer': {
    options: { wsPingIntervalMs: 200, wsPongTimeoutMs: 200 },
    run: async (t) => {
      const c = await open(t, '/echo')
      await expectFrame(c, Opcode.PING)
      const pinged = Date.now()
      t.note('the client does not answer')
      await c.closed()
      if (Date.now() - pinged < 150) throw new Error('the connection closed before the pong timeout')
      t.note('200 ms after the ping: the server dropped the connection, without a Close frame')
    },
  },

  /** The closing handshake started by the client. */
  'ws-close-client': async (t) => {
    const c = await open(t, '/echo')
    c.sendFrame(Opcode.CLOSE, closeBody(1000, 'bye'))
    await expectFrame(c, Opcode.CLOSE)
    await c.closed()
  },

  /** Close codes a peer may and may not send, and the reason's UTF-8; each on its own connection. */
  'ws-close-codes': async (t) => {
    const cases: [string, Buffer][] = [
      ['4000: the private-use range, fine to send', closeBody(4000, 'done')],
      ['no payload at all: fine (the receiver reports 1005)', Buffer.alloc(0)],
      ['1005: reserved for "no code", must never be in a frame', closeBody(1005)],
      ['a payload of 1 byte: a code takes 2', Buffer.from([0x03])],
      ['1000 with a reason that is not UTF-8', closeBody(1000, Buffer.from([0xc3, 0x28]))],
    ]
    for (const [what, body] of cases) {
      t.note(what)
      const c = await open(t, '/echo')
      c.sendFrame(Opcode.CLOSE, body)
      await expectFrame(c, Opcode.CLOSE)
      await c.closed()
    }
  },

  /** The server's Close goes unanswered: after wsCloseTimeoutMs (200 ms here; 5 s by default), the server drops the connection. */
  'ws-close-timeout': {
    options: { wsCloseTimeoutMs: 200 },
    run: async (t) => {
      const c = await open(t, '/ws/news')
      c.sendFrame(Opcode.BINARY, Buffer.from([0x01]))
      await expectFrame(c, Opcode.CLOSE)
      const sent = Date.now()
      t.note('the client neither answers the Close nor closes TCP')
      await c.closed()
      if (Date.now() - sent < 150) throw new Error('the connection closed before the close timeout')
      t.note('200 ms after its Close, the server closed TCP itself')
    },
  },

  /** Shutdown: every WebSocket client gets Close 1001; the one that answers is closed at once, the other at the grace period. */
  'ws-shutdown': async (t) => {
    const echo = await open(t, '/echo')
    const news = await open(t, '/ws/news')
    t.note('the server shuts down (SIGTERM, Ctrl-C)')
    const closing = t.shutdown()
    await expectFrame(echo, Opcode.CLOSE)
    await expectFrame(news, Opcode.CLOSE)
    echo.sendFrame(Opcode.CLOSE, closeBody(1001))
    await echo.closed()
    t.note('connection 2 does not answer: it is dropped when the shutdown grace period ends')
    await news.closed()
    await closing
  },

  /** A client that stops reading /ws/{channel}: cut off with 1008 once more than maxBufferedBytes (64 KiB here) wait for it. */
  'ws-slow-reader': {
    options: { maxBufferedBytes: 64 * 1024 },
    run: async (t) => {
      const c = await open(t, '/ws/news')
      c.pause()
      const count = 64
      const data = 'x'.repeat(256 * 1024)
      t.note(`the client stops reading; ${count} messages of 256 KiB are published`)
      for (let i = 0; i < count; i++) await t.publish('news', data, undefined, { shown: null })
      c.resume()
      const received = await c.skipFramesUntil(Opcode.CLOSE)
      if (received >= count) throw new Error(`the slow client received all ${received} messages: it was not cut off`)
      t.note('the client reads again: the messages that were already in the buffers (fewer than 64), then')
      await expectFrame(c, Opcode.CLOSE)
      c.sendFrame(Opcode.CLOSE, closeBody(1008))
      await c.closed()
    },
  },
}


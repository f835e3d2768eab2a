// A WebSocket session on real sockets (RFC 6455, RFC 7692): the real server on an
// ephemeral port, a raw client that writes exactly the bytes given here (masked frames
// built with the codec's encodeFrame) and reads the server's frames with the codec's
// decoder (test/helpers/ws-raw.ts). Suites follow the session's states:
//
//   handshake → open    the bytes that come with the upgrade request
//   open                echo, fragments, ping and pong
//   open → closing      protocol errors: a Close with the code that names them, then TCP ends
//   closing             the close handshake, both ways, and its timeout
//   open (time)         heartbeat: ping, pong, the dead peer
//   open (flow)         slow readers: backpressure, the maxBufferedBytes cut-off (1008)
//   open (deflate)      permessage-deflate on raw frames
//   closed              the endpoint forgets the session; the handler hears of it once
//
// Limits are small and timeouts short where a test is about them. Tests wait for events
// with generous deadlines and never assert on how long something took.

import { randomBytes } from 'node:crypto'
import { deflateRawSync, constants as zlibConstants, inflateRawSync } from 'node:zlib'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { ServerOptions } from '../../src/options.ts'
import { WsEndpoint, type EndpointOptions } from '../../src/ws/endpoint.ts'
import { Opcode } from '../../src/ws/frame.ts'
import type { SessionHandler, WsSession } from '../../src/ws/session.ts'
import { settled, until } from '../helpers/wait.ts'
import {
  ClientDeflater,
  ClientInflater,
  clientFrame,
  closeBody,
  withWsServer,
  WsRawClient,
  type WsLiveServer,
} from '../helpers/ws-raw.ts'

const MiB = 1024 * 1024
const KiB = 1024

/** Timeouts long unless a test is about one; no compression unless a test offers it. */
const QUIET: Partial<ServerOptions> = {
  wsPingIntervalMs: 60_000,
  wsPongTimeoutMs: 60_000,
  wsCloseTimeoutMs: 10_000,
}

function serve(overrides: Partial<ServerOptions>, run: (server: WsLiveServer) => Promise<void>): Promise<void> {
  return withWsServer({ ...QUIET, ...overrides }, run)
}

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex')

/** A string of exactly `bytes` bytes of UTF-8 that mixes 1- to 4-byte characters. */
function utf8Text(bytes: number): string {
  const units = ['a', 'é', '€', '😀', 'z', 'ß']
  let text = ''
  let size = 0
  for (let i = 0; size < bytes; i++) {
    let unit = units[i % units.length]
    if (size + Buffer.byteLength(unit) > bytes) unit = 'a'
    text += unit
    size += Buffer.byteLength(unit)
  }
  return text
}

/** Binary bytes that differ from one message to the next: `seed`, then a pattern. */
function binaryBytes(bytes: number, seed = 0): Buffer {
  const data = Buffer.allocUnsafe(bytes)
  for (let i = 0; i < bytes; i++) data[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff
  if (bytes >= 4) data.writeUInt32BE(seed, 0)
  return data
}

/** The server failed the connection: the next frame is a Close with `code`, then TCP ends and nothing else comes. */
async function expectFailure(ws: WsRawClient, code: number, what: string): Promise<void> {
  const close = await ws.nextClose(`the Close ${code} for ${what}`)
  assert.is(close.code, code, `${what}: close code ${code} (reason ${JSON.stringify(close.reason)})`)
  assert.ok(close.payload.length <= 125, 'a control frame carries 125 bytes or less')
  assert.is(Buffer.from(close.reason).equals(close.payload.subarray(2)), true, 'the reason is valid UTF-8')
  await ws.serverEnded()
  assert.equal(ws.pending.length, 0, `${what}: nothing after the Close; got ${ws.describe()}`)
}

/** Waits until the endpoint has forgotten every session (the sockets are closed). */
function allForgotten(endpoint: WsEndpoint, what = 'the endpoint to forget its sessions'): Promise<void> {
  return until(() => endpoint.sessionCount === 0, `${what} (${endpoint.sessionCount} left)`)
}

/** A route of the test's own, on the running server, with `server.echo`'s options and `overrides`. */
function addRoute(server: WsLiveServer, path: string, handler: SessionHandler, overrides: Partial<EndpointOptions> = {}): WsEndpoint {
  const endpoint = new WsEndpoint({ ...server.echo.options, ...overrides }, server.listener)
  server.router.get(path, endpoint.route(() => handler))
  return endpoint
}

const DEFLATE = 'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits'
const TRAILER = hex('0000ffff')

/** What a client puts on the wire for a compressed message: raw DEFLATE, sync-flushed, trailer removed (RFC 7692 §7.2.1). */
function compress(message: Buffer): Buffer {
  const output = deflateRawSync(message, { finishFlush: zlibConstants.Z_SYNC_FLUSH })
  assert.ok(output.subarray(-4).equals(TRAILER), 'a sync flush ends with 00 00 ff ff')
  return output.subarray(0, -4)
}

/** What a client does with a compressed message (the first one of a context, or without context takeover). */
function inflate(payload: Buffer): Buffer {
  return inflateRawSync(Buffer.concat([payload, TRAILER]), { finishFlush: zlibConstants.Z_SYNC_FLUSH })
}

// ---------------------------------------------------------------------------------------
const Handshake = suite('ws session: handshake → open')

Handshake('a frame sent in the same write as the upgrade request is read and echoed', async () => {
  await serve({}, async (server) => {
    const ws = await server.open({ after: hex('81 85 37fa213d 7f9f4d5158') }) // masked "Hello" (RFC 6455 §5.7)
    assert.is(ws.header('sec-websocket-accept'), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=', 'the key of RFC 6455 §1.3 accepted')
    const echo = await ws.nextFrame('the echo of the frame that came with the request')
    assert.is(echo.opcode, Opcode.TEXT)
    assert.is(echo.payload.toString(), 'Hello')
    assert.equal(ws.raw, hex('81 05 48656c6c6f'), 'the first bytes after the 101 are the echo frame')
  })
})

Handshake('several frames and a Close in the same write as the request are handled in order', async () => {
  await serve({}, async (server) => {
    const after = Buffer.concat([
      clientFrame(Opcode.TEXT, 'one'),
      clientFrame(Opcode.PING, 'p'),
      clientFrame(Opcode.BINARY, hex('0102')),
      clientFrame(Opcode.CLOSE, closeBody(1000)),
    ])
    const ws = await server.open({ after })
    await ws.serverEnded()
    assert.equal(ws.raw, hex('81 03 6f6e65   8a 01 70   82 02 0102   88 02 03e8'))
  })
})

Handshake('a protocol error in the same write as the request gets the 101 and then a Close 1002', async () => {
  await serve({}, async (server) => {
    const ws = await server.open({ after: hex('81 02 6869') }) // unmasked
    assert.is(ws.status, 101)
    await expectFailure(ws, 1002, 'an unmasked frame after the request')
  })
})

Handshake('the server sends nothing after the 101 until the client speaks', async () => {
  await serve({}, async (server) => {
    const ws = await server.open()
    ws.sendFrame(Opcode.PING, 'first')
    const pong = await ws.nextFrame('the pong')
    assert.is(pong.opcode, Opcode.PONG, 'the first frame the server sends answers the ping')
    assert.equal(ws.raw, hex('8a 05 6669727374'))
  })
})

Handshake.run()

// ---------------------------------------------------------------------------------------
const Echo = suite('ws session: open, echo')

const SIZES: [size: number, headerLength: number][] = [
  [0, 2],
  [125, 2],
  [126, 4],
  [65535, 4],
  [65536, 10],
  [MiB, 10],
]

for (const [size, headerLength] of SIZES) {
  Echo(`a ${size}-byte text message comes back as one text frame with the same payload and a ${headerLength}-byte header`, async () => {
    await serve({}, async (server) => {
      const ws = await server.open()
      const text = Buffer.from(utf8Text(size))
      assert.is(text.length, size)
      ws.sendRandomMasked(Opcode.TEXT, text)
      const echo = await ws.nextFrame(`the echo of ${size} bytes of text`)
      assert.is(echo.opcode, Opcode.TEXT)
      assert.ok(echo.fin && !echo.rsv1, 'one final, uncompressed frame')
      assert.is(echo.headerLength, headerLength, 'the shortest length encoding (RFC 6455 §5.2)')
      assert.ok(echo.payload.equals(text), 'the same payload')
    })
  })

  Echo(`a ${size}-byte binary message comes back as one binary frame with the same payload and a ${headerLength}-byte header`, async () => {
    await serve({}, async (server) => {
      const ws = await server.open()
      const data = binaryBytes(size, size)
      ws.sendRandomMasked(Opcode.BINARY, data)
      const echo = await ws.nextFrame(`the echo of ${size} bytes of binary`)
      assert.is(echo.opcode, Opcode.BINARY)
      assert.ok(echo.fin && !echo.rsv1, 'one final, uncompressed frame')
      assert.is(echo.headerLength, headerLength, 'the shortest length encoding (RFC 6455 §5.2)')
      assert.ok(echo.payload.equals(data), 'the same payload')
    })
  })
}

Echo('the echo of a small message is exactly its unmasked frame, with a 7-bit length', async () => {
  await serve({}, async (server) => {
    const ws = await server.open()
    await ws.send(hex('82 83 37fa213d 36f83e')) // masked binary 01 02 1f
    ws.write(hex('81 85 37fa213d 7f9f4d5158')) // masked "Hello" (RFC 6455 §5.7)
    await ws.nextFrame()
    await ws.nextFrame()
    assert.equal(ws.raw, hex('82 03 01021f   81 05 48656c6c6f'))
  })
})

Echo('a text message in three fragments comes back as one text frame', async () => {
  await serve({}, async (server) => {
    const ws = await server.open()
    ws.write(Buffer.concat([
      clientFrame(Opcode.TEXT, 'Hel', { fin: false }),
      clientFrame(Opcode.CONTINUATION, 'lo, ', { fin: false }),
      clientFrame(Opcode.CONTINUATION, 'world'),
    ]))
    await ws.nextFrame()
    assert.equal(ws.raw, Buffer.concat([hex('81 0c'), Buffer.from('Hello, world')]))
  })
})

Echo('a binary message in three fragments sent one at a time comes back whole', async () => {
  await serve({}, async (server) => {
    const ws = await server.open()
    const data = binaryBytes(200_000, 3)
    await ws.send(clientFrame(Opcode.BINARY, data.subarray(0, 70_000), { fin: false }))
    await ws.send(clientFrame(Opcode.CONTINUATION, data.subarray(70_000, 70_001), { fin: false }))
    await ws.send(clientFrame(Opcode.CONTINUATION, data.subarray(70_001)))
    const echo = await ws.nextMessage()
    assert.is(echo.opcode, Opcode.BINARY)
    assert.is(echo.frames.length, 1, 'one frame')
    assert.ok(echo.payload.equals(data))
  })
})

Echo('empty fragments and a fragment of one byte put together make the message', async () => {
  await serve({}, async (server) => {
    const ws = await server.open()
    ws.write(Buffer.concat([
      clientFrame(Opcode.TEXT, '', { fin: false }),
      clientFrame(Opcode.CONTINUATION, 'x', { fin: false }),
      clientFrame(Opcode.CONTINUATION, ''),
    ]))
    await ws.nextFrame()
    assert.equal(ws.raw, hex('81 01 78'))
  })
})

Echo('a character split across fragments is accepted', async () => {
  await serve({}, async (server) => {
    const ws = await server.open()
    ws.write(Buffer.concat([
      clientFrame(Opcode.TEXT, hex('e2'), { fin: false }), // € = e2 82 ac
      clientFrame(Opcode.CONTINUATION, hex('82'), { fin: false }),
      clientFrame(Opcode.CONTINUATION, hex('ac')),
    ]))
    await ws.nextFrame()
    assert.equal(ws.raw, hex('81 03 e282ac'))
  })
})

Echo('a frame that arrives one byte at a time is echoed', async () => {
  await serve({}, async (server) => {
    const ws = await server.open()
    const frame = clientFrame(Opcode.TEXT, utf8Text(300))
    for (const byte of frame) await ws.send(Buffer.from([byte]))
    const echo = await ws.nextFrame()
    assert.is(echo.payload.toString(), utf8Text(300))
  })
})

Echo('messages come back in the order they were sent', async () => {
  await serve({}, async (server) => {
    const ws = await server.open()
    const frames: Buffer[] = []
    for (let i = 0; i < 100; i++) frames.push(clientFrame(i % 2 ? Opcode.BINARY : Opcode.TEXT, `message ${i}`))
    ws.write(Buffer.concat(frames))
    for (let i = 0; i < 100; i++) {
      const echo = await ws.nextFrame(`echo ${i}`)
      assert.is(echo.opcode, i % 2 ? Opcode.BINARY : Opcode.TEXT)
      assert.is(echo.payload.toString(), `message ${i}`)
    }
  })
})

Echo.run()

// ---------------------------------------------------------------------------------------
const Control = suite('ws session: open, control frames')

Control('a ping is answered with a pong carrying the same payload', async () => {
  await serve({}, async (server) => {
    const ws = await server.open()
    ws.write(hex('89 85 37fa213d 7f9f4d5158')) // masked ping "Hello"
    await ws.nextFrame()
    assert.equal(ws.raw, hex('8a 05 48656c6c6f'))
  })
})

Control('an empty ping and a ping of 125 bytes are answered with the same payloads', async () => {
  await serve({}, async (server) => {
    const ws = await server.open()
    const full = binaryBytes(125, 9)
    ws.sendFrame(Opcode.PING)
    ws.sendFrame(Opcode.PING, full)
    await ws.nextFrame()
    await ws.nextFrame()
    assert.equal(ws.raw, Buffer.concat([hex('8a 00 8a 7d'), full]))
  })
})

Control('a ping between the fragments of a message is answered at once, and the message still completes', async () => {
  await serve({}, async (server) => {
    const ws = await server.open()
    ws.sendFrame(Opcode.TEXT, 'frag-1 ', { fin: false })
    ws.sendFrame(Opcode.PING, 'in between')
    const pong = await ws.nextFrame('the pong, before the message is complete')
    assert.is(pong.opcode, Opcode.PONG)
    assert.is(pong.payload.toString(), 'in between')
    ws.sendFrame(Opcode.CONTINUATION, 'frag-2 ', { fin: false })
    ws.sendFrame(Opcode.PING, 'again')
    ws.sendFrame(Opcode.CONTINUATION, 'frag-3')
    const second = await ws.nextFrame('the second pong')
    assert.is(second.opcode, Opcode.PONG)
    assert.is(second.payload.toString(), 'again')
    const echo = await ws.nextMessage()
    assert.is(echo.opcode, Opcode.TEXT)
    assert.is(echo.payload.toString(), 'frag-1 frag-2 frag-3')
  })
})

Control('an unsolicited pong is ignored', async () => {
  await serve({}, async (server) => {
    const ws = await server.open()
    ws.sendFrame(Opcode.PONG, 'nobody asked')
    ws.sendFrame(Opcode.PONG)
    ws.sendFrame(Opcode.TEXT, 'after')
    await ws.nextFrame()
    assert.equal(ws.raw, hex('81 05 6166746572'), 'only the echo: no pong back, no Close')
  })
})

Control.run()

// ---------------------------------------------------------------------------------------
const Errors = suite('ws session: open → closing, protocol errors')

/** Opens a connection, sends `bytes`, and expects the server to fail it with `code`. */
async function failsWith(server: WsLiveServer, bytes: Buffer, code: number, what: string, fields: string[] = []): Promise<void> {
  const ws = await server.open({ fields })
  ws.write(bytes)
  await expectFailure(ws, code, what)
}

Errors('an unmasked frame is closed with 1002', async () => {
  await serve({}, async (server) => {
    await failsWith(server, hex('81 02 6869'), 1002, 'an unmasked text frame')
  })
})

Errors('RSV1 without permessage-deflate is closed with 1002', async () => {
  await serve({}, async (server) => {
    await failsWith(server, clientFrame(Opcode.TEXT, 'hi', { rsv1: true }), 1002, 'RSV1 where no extension was negotiated')
  })
})

Errors('RSV2 and RSV3 are closed with 1002', async () => {
  await serve({}, async (server) => {
    for (const bit of [0x20, 0x10]) {
      const frame = clientFrame(Opcode.TEXT, 'hi')
      frame[0] |= bit
      await failsWith(server, frame, 1002, `RSV bit 0x${bit.toString(16)}`)
    }
  })
})

Errors('every reserved opcode is closed with 1002', async () => {
  await serve({}, async (server) => {
    for (const opcode of [0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
      await failsWith(server, clientFrame(opcode, 'x'), 1002, `opcode ${opcode}`)
    }
  })
})

Errors('a control frame of more than 125 bytes is closed with 1002', async () => {
  await serve({}, async (server) => {
    for (const opcode of [Opcode.PING, Opcode.PONG, Opcode.CLOSE]) {
      await failsWith(server, clientFrame(opcode, Buffer.alloc(126, 0x61)), 1002, `a ${opcode} control frame of 126 bytes`)
    }
  })
})

Errors('a fragmented ping is closed with 1002', async () => {
  await serve({}, async (server) => {
    await failsWith(server, clientFrame(Opcode.PING, 'x', { fin: false }), 1002, 'a ping without FIN')
  })
})

Errors('a continuation frame with no message to continue is closed with 1002', async () => {
  await serve({}, async (server) => {
    await failsWith(server, clientFrame(Opcode.CONTINUATION, 'x'), 1002, 'a lone continuation')
    const ws = await server.open()
    ws.sendFrame(Opcode.TEXT, 'done')
    assert.is((await ws.nextFrame()).payload.toString(), 'done')
    ws.sendFrame(Opcode.CONTINUATION, 'more')
    await expectFailure(ws, 1002, 'a continuation after a complete message')
  })
})

Errors('a new data frame inside a fragmented message is closed with 1002', async () => {
  await serve({}, async (server) => {
    for (const opcode of [Opcode.TEXT, Opcode.BINARY]) {
      await failsWith(server, Buffer.concat([clientFrame(Opcode.TEXT, 'a', { fin: false }), clientFrame(opcode, 'b')]), 1002, `opcode ${opcode} inside a text message`)
    }
  })
})

Errors('a 64-bit length with its top bit set is closed with 1002', async () => {
  await serve({}, async (server) => {
    await failsWith(server, hex('82 ff 80000000 00000001 37fa213d'), 1002, 'a length over 2^63')
  })
})

Errors('invalid UTF-8 in a text message is closed with 1007', async () => {
  await serve({}, async (server) => {
    await failsWith(server, clientFrame(Opcode.TEXT, hex('c328')), 1007, 'c3 28')
    await failsWith(server, clientFrame(Opcode.TEXT, hex('eda080')), 1007, 'a surrogate (ed a0 80)')
    await failsWith(server, clientFrame(Opcode.TEXT, hex('c0af')), 1007, 'an overlong slash (c0 af)')
    await failsWith(server, clientFrame(Opcode.TEXT, hex('f4908080')), 1007, 'past U+10FFFF (f4 90 80 80)')
  })
})

Errors('a text message is failed at the fragment with the invalid byte, before the rest is sent', async () => {
  await serve({}, async (server) => {
    const ws = await server.open()
    ws.sendFrame(Opcode.TEXT, 'valid start, ', { fin: false })
    ws.sendFrame(Opcode.CONTINUATION, Buffer.concat([Buffer.from('then '), hex('ff')]), { fin: false })
    // Fragment 3 is never sent: the Close must come without it (RFC 6455 §8.1, fail fast).
    await expectFailure(ws, 1007, 'an invalid byte in fragment 2 of 3')
  })
})

Errors('invalid UTF-8 split inside a character across fragments is closed with 1007', async () => {
  await serve({}, async (server) => {
    const ws = await server.open()
    ws.sendFrame(Opcode.TEXT, hex('61e282'), { fin: false }) // a, then two bytes of €
    ws.sendFrame(Opcode.CONTINUATION, hex('28'), { fin: false }) // not a continuation byte
    await expectFailure(ws, 1007, 'e2 82 | 28')
  })
})

Errors('a text message that ends inside a character is closed with 1007', async () => {
  await serve({}, async (server) => {
    await failsWith(server, clientFrame(Opcode.TEXT, hex('61e282')), 1007, 'one frame ending in e2 82')
    await failsWith(server, Buffer.concat([clientFrame(Opcode.TEXT, 'ab', { fin: false }), clientFrame(Opcode.CONTINUATION, hex('f09f98'))]), 1007, 'fragments ending in f0 9f 98')
  })
})

Errors('invalid UTF-8 in a binary message is echoed: only text is checked', async () => {
  await serve({}, async (server) => {
    const ws = await server.open()
    ws.sendFrame(Opcode.BINARY, hex('c328ff'))
    await ws.nextFrame()
    assert.equal(ws.raw, hex('82 03 c328ff'))
  })
})

Errors.run()

// ---------------------------------------------------------------------------------------
const Limits = suite('ws session: open → closing, message size')

const SMALL_MESSAGES: Partial<ServerOptions> = { wsMaxMessageBytes: 1024 }

Limits('a message of exactly maxMessageBytes is echoed', async () => {
  await serve(SMALL_MESSAGES, async (server) => {
    const ws = await server.open()
    const data = binaryBytes(1024, 1)
    ws.sendFrame(Opcode.BINARY, data)
    assert.ok((await ws.nextFrame()).payload.equals(data))
    ws.write(Buffer.concat([
      clientFrame(Opcode.TEXT, 'a'.repeat(500), { fin: false }),
      clientFrame(Opcode.CONTINUATION, 'b'.repeat(524)),
    ]))
    assert.is((await ws.nextFrame()).payload.length, 1024)
  })
})

Limits('one frame over maxMessageBytes is closed with 1009', async () => {
  await serve(SMALL_MESSAGES, async (server) => {
    await failsWith(server, clientFrame(Opcode.BINARY, Buffer.alloc(1025)), 1009, 'a 1025-byte frame')
  })
})

Limits('fragments that add up past maxMessageBytes are closed with 1009 before the message ends', async () => {
  await serve(SMALL_MESSAGES, async (server) => {
    const ws = await server.open()
    ws.sendFrame(Opcode.TEXT, 'a'.repeat(400), { fin: false })
    ws.sendFrame(Opcode.CONTINUATION, 'b'.repeat(400), { fin: false })
    ws.sendFrame(Opcode.CONTINUATION, 'c'.repeat(400), { fin: false }) // 1200 bytes, and not the last fragment
    await expectFailure(ws, 1009, 'three fragments of 400 bytes')
  })
})

Limits('sessions of routes with different limits, reading in turn, each keep their own limit', async () => {
  await serve({}, async (server) => {
    const echo: SessionHandler = { onMessage: (session, data, isBinary) => session.send(data, isBinary) }
    addRoute(server, '/small', echo, { maxMessageBytes: 1024 })
    const big = await server.open()
    const small = await server.open({ path: '/small' })
    // Each read leaves the decoder it used for the next session that reads.
    const data = binaryBytes(2000, 3)
    big.sendFrame(Opcode.BINARY, data)
    assert.ok((await big.nextFrame()).payload.equals(data), 'the default limit takes 2000 bytes')
    small.sendFrame(Opcode.BINARY, binaryBytes(1024, 4))
    assert.is((await small.nextFrame()).payload.length, 1024, 'the small route takes 1024 bytes')
    big.sendFrame(Opcode.BINARY, data)
    assert.ok((await big.nextFrame()).payload.equals(data), 'after a read on the small route, the default limit still holds')
    // Only the header of a 1 MiB frame: the small route's limit refuses it at once, the default one would wait for the payload.
    small.write(hex('82 ff 00000000 00100000 37fa213d'))
    await expectFailure(small, 1009, 'a 1 MiB frame header on the small route, after a read on the default one')
  })
})

Limits('a frame declaring 1 GiB is closed with 1009 on its header, and the server does not allocate it', async () => {
  await serve({}, async (server) => {
    const before = process.memoryUsage().rss
    const ws = await server.open()
    ws.write(hex('82 ff 00000000 40000000 37fa213d')) // binary, 2^30 bytes, mask key; no payload
    await expectFailure(ws, 1009, 'a 1 GiB frame')
    const grown = process.memoryUsage().rss - before
    assert.ok(grown < 64 * MiB, `rss grew by ${(grown / MiB).toFixed(1)} MiB`)
  })
})

Limits.run()

// ---------------------------------------------------------------------------------------
const Closing = suite('ws session: closing, the close handshake')

Closing('a client Close 1000 with a reason is answered with Close 1000, then the server closes TCP', async () => {
  await serve({}, async (server) => {
    const ws = await server.open()
    ws.sendFrame(Opcode.CLOSE, closeBody(1000, 'bye now'))
    const close = await ws.nextClose()
    assert.is(close.code, 1000)
    await ws.serverEnded()
    await ws.socketClosed()
    assert.equal(ws.raw, hex('88 02 03e8'))
  })
})

Closing('after the close handshake the server closes TCP first, and drops a client that never closes its side', async () => {
  // The client has the close timeout to close its side; a short one, so the test waits on the drop.
  await serve({ wsCloseTimeoutMs: 300 }, async (server) => {
    const ws = await server.open({ allowHalfOpen: true })
    ws.sendFrame(Opcode.CLOSE, closeBody(1000))
    await ws.nextClose()
    await ws.serverEnded()
    assert.ok(!ws.socket.writableEnded, 'the client keeps its side open')
    await allForgotten(server.echo, 'the server to let go of the half-closed connection')
  })
})

const VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]
const INVALID_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535]

Closing('every close code a peer may send is echoed back (RFC 6455 §7.4)', async () => {
  await serve({}, async (server) => {
    for (const code of VALID_CODES) {
      const ws = await server.open()
      ws.sendFrame(Opcode.CLOSE, closeBody(code, 'reason'))
      const close = await ws.nextClose(`the answer to Close ${code}`)
      assert.is(close.code, code, `Close ${code} is echoed`)
      await ws.serverEnded()
      assert.equal(ws.pending.length, 0)
    }
  })
})

Closing('every close code a peer may not send is answered with Close 1002', async () => {
  await serve({}, async (server) => {
    for (const code of INVALID_CODES) {
      const ws = await server.open()
      ws.sendFrame(Opcode.CLOSE, closeBody(code))
      await expectFailure(ws, 1002, `close code ${code}`)
    }
  })
})

Closing('a Close payload of one byte is answered with Close 1002', async () => {
  await serve({}, async (server) => {
    await failsWith(server, clientFrame(Opcode.CLOSE, hex('03')), 1002, 'a 1-byte Close')
  })
})

Closing('a close reason that is not UTF-8 is answered with Close 1007', async () => {
  await serve({}, async (server) => {
    await failsWith(server, clientFrame(Opcode.CLOSE, closeBody(1000, hex('c328'))), 1007, 'a reason of c3 28')
  })
})

Closing('an empty Close is answered with an empty Close, then the server closes TCP', async () => {
  await serve({}, async (server) => {
    const ws = await server.open()
    ws.write(hex('88 80 37fa213d'))
    await ws.nextClose()
    await ws.serverEnded()
    assert.equal(ws.raw, hex('88 00'))
  })
})

Closing('frames after the client Close are ignored', async () => {
  await serve({}, async (server) => {
    const ws = await server.open()
    ws.write(Buffer.concat([
      clientFrame(Opcode.CLOSE, closeBody(1000)),
      clientFrame(Opcode.TEXT, 'too late'),
      clientFrame(Opcode.PING, 'too late'),
      hex('81 02 6869'), // even a protocol error
    ]))
    await ws.nextClose()
    await ws.serverEnded()
    assert.equal(ws.raw, hex('88 02 03e8'), 'the Close answer and nothing else')
  })
})

Closing('the Close of a client in the middle of a fragmented message is answered, and the message dropped', async () => {
  await serve({}, async (server) => {
    const ws = await server.open()
    ws.write(Buffer.concat([clientFrame(Opcode.TEXT, 'half', { fin: false }), clientFrame(Opcode.CLOSE, closeBody(1001))]))
    await ws.nextClose()
    await ws.serverEnded()
    assert.equal(ws.raw, hex('88 02 03e9'))
  })
})

Closing('on shutdown the server sends Close 1001, the client answers, and the socket closes', async () => {
  await serve({}, async (server) => {
    const ws = await server.open()
    ws.sendFrame(Opcode.TEXT, 'before')
    await ws.nextFrame()
    const closing = server.listener.close(30_000)
    const close = await ws.nextClose('the Close of shutdown')
    assert.is(close.code, 1001)
    ws.sendFrame(Opcode.CLOSE, closeBody(1001))
    await ws.serverEnded()
    await ws.socketClosed()
    await closing
    assert.is(server.echo.sessionCount, 0)
  })
})

Closing('a server Close the client never answers ends with the server destroying the socket after the close timeout', async () => {
  await serve({ wsCloseTimeoutMs: 150 }, async (server) => {
    const closes: number[] = []
    const endpoint = addRoute(server, '/closer', {
      onMessage: (session) => session.close(4000, 'done'),
      onClose: (_session, code) => closes.push(code),
    })
    const ws = await server.open({ path: '/closer' })
    ws.sendFrame(Opcode.TEXT, 'close me')
    const close = await ws.nextClose()
    assert.is(close.code, 4000)
    assert.is(close.reason, 'done')
    // The client neither answers nor closes: only the close timeout can end this.
    await ws.socketClosed()
    await allForgotten(endpoint)
    assert.equal(closes, [1006], 'the handler hears of an abnormal closure')
  })
})

Closing('data frames the client sends after the server Close are dropped until its own Close', async () => {
  await serve({}, async (server) => {
    const seen: string[] = []
    const endpoint = addRoute(server, '/closer', {
      onMessage: (session, data) => {
        seen.push(data.toString())
        session.close(1000)
      },
    })
    const ws = await server.open({ path: '/closer' })
    ws.sendFrame(Opcode.TEXT, 'first')
    assert.is((await ws.nextClose()).code, 1000)
    assert.ok(!ws.ended, 'the server waits for the answer before it closes TCP (RFC 6455 §7.1.2)')
    ws.sendFrame(Opcode.TEXT, 'second')
    ws.sendFrame(Opcode.CLOSE, closeBody(1000))
    await ws.serverEnded()
    await allForgotten(endpoint)
    assert.equal(seen, ['first'])
    assert.equal(ws.raw, hex('88 02 03e8'))
  })
})

Closing.run()

// ---------------------------------------------------------------------------------------
const Heartbeat = suite('ws session: open, heartbeat')

Heartbeat('an idle client receives a ping', async () => {
  await serve({ wsPingIntervalMs: 100, wsPongTimeoutMs: 5000 }, async (server) => {
    const ws = await server.open()
    const ping = await ws.nextFrame('a ping')
    assert.is(ping.opcode, Opcode.PING)
    assert.equal(ws.raw, hex('89 00'))
  })
})

Heartbeat('a client that answers every ping stays connected across several intervals', async () => {
  await serve({ wsPingIntervalMs: 80, wsPongTimeoutMs: 3000 }, async (server) => {
    const ws = await server.open()
    for (let i = 0; i < 5; i++) {
      const ping = await ws.nextFrame(`ping ${i + 1}`)
      assert.is(ping.opcode, Opcode.PING)
      ws.sendRandomMasked(Opcode.PONG, ping.payload)
    }
    ws.sendFrame(Opcode.TEXT, 'still here')
    for (;;) {
      const frame = await ws.nextFrame('the echo')
      if (frame.opcode === Opcode.PING) continue
      assert.is(frame.payload.toString(), 'still here')
      break
    }
    assert.ok(!ws.ended && !ws.closed, 'still connected')
    assert.is(server.echo.sessionCount, 1)
  })
})

Heartbeat('a client that keeps talking is not pinged: the interval runs from the last time it was heard', async () => {
  await serve({ wsPingIntervalMs: 600, wsPongTimeoutMs: 5000 }, async (server) => {
    const ws = await server.open()
    // Twice the interval of talk, a message every 30 ms: far less than an interval of silence.
    for (let i = 0; i < 40; i++) {
      ws.sendFrame(Opcode.TEXT, `message ${i}`)
      const echo = await ws.nextFrame(`echo ${i}`)
      assert.is(echo.opcode, Opcode.TEXT, `frame ${i} is the echo, not a ping`)
      await new Promise((resolve) => setTimeout(resolve, 30))
    }
    // Then silence: the ping comes.
    assert.is((await ws.nextFrame('the ping after the talk')).opcode, Opcode.PING)
  })
})

Heartbeat('a client that never answers a ping is disconnected after the pong timeout', async () => {
  await serve({ wsPingIntervalMs: 80, wsPongTimeoutMs: 150 }, async (server) => {
    const ws = await server.open()
    assert.is((await ws.nextFrame('a ping')).opcode, Opcode.PING)
    await ws.socketClosed()
    assert.ok(ws.frames.every((frame) => frame.opcode === Opcode.PING), `only pings came: ${ws.describe()}`)
    await allForgotten(server.echo)
  })
})

Heartbeat.run()

// ---------------------------------------------------------------------------------------
const Flow = suite('ws session: open, slow readers')

Flow('a client that does not read stops the echo from reading; when it reads again every message arrives intact and in order', async () => {
  await serve({}, async (server) => {
    const COUNT = 64
    const ws = await server.open()
    ws.pauseReading()
    // The frames are made before the baseline: writing a Buffer does not copy it.
    const frames = Array.from({ length: COUNT }, (_, i) => clientFrame(Opcode.BINARY, binaryBytes(MiB, i)))
    const before = process.memoryUsage().rss
    for (const frame of frames) ws.write(frame)
    const stuck = await settled(() => ws.socket.writableLength, "the client's output to stop moving", 5, 100, 30_000)
    assert.ok(stuck > 8 * MiB, `the client's own buffer fills (${(stuck / MiB).toFixed(1)} MiB unsent)`)
    const serverSocket = server.accepted[0]
    assert.ok(serverSocket.readableLength <= 1 * MiB, `the server holds little unread input (${serverSocket.readableLength} bytes)`)
    assert.ok(serverSocket.writableLength <= 4 * MiB, `the server holds little output (${serverSocket.writableLength} bytes)`)
    const grown = process.memoryUsage().rss - before
    assert.ok(grown < 40 * MiB, `rss grew by ${(grown / MiB).toFixed(1)} MiB while ${COUNT} MiB were offered`)

    ws.resumeReading()
    for (let i = 0; i < COUNT; i++) {
      const echo = await ws.nextMessage(`echo ${i}`, 30_000)
      assert.is(echo.opcode, Opcode.BINARY)
      assert.is(echo.payload.readUInt32BE(0), i, `echo ${i} in order`)
      assert.ok(echo.payload.equals(binaryBytes(MiB, i)), `echo ${i} intact`)
    }
  })
})

Flow('with permessage-deflate, a client that does not read stops the echo too, and reads every message intact afterwards', async () => {
  await serve({ deflate: true, deflateThreshold: 100 }, async (server) => {
    const COUNT = 24
    const ws = await server.open({ fields: [DEFLATE] })
    ws.pauseReading()
    const messages = Array.from({ length: COUNT }, (_, i) => {
      const data = randomBytes(MiB) // incompressible: the compressed echo is as big
      data.writeUInt32BE(i, 0)
      return data
    })
    for (const data of messages) ws.write(clientFrame(Opcode.BINARY, data, { mask: randomBytes(4) }))
    const stuck = await settled(() => ws.socket.writableLength, "the client's output to stop moving", 5, 100, 30_000)
    assert.ok(stuck > 4 * MiB, `the client's own buffer fills (${(stuck / MiB).toFixed(1)} MiB unsent)`)
    const serverSocket = server.accepted[0]
    assert.ok(serverSocket.writableLength <= 4 * MiB, `the server holds little output (${serverSocket.writableLength} bytes)`)

    ws.resumeReading()
    const inflater = new ClientInflater()
    try {
      for (let i = 0; i < COUNT; i++) {
        const echo = await ws.nextMessage(`echo ${i}`, 30_000)
        assert.ok(echo.compressed, `echo ${i} is compressed`)
        assert.ok((await inflater.inflate(echo.payload)).equals(messages[i]), `echo ${i} intact and in order`)
      }
    } finally {
      inflater.close()
    }
  })
})

Flow('a client that sends pings and never reads the pongs is closed with 1008 past maxBufferedBytes', async () => {
  await serve({ maxBufferedBytes: MiB }, async (server) => {
    const ws = await server.open()
    ws.pauseReading()
    const ping = clientFrame(Opcode.PING, Buffer.alloc(125, 0x70))
    const block = Buffer.concat(Array.from({ length: 8000 }, () => ping)) // 1 MiB of pings
    const before = process.memoryUsage().rss
    for (let i = 0; i < 16; i++) ws.write(block) // the same Buffer: the client's memory does not grow
    const serverSocket = server.accepted[0]
    await until(() => serverSocket.writableEnded, 'the server to give up on the client')
    assert.ok(serverSocket.writableLength <= MiB + 4 * KiB, `the server holds about maxBufferedBytes of pongs at most (${serverSocket.writableLength})`)
    const grown = process.memoryUsage().rss - before
    assert.ok(grown < 64 * MiB, `rss grew by ${(grown / MiB).toFixed(1)} MiB`)

    ws.resumeReading()
    const close = await ws.untilClose('the Close 1008 after the pongs')
    assert.is(close.code, 1008)
    assert.ok(close.skipped.length > 0, 'pongs came first')
    assert.ok(close.skipped.every((frame) => frame.opcode === Opcode.PONG && frame.payload.equals(Buffer.alloc(125, 0x70))), 'only pongs, each with its ping\'s payload')
    await ws.serverEnded()
    await allForgotten(server.echo)
  })
})

/**
 * A route whose handler, on the first message, sends 64 KiB messages in a loop without
 * waiting for drain (only the 1008 cut-off stops it), to a client that does not read.
 */
async function flood(server: WsLiveServer, fields: string[]): Promise<void> {
  let flooded: WsSession | null = null
  let sent = 0
  const closes: number[] = []
  const endpoint = addRoute(
    server,
    '/flood',
    {
      onMessage(session) {
        flooded = session
        for (let i = 0; i < 2000 && session.state === 'open'; i++) {
          const message = randomBytes(64 * KiB) // fresh each time, and incompressible
          message.writeUInt32BE(i, 0)
          session.send(message)
          sent++
        }
      },
      onClose: (_session, code) => closes.push(code),
    },
    { maxBufferedBytes: MiB },
  )
  const ws = await server.open({ path: '/flood', fields })
  ws.pauseReading()
  const before = process.memoryUsage().rss
  ws.sendFrame(Opcode.TEXT, 'go')
  await until(() => flooded !== null && flooded.state !== 'open', 'the flooding session to be cut off')
  const grown = process.memoryUsage().rss - before
  assert.ok(sent < 2000, `the loop was cut off (${sent} messages sent)`)
  assert.ok(flooded!.bufferedAmount <= MiB + 128 * KiB, `the server buffered about maxBufferedBytes at most (${flooded!.bufferedAmount})`)
  assert.ok(grown < 48 * MiB, `rss grew by ${(grown / MiB).toFixed(1)} MiB`)

  ws.resumeReading()
  const close = await ws.untilClose('the Close 1008, after the messages that were sent')
  assert.is(close.code, 1008)
  const inflater = new ClientInflater()
  try {
    for (const [i, frame] of close.skipped.entries()) {
      assert.is(frame.opcode, Opcode.BINARY)
      const payload = frame.rsv1 ? await inflater.inflate(frame.payload) : frame.payload
      assert.is(payload.length, 64 * KiB)
      assert.is(payload.readUInt32BE(0), i, 'the messages before the Close, in order')
    }
  } finally {
    inflater.close()
  }
  await ws.serverEnded()
  await allForgotten(endpoint)
  assert.equal(closes, [1008])
}

Flow('a route that pushes faster than its client reads closes it with 1008 past maxBufferedBytes', async () => {
  await serve({}, (server) => flood(server, []))
})

Flow('with permessage-deflate, messages waiting to be compressed count toward maxBufferedBytes', async () => {
  await serve({ deflate: true, deflateThreshold: 100 }, (server) => flood(server, [DEFLATE]))
})

Flow.run()

// ---------------------------------------------------------------------------------------
const Deflate = suite('ws session: open, permessage-deflate')

const COMPRESSING: Partial<ServerOptions> = { deflate: true, deflateThreshold: 100 }

/** Text that compresses well, of at least `bytes` bytes. */
function prose(bytes: number): string {
  let text = ''
  for (let i = 0; text.length < bytes; i++) text += `Message line ${i}: the quick brown fox jumps over the lazy dog. `
  return text
}

Deflate('the handshake with client_max_window_bits agrees on permessage-deflate', async () => {
  await serve(COMPRESSING, async (server) => {
    const ws = await server.open({ fields: [DEFLATE] })
    assert.match(ws.header('sec-websocket-extensions') ?? '(none)', /^permessage-deflate(;|$)/)
  })
})

Deflate('the compressed "Hello" of RFC 7692 §7.2.3.1 comes back uncompressed, under the threshold', async () => {
  await serve(COMPRESSING, async (server) => {
    const ws = await server.open({ fields: [DEFLATE] })
    ws.write(clientFrame(Opcode.TEXT, hex('f248cdc9c90700'), { rsv1: true }))
    await ws.nextFrame()
    assert.equal(ws.raw, hex('81 05 48656c6c6f'))
  })
})

Deflate('a compressed message over the threshold comes back compressed, with RSV1 set', async () => {
  await serve(COMPRESSING, async (server) => {
    const ws = await server.open({ fields: [DEFLATE] })
    const text = Buffer.from(prose(5000))
    ws.sendFrame(Opcode.TEXT, compress(text), { rsv1: true })
    const echo = await ws.nextMessage()
    assert.is(echo.opcode, Opcode.TEXT)
    assert.ok(echo.compressed, 'RSV1 on the echo')
    assert.ok(echo.payload.length < text.length, 'the echo is smaller than the message')
    assert.ok(inflate(echo.payload).equals(text), 'the echo inflates to the message')
  })
})

Deflate('the server compresses by size: an uncompressed message over the threshold comes back compressed, a small one plain', async () => {
  await serve(COMPRESSING, async (server) => {
    const ws = await server.open({ fields: [DEFLATE] })
    const big = binaryBytes(4000, 5)
    ws.sendFrame(Opcode.BINARY, big)
    const echo = await ws.nextMessage()
    assert.is(echo.opcode, Opcode.BINARY)
    assert.ok(echo.compressed)
    assert.ok(inflate(echo.payload).equals(big))
    ws.sendFrame(Opcode.BINARY, compress(Buffer.from('tiny')), { rsv1: true })
    const small = await ws.nextMessage()
    assert.ok(!small.compressed, 'under the threshold: no RSV1')
    assert.is(small.payload.toString(), 'tiny')
  })
})

Deflate('the fragmented compressed message of RFC 7692 §7.2.3.2 (RSV1 on the first fragment only) is echoed', async () => {
  await serve(COMPRESSING, async (server) => {
    const ws = await server.open({ fields: [DEFLATE] })
    ws.write(Buffer.concat([
      clientFrame(Opcode.TEXT, hex('f248cd'), { rsv1: true, fin: false }),
      clientFrame(Opcode.CONTINUATION, hex('c9c90700')),
    ]))
    await ws.nextFrame()
    assert.equal(ws.raw, hex('81 05 48656c6c6f'))
  })
})

Deflate('a large compressed message in three fragments comes back whole', async () => {
  await serve(COMPRESSING, async (server) => {
    const ws = await server.open({ fields: [DEFLATE] })
    const text = Buffer.from(prose(20_000))
    const data = compress(text)
    const third = Math.floor(data.length / 3)
    ws.sendFrame(Opcode.TEXT, data.subarray(0, third), { rsv1: true, fin: false })
    ws.sendFrame(Opcode.PING, 'between')
    ws.sendFrame(Opcode.CONTINUATION, data.subarray(third, 2 * third), { fin: false })
    ws.sendFrame(Opcode.CONTINUATION, data.subarray(2 * third))
    const pong = await ws.nextFrame()
    assert.is(pong.opcode, Opcode.PONG)
    const echo = await ws.nextMessage()
    assert.ok(echo.compressed)
    assert.ok(inflate(echo.payload).equals(text))
  })
})

Deflate('a session without deflate still refuses RSV1 after a compressing session has read', async () => {
  await serve(COMPRESSING, async (server) => {
    const compressing = await server.open({ fields: [DEFLATE] })
    const plain = await server.open()
    compressing.sendFrame(Opcode.TEXT, compress(Buffer.from('tiny')), { rsv1: true })
    assert.is((await compressing.nextMessage()).payload.toString(), 'tiny')
    plain.write(clientFrame(Opcode.TEXT, 'hi', { rsv1: true }))
    await expectFailure(plain, 1002, 'RSV1 from the session that did not agree on deflate')
  })
})

Deflate('RSV1 on a continuation frame is closed with 1002', async () => {
  await serve(COMPRESSING, async (server) => {
    const data = compress(Buffer.from(prose(500)))
    const bytes = Buffer.concat([
      clientFrame(Opcode.TEXT, data.subarray(0, 10), { rsv1: true, fin: false }),
      clientFrame(Opcode.CONTINUATION, data.subarray(10), { rsv1: true }),
    ])
    await failsWith(server, bytes, 1002, 'RSV1 on a continuation', [DEFLATE])
  })
})

Deflate('RSV1 on a control frame is closed with 1002', async () => {
  await serve(COMPRESSING, async (server) => {
    await failsWith(server, clientFrame(Opcode.PING, 'x', { rsv1: true }), 1002, 'RSV1 on a ping', [DEFLATE])
  })
})

Deflate('a compressed message that inflates past maxMessageBytes is closed with 1009', async () => {
  await serve({ ...COMPRESSING, wsMaxMessageBytes: 64 * KiB }, async (server) => {
    const bomb = compress(Buffer.alloc(8 * MiB))
    assert.ok(bomb.length < 64 * KiB, 'small on the wire')
    await failsWith(server, clientFrame(Opcode.BINARY, bomb, { rsv1: true }), 1009, 'an 8 MiB inflation', [DEFLATE])
  })
})

Deflate('corrupt DEFLATE data is closed with 1007 (BAD_DEFLATE_DATA)', async () => {
  await serve(COMPRESSING, async (server) => {
    // BTYPE 11 is reserved (RFC 1951 §3.2.3): zlib says "invalid block type".
    await failsWith(server, clientFrame(Opcode.TEXT, hex('ffffff'), { rsv1: true }), 1007, 'an invalid block type', [DEFLATE])
  })
})

Deflate('a compressed text message that inflates to invalid UTF-8 is closed with 1007', async () => {
  await serve(COMPRESSING, async (server) => {
    await failsWith(server, clientFrame(Opcode.TEXT, compress(hex('61c328')), { rsv1: true }), 1007, 'inflated c3 28', [DEFLATE])
  })
})

Deflate('a client that vanishes while its large compressed message is being inflated or its echo compressed leaves the server serving', async () => {
  // The session closes its zlib streams while a job is running on them: the job must end
  // quietly (zlib asserts if a closed stream is touched, and that would end the process).
  // Without context takeover each job ends with a reset of its stream: the case that crashed.
  const offer = 'Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; server_no_context_takeover'
  await serve(COMPRESSING, async (server) => {
    const big = Buffer.alloc(2 * MiB, 'push-wire ')
    const clients = await Promise.all(Array.from({ length: 12 }, () => server.open({ fields: [offer] })))
    for (const ws of clients) for (let n = 0; n < 4; n++) ws.sendFrame(Opcode.BINARY, compress(big), { rsv1: true })
    // Gone while jobs are queued and running: some at once, the others at the first echo.
    clients.slice(0, 6).forEach((ws) => ws.destroy())
    await clients[6].nextMessage('the first echo')
    clients.slice(6).forEach((ws) => ws.destroy())
    await allForgotten(server.echo, 'every session to close')
    const ws = await server.open({ fields: [offer] })
    ws.sendFrame(Opcode.TEXT, 'still here')
    assert.is((await ws.nextMessage()).payload.toString(), 'still here')
  })
})

Deflate('context takeover: the second message, compressed with the window of the first, is understood, and the echoes too', async () => {
  await serve(COMPRESSING, async (server) => {
    const ws = await server.open({ fields: [DEFLATE] })
    const deflater = new ClientDeflater()
    const inflater = new ClientInflater()
    try {
      const text = Buffer.from(prose(3000))
      const first = await deflater.compress(text)
      const second = await deflater.compress(text)
      assert.ok(second.length < first.length / 4, `the second refers back to the first (${second.length} < ${first.length} / 4)`)
      ws.sendFrame(Opcode.TEXT, first, { rsv1: true })
      ws.sendFrame(Opcode.TEXT, second, { rsv1: true })
      const echo1 = await ws.nextMessage()
      const echo2 = await ws.nextMessage()
      assert.ok(echo1.compressed && echo2.compressed)
      assert.ok(echo2.payload.length < echo1.payload.length, 'the server keeps its window too')
      assert.ok((await inflater.inflate(echo1.payload)).equals(text))
      assert.ok((await inflater.inflate(echo2.payload)).equals(text))
    } finally {
      deflater.close()
      inflater.close()
    }
  })
})

Deflate('sessions that agreed on different parameters, on one route, each compress as they agreed', async () => {
  await serve(COMPRESSING, async (server) => {
    const NO_CONTEXT = 'Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover'
    const first = await server.open({ fields: [NO_CONTEXT] })
    const context = await server.open({ fields: [DEFLATE] })
    const second = await server.open({ fields: [NO_CONTEXT] })
    assert.match(first.header('sec-websocket-extensions') ?? '', /server_no_context_takeover/)
    assert.not.match(context.header('sec-websocket-extensions') ?? '', /server_no_context_takeover/)
    const text = Buffer.from(prose(3000))
    const echoes = new Map<WsRawClient, Buffer[]>()
    for (let round = 0; round < 2; round++) {
      for (const ws of [first, context, second]) {
        ws.sendFrame(Opcode.TEXT, text)
        const echo = await ws.nextMessage()
        assert.ok(echo.compressed, 'over the threshold: compressed')
        echoes.set(ws, [...(echoes.get(ws) ?? []), echo.payload])
      }
    }
    for (const ws of [first, second]) {
      const [one, two] = echoes.get(ws)!
      assert.ok(two.equals(one), 'without context takeover, the same message compresses to the same bytes')
      assert.ok(inflate(two).equals(text), 'and inflates on its own')
    }
    const [one, two] = echoes.get(context)!
    assert.ok(two.length < one.length / 4, `with context takeover, the second refers back to the first (${two.length} < ${one.length} / 4)`)
  })
})

Deflate('compressed and plain messages in a row come back in order', async () => {
  await serve(COMPRESSING, async (server) => {
    const ws = await server.open({ fields: [DEFLATE] })
    const inflater = new ClientInflater()
    try {
      const texts = Array.from({ length: 20 }, (_, i) => (i % 3 === 0 ? `short ${i}` : prose(200 + i * 50)))
      for (const [i, text] of texts.entries()) {
        if (i % 2 === 0) ws.sendFrame(Opcode.TEXT, compress(Buffer.from(text)), { rsv1: true })
        else ws.sendFrame(Opcode.TEXT, text)
      }
      for (const [i, text] of texts.entries()) {
        const echo = await ws.nextMessage(`echo ${i}`)
        const payload = echo.compressed ? await inflater.inflate(echo.payload) : echo.payload
        assert.is(echo.compressed, Buffer.byteLength(text) >= 100, `echo ${i} compressed by size`)
        assert.is(payload.toString(), text, `echo ${i}`)
      }
    } finally {
      inflater.close()
    }
  })
})

Deflate.run()

// ---------------------------------------------------------------------------------------
const Closed = suite('ws session: closed')

Closed('the endpoint forgets sessions however they end', async () => {
  await serve({}, async (server) => {
    const handshake = await server.open()
    const failed = await server.open()
    const dropped = await server.open()
    const halfClosed = await server.open()
    assert.is(server.echo.sessionCount, 4)
    handshake.sendFrame(Opcode.CLOSE, closeBody(1000))
    failed.write(hex('81 02 6869'))
    dropped.destroy()
    halfClosed.end()
    await Promise.all([handshake.socketClosed(), failed.socketClosed(), halfClosed.socketClosed()])
    await allForgotten(server.echo)
  })
})

Closed('the handler hears of the close once, with the code and reason of the peer', async () => {
  await serve({}, async (server) => {
    const events: string[] = []
    const handler: SessionHandler = {
      onMessage: (_session, data) => events.push(`message ${data.toString()}`),
      onClose: (_session, code, reason) => events.push(`close ${code} ${reason}`),
    }
    const endpoint = addRoute(server, '/events', handler)
    const ws = await server.open({ path: '/events' })
    ws.write(Buffer.concat([clientFrame(Opcode.TEXT, 'hi'), clientFrame(Opcode.CLOSE, closeBody(4001, 'see you')), clientFrame(Opcode.TEXT, 'ignored')]))
    await ws.socketClosed()
    await allForgotten(endpoint)
    const none = await server.open({ path: '/events' })
    none.sendFrame(Opcode.CLOSE)
    await none.socketClosed()
    await allForgotten(endpoint, 'the empty Close')
    const dropped = await server.open({ path: '/events' })
    dropped.destroy()
    await allForgotten(endpoint, 'the dropped connection')
    assert.equal(events, ['message hi', 'close 4001 see you', 'close 1005 ', 'close 1006 '])
  })
})

Closed('a session closed by a protocol error reports 1006 to its handler, and nothing more is delivered', async () => {
  await serve({}, async (server) => {
    const events: string[] = []
    const endpoint = addRoute(server, '/events', {
      onMessage: (_session, data) => events.push(`message ${data.toString()}`),
      onClose: (_session, code) => events.push(`close ${code}`),
    })
    const ws = await server.open({ path: '/events' })
    ws.write(Buffer.concat([clientFrame(Opcode.TEXT, 'ok'), clientFrame(Opcode.TEXT, hex('ff')), clientFrame(Opcode.TEXT, 'after')]))
    await expectFailure(ws, 1007, 'invalid UTF-8')
    await allForgotten(endpoint)
    assert.equal(events, ['message ok', 'close 1006'])
  })
})

Closed.run()

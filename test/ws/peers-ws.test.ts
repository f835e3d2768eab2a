// The `ws` package (v8) as the client a Node.js user would pick, against the real server
// in this process on port 0: echo of text and binary, the 16 MiB limit, fragments,
// ping and pong both ways, the close handshake, permessage-deflate as ws offers it, many
// clients at once, Origin, subprotocols and shutdown.
//
// Where compression is the point, the bytes the server's socket wrote and read are
// counted: a message that crossed the wire compressed is much smaller than itself.
// Every wait has a generous deadline; no test asserts on how long something took.

import { randomBytes } from 'node:crypto'
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import WebSocket, { type ClientOptions, type RawData } from 'ws'
import { startServer, withServer, type LiveServer, type RunningServer } from '../helpers/server.ts'
import { settled, until, within } from '../helpers/wait.ts'

const test = suite('ws peer')

interface Message {
  data: Buffer
  binary: boolean
}

interface Closed {
  code: number
  reason: string
}

/** One ws client and everything it has seen. */
class Peer {
  readonly messages: Message[] = []
  readonly pings: Buffer[] = []
  readonly pongs: Buffer[] = []
  readonly errors: Error[] = []
  /** The 101 response's fields (from ws's 'upgrade' event). */
  headers: IncomingHttpHeaders = {}
  /** The client's TCP socket (from ws's 'upgrade' event). */
  socket: Socket | null = null
  /** ws emitted 'open'. */
  opened = false
  /** Resolves when ws emits 'close'. */
  readonly closed: Promise<Closed>
  private cursor = 0

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data: RawData, isBinary: boolean) => this.messages.push({ data: toBuffer(data), binary: isBinary }))
    ws.on('ping', (data: Buffer) => this.pings.push(data))
    ws.on('pong', (data: Buffer) => this.pongs.push(data))
    ws.on('error', (error: Error) => this.errors.push(error))
    ws.on('open', () => (this.opened = true))
    ws.on('upgrade', (res: IncomingMessage) => {
      this.headers = res.headers
      this.socket = res.socket
    })
    this.closed = new Promise((resolve) => ws.on('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })))
  }

  /** The next message not yet handed out. */
  async next(what = 'an echoed message'): Promise<Message> {
    await until(() => this.messages.length > this.cursor || this.ws.readyState === WebSocket.CLOSED, what)
    const message = this.messages[this.cursor]
    if (message === undefined) throw new Error(`the connection closed while waiting for ${what}`)
    this.cursor++
    return message
  }

  /** Sends `data` and returns what came back. */
  async echo(data: string | Buffer, what = 'the echo'): Promise<Message> {
    this.ws.send(data)
    return this.next(what)
  }

  whenClosed(what = 'the close event'): Promise<Closed> {
    return within(this.closed, what)
  }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data
  if (Array.isArray(data)) return Buffer.concat(data)
  return Buffer.from(data)
}

/** Every ws client a test opened; terminated after each test. */
const peers = new Set<Peer>()

/** Opens a ws client to /echo and waits for it to open. */
async function open(port: number, options: ClientOptions = {}, protocols?: string[]): Promise<Peer> {
  const peer = start(port, options, protocols)
  await within(
    new Promise<void>((resolve, reject) => {
      peer.ws.once('open', () => resolve())
      peer.ws.once('close', (code: number) => reject(new Error(`closed with ${code} before it opened: ${peer.errors.map((e) => e.message).join('; ')}`)))
    }),
    'the WebSocket to open',
  )
  return peer
}

/** A ws client to /echo, not waited for. */
function start(port: number, options: ClientOptions = {}, protocols?: string[]): Peer {
  const peer = new Peer(new WebSocket(`ws://127.0.0.1:${port}/echo`, protocols, options))
  peers.add(peer)
  return peer
}

test.after.each(() => {
  for (const peer of peers) peer.ws.terminate()
  peers.clear()
})

/** The server's side of the only connection a fresh server accepted. */
async function onlySocket(server: LiveServer): Promise<Socket> {
  await until(() => server.accepted.length > 0, 'the server to accept the connection')
  assert.is(server.accepted.length, 1, 'one connection')
  return server.accepted[0]
}

/** Bytes the server's socket wrote and read while `run` ran. */
async function counted<T>(socket: Socket, run: () => Promise<T>): Promise<{ result: T; written: number; read: number }> {
  const written = socket.bytesWritten
  const read = socket.bytesRead
  const result = await run()
  return { result, written: socket.bytesWritten - written, read: socket.bytesRead - read }
}

/** `n` bytes of printable text that compresses poorly on its own (base64 of random bytes). */
function randomText(n: number): string {
  return randomBytes(Math.ceil((n * 3) / 4) + 3)
    .toString('base64')
    .slice(0, n)
}

// ---- echo, on one server shared by the tests that need nothing special

let shared: RunningServer

test.before(async () => {
  shared = await startServer()
})

test.after(async () => {
  await shared?.close()
})

test('a text message comes back as text, the same characters', async () => {
  const peer = await open(shared.port)
  const text = 'héllo, wörld: ✓ 𝄞 \u0000 end'
  const back = await peer.echo(text)
  assert.is(back.binary, false)
  assert.is(back.data.toString('utf8'), text)
  const empty = await peer.echo('')
  assert.is(empty.binary, false)
  assert.is(empty.data.length, 0)
})

test('a binary message comes back as binary, every byte value', async () => {
  const peer = await open(shared.port)
  const bytes = Buffer.alloc(1024)
  for (let i = 0; i < bytes.length; i++) bytes[i] = i & 0xff
  const back = await peer.echo(bytes)
  assert.is(back.binary, true)
  assert.ok(back.data.equals(bytes), 'the same bytes')
  const empty = await peer.echo(Buffer.alloc(0))
  assert.is(empty.binary, true)
  assert.is(empty.data.length, 0)
})

test('messages on one connection come back in the order sent, text and binary mixed', async () => {
  // Without compression: sent back to back, compressed echoes are a known bug (below).
  const peer = await open(shared.port, { perMessageDeflate: false })
  const sent: (string | Buffer)[] = []
  for (let i = 0; i < 50; i++) sent.push(i % 2 === 0 ? `text ${i} ${'x'.repeat(i * 100)}` : randomBytes(i * 100))
  for (const message of sent) peer.ws.send(message)
  for (const [i, message] of sent.entries()) {
    const back = await peer.next(`echo ${i}`)
    assert.is(back.binary, typeof message !== 'string', `message ${i}: its type`)
    assert.ok(back.data.equals(Buffer.from(message)), `message ${i}: its bytes`)
  }
})

test('a 16 MiB binary message (the default limit) comes back intact', async () => {
  const peer = await open(shared.port, { perMessageDeflate: false })
  const big = randomBytes(16 * 1024 * 1024)
  const back = await peer.echo(big, 'the 16 MiB echo')
  assert.is(back.binary, true)
  assert.is(back.data.length, big.length)
  assert.ok(back.data.equals(big), 'the same 16 MiB')
})

test('a 16 MiB message compressed by ws (permessage-deflate) comes back intact', async () => {
  const peer = await open(shared.port, { perMessageDeflate: true })
  assert.is(peer.ws.extensions, 'permessage-deflate')
  // Compressible, but not trivially: 4 KiB of random text repeated with a counter.
  const block = randomText(4096)
  const parts: string[] = []
  for (let i = 0; parts.length * 4100 < 16 * 1024 * 1024 - 8200; i++) parts.push(`${String(i).padStart(4, '0')}${block}`)
  const big = Buffer.from(parts.join(''))
  assert.ok(big.length > 16 * 1024 * 1024 - 16 * 1024 && big.length <= 16 * 1024 * 1024, `${big.length} bytes`)
  const back = await peer.echo(big, 'the compressed 16 MiB echo')
  assert.is(back.binary, true)
  assert.ok(back.data.equals(big), 'the same bytes')
})

// ---- the message limit

test('a message over wsMaxMessageBytes closes the connection with 1009; one at the limit is echoed', async () => {
  await withServer({ wsMaxMessageBytes: 64 * 1024 }, async (server) => {
    const peer = await open(server.port, { perMessageDeflate: false })
    const atLimit = randomBytes(64 * 1024)
    const back = await peer.echo(atLimit, 'the echo of a message at the limit')
    assert.ok(back.data.equals(atLimit))
    peer.ws.send(randomBytes(64 * 1024 + 1))
    const closed = await peer.whenClosed()
    assert.is(closed.code, 1009)
    assert.is(peer.messages.length, 1, 'nothing echoed after the message at the limit')
  })
})

test('a fragmented message whose fragments add up past the limit closes with 1009', async () => {
  await withServer({ wsMaxMessageBytes: 64 * 1024 }, async (server) => {
    const peer = await open(server.port, { perMessageDeflate: false })
    for (let i = 0; i < 8; i++) peer.ws.send(randomBytes(8 * 1024), { binary: true, fin: false })
    peer.ws.send(Buffer.from('x'), { binary: true, fin: true })
    const closed = await peer.whenClosed()
    assert.is(closed.code, 1009)
    assert.is(peer.messages.length, 0)
  })
})

test('a compressed message that inflates past the limit closes with 1009', async () => {
  await withServer({ wsMaxMessageBytes: 64 * 1024 }, async (server) => {
    const peer = await open(server.port, { perMessageDeflate: true })
    assert.is(peer.ws.extensions, 'permessage-deflate')
    const socket = await onlySocket(server)
    const before = socket.bytesRead
    peer.ws.send(Buffer.alloc(1024 * 1024)) // 1 MiB of zeros: about 1 KiB on the wire
    const closed = await peer.whenClosed()
    assert.is(closed.code, 1009)
    assert.ok(socket.bytesRead - before < 64 * 1024, `the server read ${socket.bytesRead - before} bytes: the message went compressed`)
    assert.is(peer.messages.length, 0)
  })
})

// ---- fragments

test('a text message sent in fragments comes back as one message', async () => {
  const peer = await open(shared.port, { perMessageDeflate: false })
  peer.ws.send('frag', { fin: false })
  peer.ws.send('ment', { fin: false })
  peer.ws.send('é', { fin: false }) // a two-byte character in a fragment of its own
  peer.ws.send('d', { fin: true })
  const back = await peer.next()
  assert.is(back.binary, false)
  assert.is(back.data.toString(), 'fragmentéd')
  const after = await peer.echo('after')
  assert.is(after.data.toString(), 'after', 'the next message is a message of its own')
})

test('a binary message in fragments, with a ping between them, comes back whole after the pong', async () => {
  const peer = await open(shared.port, { perMessageDeflate: false })
  const parts = [randomBytes(1000), randomBytes(70_000), randomBytes(1)]
  peer.ws.send(parts[0], { binary: true, fin: false })
  peer.ws.ping(Buffer.from('between'))
  peer.ws.send(parts[1], { binary: true, fin: false })
  peer.ws.send(parts[2], { binary: true, fin: true })
  const back = await peer.next()
  assert.is(back.binary, true)
  assert.ok(back.data.equals(Buffer.concat(parts)), 'the fragments joined')
  assert.is(peer.messages.length, 1, 'one message')
  assert.equal(
    peer.pongs.map((p) => p.toString()),
    ['between'],
  )
})

test('a compressed message sent in fragments (permessage-deflate) comes back whole', async () => {
  const peer = await open(shared.port, { perMessageDeflate: true })
  assert.is(peer.ws.extensions, 'permessage-deflate')
  // ws compresses every message when client_no_context_takeover is not agreed (its threshold
  // applies only then): RSV1 on the first fragment, the rest continue the DEFLATE stream.
  const parts = [randomText(3000), 'a'.repeat(50_000), randomText(10)]
  peer.ws.send(parts[0], { fin: false })
  peer.ws.send(parts[1], { fin: false })
  peer.ws.send(parts[2], { fin: true })
  const back = await peer.next()
  assert.is(back.binary, false)
  assert.is(back.data.toString(), parts.join(''))
  const again = await peer.echo(parts.join(''))
  assert.is(again.data.toString(), parts.join(''), 'the same again in one frame, with the context carried over')
})

test('a character split across two fragments is put back together', async () => {
  const peer = await open(shared.port, { perMessageDeflate: false })
  const euro = Buffer.from('€') // e2 82 ac
  peer.ws.send(Buffer.concat([Buffer.from('price: '), euro.subarray(0, 1)]), { binary: false, fin: false })
  peer.ws.send(euro.subarray(1, 2), { binary: false, fin: false })
  peer.ws.send(Buffer.concat([euro.subarray(2), Buffer.from('5')]), { binary: false, fin: true })
  const back = await peer.next()
  assert.is(back.binary, false)
  assert.is(back.data.toString(), 'price: €5')
})

// ---- invalid text (ws sends a Buffer as a text frame unchecked when told binary: false)

test('a text message that is not UTF-8 closes the connection with 1007', async () => {
  await withServer({}, async (server) => {
    const peer = await open(server.port, { perMessageDeflate: false })
    peer.ws.send(Buffer.from([0x61, 0xff, 0x62]), { binary: false })
    const closed = await peer.whenClosed()
    assert.is(closed.code, 1007)
    assert.is(peer.messages.length, 0)
  })
})

test('a fragmented text message that ends inside a character closes with 1007', async () => {
  await withServer({}, async (server) => {
    const peer = await open(server.port, { perMessageDeflate: false })
    peer.ws.send(Buffer.from('ok '), { binary: false, fin: false })
    peer.ws.send(Buffer.from('€').subarray(0, 2), { binary: false, fin: true })
    const closed = await peer.whenClosed()
    assert.is(closed.code, 1007)
    assert.is(peer.messages.length, 0)
  })
})

test('a compressed text message that inflates to invalid UTF-8 closes with 1007', async () => {
  await withServer({}, async (server) => {
    const peer = await open(server.port, { perMessageDeflate: true })
    assert.is(peer.ws.extensions, 'permessage-deflate')
    const bad = Buffer.alloc(4096, 0x61)
    bad[2000] = 0xc0 // never valid in UTF-8
    peer.ws.send(bad, { binary: false })
    const closed = await peer.whenClosed()
    assert.is(closed.code, 1007)
    assert.is(peer.messages.length, 0)
  })
})

// ---- ping and pong

test("a ping from the client gets a pong with the ping's payload", async () => {
  const peer = await open(shared.port)
  peer.ws.ping(Buffer.from('are you there?'))
  peer.ws.ping(Buffer.alloc(0))
  const full = randomBytes(125) // the largest control payload
  peer.ws.ping(full)
  await until(() => peer.pongs.length >= 3, 'three pongs')
  assert.is(peer.pongs[0].toString(), 'are you there?')
  assert.is(peer.pongs[1].length, 0)
  assert.ok(peer.pongs[2].equals(full))
  assert.is(peer.messages.length, 0, 'pongs are not messages')
})

test('the server pings an idle client; ws answers and the connection stays open over several intervals', async () => {
  await withServer({ wsPingIntervalMs: 100, wsPongTimeoutMs: 5000 }, async (server) => {
    const peer = await open(server.port)
    await until(() => peer.pings.length >= 4, 'four pings from the server')
    assert.is(peer.ws.readyState, WebSocket.OPEN)
    assert.is(peer.errors.length, 0)
    const back = await peer.echo('still here')
    assert.is(back.data.toString(), 'still here')
    assert.is(server.echo.sessionCount, 1)
  })
})

test('a client that does not answer pings is dropped after the pong timeout (close 1006: no Close frame)', async () => {
  await withServer({ wsPingIntervalMs: 100, wsPongTimeoutMs: 300 }, async (server) => {
    const peer = await open(server.port, { autoPong: false })
    const closed = await peer.whenClosed()
    assert.ok(peer.pings.length >= 1, 'the server pinged')
    assert.is(closed.code, 1006)
    await until(() => server.echo.sessionCount === 0, 'the server to forget the session')
  })
})

// ---- the close handshake

for (const code of [1000, 3000, 4999]) {
  test(`a Close with code ${code} and a reason is answered with ${code}; close fires on the client`, async () => {
    await withServer({}, async (server) => {
      const peer = await open(server.port)
      await peer.echo('before closing')
      peer.ws.close(code, `goodbye with ${code} ✓`)
      const closed = await peer.whenClosed()
      assert.is(closed.code, code)
      assert.is(peer.errors.length, 0, peer.errors.map((e) => e.message).join('; '))
      await until(() => server.echo.sessionCount === 0, 'the server to forget the session')
    })
  })
}

test('a Close without a code is answered with a Close without a code (1005 on the client)', async () => {
  await withServer({}, async (server) => {
    const peer = await open(server.port)
    peer.ws.close()
    const closed = await peer.whenClosed()
    assert.is(closed.code, 1005)
    assert.is(peer.errors.length, 0)
    await until(() => server.echo.sessionCount === 0, 'the server to forget the session')
  })
})

// ---- permessage-deflate

test('permessage-deflate on: negotiated; under the threshold goes plain, at and over it compressed, both ways', async () => {
  await withServer({ deflateThreshold: 1024 }, async (server) => {
    const peer = await open(server.port, { perMessageDeflate: true })
    assert.is(peer.ws.extensions, 'permessage-deflate')
    assert.match(String(peer.headers['sec-websocket-extensions']), /^permessage-deflate\b/)
    assert.not.match(String(peer.headers['sec-websocket-extensions']), /no_context_takeover/)
    const socket = await onlySocket(server)

    const under = 'a'.repeat(1023)
    const small = await counted(socket, () => peer.echo(under))
    assert.is(small.result.data.toString(), under)
    assert.ok(small.written >= 1023, `the server wrote ${small.written} bytes for 1023 under the threshold: plain`)

    const at = 'b'.repeat(1024)
    const atThreshold = await counted(socket, () => peer.echo(at))
    assert.is(atThreshold.result.data.toString(), at)
    assert.ok(atThreshold.written < 200, `the server wrote ${atThreshold.written} bytes for 1024 at the threshold: compressed`)

    const over = 'the same words again and again. '.repeat(4000)
    const large = await counted(socket, () => peer.echo(over))
    assert.is(large.result.binary, false)
    assert.is(large.result.data.toString(), over)
    assert.ok(large.written < 10_000, `the server wrote ${large.written} bytes for ${over.length}: compressed`)
    assert.ok(large.read < 10_000, `the server read ${large.read} bytes for ${over.length}: ws compressed it`)

    const binary = Buffer.alloc(200_000, 7)
    const zeros = await counted(socket, () => peer.echo(binary))
    assert.is(zeros.result.binary, true)
    assert.ok(zeros.result.data.equals(binary))
    assert.ok(zeros.written < 10_000, `the server wrote ${zeros.written} bytes: compressed`)
  })
})

test('permessage-deflate off in ws: no extension, and large messages go plain', async () => {
  await withServer({}, async (server) => {
    const peer = await open(server.port, { perMessageDeflate: false })
    assert.is(peer.ws.extensions, '')
    assert.is(peer.headers['sec-websocket-extensions'], undefined)
    const socket = await onlySocket(server)
    const over = 'the same words again and again. '.repeat(4000)
    const large = await counted(socket, () => peer.echo(over))
    assert.is(large.result.data.toString(), over)
    assert.ok(large.written >= over.length, `the server wrote ${large.written} bytes for ${over.length}: plain`)
    assert.ok(large.read >= over.length, `the server read ${large.read} bytes for ${over.length}: plain`)
  })
})

test('permessage-deflate off in the server (deflate: false): the offer is declined and messages still echo', async () => {
  await withServer({ deflate: false }, async (server) => {
    const peer = await open(server.port, { perMessageDeflate: true })
    assert.is(peer.ws.extensions, '')
    assert.is(peer.headers['sec-websocket-extensions'], undefined)
    const socket = await onlySocket(server)
    const over = 'x'.repeat(100_000)
    const large = await counted(socket, () => peer.echo(over))
    assert.is(large.result.data.toString(), over)
    assert.ok(large.written >= over.length, `the server wrote ${large.written} bytes: plain`)
  })
})

test('with context takeover (the default) a repeated message compresses to little the second time', async () => {
  await withServer({}, async (server) => {
    const peer = await open(server.port, { perMessageDeflate: true })
    const socket = await onlySocket(server)
    const text = randomText(8192)
    const first = await counted(socket, () => peer.echo(text))
    const second = await counted(socket, () => peer.echo(text))
    assert.is(first.result.data.toString(), text)
    assert.is(second.result.data.toString(), text)
    assert.ok(first.written > 4000, `first: ${first.written} bytes`)
    assert.ok(second.written < first.written / 4, `second: ${second.written} bytes against ${first.written}: the window carried over`)
  })
})

/**
 * Sends `messages` uncompressed in one write (the client's socket corked), so the server
 * reads them in one chunk and echoes them in one go: several compressions are under way
 * at once.
 */
async function burst(peer: Peer, messages: string[]): Promise<string[]> {
  const socket = peer.socket
  assert.ok(socket, "the client's socket")
  socket.cork()
  for (const message of messages) peer.ws.send(message, { compress: false })
  process.nextTick(() => socket.uncork())
  const back: string[] = []
  for (let i = 0; i < messages.length; i++) back.push((await peer.next(`echo ${i} of the burst`)).data.toString())
  return back
}

/** Compressible messages of 2000 bytes, each of its own letter: a..j. */
const LETTERS = Array.from({ length: 10 }, (_, i) => String.fromCharCode(97 + i).repeat(2000))

/** What came back, shortly: "2000 a" for 2000 bytes that are all "a". */
const describe = (texts: string[]) => texts.map((t) => `${t.length} ${[...new Set(t)].join('')}`)

// Ten compressed messages arrive in one read: each compression must run on the stream
// alone (deflate.ts runs one compressor's jobs in turn), or a message's output would
// collect the bytes of the ones before it.
test('compressed messages echoed back to back come back each as itself (context takeover)', async () => {
  await withServer({}, async (server) => {
    const peer = await open(server.port, { perMessageDeflate: true })
    assert.is(peer.ws.extensions, 'permessage-deflate')
    const back = await burst(peer, LETTERS)
    assert.equal(describe(back), describe(LETTERS))
  })
})

test('compressed messages echoed back to back come back each as itself (server_no_context_takeover)', async () => {
  await withServer({}, async (server) => {
    const peer = await open(server.port, { perMessageDeflate: { serverNoContextTakeover: true } })
    assert.match(String(peer.headers['sec-websocket-extensions']), /server_no_context_takeover/)
    const back = await burst(peer, LETTERS)
    assert.equal(describe(back), describe(LETTERS))
  })
})

test('serverNoContextTakeover and clientNoContextTakeover offers are agreed; repeated messages round-trip, each compressed alone', async () => {
  await withServer({}, async (server) => {
    const peer = await open(server.port, { perMessageDeflate: { serverNoContextTakeover: true, clientNoContextTakeover: true } })
    assert.is(peer.ws.extensions, 'permessage-deflate')
    const agreed = String(peer.headers['sec-websocket-extensions'])
    assert.match(agreed, /server_no_context_takeover/)
    assert.match(agreed, /client_no_context_takeover/)
    const socket = await onlySocket(server)
    const text = randomText(8192)
    const sizes: number[] = []
    const readSizes: number[] = []
    for (let i = 0; i < 4; i++) {
      const round = await counted(socket, () => peer.echo(text))
      assert.is(round.result.data.toString(), text, `round ${i}`)
      sizes.push(round.written)
      readSizes.push(round.read)
    }
    assert.ok(sizes[0] > 4000 && sizes[0] < text.length, `first: ${sizes[0]} bytes (compressed)`)
    for (let i = 1; i < 4; i++) {
      assert.ok(sizes[i] > sizes[0] / 2, `round ${i}: the server wrote ${sizes[i]} against ${sizes[0]}: no window carried over`)
      assert.ok(readSizes[i] > readSizes[0] / 2, `round ${i}: the server read ${readSizes[i]} against ${readSizes[0]}: ws carried no window over`)
    }
    const small = await peer.echo('small')
    assert.is(small.data.toString(), 'small')
  })
})

test('clientMaxWindowBits: 10 is agreed and messages over and under the threshold round-trip', async () => {
  await withServer({}, async (server) => {
    const peer = await open(server.port, { perMessageDeflate: { clientMaxWindowBits: 10 } })
    assert.is(peer.ws.extensions, 'permessage-deflate')
    assert.match(String(peer.headers['sec-websocket-extensions']), /client_max_window_bits=10/)
    const socket = await onlySocket(server)
    // Repeats farther apart than 1 KiB: the client must not reach back past its window.
    const block = randomText(3000)
    const over = `${block}${block}${block}`
    for (let i = 0; i < 3; i++) {
      const round = await counted(socket, () => peer.echo(over))
      assert.is(round.result.data.toString(), over, `round ${i}`)
      assert.ok(round.read < over.length, `round ${i}: the server read ${round.read} bytes for ${over.length}: ws compressed it`)
    }
    const under = await peer.echo('under the threshold')
    assert.is(under.data.toString(), 'under the threshold')
    const bytes = randomBytes(50_000)
    const binary = await peer.echo(bytes)
    assert.ok(binary.data.equals(bytes))
  })
})

test('serverMaxWindowBits: 10 is agreed and the server compresses within 1 KiB windows (ws inflates with 10 bits)', async () => {
  await withServer({}, async (server) => {
    const peer = await open(server.port, { perMessageDeflate: { serverMaxWindowBits: 10 } })
    assert.match(String(peer.headers['sec-websocket-extensions']), /server_max_window_bits=10/)
    const block = randomText(3000)
    const over = `${block}${block}${block}`
    for (let i = 0; i < 3; i++) {
      const back = await peer.echo(over)
      assert.is(back.data.toString(), over, `round ${i}`)
    }
    assert.is(peer.errors.length, 0, peer.errors.map((e) => e.message).join('; '))
    assert.is(peer.ws.readyState, WebSocket.OPEN)
  })
})

// ---- a client that stops reading

test('a client that stops reading (ws.pause()) is waited for, not dropped, and then gets every echo in order', async () => {
  await withServer({ maxBufferedBytes: 256 * 1024 }, async (server) => {
    const peer = await open(server.port, { perMessageDeflate: false })
    const socket = await onlySocket(server)
    peer.ws.pause()
    // 48 MiB: more than loopback's socket buffers on both sides usually hold (Linux: up to
    // tcp_rmem's 32 MiB for the paused client, 4 MiB tcp_wmem for the server).
    const sent = Array.from({ length: 192 }, () => randomBytes(256 * 1024))
    for (const message of sent) peer.ws.send(message)
    const read = await settled(() => socket.bytesRead, 'the bytes the server read')
    assert.ok(read < 192 * 256 * 1024, `the server stopped reading (it read ${read} bytes)`)
    // The echo handler stops reading while its output is backed up: the server's own buffer stays small.
    assert.ok(socket.writableLength <= 256 * 1024 + 256 * 1024 + 16, `the server holds ${socket.writableLength} bytes of output`)
    assert.is(peer.ws.readyState, WebSocket.OPEN)
    assert.is(server.echo.sessionCount, 1)
    peer.ws.resume()
    for (const [i, message] of sent.entries()) {
      const back = await peer.next(`echo ${i}`)
      assert.ok(back.data.equals(message), `echo ${i}`)
    }
    assert.is(peer.errors.length, 0)
  })
})

// ---- many clients

test('200 clients at once, each echoing several messages in order', async () => {
  await withServer({}, async (server) => {
    const count = 200
    const perClient = 5
    const clients = await Promise.all(Array.from({ length: count }, () => open(server.port)))
    assert.is(server.echo.sessionCount, count)
    await Promise.all(
      clients.map(async (peer, i) => {
        for (let k = 0; k < perClient; k++) peer.ws.send(k % 2 === 0 ? `client ${i} message ${k}` : Buffer.from(`bytes ${i}.${k}`))
        for (let k = 0; k < perClient; k++) {
          const back = await peer.next(`client ${i}'s echo ${k}`)
          assert.is(back.binary, k % 2 === 1)
          assert.is(back.data.toString(), k % 2 === 0 ? `client ${i} message ${k}` : `bytes ${i}.${k}`)
        }
      }),
    )
    for (const peer of clients) peer.ws.close(1000)
    const closes = await Promise.all(clients.map((peer) => peer.whenClosed()))
    assert.ok(
      closes.every((c) => c.code === 1000),
      'every client closed with 1000',
    )
    await until(() => server.echo.sessionCount === 0, 'the server to forget every session')
  })
})

// ---- the handshake: Origin and subprotocols

test('allowedOrigins: an allowed Origin connects, no Origin connects, another Origin gets 403', async () => {
  await withServer({ allowedOrigins: ['http://allowed.example'] }, async (server) => {
    const allowed = await open(server.port, { origin: 'http://allowed.example' })
    assert.is((await allowed.echo('from an allowed origin')).data.toString(), 'from an allowed origin')
    const none = await open(server.port)
    assert.is((await none.echo('from no origin')).data.toString(), 'from no origin')

    const other = start(server.port, { origin: 'http://evil.example' })
    const status = await within(
      new Promise<number>((resolve) =>
        other.ws.on('unexpected-response', (req, res: IncomingMessage) => {
          resolve(res.statusCode ?? 0)
          res.resume()
          req.destroy()
        }),
      ),
      'the unexpected-response event',
    )
    assert.is(status, 403)
    assert.is(other.opened, false, 'never opened')
    assert.is(server.echo.sessionCount, 2, 'the refused client has no session')
  })
})

test('a subprotocol the server does not speak: the 101 names none, and ws then fails the connection', async () => {
  await withServer({}, async (server) => {
    // The server speaks no subprotocol, so it must not name one. ws (unlike browsers,
    // which then open with protocol '') treats a missing Sec-WebSocket-Protocol as a
    // failed handshake when it asked for one: error "Server sent no subprotocol", 1006.
    const peer = start(server.port, {}, ['chat.v1', 'chat.v2'])
    let status = 0
    peer.ws.on('upgrade', (res: IncomingMessage) => (status = res.statusCode ?? 0))
    const closed = await peer.whenClosed()
    assert.is(status, 101)
    assert.is(peer.headers['sec-websocket-protocol'], undefined)
    assert.is(peer.ws.protocol, '')
    assert.equal(
      peer.errors.map((e) => e.message),
      ['Server sent no subprotocol'],
    )
    assert.is(closed.code, 1006)
    await until(() => server.echo.sessionCount === 0, 'the server to forget the aborted session')

    // Without asking for one, the connection opens with protocol ''.
    const plain = await open(server.port)
    assert.is(plain.ws.protocol, '')
    assert.is((await plain.echo('no protocol')).data.toString(), 'no protocol')
  })
})

// ---- shutdown

test('listener.close() closes every client with 1001 and then finishes', async () => {
  const server = await startServer()
  try {
    const clients = await Promise.all([open(server.port), open(server.port, { perMessageDeflate: false }), open(server.port)])
    for (const peer of clients) assert.is((await peer.echo('before shutdown')).data.toString(), 'before shutdown')
    const closing = server.listener.close(5000)
    const closes = await Promise.all(clients.map((peer) => peer.whenClosed('the close event on shutdown')))
    assert.equal(
      closes.map((c) => c.code),
      [1001, 1001, 1001],
    )
    await within(closing, 'the listener to close')
    assert.is(server.echo.sessionCount, 0)
    for (const peer of clients) assert.is(peer.errors.length, 0, peer.errors.map((e) => e.message).join('; '))
  } finally {
    await server.close()
  }
})

test.run()

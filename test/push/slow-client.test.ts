// Slow clients (CONTRACT.md, "Default limits": bytes queued for one slow client, beyond the
// message being written): a subscriber that never reads, on SSE, on the NDJSON stream and on
// WebSocket /ws/{channel}, while 80 messages of 1 MiB are published and a normal subscriber
// on the same channel reads each one. On loopback the kernel takes some MiB before the server
// sees any backpressure; past that, once more than maxBufferedBytes wait in the server for the
// slow one, it is cut off: its subscription goes (channel.subscribers), its response ends or
// its socket closes (WebSocket: Close 1008 queued after its backlog), and it can resume with
// its last id. The server's queue for a socket never holds more than the limit and one
// message, and the process's memory stays bounded. The normal client gets every message.
//
// A replay is not a slow client: a client that comes back with after=0 to a history much
// larger than the limit, and reads in fits and starts, gets all of it and stays connected.
//
// The server runs in this process (helpers/server.ts), so its sockets and its memory are
// the test's to look at. Every wait has a generous deadline; no test asserts on timing.

import { once } from 'node:events'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type WebSocket from 'ws'
import { openStream, openWs, Reader, Rng, type Received, type StreamConnection } from '../helpers/push-readers.ts'
import { withServer, type LiveServer } from '../helpers/server.ts'
import { settled, until, within } from '../helpers/wait.ts'

const test = suite('push: slow clients')

const MiB = 1024 * 1024

// A full collection before each memory sample, so that what is measured is what is held, not
// garbage V8 has not yet bothered to collect (the test process makes MiBs of it per message).
setFlagsFromString('--expose_gc')
const collectGarbage = runInNewContext('gc') as () => void

function memory(): { rss: number; held: number } {
  collectGarbage()
  const usage = process.memoryUsage()
  return { rss: usage.rss, held: usage.heapUsed + usage.external }
}

const COUNT = 80

/** 1 MiB of base64 text from a seeded PRNG: every message differs in its first bytes only. */
const BASE = (() => {
  const rng = new Rng(77)
  const bytes = Buffer.alloc((MiB * 3) / 4)
  for (let i = 0; i < bytes.length; i++) bytes[i] = rng.int(0, 255)
  return bytes.toString('base64')
})()

function payload(id: number): string {
  return `#${id}#${BASE.slice(String(id).length + 2)}`
}

/** Checks a message's data against what was published, and keeps a marker instead of the MiB. */
function checked(message: Received): Received {
  const size = message.data.length
  return { id: message.id, event: message.event, data: message.data === payload(message.id) ? 'ok' : `BAD (${size} chars)` }
}

function assertRun(reader: Reader, from: number, to: number, what: string, start = 0): void {
  const items = reader.items.slice(start)
  const expected = []
  for (let id = from; id <= to; id++) expected.push({ kind: 'message', id, event: '', data: 'ok' })
  assert.equal(items, expected, `${what}: messages ${from}..${to}, each once, in order, intact`)
}

type SlowTransport = 'sse' | 'stream' | 'ws'

/** A subscriber the test pauses and resumes. */
interface Pausable {
  readonly reader: Reader
  pause(): void
  resume(): void
  /** Resolves when its socket has closed. */
  readonly closed: Promise<void>
  /** WebSocket: the close code received. */
  closeCode(): number | null
}

async function subscribe(server: LiveServer, transport: SlowTransport, channel: string, options: { deflate?: boolean; paused?: boolean } = {}): Promise<Pausable> {
  const reader = new Reader(transport, server.port, channel, checked)
  if (transport === 'ws') {
    const { ws, closed } = openWs({ port: server.port, channel, cursor: () => 0, sink: reader.sink, done: () => false, deflate: options.deflate ?? false })
    let code: number | null = null
    const done = closed.then((info) => {
      code = info.code
    })
    await within(once(ws as WebSocket, 'open'), 'the WebSocket to open')
    if (options.paused) ws.pause()
    return {
      reader,
      pause: () => ws.pause(),
      resume: () => ws.resume(),
      closed: done,
      closeCode: () => code,
    }
  }
  const connection: StreamConnection = openStream(server.port, transport, channel, 0, reader.sink)
  if (options.paused) connection.socket.pause()
  const closed = connection.whenClosed.then(() => {
    if (connection.failure) throw connection.failure
  })
  closed.catch(() => {}) // awaited by the test; a failure before that must not go unhandled
  return {
    reader,
    pause: () => connection.socket.pause(),
    resume: () => connection.socket.resume(),
    closed,
    closeCode: () => null,
  }
}

/** The largest output queue of any of the server's sockets right now. */
function largestQueue(server: LiveServer): number {
  let largest = 0
  for (const socket of server.accepted) largest = Math.max(largest, socket.writableLength)
  return largest
}

/**
 * Publishes COUNT messages of 1 MiB, each once every normal reader has the one before;
 * returns the largest server-side queue seen (sampled right after each publish, when it is
 * at its largest, and after the readers caught up), and the peak growth of the process's
 * RSS and of what it holds (heap and external memory) after a collection.
 */
async function publishMiBs(server: LiveServer, channel: string, normals: Reader[], onEach: (id: number) => void): Promise<{ largest: number; rssGrowth: number; heldGrowth: number }> {
  const hub = server.hub.channel(channel)
  const before = memory()
  let rssPeak = before.rss
  let heldPeak = before.held
  let largest = 0
  for (let id = 1; id <= COUNT; id++) {
    hub.publish(payload(id))
    largest = Math.max(largest, largestQueue(server))
    for (const normal of normals) await normal.waitFor(() => normal.lastId >= id, `message ${id} at the normal ${normal.transport} client`, 30_000)
    largest = Math.max(largest, largestQueue(server))
    onEach(id)
    if (id % 4 === 0) {
      const now = memory()
      rssPeak = Math.max(rssPeak, now.rss)
      heldPeak = Math.max(heldPeak, now.held)
    }
  }
  return { largest, rssGrowth: rssPeak - before.rss, heldGrowth: heldPeak - before.held }
}

/** What one message costs on the wire at most (envelope or SSE event, chunk or frame header). */
const MESSAGE_WIRE = MiB + 1024

for (const transport of ['sse', 'stream', 'ws'] as const) {
  test(`${transport}: a client that never reads is cut off past maxBufferedBytes (1 MiB) while 80 MiB are published; the normal client gets everything; queues and memory stay bounded`, async () => {
    const limit = MiB
    await withServer({ maxBufferedBytes: limit, wsCloseTimeoutMs: 60_000 }, async (server) => {
      const name = `slow.${transport}`
      const channel = server.hub.channel(name)
      const slow = await subscribe(server, transport, name, { paused: true })
      await until(() => channel.subscribers === 1, 'the slow client to subscribe')
      const normal = new Reader(transport, server.port, name, checked)
      const reading = normal.readUntil(COUNT + 1, { ms: 90_000 })
      reading.catch(() => {}) // awaited below; a failure before that must not go unhandled
      await until(() => channel.subscribers === 2, 'the normal client to subscribe')

      let cutAt = 0
      const { largest, rssGrowth, heldGrowth } = await publishMiBs(server, name, [normal], (id) => {
        if (cutAt === 0 && channel.subscribers === 1) cutAt = id
      })
      assert.ok(cutAt > 0, `${transport}: the slow client was cut off (subscribers: ${channel.subscribers})`)
      assert.is(channel.subscribers, 1, `${transport}: only the normal client is left`)
      assert.ok(largest <= limit + MESSAGE_WIRE, `${transport}: a server socket queued ${largest} bytes, more than the limit (${limit}) and one message`)
      assert.ok(rssGrowth < 200 * MiB, `${transport}: the process grew by ${Math.round(rssGrowth / MiB)} MiB`)
      // What stays after a collection: the history (8 MiB of data, with its envelopes and encoded
      // forms), the slow client's queue, the readers' buffers. Not 80 MiB of anything.
      assert.ok(heldGrowth < 128 * MiB, `${transport}: the process holds ${Math.round(heldGrowth / MiB)} MiB more (heap and external)`)

      // The slow client reads its backlog: whole messages from 1 on, then the end.
      slow.resume()
      await within(slow.closed, `the slow ${transport} client's connection to close`, 30_000)
      if (transport === 'ws') assert.is(slow.closeCode(), 1008, 'ws: the slow client was closed with 1008')
      const got = slow.reader.lastId
      assert.ok(got < cutAt, `${transport}: the slow client got ${got} messages, fewer than the ${cutAt} published when it was cut off`)
      assertRun(slow.reader, 1, got, `${transport}: the slow client's backlog`)

      // It resumes from its last id: the history kept only the last MiBs, so a gap first.
      hubPublishLast(server, name)
      await within(reading, 'the normal client to read everything')
      assertRun(normal, 1, COUNT + 1, `${transport}: the normal client`)
      const first = channel.firstRetainedId
      assert.ok(first > got + 1, 'the history no longer holds what the slow client missed')
      const again = new Reader(transport, server.port, name, checked)
      again.lastId = got
      await again.readUntil(COUNT + 1, { ms: 30_000 })
      assert.equal(again.items[0], { kind: 'gap', first }, `${transport}: resuming, the gap record comes first`)
      assertRun(again, first, COUNT + 1, `${transport}: the slow client, resumed`, 1)
    })
  })
}

/** The message after the COUNT: it ends the normal readers (they read up to COUNT + 1). */
function hubPublishLast(server: LiveServer, channel: string): void {
  server.hub.channel(channel).publish(payload(COUNT + 1))
}

test('default limit (4 MiB): slow SSE, stream and WebSocket (permessage-deflate) clients on one channel are all cut off; normal clients of each get all 80 MiB', async () => {
  await withServer({ wsCloseTimeoutMs: 60_000 }, async (server) => {
    const limit = server.hub.limits.maxQueuedBytes
    assert.is(limit, 4 * MiB, 'the default limit')
    const name = 'slow.default'
    const channel = server.hub.channel(name)
    const slows = [
      await subscribe(server, 'sse', name, { paused: true }),
      await subscribe(server, 'stream', name, { paused: true }),
      await subscribe(server, 'ws', name, { paused: true, deflate: true }),
    ]
    await until(() => channel.subscribers === 3, 'the slow clients to subscribe')
    const normals = (['sse', 'stream', 'ws'] as const).map((transport) => new Reader(transport, server.port, name, checked))
    const reading = Promise.all(normals.map((normal) => normal.readUntil(COUNT + 1, { ms: 90_000 })))
    reading.catch(() => {}) // awaited below; a failure before that must not go unhandled
    await until(() => channel.subscribers === 6, 'the normal clients to subscribe')

    let allCutAt = 0
    const { largest, rssGrowth, heldGrowth } = await publishMiBs(server, name, normals, (id) => {
      if (allCutAt === 0 && channel.subscribers === 3) allCutAt = id
    })
    assert.ok(allCutAt > 0, `every slow client was cut off (subscribers: ${channel.subscribers})`)
    assert.is(channel.subscribers, 3, 'only the normal clients are left')
    assert.ok(largest <= limit + MESSAGE_WIRE, `a server socket queued ${largest} bytes, more than the limit (${limit}) and one message`)
    assert.ok(rssGrowth < 200 * MiB, `the process grew by ${Math.round(rssGrowth / MiB)} MiB`)
    assert.ok(heldGrowth < 160 * MiB, `the process holds ${Math.round(heldGrowth / MiB)} MiB more (heap and external)`)

    for (const slow of slows) slow.resume()
    await within(Promise.all(slows.map((slow) => slow.closed)), 'the slow clients to be closed', 30_000)
    assert.is(slows[2].closeCode(), 1008, 'ws: closed with 1008')
    for (const slow of slows) assertRun(slow.reader, 1, slow.reader.lastId, `${slow.reader.transport}: the slow client's backlog`)

    hubPublishLast(server, name)
    await within(reading, 'the normal clients to read everything')
    for (const normal of normals) assertRun(normal, 1, COUNT + 1, `${normal.transport}: the normal client`)
  })
})

test('a burst of 40 × 1 MiB published in one go: paused SSE, stream and WebSocket (with and without permessage-deflate) clients are cut off at the limit; frames still being compressed count', async () => {
  const limit = MiB
  await withServer({ maxBufferedBytes: limit, wsCloseTimeoutMs: 60_000 }, async (server) => {
    const name = 'slow.burst'
    const channel = server.hub.channel(name)
    const slows = [
      await subscribe(server, 'sse', name, { paused: true }),
      await subscribe(server, 'stream', name, { paused: true }),
      await subscribe(server, 'ws', name, { paused: true, deflate: false }),
      await subscribe(server, 'ws', name, { paused: true, deflate: true }),
    ]
    await until(() => channel.subscribers === slows.length, 'the clients to subscribe')
    for (let id = 1; id <= 40; id++) channel.publish(payload(id))
    // Compressed frames are written as zlib finishes them: wait until the queues stop moving.
    const largest = await settled(() => largestQueue(server), 'the server-side queues', 5, 50, 30_000)
    assert.ok(largest <= limit + MESSAGE_WIRE, `a server socket queued ${largest} bytes, more than the limit (${limit}) and one message`)
    assert.is(channel.subscribers, 0, 'every client was cut off')
    for (const slow of slows) slow.resume()
    await within(Promise.all(slows.map((slow) => slow.closed)), 'the clients to be closed', 30_000)
    assert.is(slows[2].closeCode(), 1008, 'ws: closed with 1008')
    assert.is(slows[3].closeCode(), 1008, 'ws with permessage-deflate: closed with 1008')
    for (const slow of slows) assertRun(slow.reader, 1, slow.reader.lastId, `${slow.reader.transport}: what the client had before the cut`)
  })
})

/** Messages of 100 KiB in the history a client replays. */
const HISTORY = 200

for (const [transport, deflate] of [['sse', false], ['stream', false], ['iframe', false], ['ws', false], ['ws', true]] as const) {
  const label = deflate ? `${transport} (permessage-deflate)` : transport
  test(`${label}: a replay of 20 MiB of history (limit 1 MiB) to a client that reads in fits and starts is paced, not cut off; live messages follow`, async () => {
    // A history much larger than the kernel's socket buffers (some MiB on loopback) and the limit.
    await withServer({ maxBufferedBytes: MiB, historyBytes: 32 * MiB }, async (server) => {
      const name = `replay.${transport}`
      const channel = server.hub.channel(name)
      const size = 100 * 1024
      const rng = new Rng(9)
      const data = (id: number) => `#${id}#${BASE.slice(rng.int(0, 1000)).slice(0, size)}`
      const published = new Map<number, string>()
      const publish = () => {
        const message = channel.publish(data(channel.lastId + 1))
        published.set(message.id, message.data)
      }
      for (let i = 0; i < HISTORY; i++) publish()
      assert.ok(channel.firstRetainedId === 1, 'the whole history is retained')

      const reader = new Reader(transport, server.port, name, (message) => ({ ...message, data: message.data === published.get(message.id) ? 'ok' : 'BAD' }))
      const client = await subscribeWith(server, transport, name, reader, deflate)
      await until(() => channel.subscribers === 1, 'the client to subscribe')
      const serverSocket = server.accepted[server.accepted.length - 1]
      let largest = 0
      for (let round = 1; round <= 3; round++) {
        // The first time, the history is more than the kernel takes: the replay must wait for the
        // client. Later the kernel's buffers may have grown: wait until the server stops writing.
        if (round === 1) await until(() => serverSocket.writableNeedDrain, 'the replay to wait for the client to read')
        else await settled(() => serverSocket.writableLength, `round ${round}: the server-side queue`, 5, 50)
        largest = Math.max(largest, serverSocket.writableLength)
        assert.is(channel.subscribers, 1, `round ${round}: still subscribed`)
        publish() // published during the replay: it comes in its turn
        const from = reader.lastId
        client.resume()
        await reader.waitFor(() => reader.lastId >= from + 3, `round ${round}: a few more messages`)
        client.pause()
      }
      // Paced: one message at a time past the socket's high-water mark (16 KiB for HTTP, 64 KiB for WebSocket).
      assert.ok(largest <= 64 * 1024 + size + 1024, `the replay queued ${largest} bytes at once on the server`)
      client.resume()
      await reader.waitFor(() => reader.lastId >= HISTORY + 3, 'the whole history')
      publish()
      await reader.waitFor(() => reader.lastId >= HISTORY + 4, 'a live message after the replay')
      assert.is(channel.subscribers, 1, 'the client was never cut off')
      assert.not.ok(client.isClosed(), 'its connection is open')
      assert.equal(reader.items, Array.from({ length: HISTORY + 4 }, (_, i) => ({ kind: 'message', id: i + 1, event: '', data: 'ok' })), `messages 1..${HISTORY + 4}, once each, in order`)
      client.close()
    })
  })
}

/** A paused subscriber from after=0 whose items go to `reader`. */
async function subscribeWith(
  server: LiveServer,
  transport: 'sse' | 'stream' | 'iframe' | 'ws',
  channel: string,
  reader: Reader,
  deflate: boolean,
): Promise<{ pause(): void; resume(): void; isClosed(): boolean; close(): void }> {
  if (transport === 'ws') {
    const { ws } = openWs({ port: server.port, channel, cursor: () => 0, sink: reader.sink, done: () => false, deflate })
    ws.on('open', () => ws.pause()) // nothing is sent before the 101 response is read
    await within(once(ws as WebSocket, 'open'), 'the WebSocket to open')
    return { pause: () => ws.pause(), resume: () => ws.resume(), isClosed: () => ws.readyState !== ws.OPEN, close: () => ws.terminate() }
  }
  const connection = openStream(server.port, transport, channel, 0, reader.sink)
  connection.socket.pause()
  return {
    pause: () => connection.socket.pause(),
    resume: () => connection.socket.resume(),
    isClosed: () => connection.closed,
    close: () => connection.socket.destroy(),
  }
}

test('clients that read are not cut off by 5 × 1 MiB published in one turn: writes held for the turn go out before the queue is counted', async () => {
  await withServer({}, async (server) => {
    const name = 'fast.burst'
    const channel = server.hub.channel(name)
    const clients = [await subscribe(server, 'sse', name), await subscribe(server, 'stream', name), await subscribe(server, 'ws', name, { deflate: false })]
    await until(() => channel.subscribers === clients.length, 'the clients to subscribe')
    // One synchronous turn: without the early release, all 5 MiB wait in the corked sockets.
    for (let id = 1; id <= 5; id++) channel.publish(payload(id))
    for (const client of clients) await until(() => client.reader.lastId === 5, `${client.reader.transport}: all 5 messages`, 30_000)
    assert.is(channel.subscribers, clients.length, 'no client was cut off')
    for (const client of clients) assert.equal(client.reader.messages.map((m) => `${m.id}:${m.data}`), ['1:ok', '2:ok', '3:ok', '4:ok', '5:ok'])
  })
})

test.run()

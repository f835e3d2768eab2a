// No message lost, none duplicated (CONTRACT.md, "Channels and messages"): on each of the six
// transports a client follows a channel while 1,000 messages are published in bursts, is
// cut off again and again at seeded random byte offsets (in heads, inside chunks, lines,
// SSE events, <script> calls and WebSocket frames; a parked long poll is sometimes simply
// dropped), and each time comes back with the last id it fully received (`after=N`; on
// /sse, Last-Event-ID on the same URL). In the end it holds exactly messages 1..1000, in
// order, with their data and event names, and no gap record.
//
// Then, with a history of 50, a client that stays away for 200 messages is told
// {"gap":true,"first":M} with the right M, then gets the retained messages and the live ones.
//
// The clients are in ../helpers/push-readers.ts. Publishing goes over POST /publish (one
// keep-alive connection, a burst pipelined in one write) for some transports and through
// server.hub for the others. Every wait has a generous deadline; no test asserts on timing.

import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { RawClient } from '../helpers/raw-client.ts'
import { Cutter, Reader, Rng, Signal, TRANSPORTS, type TransportName } from '../helpers/push-readers.ts'
import { withServer, type LiveServer } from '../helpers/server.ts'
import { delay } from '../helpers/wait.ts'

const test = suite('push: no message lost, none duplicated')

interface Spec {
  data: string
  event: string
}

/** Pieces of message data: JSON, HTML, SSE and UTF-8 edge cases (no CR: SSE turns it into a line break). */
const PIECES = [
  'a', 'b', 'Z', '0', '7', ' ', '  ', '"', '\\', '/', '<', '>', '&', "'", ')', ':', '\t', '\u0000',
  'é', 'ß', '✓', '€', '😀', '𝄞', '\u2028', '\n', '\n\n', '</script>', '<!--', 'data: x', 'id: 9', '{"gap":true,"first":1}',
]
const EVENTS = ['tick', 'news.v1', 'a-b_C9']

/** `count` messages: mostly short, some empty, 1 in 20 of 1-20 KB (cuts land inside them). */
function makeMessages(rng: Rng, count: number): Spec[] {
  const specs: Spec[] = []
  for (let id = 1; id <= count; id++) {
    let data = ''
    if (!rng.chance(0.02)) {
      const pieces = rng.chance(0.05) ? rng.int(400, 6000) : rng.int(1, 30)
      data = `#${id}`
      for (let i = 0; i < pieces; i++) data += rng.pick(PIECES)
    }
    specs.push({ data, event: rng.chance(0.15) ? rng.pick(EVENTS) : '' })
  }
  return specs
}

interface Publisher {
  readonly how: string
  /** Publishes `batch`; the first must get id `firstId`. */
  publish(batch: Spec[], firstId: number): Promise<void>
  close(): void
}

function hubPublisher(server: LiveServer, channel: string): Publisher {
  return {
    how: 'server.hub',
    async publish(batch, firstId) {
      batch.forEach((spec, i) => {
        const message = server.hub.channel(channel).publish(spec.data, spec.event)
        if (message.id !== firstId + i) throw new Error(`published id ${message.id}, expected ${firstId + i}`)
      })
    },
    close() {},
  }
}

/** POST /publish on one keep-alive connection: a burst goes as pipelined requests in one write. */
async function httpPublisher(server: LiveServer, channel: string): Promise<Publisher> {
  const client = await server.connect()
  return {
    how: 'POST /publish',
    async publish(batch, firstId) {
      const requests = batch.map((spec) => {
        const body = Buffer.from(spec.data)
        const query = spec.event === '' ? '' : `?event=${spec.event}`
        return Buffer.concat([Buffer.from(`POST /publish/${channel}${query} HTTP/1.1\r\nHost: test\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n`, 'latin1'), body])
      })
      client.write(Buffer.concat(requests))
      const responses = await client.next(batch.length)
      responses.forEach((response, i) => {
        const body = response.body.toString()
        if (response.status !== 200 || body !== `{"id":${firstId + i}}`) throw new Error(`POST /publish answered ${response.status} ${body}, expected {"id":${firstId + i}}`)
      })
    },
    close() {
      client.destroy()
    },
  }
}

/** Publishes specs[from-1 .. to-1] in bursts of 1-25, yielding between bursts so that readers read meanwhile. */
async function publishInBursts(publisher: Publisher, specs: Spec[], from: number, to: number, rng: Rng, progress: Signal): Promise<void> {
  let next = from
  while (next <= to) {
    const size = Math.min(rng.int(1, 25), to - next + 1)
    await publisher.publish(specs.slice(next - 1, next - 1 + size), next)
    next += size
    progress.notify()
    if (rng.chance(0.3)) await new Promise((resolve) => setImmediate(resolve))
    else await delay(rng.int(0, 4))
  }
}

/** The reader's messages from index `start` of its items are exactly ids from..to with their specs; throws naming the first difference. */
function assertMessages(reader: Reader, specs: Spec[], from: number, to: number, start = 0): void {
  const items = reader.items.slice(start)
  const gaps = items.filter((item) => item.kind === 'gap')
  assert.equal(gaps, [], `${reader.transport}: no gap record`)
  const ids = items.map((item) => (item.kind === 'message' ? item.id : -1))
  const seen = new Set<number>()
  const duplicated = ids.filter((id) => (seen.has(id) ? true : (seen.add(id), false)))
  const missing: number[] = []
  for (let id = from; id <= to; id++) if (!seen.has(id)) missing.push(id)
  assert.equal({ duplicated: duplicated.slice(0, 20), missing: missing.slice(0, 20) }, { duplicated: [], missing: [] }, `${reader.transport}: ids duplicated or missing`)
  assert.is(items.length, to - from + 1, `${reader.transport}: ${to - from + 1} messages`)
  items.forEach((item, i) => {
    const id = from + i
    if (item.kind !== 'message' || item.id !== id) throw new Error(`${reader.transport}: item ${i} is ${JSON.stringify(item).slice(0, 100)}, expected id ${id}`)
    const spec = specs[id - 1]
    if (item.data !== spec.data) assert.is(item.data, spec.data, `${reader.transport}: the data of message ${id}`)
    if (item.event !== spec.event) assert.is(item.event, spec.event, `${reader.transport}: the event of message ${id}`)
  })
}

const SEEDS: Record<TransportName, number> = { poll: 101, longpoll: 202, stream: 303, iframe: 404, sse: 505, ws: 606 }

/** These publish over HTTP; the others through server.hub (faster, and the hub has no HTTP in the way). */
const OVER_HTTP = new Set<TransportName>(['poll', 'sse', 'ws'])

const TOTAL = 1000

for (const transport of TRANSPORTS) {
  test(`${transport}: 1000 messages published in bursts, the client cut off at random points and resuming from its last id: exactly 1..1000 in order`, async () => {
    const seed = SEEDS[transport]
    const specs = makeMessages(new Rng(seed * 7919), TOTAL)
    await withServer({}, async (server) => {
      const channel = `no-loss.${transport}`
      const publisher = OVER_HTTP.has(transport) ? await httpPublisher(server, channel) : hubPublisher(server, channel)
      const progress = new Signal()
      const reader = new Reader(transport, server.port, channel)
      const cutter = new Cutter(new Rng(seed + 1), 12, transport === 'ws' ? 25_000 : 150_000)
      try {
        const reading = reader.readUntil(TOTAL, {
          cutter,
          rng: new Rng(seed + 2),
          idle: () => Promise.race([progress.wait(), delay(20)]),
          callback: 'app.push',
        })
        const publishing = publishInBursts(publisher, specs, 1, TOTAL, new Rng(seed + 3), progress)
        await Promise.all([publishing, reading])
      } finally {
        publisher.close()
      }
      assertMessages(reader, specs, 1, TOTAL)
      assert.ok(cutter.cuts >= 3, `${transport}: several cuts (${cutter.cuts}) in the run`)
      assert.ok(reader.connections > cutter.cuts, `${transport}: a new connection after each cut (${reader.connections} connections, ${cutter.cuts} cuts)`)
      assert.ok(cutter.midItem >= 1, `${transport}: at least one cut inside a message (${cutter.midItem} of ${cutter.cuts})`)
      assert.is(server.hub.channel(channel).lastId, TOTAL)
    })
  })
}

for (const transport of TRANSPORTS) {
  test(`${transport}: history of 50, a client away for 200 messages gets a gap record with first=181, then 181..230, then the live ones`, async () => {
    const seed = SEEDS[transport] + 50
    const specs = makeMessages(new Rng(seed), 240)
    await withServer({ historyMessages: 50 }, async (server) => {
      const channel = `gap.${transport}`
      const publisher = hubPublisher(server, channel)
      const progress = new Signal()
      const idle = () => Promise.race([progress.wait(), delay(20)])
      const reader = new Reader(transport, server.port, channel)

      await publisher.publish(specs.slice(0, 30), 1)
      await reader.readUntil(30, { idle, callback: 'push' })
      assertMessages(reader, specs, 1, 30)

      // Away: 200 more, of which the channel keeps the last 50 (181..230).
      await publishInBursts(publisher, specs, 31, 230, new Rng(seed + 1), progress)
      assert.is(server.hub.channel(channel).firstRetainedId, 181)

      const start = reader.items.length
      const reading = reader.readUntil(240, { idle, callback: 'push' })
      await reader.waitFor(() => reader.lastId >= 230, 'the retained messages')
      await publishInBursts(publisher, specs, 231, 240, new Rng(seed + 2), progress)
      await reading

      assert.equal(reader.items[start], { kind: 'gap', first: 181 }, `${transport}: the gap record comes first, naming the first id sent next`)
      assertMessages(reader, specs, 181, 240, start + 1)
    })
  })
}

test.run()

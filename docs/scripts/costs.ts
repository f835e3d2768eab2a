// npm run docs:costs [-- --quick] [-- --json FILE --no-chapter]
//
// The cost table of docs/10-choosing.md, measured: the real server in a child process and
// subscribers of all six transports on raw sockets (docs/scripts/measure/subscribers.ts),
// which count every byte that crosses their sockets both ways and every request they make.
//
//   1. frequent: `rate` messages a second for `seconds` s to `subscribers` clients per
//      transport, all at once on one channel: bytes and requests per delivered message,
//      latency from publish to arrival (p50, p99 over every delivery);
//   2. rare: one message every `rare-every` ms, `rare-count` times: the same figures when
//      the clients mostly wait;
//   3. idle: a server with a 1 s heartbeat and WebSocket ping, and 1 s long polls, for
//      `idle-seconds` s: the bytes of one heartbeat, ping + pong, empty poll answer or 204;
//      scaled to one minute at the server's defaults;
//   4. memory: for each transport a fresh server (docs/scripts/measure/server-child.ts,
//      --expose-gc; the six run side by side), `idle-clients` idle clients, and the server's
//      heap and RSS after a full GC, before and after, divided by the clients.
//
// Writes docs/data/costs.json and the tables between <!-- costs:begin --> and
// <!-- costs:end --> in docs/10-choosing.md. The figures are noisy; their shape is not.

import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { parseArgs } from 'node:util'
import { defaultOptions } from '../../src/options.ts'
import { markdownTable, rewriteMarked } from './measure/markers.ts'
import { machine, REPO, sleep, startServer, type ServerProcess } from './measure/processes.ts'
import { Publisher } from './measure/publisher.ts'
import { Relay } from './measure/relay.ts'
import { spent, Subscriber, TRANSPORT_NAMES, TRANSPORTS, type Tally, type Transport } from './measure/subscribers.ts'

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    subscribers: { type: 'string' },
    rate: { type: 'string' },
    seconds: { type: 'string' },
    'rare-every': { type: 'string' },
    'rare-count': { type: 'string' },
    'poll-interval': { type: 'string' },
    'idle-seconds': { type: 'string' },
    'idle-clients': { type: 'string' },
    settle: { type: 'string' },
    payload: { type: 'string' },
    json: { type: 'string' },
    'no-chapter': { type: 'boolean', default: false },
  },
})

const quick = values.quick === true
const number = (raw: string | undefined, full: number, short: number) => (raw !== undefined ? Number(raw) : quick ? short : full)
const parameters = {
  subscribersPerTransport: number(values.subscribers, 5, 2),
  rate: number(values.rate, 20, 20),
  seconds: number(values.seconds, 5, 1),
  rareEveryMs: number(values['rare-every'], 2000, 1200),
  rareCount: number(values['rare-count'], 3, 2),
  pollIntervalMs: number(values['poll-interval'], 1000, 1000),
  idleSeconds: number(values['idle-seconds'], 4, 2.5),
  idleClients: number(values['idle-clients'], 1000, 20),
  settleMs: number(values.settle, 2000, 300),
  payloadBytes: number(values.payload, 64, 64),
}
const jsonFile = values.json ?? join(REPO, 'docs/data/costs.json')
const chapter = join(REPO, 'docs/10-choosing.md')
const COMMAND = 'npm run docs:costs'

const defaults = defaultOptions()
/** How often each transport's idle traffic happens at the server's defaults, per minute. */
const IDLE_PER_MINUTE: Record<Transport, number> = {
  poll: 60_000 / parameters.pollIntervalMs,
  longpoll: 60 / 25, // CONTRACT.md: timeout=25 when the client gives none
  stream: 60_000 / defaults.heartbeatMs,
  iframe: 60_000 / defaults.heartbeatMs,
  sse: 60_000 / defaults.heartbeatMs,
  ws: 60_000 / defaults.wsPingIntervalMs,
}

// ---- delivering messages

interface Delivery {
  messages: number
  deliveries: number
  /** Both ways, per delivered message, and each way. */
  bytesPerMessage: number
  bytesInPerMessage: number
  bytesOutPerMessage: number
  /** Requests answered per delivered message. */
  requestsPerMessage: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  lost: number
}

interface SetUp {
  /** Bytes both ways until the subscription is in place: the handshake, the head, the preamble. */
  bytes: number
  requests: number
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]
}

/**
 * Subscribes every transport to a new channel, publishes `count` messages `everyMs` apart
 * (the first after `everyMs`), and measures from just before the first wait to each
 * subscriber's last message.
 */
async function deliver(server: ServerProcess, channel: string, count: number, everyMs: number): Promise<{ delivery: Record<Transport, Delivery>; setUp: Record<Transport, SetUp> }> {
  const publisher = await Publisher.open(server.port, parameters.payloadBytes)
  const latencies = Object.fromEntries(TRANSPORTS.map((t) => [t, [] as number[]])) as Record<Transport, number[]>
  const ends = new Map<Subscriber, Tally>()
  let allDone!: () => void
  const done = new Promise<void>((resolve) => (allDone = resolve))
  const subscribers: Subscriber[] = []
  const onMessage = (subscriber: Subscriber, _id: number, data: string) => {
    const seq = Publisher.seqOf(data)
    latencies[subscriber.transport].push(performance.now() - publisher.sentAt[seq])
    if (subscriber.messages === count) {
      ends.set(subscriber, subscriber.snapshot())
      if (ends.size === subscribers.length) allDone()
    }
  }
  for (const transport of TRANSPORTS) {
    for (let i = 0; i < parameters.subscribersPerTransport; i++) {
      subscribers.push(
        new Subscriber({
          port: server.port,
          channel,
          transport,
          after: 0,
          pollIntervalMs: parameters.pollIntervalMs,
          // Clients that poll on the same schedule from different pages start at different times.
          pollOffsetMs: (parameters.pollIntervalMs * i) / parameters.subscribersPerTransport,
          longPollTimeoutS: 25,
          onMessage,
        }),
      )
    }
  }
  await Promise.all(subscribers.map((s) => s.ready))
  const setUp = Object.fromEntries(
    TRANSPORTS.map((t) => {
      const own = subscribers.filter((s) => s.transport === t).map((s) => s.snapshot())
      const sum = (pick: (tally: Tally) => number) => own.reduce((total, tally) => total + pick(tally), 0) / own.length
      return [t, { bytes: sum((x) => x.bytesIn + x.bytesOut), requests: sum((x) => x.requests) }]
    }),
  ) as Record<Transport, SetUp>
  await sleep(300) // the long polls are parked, the first short polls answered
  const starts = new Map(subscribers.map((s) => [s, s.snapshot()]))

  const started = performance.now()
  for (let seq = 1; seq <= count; seq++) {
    const due = started + seq * everyMs
    await sleep(Math.max(0, due - performance.now()))
    void publisher.publish(channel, seq)
  }
  const deadline = sleep(parameters.pollIntervalMs + 10_000).then(() => 'timeout' as const)
  if ((await Promise.race([done, deadline])) === 'timeout') {
    const late = subscribers.filter((s) => !ends.has(s)).map((s) => `${s.transport} (${s.messages} of ${count})`)
    throw new Error(`not every subscriber received every message: ${late.join(', ')}`)
  }
  for (const s of subscribers) s.close()
  publisher.close()

  const delivery = Object.fromEntries(
    TRANSPORTS.map((t) => {
      const own = subscribers.filter((s) => s.transport === t)
      const costs = own.map((s) => spent(starts.get(s)!, ends.get(s)!))
      const deliveries = own.reduce((sum, s) => sum + s.messages, 0)
      const total = (pick: (tally: Tally) => number) => costs.reduce((sum, tally) => sum + pick(tally), 0)
      const sorted = latencies[t].sort((a, b) => a - b)
      const result: Delivery = {
        messages: count,
        deliveries,
        bytesPerMessage: (total((x) => x.bytesIn) + total((x) => x.bytesOut)) / deliveries,
        bytesInPerMessage: total((x) => x.bytesIn) / deliveries,
        bytesOutPerMessage: total((x) => x.bytesOut) / deliveries,
        requestsPerMessage: total((x) => x.answers) / deliveries,
        p50Ms: percentile(sorted, 50),
        p99Ms: percentile(sorted, 99),
        maxMs: sorted[sorted.length - 1],
        lost: own.length * count - deliveries,
      }
      return [t, result]
    }),
  ) as Record<Transport, Delivery>
  return { delivery, setUp }
}

// ---- idle traffic

interface Idle {
  /** Heartbeats, ping + pong pairs, or empty answers seen in the run. */
  exchanges: number
  /** Bytes of one, both ways. */
  bytesPerExchange: number
  requestsPerExchange: number
  /** At the defaults. */
  exchangesPerMinute: number
  bytesPerMinute: number
  requestsPerMinute: number
}

async function idle(): Promise<Record<Transport, Idle>> {
  const beat = 1000
  const server = await startServer({ flags: ['--heartbeat', String(beat), '--ws-ping-interval', String(beat)] })
  try {
    const subscribers = TRANSPORTS.flatMap((transport) =>
      Array.from(
        { length: parameters.subscribersPerTransport },
        (_, i) =>
          new Subscriber({
            port: server.port,
            channel: 'costs-idle',
            transport,
            after: 0,
            pollIntervalMs: parameters.pollIntervalMs,
            pollOffsetMs: (parameters.pollIntervalMs * i) / parameters.subscribersPerTransport,
            longPollTimeoutS: 1,
            onMessage: () => {
              throw new Error('no message is published in the idle run')
            },
          }),
      ),
    )
    await Promise.all(subscribers.map((s) => s.ready))
    const starts = new Map(subscribers.map((s) => [s, s.snapshot()]))
    await sleep(parameters.idleSeconds * 1000)
    const costs = new Map(subscribers.map((s) => [s, spent(starts.get(s)!, s.snapshot())]))
    for (const s of subscribers) s.close()
    return Object.fromEntries(
      TRANSPORTS.map((t) => {
        const own = subscribers.filter((s) => s.transport === t).map((s) => costs.get(s)!)
        const polls = t === 'poll' || t === 'longpoll'
        const exchanges = own.reduce((sum, x) => sum + (polls ? x.emptyAnswers : x.heartbeats), 0)
        const bytes = own.reduce((sum, x) => sum + (polls ? x.emptyAnswerBytes : x.heartbeatBytes), 0)
        const bytesPerExchange = exchanges === 0 ? NaN : bytes / exchanges
        const requestsPerExchange = polls ? 1 : 0
        const perMinute = IDLE_PER_MINUTE[t]
        const result: Idle = {
          exchanges,
          bytesPerExchange,
          requestsPerExchange,
          exchangesPerMinute: perMinute,
          bytesPerMinute: bytesPerExchange * perMinute,
          requestsPerMinute: requestsPerExchange * perMinute,
        }
        return [t, result]
      }),
    ) as Record<Transport, Idle>
  } finally {
    await server.stop()
  }
}

// ---- memory per idle client

interface Memory {
  clients: number
  heapBytesPerClient: number
  rssBytesPerClient: number
  /** Buffers outside the heap (socket write buffers and the like). */
  externalBytesPerClient: number
}

function idleClient(port: number, transport: Transport): Subscriber {
  return new Subscriber({
    port,
    channel: 'costs-memory',
    transport,
    after: 0,
    // One poll, then an idle keep-alive connection until the next (which never comes here).
    pollIntervalMs: 3_600_000,
    longPollTimeoutS: 120,
    onMessage: () => {},
  })
}

async function memory(transport: Transport): Promise<Memory> {
  const server = await startServer({ measured: true })
  const clients: Subscriber[] = []
  try {
    // What the first clients make once (compiled code, caches, V8's young generation grown to
    // its working size, malloc's arenas) is not what each client holds: a first round of as
    // many clients, gone before the baseline, pays for it.
    const n = parameters.idleClients
    const warmUp: Subscriber[] = []
    for (let i = 0; i < n; i += 200) {
      const batch = Array.from({ length: Math.min(200, n - i) }, () => idleClient(server.port, transport))
      await Promise.all(batch.map((s) => s.ready))
      warmUp.push(...batch)
    }
    await sleep(200)
    for (const client of warmUp) client.close()
    await sleep(parameters.settleMs)
    const before = await server.memory()
    if (!before.gc) throw new Error('the server child has no gc(): start it with --expose-gc')
    for (let i = 0; i < n; i += 200) {
      const batch = Array.from({ length: Math.min(200, n - i) }, () => idleClient(server.port, transport))
      await Promise.all(batch.map((s) => s.ready))
      clients.push(...batch)
    }
    await sleep(parameters.settleMs)
    const after = await server.memory()
    return {
      clients: n,
      heapBytesPerClient: (after.heapUsed - before.heapUsed) / n,
      rssBytesPerClient: (after.rss - before.rss) / n,
      externalBytesPerClient: (after.external - before.external) / n,
    }
  } finally {
    for (const client of clients) client.close()
    await server.stop()
  }
}

// ---- what a browser's request head weighs

/** The request head Chromium sends for a fetch() of a poll, as it crossed the wire, or null without Chromium. */
async function browserRequestHead(): Promise<{ bytes: number; fields: string[] } | null> {
  const { chromiumPresent, TestBrowser } = await import('../../test/helpers/browser.ts')
  if (!chromiumPresent()) return null
  const server = await startServer()
  const relay = await Relay.start(server.port)
  const browser = await TestBrowser.launch()
  try {
    const page = await browser.open(`http://127.0.0.1:${relay.port}/hello`)
    await page.value(`fetch('/poll/costs-browser?after=0').then((r) => r.text())`)
    const head = relay.connections.flatMap((c) => c.requests).find((h) => h.startsWith('GET /poll/'))
    if (head === undefined) return null
    // The relay keeps a head up to its last CRLF; on the wire one more CRLF ends it.
    return { bytes: Buffer.byteLength(head) + 2, fields: head.split('\r\n').slice(1, -1).map((line) => line.slice(0, line.indexOf(':'))) }
  } finally {
    await browser.close()
    await relay.close()
    await server.stop()
  }
}

// ---- the run

const began = performance.now()
const elapsed = () => `${((performance.now() - began) / 1000).toFixed(1)} s`
const host = machine()
console.log(`docs:costs: ${parameters.subscribersPerTransport} subscribers per transport; ${parameters.rate} msg/s for ${parameters.seconds} s; then one every ${parameters.rareEveryMs} ms x ${parameters.rareCount}; short polls every ${parameters.pollIntervalMs} ms; ${parameters.idleClients} idle clients per transport for memory`)

const server = await startServer()
let frequent: Awaited<ReturnType<typeof deliver>>
let rare: Awaited<ReturnType<typeof deliver>>
try {
  frequent = await deliver(server, 'costs-frequent', Math.round(parameters.rate * parameters.seconds), 1000 / parameters.rate)
  console.log(`  frequent messages: measured (${elapsed()})`)
  rare = await deliver(server, 'costs-rare', parameters.rareCount, parameters.rareEveryMs)
  console.log(`  rare messages: measured (${elapsed()})`)
} finally {
  await server.stop()
}
const idleCosts = await idle()
console.log(`  idle traffic: measured (${elapsed()})`)
const measured = await Promise.all(TRANSPORTS.map(memory))
const browserHead = quick ? null : await browserRequestHead()
// One server per transport, all at once: each process's memory is its own.
const memories = Object.fromEntries(TRANSPORTS.map((t, i) => [t, measured[i]])) as Record<Transport, Memory>
console.log(`  memory per idle client: measured (${elapsed()})`)

const result = {
  generated: host.date,
  command: COMMAND,
  machine: { nproc: host.nproc, node: host.node, platform: host.platform },
  parameters: {
    ...parameters,
    longPollTimeoutS: 25,
    idleRun: { heartbeatMs: 1000, wsPingIntervalMs: 1000, longPollTimeoutS: 1 },
    defaults: { heartbeatMs: defaults.heartbeatMs, wsPingIntervalMs: defaults.wsPingIntervalMs, longPollTimeoutS: 25, pollIntervalMs: parameters.pollIntervalMs },
    requestHead: 'GET PATH HTTP/1.1 + Host only',
  },
  /** The same poll's request head as Chromium sends it (null: not measured). */
  browserRequestHead: browserHead,
  seconds: Math.round((performance.now() - began) / 1000),
  transports: TRANSPORTS.map((t) => ({
    transport: t,
    name: TRANSPORT_NAMES[t],
    frequent: frequent.delivery[t],
    rare: rare.delivery[t],
    setUp: frequent.setUp[t],
    idle: idleCosts[t],
    memory: memories[t],
  })),
}
mkdirSync(dirname(jsonFile), { recursive: true })
writeFileSync(jsonFile, `${JSON.stringify(result, (_key, value) => (typeof value === 'number' && !Number.isInteger(value) ? Math.round(value * 100) / 100 : value), 2)}\n`)
console.log(`wrote ${jsonFile}`)

// ---- the chapter's tables

type Row = (typeof result.transports)[number]
const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-')
const ratio = (n: number) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: n >= 10 ? 1 : 2 }) : '-')
const every = (ms: number) => (ms >= 1000 ? `${dec(ms / 1000, 1)} s` : `${ms} ms`)
const dec = (n: number, digits: number) => (Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '-')
const ms = (n: number) => `${dec(n, n < 10 ? 1 : 0)} ms`
const kib = (n: number) => `${dec(n / 1024, 1)} KiB`
const streamed = (r: Row) => r.transport !== 'poll' && r.transport !== 'longpoll'

function tables(): string {
  const p = result.parameters
  const rateLabel = `${p.rate}/s`
  const rareLabel = `1 per ${dec(p.rareEveryMs / 1000, 1)} s`
  const delivery = markdownTable(
    ['transport', `${rateLabel}: bytes / msg`, 'requests / msg', 'latency p50', 'latency p99', `${rareLabel}: bytes / msg`, 'requests / msg', 'latency p50'],
    result.transports.map((r) => [
      r.name,
      int(r.frequent.bytesPerMessage),
      ratio(r.frequent.requestsPerMessage),
      ms(r.frequent.p50Ms),
      ms(r.frequent.p99Ms),
      int(r.rare.bytesPerMessage),
      ratio(r.rare.requestsPerMessage),
      ms(r.rare.p50Ms),
    ]),
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
  )
  const holding = markdownTable(
    ['transport', 'to subscribe', 'idle traffic, one', 'idle, per minute', 'heap / idle client', 'RSS / idle client'],
    result.transports.map((r) => [
      r.name,
      streamed(r) ? `${int(r.setUp.bytes)} B, 1 request` : 'each poll is a request',
      `${int(r.idle.bytesPerExchange)} B (${idleWhat(r.transport)})`,
      `${int(r.idle.bytesPerMinute)} B, ${ratio(r.idle.requestsPerMinute)} requests`,
      kib(r.memory.heapBytesPerClient),
      kib(r.memory.rssBytesPerClient),
    ]),
    ['l', 'r', 'r', 'r', 'r', 'r'],
  )
  return [
    `Measured on ${result.generated}, ${result.machine.nproc} CPUs, Node ${result.machine.node}, ${result.machine.platform}, by \`${COMMAND}\` (${result.seconds} s; the data: [data/costs.json](data/costs.json)).`,
    '',
    `**Delivering messages.** ${p.subscribersPerTransport} subscribers per transport on one channel, all at once; each message carries ${p.payloadBytes} bytes of data. The columns marked ${rateLabel}: ${p.rate} messages a second for ${p.seconds} s (${Math.round(p.rate * p.seconds)} messages); those marked ${rareLabel}: one message every ${dec(p.rareEveryMs / 1000, 1)} s (${p.rareCount} messages). Bytes are what crossed the client's socket, both ways: request and response heads, chunk framing, frame headers (the TCP and IP headers of each packet come on top, alike for every transport). Requests are answered requests during the run. Latency is from the publisher's write to the subscriber's read, on one machine over loopback; short polling polls every ${every(p.pollIntervalMs)}, so its latency is about half that.`,
    '',
    delivery,
    '',
    `**Holding a client.** To subscribe: the bytes, both ways, until the first message can arrive (the request and response heads; SSE's \`retry:\` line; the iframe's 1 KiB of padding; the WebSocket handshake). Idle traffic: what keeps a silent subscription alive, measured with a 1 s heartbeat and 1 s long polls, and counted per minute at the defaults: a short poll every ${every(p.pollIntervalMs)}, a long poll answered 204 after ${p.defaults.longPollTimeoutS} s, a heartbeat after ${p.defaults.heartbeatMs / 1000} s of silence, a WebSocket ping after ${p.defaults.wsPingIntervalMs / 1000} s. Memory: the server's heap and RSS after a full GC, with ${int(p.idleClients)} idle clients of one transport against a fresh server, less the same before they came, per client. The heap figure (the JavaScript objects that hold a client: socket, parser state, response, subscription, timers) comes out the same from run to run; RSS does not, because V8 and malloc take memory in pages and V8 gives back its young generation on its own schedule, so read RSS as an order of magnitude. Neither counts the kernel's socket buffers.`,
    '',
    holding,
    '',
    browserNote(),
  ].join('\n')
}

function browserNote(): string {
  const head = result.browserRequestHead
  const ours = Buffer.byteLength(`GET /poll/costs-browser?after=0 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n`)
  const base = 'The request heads here are the smallest HTTP/1.1 allows (`GET PATH HTTP/1.1` and `Host`).'
  if (head === null) return `${base} A browser sends several fields more with every request, which makes each poll, but not each streamed message, dearer.`
  return `${base} Chromium's \`fetch()\` of the same poll sent ${head.bytes} bytes of head (${head.fields.join(', ')}), about ${head.bytes - ours} more, before any cookie: every poll pays it, a stream once, to subscribe.`
}

function idleWhat(transport: Transport): string {
  return { poll: 'empty answer', longpoll: '204 answer', stream: 'heartbeat', iframe: 'heartbeat', sse: 'heartbeat', ws: 'ping + pong' }[transport]
}

const rendered = tables()
console.log()
console.log(rendered)
if (values['no-chapter'] !== true) {
  const missing = rewriteMarked(chapter, { costs: rendered })
  if (missing.length > 0) console.error(`${chapter}: no <!-- costs:begin --> / <!-- costs:end --> markers; the tables were not written`)
  else console.log(`rewrote the costs tables in ${chapter}`)
}

// npm run docs:nginx [-- --quick] [-- --json FILE --no-chapter]
//
// push-wire behind a real nginx (Debian's /usr/sbin/nginx, a child process with a folder of
// its own), measured, for docs/11-running-for-real.md:
//
//   1. the recommended configuration (docs/data/nginx.conf): all six transports deliver
//      through it, as fast as direct;
//   2. buffering: when the first message of /stream and /sse arrives through nginx, with
//      X-Accel-Buffering honored or ignored, with and without gzip, against direct;
//   3. proxy_read_timeout shorter than the server's heartbeat cuts an idle stream (and an
//      idle WebSocket); a heartbeat shorter than it keeps them open;
//   4. WebSocket through nginx without proxy_http_version 1.1 and the Upgrade and
//      Connection fields: the status that comes back;
//   5. HTTP/1.0 to the upstream (nginx's default): what the server receives and answers, a
//      stream through it, and the connections a run of polls opens.
//
// Writes docs/data/nginx.json, docs/data/nginx.conf, and the findings and the configuration
// between markers in docs/11-running-for-real.md.

import { writeFileSync, mkdirSync } from 'node:fs'
import { connect } from 'node:net'
import { dirname, join } from 'node:path'
import { parseArgs } from 'node:util'
import { markdownTable, rewriteMarked } from './measure/markers.ts'
import { byChannelHttp, experimentConf, freePort, NGINX, nginxPresent, NginxProcess, recommendedConf, VARIANTS } from './measure/nginx.ts'
import { machine, REPO, sleep, startServer, type ServerProcess } from './measure/processes.ts'
import { Publisher } from './measure/publisher.ts'
import { Relay } from './measure/relay.ts'
import { Subscriber, TRANSPORT_NAMES, TRANSPORTS, type Transport } from './measure/subscribers.ts'
import { TimedResponse } from './measure/timed-response.ts'

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'string' },
    'no-chapter': { type: 'boolean', default: false },
  },
})
const quick = values.quick === true
const jsonFile = values.json ?? join(REPO, 'docs/data/nginx.json')
const chapter = join(REPO, 'docs/11-running-for-real.md')
const COMMAND = 'npm run docs:nginx'
/** proxy_read_timeout of the timeout experiment, and the time between published messages. */
const READ_TIMEOUT_S = quick ? 2 : 3
const SPACING_MS = quick ? 400 : 1000
const WS_HANDSHAKE = 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n'

if (!nginxPresent()) {
  console.error(`docs:nginx: ${NGINX} not found (apt-get install nginx)`)
  process.exit(1)
}

const round = (n: number | null) => (n === null ? null : Math.round(n))

// ---- 1. the recommended configuration, every transport

interface Through {
  transport: Transport
  messages: number
  direct: { delivered: number; p50Ms: number }
  nginx: { delivered: number; p50Ms: number }
}

async function recommended(server: ServerProcess, nginxPort: number): Promise<Through[]> {
  const count = quick ? 4 : 10
  const publisher = await Publisher.open(server.port, 64)
  const latencies = new Map<string, number[]>()
  const subscribers: { key: string; subscriber: Subscriber }[] = []
  for (const transport of TRANSPORTS) {
    for (const [path, port] of [['direct', server.port], ['nginx', nginxPort]] as const) {
      const key = `${transport} ${path}`
      latencies.set(key, [])
      subscribers.push({
        key,
        subscriber: new Subscriber({
          port,
          channel: 'recommended',
          transport,
          after: 0,
          pollIntervalMs: 1000,
          longPollTimeoutS: 25,
          onMessage: (_s, _id, data) => latencies.get(key)!.push(performance.now() - publisher.sentAt[Publisher.seqOf(data)]),
        }),
      })
    }
  }
  await Promise.all(subscribers.map((s) => s.subscriber.ready))
  await sleep(300)
  for (let seq = 1; seq <= count; seq++) {
    await publisher.publish('recommended', seq)
    await sleep(100)
  }
  const deadline = Date.now() + 5000
  while (subscribers.some((s) => s.subscriber.messages < count) && Date.now() < deadline) await sleep(50)
  for (const s of subscribers) s.subscriber.close()
  publisher.close()
  const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)] ?? NaN
  return TRANSPORTS.map((transport) => {
    const side = (path: string) => ({
      delivered: subscribers.find((s) => s.key === `${transport} ${path}`)!.subscriber.messages,
      p50Ms: Math.round(median(latencies.get(`${transport} ${path}`)!) * 10) / 10,
    })
    return { transport, messages: count, direct: side('direct'), nginx: side('nginx') }
  })
}

// ---- 2. buffering

interface Buffering {
  setup: string
  what: string
  route: 'stream' | 'sse'
  /** ms from the request to the response head. */
  headMs: number | null
  /** ms from publishing the first message to its arrival, or null: not within the run. */
  firstMessageMs: number | null
  /** Messages of the three that arrived within the run. */
  arrived: number
  compressed: boolean
}

async function buffering(server: ServerProcess, nginxPort: number): Promise<Buffering[]> {
  const setups: [string, string, number, string][] = [
    ['direct', 'no proxy', server.port, ''],
    ['recommended', 'the recommended configuration', nginxPort, ''],
    ...['ignore-header', 'ignore-header-gzip', 'gzip', 'buffering-off-gzip'].map((name): [string, string, number, string] => [name, VARIANTS[name].what, nginxPort, `/x/${name}`]),
  ]
  const publisher = await Publisher.open(server.port, 16)
  const readers = setups.flatMap(([setup, what, port, prefix]) =>
    (['stream', 'sse'] as const).map((route) => ({ setup, what, route, response: new TimedResponse(port, `${prefix}/${route}/buffering`, 'Accept-Encoding: gzip\r\n') })),
  )
  const sentAt: number[] = []
  for (let seq = 1; seq <= 3; seq++) {
    await sleep(SPACING_MS)
    sentAt[seq] = performance.now()
    await publisher.publish('buffering', seq)
  }
  await sleep(SPACING_MS)
  publisher.close()
  const results = readers.map(({ setup, what, route, response }) => {
    const first = response.arrivalOf(publisher.data(1))
    const result: Buffering = {
      setup,
      what,
      route,
      headMs: round(response.headAt),
      firstMessageMs: first === null ? null : Math.max(0, Math.round(response.started + first - sentAt[1])),
      arrived: [1, 2, 3].filter((seq) => response.text.includes(publisher.data(seq))).length,
      compressed: /\r\ncontent-encoding:[ \t]*gzip/i.test(response.head),
    }
    response.close()
    return result
  })
  return results
}

// ---- 3. proxy_read_timeout

interface ReadTimeout {
  setup: string
  route: 'sse' | 'stream' | 'ws'
  heartbeatS: number
  /** ms from the request until the connection closed, or null: open when the run ended. */
  closedAfterMs: number | null
  /** A stream that ended ended cleanly (the last chunk), or was cut. */
  lastChunk: boolean
  status: number
}

async function readTimeouts(nginx: NginxProcess): Promise<{ results: ReadTimeout[]; errorLogLines: string[] }> {
  const window = READ_TIMEOUT_S * 2000 + 500
  const setups = ['read-timeout', 'read-timeout-beat'] as const
  const streams = setups.flatMap((setup) =>
    (['sse', 'stream'] as const).map((route) => ({ setup, route, response: new TimedResponse(nginx.port, `/x/${setup}/${route}/idle`) })),
  )
  // The WebSocket client answers the server's pings, as every live client does.
  const sockets = setups.map((setup) => ({
    setup,
    started: performance.now(),
    subscriber: new Subscriber({ port: nginx.port, prefix: `/x/${setup}`, channel: 'idle', transport: 'ws', after: 0, onMessage: () => {} }),
  }))
  const before = nginx.errorLog().length
  await sleep(window)
  const heartbeatS = (setup: string, route: string) => (setup === 'read-timeout' ? (route === 'ws' ? 30 : 15) : 1)
  const results: ReadTimeout[] = streams.map(({ setup, route, response }) => {
    response.close()
    return { setup, route, heartbeatS: heartbeatS(setup, route), closedAfterMs: round(response.closedAt), lastChunk: response.lastChunk, status: response.status }
  })
  for (const { setup, started, subscriber } of sockets) {
    subscriber.close()
    const closedAfterMs = subscriber.closedAt === null ? null : Math.round(subscriber.closedAt - started)
    results.push({ setup, route: 'ws', heartbeatS: heartbeatS(setup, 'ws'), closedAfterMs, lastChunk: false, status: 101 })
  }
  const errorLogLines = nginx
    .errorLog()
    .slice(before)
    .split('\n')
    .filter((line) => line.includes('timed out'))
    .map((line) => line.replace(/^\S+ \S+ /, '').replace(/, client: .*?(request: "[^"]*").*$/, ', $1'))
  return { results, errorLogLines }
}

// ---- 4. WebSocket through nginx

interface Upgrade {
  setup: string
  what: string
  status: number
  statusLine: string
  body: string
}

async function upgrades(nginxPort: number): Promise<Upgrade[]> {
  const setups: [string, string, string][] = [
    ['ws-default', VARIANTS['ws-default'].what, '/x/ws-default'],
    ['ws-http11', VARIANTS['ws-http11'].what, '/x/ws-http11'],
    ['recommended', 'the recommended configuration', ''],
  ]
  const results: Upgrade[] = []
  for (const [setup, what, prefix] of setups) {
    const response = new TimedResponse(nginxPort, `${prefix}/ws/upgrades`, WS_HANDSHAKE)
    await response.until(() => response.headAt !== null && (response.status === 101 || response.text.length > 0), 5000)
    results.push({ setup, what, status: response.status, statusLine: response.head.split('\r\n')[0], body: response.status === 101 ? '' : response.text.trim() })
    response.close()
  }
  return results
}

// ---- 5. HTTP/1.0 upstream

interface Http10 {
  /** The request line and Connection field nginx sent upstream, and the server's answer head. */
  upstreamRequest: string
  upstreamResponse: string
  /** Through nginx to the client. */
  clientFraming: string
  firstMessageMs: number | null
  /** Upstream connections for `polls` short polls made on one client connection. */
  polls: number
  http10Connections: number
  keepAliveConnections: number
}

async function pollsThrough(port: number, path: string, count: number): Promise<void> {
  const socket = connect({ port, host: '127.0.0.1' })
  let input = ''
  for (let i = 0; i < count; i++) {
    socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`)
    await new Promise<void>((resolve) => {
      const onData = (chunk: Buffer) => {
        input += chunk.toString('latin1')
        const end = input.indexOf('\r\n\r\n')
        if (end === -1) return
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(input.slice(0, end))?.[1] ?? 0)
        if (input.length < end + 4 + length) return
        input = input.slice(end + 4 + length)
        socket.off('data', onData)
        resolve()
      }
      socket.on('data', onData)
    })
  }
  socket.destroy()
}

async function http10(server: ServerProcess, nginxPort: number, relay: Relay): Promise<Http10> {
  relay.reset()
  const publisher = await Publisher.open(server.port, 16)
  const response = new TimedResponse(nginxPort, '/x/http10/stream/old', '')
  await response.until(() => relay.connections[0]?.responses.length > 0, 5000)
  await sleep(200)
  const sent = performance.now()
  await publisher.publish('old', 1)
  await response.until(() => response.text.includes(publisher.data(1)), 3000)
  const first = response.arrivalOf(publisher.data(1))
  publisher.close()
  const pick = (head: string | undefined, names: RegExp) => (head ?? '').split('\r\n').filter((line) => names.test(line)).join('\r\n')
  const seen = relay.connections[0]
  const result: Http10 = {
    upstreamRequest: pick(seen?.requests[0], /^(GET |connection:)/i),
    upstreamResponse: pick(seen?.responses[0], /^(HTTP\/|connection:|transfer-encoding:|content-length:)/i),
    clientFraming: pick(response.head, /^(HTTP\/|transfer-encoding:|connection:)/i),
    firstMessageMs: first === null ? null : Math.max(0, Math.round(response.started + first - sent)),
    polls: 10,
    http10Connections: 0,
    keepAliveConnections: 0,
  }
  response.close()
  await sleep(100)
  relay.reset()
  await pollsThrough(nginxPort, '/x/http10/poll/old?after=0', result.polls)
  result.http10Connections = relay.connections.length
  relay.reset()
  await pollsThrough(nginxPort, '/x/http11-keepalive/poll/old?after=0', result.polls)
  result.keepAliveConnections = relay.connections.length
  return result
}

// ---- 7. two server processes: requests spread in turn, or by channel

interface Spread {
  setup: string
  what: string
  channels: number
  /** Channels whose long poll received the message published to it. */
  delivered: number
  /** Server processes that answered the long polls (nginx adds X-Upstream to each answer). */
  processes: number
}

/**
 * Per channel, a long poll through nginx; then, once all are parked, a publish to each
 * channel through nginx (in the reverse order). Did each poll get its channel's message?
 */
async function spreading(nginxPort: number): Promise<Spread[]> {
  const channels = 8
  const results: Spread[] = []
  for (const setup of ['round-robin', 'by-channel']) {
    const name = (i: number) => `spread-${setup}-${i}`
    const polls: TimedResponse[] = []
    for (let i = 1; i <= channels; i++) {
      polls.push(new TimedResponse(nginxPort, `/x/${setup}/longpoll/${name(i)}?after=0&timeout=2`))
      await sleep(20)
    }
    await sleep(200)
    for (let i = channels; i >= 1; i--) {
      await fetch(`http://127.0.0.1:${nginxPort}/x/${setup}/publish/${name(i)}`, { method: 'POST', body: `message for channel ${i}` })
    }
    // Each poll is answered: with its message, or 204 after its 2 s; the answer names the process.
    await Promise.all(polls.map((poll) => poll.until(() => poll.headAt !== null, 3500)))
    await sleep(50)
    const delivered = polls.filter((poll, i) => poll.text.includes(`message for channel ${i + 1}`)).length
    const processes = new Set(polls.map((poll) => /\r\nX-Upstream: ([^\r]*)/i.exec(poll.head)?.[1])).size
    for (const poll of polls) poll.close()
    results.push({ setup, what: VARIANTS[setup].what, channels, delivered, processes })
  }
  return results
}

// ---- 6. six connections per host over HTTP/1.1, and HTTP/2

interface Multiplex {
  protocol: string
  url: string
  opened: number
  received: number
}

const CERTIFICATE_COMMAND = ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']

/** A self-signed certificate for 127.0.0.1 (cert.pem, key.pem), or null without openssl. */
async function certificate(): Promise<Record<string, string> | null> {
  const { execFile } = await import('node:child_process')
  const { mkdtempSync, readFileSync, rmSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const dir = mkdtempSync(join(tmpdir(), 'push-wire-cert-'))
  try {
    const made = await new Promise<boolean>((resolve) => execFile('openssl', CERTIFICATE_COMMAND, { cwd: dir }, (error) => resolve(error === null)))
    if (!made) return null
    return { 'cert.pem': readFileSync(join(dir, 'cert.pem'), 'utf8'), 'key.pem': readFileSync(join(dir, 'key.pem'), 'utf8') }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Ten EventSources from one page, over nginx's HTTP/1.1 listener and over its HTTP/2 one, in Chromium. */
async function multiplexing(server: ServerProcess, http1Port: number, http2Port: number): Promise<Multiplex[] | null> {
  const { chromiumPresent, CHROMIUM_PATH } = await import('../../test/helpers/browser.ts')
  if (!chromiumPresent()) return null
  const { chromium } = await import('playwright-core')
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  })
  try {
    const results: Multiplex[] = []
    for (const origin of [`http://127.0.0.1:${http1Port}`, `https://127.0.0.1:${http2Port}`]) {
      const context = await browser.newContext({ ignoreHTTPSErrors: true })
      const page = await context.newPage()
      await page.goto(`${origin}/hello`)
      const channel = `multiplex-${results.length}`
      // The page's code, as text: this file is compiled without the DOM's types.
      await page.evaluate(`(() => {
        window.received = 0
        window.sources = Array.from({ length: 10 }, () => new EventSource('/sse/${channel}'))
        for (const source of window.sources) source.onmessage = () => window.received++
      })()`)
      await sleep(1500)
      await fetch(`${server.origin}/publish/${channel}`, { method: 'POST', body: 'to every stream' })
      await sleep(500)
      const seen = (await page.evaluate(`(() => {
        const state = {
          opened: window.sources.filter((s) => s.readyState === EventSource.OPEN).length,
          received: window.received,
          protocol: performance.getEntriesByType('navigation')[0].nextHopProtocol,
        }
        for (const source of window.sources) source.close()
        return state
      })()`)) as { opened: number; received: number; protocol: string }
      results.push({ protocol: seen.protocol, url: `${origin.replace(/:\d+$/, origin.startsWith('https') ? ':8443' : ':8000')}/sse/...`, opened: seen.opened, received: seen.received })
      await context.close()
    }
    return results
  } finally {
    await browser.close()
  }
}

// ---- the run

const host = machine()
const began = performance.now()
const version = (await new Promise<string>((resolve) => {
  import('node:child_process').then(({ execFile }) => execFile(NGINX, ['-v'], (_e, _out, err) => resolve(String(err).trim())))
})).replace(/^nginx version: /, '')
console.log(`docs:nginx: ${version}, proxy_read_timeout ${READ_TIMEOUT_S} s in the timeout experiment`)

const main = await startServer()
const beat = await startServer({ flags: ['--heartbeat', '1000', '--ws-ping-interval', '1000'] })
const relay = await Relay.start(main.port)
const nginxPort = await freePort()
const tls = quick ? null : await certificate()
const http2Port = tls === null ? null : await freePort()
const nginx = await NginxProcess.start(experimentConf({ main: main.port, beat: beat.port, relay: relay.port }, nginxPort, READ_TIMEOUT_S, http2Port), nginxPort, tls ?? {})
interface Findings {
  generated: string
  command: string
  machine: { nproc: number; node: string; platform: string }
  nginx: string
  parameters: { readTimeoutS: number; spacingMs: number; quick: boolean }
  seconds: number
  recommended: Through[]
  buffering: Buffering[]
  readTimeout: { results: ReadTimeout[]; errorLogLines: string[] }
  upgrades: Upgrade[]
  http10: Http10
  /** null when skipped (--quick, or no openssl or Chromium). */
  multiplexing: Multiplex[] | null
  spreading: Spread[]
  verdicts: Record<string, boolean>
}
let result: Findings
try {
  // The timeout experiment waits; the others run meanwhile, on other channels.
  const timeouts = readTimeouts(nginx)
  const through = await recommended(main, nginxPort)
  console.log('  1. the recommended configuration: measured')
  const buffered = await buffering(main, nginxPort)
  console.log('  2. buffering: measured')
  const upgraded = await upgrades(nginxPort)
  console.log('  4. WebSocket: measured')
  const old = await http10(main, nginxPort, relay)
  console.log('  5. HTTP/1.0 upstream: measured')
  const cut = await timeouts
  console.log('  3. proxy_read_timeout: measured')
  const spread = await spreading(nginxPort)
  console.log('  7. two server processes: measured')
  const multiplexed = http2Port === null ? null : await multiplexing(main, nginxPort, http2Port)
  console.log(multiplexed === null ? '  6. HTTP/2: skipped (quick, or no openssl or Chromium)' : '  6. HTTP/2: measured')
  result = {
    generated: host.date,
    command: COMMAND,
    machine: { nproc: host.nproc, node: host.node, platform: host.platform },
    nginx: version,
    parameters: { readTimeoutS: READ_TIMEOUT_S, spacingMs: SPACING_MS, quick },
    seconds: 0,
    recommended: through,
    buffering: buffered,
    readTimeout: cut,
    upgrades: upgraded,
    http10: old,
    multiplexing: multiplexed,
    spreading: spread,
    verdicts: {},
  }
} finally {
  await nginx.stop()
  await relay.close()
  await main.stop()
  await beat.stop()
}
result.seconds = Math.round((performance.now() - began) / 1000)

// ---- verdicts: what the chapter says, checked against what happened

const find = <T extends { setup: string }>(list: T[], setup: string, more: (item: T) => boolean = () => true) => list.find((item) => item.setup === setup && more(item))!
const prompt = (b: Buffering | undefined) => b !== undefined && b.firstMessageMs !== null && b.firstMessageMs < SPACING_MS / 2
const timeoutMs = READ_TIMEOUT_S * 1000
result.verdicts = {
  recommendedDeliversEveryTransport: result.recommended.every((r) => r.nginx.delivered === r.messages && r.direct.delivered === r.messages),
  honoredHeaderStreamsAtOnce: (['stream', 'sse'] as const).every((route) => prompt(find(result.buffering, 'recommended', (b) => b.route === route))),
  gzipWithBufferingHoldsMessages: (['stream', 'sse'] as const).every((route) => find(result.buffering, 'ignore-header-gzip', (b) => b.route === route).arrived === 0),
  gzipWithHeaderHonoredStreams: (['stream', 'sse'] as const).every((route) => prompt(find(result.buffering, 'gzip', (b) => b.route === route))),
  bufferingOffWithGzipStreams: (['stream', 'sse'] as const).every((route) => prompt(find(result.buffering, 'buffering-off-gzip', (b) => b.route === route))),
  readTimeoutCutsIdleStreams: result.readTimeout.results
    .filter((r) => r.setup === 'read-timeout')
    .every((r) => r.closedAfterMs !== null && r.closedAfterMs >= timeoutMs * 0.8 && r.closedAfterMs < timeoutMs * 2 && !r.lastChunk),
  heartbeatKeepsStreamsOpen: result.readTimeout.results.filter((r) => r.setup === 'read-timeout-beat').every((r) => r.closedAfterMs === null),
  websocketNeedsHttp11AndUpgradeFields:
    find(result.upgrades, 'ws-default').status !== 101 && find(result.upgrades, 'ws-http11').status !== 101 && find(result.upgrades, 'recommended').status === 101,
  http10UpstreamGetsNoChunks: /HTTP\/1\.0/.test(result.http10.upstreamRequest) && !/chunked/i.test(result.http10.upstreamResponse) && result.http10.firstMessageMs !== null,
  http10OpensAConnectionPerRequest: result.http10.http10Connections === result.http10.polls && result.http10.keepAliveConnections === 1,
}
result.verdicts.roundRobinLosesMessagesByChannelDoesNot =
  find(result.spreading, 'round-robin').delivered < find(result.spreading, 'round-robin').channels && find(result.spreading, 'by-channel').delivered === find(result.spreading, 'by-channel').channels &&
  find(result.spreading, 'by-channel').processes === 2
if (result.multiplexing !== null) {
  const [h1, h2] = result.multiplexing
  result.verdicts.http2LiftsTheSixConnectionLimit = h1.protocol === 'http/1.1' && h1.opened === 6 && h2.protocol === 'h2' && h2.opened === 10 && h2.received === 10
}

mkdirSync(dirname(jsonFile), { recursive: true })
writeFileSync(jsonFile, `${JSON.stringify(result, null, 2)}\n`)
console.log(`wrote ${jsonFile}`)

// ---- the chapter

const msText = (n: number | null, none = 'not within the run') => (n === null ? none : `${n.toLocaleString('en-US')} ms`)

function findings(): string {
  const r = result
  const verdictList = Object.entries(r.verdicts)
    .map(([name, ok]) => `- ${ok ? 'holds' : '**does not hold**'}: ${VERDICT_TEXT[name]}`)
    .join('\n')
  const through = markdownTable(
    ['transport', 'direct: delivered, p50', 'through nginx: delivered, p50'],
    r.recommended.map((t) => [TRANSPORT_NAMES[t.transport], `${t.direct.delivered}/${t.messages}, ${t.direct.p50Ms} ms`, `${t.nginx.delivered}/${t.messages}, ${t.nginx.p50Ms} ms`]),
  )
  const buffers = markdownTable(
    ['route', 'setup', 'head after', 'first message after publish', 'messages arrived (of 3)', 'gzip'],
    r.buffering.map((b) => [`/${b.route}`, b.setup === 'direct' ? 'direct, no proxy' : b.what, msText(b.headMs), msText(b.firstMessageMs), String(b.arrived), b.compressed ? 'yes' : 'no']),
    ['l', 'l', 'r', 'r', 'r', 'l'],
  )
  const timeouts = markdownTable(
    ['route', 'server silence', `with proxy_read_timeout ${READ_TIMEOUT_S}s`],
    r.readTimeout.results.map((t) => [
      `/${t.route}`,
      t.route === 'ws' ? `ping after ${t.heartbeatS} s` : `heartbeat after ${t.heartbeatS} s`,
      t.closedAfterMs === null
        ? `open when the run ended (${(READ_TIMEOUT_S * 2 + 0.5).toFixed(1)} s)`
        : `closed after ${msText(t.closedAfterMs)}${t.route === 'ws' ? '' : t.lastChunk ? ', cleanly' : ', without the last chunk'}`,
    ]),
  )
  const ws = markdownTable(
    ['configuration', 'status', "the server's reason"],
    r.upgrades.map((u) => [u.what, `\`${u.statusLine}\``, u.body === '' ? '(the WebSocket is open)' : `\`${u.body}\``]),
  )
  return [
    `Measured on ${r.generated} with ${r.nginx}, ${r.machine.nproc} CPUs, Node ${r.machine.node}, by \`${COMMAND}\` (${r.seconds} s; the data: [data/nginx.json](data/nginx.json)).`,
    '',
    '**The recommended configuration carries every transport.** Each message published once; one subscriber per transport connected directly and one through nginx; latency from publish to arrival:',
    '',
    through,
    '',
    `**Buffering.** One message every ${SPACING_MS / 1000} s to /stream and /sse, read through each setup (the clients send \`Accept-Encoding: gzip\`, as browsers do):`,
    '',
    buffers,
    '',
    `**Timeouts.** Idle subscriptions through \`proxy_read_timeout ${READ_TIMEOUT_S}s\`, against a server with its default heartbeat (15 s) and WebSocket ping (30 s), and against one started with \`--heartbeat 1000 --ws-ping-interval 1000\`:`,
    '',
    timeouts,
    '',
    "nginx's error log, for the subscriptions it cut:",
    '',
    '```',
    ...(r.readTimeout.errorLogLines.length > 0 ? r.readTimeout.errorLogLines : ['(nothing)']),
    '```',
    '',
    '**WebSocket through nginx.** The same upgrade request (`Upgrade: websocket`, `Connection: Upgrade`, a key, version 13) through three configurations:',
    '',
    ws,
    '',
    `**HTTP/1.0 upstream** (\`proxy_pass\` alone). What nginx sent the server, and what the server answered, for \`GET /stream/old\`:`,
    '',
    '```',
    r.http10.upstreamRequest,
    '',
    r.http10.upstreamResponse,
    '```',
    '',
    `What the client got from nginx: \`${r.http10.clientFraming.split('\r\n').join('`, `')}\`; the first message arrived ${msText(r.http10.firstMessageMs)} after it was published. ${r.http10.polls} short polls on one client connection opened ${r.http10.http10Connections} connections to the server with HTTP/1.0, and ${r.http10.keepAliveConnections} with \`proxy_http_version 1.1\`, \`proxy_set_header Connection ""\` and \`keepalive\`.`,
    '',
    '**Two server processes behind nginx.** A long poll on each of 8 channels, then a publish to each channel, all through nginx; each process keeps its own channels:',
    '',
    markdownTable(
      ['setup', 'processes that answered the polls', 'long polls that received their message'],
      r.spreading.map((x) => [x.what, String(x.processes), `${x.delivered} of ${x.channels}`]),
    ),
    '',
    ...(r.multiplexing === null
      ? []
      : [
          '**Six connections per host, and HTTP/2.** One Chromium page opened ten `EventSource`s to its own host through nginx, over its HTTP/1.1 listener and over an HTTP/2 one (TLS, with a self-signed certificate; browsers speak HTTP/2 only over TLS); then one message was published to their channel:',
          '',
          markdownTable(
            ['listener', 'protocol the page used', 'streams open after 1.5 s', 'streams that got the message'],
            r.multiplexing.map((m) => [m.url.startsWith('https') ? '`listen 8443 ssl http2`' : '`listen 8000`', `\`${m.protocol}\``, `${m.opened} of 10`, `${m.received} of 10`]),
          ),
          '',
        ]),
    '**Verdicts** (each computed by the script from the figures above):',
    '',
    verdictList,
  ].join('\n')
}

const VERDICT_TEXT: Record<string, string> = {
  recommendedDeliversEveryTransport: 'all six transports deliver every message through the recommended configuration',
  honoredHeaderStreamsAtOnce: 'with `X-Accel-Buffering: no` honored, each message passes through at once',
  gzipWithBufferingHoldsMessages: 'with buffering on and gzip on, no message reaches the client during the run',
  gzipWithHeaderHonoredStreams: 'gzip with `X-Accel-Buffering: no` honored still passes each message at once (nginx flushes the compressor)',
  bufferingOffWithGzipStreams: '`proxy_buffering off` does the same when the header is ignored',
  readTimeoutCutsIdleStreams: `a stream and a WebSocket silent for longer than \`proxy_read_timeout\` are cut after it (${READ_TIMEOUT_S} s), a stream without its last chunk`,
  heartbeatKeepsStreamsOpen: 'a heartbeat (or ping) more often than `proxy_read_timeout` keeps them open',
  websocketNeedsHttp11AndUpgradeFields: 'the WebSocket upgrade needs `proxy_http_version 1.1` and the Upgrade and Connection fields; without them the server answers 400',
  http10UpstreamGetsNoChunks: 'to an HTTP/1.0 request the server answers without chunks (the body ends with the connection), and the stream still flows',
  http10OpensAConnectionPerRequest: 'HTTP/1.0 upstream opens one connection per request; HTTP/1.1 with keepalive reuses one',
  roundRobinLosesMessagesByChannelDoesNot: 'with two processes, round robin sends a publisher and a subscriber of one channel to different processes (the message never reaches the poll); a hash of the channel name keeps them together',
  http2LiftsTheSixConnectionLimit: 'over HTTP/1.1 a page gets six streams to one host; over HTTP/2 it gets all ten',
}

const rendered = findings()
console.log()
console.log(rendered)
if (values['no-chapter'] !== true) {
  writeFileSync(join(REPO, 'docs/data/nginx.conf'), recommendedConf())
  const byChannel = `${byChannelHttp([8080, 8081])}\n    # ... and in the server block, proxy_pass http://push_wire_by_channel; instead of http://push_wire;\n`
  const missing = rewriteMarked(chapter, {
    nginx: rendered,
    'nginx-conf': `\`\`\`nginx\n${recommendedConf()}\`\`\``,
    'nginx-by-channel': `\`\`\`nginx\n${byChannel}\`\`\``,
  })
  if (missing.length > 0) console.error(`${chapter}: no markers for ${missing.join(', ')}`)
  else console.log(`rewrote the findings and the configuration in ${chapter}`)
}
const failed = Object.entries(result.verdicts).filter(([, ok]) => !ok)
if (failed.length > 0) {
  console.error(`verdicts that did not hold: ${failed.map(([name]) => name).join(', ')}`)
  process.exitCode = 1
}

// npx tsx docs/scripts/claims.ts [--no-chapter]
//
// Common claims about server push, checked against the running server, for the section
// "Claims, checked" of docs/10-choosing.md. For each claim it runs the commands the chapter
// shows (through sh, exactly as printed, on the port the server got), drives Debian's
// Chromium where only a browser can tell, reads the measured costs (docs/data/costs.json,
// from npm run docs:costs) and the nginx findings (docs/data/nginx.json, from npm run
// docs:nginx), and writes each claim's evidence and verdict between
// <!-- claim-NAME:begin --> and <!-- claim-NAME:end -->.
//
// Ports are shown as 8080, the port of `npm start`, so that every command works as printed
// against it. A verdict that no longer matches what the chapter says is an error.

import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { chromiumPresent, TestBrowser, type WatchedPage } from '../../test/helpers/browser.ts'
import { markdownTable, rewriteMarked } from './measure/markers.ts'
import { REPO, sleep, startServer, type ServerProcess } from './measure/processes.ts'

const { values } = parseArgs({ options: { 'no-chapter': { type: 'boolean', default: false } } })
const chapter = join(REPO, 'docs/10-choosing.md')

// ---- running a command as the chapter prints it

interface Shown {
  command: string
  output: string
}

/** Runs `command` (written for port 8080) against `server`; the output is shown with 8080 again. */
function run(server: ServerProcess, command: string): Promise<Shown> {
  const real = command.replaceAll(':8080', `:${server.port}`)
  return new Promise((resolve) => {
    execFile('sh', ['-c', real], { encoding: 'latin1', timeout: 15_000 }, (_error, stdout, stderr) => {
      const output = (stdout + stderr).replaceAll(`:${server.port}`, ':8080').replace(/\r\n/g, '\n')
      resolve({ command, output: output.replace(/\n+$/, '') })
    })
  })
}

function block(shown: Shown[]): string {
  return ['```console', ...shown.map((s) => `$ ${s.command}\n${s.output}`), '```'].join('\n')
}

/** The verdict line; when the evidence says otherwise, it says so and the run fails. */
function verdict(name: string, holds: boolean, short: string, explanation: string): string {
  if (!holds) {
    failures.push(name)
    return `**Verdict: the check failed.** The evidence above no longer supports what this section says (see \`tsx docs/scripts/claims.ts\`).`
  }
  return `**Verdict: ${short}.** ${explanation}`
}

const failures: string[] = []
const header = (field: string, output: string) => new RegExp(`^${field}:.*$`, 'im').exec(output)?.[0] ?? ''

// ---- the browser

let browser: TestBrowser | null = null

async function page(url: string): Promise<WatchedPage | null> {
  if (!chromiumPresent()) return null
  browser ??= await TestBrowser.launch()
  return browser.open(url)
}

async function browserClosed(): Promise<void> {
  await browser?.close()
}

const NO_BROWSER = '(Chromium is not installed here: the browser half of this check was skipped.)'

// ---- 1. EventSource cannot be used cross-origin

async function claimCors(): Promise<string> {
  const shown = [await run(plain, "curl -si -m 1 -H 'Origin: http://localhost:3000' http://127.0.0.1:8080/sse/news")]
  const withList = await run(allowing, "curl -si -m 1 -H 'Origin: http://localhost:8080' http://127.0.0.1:8080/sse/news")
  const star = header('Access-Control-Allow-Origin', shown[0].output) === 'Access-Control-Allow-Origin: *'
  const echoed = /Access-Control-Allow-Credentials: true/.test(withList.output) && /Access-Control-Allow-Origin: http:\/\/localhost:8080/.test(withList.output)

  const rows: string[][] = []
  let browserOk = true
  const tab = await page(`http://localhost:${plain.port}/hello`)
  if (tab) {
    const open = await eventSourceFrom(tab, `http://127.0.0.1:${plain.port}/sse/claims-cors`, false, plain)
    const credentialed = await eventSourceFrom(tab, `http://127.0.0.1:${plain.port}/sse/claims-cors`, true, plain)
    await tab.close()
    const allowedTab = (await page(`http://localhost:${allowing.port}/hello`))!
    const allowed = await eventSourceFrom(allowedTab, `http://127.0.0.1:${allowing.port}/sse/claims-cors`, true, allowing)
    await allowedTab.close()
    rows.push(
      ["`new EventSource('http://127.0.0.1:8080/sse/claims-cors')`", '`npm start`', open],
      ["`new EventSource('http://127.0.0.1:8080/sse/claims-cors', { withCredentials: true })`", '`npm start`', credentialed],
      ["`new EventSource('http://127.0.0.1:8080/sse/claims-cors', { withCredentials: true })`", '`npm start -- --allow-origin http://localhost:8080`', allowed],
    )
    browserOk = open.startsWith('open') && credentialed.startsWith('refused') && allowed.startsWith('open')
  }
  return [
    block(shown),
    '',
    'With an allowlist (`npm start -- --allow-origin http://localhost:8080`), the origin is echoed and credentials allowed:',
    '',
    block([withList]),
    '',
    tab ? 'In Chromium, a page of `http://localhost:8080` (another origin than `http://127.0.0.1:8080`: the host differs):' : NO_BROWSER,
    '',
    tab ? markdownTable(['the page ran', 'against', 'what happened'], rows) : '',
    '',
    verdict(
      'cors',
      star && echoed && browserOk,
      'false',
      'EventSource follows CORS like fetch: any origin can read a stream that answers `Access-Control-Allow-Origin: *`. With `withCredentials: true` (cookies), `*` is not enough: the server must name the origin and send `Access-Control-Allow-Credentials: true`, which is what `--allow-origin` does.',
    ),
  ].join('\n')
}

/** Opens an EventSource in the page, publishes one message, and says what happened. */
async function eventSourceFrom(tab: WatchedPage, url: string, withCredentials: boolean, server: ServerProcess): Promise<string> {
  await tab.value(`(() => {
    window.claim = { state: 'connecting', data: null }
    const source = new EventSource(${JSON.stringify(url)}, { withCredentials: ${withCredentials} })
    window.claimSource = source
    source.onopen = () => { window.claim.state = 'open' }
    source.onmessage = (event) => { window.claim.data = event.data }
    source.onerror = () => { if (source.readyState === EventSource.CLOSED) window.claim.state = 'closed' }
  })()`)
  await tab.until('window.claim.state !== "connecting"', 'the EventSource to open or fail', 5000).catch(() => {})
  const channel = new URL(url).pathname.split('/').pop()
  await fetch(`${server.origin}/publish/${channel}`, { method: 'POST', body: 'hello from the claims' })
  await tab.until('window.claim.data !== null || window.claim.state === "closed"', 'the message', 3000).catch(() => {})
  const claim = await tab.value<{ state: string; data: string | null }>('window.claim')
  await tab.value('window.claimSource.close()')
  if (claim.state === 'open' && claim.data !== null) return `opened; the published message arrived (\`${claim.data}\`)`
  if (claim.state === 'closed') return 'refused: an `error` event, and `readyState` 2 (CLOSED): the browser will not retry'
  return `${claim.state}; message: ${claim.data ?? 'none'}`
}

// ---- 2. SSE needs HTTP/2

async function claimHttp2(): Promise<string> {
  const shown = [await run(plain, 'curl --http1.1 -si -m 1 http://127.0.0.1:8080/sse/news')]
  const http11 = /^HTTP\/1\.1 200 OK$/m.test(shown[0].output) && /^Content-Type: text\/event-stream$/m.test(shown[0].output)
  let rows: string[][] = []
  let sixOk = true
  const tab = await page(`http://127.0.0.1:${plain.port}/hello`)
  if (tab) {
    await tab.value(`(() => {
      window.sources = []
      for (let i = 1; i <= 7; i++) window.sources.push(new EventSource('/sse/six-' + i))
    })()`)
    await sleep(1500)
    const openCount = () => tab.value<number>('window.sources.filter((s) => s.readyState === EventSource.OPEN).length')
    const opened = await openCount()
    const timed = (url: string, mode: string) =>
      tab.value<string>(`(async () => {
        const started = performance.now()
        const answer = fetch(${JSON.stringify(url)}, { mode: ${JSON.stringify(mode)} }).then(() => 'answered in ' + Math.round(performance.now() - started) + ' ms')
        const timeout = new Promise((resolve) => setTimeout(() => resolve('no answer within 2 s'), 2000))
        return Promise.race([answer, timeout])
      })()`)
    const sameOrigin = await timed('/hello', 'same-origin')
    const otherHost = await timed(`http://localhost:${plain.port}/hello`, 'no-cors')
    const socket = await tab.value<string>(`new Promise((resolve) => {
      const socket = new WebSocket('ws://127.0.0.1:${plain.port}/ws/six-ws')
      socket.onopen = () => { socket.close(); resolve('opened') }
      socket.onclose = () => resolve('closed')
      setTimeout(() => resolve('no answer within 2 s'), 2000)
    })`)
    await tab.value('window.sources[0].close()')
    await sleep(1000)
    const afterClose = await openCount()
    await tab.value('window.sources.forEach((s) => s.close())')
    await tab.close()
    rows = [
      ['opened 7 EventSources to `http://127.0.0.1:8080/sse/six-1` ... `six-7`', `${opened} open after 1.5 s; the others wait (readyState 0, CONNECTING)`],
      ["then `fetch('/hello')`, same origin", sameOrigin],
      ["then `fetch('http://localhost:8080/hello')`, another host", otherHost],
      ["then `new WebSocket('ws://127.0.0.1:8080/ws/six-ws')`, same host", `${socket}: WebSocket connections are not counted in the six`],
      ['closed the first EventSource', `${afterClose} open 1 s later: the waiting one took its connection`],
    ]
    sixOk = opened === 6 && sameOrigin.startsWith('no answer') && otherHost.startsWith('answered') && socket === 'opened' && afterClose === 6
  }
  return [
    block(shown),
    '',
    tab ? 'What the limit does, in Chromium, over HTTP/1.1 (a page of `http://127.0.0.1:8080`):' : NO_BROWSER,
    '',
    tab ? markdownTable(['the page', 'what happened'], rows) : '',
    '',
    verdict(
      'http2',
      http11 && sixOk,
      'false',
      'SSE is an ordinary HTTP/1.1 response that does not end. What HTTP/1.1 does impose is the browser\'s limit of six connections per host: a seventh stream, or any other request to that host, waits for one of the six. HTTP/2 carries many streams on one connection (as many as the server allows, commonly 100 or more: see [chapter 11](11-running-for-real.md)), which lifts the limit; so does serving some streams from a second host name, or one connection shared by every tab (a SharedWorker). WebSocket connections have a pool of their own.',
    ),
  ].join('\n')
}

// ---- 3. WebSocket has no same-origin protection

const UPGRADE = "-H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='"

async function claimWsOrigin(): Promise<string> {
  const open = await run(plain, `curl -si -m 1 ${UPGRADE} -H 'Origin: http://evil.example' http://127.0.0.1:8080/ws/news`)
  const refused = await run(allowing, `curl -si -m 1 ${UPGRADE} -H 'Origin: http://evil.example' http://127.0.0.1:8080/ws/news`)
  const accepted = /^HTTP\/1\.1 101 /m.test(open.output)
  const forbidden = /^HTTP\/1\.1 403 /m.test(refused.output)
  let rows: string[][] = []
  let browserOk = true
  const tab = await page(`http://localhost:${plain.port}/hello`)
  if (tab) {
    const socketFrom = (url: string) =>
      tab.value<string>(`new Promise((resolve) => {
        const socket = new WebSocket(${JSON.stringify(url)})
        socket.onopen = () => { socket.close(); resolve('opened') }
        socket.onclose = (event) => resolve('refused: close event, code ' + event.code)
        setTimeout(() => resolve('nothing within 3 s'), 3000)
      })`)
    const toPlain = await socketFrom(`ws://127.0.0.1:${plain.port}/ws/claims-ws`)
    const toAllowing = await socketFrom(`ws://127.0.0.1:${allowing.port}/ws/claims-ws`)
    await tab.close()
    rows = [
      ["`new WebSocket('ws://127.0.0.1:8080/ws/claims-ws')`", '`npm start`', toPlain],
      ["`new WebSocket('ws://127.0.0.1:8081/ws/claims-ws')`", '`npm start -- --port 8081 --allow-origin http://localhost:8081`', toAllowing],
    ]
    browserOk = toPlain === 'opened' && toAllowing.startsWith('refused')
  }
  return [
    'Without an allowlist the server takes an upgrade from any origin:',
    '',
    block([open]),
    '',
    'With `npm start -- --allow-origin http://localhost:8080`, another origin gets 403:',
    '',
    block([refused]),
    '',
    tab ? 'In Chromium, from a page of `http://localhost:8080`, that is, of another origin than either server (the second one allows only `http://localhost:8081`):' : NO_BROWSER,
    '',
    tab ? markdownTable(['the page ran', 'against', 'what happened'], rows) : '',
    '',
    verdict(
      'ws-origin',
      accepted && forbidden && browserOk,
      'true of the browser, false of the protocol',
      'A browser lets any page open a WebSocket to any server (no CORS, no preflight) and sends the page\'s `Origin` with the upgrade; checking it is the server\'s job (RFC 6455 §10.2). A server that accepts every origin lets any web page use its visitors\' cookies on it (cross-site WebSocket hijacking). Here `--allow-origin` is that check; clients without `Origin` (curl, servers) are not browsers and are let in.',
    ),
  ].join('\n')
}

// ---- 4. long polling is always cheaper than short polling (from the cost table)

interface CostRow {
  transport: string
  name: string
  frequent: { bytesPerMessage: number; requestsPerMessage: number; p50Ms: number }
  rare: { bytesPerMessage: number; requestsPerMessage: number; p50Ms: number }
  idle: { bytesPerMinute: number; requestsPerMinute: number }
  memory: { heapBytesPerClient: number }
}

function costs(): { rows: CostRow[]; parameters: { rate: number; rareEveryMs: number; pollIntervalMs: number }; generated: string } | null {
  const file = join(REPO, 'docs/data/costs.json')
  if (!existsSync(file)) return null
  const data = JSON.parse(readFileSync(file, 'utf8'))
  return { rows: data.transports, parameters: data.parameters, generated: data.generated }
}

const int = (n: number) => Math.round(n).toLocaleString('en-US')
const two = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 2 })
// Rounded as the cost table rounds them (toFixed would make 2.15 into 2.1, the table 2.2).
const ms = (n: number) => `${n.toLocaleString('en-US', { maximumFractionDigits: n < 10 ? 1 : 0, minimumFractionDigits: n < 10 ? 1 : 0 })} ms`

function claimLongPoll(): string {
  const data = costs()
  if (data === null) return '(docs/data/costs.json is missing: run `npm run docs:costs` first.)'
  const [poll, longpoll] = ['poll', 'longpoll'].map((t) => data.rows.find((r) => r.transport === t)!)
  const p = data.parameters
  const table = markdownTable(
    ['', 'short polling (every ' + p.pollIntervalMs / 1000 + ' s)', 'long polling'],
    [
      [`${p.rate} messages/s: bytes per message`, int(poll.frequent.bytesPerMessage), int(longpoll.frequent.bytesPerMessage)],
      [`${p.rate} messages/s: requests per message`, two(poll.frequent.requestsPerMessage), two(longpoll.frequent.requestsPerMessage)],
      [`one message every ${p.rareEveryMs / 1000} s: bytes per message`, int(poll.rare.bytesPerMessage), int(longpoll.rare.bytesPerMessage)],
      [`one message every ${p.rareEveryMs / 1000} s: requests per message`, two(poll.rare.requestsPerMessage), two(longpoll.rare.requestsPerMessage)],
      ['no messages: requests per minute', int(poll.idle.requestsPerMinute), two(longpoll.idle.requestsPerMinute)],
      ['latency p50 (at the higher rate)', ms(poll.frequent.p50Ms), ms(longpoll.frequent.p50Ms)],
    ],
    ['l', 'r', 'r'],
  )
  const cheaperWhenFrequent = poll.frequent.bytesPerMessage < longpoll.frequent.bytesPerMessage && poll.frequent.requestsPerMessage < longpoll.frequent.requestsPerMessage
  const dearerWhenRare = poll.rare.requestsPerMessage > longpoll.rare.requestsPerMessage && poll.idle.requestsPerMinute > longpoll.idle.requestsPerMinute
  return [
    `From the cost table above (measured ${data.generated} by \`npm run docs:costs\`):`,
    '',
    table,
    '',
    verdict(
      'longpoll',
      cheaperWhenFrequent && dearerWhenRare,
      'false',
      `Long polling costs about one request, and one response head, per message: when messages come often, a short poll every ${p.pollIntervalMs / 1000} s carries many in one answer and costs less, in requests and in bytes, at the price of latency (about half the interval). When messages are rare, short polling is the one that wastes: ${int(poll.idle.requestsPerMinute)} requests a minute for nothing, against ${two(longpoll.idle.requestsPerMinute)}. Long polling wins on latency always, on cost only when messages are rarer than polls.`,
    ),
  ].join('\n')
}

// ---- 5. SSE is limited to UTF-8 text

async function claimText(): Promise<string> {
  const shown = [
    await run(plain, "printf '\\377\\376' | curl -si --data-binary @- http://127.0.0.1:8080/publish/bin"),
    await run(plain, "printf '\\000\\001\\002\\377' | base64 | tr -d '\\n' | curl -s --data-binary @- http://127.0.0.1:8080/publish/bin"),
    await run(plain, "curl -s -m 1 'http://127.0.0.1:8080/sse/bin?after=0'"),
  ]
  const refused = /^HTTP\/1\.1 400 /m.test(shown[0].output) && /UTF-8/.test(shown[0].output)
  const base64 = /^data: AAEC\/w==$/m.test(shown[2].output)
  return [
    block(shown),
    '',
    verdict(
      'text',
      refused && base64,
      'true',
      'An event stream is UTF-8 text by definition (the HTML standard decodes it as UTF-8 whatever the Content-Type says, invalid bytes becoming U+FFFD), so this server refuses to publish bytes that are not UTF-8. Binary data must travel encoded: base64 turns 4 bytes into 8 here (3 into 4 in general, plus padding). WebSocket has binary frames for it (the `/echo` route echoes them; `/ws/{channel}` carries text messages, like every other route, and closes with 1003 on a binary frame).',
    ),
  ].join('\n')
}

// ---- 6. EventSource reconnects and loses nothing

async function claimResume(): Promise<string> {
  const shown = [
    await run(plain, "curl -s --data-binary 'first' http://127.0.0.1:8080/publish/resume; echo"),
    await run(plain, "curl -s --data-binary 'second' http://127.0.0.1:8080/publish/resume; echo"),
    await run(plain, "curl -s -m 1 -H 'Last-Event-ID: 1' http://127.0.0.1:8080/sse/resume"),
    await run(plain, "curl -s -m 1 -H 'Last-Event-ID: 99' http://127.0.0.1:8080/sse/resume"),
  ]
  const resumed = /id: 2\ndata: second/.test(shown[2].output) && !/data: first/.test(shown[2].output)
  const gap = /event: gap\ndata: \{"first":1\}/.test(shown[3].output)
  return [
    block(shown),
    '',
    verdict(
      'resume',
      resumed && gap,
      'half true',
      "The browser's half is automatic: after `retry` ms it reconnects to the same URL and sends the last `id:` it saw as `Last-Event-ID`. The other half is the server's: it must keep recent messages and resume after that id, and say so when it cannot (here: `event: gap`, for a cursor from another life of the server, or one older than the history). A server that ignores `Last-Event-ID` loses whatever was published while the client was away.",
    ),
  ].join('\n')
}

// ---- 7. WebSocket is faster than SSE

function claimWsFaster(): string {
  const data = costs()
  if (data === null) return '(docs/data/costs.json is missing: run `npm run docs:costs` first.)'
  const [sse, ws] = ['sse', 'ws'].map((t) => data.rows.find((r) => r.transport === t)!)
  const table = markdownTable(
    ['', 'SSE', 'WebSocket'],
    [
      ['bytes per message, both ways', int(sse.frequent.bytesPerMessage), int(ws.frequent.bytesPerMessage)],
      ['latency p50', ms(sse.frequent.p50Ms), ms(ws.frequent.p50Ms)],
      ['latency p50, rare messages', ms(sse.rare.p50Ms), ms(ws.rare.p50Ms)],
    ],
    ['l', 'r', 'r'],
  )
  const close = Math.abs(sse.frequent.bytesPerMessage - ws.frequent.bytesPerMessage) < 20 && Math.abs(sse.frequent.p50Ms - ws.frequent.p50Ms) < 5
  return [
    `From the cost table (measured ${data.generated}):`,
    '',
    table,
    '',
    verdict(
      'ws-faster',
      close,
      'false for server push',
      'Both are one long-lived TCP connection and a few bytes of framing per message (a chunk-size line and `id:`/`data:` against a 2-byte frame header); over the same network neither is faster. WebSocket is what to pick for the other direction: a client that sends often sends a frame instead of a whole HTTP request.',
    ),
  ].join('\n')
}

// ---- 8. proxies break SSE and streaming

function claimProxies(): string {
  const file = join(REPO, 'docs/data/nginx.json')
  if (!existsSync(file)) return '(docs/data/nginx.json is missing: run `npm run docs:nginx` first.)'
  const data = JSON.parse(readFileSync(file, 'utf8')) as { generated: string; nginx: string; buffering: { setup: string; what: string; route: string; firstMessageMs: number | null; arrived: number }[] }
  const rows = data.buffering
    .filter((b) => b.route === 'sse')
    .map((b) => [b.setup === 'direct' ? 'no proxy' : b.what, b.firstMessageMs === null ? 'not within the run' : `${b.firstMessageMs} ms`, `${b.arrived} of 3`])
  const gzipHeld = data.buffering.some((b) => b.setup === 'ignore-header-gzip' && b.arrived === 0)
  const recommendedOk = data.buffering.filter((b) => b.setup === 'recommended').every((b) => b.arrived === 3)
  return [
    `Measured with ${data.nginx} on ${data.generated} by \`npm run docs:nginx\` (details in [11-running-for-real.md](11-running-for-real.md)); /sse, one message a second:`,
    '',
    markdownTable(['setup', 'first message after publish', 'arrived'], rows, ['l', 'r', 'r']),
    '',
    verdict(
      'proxies',
      gzipHeld && recommendedOk,
      'true of some configurations',
      'nginx with buffering and gzip holds every message back; the same nginx passes each one at once when the response says `X-Accel-Buffering: no` (this server always does) or when `proxy_buffering` is off. A proxy can also cut a silent stream (its read timeout): the heartbeat is there for that.',
    ),
  ].join('\n')
}

// ---- the servers

const plain = await startServer()
// An allowlist naming the origin that a page of this same server has under its other name.
const allowing = await startServerWithOrigin()

async function startServerWithOrigin(): Promise<ServerProcess> {
  // The port is not known before it listens, and the origin names it: take a free port first.
  const { freePort } = await import('./measure/nginx.ts')
  for (let attempt = 0; ; attempt++) {
    const port = await freePort()
    try {
      const server = await startServer({ flags: ['--port', String(port), '--allow-origin', `http://localhost:${port}`] })
      if (server.port === port) return server
      await server.stop()
    } catch (error) {
      if (attempt > 3) throw error
    }
  }
}

const parts: Record<string, string> = {}
try {
  parts['claim-cors'] = await claimCors()
  parts['claim-http2'] = await claimHttp2()
  parts['claim-ws-origin'] = await claimWsOrigin()
  parts['claim-longpoll'] = claimLongPoll()
  parts['claim-text'] = await claimText()
  parts['claim-resume'] = await claimResume()
  parts['claim-ws-faster'] = claimWsFaster()
  parts['claim-proxies'] = claimProxies()
} finally {
  await browserClosed()
  await plain.stop()
  await allowing.stop()
}

// ---- writing

for (const [name, text] of Object.entries(parts)) {
  console.log(`\n== ${name}\n${text}`)
}
if (values['no-chapter'] !== true) {
  const missing = rewriteMarked(chapter, parts)
  if (missing.length > 0) console.error(`${chapter}: no markers for ${missing.join(', ')}`)
  else console.log(`\nrewrote ${Object.keys(parts).length} claims in ${chapter}`)
}
if (failures.length > 0) {
  console.error(`claims whose check failed: ${failures.join(', ')}`)
  process.exitCode = 1
}

// docs/scripts/costs.ts in its quick mode (2 subscribers per transport, 20 messages, 20 idle
// clients): the cost table's shape and sanity, never its figures, which are noisy. The
// script runs as `npm run docs:costs` would, in a child process, and writes its JSON to a
// temporary file instead of docs/data/.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { run } from '../helpers/commands.ts'

const REPO = fileURLToPath(new URL('../..', import.meta.url))
const TRANSPORTS = ['poll', 'longpoll', 'stream', 'iframe', 'sse', 'ws']
const STREAMED = ['stream', 'iframe', 'sse', 'ws']

interface Phase {
  messages: number
  deliveries: number
  bytesPerMessage: number
  requestsPerMessage: number
  p50Ms: number
  p99Ms: number
  lost: number
}

interface Row {
  transport: string
  frequent: Phase
  rare: Phase
  setUp: { bytes: number; requests: number }
  idle: { exchanges: number; bytesPerExchange: number; bytesPerMinute: number; requestsPerMinute: number }
  memory: { clients: number; heapBytesPerClient: number; rssBytesPerClient: number }
}

interface Costs {
  command: string
  machine: { nproc: number; node: string }
  parameters: { subscribersPerTransport: number; payloadBytes: number; idleClients: number; pollIntervalMs: number; rareEveryMs: number }
  transports: Row[]
}

const test = suite<{ costs: Costs; stdout: string }>('docs: the cost table (costs.ts --quick)', {} as { costs: Costs; stdout: string })

test.before(async (context) => {
  const dir = mkdtempSync(join(tmpdir(), 'push-wire-costs-'))
  try {
    const file = join(dir, 'costs.json')
    const ran = await run(process.execPath, ['--import', 'tsx', join(REPO, 'docs/scripts/costs.ts'), '--quick', '--json', file, '--no-chapter'], 90_000)
    assert.is(ran.code, 0, `costs.ts failed: ${ran.stderr}`)
    context.stdout = ran.stdout.toString('utf8')
    context.costs = JSON.parse(readFileSync(file, 'utf8')) as Costs
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('it measures all six transports, in order, and names the command and the machine', ({ costs }) => {
  assert.equal(
    costs.transports.map((row) => row.transport),
    TRANSPORTS,
  )
  assert.is(costs.command, 'npm run docs:costs')
  assert.ok(costs.machine.nproc >= 1)
  assert.match(costs.machine.node, /^v\d+\./)
})

test('every subscriber of every transport received every message, in both phases', ({ costs }) => {
  const per = costs.parameters.subscribersPerTransport
  for (const row of costs.transports) {
    for (const phase of [row.frequent, row.rare]) {
      assert.ok(phase.messages > 0, row.transport)
      assert.is(phase.deliveries, phase.messages * per, `${row.transport} delivered ${phase.deliveries} of ${phase.messages * per}`)
      assert.is(phase.lost, 0, row.transport)
    }
  }
})

test('each message costs more bytes than its data; the polls pay for heads, the streams only for framing', ({ costs }) => {
  const byName = new Map(costs.transports.map((row) => [row.transport, row]))
  for (const row of costs.transports) {
    assert.ok(row.frequent.bytesPerMessage > costs.parameters.payloadBytes, `${row.transport}: ${row.frequent.bytesPerMessage}`)
  }
  // A streamed message is its data and some framing, well under a response head.
  for (const name of STREAMED) assert.ok(byName.get(name)!.frequent.bytesPerMessage < costs.parameters.payloadBytes + 100, name)
  // A long poll answers with a whole response per message.
  assert.ok(byName.get('longpoll')!.frequent.bytesPerMessage > byName.get('sse')!.frequent.bytesPerMessage + 100)
})

test('requests per message: about one for long polling, one per interval for short polling, none for the streams', ({ costs }) => {
  const byName = new Map(costs.transports.map((row) => [row.transport, row]))
  const longpoll = byName.get('longpoll')!
  assert.ok(longpoll.frequent.requestsPerMessage > 0.3 && longpoll.frequent.requestsPerMessage <= 1, `long poll: ${longpoll.frequent.requestsPerMessage}`)
  assert.ok(longpoll.rare.requestsPerMessage >= 0.9, `long poll, rare: ${longpoll.rare.requestsPerMessage}`)
  const poll = byName.get('poll')!
  // Messages further apart than the interval: at least one poll each.
  assert.ok(poll.rare.requestsPerMessage >= 1, `short poll, rare: ${poll.rare.requestsPerMessage}`)
  // 20 a second against a poll a second: many messages per answer.
  assert.ok(poll.frequent.requestsPerMessage < 0.5, `short poll, frequent: ${poll.frequent.requestsPerMessage}`)
  for (const name of STREAMED) {
    const row = byName.get(name)!
    assert.is(row.frequent.requestsPerMessage, 0, name)
    assert.is(row.setUp.requests, 1, name)
    assert.ok(row.setUp.bytes > 100, name)
  }
})

test('short polling waits for its interval; the others deliver at once', ({ costs }) => {
  const byName = new Map(costs.transports.map((row) => [row.transport, row]))
  const poll = byName.get('poll')!
  for (const name of ['longpoll', ...STREAMED]) {
    const row = byName.get(name)!
    assert.ok(row.frequent.p50Ms < poll.frequent.p50Ms, `${name} p50 ${row.frequent.p50Ms} ms against short polling's ${poll.frequent.p50Ms} ms`)
    assert.ok(row.frequent.p50Ms <= row.frequent.p99Ms, name)
  }
  assert.ok(poll.frequent.p99Ms <= costs.parameters.pollIntervalMs + 500, `short poll p99 ${poll.frequent.p99Ms}`)
})

test('idle traffic: an empty answer per poll, a heartbeat or a ping for the rest; memory is measured for each', ({ costs }) => {
  for (const row of costs.transports) {
    assert.ok(row.idle.exchanges > 0, `${row.transport} saw no idle traffic`)
    assert.ok(row.idle.bytesPerExchange > 0, row.transport)
    assert.ok(Number.isFinite(row.idle.bytesPerMinute), row.transport)
    assert.is(row.memory.clients, costs.parameters.idleClients)
    assert.ok(Number.isFinite(row.memory.heapBytesPerClient) && Number.isFinite(row.memory.rssBytesPerClient), row.transport)
  }
  const byName = new Map(costs.transports.map((row) => [row.transport, row]))
  assert.is(byName.get('poll')!.idle.requestsPerMinute, 60_000 / costs.parameters.pollIntervalMs)
  assert.is(byName.get('sse')!.idle.requestsPerMinute, 0)
})

test('the tables it prints have a row per transport', ({ stdout }) => {
  for (const name of ['short polling', 'long polling', 'HTTP streaming', 'forever iframe', 'SSE', 'WebSocket']) {
    assert.is(stdout.split('\n').filter((line) => line.startsWith(`| ${name} |`)).length, 2, name)
  }
  assert.match(stdout, /by `npm run docs:costs`/)
})

test('docs/10-choosing.md holds a generated table between its markers, and a checked verdict for every claim', () => {
  const chapter = readFileSync(join(REPO, 'docs/10-choosing.md'), 'utf8')
  const between = (name: string) => new RegExp(`<!-- ${name}:begin -->\\n([\\s\\S]*?)\\n<!-- ${name}:end -->`).exec(chapter)?.[1] ?? ''
  const table = between('costs')
  assert.match(table, /by `npm run docs:costs`/)
  for (const name of ['short polling', 'long polling', 'HTTP streaming', 'forever iframe', 'SSE', 'WebSocket']) {
    assert.is(table.split('\n').filter((line) => line.startsWith(`| ${name} |`)).length, 2, name)
  }
  for (const claim of ['cors', 'http2', 'ws-origin', 'longpoll', 'text', 'resume', 'ws-faster', 'proxies']) {
    const text = between(`claim-${claim}`)
    assert.match(text, /\*\*Verdict: /, claim)
    assert.not.match(text, /the check failed/, claim)
  }
})

test.run()

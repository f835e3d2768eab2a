// npm run bench:ws [-- --rounds N --seconds S --idle 10000 --memory-rounds 3 --settle 30 --only small,plain]
//
// push-wire's WebSocket echo (GET /echo) against the `ws` package's echo, same client,
// same run, servers taking turns round after round:
//   - small messages: 32-byte text, 100 connections, 16 in flight each: messages/s
//   - large messages: 64 KiB binary, 10 connections, 4 in flight each: MB/s
//   each with and without permessage-deflate, and the server's CPU time per message;
//   - memory per idle connection: RSS growth of a fresh server over N idle connections
//     held by a client in another process, divided by N; both readings after a full GC
//     and once the server has settled (see idleMemory). Also the part of it that is the
//     JavaScript heap, and the same figure for a node:net floor (bench/ws-server.ts): the
//     least any server on node:net holds per idle client, hence the lowest ratio to ws
//     this machine allows. And push-wire as it starts by default, offering
//     permessage-deflate, to clients that offer it too, as browsers and the ws client do
//     (ws as it starts by default declines it: its figure is the same either way).
// Servers run on CPU 0 and the load on CPU 1 when there are two CPUs.

import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { cpuSeconds, format, median, PIN, table } from './lib.ts'

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '3' },
    idle: { type: 'string', default: '10000' },
    'memory-only': { type: 'boolean', default: false },
    settle: { type: 'string', default: '30' },
    'memory-rounds': { type: 'string', default: '3' },
    only: { type: 'string' },
  },
})
const rounds = Number(values.rounds)
const seconds = Number(values.seconds)
const idleConnections = Number(values.idle)
const settleMs = Number(values.settle) * 1000
const memoryRounds = Number(values['memory-rounds'])

type Kind = 'push-wire' | 'ws' | 'floor'
type Compression = 'plain' | 'deflate'

/** Per idle connection, or as read from the server: RSS and the JavaScript heap in use. */
interface Memory {
  rss: number
  heap: number
}

interface Server {
  kind: Kind
  child: ChildProcess
  port: number
  /** RSS and the JavaScript heap in use, after a full GC, as the server itself reads them. */
  memory(): Promise<Memory>
  stop(): Promise<void>
}

function pinned(cpu: string | undefined, args: string[]): [string, string[]] {
  return PIN && cpu ? ['taskset', ['-c', cpu, process.execPath, ...args]] : [process.execPath, args]
}

function lines(child: ChildProcess): AsyncIterator<string> {
  return createInterface({ input: child.stdout! })[Symbol.asyncIterator]()
}

async function startServer(kind: Kind, compression: Compression): Promise<Server> {
  const [command, args] = pinned(PIN?.server, ['--expose-gc', '--import', 'tsx', 'bench/ws-server.ts', kind, compression])
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] })
  const output = lines(child)
  const first = await output.next()
  const port = Number(/listening on http:\/\/[^:]+:(\d+)/.exec(String(first.value))?.[1])
  if (!port) throw new Error(`${kind} did not start: ${first.value}`)
  return {
    kind,
    child,
    port,
    async memory() {
      child.stdin!.write('measure\n')
      const line = await output.next()
      const [, rss, heap] = /^rss (\d+) heap (\d+)/.exec(String(line.value))!
      return { rss: Number(rss), heap: Number(heap) }
    },
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      }),
  }
}

interface LoadResult {
  messagesPerSecond: number
  megabytesPerSecond: number
  cpuUsPerMessage: number
}

async function load(server: Server, flags: string[]): Promise<LoadResult> {
  const [command, args] = pinned(PIN?.client, ['--import', 'tsx', 'bench/ws-load.ts', '--port', String(server.port), '--seconds', String(seconds), ...flags])
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  const output = lines(child)
  let before = 0
  for (let line = await output.next(); !line.done; line = await output.next()) {
    if (line.value === 'started') {
      before = cpuSeconds(server.child.pid!)
      continue
    }
    const result = JSON.parse(line.value) as { messages: number; messagesPerSecond: number; megabytesPerSecond: number }
    const cpu = cpuSeconds(server.child.pid!) - before
    return { messagesPerSecond: result.messagesPerSecond, megabytesPerSecond: result.megabytesPerSecond, cpuUsPerMessage: (cpu / result.messages) * 1e6 }
  }
  throw new Error('the load generator ended without a result')
}

async function idleMemory(kind: Kind, compression: Compression = 'plain'): Promise<Memory> {
  const server = await startServer(kind, compression)
  try {
    // Memory is read in the steady state: after the allocation burst of start-up (or of
    // 10,000 handshakes) V8 keeps a large young generation until its memory reducer, after
    // some idle seconds, gives it back. Both readings wait for that, for both servers.
    await new Promise((resolve) => setTimeout(resolve, settleMs))
    const before = await server.memory()
    const offer = compression === 'deflate' ? ['--offer-deflate'] : []
    const [command, args] = pinned(PIN?.client, ['--import', 'tsx', 'bench/ws-idle.ts', '--port', String(server.port), '--connections', String(idleConnections), ...offer])
    const client = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] })
    const opened = await lines(client).next()
    if (!String(opened.value).startsWith('open ')) throw new Error(`the idle client failed: ${opened.value}`)
    await new Promise((resolve) => setTimeout(resolve, settleMs))
    const after = await server.memory()
    client.stdin!.end()
    await new Promise((resolve) => client.once('exit', resolve))
    return { rss: (after.rss - before.rss) / idleConnections, heap: (after.heap - before.heap) / idleConnections }
  } finally {
    await server.stop()
  }
}

const scenarios = [
  { name: 'small: 32 B text, 100 connections', unit: 'msg/s', flags: ['--connections', '100', '--window', '16', '--size', '32'] },
  { name: 'large: 64 KiB binary, 10 connections', unit: 'MB/s', flags: ['--connections', '10', '--window', '4', '--size', '65536', '--binary'] },
]

console.log(`bench:ws: ${rounds} rounds of ${seconds} s per scenario and server; ${PIN ? `servers on CPU ${PIN.server}, load on CPU ${PIN.client}` : 'no CPU pinning'}`)
const rows: string[][] = []
const summary: string[] = []
// --only small|large|memory, optionally with plain|deflate (e.g. --only small,plain): one part.
const only = values.only?.split(',') ?? []
const wanted = (name: string) => only.length === 0 || only.includes(name)
const modes = (['plain', 'deflate'] as const).filter((mode) => !values['memory-only'] && (!only.some((o) => o === 'plain' || o === 'deflate') || only.includes(mode)))
for (const compression of modes) {
  const servers = [await startServer('push-wire', compression), await startServer('ws', compression)]
  try {
    for (const scenario of scenarios) {
      if (!wanted(scenario.name.split(':')[0])) continue
      const flags = compression === 'deflate' ? [...scenario.flags, '--deflate'] : scenario.flags
      for (const server of servers) await load(server, [...flags]) // warm-up round, not counted
      const samples = new Map<Server, LoadResult[]>(servers.map((s) => [s, []]))
      for (let round = 0; round < rounds; round++) {
        for (const server of round % 2 === 0 ? servers : [...servers].reverse()) samples.get(server)!.push(await load(server, flags))
      }
      const medians = servers.map((server) => {
        const list = samples.get(server)!
        const rate = median(list.map((r) => (scenario.unit === 'MB/s' ? r.megabytesPerSecond : r.messagesPerSecond)))
        return { server, rate, cpu: median(list.map((r) => r.cpuUsPerMessage)) }
      })
      const ratio = medians[0].rate / medians[1].rate
      for (const m of medians) {
        rows.push([`${scenario.name}, ${compression}`, m.server.kind, `${format(m.rate, scenario.unit === 'MB/s' ? 1 : 0)} ${scenario.unit}`, `${format(m.cpu, 1)} µs`, m.server.kind === 'push-wire' ? `${format(ratio, 2)}x` : ''])
      }
      summary.push(`${scenario.name}, ${compression}: ${format(ratio, 2)}x ws, CPU per message ${format(medians[0].cpu, 1)} vs ${format(medians[1].cpu, 1)} µs`)
    }
  } finally {
    await Promise.all(servers.map((s) => s.stop()))
  }
}

// Taking turns, like the throughput rounds; the median of each.
const memorySamples = { pushWire: [] as Memory[], ws: [] as Memory[], floor: [] as Memory[], pushWireDeflate: [] as Memory[] }
for (let round = 0; round < (wanted('memory') || values['memory-only'] ? memoryRounds : 0); round++) {
  memorySamples.pushWire.push(await idleMemory('push-wire'))
  memorySamples.ws.push(await idleMemory('ws'))
  memorySamples.floor.push(await idleMemory('floor'))
  memorySamples.pushWireDeflate.push(await idleMemory('push-wire', 'deflate'))
}
const memoryOf = (samples: Memory[]): Memory => ({ rss: median(samples.map((s) => s.rss)), heap: median(samples.map((s) => s.heap)) })
/** Each round's RSS figure, lowest to highest: how much one reading differs from the next. */
const spread = (samples: Memory[]): string => samples.map((s) => s.rss).sort((a, b) => a - b).map((rss) => format(rss)).join(' / ')
const memory = { pushWire: memoryOf(memorySamples.pushWire), ws: memoryOf(memorySamples.ws), floor: memoryOf(memorySamples.floor), pushWireDeflate: memoryOf(memorySamples.pushWireDeflate) }
if (memorySamples.ws.length > 0) {
  const label = `memory per idle connection (${idleConnections}, median of ${memoryRounds})`
  rows.push([label, 'push-wire', `${format(memory.pushWire.rss)} B`, '', `${format(memory.pushWire.rss / memory.ws.rss, 2)}x`])
  rows.push([label, 'ws', `${format(memory.ws.rss)} B`, '', ''])
  rows.push([label, 'node:net floor', `${format(memory.floor.rss)} B`, '', `${format(memory.floor.rss / memory.ws.rss, 2)}x`])
  rows.push([label, 'push-wire, deflate agreed', `${format(memory.pushWireDeflate.rss)} B`, '', `${format(memory.pushWireDeflate.rss / memory.ws.rss, 2)}x`])
  // The part of it that is JavaScript objects (the rest: each socket's native handle and
  // buffers, and the memory allocators' own slack, about the same for both servers).
  const heapLabel = `  of which JavaScript heap`
  rows.push([heapLabel, 'push-wire', `${format(memory.pushWire.heap)} B`, '', `${format(memory.pushWire.heap / memory.ws.heap, 2)}x`])
  rows.push([heapLabel, 'ws', `${format(memory.ws.heap)} B`, '', ''])
  rows.push([heapLabel, 'node:net floor', `${format(memory.floor.heap)} B`, '', `${format(memory.floor.heap / memory.ws.heap, 2)}x`])
  rows.push([heapLabel, 'push-wire, deflate agreed', `${format(memory.pushWireDeflate.heap)} B`, '', `${format(memory.pushWireDeflate.heap / memory.ws.heap, 2)}x`])
  summary.push(
    `memory per idle connection: ${format(memory.pushWire.rss)} B vs ${format(memory.ws.rss)} B (${format(memory.pushWire.rss / memory.ws.rss, 2)}x ws); ` +
      `JavaScript heap ${format(memory.pushWire.heap)} B vs ${format(memory.ws.heap)} B (${format(memory.pushWire.heap / memory.ws.heap, 2)}x); ` +
      `the node:net floor ${format(memory.floor.rss)} B (${format(memory.floor.rss / memory.ws.rss, 2)}x ws); ` +
      `push-wire with permessage-deflate agreed ${format(memory.pushWireDeflate.rss)} B (${format(memory.pushWireDeflate.rss / memory.ws.rss, 2)}x ws)`,
    `  each round's RSS figure: push-wire ${spread(memorySamples.pushWire)}; ws ${spread(memorySamples.ws)}; floor ${spread(memorySamples.floor)}; ` +
      `push-wire with deflate ${spread(memorySamples.pushWireDeflate)}`,
  )
}

console.log()
console.log(table(['scenario', 'server', 'throughput (median)', 'server CPU/message', 'ratio'], rows))
console.log()
for (const line of summary) console.log(line)

// npm run bench:http [-- --rounds N --seconds S --connections 10,50,200 --depth 16]
//
// GET /hello on push-wire and on node:http (bench/node-http-hello.ts), driven by wrk with
// keep-alive, at several connection counts and with pipelining, in one run. A third
// process, bench/net-floor.ts, answers with canned bytes and no HTTP at all: what node:net
// alone costs, hence the best ratio any server on it can reach here. The servers take
// turns, round after round, because this machine is shared and noisy: one 3-second sample
// of a server can be 25% off the next. The ratio is paired: each round's servers run a few
// seconds apart, under about the same load from the machine's other tenants, so the ratio
// of each round is taken, and the median of those (with their range) is printed.
// When there are two CPUs the servers are pinned to one and wrk to the other, so that
// each server is measured on a core of its own.
//
// Printed per scenario: requests/s, p99 latency, the server's CPU time per request
// (user + system, from /proc), and the ratio to node:http (push-wire's, and the floor's).

import { parseArgs } from 'node:util'
import { cpuSeconds, ensureCommand, format, median, PIN, startServer, table, wrk, type ServerProcess } from './lib.ts'

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '10,50,200' },
    depth: { type: 'string', default: '16' },
  },
})
const rounds = Number(values.rounds)
const seconds = Number(values.seconds)
const connectionCounts = values.connections!.split(',').map(Number)
const depth = Number(values.depth)
const script = new URL('./pipeline.lua', import.meta.url).pathname

ensureCommand('wrk', 'wrk')

const ours = await startServer('push-wire', ['--import', 'tsx', 'src/main.ts', '--port', '0'])
const reference = await startServer('node:http', ['--import', 'tsx', 'bench/node-http-hello.ts', '0'])
const floor = await startServer('node:net floor', ['--import', 'tsx', 'bench/net-floor.ts', '0'])
const servers = [ours, reference, floor]

interface Sample {
  rps: number
  p99: number
  cpuUs: number
  errors: number
}

function measure(server: ServerProcess, connections: number, extra: string[]): Sample {
  const before = cpuSeconds(server.child.pid!)
  const result = wrk(`${server.url}/hello`, connections, seconds, extra)
  const cpu = cpuSeconds(server.child.pid!) - before
  return { rps: result.requestsPerSecond, p99: result.p99Ms, cpuUs: (cpu / result.requests) * 1e6, errors: result.errors }
}

console.log(`bench:http: ${rounds} rounds of ${seconds} s per scenario and server; ${PIN ? `servers on CPU ${PIN.server}, wrk on CPU ${PIN.client}` : 'no CPU pinning'}`)
for (const server of servers) wrk(`${server.url}/hello`, 50, 2) // warm-up: JIT and socket buffers

const scenarios = [
  ...connectionCounts.map((c) => ({ name: `keep-alive, ${c} connections`, connections: c, extra: [] as string[] })),
  { name: `pipelined x${depth}, 50 connections`, connections: 50, extra: ['-s', script, '--', String(depth)] },
]

const rows: string[][] = []
const summary: string[] = []
try {
  for (const scenario of scenarios) {
    const samples = new Map<ServerProcess, Sample[]>(servers.map((s) => [s, []]))
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? servers : [...servers].reverse()
      for (const server of order) samples.get(server)!.push(measure(server, scenario.connections, scenario.extra))
    }
    const medians = new Map(
      servers.map((s) => {
        const list = samples.get(s)!
        return [s, { rps: median(list.map((x) => x.rps)), p99: median(list.map((x) => x.p99)), cpuUs: median(list.map((x) => x.cpuUs)), errors: list.reduce((n, x) => n + x.errors, 0) }]
      }),
    )
    const a = medians.get(ours)!
    const b = medians.get(reference)!
    /** A server's requests/s over node:http's, round by round, lowest first. */
    const roundRatios = (server: ServerProcess): number[] =>
      samples.get(server)!.map((sample, round) => sample.rps / samples.get(reference)![round].rps).sort((x, y) => x - y)
    const ratios = new Map(servers.map((s) => [s, roundRatios(s)]))
    const cpuRatio = median(samples.get(ours)!.map((sample, round) => samples.get(reference)![round].cpuUs / sample.cpuUs))
    for (const server of servers) {
      const m = medians.get(server)!
      rows.push([
        scenario.name,
        server.name,
        format(m.rps),
        // wrk does not time pipelined requests one by one; it prints 0 for them.
        m.p99 > 0 ? `${format(m.p99, 2)} ms` : 'n/a',
        `${format(m.cpuUs, 1)} µs`,
        String(m.errors),
        server === reference ? '' : `${format(median(ratios.get(server)!), 2)}x`,
      ])
    }
    const latency = a.p99 > 0 ? `, p99 ${format(a.p99, 2)} vs ${format(b.p99, 2)} ms` : ''
    const oursByRound = ratios.get(ours)!
    const floorByRound = ratios.get(floor)!
    summary.push(
      `${scenario.name}: ${format(median(oursByRound), 2)}x the requests/s of node:http (rounds ${format(oursByRound[0], 2)}-${format(oursByRound[oursByRound.length - 1], 2)}; ` +
        `the node:net floor: ${format(median(floorByRound), 2)}x), ${format(cpuRatio, 2)}x less CPU per request${latency}`,
    )
  }
} finally {
  await Promise.all(servers.map((s) => s.stop()))
}

console.log()
console.log(table(['scenario', 'server', 'req/s (median)', 'p99 (median)', 'server CPU/req', 'errors', 'ratio (paired)'], rows))
console.log()
for (const line of summary) console.log(line)

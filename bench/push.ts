// npm run bench:push [-- --subscribers 1000,10000 --burst 20 --steady 50]
//
// Fan-out, push-wire against a reference written the way tutorials do it (node:http for
// SSE and long polling, the ws package for WebSocket; bench/push-reference.ts), same
// routes, same client, same run:
//   - delivery capacity: messages published at once to N subscribers on /sse and /ws
//     (`burst`, or more to make at least 100,000 deliveries); deliveries per second until
//     the last one arrives, and the CPU time per delivery of the server and of the client
//     (when the client's is close to 1 / capacity, the client is the limit);
//   - latency at a steady rate: `steady` messages, ten a second; p50 and p99 from publish
//     to arrival, over every delivery;
//   - losses: ids a subscriber never got;
//   - 10,000 parked long polls woken by one publish: time until the last answer.
// Servers run on CPU 0, the subscribers' process on CPU 1 when there are two CPUs.

import { spawn, type ChildProcess } from 'node:child_process'
import { Agent, request } from 'node:http'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { cpuSeconds, format, PIN, table } from './lib.ts'

const { values } = parseArgs({
  options: {
    subscribers: { type: 'string', default: '1000,10000' },
    burst: { type: 'string', default: '20' },
    steady: { type: 'string', default: '50' },
    polls: { type: 'string', default: '10000' },
  },
})
const sizes = values.subscribers!.split(',').map(Number)
const burst = Number(values.burst)
const steady = Number(values.steady)
const pollCount = Number(values.polls)

type Kind = 'push-wire' | 'reference'

function spawnPinned(cpu: string | undefined, args: string[]): ChildProcess {
  const [command, argv] = PIN && cpu ? ['taskset', ['-c', cpu, process.execPath, ...args]] : [process.execPath, args]
  return spawn(command, argv, { stdio: ['pipe', 'pipe', 'inherit'] })
}

function lineReader(child: ChildProcess): () => Promise<string> {
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]()
  return async () => {
    const next = await lines.next()
    if (next.done) throw new Error('the process ended')
    return next.value
  }
}

interface Running {
  child: ChildProcess
  port: number
  stop(): Promise<void>
}

async function startServer(kind: Kind): Promise<Running> {
  const script = kind === 'push-wire' ? ['src/main.ts', '--port', '0'] : ['bench/push-reference.ts', '0']
  const child = spawnPinned(PIN?.server, ['--import', 'tsx', ...script])
  const line = await lineReader(child)()
  const port = Number(/:(\d+)$/.exec(line)?.[1])
  if (!port) throw new Error(`${kind} did not start: ${line}`)
  return { child, port, stop: () => stopProcess(child) }
}

function stopProcess(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve()
    child.once('exit', () => resolve())
    child.kill('SIGTERM')
    setTimeout(() => child.kill('SIGKILL'), 5000).unref()
  })
}

interface Report {
  deliveries: number
  lastArrival: number
  losses: number
  p50: number
  p99: number
  /** CPU the subscribers' process has used so far: it tells when the client, not the server, is the limit. */
  cpuSeconds: number
}

interface Subscribers {
  report(): Promise<Report>
  reset(): void
  stop(): Promise<void>
}

async function startSubscribers(port: number, mode: string, n: number): Promise<Subscribers> {
  const child = spawnPinned(PIN?.client, ['--import', 'tsx', 'bench/push-client.ts', '--port', String(port), '--mode', mode, '--subscribers', String(n)])
  const next = lineReader(child)
  const first = await next()
  if (first !== 'ready') throw new Error(`subscribers: ${first}`)
  return {
    async report() {
      child.stdin!.write('report\n')
      return JSON.parse(await next()) as Report
    },
    reset: () => void child.stdin!.write('reset\n'),
    stop: () => {
      child.stdin!.end()
      return stopProcess(child)
    },
  }
}

const agent = new Agent({ keepAlive: true, maxSockets: 8 })
const clock = () => performance.timeOrigin + performance.now()

function publish(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const body = `{"t":${clock().toFixed(3)}}`
    const req = request({ host: '127.0.0.1', port, path: '/publish/bench', method: 'POST', agent, headers: { 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      res.resume()
      res.on('end', () => resolve())
    })
    req.on('error', reject)
    req.end(body)
  })
}

async function until(subscribers: Subscribers, deliveries: number, what: string, timeoutMs = 60_000): Promise<Report> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const report = await subscribers.report()
    if (report.deliveries >= deliveries) return report
    if (Date.now() > deadline) {
      console.error(`${what}: ${report.deliveries} of ${deliveries} deliveries arrived in ${timeoutMs / 1000} s`)
      return report
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

interface FanOut {
  capacity: number
  cpuUsPerDelivery: number
  clientCpuUsPerDelivery: number
  p50: number
  p99: number
  losses: number
  complete: boolean
}

async function fanOut(kind: Kind, mode: 'sse' | 'ws', n: number): Promise<FanOut> {
  const server = await startServer(kind)
  const subscribers = await startSubscribers(server.port, mode, n)
  try {
    for (let i = 0; i < 3; i++) await publish(server.port) // warm-up
    await until(subscribers, 3 * n, `${kind} /${mode} warm-up`)

    // Capacity: a burst, all at once, of enough messages for at least 100,000 deliveries.
    const messages = Math.max(burst, Math.ceil(100_000 / n))
    subscribers.reset()
    const clientBefore = (await subscribers.report()).cpuSeconds
    const cpuBefore = cpuSeconds(server.child.pid!)
    const started = clock()
    await Promise.all(Array.from({ length: messages }, () => publish(server.port)))
    const burstReport = await until(subscribers, messages * n, `${kind} /${mode} burst`)
    const cpu = cpuSeconds(server.child.pid!) - cpuBefore
    const capacity = burstReport.deliveries / ((burstReport.lastArrival - started) / 1000)

    // Latency: a steady rate of ten a second.
    subscribers.reset()
    for (let i = 0; i < steady; i++) {
      await publish(server.port)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    const steadyReport = await until(subscribers, steady * n, `${kind} /${mode} steady`)
    return {
      capacity,
      cpuUsPerDelivery: (cpu / burstReport.deliveries) * 1e6,
      clientCpuUsPerDelivery: ((burstReport.cpuSeconds - clientBefore) / burstReport.deliveries) * 1e6,
      p50: steadyReport.p50,
      p99: steadyReport.p99,
      losses: burstReport.losses + steadyReport.losses,
      complete: burstReport.deliveries === messages * n && steadyReport.deliveries === steady * n,
    }
  } finally {
    await subscribers.stop()
    await server.stop()
  }
}

async function parkedPolls(kind: Kind): Promise<{ ms: number; answered: number }> {
  const server = await startServer(kind)
  const subscribers = await startSubscribers(server.port, 'longpoll', pollCount)
  try {
    const started = clock()
    await publish(server.port)
    const report = await until(subscribers, pollCount, `${kind} long polls`)
    return { ms: report.lastArrival - started, answered: report.deliveries }
  } finally {
    await subscribers.stop()
    await server.stop()
  }
}

console.log(`bench:push: bursts of ${burst}, ${steady} messages at 10/s; ${PIN ? `servers on CPU ${PIN.server}, subscribers on CPU ${PIN.client}` : 'no CPU pinning'}`)
const rows: string[][] = []
const summary: string[] = []
for (const mode of ['sse', 'ws'] as const) {
  for (const n of sizes) {
    const ours = await fanOut('push-wire', mode, n)
    const reference = await fanOut('reference', mode, n)
    for (const [kind, r] of [['push-wire', ours], ['reference', reference]] as const) {
      rows.push([
        `/${mode}, ${format(n)} subscribers`,
        kind,
        `${format(r.capacity)}/s`,
        `${format(r.cpuUsPerDelivery, 2)} µs`,
        `${format(r.clientCpuUsPerDelivery, 2)} µs`,
        `${format(r.p50, 1)} ms`,
        `${format(r.p99, 1)} ms`,
        `${r.losses}${r.complete ? '' : ' (incomplete)'}`,
        kind === 'push-wire' ? `${format(ours.capacity / reference.capacity, 2)}x` : '',
      ])
    }
    summary.push(`/${mode}, ${n} subscribers: ${format(ours.capacity / reference.capacity, 2)}x the delivery capacity, p99 ${format(ours.p99, 1)} vs ${format(reference.p99, 1)} ms, CPU per delivery ${format(ours.cpuUsPerDelivery, 2)} vs ${format(reference.cpuUsPerDelivery, 2)} µs`)
  }
}
const polls = { ours: await parkedPolls('push-wire'), reference: await parkedPolls('reference') }
rows.push([`${format(pollCount)} parked long polls, one publish`, 'push-wire', `all answered in ${format(polls.ours.ms, 1)} ms`, '', '', '', '', `${pollCount - polls.ours.answered}`, `${format(polls.reference.ms / polls.ours.ms, 2)}x sooner`])
rows.push([`${format(pollCount)} parked long polls, one publish`, 'reference', `all answered in ${format(polls.reference.ms, 1)} ms`, '', '', '', '', `${pollCount - polls.reference.answered}`, ''])
summary.push(`${pollCount} parked long polls: all answered in ${format(polls.ours.ms, 1)} vs ${format(polls.reference.ms, 1)} ms`)
agent.destroy()

console.log()
console.log(table(['scenario', 'server', 'delivery capacity', 'server CPU/delivery', 'client CPU/delivery', 'p50', 'p99', 'lost', 'ratio'], rows))
console.log()
for (const line of summary) console.log(line)

// The subscribers of bench:push, in a process of their own: N clients on one channel over
// SSE, WebSocket or long polling, on raw sockets with as little work per message as can
// be. Every message's data is {"t":T}, its publish time (performance.timeOrigin +
// performance.now(), comparable across processes on one machine), so the delay from
// publish to arrival is measured per delivery.
//
//   tsx bench/push-client.ts --port P --mode sse|ws|longpoll --subscribers N --channel C
//
// Prints "ready" once every subscriber is connected. On stdin: "reset" clears the counts,
// "report" prints them as one JSON line.

import { randomBytes } from 'node:crypto'
import { connect, type Socket } from 'node:net'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { FrameDecoder } from '../src/ws/frame.ts'

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    mode: { type: 'string', default: 'sse' },
    subscribers: { type: 'string', default: '1000' },
    channel: { type: 'string', default: 'bench' },
  },
})
const port = Number(values.port)
const mode = values.mode as 'sse' | 'ws' | 'longpoll'
const total = Number(values.subscribers)
const channel = values.channel!

const clock = () => performance.timeOrigin + performance.now()

let deliveries = 0
let lastArrival = 0
let latencies: number[] = []
/** Per subscriber: the id it expects next (0: none seen yet). Gaps in the ids are losses. */
const expected = new Int32Array(total)
let losses = 0

function received(subscriber: number, id: number, data: string): void {
  const now = clock()
  deliveries++
  lastArrival = now
  // {"t":T} as data, or inside an envelope with its quotes escaped (\"t\":T).
  const t = Number(/\\?"t\\?":([0-9.]+)/.exec(data)?.[1])
  if (t > 0) latencies.push(now - t)
  const want = expected[subscriber]
  if (want !== 0 && id !== want) losses += Math.max(0, id - want)
  expected[subscriber] = id + 1
}

function open(index: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('error', reject)
    if (mode === 'ws') {
      const key = randomBytes(16).toString('base64')
      socket.write(`GET /ws/${channel} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`)
    } else {
      const route = mode === 'sse' ? 'sse' : 'longpoll'
      socket.write(`GET /${route}/${channel}${mode === 'longpoll' ? '?timeout=120' : ''} HTTP/1.1\r\nHost: x\r\n\r\n`)
      // A long poll answers only when a message comes: it is in place once the request is sent.
      if (mode === 'longpoll') socket.once('connect', () => resolve(socket))
    }
    let head = ''
    let body = ''
    let decoder: FrameDecoder | null = null
    socket.on('data', (chunk: Buffer) => {
      if (decoder !== null) {
        decoder.feed(chunk)
        for (let e = decoder.next(); e.type === 'frame'; e = decoder.next()) {
          const text = e.data.toString()
          received(index, Number(/"id":(\d+)/.exec(text)![1]), text)
        }
        return
      }
      if (head !== null && !head.endsWith('\r\n\r\n')) {
        const text = chunk.toString('latin1')
        const end = (head + text).indexOf('\r\n\r\n')
        if (end === -1) {
          head += text
          return
        }
        const all = head + text
        head = all.slice(0, end + 4)
        const rest = chunk.subarray(chunk.length - (all.length - end - 4))
        if (mode === 'ws') {
          if (!head.startsWith('HTTP/1.1 101')) return reject(new Error(head))
          decoder = new FrameDecoder({ expectMasked: false, allowRsv1: false, maxPayload: 1 << 24 })
          resolve(socket)
          if (rest.length > 0) socket.emit('data', rest)
          return
        }
        resolve(socket)
        if (rest.length === 0) return
        chunk = rest
      }
      if (mode === 'longpoll') {
        body += chunk.toString()
        const match = /"id":(\d+),"data":"((?:[^"\\]|\\.)*)"/.exec(body)
        if (match) received(index, Number(match[1]), match[2].replace(/\\"/g, '"'))
        return
      }
      // SSE: events end with an empty line; chunk-size lines between them are not id: or data: lines.
      body += chunk.toString()
      let end: number
      while ((end = body.indexOf('\n\n')) !== -1) {
        const block = body.slice(0, end)
        body = body.slice(end + 2)
        const id = /(?:^|\n)id: (\d+)/.exec(block)
        const data = /(?:^|\n)data: (.*)/.exec(block)
        if (id && data) received(index, Number(id[1]), data[1])
      }
    })
  })
}

const sockets: Socket[] = []
for (let i = 0; i < total; i += 250) {
  const batch = Array.from({ length: Math.min(250, total - i) }, (_, k) => open(i + k))
  sockets.push(...(await Promise.all(batch)))
}
// Long polls: give the server a moment to read and park every request.
if (mode === 'longpoll') await new Promise((resolve) => setTimeout(resolve, 1500))
console.log('ready')

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'reset') {
    deliveries = 0
    lastArrival = 0
    latencies = []
    losses = 0
  } else if (line === 'report') {
    const sorted = Float64Array.from(latencies).sort()
    const list = Array.from(sorted)
    const cpu = process.cpuUsage()
    console.log(JSON.stringify({ deliveries, lastArrival, losses, p50: percentile(list, 50), p99: percentile(list, 99), max: list[list.length - 1] ?? NaN, cpuSeconds: (cpu.user + cpu.system) / 1e6 }))
  }
})
process.stdin.on('end', () => process.exit(0))

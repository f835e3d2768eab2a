// The load generator of bench:ws, run as its own process so that it can be pinned to
// another CPU than the server. Every connection keeps `window` messages in flight: each
// echo that comes back sends the next message. The message is one masked frame encoded
// once (and, with --deflate, compressed once: the client offers client_no_context_takeover),
// so the client costs little per message and the server is what is measured.
//
//   tsx bench/ws-load.ts --port P --connections N --window W --size BYTES [--binary] [--deflate] --seconds S
//
// Prints "started" after a one-second warm-up, then one JSON line with the counts.

import { randomBytes } from 'node:crypto'
import { connect, type Socket } from 'node:net'
import { parseArgs } from 'node:util'
import { deflateRawSync } from 'node:zlib'
import { encodeFrame, FrameDecoder, Opcode } from '../src/ws/frame.ts'

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    connections: { type: 'string', default: '50' },
    window: { type: 'string', default: '8' },
    size: { type: 'string', default: '32' },
    binary: { type: 'boolean', default: false },
    deflate: { type: 'boolean', default: false },
    seconds: { type: 'string', default: '3' },
  },
})
const port = Number(values.port)
const connections = Number(values.connections)
const window = Number(values.window)
const size = Number(values.size)
const seconds = Number(values.seconds)

/** Text that compresses the way JSON does: repeated keys, varying values. */
export function sampleMessage(bytes: number): Buffer {
  const words = ['channel', 'price', 'id', 'update', 'quote', 'symbol', 'volume', 'time', 'bid', 'ask']
  let text = ''
  let n = 1
  while (text.length < bytes) {
    text += `{"${words[n % 10]}":${(n * 7919) % 100003},"${words[(n * 3) % 10]}":"${words[(n * 7) % 10]}${n % 97}"},`
    n++
  }
  return Buffer.from(text.slice(0, bytes))
}

const payload = sampleMessage(size)
const opcode = values.binary ? Opcode.BINARY : Opcode.TEXT
const compressed = values.deflate && size >= 1024
const wire = compressed ? deflateRawSync(payload).subarray(0, -4) : payload
// One frame for every send: masked with a fixed key (the server unmasks its own copy).
const frame = encodeFrame(opcode, wire, { rsv1: compressed, mask: randomBytes(4) })

let echoed = 0
let counting = false
let bytesEchoed = 0

function open(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    socket.setNoDelay(true)
    const key = randomBytes(16).toString('base64')
    const extensions = values.deflate ? 'Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; client_max_window_bits\r\n' : ''
    socket.write(`GET /echo HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extensions}\r\n`)
    let head = Buffer.alloc(0)
    const onHead = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk])
      const end = head.indexOf('\r\n\r\n')
      if (end === -1) return
      if (!head.subarray(0, 12).toString().startsWith('HTTP/1.1 101')) return reject(new Error(`no upgrade: ${head.toString()}`))
      socket.off('data', onHead)
      const decoder = new FrameDecoder({ expectMasked: false, allowRsv1: true, maxPayload: 64 * 1024 * 1024 })
      socket.on('data', (data: Buffer) => {
        decoder.feed(data)
        for (let event = decoder.next(); event.type === 'frame'; event = decoder.next()) {
          if (!event.last || !event.fin) continue
          if (counting) {
            echoed++
            bytesEchoed += size
          }
          socket.write(frame)
        }
      })
      resolve(socket)
    }
    socket.on('data', onHead)
    socket.once('error', reject)
  })
}

const sockets: Socket[] = []
for (let i = 0; i < connections; i += 50) {
  sockets.push(...(await Promise.all(Array.from({ length: Math.min(50, connections - i) }, open))))
}
for (const socket of sockets) for (let i = 0; i < window; i++) socket.write(frame)

await new Promise((resolve) => setTimeout(resolve, 1000)) // warm-up
counting = true
console.log('started')
const started = process.hrtime.bigint()
await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
counting = false
const elapsed = Number(process.hrtime.bigint() - started) / 1e9
console.log(JSON.stringify({ messages: echoed, messagesPerSecond: echoed / elapsed, megabytesPerSecond: bytesEchoed / elapsed / 1e6, seconds: elapsed }))
for (const socket of sockets) socket.destroy()
process.exit(0)

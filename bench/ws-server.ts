// A WebSocket echo server for bench:ws, either push-wire's GET /echo or the `ws`
// package's, started as its own process:
//
//   node --expose-gc --import tsx bench/ws-server.ts push-wire|ws|floor deflate|plain
//
// "floor" is for the memory figure only: not a WebSocket server, the least one on node:net
// holds per idle client. It answers the handshake with a canned 101 (the accept key is the
// only thing computed, with push-wire's own SHA-1, which allocates nothing outside the
// JavaScript heap) and then keeps the socket with two shared listeners: no parser, no
// session, no list of connections, no ping. What it costs per connection is what Node's
// socket costs (the net.Socket and its stream states, the native handle); no server on
// node:net holds an idle client for less.
//
// It prints "listening on http://127.0.0.1:PORT". On stdin, the line "measure" makes it
// collect garbage and print "rss BYTES heap BYTES": memory is read the same way for both.

import { createInterface } from 'node:readline'
import { createServer, type Socket } from 'node:net'
import { WebSocketServer } from 'ws'
import { defaultOptions } from '../src/options.ts'
import { createPushServer } from '../src/server.ts'
import { acceptKey } from '../src/ws/handshake.ts'

const [kind, compression] = process.argv.slice(2)
const deflate = compression === 'deflate'
let port: number
let stop: () => Promise<void>

if (kind === 'push-wire') {
  const options = { ...defaultOptions(), port: 0, deflate }
  const { listener } = createPushServer(options)
  port = (await listener.listen(0, '127.0.0.1')).port
  stop = () => listener.close(500)
} else if (kind === 'ws') {
  // The echo as its documentation shows it; compression with ws's own defaults (threshold 1 KiB).
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: deflate, maxPayload: 16 * 1024 * 1024 })
  server.on('connection', (socket) => {
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }))
  })
  await new Promise<void>((resolve) => server.once('listening', () => resolve()))
  port = (server.address() as { port: number }).port
  stop = () => new Promise((resolve) => {
    for (const client of server.clients) client.terminate()
    server.close(() => resolve())
  })
} else if (kind === 'floor') {
  const server = createServer({ noDelay: true }, (socket) => {
    socket.once('data', answerHandshake)
    socket.on('error', ignore)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  port = (server.address() as { port: number }).port
  stop = () => new Promise((resolve) => server.close(() => resolve()))
} else {
  throw new Error('usage: ws-server.ts push-wire|ws|floor deflate|plain')
}

/** The floor's whole handshake: the key from the request (sent in one piece by bench/ws-idle.ts), a canned 101. */
function answerHandshake(this: Socket, request: Buffer): void {
  const key = /\r\nSec-WebSocket-Key: *([^\r]*)\r\n/i.exec(request.toString('latin1'))?.[1]
  if (key === undefined) return void this.destroy()
  this.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\n\r\n`, 'latin1')
  this.on('data', ignore)
}

function ignore(): void {}

console.log(`listening on http://127.0.0.1:${port}`)
const gc = (globalThis as { gc?: () => void }).gc
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() !== 'measure') return
  gc?.()
  gc?.()
  const { rss, heapUsed } = process.memoryUsage()
  console.log(`rss ${rss} heap ${heapUsed}`)
})
process.on('SIGTERM', () => void stop().then(() => process.exit(0)))

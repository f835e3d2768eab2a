// A WebSocket echo server for bench:ws, either push-wire's GET /echo or the `ws`
// package's, started as its own process:
//
//   node --expose-gc --import tsx bench/ws-server.ts push-wire|ws deflate|plain
//
// It prints "listening on http://127.0.0.1:PORT". On stdin, the line "measure" makes it
// collect garbage and print "rss BYTES heap BYTES": memory is read the same way for both.

import { createInterface } from 'node:readline'
import { WebSocketServer } from 'ws'
import { defaultOptions } from '../src/options.ts'
import { createPushServer } from '../src/server.ts'

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
} else {
  throw new Error('usage: ws-server.ts push-wire|ws deflate|plain')
}

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

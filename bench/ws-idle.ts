// Opens N idle WebSocket connections to /echo and holds them, for bench:ws's memory
// figure. Like any live client it answers the server's pings (push-wire drops peers that
// do not). Prints "open N" once all are open; exits when stdin closes. With --offer-deflate
// each handshake offers permessage-deflate as browsers and the ws client do.
//
//   tsx bench/ws-idle.ts --port P --connections N [--offer-deflate]

import { randomBytes } from 'node:crypto'
import { connect, type Socket } from 'node:net'
import { parseArgs } from 'node:util'
import { encodeFrame, FrameDecoder, Opcode } from '../src/ws/frame.ts'

const { values } = parseArgs({ options: { port: { type: 'string' }, connections: { type: 'string', default: '10000' }, 'offer-deflate': { type: 'boolean', default: false } } })
const extensions = values['offer-deflate'] ? 'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n' : ''
const port = Number(values.port)
const total = Number(values.connections)

function open(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    const key = randomBytes(16).toString('base64')
    socket.write(`GET /echo HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extensions}\r\n`)
    let head = ''
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1')
      if (!head.includes('\r\n\r\n')) return
      socket.off('data', onData)
      if (!head.startsWith('HTTP/1.1 101')) return reject(new Error(`no upgrade: ${head}`))
      const decoder = new FrameDecoder({ expectMasked: false, allowRsv1: false, maxPayload: 1 << 20 })
      socket.on('data', (data: Buffer) => {
        decoder.feed(data)
        for (let event = decoder.next(); event.type === 'frame'; event = decoder.next()) {
          if (event.opcode === Opcode.PING) socket.write(encodeFrame(Opcode.PONG, event.data, { mask: randomBytes(4) }))
        }
      })
      resolve(socket)
    }
    socket.on('data', onData)
    socket.once('error', reject)
  })
}

const sockets: Socket[] = []
for (let i = 0; i < total; i += 200) {
  sockets.push(...(await Promise.all(Array.from({ length: Math.min(200, total - i) }, open))))
}
console.log(`open ${sockets.length}`)
process.stdin.resume()
process.stdin.on('end', () => process.exit(0))

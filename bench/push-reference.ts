// The reference for bench:push: the same routes, written the way most tutorials write
// them: node:http, an array of open SSE responses and one of parked long polls, and the
// `ws` package's WebSocketServer, each message serialized and sent client by client.
//
//   node --import tsx bench/push-reference.ts [port]

import { createServer, type ServerResponse } from 'node:http'
import { WebSocketServer, type WebSocket } from 'ws'

interface Channel {
  nextId: number
  sse: ServerResponse[]
  polls: ServerResponse[]
  sockets: Set<WebSocket>
}

const channels = new Map<string, Channel>()
function channel(name: string): Channel {
  let found = channels.get(name)
  if (!found) {
    found = { nextId: 1, sse: [], polls: [], sockets: new Set() }
    channels.set(name, found)
  }
  return found
}

function publish(name: string, data: string): number {
  const ch = channel(name)
  const id = ch.nextId++
  const message = { id, data }
  for (const res of ch.sse) res.write(`id: ${id}\ndata: ${data}\n\n`)
  for (const res of ch.polls) {
    res.writeHead(200, { 'Content-Type': 'application/json' })
    res.end(JSON.stringify({ messages: [message], last: id }))
  }
  ch.polls = []
  for (const socket of ch.sockets) socket.send(JSON.stringify(message))
  return id
}

const server = createServer((req, res) => {
  const [, route, name] = (req.url ?? '').split('?')[0].split('/')
  if (req.method === 'POST' && route === 'publish') {
    let body = ''
    req.on('data', (chunk) => (body += chunk))
    req.on('end', () => {
      const id = publish(name, body)
      res.writeHead(200, { 'Content-Type': 'application/json' })
      res.end(JSON.stringify({ id }))
    })
    return
  }
  if (req.method === 'GET' && route === 'sse') {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' })
    res.write('retry: 3000\n\n')
    const ch = channel(name)
    ch.sse.push(res)
    req.on('close', () => (ch.sse = ch.sse.filter((r) => r !== res)))
    return
  }
  if (req.method === 'GET' && route === 'longpoll') {
    const ch = channel(name)
    ch.polls.push(res)
    req.on('close', () => (ch.polls = ch.polls.filter((r) => r !== res)))
    return
  }
  res.writeHead(404)
  res.end()
})
server.keepAliveTimeout = 120_000
server.headersTimeout = 125_000
server.requestTimeout = 0

const wss = new WebSocketServer({ noServer: true })
server.on('upgrade', (req, socket, head) => {
  const [, route, name] = (req.url ?? '').split('?')[0].split('/')
  if (route !== 'ws') return socket.destroy()
  wss.handleUpgrade(req, socket, head, (ws) => {
    const ch = channel(name)
    ch.sockets.add(ws)
    ws.on('message', (data) => publish(name, data.toString()))
    ws.on('close', () => ch.sockets.delete(ws))
  })
})

server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  const address = server.address()
  if (address && typeof address === 'object') console.log(`listening on http://127.0.0.1:${address.port}`)
})
process.on('SIGTERM', () => process.exit(0))

// The floor for bench:http: not a web server, only the least any server on node:net does
// for a GET /hello. Each read is answered with one canned response per request head in it
// (it counts blank lines, parses nothing, routes nothing, dates nothing). What this costs
// per request is what node:net itself costs; no HTTP server on node:net can be cheaper, so
// its requests/s over node:http's is the highest ratio this machine allows.

import { createServer, type Socket } from 'node:net'

const RESPONSE = 'HTTP/1.1 200 OK\r\nDate: Sat, 21 Nov 2026 00:00:00 GMT\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world'
const HEAD_END = Buffer.from('\r\n\r\n')

function answer(this: Socket, chunk: Buffer): void {
  let heads = 0
  for (let at = chunk.indexOf(HEAD_END); at !== -1; at = chunk.indexOf(HEAD_END, at + 4)) heads++
  this.write(heads === 1 ? RESPONSE : RESPONSE.repeat(heads), 'latin1')
}

function ignore(): void {}

const server = createServer({ noDelay: true }, (socket) => {
  socket.on('data', answer)
  socket.on('error', ignore)
})
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  const address = server.address()
  if (address && typeof address === 'object') console.log(`listening on http://127.0.0.1:${address.port}`)
})
process.on('SIGTERM', () => server.close(() => process.exit(0)))

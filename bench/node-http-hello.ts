// The reference for bench:http: GET /hello on node:http, written the usual way,
// answering exactly what push-wire answers (same headers, same body).

import { createServer } from 'node:http'

const port = Number(process.argv[2] ?? 0)
const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/hello') {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '11' })
    res.end('hello world')
  } else {
    res.writeHead(404, { 'Content-Length': '0' })
    res.end()
  }
})
server.keepAliveTimeout = 60_000
server.listen(port, '127.0.0.1', () => {
  const address = server.address()
  if (address && typeof address === 'object') console.log(`listening on http://127.0.0.1:${address.port}`)
})
process.on('SIGTERM', () => server.close(() => process.exit(0)))

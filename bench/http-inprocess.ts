// npm run bench:http:inprocess
//
// What our own code costs per request, without sockets or the kernel: the parser, the
// router and the response writer serving GET /hello into a sink that only counts bytes.
// bench:http measures the whole server; this isolates the part we wrote.

import { RequestParser } from '../src/http/parser.ts'
import { IncomingRequest } from '../src/http/request.ts'
import { Response, type ResponseSink } from '../src/http/response.ts'
import { Router } from '../src/http/router.ts'

const router = new Router()
router.get('/hello', (_req, res) => res.send(200, 'hello world', 'text/plain'))
router.post('/echo', () => {})
router.get('/poll/:channel', () => {})

let bytesOut = 0
const sink: ResponseSink = {
  write: (data) => ((bytesOut += data.length), true),
  finished: () => {},
  closing: false,
  drained: () => Promise.resolve(),
  queuedBytes: 0,
  batchThisTurn: () => {},
}
const owner = { bodyWanted: () => {}, takeOver: () => {} }

function serve(parser: RequestParser, bytes: Buffer): void {
  parser.feed(bytes)
  for (let event = parser.next(); event.type !== 'need-data'; event = parser.next()) {
    if (event.type === 'head') void router.handle(new IncomingRequest(event, owner), new Response(sink, event))
  }
}

function run(name: string, bytes: Buffer, requestsPerFeed: number): void {
  const parser = new RequestParser()
  const feeds = 200_000 / requestsPerFeed
  for (let i = 0; i < feeds; i++) serve(parser, bytes) // warm-up
  let best = Infinity
  for (let round = 0; round < 8; round++) {
    const start = process.hrtime.bigint()
    for (let i = 0; i < feeds; i++) serve(parser, bytes)
    best = Math.min(best, Number(process.hrtime.bigint() - start) / (feeds * requestsPerFeed))
  }
  console.log(`${name.padEnd(34)} ${best.toFixed(0).padStart(6)} ns per request (best of 8 rounds)`)
}

const request = 'GET /hello HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n'
run('one request per read', Buffer.from(request), 1)
run('16 pipelined requests per read', Buffer.from(request.repeat(16)), 16)
if (bytesOut === 0) throw new Error('nothing was written')

// Transcripts of docs/01-http.md: HTTP/1.1 at the byte level.

import { fileURLToPath } from 'node:url'
import type { Scenario } from '../transcripts.ts'

const HOST = 'Host: 127.0.0.1:8080\r\n'

export const scenarios: Record<string, Scenario> = {
  /** The smallest exchange: one request, one fixed-length response. */
  'http-hello': async (t) => {
    const c = await t.connect()
    c.send(`GET /hello HTTP/1.1\r\n${HOST}\r\n`)
    await c.response()
    t.note(`${c.bytesSent} bytes up, ${c.bytesReceived} bytes down, for 11 bytes of content`)
  },

  /** Keep-alive and pipelining: two requests in one write, answered in order on one connection. */
  'http-keep-alive': async (t) => {
    const c = await t.connect()
    c.send(`GET /hello HTTP/1.1\r\n${HOST}\r\n`)
    await c.response()
    t.note('same connection: HTTP/1.1 keeps it open unless a side says Connection: close')
    c.send(`POST /echo HTTP/1.1\r\n${HOST}Content-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello`)
    await c.response()
    await c.closed()
  },

  /** Pipelining: three requests in one write; the answers come back in the same order. */
  'http-pipelining': async (t) => {
    const c = await t.connect()
    c.send(`GET /hello HTTP/1.1\r\n${HOST}\r\nPOST /echo HTTP/1.1\r\n${HOST}Content-Length: 3\r\n\r\nabcHEAD /hello HTTP/1.1\r\n${HOST}\r\n`, 'raw')
    await c.response()
    await c.response()
    await c.response({ head: true })
  },

  /** Slowloris: a head that never ends gets 408 once the head timeout passes. */
  'http-slowloris': {
    options: { headerTimeoutMs: 300 },
    run: async (t) => {
      const c = await t.connect()
      c.send(`GET /hello HTTP/1.1\r\n${HOST}`)
      t.note('... and nothing more: the head timeout (10 s by default, 300 ms here) runs out')
      await c.response()
      await c.closed()
    },
  },

  /** A conditional GET of a static file: the validators, then 304 with no body. */
  // A sample folder of its own, so the transcript does not change whenever a demo page does.
  'http-static-304': {
    options: { publicDir: fileURLToPath(new URL('../sample-public', import.meta.url)) },
    run: async (t) => {
      const c = await t.connect()
      c.send(`GET /note.txt HTTP/1.1\r\n${HOST}\r\n`)
      const page = await c.response()
      const etag = page.headers.get('etag') ?? ''
      t.note('the browser keeps the ETag and asks again with If-None-Match')
      c.send(`GET /note.txt HTTP/1.1\r\n${HOST}If-None-Match: ${etag}\r\n\r\n`)
      await c.response()
    },
  },

  /** A chunked request body: the server reads chunk by chunk and answers with a Content-Length. */
  'http-chunked-request': async (t) => {
    const c = await t.connect()
    c.send(`POST /echo HTTP/1.1\r\n${HOST}Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n`)
    await c.response()
  },

  /** HEAD: the same head as GET, no body. */
  'http-head': async (t) => {
    const c = await t.connect()
    c.send(`HEAD /hello HTTP/1.1\r\n${HOST}\r\n`)
    await c.response({ head: true })
  },

  /** Expect: 100-continue: the server says go before the client sends the body. */
  'http-100-continue': async (t) => {
    const c = await t.connect()
    c.send(`POST /echo HTTP/1.1\r\n${HOST}Content-Type: text/plain\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n`)
    await c.head()
    c.send('hi', 'raw')
    await c.response()
  },

  /** Errors: each malformed request gets its own status, then the connection closes. */
  'http-bad-requests': async (t) => {
    const cases: [string, string][] = [
      ['a bare LF as line end', `GET /hello HTTP/1.1\n${HOST}\n`],
      ['no Host on HTTP/1.1', 'GET /hello HTTP/1.1\r\n\r\n'],
      ['Content-Length and Transfer-Encoding together (request smuggling)', `POST /echo HTTP/1.1\r\n${HOST}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n`],
      ['HTTP/2.0 in an HTTP/1 request line', `GET /hello HTTP/2.0\r\n${HOST}\r\n`],
      ['an unknown transfer coding', `POST /echo HTTP/1.1\r\n${HOST}Transfer-Encoding: gzip, chunked\r\n\r\n`],
    ]
    for (const [what, request] of cases) {
      t.note(what)
      const c = await t.connect()
      c.send(request)
      await c.response()
      await c.closed()
    }
  },

  /** The router's answers: 404 whatever the method, 405 with Allow, 501 for an unknown method. */
  'http-router': async (t) => {
    const c = await t.connect()
    c.send(`DELETE /hello HTTP/1.1\r\n${HOST}\r\n`)
    await c.response()
    c.send(`GET /nowhere HTTP/1.1\r\n${HOST}\r\n`)
    await c.response()
    c.send(`BREW /hello HTTP/1.1\r\n${HOST}\r\n`)
    await c.response()
  },
}

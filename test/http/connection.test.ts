// The connection loop and the listener on real sockets: a real server on an ephemeral
// port, raw node:net clients that send exactly the bytes written here, and strict reading
// of what comes back (test/helpers/raw-client.ts). Keep-alive and close (RFC 9112 §9.3,
// §9.6), pipelining (§9.3.2), smuggling (§6.3, §11.2), every limit of CONTRACT.md,
// Expect: 100-continue (RFC 9110 §10.1.1), HEAD, backpressure, the upgrade hand-off,
// shutdown, and running out of file descriptors.
//
// Limits are small and timeouts short where a test is about them, long elsewhere. Tests
// wait for events with generous deadlines and never assert on how long something took.

import { spawn, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { ServerOptions } from '../../src/options.ts'
import { RawClient, tryConnect } from '../helpers/raw-client.ts'
import { withServer, type LiveServer } from '../helpers/server.ts'
import { makeStaticTree } from '../helpers/tree.ts'
import { deferred, delay, settled, until, within } from '../helpers/wait.ts'
import { field, IMF_FIXDATE, type WireResponse } from '../helpers/wire.ts'

const tree = makeStaticTree()
process.once('exit', () => tree.remove())

/** Small limits, reached with little traffic; timeouts long unless a test is about one. */
const SMALL: Partial<ServerOptions> = {
  publicDir: tree.publicDir,
  maxRequestLineBytes: 256,
  maxHeaderBytes: 1024,
  maxHeaderFields: 16,
  maxBodyBytes: 64 * 1024,
  headerTimeoutMs: 10_000,
  bodyTimeoutMs: 10_000,
  idleTimeoutMs: 10_000,
}

function serve(overrides: Partial<ServerOptions>, run: (server: LiveServer) => Promise<void>): Promise<void> {
  return withServer({ ...SMALL, ...overrides }, run)
}

// ---- requests, as the bytes a client sends

function GET(path: string, ...fields: string[]): string {
  return `GET ${path} HTTP/1.1\r\nHost: test\r\n${lines(fields)}\r\n`
}

function HEAD(path: string, ...fields: string[]): string {
  return `HEAD ${path} HTTP/1.1\r\nHost: test\r\n${lines(fields)}\r\n`
}

function POST(path: string, body: string, ...fields: string[]): string {
  return `POST ${path} HTTP/1.1\r\nHost: test\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body, 'latin1')}\r\n${lines(fields)}\r\n${body}`
}

/** A POST whose body is sent chunked, one chunk per piece. */
function POST_CHUNKED(path: string, pieces: string[], ...fields: string[]): string {
  const chunks = pieces.map((p) => `${Buffer.byteLength(p, 'latin1').toString(16)}\r\n${p}\r\n`).join('')
  return `POST ${path} HTTP/1.1\r\nHost: test\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n${lines(fields)}\r\n${chunks}0\r\n\r\n`
}

function lines(fields: string[]): string {
  return fields.map((f) => `${f}\r\n`).join('')
}

// ---- reading responses: every one is checked for what all responses must have

/** CONTRACT.md: every response carries Date (RFC 9110 §6.6.1); an error says what is wrong, in text. */
function wellFormed(response: WireResponse): WireResponse {
  assert.match(field(response, 'date') ?? '(none)', IMF_FIXDATE, `the ${response.status} response carries a Date`)
  if (response.status >= 400) {
    const text = response.body.toString('utf8')
    assert.is(field(response, 'content-type'), 'text/plain; charset=utf-8', `the ${response.status} response is text`)
    assert.ok(text.startsWith(`${response.status} ${response.reason}: `) && text.length > `${response.status} ${response.reason}: `.length + 10, `the ${response.status} body names the problem: ${JSON.stringify(text)}`)
  }
  return response
}

async function next(client: RawClient, count: number): Promise<WireResponse[]> {
  return (await client.next(count)).map(wellFormed)
}

async function nextOne(client: RawClient): Promise<WireResponse> {
  return wellFormed(await client.nextOne())
}

/** A response with this status whose text body contains `phrase`. */
function assertError(response: WireResponse, status: number, phrase: string): void {
  assert.is(response.status, status, `status (body: ${JSON.stringify(response.body.toString())})`)
  assert.ok(response.body.toString().includes(phrase), `the body names the problem: ${JSON.stringify(response.body.toString())} should contain ${JSON.stringify(phrase)}`)
}

/** The response closed the connection: it said so, the server closed, and nothing else came. */
async function assertClosedAfter(client: RawClient, response: WireResponse): Promise<void> {
  assert.is(field(response, 'connection'), 'close', 'the response says Connection: close')
  await client.serverClosed()
  assert.is(client.reader.rest.length, 0, `nothing after the response: ${JSON.stringify(client.reader.rest.toString('latin1'))}`)
}

function hello(response: WireResponse): void {
  assert.is(response.status, 200)
  assert.is(response.body.toString(), 'hello world')
}

function echoed(response: WireResponse, body: string): void {
  assert.is(response.status, 200)
  assert.is(response.body.toString('latin1'), body)
  assert.is(field(response, 'content-length'), String(Buffer.byteLength(body, 'latin1')))
}

// ---- keep-alive and close (RFC 9112 §9.3, §9.6)

const keepAlive = suite('keep-alive and close')

keepAlive('several requests one after the other are served on one connection', () =>
  serve({}, async (server) => {
    const client = await server.connect()
    client.write(GET('/hello'))
    const first = await nextOne(client)
    hello(first)
    assert.is(field(first, 'connection'), undefined, 'HTTP/1.1 is persistent without saying so')
    client.write(POST('/echo', 'one body'))
    echoed(await nextOne(client), 'one body')
    client.write(GET('/not-here'))
    assert.is((await nextOne(client)).status, 404)
    client.write(POST_CHUNKED('/echo', ['two ', 'body']))
    echoed(await nextOne(client), 'two body')
    client.write(GET('/hello'))
    hello(await nextOne(client))
    assert.not.ok(client.ended, 'the connection is still open')
    assert.is(server.accepted.length, 1, 'one TCP connection carried them all')
  }),
)

keepAlive('an HTTP/1.0 request without keep-alive gets Connection: close and the server closes', () =>
  serve({}, async (server) => {
    const client = await server.connect()
    client.write('GET /hello HTTP/1.0\r\n\r\n')
    const response = await nextOne(client)
    hello(response)
    await assertClosedAfter(client, response)
  }),
)

keepAlive('an HTTP/1.0 request with Connection: keep-alive gets Connection: keep-alive and the connection stays open', () =>
  serve({}, async (server) => {
    const client = await server.connect()
    client.write('GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n')
    const first = await nextOne(client)
    hello(first)
    assert.is(field(first, 'connection'), 'keep-alive')
    client.write('POST /echo HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\nagain')
    const second = await nextOne(client)
    echoed(second, 'again')
    assert.is(field(second, 'connection'), 'keep-alive')
    assert.not.ok(client.ended, 'still open')
    // The last one without keep-alive: answered, then closed.
    client.write('GET /hello HTTP/1.0\r\n\r\n')
    const last = await nextOne(client)
    hello(last)
    await assertClosedAfter(client, last)
  }),
)

keepAlive('Connection: close on HTTP/1.1 closes the connection after the response', () =>
  serve({}, async (server) => {
    const client = await server.connect()
    client.write(POST('/echo', 'last words', 'Connection: close'))
    const response = await nextOne(client)
    echoed(response, 'last words')
    await assertClosedAfter(client, response)
  }),
)

keepAlive.run()

// ---- pipelining (RFC 9112 §9.3.2)

const pipelining = suite('pipelining')

pipelining('twenty requests in one write come back in order with the right bodies', () =>
  serve({}, async (server) => {
    const requests: string[] = []
    const expected: ((r: WireResponse) => void)[] = []
    const heads: number[] = []
    for (let i = 0; i < 20; i++) {
      switch (i % 5) {
        case 0:
          requests.push(GET('/hello'))
          expected.push(hello)
          break
        case 1:
          requests.push(POST('/echo', `body number ${i}`))
          expected.push((r) => echoed(r, `body number ${i}`))
          break
        case 2:
          requests.push(HEAD('/hello'))
          heads.push(i)
          expected.push((r) => {
            assert.is(r.status, 200)
            assert.is(field(r, 'content-length'), '11')
            assert.is(r.body.length, 0)
          })
          break
        case 3:
          requests.push(GET(`/missing-${i}`))
          expected.push((r) => assertError(r, 404, `/missing-${i}`))
          break
        case 4:
          requests.push(POST_CHUNKED('/echo', [`chunked `, `number ${i}`]))
          expected.push((r) => echoed(r, `chunked number ${i}`))
          break
      }
    }
    const client = await server.connect()
    client.expectHead(...heads)
    client.write(requests.join(''))
    const responses = await next(client, 20)
    responses.forEach((response, i) => expected[i](response))
    await delay(50) // give a wrong extra response the chance to show
    assert.is(client.reader.rest.length, 0, 'no bytes beyond the twenty responses')
    assert.is(client.responses.length, 20)
    assert.not.ok(client.ended, 'the connection stays open')
  }),
)

pipelining('a pipeline split at every byte boundary, or sent byte by byte, is answered the same', () =>
  serve({}, async (server) => {
    const pipeline = GET('/hello') + POST_CHUNKED('/echo', ['ab', 'c'], 'X-Note: split') + HEAD('/hello') + POST('/echo', 'xyz')
    const check = (responses: WireResponse[], how: string) => {
      assert.is(responses.length, 4, how)
      hello(responses[0])
      echoed(responses[1], 'abc')
      assert.is(responses[2].status, 200, how)
      assert.is(field(responses[2], 'content-length'), '11', how)
      assert.is(responses[2].body.length, 0, how)
      echoed(responses[3], 'xyz')
    }
    const splitAt = async (at: number) => {
      const client = await server.connect()
      client.expectHead(2)
      await client.send(pipeline.slice(0, at))
      await delay(3) // lets the first part arrive on its own
      await client.send(pipeline.slice(at))
      check(await next(client, 4), `split at ${at}`)
      client.destroy()
    }
    const boundaries = Array.from({ length: pipeline.length - 1 }, (_, i) => i + 1)
    for (let i = 0; i < boundaries.length; i += 25) await Promise.all(boundaries.slice(i, i + 25).map(splitAt))

    const client = await server.connect()
    client.expectHead(2)
    await client.sendSlowly(pipeline, 1, 1)
    check(await next(client, 4), 'byte by byte')
  }),
)

pipelining("pipelined requests followed by the client's FIN are all answered before the server closes", () =>
  serve({}, async (server) => {
    const client = await server.connect()
    client.expectHead(3)
    client.write(GET('/hello') + POST('/echo', 'first') + GET('/nowhere') + HEAD('/hello') + POST_CHUNKED('/echo', ['la', 'st']))
    client.end() // half-close: we have sent everything, and still read
    const responses = await next(client, 5)
    hello(responses[0])
    echoed(responses[1], 'first')
    assert.is(responses[2].status, 404)
    assert.is(responses[3].status, 200)
    assert.is(responses[3].body.length, 0)
    echoed(responses[4], 'last')
    await client.serverClosed()
    assert.ok(client.ended, 'the server closed with a FIN, not a reset')
    assert.is(client.error, null)
    assert.is(client.reader.rest.length, 0)
  }),
)

pipelining('a malformed request in a pipeline is answered 400 after the ones before it, and nothing after it is processed', () =>
  serve({}, async (server) => {
    const client = await server.connect()
    client.write(GET('/hello') + POST('/echo', 'before the bad one') + 'GET /x HTTP/1.1\r\nHost: test\r\nno-colon-here\r\n\r\n' + POST('/echo', 'NEVER-ECHOED') + GET('/hello'))
    const responses = await next(client, 3)
    hello(responses[0])
    echoed(responses[1], 'before the bad one')
    assertError(responses[2], 400, 'needs a colon')
    await assertClosedAfter(client, responses[2])
    assert.is(client.responses.length, 3)
    assert.not.ok(client.text.includes('NEVER-ECHOED'), 'the request after the bad one was not served')
  }),
)

pipelining.run()

// ---- request smuggling (RFC 9112 §6.3, §11.2): refused with 400, and the connection closes

const smuggling = suite('smuggling attempts')

/** A request that, if a server read it as a second request, would show in the answer. */
const SMUGGLED = 'POST /echo HTTP/1.1\r\nHost: test\r\nContent-Type: text/plain\r\nContent-Length: 8\r\n\r\nSMUGGLED'

const SMUGGLING: [name: string, bytes: string, phrase: string][] = [
  [
    'Content-Length followed by Transfer-Encoding',
    `POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    'Content-Length and Transfer-Encoding together',
  ],
  [
    'Transfer-Encoding followed by Content-Length',
    `POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\nContent-Length: ${5 + SMUGGLED.length}\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    'Content-Length and Transfer-Encoding together',
  ],
  [
    'two different Content-Length fields',
    `POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: ${SMUGGLED.length}\r\nContent-Length: 0\r\n\r\n${SMUGGLED}`,
    'two different Content-Length values',
  ],
  [
    'Transfer-Encoding: chunked, identity',
    `POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    'chunked must be the last transfer coding',
  ],
  [
    'Transfer-Encoding in an HTTP/1.0 request',
    `POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    'Transfer-Encoding is not defined for HTTP/1.0',
  ],
  ['bare LF line ends', `POST /echo HTTP/1.1\nHost: test\nContent-Length: 0\n\n${SMUGGLED}`, 'LF alone'],
  ['a bare LF after one field line', `POST /echo HTTP/1.1\r\nHost: test\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`, 'LF alone'],
  [
    'an obs-folded field line',
    `POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\nX-Folded: a\r\n Transfer-Encoding: chunked\r\n\r\n${SMUGGLED}`,
    'obsolete line folding',
  ],
  [
    'whitespace between a field name and its colon',
    `POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: ${5 + SMUGGLED.length}\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    'no whitespace is allowed between a field name and the colon',
  ],
]

for (const [name, bytes, phrase] of SMUGGLING) {
  smuggling(`a request with ${name} gets 400, the connection closes, and the smuggled request is never served`, () =>
    serve({}, async (server) => {
      const client = await server.connect()
      client.write(bytes)
      const response = await nextOne(client)
      assertError(response, 400, phrase)
      await assertClosedAfter(client, response)
      assert.is(client.responses.length, 1, 'one response only')
      assert.not.ok(client.text.includes('SMUGGLED'), 'the smuggled request was not read as a request')
    }),
  )
}

smuggling.run()

// ---- the limits of CONTRACT.md, with small values

const limits = suite('limits')

limits('a request-target over the request-line limit gets 414', () =>
  serve({}, async (server) => {
    const client = await server.connect()
    client.write(GET(`/${'a'.repeat(400)}`))
    const response = await nextOne(client)
    assertError(response, 414, 'request-target is longer than the 256-byte request line limit')
    await assertClosedAfter(client, response)
  }),
)

limits('a method over the request-line limit gets 400', () =>
  serve({}, async (server) => {
    const client = await server.connect()
    client.write(`${'M'.repeat(400)} / HTTP/1.1\r\nHost: test\r\n\r\n`)
    const response = await nextOne(client)
    assertError(response, 400, 'the request line is longer than 256 bytes')
    await assertClosedAfter(client, response)
  }),
)

limits('a header section over the byte limit gets 431', () =>
  serve({}, async (server) => {
    const client = await server.connect()
    client.write(GET('/hello', `X-Big: ${'b'.repeat(1100)}`))
    const response = await nextOne(client)
    assertError(response, 431, 'header section is larger than 1024 bytes')
    await assertClosedAfter(client, response)
  }),
)

limits('more header fields than the limit gets 431', () =>
  serve({}, async (server) => {
    const client = await server.connect()
    client.write(GET('/hello', ...Array.from({ length: 20 }, (_, i) => `X-Field-${i}: ${i}`)))
    const response = await nextOne(client)
    assertError(response, 431, 'more than 16 field lines')
    await assertClosedAfter(client, response)
  }),
)

limits('a Content-Length over the body limit gets 413 before any of the body is sent', () =>
  serve({}, async (server) => {
    const client = await server.connect()
    client.write(`POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: ${64 * 1024 + 1}\r\n\r\n`) // and no body
    const response = await nextOne(client)
    assertError(response, 413, 'the body is larger than 65536 bytes')
    await assertClosedAfter(client, response)
  }),
)

limits('a chunked body that grows past the body limit gets 413', () =>
  serve({ maxBodyBytes: 1024 }, async (server) => {
    const client = await server.connect()
    const chunk = `190\r\n${'c'.repeat(400)}\r\n`
    client.write(`POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n${chunk}${chunk}`)
    await delay(20)
    assert.is(client.receivedLength, 0, 'nothing is answered while the body is within the limit')
    client.write(chunk + chunk)
    const response = await nextOne(client)
    assertError(response, 413, 'the body is larger than 1024 bytes')
    await assertClosedAfter(client, response)
  }),
)

limits('a request head sent too slowly, byte by byte, gets 408 and the connection closes', () =>
  serve({ headerTimeoutMs: 300 }, async (server) => {
    const client = await server.connect()
    // Slowloris: every byte arrives well within any idle limit, the head never completes.
    const sending = client.sendSlowly(`GET /hello HTTP/1.1\r\nHost: test\r\nX-Slow: ${'s'.repeat(900)}`, 1, 15)
    const response = await nextOne(client)
    assertError(response, 408, 'the request head did not arrive within 300 ms')
    await assertClosedAfter(client, response)
    await within(sending, 'the slow sender to stop')
    assert.ok(server.accepted[0].bytesRead > 1, 'the head came in pieces')
  }),
)

limits('a request body that does not arrive in time gets 408 and the connection closes', () =>
  serve({ bodyTimeoutMs: 300 }, async (server) => {
    const client = await server.connect()
    client.write('POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\n\r\nabc')
    const response = await nextOne(client)
    assertError(response, 408, 'the request body did not arrive within 300 ms')
    await assertClosedAfter(client, response)
  }),
)

limits('an idle keep-alive connection is closed by the server without a word', () =>
  serve({ idleTimeoutMs: 300 }, async (server) => {
    const served = await server.connect()
    served.write(GET('/hello'))
    hello(await nextOne(served))
    const silent = await server.connect() // never sends a byte
    await served.serverClosed()
    await silent.serverClosed()
    assert.is(served.responses.length, 1)
    assert.is(served.reader.rest.length, 0, 'nothing after the response')
    assert.is(silent.receivedLength, 0, 'nothing sent to a connection that never asked')
  }),
)

limits('past the connection limit a new connection gets 503 and is closed; after one leaves, a new one is served', () =>
  serve({ maxConnections: 3 }, async (server) => {
    const clients: RawClient[] = []
    for (let i = 0; i < 3; i++) {
      const client = await server.connect()
      client.write(GET('/hello'))
      hello(await nextOne(client))
      clients.push(client)
    }
    const fourth = await server.connect()
    const refused = await nextOne(fourth)
    assertError(refused, 503, 'connection limit')
    await assertClosedAfter(fourth, refused)
    for (const client of clients) assert.not.ok(client.ended, 'the three first stay open')

    clients[0].destroy()
    await until(() => server.listener.connectionCount < 3, 'the server to let go of the closed connection')
    const fifth = await server.connect()
    fifth.write(GET('/hello'))
    hello(await nextOne(fifth))
  }),
)

limits.run()

// ---- Expect: 100-continue (RFC 9110 §10.1.1, §15.2.1)

const expect = suite('Expect: 100-continue')

expect('POST /echo gets 100 Continue before the body is sent, then 200 with the echoed body', () =>
  serve({}, async (server) => {
    const client = await server.connect()
    client.write('POST /echo HTTP/1.1\r\nHost: test\r\nContent-Type: text/plain\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n')
    await client.waitFor(() => client.reader.interim.length === 1, 'the 100 Continue')
    // An interim response: the status line and the Date, nothing else (RFC 9110 §15.2.1, §6.6.1).
    assert.match(client.text, /^HTTP\/1\.1 100 Continue\r\nDate: [A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT\r\n\r\n$/)
    client.write('hello there')
    const response = await nextOne(client)
    echoed(response, 'hello there')
    assert.is(field(response, 'connection'), undefined, 'the connection goes on')
    client.write(GET('/hello'))
    hello(await nextOne(client))
  }),
)

expect('a Content-Length over the limit with Expect: 100-continue gets 413 at once, without 100', () =>
  serve({}, async (server) => {
    const client = await server.connect()
    client.write(`POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: ${1024 * 1024}\r\nExpect: 100-continue\r\n\r\n`)
    const response = await nextOne(client)
    assertError(response, 413, 'the body is larger than')
    assert.is(client.reader.interim.length, 0, 'no 100 Continue')
    assert.ok(client.text.startsWith('HTTP/1.1 413 '))
    await assertClosedAfter(client, response)
  }),
)

expect('a request with Expect: 100-continue answered before its body was asked for closes the connection', () =>
  serve({}, async (server) => {
    // The client may still be waiting to send its body, or may send it at any time:
    // the connection cannot carry another request.
    for (const request of [
      'POST /nowhere HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n',
      'GET /hello HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n',
    ]) {
      const client = await server.connect()
      client.write(request)
      const response = await nextOne(client)
      assert.ok(response.status === 404 || response.status === 200, request)
      assert.is(client.reader.interim.length, 0, 'no 100 Continue')
      await assertClosedAfter(client, response)
    }
  }),
)

expect.run()

// ---- HEAD and request bodies

const bodies = suite('HEAD and request bodies')

bodies('HEAD /hello has Content-Length 11 and no body, and the next pipelined response follows right after', () =>
  serve({}, async (server) => {
    const client = await server.connect()
    client.expectHead(0)
    client.write(HEAD('/hello') + GET('/hello'))
    const [head, get] = await next(client, 2)
    assert.is(head.status, 200)
    assert.is(field(head, 'content-length'), '11')
    assert.is(field(head, 'content-type'), field(get, 'content-type'))
    assert.is(head.body.length, 0)
    hello(get)
    assert.is(client.text, head.raw.toString('latin1') + get.raw.toString('latin1'), 'the second response starts right after the first head')
  }),
)

bodies('HEAD on a static file gives its length and type without the body', () =>
  serve({}, async (server) => {
    const client = await server.connect()
    client.expectHead(0, 2)
    client.write(HEAD('/hello.txt') + GET('/hello.txt') + HEAD('/big.bin') + GET('/hello'))
    const [head, get, bigHead, after] = await next(client, 4)
    assert.is(head.status, 200)
    assert.is(field(head, 'content-length'), String(tree.files['hello.txt'].length))
    assert.is(field(head, 'content-type'), 'text/plain; charset=utf-8')
    assert.is(field(head, 'etag'), field(get, 'etag'))
    assert.is(head.body.length, 0)
    assert.equal(get.body, tree.files['hello.txt'])
    assert.is(bigHead.status, 200)
    assert.is(field(bigHead, 'content-length'), String(1024 * 1024))
    assert.is(bigHead.body.length, 0)
    hello(after)
    assert.is(client.reader.rest.length, 0)
  }),
)

bodies('a chunked POST /echo with extensions and trailers is echoed de-chunked, with a Content-Length', () =>
  serve({}, async (server) => {
    const client = await server.connect()
    client.write(
      'POST /echo HTTP/1.1\r\nHost: test\r\nContent-Type: text/x-test\r\nTransfer-Encoding: chunked\r\n\r\n' +
        '5;name=value\r\nhello\r\n6;quoted="a b";flag\r\n world\r\n0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n' +
        GET('/hello'),
    )
    const [echo, after] = await next(client, 2)
    echoed(echo, 'hello world')
    assert.is(field(echo, 'content-type'), 'text/x-test')
    assert.is(field(echo, 'transfer-encoding'), undefined)
    hello(after)
  }),
)

bodies.run()

// ---- backpressure: a client that does not read stops the server from reading

const backpressure = suite('backpressure')

backpressure('a client that pipelines big echoes without reading makes the server stop reading; then every response arrives intact and in order', () =>
  serve({ maxBodyBytes: 1024 * 1024 }, async (server) => {
    const COUNT = 48
    const SIZE = 512 * 1024
    const client = await server.connect()
    client.pauseReading()
    const sent: Buffer[] = []
    let total = 0
    let refusedWrite = false
    for (let i = 0; i < COUNT; i++) {
      const body = Buffer.alloc(SIZE, 0x61 + (i % 26))
      body.write(`<${i}>`, 0, 'latin1')
      sent.push(body)
      const head = `POST /echo HTTP/1.1\r\nHost: test\r\nContent-Type: application/octet-stream\r\nContent-Length: ${SIZE}\r\n\r\n`
      total += head.length + SIZE
      if (!client.write(head)) refusedWrite = true
      if (!client.write(body)) refusedWrite = true
    }
    assert.ok(refusedWrite, "the client's socket said its buffer was full")

    const serverSide = server.accepted[0]
    const read = await settled(() => serverSide.bytesRead, 'the bytes the server has read')
    assert.ok(serverSide.isPaused(), 'the server stopped reading its socket')
    assert.ok(read < total, `the server read ${read} of the ${total} bytes sent`)
    assert.ok(client.socket.writableLength > 0, `the rest waits in the client (${client.socket.writableLength} bytes)`)
    assert.ok(serverSide.writableLength <= SIZE + 4096, `the server holds at most one response unsent (${serverSide.writableLength} bytes)`)
    assert.ok(serverSide.readableLength <= 256 * 1024, `the server's socket buffers little input (${serverSide.readableLength} bytes)`)

    client.resumeReading()
    const responses = await next(client, COUNT)
    responses.forEach((response, i) => {
      assert.is(response.status, 200)
      assert.ok(response.body.equals(sent[i]), `response ${i} echoes body ${i} (it starts ${JSON.stringify(response.body.subarray(0, 8).toString('latin1'))})`)
    })
    assert.is(client.reader.rest.length, 0)
    assert.not.ok(client.ended, 'the connection is still open')
  }),
)

backpressure('pipelined GETs of a 1 MiB file to a client that reads late all arrive intact', () =>
  serve({}, async (server) => {
    const COUNT = 8
    const client = await server.connect()
    client.pauseReading()
    client.write(GET('/big.bin').repeat(COUNT))
    const serverSide = server.accepted[0]
    await until(() => serverSide.writableNeedDrain, 'the server to fill its socket')
    await settled(() => serverSide.bytesWritten, 'the bytes the server has written')
    assert.ok(serverSide.bytesWritten < COUNT * 1024 * 1024, 'the server waits for the client before writing everything')
    client.resumeReading()
    const responses = await next(client, COUNT)
    for (const response of responses) {
      assert.is(response.status, 200)
      assert.ok(response.body.equals(tree.files['big.bin']), 'the file arrives intact')
    }
    assert.not.ok(client.ended)
  }),
)

backpressure('a client that stops reading in the middle of a response is disconnected after the idle timeout', () =>
  serve({ idleTimeoutMs: 300 }, async (server) => {
    // A response larger than what the kernel buffers, written as the socket drains.
    const SIZE = 64 * 1024 * 1024
    const piece = Buffer.alloc(64 * 1024, 0x2e)
    let waiting = false
    server.router.get('/huge', async (_req, res) => {
      res.startBody(SIZE)
      for (let sent = 0; sent < SIZE && !res.aborted; sent += piece.length) {
        if (!res.write(piece)) {
          waiting = true
          await res.drained()
          waiting = false
        }
      }
      res.end()
    })
    const client = await server.connect()
    client.pauseReading()
    client.write(GET('/huge'))
    const serverSide = server.accepted[0]
    await until(() => waiting, 'the response to wait for the client')
    // idleTimeoutMs: "while the client does not read what we wrote. Past it: closed."
    await until(() => serverSide.destroyed, 'the server to give up on the client')
    await until(() => server.listener.connectionCount === 0, 'the listener to forget the connection')
    client.resumeReading()
    await client.fullyClosed()
    assert.ok(client.receivedLength < SIZE, 'the response was cut short')
    assert.is(client.responses.length, 0)
  }),
)

backpressure.run()

// ---- Upgrade (RFC 9110 §7.8): the hand-off of the socket, or a plain answer

const upgrade = suite('upgrade')

upgrade('a takeover gets the bytes that came with the Upgrade head, then the later ones, and writes raw bytes back', () =>
  serve({}, async (server) => {
    let handedRest: Buffer | null = null
    const later: Buffer[] = []
    server.router.get('/raw', (req, res) => {
      if (!req.head.upgrade) return res.send(426, 'upgrade required\n')
      req.takeOver((socket, rest) => {
        handedRest = rest
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: raw\r\n\r\nrest:${rest.toString('latin1')};`)
        socket.on('data', (chunk: Buffer) => {
          later.push(chunk)
          socket.write(`got:${chunk.toString('latin1')};`)
        })
        socket.resume()
      })
    })
    const client = await server.connect()
    client.write('GET /raw HTTP/1.1\r\nHost: test\r\nConnection: Upgrade\r\nUpgrade: raw\r\n\r\nFIRST BYTES\r\n\r\nNOT HTTP')
    await client.waitFor(() => client.reader.tail.includes('rest:'), 'the 101 and the raw bytes')
    assert.is(client.responses[0].status, 101)
    assert.equal(handedRest, Buffer.from('FIRST BYTES\r\n\r\nNOT HTTP'), 'exactly the bytes after the head')
    await client.waitFor(() => client.reader.tail.toString('latin1').includes('rest:FIRST BYTES\r\n\r\nNOT HTTP;'), 'the raw echo of rest')
    client.write('LATER')
    await client.waitFor(() => client.reader.tail.toString('latin1').endsWith('got:LATER;'), 'the raw echo of the later bytes')
    assert.is(Buffer.concat(later).toString('latin1'), 'LATER')
    assert.is(server.listener.connectionCount, 1, 'the upgraded socket still counts against the limit')
  }),
)

upgrade('a takeover registered after the handler awaited something still gets the socket and every byte after the head', () =>
  serve({}, async (server) => {
    const gate = deferred()
    let handedRest: Buffer | null = null
    server.router.get('/raw', async (req) => {
      await gate.promise // an asynchronous check before accepting the upgrade
      req.takeOver((socket, rest) => {
        handedRest = rest
        socket.end(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: raw\r\n\r\nrest:${rest.toString('latin1')};`)
      })
    })
    const client = await server.connect()
    client.write('GET /raw HTTP/1.1\r\nHost: test\r\nConnection: Upgrade\r\nUpgrade: raw\r\n\r\nWITH THE HEAD ')
    await delay(20)
    client.write('AND LATER')
    await delay(20)
    gate.resolve()
    await client.waitFor(() => client.reader.tail.toString('latin1').endsWith(';'), 'the 101 and the raw bytes')
    assert.is(client.responses[0].status, 101)
    assert.equal(handedRest, Buffer.from('WITH THE HEAD AND LATER'))
  }),
)

upgrade('an Upgrade request to a route that does not take over is answered as plain HTTP, and the pipeline goes on', () =>
  serve({}, async (server) => {
    const client = await server.connect()
    client.write(GET('/hello', 'Connection: Upgrade', 'Upgrade: raw') + GET('/hello') + POST('/echo', 'still HTTP'))
    const responses = await next(client, 3)
    hello(responses[0])
    assert.is(field(responses[0], 'upgrade'), undefined)
    hello(responses[1])
    echoed(responses[2], 'still HTTP')
    assert.not.ok(client.ended)
  }),
)

upgrade.run()

// ---- methods and targets (RFC 9110 §9, §15.5, §15.6)

const methods = suite('methods and paths')

methods('CONNECT gets 501 and the connection closes', () =>
  serve({}, async (server) => {
    const client = await server.connect()
    client.write('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n')
    const response = await nextOne(client)
    assertError(response, 501, 'not a proxy')
    await assertClosedAfter(client, response)
  }),
)

methods('OPTIONS * gets 204 with Allow', () =>
  serve({}, async (server) => {
    const client = await server.connect()
    client.write('OPTIONS * HTTP/1.1\r\nHost: test\r\n\r\n' + GET('/hello'))
    const [options, after] = await next(client, 2)
    assert.is(options.status, 204)
    const allow = (field(options, 'allow') ?? '').split(/,\s*/)
    for (const method of ['GET', 'HEAD', 'OPTIONS', 'POST']) assert.ok(allow.includes(method), `Allow lists ${method}: ${allow}`)
    assert.is(options.body.length, 0)
    assert.is(field(options, 'content-length'), undefined, 'a 204 has no Content-Length')
    hello(after)
  }),
)

methods('an unknown method gets 501, a method the route does not take 405 with Allow, an unknown path 404, and the connection goes on', () =>
  serve({}, async (server) => {
    const client = await server.connect()
    client.write(
      'BREW /hello HTTP/1.1\r\nHost: test\r\n\r\n' +
        'DELETE /hello HTTP/1.1\r\nHost: test\r\n\r\n' +
        'PUT /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 3\r\n\r\nabc' +
        GET('/no/such/thing') +
        POST('/no/such/thing', 'ignored') +
        GET('/hello'),
    )
    const [brew, del, put, get404, post404, after] = await next(client, 6)
    assertError(brew, 501, 'BREW is not implemented')
    assertError(del, 405, 'DELETE is not allowed here')
    assert.is(field(del, 'allow'), 'GET, HEAD, OPTIONS')
    assertError(put, 405, 'PUT is not allowed here')
    assert.is(field(put, 'allow'), 'POST, GET, HEAD, OPTIONS') // POST /echo, and GET /echo for WebSocket
    assertError(get404, 404, 'nothing is served at /no/such/thing')
    assertError(post404, 404, 'nothing is served at /no/such/thing')
    hello(after)
    assert.not.ok(client.ended)
  }),
)

methods('every response carries a Date and every error a text body naming the problem', () =>
  serve({}, async (server) => {
    // wellFormed() checks each response read in this file; here, one of each kind at least.
    const cases: [request: string, status: number][] = [
      [GET('/hello'), 200],
      ['OPTIONS * HTTP/1.1\r\nHost: test\r\n\r\n', 204],
      [GET('/hello.txt', 'If-None-Match: *'), 304],
      [GET('/sub'), 301],
      [GET('/nope'), 404],
      ['DELETE /hello HTTP/1.1\r\nHost: test\r\n\r\n', 405],
      ['GET /hello HTTP/1.1\r\n\r\n', 400],
      [`POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: ${1 << 20}\r\n\r\n`, 413],
      [GET(`/${'u'.repeat(300)}`), 414],
      [GET('/hello', 'Expect: something-else'), 417],
      [GET('/hello', `X-Big: ${'b'.repeat(2000)}`), 431],
      ['BREW /hello HTTP/1.1\r\nHost: test\r\n\r\n', 501],
      ['GET /hello HTTP/2.0\r\nHost: test\r\n\r\n', 505],
    ]
    for (const [request, status] of cases) {
      const client = await server.connect()
      client.write(request)
      const response = await nextOne(client)
      assert.is(response.status, status, JSON.stringify(request.slice(0, 60)))
      client.destroy()
    }
  }),
)

methods.run()

// ---- shutdown

const shutdown = suite('shutdown')

shutdown('close() completes the response in flight with Connection: close, closes idle connections, refuses new ones, and resolves', () =>
  serve({}, async (server) => {
    const started = deferred()
    const release = deferred()
    server.router.get('/slow', async (_req, res) => {
      started.resolve()
      await release.promise
      res.send(200, 'slow answer')
    })
    const idle = await server.connect()
    idle.write(GET('/hello'))
    hello(await nextOne(idle))
    const busy = await server.connect()
    busy.write(GET('/slow'))
    await within(started.promise, 'the slow handler to start')

    const closed = server.listener.close(5000)
    await idle.serverClosed()
    assert.is(idle.responses.length, 1)
    assert.is(idle.reader.rest.length, 0, 'the idle connection is closed without a word')
    assert.is(await tryConnect(server.port), 'ECONNREFUSED', 'new connections are refused')
    assert.not.ok(busy.ended, 'the busy connection waits for its response')

    release.resolve()
    const response = await nextOne(busy)
    assert.is(response.body.toString(), 'slow answer')
    await assertClosedAfter(busy, response)
    await within(closed, 'close() to resolve')
  }),
)

shutdown.run()

// ---- running out of file descriptors: the server in a child process with a tiny limit

const descriptors = suite('file descriptors')

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const FD_LIMIT = 64

descriptors('a server out of file descriptors stays up, closes what it cannot accept, and serves again once clients leave', async () => {
  const serverArgs = ['--import', 'tsx', 'src/main.ts', '--port', '0', '--max-connections', '100000']
  const hasPrlimit = spawnSync('prlimit', ['--version']).status === 0
  const child = hasPrlimit
    ? spawn('prlimit', [`--nofile=${FD_LIMIT}:${FD_LIMIT}`, process.execPath, ...serverArgs], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn('sh', ['-c', `ulimit -n ${FD_LIMIT} && exec "$0" "$@"`, process.execPath, ...serverArgs], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const clients: RawClient[] = []
  try {
    await until(() => /http:\/\/[^\s]+:\d+/.test(stdout) || child.exitCode !== null, 'the child server to print its address', 20_000)
    const match = /http:\/\/[^\s]+:(\d+)/.exec(stdout)
    assert.ok(match, `the child server listens (stdout ${JSON.stringify(stdout)}, stderr ${JSON.stringify(stderr)})`)
    const port = Number(match[1])

    // The kernel completes every handshake (the backlog); the server cannot accept them all.
    for (let i = 0; i < 100; i++) clients.push(await RawClient.connect(port))
    for (const client of clients) client.write(GET('/hello'))
    await Promise.all(clients.map((c) => c.waitFor(() => c.responses.length > 0 || c.ended || c.closed, 'an answer or a close', 10_000, 'wait')))
    const served = clients.filter((c) => c.responses.length > 0)
    const dropped = clients.filter((c) => c.responses.length === 0)
    assert.ok(dropped.length > 0, 'some connections could not be accepted (the limit was reached)')
    assert.ok(served.length > 0, 'the connections accepted were served')
    for (const client of served) hello(client.responses[0])
    assert.is(child.exitCode, null, `the server is still running (stderr ${JSON.stringify(stderr)})`)

    for (const client of clients) client.destroy()
    // Once the server has let go of the closed connections, it accepts and serves again.
    let answer: WireResponse | undefined
    const deadline = Date.now() + 10_000
    while (answer === undefined) {
      assert.ok(Date.now() < deadline, 'the server serves again within 10 s of the clients leaving')
      const client = await RawClient.connect(port)
      clients.push(client)
      client.write(GET('/hello'))
      await client.waitFor(() => client.responses.length > 0 || client.ended || client.closed, 'an answer or a close', 10_000, 'wait')
      answer = client.responses[0]
      client.destroy()
      if (answer === undefined) await delay(50)
    }
    hello(answer)
    assert.is(child.exitCode, null, 'the server is still running')
    // Anything logged is about accepting, never a crash or a handler failure.
    for (const line of stderr.split('\n').filter((l) => l !== '')) assert.match(line, /^push-wire: accept failed/, 'stderr')
  } finally {
    for (const client of clients) client.destroy()
    child.kill('SIGKILL')
    await within(exited, 'the child server to exit')
  }
})

descriptors.run()

// The response writer against a fake sink: the exact bytes of each kind of response,
// framing (Content-Length, chunked, close-delimited), bodiless statuses, the Connection
// field, response splitting, and the abort listeners.

import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { HttpError } from '../../src/http/errors.ts'
import { formatHttpDate, httpDate, type Response } from '../../src/http/response.ts'
import { fakeResponse, type FakeSink } from '../helpers/fake-sink.ts'
import { IMF_FIXDATE } from '../helpers/wire.ts'

const GET = 'GET / HTTP/1.1\r\nHost: h\r\n\r\n'
const HEAD = 'HEAD / HTTP/1.1\r\nHost: h\r\n\r\n'
const GET_10 = 'GET / HTTP/1.0\r\n\r\n'
const GET_10_KEEP_ALIVE = 'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'
const GET_CLOSE = 'GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n'

/**
 * Checks that the sink holds exactly `expected` (latin1, with `DATE` standing for the Date
 * field's value) and that the Date sent is an IMF-fixdate of the current time.
 */
function assertBytes(sink: FakeSink, expected: string | Buffer, before: number): void {
  const text = sink.text
  const date = /\r\nDate: ([^\r\n]*)\r\n/.exec(text)?.[1]
  assert.ok(date !== undefined, `a Date field in ${JSON.stringify(text.slice(0, 200))}`)
  assert.match(date!, IMF_FIXDATE)
  const sent = Date.parse(date!)
  // The value moves on by a timer at the end of each second: until that timer has run (a
  // test that has not yielded to the event loop), it may still name the second before.
  assert.ok(sent >= Math.floor(before / 1000) * 1000 - 1000 && sent <= Date.now(), `Date ${date} is the current second, or the one before`)
  const want = typeof expected === 'string' ? Buffer.from(expected.replace('DATE', date!), 'latin1') : Buffer.from(expected.toString('latin1').replace('DATE', date!), 'latin1')
  assert.is(text, want.toString('latin1'))
  assert.equal(sink.bytes, want)
}

function finishedOnce(sink: FakeSink, res: Response): void {
  assert.is(sink.finishedResponses.length, 1, 'finished() is called once')
  assert.is(sink.finishedResponses[0], res)
  assert.ok(res.ended)
  assert.ok(res.headersSent)
}

// ---- complete responses

const fixed = suite('end(): a complete response with Content-Length')

fixed('sends the status line, Date, the fields in order, Content-Length, and an ASCII string body', () => {
  const before = Date.now()
  const { res, sink } = fakeResponse(GET)
  res.setHeader('Content-Type', 'text/plain').setHeader('X-Two', 2)
  res.end('hello world')
  assertBytes(sink, 'HTTP/1.1 200 OK\r\nDate: DATE\r\nContent-Type: text/plain\r\nX-Two: 2\r\nContent-Length: 11\r\n\r\nhello world', before)
  finishedOnce(sink, res)
  assert.is(res.keepAlive, true)
})

fixed('counts a non-ASCII string body in UTF-8 bytes and sends it as UTF-8', () => {
  const before = Date.now()
  const { res, sink } = fakeResponse(GET)
  res.end('héllo €')
  const body = Buffer.from('héllo €', 'utf8')
  assertBytes(sink, Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nDate: DATE\r\nContent-Length: ${body.length}\r\n\r\n`, 'latin1'), body]), before)
  assert.is(body.length, 10)
})

fixed('sends a Buffer body byte for byte, small or large', () => {
  for (const size of [1, 256, 16 * 1024, 16 * 1024 + 1, 200_000]) {
    const before = Date.now()
    const { res, sink } = fakeResponse(GET)
    const body = Buffer.alloc(size)
    for (let i = 0; i < size; i++) body[i] = (i * 7) & 0xff
    res.status = 201
    res.end(body)
    assertBytes(sink, Buffer.concat([Buffer.from(`HTTP/1.1 201 Created\r\nDate: DATE\r\nContent-Length: ${size}\r\n\r\n`, 'latin1'), body]), before)
    finishedOnce(sink, res)
  }
})

fixed('sends Content-Length: 0 for end() without a body', () => {
  const before = Date.now()
  const { res, sink } = fakeResponse(GET)
  res.end()
  assertBytes(sink, 'HTTP/1.1 200 OK\r\nDate: DATE\r\nContent-Length: 0\r\n\r\n', before)
  const empty = fakeResponse(GET)
  empty.res.end(Buffer.alloc(0))
  assertBytes(empty.sink, 'HTTP/1.1 200 OK\r\nDate: DATE\r\nContent-Length: 0\r\n\r\n', before)
})

fixed('send() and json() set the status, the Content-Type and the body', () => {
  const before = Date.now()
  const text = fakeResponse(GET)
  text.res.send(404, 'nope')
  assertBytes(text.sink, 'HTTP/1.1 404 Not Found\r\nDate: DATE\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 4\r\n\r\nnope', before)
  const json = fakeResponse(GET)
  json.res.json(200, { a: 'é' })
  const body = Buffer.from('{"a":"é"}')
  assertBytes(json.sink, Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nDate: DATE\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`, 'latin1'), body]), before)
})

fixed('error() answers with the status and a plain text body that names the problem', () => {
  const before = Date.now()
  const { res, sink } = fakeResponse(GET)
  res.error(new HttpError(413, 'BODY_TOO_LARGE', 'too big'))
  const body = '413 Content Too Large: too big\n'
  assertBytes(sink, `HTTP/1.1 413 Content Too Large\r\nDate: DATE\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\n\r\n${body}`, before)
})

fixed('ignores a second end() and writes after the end', () => {
  const { res, sink } = fakeResponse(GET)
  res.end('one')
  const written = sink.text
  res.end('two')
  assert.is(res.write('three'), false)
  assert.is(sink.text, written)
  assert.is(sink.finishedResponses.length, 1)
})

fixed('names an unknown status "Unknown" rather than leaving the reason out', () => {
  const { res, sink } = fakeResponse(GET)
  res.status = 299
  res.end()
  assert.ok(sink.text.startsWith('HTTP/1.1 299 Unknown\r\n'), sink.text)
})

fixed.run()

// ---- HEAD and the statuses without a body

const bodiless = suite('HEAD, 1xx, 204 and 304: no body')

bodiless('answers HEAD with the GET head, Content-Length included, and no body', () => {
  const before = Date.now()
  for (const body of ['hello world', Buffer.from('hello world'), 'héllo', Buffer.alloc(100_000, 1)]) {
    const { res, sink } = fakeResponse(HEAD)
    res.setHeader('Content-Type', 'text/plain')
    res.end(body)
    const length = typeof body === 'string' ? Buffer.byteLength(body) : body.length
    assertBytes(sink, `HTTP/1.1 200 OK\r\nDate: DATE\r\nContent-Type: text/plain\r\nContent-Length: ${length}\r\n\r\n`, before)
    finishedOnce(sink, res)
    assert.is(res.keepAlive, true)
  }
})

bodiless('writes nothing of a streamed body to a HEAD request, and no last chunk', () => {
  const before = Date.now()
  const { res, sink } = fakeResponse(HEAD)
  assert.is(res.chunked, false)
  assert.is(res.write('part one'), true)
  res.write(Buffer.from('part two'))
  res.end('tail')
  assertBytes(sink, 'HTTP/1.1 200 OK\r\nDate: DATE\r\nTransfer-Encoding: chunked\r\n\r\n', before)
  finishedOnce(sink, res)
  assert.is(res.keepAlive, true)
})

bodiless('refuses to end an exchange with a 1xx status: it is interim, a final response must follow', () => {
  for (const status of [100, 101]) {
    const { res, sink } = fakeResponse(GET)
    res.status = status
    assert.throws(() => res.end('some body'), /interim/)
    assert.is(sink.bytes.length, 0)
    assert.is(res.ended, false)
  }
})

bodiless('never gives 204 or 304 a Content-Length or a body', () => {
  const before = Date.now()
  for (const status of [204, 304]) {
    for (const body of [undefined, 'some body', Buffer.from('some body')]) {
      const { res, sink } = fakeResponse(GET)
      res.status = status
      res.setHeader('ETag', '"x"')
      res.end(body)
      const reason = { 204: 'No Content', 304: 'Not Modified' }[status]
      assertBytes(sink, `HTTP/1.1 ${status} ${reason}\r\nDate: DATE\r\nETag: "x"\r\n\r\n`, before)
      assert.not.match(sink.text, /content-length|transfer-encoding/i)
      finishedOnce(sink, res)
    }
  }
})

bodiless('never streams a body or chunks on 204 and 304', () => {
  const before = Date.now()
  for (const status of [204, 304]) {
    const { res, sink } = fakeResponse(GET)
    res.status = status
    assert.is(res.chunked, false)
    res.write('ignored')
    res.end('ignored too')
    const reason = status === 204 ? 'No Content' : 'Not Modified'
    assertBytes(sink, `HTTP/1.1 ${status} ${reason}\r\nDate: DATE\r\n\r\n`, before)
    assert.is(res.keepAlive, true)
  }
})

bodiless('sends no Content-Length for startBody(n) on a 204 or 304', () => {
  const before = Date.now()
  const { res, sink } = fakeResponse(GET)
  res.status = 304
  res.startBody(10)
  res.end()
  assertBytes(sink, 'HTTP/1.1 304 Not Modified\r\nDate: DATE\r\n\r\n', before)
  assert.is(res.keepAlive, true)
})

bodiless.run()

// ---- streamed bodies

const streamed = suite('write(): streamed bodies')

streamed('starts a chunked body on the first write and ends it with the last chunk', () => {
  const before = Date.now()
  const { res, sink } = fakeResponse(GET)
  res.setHeader('Content-Type', 'application/x-ndjson')
  assert.is(res.chunked, true)
  assert.is(res.write('{"id":1}\n'), true)
  assert.ok(res.headersSent)
  res.write(Buffer.from('é€'))
  res.write('') // nothing: an empty chunk would end the body
  assert.is(sink.finishedResponses.length, 0)
  res.end()
  assertBytes(
    sink,
    'HTTP/1.1 200 OK\r\nDate: DATE\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n' +
      '9\r\n{"id":1}\n\r\n' +
      '5\r\n\xc3\xa9\xe2\x82\xac\r\n' +
      '0\r\n\r\n',
    before,
  )
  finishedOnce(sink, res)
  assert.is(res.keepAlive, true)
})

streamed('frames a UTF-8 string written to a chunked body by its bytes', () => {
  const before = Date.now()
  const { res, sink } = fakeResponse(GET)
  res.write('é')
  res.end()
  assertBytes(sink, 'HTTP/1.1 200 OK\r\nDate: DATE\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n\xc3\xa9\r\n0\r\n\r\n', before)
})

streamed('sends the body given to end() after writes as a last data chunk', () => {
  const before = Date.now()
  const { res, sink } = fakeResponse(GET)
  res.write('a')
  res.end('bc')
  assertBytes(sink, 'HTTP/1.1 200 OK\r\nDate: DATE\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n2\r\nbc\r\n0\r\n\r\n', before)
})

streamed('flushHeaders() sends the head of a chunked body before any data', () => {
  const before = Date.now()
  const { res, sink } = fakeResponse(GET)
  res.flushHeaders()
  assertBytes(sink, 'HTTP/1.1 200 OK\r\nDate: DATE\r\nTransfer-Encoding: chunked\r\n\r\n', before)
  res.flushHeaders()
  res.end()
  assert.ok(sink.text.endsWith('\r\n\r\n0\r\n\r\n'))
})

streamed('writeEncodedChunk() writes a chunk framed once as it is', () => {
  const before = Date.now()
  const { res, sink } = fakeResponse(GET)
  const chunk = Buffer.from('3\r\nabc\r\n', 'latin1')
  assert.is(res.writeEncodedChunk(chunk), true)
  res.end()
  assertBytes(sink, 'HTTP/1.1 200 OK\r\nDate: DATE\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n', before)
})

streamed('passes on a full socket buffer as false from write()', () => {
  const { res, sink } = fakeResponse(GET)
  sink.accepting = false
  assert.is(res.write('x'), false)
})

streamed('gives an HTTP/1.0 client a body delimited by the close, with Connection: close and no chunks', () => {
  const before = Date.now()
  for (const request of [GET_10, GET_10_KEEP_ALIVE]) {
    const { res, sink } = fakeResponse(request)
    assert.is(res.chunked, false)
    res.write('abc')
    res.write(Buffer.from([0x00, 0xff]))
    res.end()
    assertBytes(sink, 'HTTP/1.1 200 OK\r\nDate: DATE\r\nConnection: close\r\n\r\nabc\x00\xff', before)
    assert.not.match(sink.text, /Transfer-Encoding|Content-Length|0\r\n\r\n$/)
    assert.is(res.keepAlive, false, 'only the close can end this body')
    finishedOnce(sink, res)
  }
})

streamed('refuses writeEncodedChunk() where the body is not chunked', () => {
  const { res } = fakeResponse(GET_10)
  assert.throws(() => res.writeEncodedChunk(Buffer.from('1\r\na\r\n')), /chunked/)
})

streamed.run()

// ---- fixed-length streamed bodies

const fixedStream = suite('startBody(n): a body of known length in pieces')

fixedStream('sends Content-Length: n first, then the pieces as they are, with no chunk framing', () => {
  const before = Date.now()
  const { res, sink } = fakeResponse(GET)
  res.setHeader('Content-Type', 'application/octet-stream')
  res.startBody(6)
  assert.ok(res.headersSent)
  assert.is(res.write('ab'), true)
  res.write(Buffer.from([0x00, 0x0d, 0x0a, 0xff]))
  res.end()
  assertBytes(sink, 'HTTP/1.1 200 OK\r\nDate: DATE\r\nContent-Type: application/octet-stream\r\nContent-Length: 6\r\n\r\nab\x00\r\n\xff', before)
  finishedOnce(sink, res)
  assert.is(res.keepAlive, true)
})

fixedStream('uses Content-Length for an HTTP/1.0 client too, which can then keep the connection', () => {
  const before = Date.now()
  const { res, sink } = fakeResponse(GET_10_KEEP_ALIVE)
  res.startBody(3)
  res.write('abc')
  res.end()
  assertBytes(sink, 'HTTP/1.1 200 OK\r\nDate: DATE\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nabc', before)
  assert.is(res.keepAlive, true)
})

fixedStream('closes the connection after a body shorter than its Content-Length', () => {
  const { res, sink } = fakeResponse(GET)
  res.startBody(10)
  res.write('abc')
  assert.is(res.keepAlive, true)
  res.end()
  assert.is(res.keepAlive, false, 'the client can only tell by the close')
  finishedOnce(sink, res)
  assert.ok(sink.text.endsWith('\r\n\r\nabc'))
})

fixedStream('refuses more body bytes than the Content-Length sent', () => {
  const { res } = fakeResponse(GET)
  res.startBody(3)
  res.write('ab')
  assert.throws(() => res.write('cd'), (error: unknown) => error instanceof RangeError)
})

fixedStream('refuses a second head', () => {
  const { res } = fakeResponse(GET)
  res.write('x')
  assert.throws(() => res.startBody(1), /already sent/)
})

fixedStream('sends Content-Length and no body to HEAD, and keeps the connection', () => {
  const before = Date.now()
  const { res, sink } = fakeResponse(HEAD)
  res.startBody(1_048_576)
  res.write('ignored')
  res.end()
  assertBytes(sink, 'HTTP/1.1 200 OK\r\nDate: DATE\r\nContent-Length: 1048576\r\n\r\n', before)
  assert.is(res.keepAlive, true)
})

fixedStream('writes a non-ASCII string to a fixed-length body as the UTF-8 bytes it counted', () => {
  // The sink writes strings as latin1 (Connection.write): the writer must hand it the
  // UTF-8 bytes, or "é" is counted as 2 bytes and sent as the single byte E9.
  const before = Date.now()
  const { res, sink } = fakeResponse(GET)
  res.startBody(5)
  res.write('é')
  res.write('€')
  res.end()
  assertBytes(sink, 'HTTP/1.1 200 OK\r\nDate: DATE\r\nContent-Length: 5\r\n\r\n\xc3\xa9\xe2\x82\xac', before)
  assert.is(res.keepAlive, true, 'the whole body was sent')
})

fixedStream('writes a non-ASCII string to an HTTP/1.0 close-delimited body as UTF-8', () => {
  const before = Date.now()
  const { res, sink } = fakeResponse(GET_10)
  res.write('€')
  res.end('é')
  assertBytes(sink, 'HTTP/1.1 200 OK\r\nDate: DATE\r\nConnection: close\r\n\r\n\xe2\x82\xac\xc3\xa9', before)
})

fixedStream.run()

// ---- the Connection field

const connection = suite('the Connection field')

connection('is left out for a keep-alive HTTP/1.1 exchange', () => {
  const { res, sink } = fakeResponse(GET)
  res.end('x')
  assert.not.match(sink.text, /\r\nConnection:/i)
  assert.is(res.keepAlive, true)
})

connection('says keep-alive to an HTTP/1.0 client that asked to keep the connection', () => {
  const before = Date.now()
  const { res, sink } = fakeResponse(GET_10_KEEP_ALIVE)
  res.end('x')
  assertBytes(sink, 'HTTP/1.1 200 OK\r\nDate: DATE\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx', before)
  assert.is(res.keepAlive, true)
})

connection('says close to an HTTP/1.0 client that did not ask to keep the connection', () => {
  const { res, sink } = fakeResponse(GET_10)
  res.end('x')
  assert.match(sink.text, /\r\nConnection: close\r\n/)
  assert.is(res.keepAlive, false)
})

connection('says close when the request said close', () => {
  const { res, sink } = fakeResponse(GET_CLOSE)
  res.end('x')
  assert.match(sink.text, /\r\nConnection: close\r\n/)
  assert.is(res.keepAlive, false)
})

connection('closeAfter() adds Connection: close and ends keep-alive', () => {
  const before = Date.now()
  for (const request of [GET, GET_10_KEEP_ALIVE]) {
    const { res, sink } = fakeResponse(request)
    assert.is(res.closeAfter(), res)
    res.end('x')
    assertBytes(sink, 'HTTP/1.1 200 OK\r\nDate: DATE\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx', before)
    assert.is(res.keepAlive, false)
    assert.is(sink.finishedResponses[0].keepAlive, false)
  }
})

connection('says close when the connection is closing anyway', () => {
  const { res, sink } = fakeResponse(GET)
  sink.closing = true
  res.write('x')
  res.end()
  assert.match(sink.text, /\r\nConnection: close\r\n/)
  assert.is(res.keepAlive, false)
})

connection.run()

// ---- header fields

const fields = suite('setHeader(): no response splitting')

fields('refuses CR, LF and NUL in a value', () => {
  for (const value of ['a\r\nSet-Cookie: x=1', 'a\nb', 'a\rb', 'a\0b', '\r\n', 'ok\r\n\r\n<html>']) {
    const { res } = fakeResponse(GET)
    assert.throws(() => res.setHeader('X-Test', value), (error: unknown) => error instanceof TypeError, JSON.stringify(value))
    assert.equal(res.fields, [], 'nothing was added')
  }
})

fields('refuses characters above U+00FF, which latin1 would truncate into other bytes', () => {
  // U+010A would be written as 0x0A (LF) if truncated to a byte.
  for (const value of ['\u010a', '\u010d\u010a', 'ā', '€', '😀']) {
    const { res } = fakeResponse(GET)
    assert.throws(() => res.setHeader('X-Test', value), (error: unknown) => error instanceof TypeError, JSON.stringify(value))
  }
})

fields('refuses names that are not tokens', () => {
  for (const name of ['', 'Bad Name', 'Bad:Name', 'X-A\r\nX-B', 'Na\nme', 'é', 'X(y)', 'X\0', '"q"']) {
    const { res } = fakeResponse(GET)
    assert.throws(() => res.setHeader(name, 'v'), (error: unknown) => error instanceof TypeError, JSON.stringify(name))
  }
})

fields('accepts latin1 text, tabs and every token character, and writes them as single bytes', () => {
  const before = Date.now()
  const { res, sink } = fakeResponse(GET)
  res.setHeader("!#$%&'*+-.^_`|~09AZaz", 'café\tand ÿ')
  res.setHeader('X-Number', 42)
  res.end()
  assertBytes(sink, "HTTP/1.1 200 OK\r\nDate: DATE\r\n!#$%&'*+-.^_`|~09AZaz: caf\xe9\tand \xff\r\nX-Number: 42\r\nContent-Length: 0\r\n\r\n", before)
})

fields('error() replaces a Content-Type the handler had set rather than sending two', () => {
  // RFC 9110 §5.3: Content-Type is not a list; two field lines make the media type ambiguous.
  // Seen when a handler sets Content-Type and then fails (Connection.handlerFailed answers
  // 500 through error()), e.g. static.ts when readFile fails after the stat.
  const { res, sink } = fakeResponse(GET)
  res.setHeader('Content-Type', 'text/html; charset=utf-8')
  res.error(new HttpError(500, 'HANDLER_FAILED', 'failed'))
  assert.is(sink.text.match(/\r\nContent-Type:/gi)?.length, 1, sink.text)
  assert.match(sink.text, /\r\nContent-Type: text\/plain; charset=utf-8\r\n/)
})

fields.run()

// ---- the Date

const date = suite('httpDate()')

date('formats the example of RFC 9110 §5.6.7 exactly', () => {
  assert.is(formatHttpDate(Date.UTC(1994, 10, 6, 8, 49, 37)), 'Sun, 06 Nov 1994 08:49:37 GMT')
  assert.is(formatHttpDate(Date.UTC(1994, 10, 6, 8, 49, 37, 999)), 'Sun, 06 Nov 1994 08:49:37 GMT')
  assert.is(formatHttpDate(Date.UTC(2030, 0, 1, 0, 0, 0)), 'Tue, 01 Jan 2030 00:00:00 GMT')
})

date('formats every kind of day as Date.prototype.toUTCString() does', () => {
  // Leap days, century years (1900 is not a leap year, 2000 is), the ends of months and
  // years, before 1970, and random times over four centuries.
  const times = [0, -1, -86_400_000, Date.UTC(1900, 1, 28, 23, 59, 59), Date.UTC(1900, 2, 1), Date.UTC(2000, 1, 29, 12), Date.UTC(2024, 1, 29)]
  times.push(Date.UTC(2024, 11, 31, 23, 59, 59, 999), Date.UTC(2100, 2, 1), Date.UTC(1969, 11, 31, 23, 59, 59), Date.UTC(9999, 11, 31, 23, 59, 59))
  for (let i = 0; i < 20_000; i++) times.push(Math.floor(Date.UTC(1800, 0, 1) + Math.random() * 400 * 365.2425 * 86_400_000))
  for (const time of times) assert.is(formatHttpDate(time), new Date(time).toUTCString(), `at ${time}`)
})

date('returns an IMF-fixdate that parses back to the current second', async () => {
  // The formatted second is forgotten by a timer. In a busy process (this suite under load) it
  // can be overdue, and the date lags by that much (RFC 9110 §6.6.1 allows it): one turn of
  // the event loop runs it, then the date is the current second's.
  await new Promise((resolve) => setTimeout(resolve, 1))
  const before = Date.now()
  const text = httpDate()
  const after = Date.now()
  assert.match(text, IMF_FIXDATE)
  const parsed = Date.parse(text)
  assert.is(parsed % 1000, 0)
  assert.ok(parsed >= before - (before % 1000) - 1000 && parsed <= after, `${text} is within a second of ${new Date(before).toISOString()}`)
})

date('moves on when the second it formatted has ended, in the responses too', async () => {
  const first = httpDate()
  const early = fakeResponse(GET)
  early.res.end()
  assert.ok(early.sink.text.includes(`\r\nDate: ${first}\r\n`))
  await new Promise((resolve) => setTimeout(resolve, 1500))
  const later = httpDate()
  assert.is.not(later, first)
  const parsed = Date.parse(later)
  const now = Date.now()
  assert.ok(parsed <= now && parsed > now - 1000, `${later} is the second of ${new Date(now).toISOString()}`)
  // The status line and Date of a 200 are kept for the second: they must follow it.
  const next = fakeResponse(GET)
  next.res.end()
  assert.is(next.sink.text, `HTTP/1.1 200 OK\r\nDate: ${later}\r\nContent-Length: 0\r\n\r\n`)
})

date.run()

// ---- abort

const abort = suite('onAbort(): the client went away')

abort('runs every listener once, however often abort() is called', () => {
  const { res } = fakeResponse(GET)
  const calls: string[] = []
  res.onAbort(() => calls.push('a'))
  res.onAbort(() => calls.push('b'))
  assert.equal(calls, [])
  res.abort()
  res.abort()
  assert.equal(calls, ['a', 'b'])
  assert.is(res.aborted, true)
})

abort('runs a listener added after the abort at once, and once', () => {
  const { res } = fakeResponse(GET)
  res.abort()
  let calls = 0
  res.onAbort(() => calls++)
  assert.is(calls, 1)
  res.abort()
  assert.is(calls, 1)
})

abort('does not run listeners when the response had ended', () => {
  const { res } = fakeResponse(GET)
  let calls = 0
  res.onAbort(() => calls++)
  res.end('done')
  res.abort()
  assert.is(calls, 0)
  assert.is(res.aborted, false)
})

abort.run()

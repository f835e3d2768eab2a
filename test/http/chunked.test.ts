// The chunked transfer coding, sending side (RFC 9112 §7.1), as exact bytes; and what it
// encodes read back by the project's own request parser as the body of a chunked POST.

import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { encodeChunk, LAST_CHUNK } from '../../src/http/chunked.ts'
import { drive } from '../helpers/drive.ts'

const latin1 = (buffer: Buffer) => buffer.toString('latin1')

const encode = suite('encodeChunk')

encode('frames an ASCII string as its hex size, CRLF, the data and CRLF', () => {
  assert.is(latin1(encodeChunk('hello world')), 'b\r\nhello world\r\n')
  assert.is(latin1(encodeChunk('a')), '1\r\na\r\n')
})

encode('counts the size of a string in UTF-8 bytes, not in characters', () => {
  // "é" is C3 A9, "€" is E2 82 AC, "😀" is F0 9F 98 80 (two UTF-16 code units).
  assert.equal(encodeChunk('é'), Buffer.from('2\r\n\xc3\xa9\r\n', 'latin1'))
  assert.equal(encodeChunk('€'), Buffer.from('3\r\n\xe2\x82\xac\r\n', 'latin1'))
  assert.equal(encodeChunk('😀'), Buffer.from('4\r\n\xf0\x9f\x98\x80\r\n', 'latin1'))
  assert.equal(encodeChunk('aé€😀'), Buffer.concat([Buffer.from('a\r\n'), Buffer.from('aé€😀'), Buffer.from('\r\n')]))
})

encode('frames a Buffer byte for byte, whatever the bytes are', () => {
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i))
  assert.equal(encodeChunk(all), Buffer.concat([Buffer.from('100\r\n'), all, Buffer.from('\r\n')]))
  assert.equal(encodeChunk(Buffer.from([0x0d, 0x0a])), Buffer.from('2\r\n\r\n\r\n', 'latin1'))
})

encode('writes the size in lower-case hex without leading zeros', () => {
  const cases: [number, string][] = [
    [1, '1'],
    [9, '9'],
    [10, 'a'],
    [15, 'f'],
    [16, '10'],
    [255, 'ff'],
    [4096, '1000'],
    [65535, 'ffff'],
    [1024 * 1024, '100000'],
  ]
  for (const [length, size] of cases) {
    const chunk = encodeChunk(Buffer.alloc(length, 0x61))
    assert.is(chunk.length, size.length + 2 + length + 2, `${length} bytes: total length`)
    assert.is(latin1(chunk.subarray(0, size.length + 2)), `${size}\r\n`, `${length} bytes: size line`)
    assert.is(latin1(chunk.subarray(-2)), '\r\n', `${length} bytes: ends with CRLF`)
  }
})

encode('frames only the bytes of a Buffer view, not the memory around it', () => {
  const backing = Buffer.from('xxhelloyy')
  assert.is(latin1(encodeChunk(backing.subarray(2, 7))), '5\r\nhello\r\n')
})

encode('copies the data: changing the input afterwards does not change the chunk', () => {
  // Encode once, write to many: the chunk must not alias a Buffer the caller reuses.
  const data = Buffer.from('abc')
  const chunk = encodeChunk(data)
  data.fill(0x7a)
  assert.is(latin1(chunk), '3\r\nabc\r\n')
})

encode('refuses an empty string or Buffer, which would read as the last chunk', () => {
  assert.throws(() => encodeChunk(''), (error: unknown) => error instanceof RangeError)
  assert.throws(() => encodeChunk(Buffer.alloc(0)), (error: unknown) => error instanceof RangeError)
  assert.throws(() => encodeChunk(Buffer.from('abc').subarray(1, 1)), (error: unknown) => error instanceof RangeError)
})

encode.run()

const last = suite('LAST_CHUNK')

last('is exactly "0" CRLF and an empty trailer section', () => {
  assert.ok(Buffer.isBuffer(LAST_CHUNK))
  assert.equal(LAST_CHUNK, Buffer.from([0x30, 0x0d, 0x0a, 0x0d, 0x0a]))
  assert.is(latin1(LAST_CHUNK), '0\r\n\r\n')
})

last.run()

const roundTrip = suite('encodeChunk read back by the request parser')

const POST_HEAD = 'POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n'

function chunkedPost(parts: (Buffer | string)[]): Buffer {
  return Buffer.concat([Buffer.from(POST_HEAD, 'latin1'), ...parts.map((part) => encodeChunk(part)), LAST_CHUNK])
}

const PARTS: (Buffer | string)[] = [
  'hello ',
  'wörld € 😀',
  Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
  Buffer.alloc(5000, 0x41),
  '\r\n0\r\n\r\n', // data that looks like framing is just data
]
const EXPECTED = Buffer.concat(PARTS.map((part) => (typeof part === 'string' ? Buffer.from(part) : part)))

roundTrip('the encoded chunks and LAST_CHUNK decode to the same body, fed whole', () => {
  const run = drive(chunkedPost(PARTS))
  assert.is(run.error, null)
  assert.is(run.messages.length, 1)
  const [message] = run.messages
  assert.ok(message.complete, 'the message ends with LAST_CHUNK')
  assert.is(message.head.chunked, true)
  assert.equal(message.body, EXPECTED)
  assert.equal(message.trailers, [])
})

roundTrip('the encoded chunks decode the same, fed one byte at a time', () => {
  const run = drive(chunkedPost(PARTS), 1)
  assert.is(run.error, null)
  assert.is(run.messages.length, 1)
  assert.ok(run.messages[0].complete)
  assert.equal(run.messages[0].body, EXPECTED)
})

roundTrip('a body made of LAST_CHUNK alone is an empty, complete body', () => {
  const run = drive(chunkedPost([]))
  assert.is(run.error, null)
  assert.ok(run.messages[0].complete)
  assert.is(run.messages[0].body.length, 0)
})

roundTrip('a request following LAST_CHUNK is parsed as the next message', () => {
  const next = Buffer.from('GET /next HTTP/1.1\r\nHost: h\r\n\r\n', 'latin1')
  const run = drive(Buffer.concat([chunkedPost(['abc']), next]))
  assert.is(run.error, null)
  assert.is(run.messages.length, 2)
  assert.is(run.messages[0].body.toString(), 'abc')
  assert.is(run.messages[1].head.path, '/next')
})

roundTrip.run()

// The annotators against literal bytes: the examples of RFC 6455 §5.7, chunks as RFC 9112
// §7.1 frames them, SSE blocks as the encoder writes them, and malformed input, which
// must be explained rather than thrown on. Inputs are hex (spaces ignored) or literal text.

import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { encodeChunk, LAST_CHUNK } from '../../src/http/chunked.ts'
import { encodeComment, encodeEvent, encodeRetry } from '../../src/sse/encoder.ts'
import { annotateChunk, annotateHttpHead, annotateSseBlock, annotateWsFrame, closeCodeName } from '../../src/trace/annotate.ts'
import { closePayload, encodeFrame, Opcode } from '../../src/ws/frame.ts'

function hex(digits: string): Buffer {
  return Buffer.from(digits.replace(/\s+/g, ''), 'hex')
}

// ---- HTTP heads

const head = suite('annotateHttpHead')

head('shows each line of a request head with its CRLF, then the empty line', () => {
  assert.equal(annotateHttpHead('GET /hello HTTP/1.1\r\nHost: x\r\n\r\n'), ['GET /hello HTTP/1.1␍␊', 'Host: x␍␊', '␍␊'])
})

head('takes a Buffer and shows a response head the same way', () => {
  const bytes = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n', 'latin1')
  assert.equal(annotateHttpHead(bytes), ['HTTP/1.1 200 OK␍␊', 'Content-Length: 11␍␊', '␍␊'])
})

head('shows a bare LF as it is, and ends the head at the empty line', () => {
  assert.equal(annotateHttpHead('GET / HTTP/1.1\nHost: x\n\n'), ['GET / HTTP/1.1␊', 'Host: x␊', '␊'])
})

head('counts body bytes that follow the head without showing them', () => {
  assert.equal(annotateHttpHead('POST /echo HTTP/1.1\r\n\r\nping'), ['POST /echo HTTP/1.1␍␊', '␍␊', '(4 bytes of body follow the head)'])
})

head('escapes bytes that are not printable ASCII', () => {
  assert.equal(annotateHttpHead(Buffer.from('X: a\tb\xff\r\n\r\n', 'latin1')), ['X: a\\x09b\\xff␍␊', '␍␊'])
})

head('says so when a head has no line end yet', () => {
  assert.equal(annotateHttpHead('GET / HT'), ['GET / HT  (the head goes on: no line end yet)'])
})

head.run()

// ---- chunks

const chunk = suite('annotateChunk')

chunk('explains the chunk-size, shows the data and the CRLF after it', () => {
  assert.equal(annotateChunk(Buffer.from('1a\r\nabcdefghijklmnopqrstuvwxyz\r\n')), [
    '1a␍␊  chunk-size 0x1a = 26 bytes',
    'abcdefghijklmnopqrstuvwxyz  chunk-data, 26 bytes',
    '␍␊  end of the chunk-data',
  ])
})

chunk('shows an NDJSON line as the encoder frames it, its LF visible', () => {
  assert.equal(annotateChunk(encodeChunk('{"id":3,"data":"three"}\n')), [
    '18␍␊  chunk-size 0x18 = 24 bytes',
    '{"id":3,"data":"three"}␊  chunk-data, 24 bytes',
    '␍␊  end of the chunk-data',
  ])
})

chunk('names the last chunk as the end of the body', () => {
  assert.equal(annotateChunk(LAST_CHUNK), ['0␍␊  last-chunk: chunk-size 0 ends the body', '␍␊  end of the (empty) trailer section: the body is complete'])
})

chunk('explains a chunk and the last chunk written together', () => {
  const lines = annotateChunk(Buffer.concat([encodeChunk('hi'), LAST_CHUNK]))
  assert.equal(lines.length, 5)
  assert.is(lines[0], '2␍␊  chunk-size 0x2 = 2 bytes')
  assert.is(lines[3], '0␍␊  last-chunk: chunk-size 0 ends the body')
})

chunk('truncates data past 256 bytes and says how much more there is', () => {
  const lines = annotateChunk(encodeChunk('x'.repeat(300)))
  assert.is(lines[0], '12c␍␊  chunk-size 0x12c = 300 bytes')
  assert.is(lines[1], `${'x'.repeat(256)} … (44 more bytes)  chunk-data, 300 bytes`)
})

chunk('shows UTF-8 data as text and other bytes escaped', () => {
  assert.is(annotateChunk(encodeChunk('été'))[1], 'été  chunk-data, 5 bytes')
  assert.is(annotateChunk(encodeChunk(hex('00 ff')))[1], '\\x00\\xff  chunk-data, 2 bytes')
})

chunk('explains what is wrong with bytes that are not a chunk', () => {
  assert.equal(annotateChunk(Buffer.from('zz\r\n')), ['zz␍␊  (not a chunk-size: hex digits expected)'])
  assert.equal(annotateChunk(Buffer.from('5\r\nab')), ['5␍␊  chunk-size 0x5 = 5 bytes', 'ab  chunk-data, 5 bytes (incomplete: 2 of 5 bytes here)'])
})

chunk.run()

// ---- WebSocket frames

const frame = suite('annotateWsFrame')

frame('explains the unmasked "Hello" of RFC 6455 §5.7', () => {
  assert.equal(annotateWsFrame(hex('81 05 48 65 6c 6c 6f')), [
    '81 05  frame header, 2 bytes',
    '  FIN    1  the final frame of its message',
    '  RSV1   0  not compressed',
    '  RSV2   0',
    '  RSV3   0',
    '  opcode 0x1  text',
    '  MASK   0  not masked: right from a server; from a client, a protocol error (1002)',
    '  length 5  7-bit form',
    '  payload (5 bytes) "Hello"',
  ])
})

frame('unmasks the masked "Hello" of RFC 6455 §5.7 and shows the key', () => {
  const bytes = hex('81 85 37 fa 21 3d 7f 9f 4d 51 58')
  const copy = Buffer.from(bytes)
  assert.equal(annotateWsFrame(bytes), [
    '81 85 37 fa 21 3d  frame header, 6 bytes',
    '  FIN    1  the final frame of its message',
    '  RSV1   0  not compressed',
    '  RSV2   0',
    '  RSV3   0',
    '  opcode 0x1  text',
    '  MASK   1  masked: as every client-to-server frame must be',
    '  length 5  7-bit form',
    '  masking key 37 fa 21 3d',
    '  payload (5 bytes, unmasked) "Hello"',
  ])
  assert.equal(bytes, copy, 'the caller\'s bytes are left masked')
})

frame('names a fragmented text message\'s frames (RFC 6455 §5.7: "Hel", then "lo")', () => {
  const first = annotateWsFrame(hex('01 03 48 65 6c'))
  assert.is(first[1], '  FIN    0  more frames of this message follow')
  assert.is(first[8], '  payload (3 bytes) "Hel"')
  const second = annotateWsFrame(hex('80 02 6c 6f'))
  assert.is(second[5], '  opcode 0x0  continuation')
  assert.is(second[8], '  payload (2 bytes) "lo"')
})

frame('explains a ping and its pong (RFC 6455 §5.7)', () => {
  const ping = annotateWsFrame(hex('89 05 48 65 6c 6c 6f'))
  assert.is(ping[5], '  opcode 0x9  ping (a control frame)')
  assert.is(ping[8], '  payload (5 bytes) "Hello"')
  const pong = annotateWsFrame(hex('8a 85 37 fa 21 3d 7f 9f 4d 51 58'))
  assert.is(pong[5], '  opcode 0xA  pong (a control frame)')
  assert.is(pong[9], '  payload (5 bytes, unmasked) "Hello"')
})

frame('shows the 16-bit length form of a 256-byte binary message (RFC 6455 §5.7)', () => {
  const payload = Buffer.alloc(256, 0xab)
  const lines = annotateWsFrame(Buffer.concat([hex('82 7e 01 00'), payload]))
  assert.is(lines[0], '82 7e 01 00  frame header, 4 bytes')
  assert.is(lines[5], '  opcode 0x2  binary')
  assert.is(lines[7], '  length 256  16-bit form: 126, then 01 00')
  assert.is(lines[8], `  payload (256 bytes) ${Array(256).fill('ab').join(' ')}`)
})

frame('shows the 64-bit length form of a 64 KiB binary message (RFC 6455 §5.7), truncated past 256 bytes', () => {
  const bytes = encodeFrame(Opcode.BINARY, Buffer.alloc(65536, 1))
  const lines = annotateWsFrame(bytes)
  assert.is(lines[0], '82 7f 00 00 00 00 00 01 00 00  frame header, 10 bytes')
  assert.is(lines[7], '  length 65536  64-bit form: 127, then 00 00 00 00 00 01 00 00')
  assert.ok(lines[8].endsWith(' … (65280 more bytes)'), lines[8])
})

frame('truncates a long text payload past 256 bytes', () => {
  const lines = annotateWsFrame(encodeFrame(Opcode.TEXT, Buffer.from('a'.repeat(300))))
  assert.is(lines[8], `  payload (300 bytes) "${'a'.repeat(256)}" … (44 more bytes)`)
})

frame('shows a close frame\'s code with its RFC 6455 §7.4.1 name and its reason', () => {
  const lines = annotateWsFrame(encodeFrame(Opcode.CLOSE, closePayload(1000, 'bye'), { mask: hex('01 02 03 04') }))
  assert.is(lines[5], '  opcode 0x8  close (a control frame)')
  assert.equal(lines.slice(-2), ['  close code 1000 (Normal Closure)', '  reason "bye"'])
  assert.equal(annotateWsFrame(hex('88 02 03 ea')).slice(-2), ['  close code 1002 (Protocol Error)', '  reason (none)'])
  assert.is(annotateWsFrame(hex('88 00')).at(-1), '  payload (empty): no close code (the receiver reports 1005, No Status Rcvd)')
})

frame('names the close codes that must not be sent, and the ranges', () => {
  assert.match(annotateWsFrame(hex('88 02 03 ed')).at(-2)!, 'close code 1005 (No Status Rcvd, reserved: must not be sent')
  assert.match(closeCodeName(999), '0-999 are not used')
  assert.match(closeCodeName(3000), 'libraries')
  assert.match(closeCodeName(4000), 'private use')
  assert.is(closeCodeName(1007), 'Invalid Frame Payload Data')
})

frame('shows invalid UTF-8 in a text frame as hex and says so', () => {
  assert.is(annotateWsFrame(hex('81 02 c3 28')).at(-1), '  payload (2 bytes) c3 28  not valid UTF-8 (RFC 6455 §8.1: the receiver fails the connection with 1007)')
})

frame('names reserved opcodes, set RSV bits and oversized control frames as errors', () => {
  assert.is(annotateWsFrame(hex('83 00'))[5], '  opcode 0x3  reserved (non-control): a protocol error')
  assert.is(annotateWsFrame(hex('8b 00'))[5], '  opcode 0xB  reserved (control): a protocol error')
  assert.match(annotateWsFrame(hex('a1 00'))[3], 'RSV2   1  set, and no extension defines it')
  assert.ok(annotateWsFrame(hex('09 00')).includes('  (a control frame must be final and carry 125 bytes or less: a protocol error)'))
})

frame('marks a compressed frame and shows its payload as bytes', () => {
  const lines = annotateWsFrame(hex('c1 07 f2 48 cd c9 c9 07 00'))
  assert.is(lines[2], '  RSV1   1  compressed (permessage-deflate, RFC 7692 §6)')
  assert.is(lines.at(-1), '  payload (7 bytes, compressed) f2 48 cd c9 c9 07 00')
})

frame('explains incomplete frames and bytes after a frame instead of throwing', () => {
  assert.equal(annotateWsFrame(hex('81')), ['81  (incomplete frame: a header is at least 2 bytes)'])
  assert.equal(annotateWsFrame(hex('81 85 37 fa')), ['81 85 37 fa  (incomplete frame: its header is 6 bytes)'])
  assert.ok(annotateWsFrame(hex('81 05 48 65')).includes('  (incomplete: 2 of 5 payload bytes here)'))
  assert.is(annotateWsFrame(hex('81 01 41 81 01 42')).at(-1), '  (3 bytes after this frame)')
})

frame.run()

// ---- SSE blocks

const sse = suite('annotateSseBlock')

sse('names each field of an event and the empty line that dispatches it', () => {
  assert.equal(annotateSseBlock(encodeEvent({ id: 2, event: 'note', data: 'two\nlines' })), [
    'id: 2␊  field id: the event\'s id: a reconnecting browser sends it back as Last-Event-ID',
    'event: note␊  field event: the event type (without it: "message")',
    'data: two␊  field data: one line of the event\'s data',
    'data: lines␊  field data: one line of the event\'s data',
    '␊  empty line: dispatches the event',
  ])
})

sse('explains retry, a comment, and an empty line that dispatches nothing', () => {
  assert.equal(annotateSseBlock(encodeRetry(3000)), ['retry: 3000␊  field retry: the reconnection delay, in ms', '␊  empty line: ends the block (no data: no event is dispatched)'])
  assert.is(annotateSseBlock(encodeComment())[0], ':␊  comment: ignored by the parser (a heartbeat keeps proxies and timeouts away)')
})

sse('takes CRLF and CR line ends, and a Buffer', () => {
  assert.equal(annotateSseBlock(Buffer.from('data: a\r\n\r')), ['data: a␍␊  field data: one line of the event\'s data', '␍  empty line: dispatches the event'])
})

sse('names unknown fields as ignored and a line without an end as pending', () => {
  assert.is(annotateSseBlock('foo: 1\n')[0], 'foo: 1␊  unknown field "foo": ignored')
  assert.is(annotateSseBlock('data: x')[0], 'data: x  (no line end yet: the parser waits for one)')
})

sse.run()

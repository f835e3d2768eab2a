// A deterministic fuzz test of the request parser. Inputs come from a seeded PRNG
// (mulberry32): random bytes, random HTTP-shaped fragments, and mutations of the llhttp
// corpus requests (test/fixtures/llhttp/cases.json) and of a few valid requests. Each
// input is parsed whole, one byte at a time, and in random-size pieces.
//
// What must hold for every input:
//   - the parser never throws: a bad input is its typed 'error' event, an HttpError with
//     an integer status in [400, 505] and a code;
//   - whole, byte-by-byte and piecewise feeding give the same verdict, the same messages
//     (heads, bodies, trailers) and the same error;
//   - the event loop ends: at most 10 * input length + 100 next() calls;
//   - the parser consumes every byte it is given before it asks for more, so what it
//     buffers is never more than the piece just fed;
//   - events come in order (head, body*, end), and finish() answers null or an HttpError.
//
// The seed is in the test names. FUZZ_SEED=<number> runs another one; FUZZ_COUNT=<n>
// scales the number of inputs (default 3600 in all).

import { readFileSync } from 'node:fs'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { HttpError } from '../../src/http/errors.ts'
import type { ParserLimits } from '../../src/http/parser.ts'
import { driveTraced, summarize, type TracedRun } from '../helpers/drive.ts'

const DEFAULT_SEED = 0x9112
const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) >>> 0 : DEFAULT_SEED
const scale = Number(process.env.FUZZ_COUNT) > 0 ? Number(process.env.FUZZ_COUNT) / 3600 : 1

// ---- the PRNG

type Rand = () => number

function mulberry32(state: number): Rand {
  return () => {
    state = (state + 0x6d2b79f5) | 0
    let t = Math.imul(state ^ (state >>> 15), 1 | state)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** An independent stream per test, so that one test's draws do not shift another's. */
function streamFor(label: string): Rand {
  let h = seed
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193)
  return mulberry32(h >>> 0)
}

const int = (rand: Rand, n: number): number => Math.floor(rand() * n)
const pick = <T>(rand: Rand, items: readonly T[]): T => items[int(rand, items.length)]

// ---- inputs

interface CorpusCase {
  kind: string
  inputBase64: string
}

const corpus = (JSON.parse(readFileSync(new URL('../fixtures/llhttp/cases.json', import.meta.url), 'utf8')) as { cases: CorpusCase[] }).cases
  .filter((c) => c.kind === 'request')
  .map((c) => Buffer.from(c.inputBase64, 'base64'))

const VALID = [
  'GET / HTTP/1.1\r\nHost: h\r\n\r\n',
  'GET /a/b?x=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\nUser-Agent: fuzz\r\n\r\n',
  'POST /form HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\nContent-Type: text/plain\r\n\r\nhello world',
  'POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6;q="a\\"b"\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n',
  'GET /1 HTTP/1.1\r\nHost: h\r\n\r\nPOST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcGET /3 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n',
  'GET /chat HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x05hello',
  'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01\x00\x05hello',
  'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.0\r\n\r\n',
  'OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n',
  'GET http://example.com:8080/p?q HTTP/1.1\r\nHost: example.com:8080\r\n\r\n',
  'PUT /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\ndata',
  '\r\n\r\nDELETE /r HTTP/1.1\r\nHost: [::1]:80\r\nX-Obs: caf\xc3\xa9\r\n\r\n',
].map((s) => Buffer.from(s, 'latin1'))

const FRAGMENTS = [
  'GET', 'POST', 'CONNECT', 'OPTIONS', 'get', ' ', '  ', '/', '/path', '?q=1', '*', 'http://h', 'h:443',
  ' HTTP/1.1', ' HTTP/1.0', ' HTTP/2.0', ' HTTP/1.', 'HTTP/', '\r\n', '\r\n\r\n', '\r', '\n', '\t',
  'Host: h', 'Host:', 'Content-Length: ', 'Content-Length: 5', 'Transfer-Encoding: chunked', 'Transfer-Encoding: gzip',
  'Connection: close', 'Connection: upgrade', 'Upgrade: x', 'Expect: 100-continue', 'X-A: b', ':', ': ', ';', '=', '"',
  '\\', ',', '0', '5', 'a', 'F', 'ffff', '0\r\n\r\n', '5\r\nhello\r\n', '\x00', '\x7f', '\x80', '\xff', 'hello',
]

const SPECIAL = [0x0d, 0x0a, 0x20, 0x3a, 0x00, 0x09, 0x3b, 0x3d, 0x22, 0x5c, 0x2c, 0x7f, 0x80, 0xff]

function randomBytes(rand: Rand): Buffer {
  const length = int(rand, 300)
  const out = Buffer.alloc(length)
  const printable = rand() < 0.5
  for (let i = 0; i < length; i++) out[i] = printable && rand() < 0.9 ? 0x20 + int(rand, 0x5f) : int(rand, 256)
  return out
}

function randomFragments(rand: Rand): Buffer {
  const parts: string[] = []
  const n = 1 + int(rand, 40)
  for (let i = 0; i < n; i++) parts.push(rand() < 0.95 ? pick(rand, FRAGMENTS) : String.fromCharCode(int(rand, 256)))
  return Buffer.from(parts.join(''), 'latin1')
}

function mutate(rand: Rand, input: Buffer): Buffer {
  let bytes = Buffer.from(input)
  const count = 1 + int(rand, 4)
  for (let k = 0; k < count; k++) {
    const at = int(rand, bytes.length + 1)
    switch (int(rand, 8)) {
      case 0: // flip a bit
        if (at < bytes.length) bytes[at] ^= 1 << int(rand, 8)
        break
      case 1: // insert a random byte
        bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from([int(rand, 256)]), bytes.subarray(at)])
        break
      case 2: // delete a few bytes
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1 + int(rand, 4))])
        break
      case 3: {
        // duplicate a range
        const end = Math.min(bytes.length, at + 1 + int(rand, 32))
        bytes = Buffer.concat([bytes.subarray(0, end), bytes.subarray(at, end), bytes.subarray(end)])
        break
      }
      case 4: // splice in CR, LF, SP, colon, NUL, ...
        bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from([pick(rand, SPECIAL)]), bytes.subarray(at)])
        break
      case 5: // overwrite with one of those
        if (at < bytes.length) bytes[at] = pick(rand, SPECIAL)
        break
      case 6: // truncate
        bytes = bytes.subarray(0, at)
        break
      case 7: {
        // turn one CRLF into a bare LF or a bare CR
        const crlf = bytes.indexOf('\r\n', at)
        if (crlf !== -1) bytes = Buffer.concat([bytes.subarray(0, crlf), bytes.subarray(crlf + (rand() < 0.5 ? 1 : 0), crlf + 1), bytes.subarray(crlf + 2)])
        break
      }
    }
  }
  return bytes
}

// ---- running one input

const SMALL: Partial<ParserLimits> = { maxRequestLineBytes: 48, maxHeaderBytes: 96, maxHeaderFields: 4, maxBodyBytes: 24 }
const LIMITS: Partial<ParserLimits>[] = [{}, {}, { requireHost: false }, SMALL, { ...SMALL, requireHost: false }]

function describe(input: Buffer, extra: string): string {
  return `seed ${seed}, ${extra}, input (hex) ${input.toString('hex')}`
}

function checkRun(run: TracedRun, input: Buffer, maxPiece: number, where: string): void {
  if (run.thrown !== undefined) assert.unreachable(`${where}: the parser threw ${String((run.thrown as Error)?.stack ?? run.thrown)}`)
  assert.not.ok(run.runaway, `${where}: more than ${10 * input.length + 100} next() calls`)
  assert.equal(run.violations, [], `${where}: events out of order`)
  if (run.stop === 'error') {
    const error = run.error
    assert.instance(error, HttpError, `${where}: the error is an HttpError`)
    assert.ok(Number.isInteger(error!.status) && error!.status >= 400 && error!.status <= 505, `${where}: status ${error!.status}`)
    assert.match(error!.code, /^[A-Z][A-Z0-9_]+$/, `${where}: a code`)
  }
  const end = run.parser.finish()
  assert.ok(end === null || end instanceof HttpError, `${where}: finish()`)
  assert.is(run.maxBufferedAtNeedData, 0, `${where}: bytes left unconsumed when the parser asked for more`)
  assert.ok(run.maxBufferedAfterFeed <= maxPiece, `${where}: ${run.maxBufferedAfterFeed} bytes buffered with pieces of at most ${maxPiece}`)
  for (const m of run.messages) {
    const { headers } = m.head
    assert.ok(headers.length % 2 === 0, `${where}: headers come in pairs`)
    for (let i = 0; i < headers.length; i += 2) assert.ok(headers[i] === headers[i].toLowerCase(), `${where}: field names are lower-case`)
    if (m.complete && !m.head.chunked) assert.is(m.body.length, m.head.contentLength, `${where}: a complete body has its Content-Length`)
    if (m.head.chunked) assert.is(m.head.contentLength, -1)
  }
}

let inputsRun = 0

function fuzzOne(rand: Rand, input: Buffer, label: string, index: number): void {
  const limits = pick(rand, LIMITS)
  const onPaused = rand() < 0.75 ? ('take' as const) : ('resume' as const)
  const maxNextCalls = 10 * input.length + 100
  const what = describe(input, `${label} #${index}, limits ${JSON.stringify(limits)}, at 'paused': ${onPaused}`)

  const whole = driveTraced(input, { limits, onPaused, maxNextCalls })
  checkRun(whole, input, Math.max(input.length, 1), `whole (${what})`)
  const expected = summarize(whole)

  const bytewise = driveTraced(input, { pieces: 1, limits, onPaused, maxNextCalls })
  checkRun(bytewise, input, 1, `byte by byte (${what})`)
  assert.equal(summarize(bytewise), expected, `byte by byte gives what whole gives (${what})`)

  const largest = pick(rand, [2, 3, 8, 32, Math.max(2, input.length)])
  const sizes: number[] = []
  const pieces = (n: number): number => (sizes[n] ??= 1 + int(rand, largest))
  const piecewise = driveTraced(input, { pieces, limits, onPaused, maxNextCalls })
  checkRun(piecewise, input, largest, `in pieces ${sizes.join(',')} (${what})`)
  assert.equal(summarize(piecewise), expected, `pieces ${sizes.join(',')} give what whole gives (${what})`)
  inputsRun++
}

// ---- the tests

const test = suite(`parser fuzz (seed ${seed})`)

const n = (count: number): number => Math.max(1, Math.round(count * scale))

test(`seed ${seed}: ${n(600)} inputs of random bytes`, () => {
  const rand = streamFor('random bytes')
  for (let i = 0; i < n(600); i++) fuzzOne(rand, randomBytes(rand), 'random bytes', i)
})

test(`seed ${seed}: ${n(800)} inputs of random HTTP fragments`, () => {
  const rand = streamFor('fragments')
  for (let i = 0; i < n(800); i++) fuzzOne(rand, randomFragments(rand), 'fragments', i)
})

test(`seed ${seed}: ${n(1400)} mutations of the ${corpus.length} llhttp corpus requests`, () => {
  assert.ok(corpus.length > 100, 'the corpus is there')
  const rand = streamFor('corpus')
  for (let i = 0; i < n(1400); i++) {
    const base = rand() < 0.1 ? Buffer.concat([pick(rand, corpus), pick(rand, corpus)]) : pick(rand, corpus)
    fuzzOne(rand, mutate(rand, base), 'corpus mutation', i)
  }
})

test(`seed ${seed}: ${n(800)} mutations of valid requests`, () => {
  const rand = streamFor('valid')
  for (let i = 0; i < n(800); i++) {
    const base = rand() < 0.2 ? Buffer.concat([pick(rand, VALID), pick(rand, VALID)]) : pick(rand, VALID)
    fuzzOne(rand, mutate(rand, base), 'valid mutation', i)
  }
})

test('the unmutated inputs themselves hold the same properties', () => {
  const rand = streamFor('unmutated')
  corpus.forEach((input, i) => fuzzOne(rand, input, 'corpus', i))
  VALID.forEach((input, i) => {
    fuzzOne(rand, input, 'valid', i)
    const run = driveTraced(input)
    assert.ok(run.stop !== 'error', `valid request ${i} is accepted: ${run.error?.code}`)
  })
})

test('every input was run', () => {
  assert.is(inputsRun, n(600) + n(800) + n(1400) + n(800) + corpus.length + VALID.length)
})

test.run()

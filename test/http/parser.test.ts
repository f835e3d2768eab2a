// The request parser against RFC 9112 (HTTP/1.1 message syntax) and the parts of RFC 9110
// it enforces, as tables of byte strings and what must come of them.
//
// Every case runs four ways: whole, one byte at a time, and both of those with the bytes
// of a next request trailing. With the next request trailing, an accepted keep-alive
// request must leave it to parse as its own message, a request that closes the
// connection must refuse it (DATA_AFTER_CLOSE), an error must be the same error, and a
// paused (Upgrade/CONNECT) request must hand it over with the rest. Whole and byte-by-byte
// runs must come out identical, and the parser must have consumed every byte it was
// given each time it asks for more.
//
// Inputs are latin1 byte strings ('\r\n' is CR LF, '\xc3' is the byte 0xC3) or hex.

import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { HttpError } from '../../src/http/errors.ts'
import { RequestParser, type ParserLimits, type RequestHead } from '../../src/http/parser.ts'
import { driveTraced, summarize, type ParsedMessage, type TracedRun } from '../helpers/drive.ts'

// ---- the table machinery

/** What a message must have: any head property, and its body (latin1) and trailers. */
type Msg = Partial<Omit<RequestHead, 'type'>> & { body?: string; trailers?: string[] }

type Expect =
  /** Complete messages, exactly these; the input ends cleanly after them. */
  | { accept: Msg[] }
  /** An error, after these complete messages. */
  | { refuse: { status: number; code: string }; after: Msg[] }
  /** These complete messages, the last an Upgrade or CONNECT; then these bytes belong to another protocol. */
  | { pause: Msg[]; rest: string }
  /** The input ends inside a message: finish() says INCOMPLETE_MESSAGE. These heads arrived. */
  | { incomplete: Msg[] }

type Case = [name: string, input: string | Buffer, expect: Expect, limits?: Partial<ParserLimits>]

const accepts = (...messages: Msg[]): Expect => ({ accept: messages })
const refuses = (status: number, code: string, ...after: Msg[]): Expect => ({ refuse: { status, code }, after })
const pauses = (rest: string, ...messages: Msg[]): Expect => ({ pause: messages, rest })
const incomplete = (...heads: Msg[]): Expect => ({ incomplete: heads })

/** Bytes from hex digits; spaces are ignored. */
function hex(digits: string): Buffer {
  return Buffer.from(digits.replace(/\s+/g, ''), 'hex')
}

function bytes(input: string | Buffer): Buffer {
  return typeof input === 'string' ? Buffer.from(input, 'latin1') : input
}

/** prefix + fill + suffix, exactly `length` bytes long. */
function exactly(length: number, prefix: string, suffix: string, fill = 'a'): string {
  const n = length - prefix.length - suffix.length
  if (n < 0) throw new Error(`cannot make ${length} bytes from ${JSON.stringify(prefix)} and ${JSON.stringify(suffix)}`)
  return prefix + fill.repeat(n) + suffix
}

const NEXT = 'GET /n HTTP/1.1\r\nHost: n\r\n\r\n'

function trace(input: Buffer, pieces: number, limits: Partial<ParserLimits> | undefined, where: string): TracedRun {
  const run = driveTraced(input, { pieces, limits, maxNextCalls: 10 * input.length + 100 })
  if (run.thrown) throw run.thrown
  assert.not.ok(run.runaway, `${where}: next() keeps returning events`)
  assert.equal(run.violations, [], `${where}: events in order`)
  assert.is(run.maxBufferedAtNeedData, 0, `${where}: every byte fed is consumed before the parser asks for more`)
  if (pieces === 1) assert.ok(run.maxBufferedAfterFeed <= 1, `${where}: never more than the one byte just fed is buffered`)
  return run
}

function matchMessage(got: ParsedMessage | undefined, want: Msg, where: string): void {
  assert.ok(got, `${where}: missing`)
  for (const [key, value] of Object.entries(want)) {
    if (key === 'body') assert.is(got!.body.toString('latin1'), value, `${where}: body`)
    else if (key === 'trailers') assert.equal(got!.trailers, value, `${where}: trailers`)
    else assert.equal(got!.head[key as keyof RequestHead], value, `${where}: ${key}`)
  }
}

function matchMessages(run: TracedRun, want: Msg[], where: string): void {
  want.forEach((m, i) => matchMessage(run.messages[i], m, `${where}, message ${i + 1}`))
}

function complete(run: TracedRun): number {
  return run.messages.filter((m) => m.complete).length
}

function checkError(error: HttpError | null, want: { status: number; code: string }, where: string): void {
  assert.instance(error, HttpError, `${where}: an HttpError`)
  assert.is(error!.code, want.code, `${where}: code (${error!.message})`)
  assert.is(error!.status, want.status, `${where}: status`)
  if (want.code === 'BARE_LF') {
    assert.match(error!.message, 'CRLF', `${where}: the message says lines end with CRLF`)
    assert.match(error!.message, 'nc -C', `${where}: the message names nc -C`)
  }
}

function check(expect: Expect, run: TracedRun, where: string): void {
  if ('accept' in expect) {
    assert.is(run.stop, 'need-data', `${where}: accepted${run.error ? `, not ${run.error.code}: ${run.error.message}` : ''}`)
    assert.is(run.messages.length, expect.accept.length, `${where}: messages`)
    assert.is(complete(run), expect.accept.length, `${where}: complete messages`)
    matchMessages(run, expect.accept, where)
    assert.is(run.parser.finish(), null, `${where}: the input may end here`)
  } else if ('refuse' in expect) {
    assert.is(run.stop, 'error', `${where}: refused`)
    checkError(run.error, expect.refuse, where)
    assert.is(complete(run), expect.after.length, `${where}: complete messages before the error`)
    matchMessages(run, expect.after, where)
    assert.is(run.parser.finish(), run.error, `${where}: finish() repeats the error`)
    const again = run.parser.next()
    assert.ok(again.type === 'error' && again.error === run.error, `${where}: the parser stays failed`)
  } else if ('pause' in expect) {
    assert.is(run.stop, 'paused', `${where}: paused${run.error ? `, not ${run.error.code}: ${run.error.message}` : ''}`)
    assert.is(complete(run), expect.pause.length, `${where}: complete messages`)
    matchMessages(run, expect.pause, where)
    assert.is(run.rest.toString('latin1'), expect.rest, `${where}: the bytes after the request`)
  } else {
    assert.is(run.stop, 'need-data', `${where}: waits for more${run.error ? `, not ${run.error.code}: ${run.error.message}` : ''}`)
    matchMessages(run, expect.incomplete, where)
    const end = run.parser.finish()
    assert.is(end?.code, 'INCOMPLETE_MESSAGE', `${where}: ending here leaves the message incomplete`)
    assert.is(end?.status, 400)
  }
}

function checkWithNext(expect: Expect, run: TracedRun, where: string): void {
  if ('accept' in expect) {
    const n = expect.accept.length
    matchMessages(run, expect.accept, where)
    if (n === 0 || run.messages[n - 1].head.keepAlive) {
      assert.is(run.stop, 'need-data', `${where}: accepted${run.error ? `, not ${run.error.code}: ${run.error.message}` : ''}`)
      assert.is(run.messages.length, n + 1, `${where}: the next request is a message of its own`)
      matchMessage(run.messages[n], { method: 'GET', target: '/n', headers: ['host', 'n'], body: '' }, `${where}, the next request`)
      assert.is(complete(run), n + 1)
    } else {
      assert.is(run.stop, 'error', `${where}: no request may follow one that closes the connection`)
      checkError(run.error, { status: 400, code: 'DATA_AFTER_CLOSE' }, where)
      assert.is(complete(run), n)
    }
  } else if ('refuse' in expect) {
    assert.is(run.stop, 'error', `${where}: refused`)
    checkError(run.error, expect.refuse, where)
    assert.is(complete(run), expect.after.length, `${where}: complete messages before the error`)
  } else if ('pause' in expect) {
    assert.is(run.stop, 'paused', `${where}: paused`)
    matchMessages(run, expect.pause, where)
    assert.is(run.rest.toString('latin1'), expect.rest + NEXT, `${where}: the next request goes with the rest`)
  }
  // An incomplete message would rightly take the next request's bytes as its own:
  // there, only "whole and byte by byte agree" is checked.
}

function table(title: string, cases: Case[]): void {
  const test = suite(title)
  for (const [name, input, expect, limits] of cases) {
    test(name, () => {
      const alone = bytes(input)
      const withNext = Buffer.concat([alone, bytes(NEXT)])
      const whole = trace(alone, Infinity, limits, 'whole')
      const bytewise = trace(alone, 1, limits, 'byte by byte')
      check(expect, whole, 'whole')
      check(expect, bytewise, 'byte by byte')
      assert.equal(summarize(bytewise), summarize(whole), 'byte by byte gives what whole gives')
      const wholeNext = trace(withNext, Infinity, limits, 'whole, with a next request')
      const bytewiseNext = trace(withNext, 1, limits, 'byte by byte, with a next request')
      checkWithNext(expect, wholeNext, 'whole, with a next request')
      checkWithNext(expect, bytewiseNext, 'byte by byte, with a next request')
      assert.equal(summarize(bytewiseNext), summarize(wholeNext), 'with a next request, byte by byte gives what whole gives')
      if ('refuse' in expect) assert.is(wholeNext.error?.message, whole.error?.message, 'with a next request, the same error message')
    })
  }
  test.run()
}

// ---- RFC 9112 §3: request-line = method SP request-target SP HTTP-version CRLF

table('the request line (RFC 9112 §3)', [
  [
    'accepts an origin-form request and splits its target into path and query',
    'GET /a/b%20c?x=1&y=2 HTTP/1.1\r\nHost: h\r\n\r\n',
    accepts({ method: 'GET', target: '/a/b%20c?x=1&y=2', form: 'origin', path: '/a/b%20c', query: 'x=1&y=2', versionMinor: 1, headers: ['host', 'h'], contentLength: 0, chunked: false, keepAlive: true, upgrade: false, expectContinue: false, body: '', trailers: [] }),
  ],
  ['gives an empty query when the target has "?" and nothing after it', 'GET /p? HTTP/1.1\r\nHost: h\r\n\r\n', accepts({ path: '/p', query: '' })],
  ['treats methods as case-sensitive tokens: "get" is accepted as the method "get"', 'get / HTTP/1.1\r\nHost: h\r\n\r\n', accepts({ method: 'get' })],
  ['accepts any token as a method, leaving unknown methods to the application', "M-SEARCH.x!#$%&'*+^_`|~ / HTTP/1.1\r\nHost: h\r\n\r\n", accepts({ method: "M-SEARCH.x!#$%&'*+^_`|~" })],
  ['rejects a method with a byte outside tchar with 400 INVALID_METHOD', 'GE(T / HTTP/1.1\r\nHost: h\r\n\r\n', refuses(400, 'INVALID_METHOD')],
  ['rejects a method followed by a tab instead of a space with 400 INVALID_METHOD', 'GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n', refuses(400, 'INVALID_METHOD')],
  ['rejects a request line that starts with a space with 400 INVALID_METHOD', ' GET / HTTP/1.1\r\nHost: h\r\n\r\n', refuses(400, 'INVALID_METHOD')],
  [
    'accepts an absolute-form target and extracts its path and query',
    'GET http://example.com:8080/p/q?k=v HTTP/1.1\r\nHost: example.com:8080\r\n\r\n',
    accepts({ target: 'http://example.com:8080/p/q?k=v', form: 'absolute', path: '/p/q', query: 'k=v' }),
  ],
  ['gives the path "/" for an absolute-form target without a path ("http://host")', 'GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n', accepts({ form: 'absolute', path: '/', query: '' })],
  ['gives the path "/" and the query for "http://host?query"', 'GET http://example.com?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n', accepts({ form: 'absolute', path: '/', query: 'q=1' })],
  ['accepts an https absolute-form target, the scheme in any case', 'GET HTTPS://example.com/x HTTP/1.1\r\nHost: example.com\r\n\r\n', accepts({ form: 'absolute', path: '/x' })],
  ['rejects a relative target that is neither origin-form nor absolute-form with 400 INVALID_TARGET', 'GET a/b HTTP/1.1\r\nHost: h\r\n\r\n', refuses(400, 'INVALID_TARGET')],
  [
    'accepts the authority-form with CONNECT, and pauses after it (RFC 9112 §3.2.3)',
    'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n',
    pauses('', { method: 'CONNECT', target: 'example.com:443', form: 'authority', path: '', query: '', upgrade: true, contentLength: 0 }),
  ],
  ['accepts an IPv6 literal in the authority-form', 'CONNECT [2001:db8::1]:443 HTTP/1.1\r\nHost: [2001:db8::1]:443\r\n\r\n', pauses('', { form: 'authority', target: '[2001:db8::1]:443' })],
  ['rejects CONNECT with the origin-form target "/" with 400 INVALID_TARGET', 'CONNECT / HTTP/1.1\r\nHost: h\r\n\r\n', refuses(400, 'INVALID_TARGET')],
  ['rejects CONNECT with an authority that has no port with 400 INVALID_TARGET', 'CONNECT example.com HTTP/1.1\r\nHost: example.com\r\n\r\n', refuses(400, 'INVALID_TARGET')],
  ['rejects the authority-form with a method other than CONNECT with 400 INVALID_TARGET', 'GET example.com:80 HTTP/1.1\r\nHost: example.com\r\n\r\n', refuses(400, 'INVALID_TARGET')],
  ['accepts the asterisk-form with OPTIONS (RFC 9112 §3.2.4)', 'OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n', accepts({ method: 'OPTIONS', target: '*', form: 'asterisk', path: '', query: '' })],
  ['rejects the asterisk-form with a method other than OPTIONS with 400 INVALID_TARGET', 'GET * HTTP/1.1\r\nHost: h\r\n\r\n', refuses(400, 'INVALID_TARGET')],
  ['accepts HTTP/1.1 as versionMinor 1', 'GET / HTTP/1.1\r\nHost: h\r\n\r\n', accepts({ versionMinor: 1 })],
  ['accepts HTTP/1.0 as versionMinor 0', 'GET / HTTP/1.0\r\n\r\n', accepts({ versionMinor: 0 })],
  ['serves HTTP/1.2 as HTTP/1.1, versionMinor 1 (RFC 9110 §2.5)', 'GET / HTTP/1.2\r\nHost: h\r\n\r\n', accepts({ versionMinor: 1 })],
  ['serves HTTP/1.9 as HTTP/1.1, versionMinor 1', 'GET / HTTP/1.9\r\nHost: h\r\n\r\n', accepts({ versionMinor: 1 })],
  ['refuses HTTP/2.0 with 505 VERSION_NOT_SUPPORTED', 'GET / HTTP/2.0\r\nHost: h\r\n\r\n', refuses(505, 'VERSION_NOT_SUPPORTED')],
  ['refuses HTTP/0.9 with 505 VERSION_NOT_SUPPORTED', 'GET / HTTP/0.9\r\nHost: h\r\n\r\n', refuses(505, 'VERSION_NOT_SUPPORTED')],
  ['refuses HTTP/3.0 with 505 VERSION_NOT_SUPPORTED', 'GET / HTTP/3.0\r\nHost: h\r\n\r\n', refuses(505, 'VERSION_NOT_SUPPORTED')],
  ['rejects a lower-case "http/1.1" with 400 INVALID_VERSION', 'GET / http/1.1\r\nHost: h\r\n\r\n', refuses(400, 'INVALID_VERSION')],
  ['rejects "HTTP/1.x" with 400 INVALID_VERSION', 'GET / HTTP/1.x\r\nHost: h\r\n\r\n', refuses(400, 'INVALID_VERSION')],
  ['rejects "HTTP/1" without a minor version with 400 INVALID_VERSION', 'GET / HTTP/1\r\nHost: h\r\n\r\n', refuses(400, 'INVALID_VERSION')],
  ['rejects "HTTP/11" without the dot with 400 INVALID_VERSION', 'GET / HTTP/11\r\nHost: h\r\n\r\n', refuses(400, 'INVALID_VERSION')],
  ['rejects "HTTP/1.10" (two minor digits) with 400 INVALID_VERSION', 'GET / HTTP/1.10\r\nHost: h\r\n\r\n', refuses(400, 'INVALID_VERSION')],
  ['rejects "HTTP/10.0" (two major digits) with 400 INVALID_VERSION', 'GET / HTTP/10.0\r\nHost: h\r\n\r\n', refuses(400, 'INVALID_VERSION')],
  ['rejects "HTTP/A.1" with 400 INVALID_VERSION', 'GET / HTTP/A.1\r\nHost: h\r\n\r\n', refuses(400, 'INVALID_VERSION')],
  ['rejects a space after the version with 400 INVALID_VERSION', 'GET / HTTP/1.1 \r\nHost: h\r\n\r\n', refuses(400, 'INVALID_VERSION')],
  ['rejects two spaces between the method and the target with 400 INVALID_TARGET', 'GET  / HTTP/1.1\r\nHost: h\r\n\r\n', refuses(400, 'INVALID_TARGET')],
  ['rejects two spaces between the target and the version with 400 INVALID_VERSION', 'GET /  HTTP/1.1\r\nHost: h\r\n\r\n', refuses(400, 'INVALID_VERSION')],
  ['rejects a request line without a version (HTTP/0.9 style) with 400 MISSING_VERSION', 'GET /\r\nHost: h\r\n\r\n', refuses(400, 'MISSING_VERSION')],
  ['rejects a request line that ends after the space before the version with 400 INVALID_VERSION', 'GET / \r\nHost: h\r\n\r\n', refuses(400, 'INVALID_VERSION')],
  ['rejects raw UTF-8 (bytes >= 0x80) in the target with 400 INVALID_TARGET', 'GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n', refuses(400, 'INVALID_TARGET')],
  ['rejects the byte 0x80 in the target with 400 INVALID_TARGET', hex('47 45 54 20 2f 80 20 48 54 54 50 2f 31 2e 31 0d 0a 0d 0a'), refuses(400, 'INVALID_TARGET')],
  ['rejects a control byte in the target with 400 INVALID_TARGET', 'GET /a\x01b HTTP/1.1\r\nHost: h\r\n\r\n', refuses(400, 'INVALID_TARGET')],
  ['rejects DEL in the target with 400 INVALID_TARGET', 'GET /a\x7fb HTTP/1.1\r\nHost: h\r\n\r\n', refuses(400, 'INVALID_TARGET')],
  ['rejects a tab inside the target with 400 INVALID_TARGET', 'GET /a\tb HTTP/1.1\r\nHost: h\r\n\r\n', refuses(400, 'INVALID_TARGET')],
  ['ignores empty lines (CRLF) before the request line (RFC 9112 §2.2)', '\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n', accepts({ method: 'GET', target: '/' })],
  ['ignores an empty line between two requests', 'GET /1 HTTP/1.1\r\nHost: h\r\n\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n', accepts({ target: '/1' }, { target: '/2' })],
])

// ---- RFC 9112 §5 and RFC 9110 §5: field-line = field-name ":" OWS field-value OWS

table('field lines (RFC 9112 §5, RFC 9110 §5)', [
  [
    'lower-cases field names and keeps the fields, values as sent, in arrival order',
    'GET / HTTP/1.1\r\nHost: h\r\nX-Custom-Header: MiXeD\r\nACCEPT: */*\r\naccept: text/html\r\n\r\n',
    accepts({ headers: ['host', 'h', 'x-custom-header', 'MiXeD', 'accept', '*/*', 'accept', 'text/html'] }),
  ],
  ['strips leading and trailing OWS from a value and keeps inner spaces and tabs', 'GET / HTTP/1.1\r\nHost: h\r\nX-A: \t a  b\tc \t \r\n\r\n', accepts({ headers: ['host', 'h', 'x-a', 'a  b\tc'] })],
  ['accepts a field without a space after the colon', 'GET / HTTP/1.1\r\nHost:h\r\nX-A:v\r\n\r\n', accepts({ headers: ['host', 'h', 'x-a', 'v'] })],
  ['accepts an empty field value and one that is only whitespace', 'GET / HTTP/1.1\r\nHost: h\r\nX-E:\r\nX-W: \t \r\n\r\n', accepts({ headers: ['host', 'h', 'x-e', '', 'x-w', ''] })],
  ['keeps a colon inside a value', 'GET / HTTP/1.1\r\nHost: h\r\nX-Time: 12:30:00\r\n\r\n', accepts({ headers: ['host', 'h', 'x-time', '12:30:00'] })],
  [
    'keeps obs-text (bytes 0xC3 0xBC) in a value as latin1 characters',
    Buffer.concat([bytes('GET / HTTP/1.1\r\nHost: h\r\nX-Name: gr'), hex('c3 bc'), bytes('n\r\n\r\n')]),
    accepts({ headers: ['host', 'h', 'x-name', 'gr\u00c3\u00bcn'] }),
  ],
  ['rejects a space between the field name and the colon with 400 WHITESPACE_BEFORE_COLON', 'GET / HTTP/1.1\r\nHost : h\r\n\r\n', refuses(400, 'WHITESPACE_BEFORE_COLON')],
  ['rejects a tab between the field name and the colon with 400 WHITESPACE_BEFORE_COLON', 'GET / HTTP/1.1\r\nHost\t: h\r\n\r\n', refuses(400, 'WHITESPACE_BEFORE_COLON')],
  ['rejects obs-fold (a line starting with a space) with 400 OBS_FOLD (RFC 9112 §5.2)', 'GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n', refuses(400, 'OBS_FOLD')],
  ['rejects obs-fold with a tab with 400 OBS_FOLD', 'GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n\tb\r\n\r\n', refuses(400, 'OBS_FOLD')],
  ['rejects whitespace between the request line and the first field with 400 WHITESPACE_BEFORE_FIELDS (RFC 9112 §2.2)', 'GET / HTTP/1.1\r\n Host: h\r\n\r\n', refuses(400, 'WHITESPACE_BEFORE_FIELDS')],
  ['rejects NUL in a value with 400 INVALID_FIELD_VALUE', 'GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x00b\r\n\r\n', refuses(400, 'INVALID_FIELD_VALUE')],
  ['rejects the control byte 0x01 in a value with 400 INVALID_FIELD_VALUE', 'GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x01b\r\n\r\n', refuses(400, 'INVALID_FIELD_VALUE')],
  ['rejects a vertical tab in a value with 400 INVALID_FIELD_VALUE', 'GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x0bb\r\n\r\n', refuses(400, 'INVALID_FIELD_VALUE')],
  ['rejects a form feed in a value with 400 INVALID_FIELD_VALUE', 'GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x0cb\r\n\r\n', refuses(400, 'INVALID_FIELD_VALUE')],
  ['rejects the control byte 0x1F in a value with 400 INVALID_FIELD_VALUE', 'GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x1fb\r\n\r\n', refuses(400, 'INVALID_FIELD_VALUE')],
  ['rejects DEL (0x7F) in a value with 400 INVALID_FIELD_VALUE', 'GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x7fb\r\n\r\n', refuses(400, 'INVALID_FIELD_VALUE')],
  ['rejects a field line without a colon with 400 MISSING_COLON', 'GET / HTTP/1.1\r\nHost: h\r\nX-No-Colon\r\n\r\n', refuses(400, 'MISSING_COLON')],
  ['rejects an empty field name with 400 INVALID_FIELD_NAME', 'GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n', refuses(400, 'INVALID_FIELD_NAME')],
  ['rejects a field name with a byte outside tchar with 400 INVALID_FIELD_NAME', 'GET / HTTP/1.1\r\nHost: h\r\nX(A): v\r\n\r\n', refuses(400, 'INVALID_FIELD_NAME')],
  ['rejects a field name with a byte >= 0x80 with 400 INVALID_FIELD_NAME', 'GET / HTTP/1.1\r\nHost: h\r\nX-\xe9: v\r\n\r\n', refuses(400, 'INVALID_FIELD_NAME')],
])

// ---- RFC 9112 §2.2: lines end with CRLF; a bare CR is invalid; a bare LF is refused here

const CHUNKED = 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n'

table('line endings (RFC 9112 §2.2)', [
  ['rejects a bare LF before the request line with 400 BARE_LF', '\nGET / HTTP/1.1\r\nHost: h\r\n\r\n', refuses(400, 'BARE_LF')],
  ['rejects a bare LF ending the request line with 400 BARE_LF', 'GET / HTTP/1.1\nHost: h\r\n\r\n', refuses(400, 'BARE_LF')],
  ['rejects a bare LF ending a field line with 400 BARE_LF', 'GET / HTTP/1.1\r\nHost: h\nX-A: b\r\n\r\n', refuses(400, 'BARE_LF')],
  ['rejects a bare LF ending a field line with an empty value with 400 BARE_LF', 'GET / HTTP/1.1\r\nHost: h\r\nX-A:\n\r\n', refuses(400, 'BARE_LF')],
  ['rejects a bare LF ending the header section with 400 BARE_LF', 'GET / HTTP/1.1\r\nHost: h\r\n\n', refuses(400, 'BARE_LF')],
  ['rejects a bare LF ending a chunk-size line with 400 BARE_LF', CHUNKED + '5\nhello\r\n0\r\n\r\n', refuses(400, 'BARE_LF')],
  ['rejects a bare LF ending a chunk-size line with an extension with 400 BARE_LF', CHUNKED + '5;a=b\nhello\r\n0\r\n\r\n', refuses(400, 'BARE_LF')],
  ['rejects a bare LF after chunk data with 400 BARE_LF', CHUNKED + '5\r\nhello\n0\r\n\r\n', refuses(400, 'BARE_LF')],
  ['rejects a bare LF ending the last-chunk line with 400 BARE_LF', CHUNKED + '0\n\r\n', refuses(400, 'BARE_LF')],
  ['rejects a bare LF ending a trailer field line with 400 BARE_LF', CHUNKED + '0\r\nX-T: 1\n\r\n', refuses(400, 'BARE_LF')],
  ['rejects a bare LF ending the trailer section with 400 BARE_LF', CHUNKED + '0\r\nX-T: 1\r\n\n', refuses(400, 'BARE_LF')],
  ['rejects a bare LF ending an empty trailer section with 400 BARE_LF', CHUNKED + '0\r\n\n', refuses(400, 'BARE_LF')],
  ['rejects a bare CR before the request line with 400 BARE_CR', '\rGET / HTTP/1.1\r\nHost: h\r\n\r\n', refuses(400, 'BARE_CR')],
  ['rejects a bare CR after the version with 400 BARE_CR', 'GET / HTTP/1.1\rHost: h\r\n\r\n', refuses(400, 'BARE_CR')],
  ['rejects a bare CR inside a field value with 400 BARE_CR', 'GET / HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n', refuses(400, 'BARE_CR')],
  ['rejects a bare CR where the header section ends with 400 BARE_CR', 'GET / HTTP/1.1\r\nHost: h\r\n\r\r\n', refuses(400, 'BARE_CR')],
  ['rejects a bare CR in a chunk-size line with 400 BARE_CR', CHUNKED + '5\rhello\r\n0\r\n\r\n', refuses(400, 'BARE_CR')],
  ['rejects chunk data followed by a bare CR with 400 CHUNK_DATA_NOT_TERMINATED', CHUNKED + '5\r\nhello\rX0\r\n\r\n', refuses(400, 'CHUNK_DATA_NOT_TERMINATED')],
])

// ---- RFC 9112 §6: message body length

table('Content-Length (RFC 9110 §8.6, RFC 9112 §6.2, §6.3)', [
  [
    'reads exactly Content-Length bytes as the body',
    'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello',
    accepts({ contentLength: 5, chunked: false, body: 'hello' }),
  ],
  ['gives a request without Content-Length or Transfer-Encoding an empty body (RFC 9112 §6.3 item 7)', 'POST / HTTP/1.1\r\nHost: h\r\n\r\n', accepts({ contentLength: 0, chunked: false, body: '' })],
  ['accepts Content-Length: 0', 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n', accepts({ contentLength: 0, body: '' })],
  ['accepts leading zeros in Content-Length', 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0005\r\n\r\nhello', accepts({ contentLength: 5, body: 'hello' })],
  ['accepts OWS around the Content-Length value', 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: \t 5 \t\r\n\r\nhello', accepts({ contentLength: 5, body: 'hello' })],
  ['accepts identical duplicate Content-Length fields', 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello', accepts({ contentLength: 5, body: 'hello' })],
  ['rejects Content-Length "4 2" with 400 INVALID_CONTENT_LENGTH', 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4 2\r\n\r\n', refuses(400, 'INVALID_CONTENT_LENGTH')],
  ['rejects Content-Length "+5" with 400 INVALID_CONTENT_LENGTH', 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\nhello', refuses(400, 'INVALID_CONTENT_LENGTH')],
  ['rejects Content-Length "-1" with 400 INVALID_CONTENT_LENGTH', 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n', refuses(400, 'INVALID_CONTENT_LENGTH')],
  ['rejects an empty Content-Length with 400 INVALID_CONTENT_LENGTH', 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n', refuses(400, 'INVALID_CONTENT_LENGTH')],
  ['rejects Content-Length "0x5" with 400 INVALID_CONTENT_LENGTH', 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x5\r\n\r\nhello', refuses(400, 'INVALID_CONTENT_LENGTH')],
  ['rejects a Content-Length list "5, 5" with 400 INVALID_CONTENT_LENGTH', 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\nhello', refuses(400, 'INVALID_CONTENT_LENGTH')],
  [
    'rejects differing duplicate Content-Length fields with 400 CONFLICTING_CONTENT_LENGTH',
    'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
    refuses(400, 'CONFLICTING_CONTENT_LENGTH'),
  ],
  ['rejects a Content-Length of 2^53 with 400 CONTENT_LENGTH_OVERFLOW', 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9007199254740992\r\n\r\n', refuses(400, 'CONTENT_LENGTH_OVERFLOW')],
  ['rejects a 30-digit Content-Length with 400 CONTENT_LENGTH_OVERFLOW', 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 123456789012345678901234567890\r\n\r\n', refuses(400, 'CONTENT_LENGTH_OVERFLOW')],
  ['refuses a Content-Length of 2^53 - 1 as too large a body: 413 BODY_TOO_LARGE', 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9007199254740991\r\n\r\n', refuses(413, 'BODY_TOO_LARGE')],
  ['accepts a Content-Length exactly at maxBodyBytes', 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789', accepts({ contentLength: 10, body: '0123456789' }), { maxBodyBytes: 10 }],
  ['refuses a Content-Length one over maxBodyBytes with 413 BODY_TOO_LARGE', 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n0123456789A', refuses(413, 'BODY_TOO_LARGE'), { maxBodyBytes: 10 }],
  ['waits for the rest of a Content-Length body (the input ends inside it)', 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhel', incomplete({ contentLength: 5 })],
])

table('Transfer-Encoding (RFC 9112 §6.1, §6.3)', [
  [
    'decodes a chunked body',
    CHUNKED + '5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n',
    accepts({ chunked: true, contentLength: -1, body: 'hello world', trailers: [] }),
  ],
  ['matches "chunked" case-insensitively', 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ChUnKeD\r\n\r\n5\r\nhello\r\n0\r\n\r\n', accepts({ chunked: true, body: 'hello' })],
  ['accepts "chunked" with parameters', 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked ; x=1\r\n\r\n5\r\nhello\r\n0\r\n\r\n', accepts({ chunked: true, body: 'hello' })],
  ['ignores empty elements of the Transfer-Encoding list (RFC 9110 §5.6.1)', 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: , chunked ,\r\n\r\n5\r\nhello\r\n0\r\n\r\n', accepts({ chunked: true, body: 'hello' })],
  ['rejects chunked followed by another coding with 400 CHUNKED_NOT_LAST', 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n', refuses(400, 'CHUNKED_NOT_LAST')],
  ['rejects chunked followed by another coding on a later line with 400 CHUNKED_NOT_LAST', 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n', refuses(400, 'CHUNKED_NOT_LAST')],
  ['rejects chunked applied twice with 400 CHUNKED_NOT_LAST', 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n', refuses(400, 'CHUNKED_NOT_LAST')],
  ['rejects chunked applied twice on two lines with 400 CHUNKED_NOT_LAST', 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n', refuses(400, 'CHUNKED_NOT_LAST')],
  ['refuses a coding it does not implement before chunked with 501 UNSUPPORTED_TRANSFER_CODING', 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', refuses(501, 'UNSUPPORTED_TRANSFER_CODING')],
  ['refuses an unknown coding on its own line before chunked with 501 UNSUPPORTED_TRANSFER_CODING', 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: x-custom\r\nTransfer-Encoding: chunked\r\n\r\n', refuses(501, 'UNSUPPORTED_TRANSFER_CODING')],
  [
    'rejects a request whose final coding is not chunked with 400: its length cannot be determined (RFC 9112 §6.3)',
    'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n',
    refuses(400, 'CHUNKED_NOT_LAST'),
  ],
  ['rejects an empty Transfer-Encoding with 400 INVALID_TRANSFER_ENCODING', 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n\r\n', refuses(400, 'INVALID_TRANSFER_ENCODING')],
  ['rejects a Transfer-Encoding of only commas with 400 INVALID_TRANSFER_ENCODING', 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ,\r\n\r\n', refuses(400, 'INVALID_TRANSFER_ENCODING')],
  [
    'rejects Transfer-Encoding then Content-Length with 400 CONTENT_LENGTH_WITH_TRANSFER_ENCODING',
    'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    refuses(400, 'CONTENT_LENGTH_WITH_TRANSFER_ENCODING'),
  ],
  [
    'rejects Content-Length then Transfer-Encoding with 400 CONTENT_LENGTH_WITH_TRANSFER_ENCODING',
    'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    refuses(400, 'CONTENT_LENGTH_WITH_TRANSFER_ENCODING'),
  ],
  ['rejects Transfer-Encoding in an HTTP/1.0 request with 400 TRANSFER_ENCODING_IN_HTTP_1_0', 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n', refuses(400, 'TRANSFER_ENCODING_IN_HTTP_1_0')],
])

// ---- RFC 9112 §7.1: chunked-body = *chunk last-chunk trailer-section CRLF

table('the chunked coding (RFC 9112 §7.1)', [
  ['reads chunk sizes in lower-case hex', CHUNKED + 'a\r\n0123456789\r\n0\r\n\r\n', accepts({ body: '0123456789' })],
  ['reads chunk sizes in upper-case hex', CHUNKED + 'A\r\n0123456789\r\n0\r\n\r\n', accepts({ body: '0123456789' })],
  ['reads chunk sizes with leading zeros, and a last-chunk of several zeros', CHUNKED + '000a\r\n0123456789\r\n000\r\n\r\n', accepts({ body: '0123456789' })],
  ['reads a two-digit mixed-case chunk size', CHUNKED + '1F\r\n' + 'x'.repeat(31) + '\r\n0\r\n\r\n', accepts({ body: 'x'.repeat(31) })],
  ['accepts a chunk extension with a token value', CHUNKED + '5;name=value\r\nhello\r\n0\r\n\r\n', accepts({ body: 'hello' })],
  ['accepts a chunk extension without a value', CHUNKED + '5;flag\r\nhello\r\n0\r\n\r\n', accepts({ body: 'hello' })],
  ['accepts several chunk extensions with BWS around ";" and "="', CHUNKED + '5 ; a = b ;c;d="e"\t;f\r\nhello\r\n0\r\n\r\n', accepts({ body: 'hello' })],
  ['accepts a quoted chunk extension value with quoted-pairs', CHUNKED + '5;q="a \\"quoted\\" \\\\ value\t\xe9"\r\nhello\r\n0\r\n\r\n', accepts({ body: 'hello' })],
  ['accepts an extension on the last-chunk', CHUNKED + '5\r\nhello\r\n0;done\r\n\r\n', accepts({ body: 'hello' })],
  ['rejects ";" with no extension name with 400 INVALID_CHUNK_EXTENSION', CHUNKED + '5;\r\nhello\r\n0\r\n\r\n', refuses(400, 'INVALID_CHUNK_EXTENSION')],
  ['rejects an extension with "=" and no name with 400 INVALID_CHUNK_EXTENSION', CHUNKED + '5;=v\r\nhello\r\n0\r\n\r\n', refuses(400, 'INVALID_CHUNK_EXTENSION')],
  ['rejects an extension with "=" and no value with 400 INVALID_CHUNK_EXTENSION', CHUNKED + '5;a=\r\nhello\r\n0\r\n\r\n', refuses(400, 'INVALID_CHUNK_EXTENSION')],
  ['rejects an unterminated quoted extension value with 400 INVALID_CHUNK_EXTENSION', CHUNKED + '5;a="open\r\nhello\r\n0\r\n\r\n', refuses(400, 'INVALID_CHUNK_EXTENSION')],
  ['rejects a byte after a quoted extension value with 400 INVALID_CHUNK_EXTENSION', CHUNKED + '5;a="x"y\r\nhello\r\n0\r\n\r\n', refuses(400, 'INVALID_CHUNK_EXTENSION')],
  ['rejects two extension values separated by a space with 400 INVALID_CHUNK_EXTENSION', CHUNKED + '5;a=b c\r\nhello\r\n0\r\n\r\n', refuses(400, 'INVALID_CHUNK_EXTENSION')],
  ['rejects a non-token byte in an extension name with 400 INVALID_CHUNK_EXTENSION', CHUNKED + '5;a(b\r\nhello\r\n0\r\n\r\n', refuses(400, 'INVALID_CHUNK_EXTENSION')],
  ['rejects a control byte in a quoted extension value with 400 INVALID_CHUNK_EXTENSION', CHUNKED + '5;a="\x01"\r\nhello\r\n0\r\n\r\n', refuses(400, 'INVALID_CHUNK_EXTENSION')],
  ['rejects whitespace after the chunk size with no extension with 400 INVALID_CHUNK_EXTENSION', CHUNKED + '5 \r\nhello\r\n0\r\n\r\n', refuses(400, 'INVALID_CHUNK_EXTENSION')],
  ['rejects a chunk line without a size with 400 INVALID_CHUNK_SIZE', CHUNKED + '\r\nhello\r\n0\r\n\r\n', refuses(400, 'INVALID_CHUNK_SIZE')],
  ['rejects a chunk size that is not hex with 400 INVALID_CHUNK_SIZE', CHUNKED + 'g\r\nhello\r\n0\r\n\r\n', refuses(400, 'INVALID_CHUNK_SIZE')],
  ['rejects a chunk size with "0x" with 400 INVALID_CHUNK_SIZE', CHUNKED + '0x5\r\nhello\r\n0\r\n\r\n', refuses(400, 'INVALID_CHUNK_SIZE')],
  ['rejects a negative chunk size with 400 INVALID_CHUNK_SIZE', CHUNKED + '-5\r\nhello\r\n0\r\n\r\n', refuses(400, 'INVALID_CHUNK_SIZE')],
  ['rejects chunk data longer than its size (no CRLF after it) with 400 CHUNK_DATA_NOT_TERMINATED', CHUNKED + '5\r\nhello world\r\n0\r\n\r\n', refuses(400, 'CHUNK_DATA_NOT_TERMINATED')],
  ['rejects chunk data followed by LF CR with 400 BARE_LF', CHUNKED + '5\r\nhello\n\r0\r\n\r\n', refuses(400, 'BARE_LF')],
  [
    'returns trailer fields in the end event, not in the head (RFC 9112 §7.1.2)',
    CHUNKED + '5\r\nhello\r\n0\r\nX-Checksum: abc\r\nX-Other:  two words \r\n\r\n',
    accepts({ headers: ['host', 'h', 'transfer-encoding', 'chunked'], body: 'hello', trailers: ['x-checksum', 'abc', 'x-other', 'two words'] }),
  ],
  ['rejects obs-fold in the trailer section with 400 OBS_FOLD', CHUNKED + '0\r\nX-A: 1\r\n 2\r\n\r\n', refuses(400, 'OBS_FOLD')],
  ['rejects a control byte in a trailer value with 400 INVALID_FIELD_VALUE', CHUNKED + '0\r\nX-A: \x00\r\n\r\n', refuses(400, 'INVALID_FIELD_VALUE')],
  ['accepts chunks whose sizes add up to exactly maxBodyBytes', CHUNKED + '5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n', accepts({ body: 'helloworld' }), { maxBodyBytes: 10 }],
  ['refuses chunks whose sizes add up to one over maxBodyBytes with 413 BODY_TOO_LARGE', CHUNKED + '5\r\nhello\r\n6\r\nworld!\r\n0\r\n\r\n', refuses(413, 'BODY_TOO_LARGE'), { maxBodyBytes: 10 }],
  ['refuses a single chunk over maxBodyBytes with 413 BODY_TOO_LARGE before its data arrives', CHUNKED + 'b\r\n', refuses(413, 'BODY_TOO_LARGE'), { maxBodyBytes: 10 }],
  ['refuses a 40-digit chunk size with 413 BODY_TOO_LARGE, without overflowing', CHUNKED + 'f'.repeat(40) + '\r\n', refuses(413, 'BODY_TOO_LARGE')],
  [
    'accepts a chunk-size line of exactly 4096 bytes, CRLF included, followed by its data',
    CHUNKED + exactly(4096, '5;e=', '\r\n', 'v') + 'hello\r\n0\r\n\r\n',
    accepts({ body: 'hello' }),
  ],
  ['accepts a chunk-size line of 4095 bytes followed by its data', CHUNKED + exactly(4095, '5;e=', '\r\n', 'v') + 'hello\r\n0\r\n\r\n', accepts({ body: 'hello' })],
  ['accepts a last-chunk line of exactly 4096 bytes', CHUNKED + exactly(4096, '0;e=', '\r\n', 'v') + '\r\n', accepts({ body: '' })],
  ['refuses a chunk-size line of 4097 bytes with 400 CHUNK_LINE_TOO_LONG', CHUNKED + exactly(4097, '5;e=', '\r\n', 'v') + 'hello\r\n0\r\n\r\n', refuses(400, 'CHUNK_LINE_TOO_LONG')],
  ['refuses a 4095-digit chunk size (4097 bytes with its CRLF) with 400 CHUNK_LINE_TOO_LONG', CHUNKED + exactly(4097, '', '5\r\n', '0') + 'hello\r\n0\r\n\r\n', refuses(400, 'CHUNK_LINE_TOO_LONG')],
  ['waits for the rest of a chunked body (the input ends after a chunk)', CHUNKED + '5\r\nhello\r\n', incomplete({ chunked: true })],
  ['waits for the end of the trailer section', CHUNKED + '0\r\nX-T: 1\r\n', incomplete({ chunked: true })],
])

// ---- limits: the request line, the header and trailer sections, the body

const L = { maxRequestLineBytes: 32, maxHeaderBytes: 64, maxHeaderFields: 3 }
// 'GET / HTTP/1.1\r\n' is 16 bytes; 'Host: h\r\n' is 9; the NEXT request fits all of these limits.

table('limits (RFC 9112 §3, RFC 6585 §5, RFC 9110 §15.5.14/15)', [
  ['accepts a request line of exactly maxRequestLineBytes, CRLF included', exactly(32, 'GET /', ' HTTP/1.1\r\n') + 'Host: h\r\n\r\n', accepts({ target: '/' + 'a'.repeat(16) }), L],
  [
    'refuses a request line one byte over the limit with 414 URI_TOO_LONG when the target is what makes it long, even if the limit is passed after it',
    exactly(33, 'GET /', ' HTTP/1.1\r\n') + 'Host: h\r\n\r\n',
    refuses(414, 'URI_TOO_LONG'),
    L,
  ],
  [
    'refuses with 414 URI_TOO_LONG when a long target makes the limit pass at the first byte of the version',
    exactly(32, 'GET /', ' ') + 'HTTP/1.1\r\nHost: h\r\n\r\n',
    refuses(414, 'URI_TOO_LONG'),
    L,
  ],
  [
    'refuses with 414 URI_TOO_LONG when the limit is passed in the target (here at the space that ends it)',
    exactly(32, 'GET /', '') + ' HTTP/1.1\r\nHost: h\r\n\r\n',
    refuses(414, 'URI_TOO_LONG'),
    L,
  ],
  ['refuses a long target with 414 URI_TOO_LONG before its end arrives', 'GET /' + 'a'.repeat(40), refuses(414, 'URI_TOO_LONG'), L],
  ['refuses a long method with 400 REQUEST_LINE_TOO_LONG', 'A'.repeat(40) + ' / HTTP/1.1\r\nHost: h\r\n\r\n', refuses(400, 'REQUEST_LINE_TOO_LONG'), L],
  ['counts empty lines before the request line toward its limit, so they cannot go on forever', '\r\n'.repeat(17), refuses(400, 'REQUEST_LINE_TOO_LONG'), L],
  [
    'accepts a header section of exactly maxHeaderBytes, final CRLF included',
    'GET / HTTP/1.1\r\n' + exactly(64, 'Host: h\r\nX-Pad: ', '\r\n\r\n'),
    accepts({ headers: ['host', 'h', 'x-pad', 'a'.repeat(64 - 9 - 7 - 4)] }),
    L,
  ],
  ['refuses a header section one byte over maxHeaderBytes with 431 HEADERS_TOO_LARGE', 'GET / HTTP/1.1\r\n' + exactly(65, 'Host: h\r\nX-Pad: ', '\r\n\r\n'), refuses(431, 'HEADERS_TOO_LARGE'), L],
  ['refuses a field line longer than maxHeaderBytes with 431 before it ends', 'GET / HTTP/1.1\r\nHost: h\r\nX-Pad: ' + 'a'.repeat(64), refuses(431, 'HEADERS_TOO_LARGE'), L],
  ['accepts exactly maxHeaderFields field lines', 'GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n', accepts({ headers: ['host', 'h', 'a', '1', 'b', '2'] }), L],
  ['refuses one field line over maxHeaderFields with 431 TOO_MANY_FIELDS', 'GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n', refuses(431, 'TOO_MANY_FIELDS'), L],
  [
    'accepts a trailer section of exactly maxHeaderBytes, counted apart from the header section',
    CHUNKED + '0\r\n' + exactly(64, 'X-Pad: ', '\r\n\r\n'),
    accepts({ trailers: ['x-pad', 'a'.repeat(64 - 7 - 4)] }),
    L,
  ],
  ['refuses a trailer section one byte over maxHeaderBytes with 431 HEADERS_TOO_LARGE', CHUNKED + '0\r\n' + exactly(65, 'X-Pad: ', '\r\n\r\n'), refuses(431, 'HEADERS_TOO_LARGE'), L],
  ['accepts exactly maxHeaderFields trailer fields', CHUNKED + '0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n', accepts({ trailers: ['a', '1', 'b', '2', 'c', '3'] }), L],
  ['refuses one trailer field over maxHeaderFields with 431 TOO_MANY_FIELDS', CHUNKED + '0\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n', refuses(431, 'TOO_MANY_FIELDS'), L],
  // Bytes are judged in order: when the bytes before a bad byte already pass a limit, the
  // limit is the error, however the input was split.
  ['refuses a method that passes the limit before a bad byte with 400 REQUEST_LINE_TOO_LONG', 'A'.repeat(40) + '( / HTTP/1.1\r\n', refuses(400, 'REQUEST_LINE_TOO_LONG'), L],
  ['refuses a target that passes the limit before a byte >= 0x80 with 414 URI_TOO_LONG', 'GET /' + 'a'.repeat(40) + '\x80 HTTP/1.1\r\n', refuses(414, 'URI_TOO_LONG'), L],
  ['refuses a target that passes the limit before a CR with 414 URI_TOO_LONG', 'GET /' + 'a'.repeat(40) + '\r\n', refuses(414, 'URI_TOO_LONG'), L],
  ['refuses a version that passes the limit before a bad byte with 414 URI_TOO_LONG when the target is the long part', exactly(32, 'GET /', ' ') + 'HTTP/1.1\t\r\n', refuses(414, 'URI_TOO_LONG'), L],
  ['refuses a line made long by its method, passed in the version, with 400 REQUEST_LINE_TOO_LONG', 'A'.repeat(24) + ' /a HTTP/1.1\r\nHost: h\r\n\r\n', refuses(400, 'REQUEST_LINE_TOO_LONG'), L],
  ['refuses a field name that passes the limit before a space with 431 HEADERS_TOO_LARGE', 'GET / HTTP/1.1\r\nHost: h\r\nX' + 'n'.repeat(64) + ' : v\r\n\r\n', refuses(431, 'HEADERS_TOO_LARGE'), L],
  ['refuses a field value that passes the limit before a NUL with 431 HEADERS_TOO_LARGE', 'GET / HTTP/1.1\r\nHost: h\r\nX-Pad: ' + 'a'.repeat(64) + '\x00\r\n\r\n', refuses(431, 'HEADERS_TOO_LARGE'), L],
  ['refuses a field value that passes the limit before a bare LF with 431 HEADERS_TOO_LARGE', 'GET / HTTP/1.1\r\nHost: h\r\nX-Pad: ' + 'a'.repeat(64) + '\n\r\n', refuses(431, 'HEADERS_TOO_LARGE'), L],
  ['refuses a chunk extension that passes 4096 bytes before a bad byte with 400 CHUNK_LINE_TOO_LONG', CHUNKED + '5;' + 'e'.repeat(4100) + '(\r\nhello\r\n0\r\n\r\n', refuses(400, 'CHUNK_LINE_TOO_LONG')],
  ['refuses a chunk size whose leading zeros pass 4096 bytes before it grows too large with 400 CHUNK_LINE_TOO_LONG', CHUNKED + '0'.repeat(4100) + 'ffffffff\r\n', refuses(400, 'CHUNK_LINE_TOO_LONG')],
])

// ---- RFC 9112 §3.2 and RFC 9110 §7.2: Host

table('Host (RFC 9112 §3.2, RFC 9110 §7.2)', [
  ['rejects an HTTP/1.1 request without Host with 400 MISSING_HOST', 'GET / HTTP/1.1\r\n\r\n', refuses(400, 'MISSING_HOST')],
  ['rejects an HTTP/1.1 absolute-form request without Host with 400 MISSING_HOST', 'GET http://example.com/ HTTP/1.1\r\n\r\n', refuses(400, 'MISSING_HOST')],
  ['accepts an HTTP/1.1 request without Host when requireHost is off', 'GET / HTTP/1.1\r\n\r\n', accepts({ headers: [] }), { requireHost: false }],
  ['accepts an HTTP/1.0 request without Host', 'GET / HTTP/1.0\r\n\r\n', accepts({ versionMinor: 0, headers: [] })],
  ['rejects two Host fields with 400 DUPLICATE_HOST', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', refuses(400, 'DUPLICATE_HOST')],
  ['rejects two identical Host fields with 400 DUPLICATE_HOST', 'GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n', refuses(400, 'DUPLICATE_HOST')],
  ['rejects two Host fields in HTTP/1.0 with 400 DUPLICATE_HOST', 'GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n', refuses(400, 'DUPLICATE_HOST')],
  ['rejects a Host with a space inside with 400 INVALID_HOST', 'GET / HTTP/1.1\r\nHost: a b\r\n\r\n', refuses(400, 'INVALID_HOST')],
  ['rejects a Host with userinfo with 400 INVALID_HOST', 'GET / HTTP/1.1\r\nHost: user@example.com\r\n\r\n', refuses(400, 'INVALID_HOST')],
  ['rejects a Host with a path with 400 INVALID_HOST', 'GET / HTTP/1.1\r\nHost: example.com/x\r\n\r\n', refuses(400, 'INVALID_HOST')],
  ['rejects a Host with a non-numeric port with 400 INVALID_HOST', 'GET / HTTP/1.1\r\nHost: example.com:80x\r\n\r\n', refuses(400, 'INVALID_HOST')],
  ['accepts an empty Host (a target without an authority)', 'GET / HTTP/1.1\r\nHost:\r\n\r\n', accepts({ headers: ['host', ''] })],
  ['accepts a Host with a port', 'GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n', accepts({ headers: ['host', 'example.com:8080'] })],
  ['accepts a Host that is an IPv6 literal with a port', 'GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n', accepts({ headers: ['host', '[::1]:8080'] })],
])

// ---- RFC 9112 §9.3 and §9.6: persistence

const CLOSE_THEN = 'GET /1 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n'

table('connection persistence (RFC 9112 §9.3, §9.6)', [
  ['keeps an HTTP/1.1 connection alive by default', 'GET / HTTP/1.1\r\nHost: h\r\n\r\n', accepts({ keepAlive: true })],
  ['closes an HTTP/1.1 connection after "Connection: close"', 'GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n', accepts({ keepAlive: false })],
  ['finds "close" as a token in a Connection list, in any case', 'GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive , CLOSE\r\n\r\n', accepts({ keepAlive: false })],
  ['finds "close" on a second Connection line', 'GET / HTTP/1.1\r\nHost: h\r\nConnection: x-foo\r\nConnection: Close\r\n\r\n', accepts({ keepAlive: false })],
  ['does not take "closed" for "close"', 'GET / HTTP/1.1\r\nHost: h\r\nConnection: closed\r\n\r\n', accepts({ keepAlive: true })],
  ['closes an HTTP/1.0 connection by default', 'GET / HTTP/1.0\r\n\r\n', accepts({ keepAlive: false })],
  ['keeps an HTTP/1.0 connection alive with "Connection: keep-alive", in any case', 'GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n', accepts({ keepAlive: true })],
  ['closes an HTTP/1.0 connection with both keep-alive and close', 'GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n', accepts({ keepAlive: false })],
  ['refuses any byte after a request that closed the connection with 400 DATA_AFTER_CLOSE', CLOSE_THEN + 'X', refuses(400, 'DATA_AFTER_CLOSE', { target: '/1', keepAlive: false })],
  ['refuses even an empty line after a request that closed the connection', CLOSE_THEN + '\r\n', refuses(400, 'DATA_AFTER_CLOSE', { target: '/1' })],
  ['refuses a pipelined request after an HTTP/1.0 request without keep-alive', 'GET /1 HTTP/1.0\r\n\r\nGET /2 HTTP/1.0\r\n\r\n', refuses(400, 'DATA_AFTER_CLOSE', { target: '/1' })],
])

// ---- RFC 9110 §7.8 and §9.3.6: Upgrade and CONNECT

const UPGRADE = 'GET /chat HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n'

table('Upgrade and CONNECT (RFC 9110 §7.8, §9.3.6)', [
  ['marks an HTTP/1.1 request with "Connection: upgrade" and Upgrade as an upgrade, and pauses after it', UPGRADE, pauses('', { target: '/chat', upgrade: true, keepAlive: true })],
  ['hands over exactly the bytes that follow an upgrade request', UPGRADE + '\x81\x05hello\r\n\x00', pauses('\x81\x05hello\r\n\x00', { upgrade: true })],
  ['finds "upgrade" in a Connection list in any case', 'GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, UPGRADE\r\nUpgrade: h2c\r\n\r\nxyz', pauses('xyz', { upgrade: true })],
  ['reads the body of an upgrade request before pausing', 'POST / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: x\r\nContent-Length: 3\r\n\r\nabcREST', pauses('REST', { upgrade: true, body: 'abc' })],
  ['does not upgrade with Upgrade but without "Connection: upgrade"', 'GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n', accepts({ upgrade: false, keepAlive: true })],
  ['does not upgrade with "Connection: upgrade" but without Upgrade', 'GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n\r\n', accepts({ upgrade: false, keepAlive: true })],
  ['does not upgrade an HTTP/1.0 request', 'GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n', accepts({ upgrade: false, keepAlive: false })],
  ['marks CONNECT as an upgrade and hands over the tunnel bytes', 'CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n\x16\x03\x01', pauses('\x16\x03\x01', { method: 'CONNECT', upgrade: true })],
  ['gives CONNECT no body even with Content-Length: the bytes after its head are the tunnel', 'CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\nContent-Length: 3\r\n\r\nabc', pauses('abc', { contentLength: 0, body: '' })],
])

// ---- RFC 9110 §10.1.1: Expect

table('Expect (RFC 9110 §10.1.1)', [
  ['sets expectContinue for "Expect: 100-continue" on HTTP/1.1', 'POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi', accepts({ expectContinue: true, body: 'hi' })],
  ['matches 100-continue case-insensitively', 'POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\nhi', accepts({ expectContinue: true })],
  ['ignores Expect in HTTP/1.0', 'POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi', accepts({ expectContinue: false, body: 'hi' })],
  ['ignores an unknown expectation in HTTP/1.0', 'GET / HTTP/1.0\r\nExpect: something\r\n\r\n', accepts({ expectContinue: false })],
  ['refuses any other expectation with 417 UNSUPPORTED_EXPECTATION', 'GET / HTTP/1.1\r\nHost: h\r\nExpect: something\r\n\r\n', refuses(417, 'UNSUPPORTED_EXPECTATION')],
  ['refuses 100-continue with a parameter with 417 UNSUPPORTED_EXPECTATION', 'GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue; x=1\r\n\r\n', refuses(417, 'UNSUPPORTED_EXPECTATION')],
])

// ---- the end of input (RFC 9112 §8) and pipelining (RFC 9112 §9.3.2)

table('the end of input (RFC 9112 §8)', [
  ['leaves the input ending cleanly after empty lines only', '\r\n\r\n', accepts()],
  ['calls a connection that ends after a lone CR incomplete', '\r', incomplete()],
  ['calls a connection that ends inside the method incomplete', 'GE', incomplete()],
  ['calls a connection that ends inside the request line incomplete', 'GET /pa', incomplete()],
  ['calls a connection that ends inside the header section incomplete', 'GET / HTTP/1.1\r\nHost: h\r\n', incomplete()],
  ['calls a connection that ends between the CR and LF of the header section end incomplete', 'GET / HTTP/1.1\r\nHost: h\r\n\r', incomplete()],
  ['calls a connection that ends inside a second pipelined request incomplete', 'GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HT', incomplete({ target: '/1' })],
])

table('pipelining (RFC 9112 §9.3.2)', [
  [
    'parses several requests in one buffer in order, and no body leaks into the next request',
    'GET /1 HTTP/1.1\r\nHost: h\r\n\r\n' +
      'POST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc' +
      'POST /3 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ndef\r\n0\r\nX-T: t\r\n\r\n' +
      'PUT /4 HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n' +
      'GET /5 HTTP/1.1\r\nHost: h\r\n\r\n',
    accepts(
      { target: '/1', body: '', trailers: [] },
      { target: '/2', body: 'abc', trailers: [] },
      { target: '/3', body: 'def', trailers: ['x-t', 't'] },
      { target: '/4', body: '', trailers: [] },
      { target: '/5', body: '', trailers: [] },
    ),
  ],
  [
    'treats a body that looks like a request as body bytes',
    'POST /1 HTTP/1.1\r\nHost: h\r\nContent-Length: 28\r\n\r\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n' + 'GET /2 HTTP/1.1\r\nHost: h\r\n\r\n',
    accepts({ target: '/1', body: 'GET /x HTTP/1.1\r\nHost: h\r\n\r\n' }, { target: '/2', body: '' }),
  ],
  [
    'parses a request after an HTTP/1.0 keep-alive request',
    'GET /1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n',
    accepts({ target: '/1', versionMinor: 0, keepAlive: true }, { target: '/2', versionMinor: 1 }),
  ],
  [
    'fails the second request without taking back the first',
    'GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n',
    refuses(400, 'WHITESPACE_BEFORE_COLON', { target: '/1' }),
  ],
])

// ---- behaviour outside the tables: resume(), takeRemaining() in pieces, finish(), linearity

const more = suite('pausing, resuming and the end of input')

function feedAll(parser: RequestParser, input: string | Buffer): string[] {
  const seen: string[] = []
  parser.feed(bytes(input))
  for (let e = parser.next(); e.type !== 'need-data'; e = parser.next()) {
    seen.push(e.type === 'head' ? `head ${e.target}` : e.type === 'error' ? `error ${e.error.code}` : e.type)
    if (e.type === 'paused' || e.type === 'error') break
  }
  return seen
}

more('after an upgrade request the parser says "paused" until resume(), then parses the next request as HTTP', () => {
  const input = bytes(UPGRADE + NEXT)
  for (const pieces of [Infinity, 1, 2, 3, 7]) {
    const run = driveTraced(input, { pieces, onPaused: 'resume' })
    assert.is(run.stop, 'need-data', `pieces of ${pieces}`)
    assert.is(run.pauses, 1, `pieces of ${pieces}: one pause`)
    assert.equal(
      run.messages.map((m) => [m.head.target, m.head.upgrade, m.complete]),
      [
        ['/chat', true, true],
        ['/n', false, true],
      ],
      `pieces of ${pieces}`,
    )
  }
  const parser = new RequestParser()
  assert.equal(feedAll(parser, UPGRADE), ['head /chat', 'end', 'paused'])
  assert.is(parser.next().type, 'paused', 'it stays paused')
  parser.resume()
  assert.equal(feedAll(parser, NEXT), ['head /n', 'end'])
})

more('takeRemaining() gives exactly the bytes after an upgrade request, whatever the piece size', () => {
  const tail = '\x81\x85\x00\x00\x00\x00hello' + NEXT
  const input = bytes(UPGRADE + tail)
  for (const pieces of [Infinity, 1, 2, 3, 5, 13, UPGRADE.length, UPGRADE.length + 1]) {
    const run = driveTraced(input, { pieces })
    assert.is(run.stop, 'paused', `pieces of ${pieces}`)
    assert.is(run.rest.toString('latin1'), tail, `pieces of ${pieces}`)
  }
  // Directly: what the parser itself holds at the pause is the rest of that feed.
  const parser = new RequestParser()
  parser.feed(bytes(UPGRADE + 'abc'))
  for (let e = parser.next(); e.type !== 'paused'; e = parser.next()) assert.not.equal(e.type, 'need-data')
  assert.is(parser.takeRemaining().toString('latin1'), 'abc')
  parser.feed(bytes('def'))
  assert.is(parser.next().type, 'need-data', 'after takeRemaining() the parser no longer reads')
  assert.is(parser.finish(), null)
})

more('resume() after CONNECT does not go back to HTTP: further bytes are refused with DATA_AFTER_CLOSE', () => {
  const parser = new RequestParser()
  assert.equal(feedAll(parser, 'CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n'), ['head h:443', 'end', 'paused'])
  parser.resume()
  assert.equal(feedAll(parser, NEXT), ['error DATA_AFTER_CLOSE'])
})

more('finish() is null between messages and INCOMPLETE_MESSAGE in the middle of one', () => {
  const parser = new RequestParser()
  assert.is(parser.finish(), null, 'before anything')
  assert.ok(parser.idle)
  const request = 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n'
  for (let i = 0; i < request.length; i++) {
    feedAll(parser, request[i])
    const end = parser.finish()
    if (i < request.length - 1) {
      assert.is(end?.code, 'INCOMPLETE_MESSAGE', `after ${JSON.stringify(request.slice(0, i + 1))}`)
      assert.is(end?.status, 400)
      assert.not.ok(parser.idle)
    }
  }
  assert.is(parser.finish(), null, 'after the message')
  assert.ok(parser.idle, 'idle between messages')
  feedAll(parser, '\r\n')
  assert.is(parser.finish(), null, 'after an empty line between messages')
})

more('a failed parser stays failed: more bytes give the same error', () => {
  const parser = new RequestParser()
  assert.equal(feedAll(parser, 'GET / HTTP/1.1\nHost: h\r\n\r\n'), ['error BARE_LF'])
  const first = parser.next()
  assert.equal(feedAll(parser, NEXT), ['error BARE_LF'])
  const again = parser.next()
  assert.ok(first.type === 'error' && again.type === 'error' && first.error === again.error)
  assert.is(parser.finish(), first.type === 'error' ? first.error : null)
})

more.run()

const linear = suite('linearity')

/** A 16 KiB header section: as large as the default limit allows. */
function bigHead(): Buffer {
  const fields = ['Host: example.com\r\n', 'X-Long: ' + 'v'.repeat(8000) + '\r\n']
  for (let i = 0; fields.join('').length < 16 * 1024 - 200; i++) fields.push(`X-Field-${i}: ${'w'.repeat(100)}\r\n`)
  const head = 'GET /' + 'p'.repeat(8000) + ' HTTP/1.1\r\n' + exactly(16 * 1024, fields.join('') + 'X-Last: ', '\r\n\r\n', 'z')
  return bytes(head)
}

linear('a 16 KiB header section fed one byte at a time is consumed as it arrives and parses as it does whole', () => {
  const input = bigHead()
  const whole = driveTraced(input)
  assert.is(whole.stop, 'need-data', whole.error?.message)
  assert.is(whole.messages.length, 1)
  assert.ok(whole.messages[0].complete)
  const parser = new RequestParser()
  let events = 0
  for (let i = 0; i < input.length; i++) {
    parser.feed(input.subarray(i, i + 1))
    assert.is(parser.buffered, 1)
    for (let e = parser.next(); e.type !== 'need-data'; e = parser.next()) {
      assert.ok(e.type === 'head' || e.type === 'end', `byte ${i}: ${e.type}`)
      events++
    }
    if (parser.buffered !== 0) assert.unreachable(`byte ${i}: ${parser.buffered} bytes kept back`)
  }
  assert.is(events, 2)
  const bytewise = driveTraced(input, { pieces: 1 })
  assert.is(bytewise.maxBufferedAfterFeed, 1)
  assert.is(bytewise.maxBufferedAtNeedData, 0)
  assert.equal(summarize(bytewise), summarize(whole))
  // Every next() call moves the parse on: at most one head, one end, and one need-data per byte.
  assert.ok(bytewise.nextCalls <= input.length + 2, `${bytewise.nextCalls} next() calls for ${input.length} bytes`)
})

linear('a long chunk extension and a long trailer section fed one byte at a time are consumed as they arrive', () => {
  const input = bytes(CHUNKED + exactly(4096, '3;ext="', '"\r\n', 'q') + 'abc\r\n0\r\n' + exactly(16 * 1024, 'X-Trailer: ', '\r\n\r\n', 't'))
  const whole = driveTraced(input)
  assert.is(whole.stop, 'need-data', whole.error?.message)
  const bytewise = driveTraced(input, { pieces: 1 })
  assert.is(bytewise.maxBufferedAfterFeed, 1)
  assert.is(bytewise.maxBufferedAtNeedData, 0)
  assert.equal(summarize(bytewise), summarize(whole))
  assert.is(bytewise.messages[0].body.toString(), 'abc')
})

linear.run()

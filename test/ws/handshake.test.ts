// The opening handshake, server side (RFC 6455 §4.2), on request heads the project's own
// RequestParser made from literal request bytes: the exact 101 response, and the status,
// code and fields of every refusal. Then the Sec-WebSocket-Extensions grammar (§9.1).
//
// Requests are latin1 byte strings ('\r\n' is CR LF). The Date of a response is checked
// for its form and then replaced by <date>, so responses compare as literal text.

import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { HttpError } from '../../src/http/errors.ts'
import { RequestParser, type RequestHead } from '../../src/http/parser.ts'
import { DEFAULT_DEFLATE } from '../../src/ws/deflate.ts'
import {
  UPGRADE_REQUIRED_FIELDS,
  acceptHandshake,
  acceptKey,
  isWebSocketRequest,
  parseExtensions,
  type Handshake,
  type ExtensionsAnswer,
  type HandshakeOptions,
} from '../../src/ws/handshake.ts'

/** The head of a request, as the parser makes it from these bytes. */
function parse(bytes: string): RequestHead {
  const parser = new RequestParser()
  parser.feed(Buffer.from(bytes, 'latin1'))
  const event = parser.next()
  if (event.type !== 'head') throw new Error(`the request did not parse: ${event.type === 'error' ? event.error.code : event.type}`)
  return event
}

/** A request: its request line, then these field lines, then the empty line. */
function request(requestLine: string, ...fields: string[]): RequestHead {
  return parse(`${requestLine}\r\n${fields.map((f) => f + '\r\n').join('')}\r\n`)
}

/** The RFC 6455 §1.2 sample request, without Origin and without subprotocols. */
const SAMPLE_FIELDS = [
  'Host: server.example.com',
  'Upgrade: websocket',
  'Connection: Upgrade',
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
  'Sec-WebSocket-Version: 13',
]

/** The sample with some field lines replaced (by name, case-insensitively) or removed (value null), and others added. */
function sample(changes: Record<string, string | string[] | null> = {}, requestLine = 'GET /chat HTTP/1.1'): RequestHead {
  const lower = Object.fromEntries(Object.entries(changes).map(([k, v]) => [k.toLowerCase(), [k, v] as const]))
  const fields: string[] = []
  const used = new Set<string>()
  for (const line of SAMPLE_FIELDS) {
    const name = line.slice(0, line.indexOf(':'))
    const change = lower[name.toLowerCase()]
    if (change === undefined) {
      fields.push(line)
      continue
    }
    used.add(name.toLowerCase())
    const [original, value] = change
    if (value === null) continue
    for (const v of Array.isArray(value) ? value : [value]) fields.push(`${original}: ${v}`)
  }
  for (const [key, [original, value]] of Object.entries(lower)) {
    if (used.has(key) || value === null) continue
    for (const v of Array.isArray(value) ? value : [value]) fields.push(`${original}: ${v}`)
  }
  return request(requestLine, ...fields)
}

const OPTIONS: HandshakeOptions = { protocols: [], allowedOrigins: [], deflate: null }

const IMF_FIXDATE = /^Date: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT\r$/m

function accepted(result: Handshake | HttpError, where = ''): Handshake {
  if (result instanceof HttpError) throw new assert.Assertion({ message: `${where} refused: ${result.status} ${result.code}`, operator: 'accepted', expects: 'accepted', actual: result.code })
  assert.is(result.type, 'accepted')
  assert.match(result.response, IMF_FIXDATE, `${where}: the Date is an IMF-fixdate`)
  return result
}

/** The response with its Date replaced by <date>. */
function normalised(result: Handshake | HttpError, where = ''): string {
  return accepted(result, where).response.replace(/^Date: .*\r$/m, 'Date: <date>\r')
}

function refused(result: Handshake | HttpError, status: number, code: string, where = ''): HttpError {
  assert.instance(result, HttpError, `${where}: refused`)
  const error = result as HttpError
  assert.equal([error.status, error.code], [status, code], `${where}: status and code`)
  return error
}

const UPGRADE_FIELDS = ['Upgrade', 'websocket', 'Sec-WebSocket-Version', '13']

const RFC_RESPONSE =
  'HTTP/1.1 101 Switching Protocols\r\n' +
  'Date: <date>\r\n' +
  'Upgrade: websocket\r\n' +
  'Connection: Upgrade\r\n' +
  'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n' +
  '\r\n'

// ---- acceptKey and the 101

const accepting = suite('handshake: accepted')

accepting('acceptKey of the RFC 6455 sample key is the RFC’s accept value', () => {
  assert.is(acceptKey('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=')
  // The example of the WebSocket article on Wikipedia, from another source than the RFC.
  assert.is(acceptKey('x3JJHMbDL1EzLkh9GBhXDw=='), 'HSmrc0sMlYUkAGmm5OPpG2HaGWk=')
})

accepting('the RFC 6455 sample request gets exactly the sample 101 response', () => {
  const head = parse(
    'GET /chat HTTP/1.1\r\n' +
      'Host: server.example.com\r\n' +
      'Upgrade: websocket\r\n' +
      'Connection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
      'Origin: http://example.com\r\n' +
      'Sec-WebSocket-Protocol: chat, superchat\r\n' +
      'Sec-WebSocket-Version: 13\r\n' +
      '\r\n',
  )
  assert.ok(isWebSocketRequest(head))
  const result = acceptHandshake(head, { protocols: ['chat'], allowedOrigins: [], deflate: null })
  assert.is(
    normalised(result),
    'HTTP/1.1 101 Switching Protocols\r\n' +
      'Date: <date>\r\n' +
      'Upgrade: websocket\r\n' +
      'Connection: Upgrade\r\n' +
      'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n' +
      'Sec-WebSocket-Protocol: chat\r\n' +
      '\r\n',
  )
  assert.equal([accepted(result).protocol, accepted(result).deflate], ['chat', null])
})

accepting('without subprotocols or extensions the 101 has no Sec-WebSocket-Protocol or -Extensions line', () => {
  assert.is(normalised(acceptHandshake(sample(), OPTIONS)), RFC_RESPONSE)
})

accepting('Upgrade and Connection are tokens in lists, in any case', () => {
  const variants: Record<string, string | string[]>[] = [
    { Connection: 'keep-alive, Upgrade' },
    { Connection: 'Upgrade, keep-alive' },
    { Connection: 'upgrade' },
    { Connection: 'UPGRADE' },
    { Connection: ['keep-alive', 'Upgrade'] },
    { Connection: 'keep-alive,Upgrade' },
    { Upgrade: 'WebSocket' },
    { Upgrade: 'WEBSOCKET' },
    { Upgrade: 'h2c, websocket' },
    { Upgrade: ['h2c', 'websocket'] },
    { Upgrade: 'websocket', Connection: 'Keep-Alive, uPgRaDe' },
  ]
  for (const change of variants) {
    assert.is(normalised(acceptHandshake(sample(change), OPTIONS), JSON.stringify(change)), RFC_RESPONSE, JSON.stringify(change))
  }
})

accepting('a field name in any case is the same field', () => {
  const head = request(
    'GET /chat HTTP/1.1',
    'HOST: server.example.com',
    'upgrade: websocket',
    'CONNECTION: upgrade',
    'sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==',
    'SEC-WEBSOCKET-VERSION: 13',
  )
  assert.is(normalised(acceptHandshake(head, OPTIONS)), RFC_RESPONSE)
})

accepting('a key of 16 bytes of any value is accepted, and its accept value is the SHA-1 of the key and the GUID', () => {
  const head = sample({ 'Sec-WebSocket-Key': 'x3JJHMbDL1EzLkh9GBhXDw==' })
  assert.ok(normalised(acceptHandshake(head, OPTIONS)).includes('\r\nSec-WebSocket-Accept: HSmrc0sMlYUkAGmm5OPpG2HaGWk=\r\n'))
  const zeros = sample({ 'Sec-WebSocket-Key': 'AAAAAAAAAAAAAAAAAAAAAA==' })
  assert.ok(accepted(acceptHandshake(zeros, OPTIONS)).response.includes('\r\nSec-WebSocket-Accept: '))
})

// ---- refusals

const refusing = suite('handshake: refused')

refusing('a plain GET without any WebSocket field is 426 Upgrade Required, with Upgrade and Sec-WebSocket-Version', () => {
  const head = request('GET /chat HTTP/1.1', 'Host: server.example.com')
  assert.not.ok(isWebSocketRequest(head))
  const error = refused(acceptHandshake(head, OPTIONS), 426, 'UPGRADE_REQUIRED')
  assert.equal([...error.fields], UPGRADE_FIELDS)
  assert.equal([...UPGRADE_REQUIRED_FIELDS], UPGRADE_FIELDS)
})

refusing('a GET upgrading to another protocol, or with only Connection: Upgrade, is 426 too', () => {
  for (const fields of [['Upgrade: h2c', 'Connection: Upgrade'], ['Connection: Upgrade'], ['Upgrade: websockets', 'Connection: Upgrade']]) {
    const head = request('GET /chat HTTP/1.1', 'Host: server.example.com', ...fields)
    assert.not.ok(isWebSocketRequest(head), fields.join(', '))
    assert.equal([...refused(acceptHandshake(head, OPTIONS), 426, 'UPGRADE_REQUIRED', fields.join(', ')).fields], UPGRADE_FIELDS)
  }
})

refusing('a version other than 13 is 426 with Upgrade and Sec-WebSocket-Version: 13', () => {
  for (const version of ['8', '14', '13, 8', '8, 13', ['13', '8'], ['13', '13'], '013', 'thirteen']) {
    const error = refused(acceptHandshake(sample({ 'Sec-WebSocket-Version': version }), OPTIONS), 426, 'WS_VERSION', JSON.stringify(version))
    assert.equal([...error.fields], UPGRADE_FIELDS, JSON.stringify(version))
  }
})

refusing('no Sec-WebSocket-Version is 400', () => {
  const error = refused(acceptHandshake(sample({ 'Sec-WebSocket-Version': null }), OPTIONS), 400, 'WS_NO_VERSION')
  assert.equal([...error.fields], UPGRADE_FIELDS)
})

refusing('a missing or invalid Sec-WebSocket-Key is 400', () => {
  const keys: [string, string | string[] | null][] = [
    ['no key', null],
    ['not base64', 'not base64 at all!!!!=='],
    ['22 characters with a character outside base64', 'dGhlIHNhbXBsZSBub25jZ-=='],
    ['15 bytes', 'AAECAwQFBgcICQoLDA0O'],
    ['17 bytes', 'AAECAwQFBgcICQoLDA0ODxA='],
    ['32 bytes', 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8='],
    ['16 bytes without padding', 'dGhlIHNhbXBsZSBub25jZQ'],
    ['16 bytes with one pad character', 'dGhlIHNhbXBsZSBub25jZQ='],
    ['an empty key', ''],
    ['two key lines', ['dGhlIHNhbXBsZSBub25jZQ==', 'x3JJHMbDL1EzLkh9GBhXDw==']],
    ['the same key twice', ['dGhlIHNhbXBsZSBub25jZQ==', 'dGhlIHNhbXBsZSBub25jZQ==']],
    ['two keys on one line', 'dGhlIHNhbXBsZSBub25jZQ==, x3JJHMbDL1EzLkh9GBhXDw=='],
  ]
  for (const [name, key] of keys) {
    const error = refused(acceptHandshake(sample({ 'Sec-WebSocket-Key': key }), OPTIONS), 400, 'WS_BAD_KEY', name)
    assert.equal([...error.fields], UPGRADE_FIELDS, name)
  }
})

refusing('without Connection: Upgrade, or without Upgrade: websocket, it is 400', () => {
  const cases: [string, Record<string, string | null>, string][] = [
    ['no Connection', { Connection: null }, 'WS_NO_CONNECTION_UPGRADE'],
    ['Connection: keep-alive', { Connection: 'keep-alive' }, 'WS_NO_CONNECTION_UPGRADE'],
    ['Connection: Upgraded', { Connection: 'Upgraded' }, 'WS_NO_CONNECTION_UPGRADE'],
    ['Connection: close', { Connection: 'close' }, 'WS_NO_CONNECTION_UPGRADE'],
    ['no Upgrade', { Upgrade: null }, 'WS_NO_UPGRADE'],
    ['Upgrade: h2c', { Upgrade: 'h2c' }, 'WS_NO_UPGRADE'],
  ]
  for (const [name, change, code] of cases) {
    const head = sample(change)
    assert.ok(isWebSocketRequest(head), `${name}: still a WebSocket request by its Sec-WebSocket- fields`)
    assert.equal([...refused(acceptHandshake(head, OPTIONS), 400, code, name).fields], UPGRADE_FIELDS)
  }
})

refusing('a POST (or any method but GET) with the handshake fields is 400', () => {
  for (const method of ['POST', 'PUT', 'HEAD', 'OPTIONS']) {
    const fields: Record<string, string> = method === 'POST' || method === 'PUT' ? { 'Content-Length': '0' } : {}
    refused(acceptHandshake(sample(fields, `${method} /chat HTTP/1.1`), OPTIONS), 400, 'WS_NOT_GET', method)
  }
})

refusing('an HTTP/1.0 request with the handshake fields is 400, never an upgrade', () => {
  const head = parse(
    'GET /chat HTTP/1.0\r\n' +
      'Host: server.example.com\r\n' +
      'Upgrade: websocket\r\n' +
      'Connection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
      'Sec-WebSocket-Version: 13\r\n' +
      '\r\n',
  )
  assert.is(head.upgrade, false, 'the parser does not treat an HTTP/1.0 Upgrade as one')
  const error = refused(acceptHandshake(head, OPTIONS), 400, 'WS_HTTP_1_0')
  assert.equal([...error.fields], UPGRADE_FIELDS)
})

refusing('a request for HTTP/1.2 counts as HTTP/1.1 and is accepted', () => {
  assert.is(normalised(acceptHandshake(sample({}, 'GET /chat HTTP/1.2'), OPTIONS)), RFC_RESPONSE)
})

// ---- Origin

const origins = suite('handshake: Origin')

const ALLOW: HandshakeOptions = { ...OPTIONS, allowedOrigins: ['https://app.example', 'http://localhost:8080'] }

origins('an allowed origin is accepted', () => {
  assert.is(normalised(acceptHandshake(sample({ Origin: 'https://app.example' }), ALLOW)), RFC_RESPONSE)
  assert.is(normalised(acceptHandshake(sample({ Origin: 'http://localhost:8080' }), ALLOW)), RFC_RESPONSE)
})

origins('any other origin is 403, and a 403 does not ask for an upgrade', () => {
  for (const origin of ['https://evil.example', 'https://app.example.evil', 'http://app.example', 'https://app.example:443', 'null']) {
    const error = refused(acceptHandshake(sample({ Origin: origin }), ALLOW), 403, 'WS_ORIGIN', origin)
    assert.equal([...error.fields], [], origin)
  }
})

origins('a request without Origin (not from a browser) is accepted', () => {
  assert.is(normalised(acceptHandshake(sample(), ALLOW)), RFC_RESPONSE)
})

origins('an empty allowlist accepts every origin', () => {
  assert.is(normalised(acceptHandshake(sample({ Origin: 'https://evil.example' }), OPTIONS)), RFC_RESPONSE)
})

// ---- subprotocols

const protocols = suite('handshake: subprotocols')

const SPEAKS: HandshakeOptions = { ...OPTIONS, protocols: ['chat', 'superchat'] }

function chosen(offer: string | string[] | null, options = SPEAKS): string | null {
  const result = accepted(acceptHandshake(sample({ 'Sec-WebSocket-Protocol': offer }), options), JSON.stringify(offer))
  const line = /\r\nSec-WebSocket-Protocol: ([^\r]*)\r\n/.exec(result.response)
  assert.is(line?.[1] ?? null, result.protocol, 'the response states the protocol chosen, and only that')
  return result.protocol
}

protocols('the first protocol the client lists that the route speaks is chosen', () => {
  assert.is(chosen('chat'), 'chat')
  assert.is(chosen('superchat, chat'), 'superchat')
  assert.is(chosen('chat, superchat'), 'chat')
  assert.is(chosen('v2.mqtt, superchat, chat'), 'superchat')
  assert.is(chosen(['v2.mqtt', 'chat', 'superchat']), 'chat', 'across field lines, in order')
  assert.is(chosen('v2.mqtt,chat'), 'chat')
})

protocols('with no overlap, or no offer, none is chosen and the response has no Sec-WebSocket-Protocol', () => {
  assert.is(chosen('v2.mqtt, graphql-ws'), null)
  assert.is(chosen(null), null)
  assert.is(chosen('chat', OPTIONS), null, 'a route that speaks none')
  assert.is(normalised(acceptHandshake(sample({ 'Sec-WebSocket-Protocol': 'v2.mqtt' }), SPEAKS)), RFC_RESPONSE)
})

protocols('never a protocol the route does not speak, even one that contains or is contained in one it speaks', () => {
  assert.is(chosen('cha, chatty, superchat2, xchat'), null)
})

protocols('empty list elements are ignored (RFC 6455 §4.1 uses the #rule, RFC 9110 §5.6.1)', () => {
  assert.is(chosen('v2.mqtt, , superchat'), 'superchat')
  assert.is(chosen(', chat,'), 'chat')
  assert.is(chosen(['', 'chat']), 'chat', 'an empty line beside a line with a protocol')
  assert.is(chosen('v2.mqtt,,'), null)
})

protocols('a Sec-WebSocket-Protocol that is not a list of tokens, or lists none, is 400', () => {
  for (const offer of ['chat superchat', 'chat; v=1', '"chat"', 'chat, super chat', 'chat/1.0', 'ch@t', '', ',', ' , , ', ['', '']]) {
    const error = refused(acceptHandshake(sample({ 'Sec-WebSocket-Protocol': offer }), SPEAKS), 400, 'WS_BAD_PROTOCOL', JSON.stringify(offer))
    assert.equal([...error.fields], UPGRADE_FIELDS)
  }
})

// ---- extensions

const extensions = suite('handshake: Sec-WebSocket-Extensions')

extensions('parseExtensions reads names, parameters with and without values, and quoted values', () => {
  assert.equal(parseExtensions('permessage-deflate'), [{ name: 'permessage-deflate', params: [] }])
  assert.equal(parseExtensions('permessage-deflate; client_max_window_bits'), [
    { name: 'permessage-deflate', params: [['client_max_window_bits', true]] },
  ])
  assert.equal(parseExtensions('permessage-deflate; client_max_window_bits=10; server_no_context_takeover'), [
    { name: 'permessage-deflate', params: [['client_max_window_bits', '10'], ['server_no_context_takeover', true]] },
  ])
  assert.equal(parseExtensions('permessage-deflate; server_max_window_bits="10"'), [
    { name: 'permessage-deflate', params: [['server_max_window_bits', '10']] },
  ])
  assert.equal(parseExtensions('x; a="b\\c"'), [{ name: 'x', params: [['a', 'bc']] }], 'a quoted-pair stands for its character')
  assert.equal(parseExtensions('x;a=1;b'), [{ name: 'x', params: [['a', '1'], ['b', true]] }], 'no spaces')
  assert.equal(parseExtensions('  x  ;  a = 1  ;  b  '), [{ name: 'x', params: [['a', '1'], ['b', true]] }], 'spaces around everything')
})

extensions('parseExtensions reads several offers, keeps their order, and ignores empty list elements', () => {
  assert.equal(parseExtensions('permessage-deflate; client_max_window_bits, permessage-deflate, x-webkit-deflate-frame'), [
    { name: 'permessage-deflate', params: [['client_max_window_bits', true]] },
    { name: 'permessage-deflate', params: [] },
    { name: 'x-webkit-deflate-frame', params: [] },
  ])
  assert.equal(parseExtensions(' , foo , , bar ,'), [
    { name: 'foo', params: [] },
    { name: 'bar', params: [] },
  ])
  assert.equal(parseExtensions('foo; a="1,2"'), null, 'a comma inside quotes does not split, and "1,2" is no token')
  assert.equal(parseExtensions('foo; a="x;y"'), null, 'a semicolon inside quotes does not split')
  assert.equal(parseExtensions(''), [])
})

extensions('parseExtensions says null for anything that breaks the grammar', () => {
  const malformed = [
    'permessage deflate',
    'foo;',
    'foo;;a',
    'foo; =1',
    'foo; a=',
    'foo; a=""',
    'foo; a="unterminated',
    'foo; a="has space"',
    'foo; a=b c',
    'foo; a=1=2',
    '"foo"',
    ';a',
    'foo; a b',
    'foo; a="1"2',
    'fo(o)',
    'foo, b@r',
  ]
  for (const value of malformed) assert.is(parseExtensions(value), null, value)
})

extensions('a route keeps the answer to each extension value it has seen, within bounds, and answers the same from it', () => {
  const answers = new Map<string, ExtensionsAnswer>()
  const options: HandshakeOptions = { ...OPTIONS, deflate: DEFAULT_DEFLATE, extensionAnswers: answers }
  const offer = 'permessage-deflate; client_max_window_bits'
  const first = accepted(acceptHandshake(sample({ 'Sec-WebSocket-Extensions': offer }), options))
  assert.ok(first.deflate !== null)
  assert.is(answers.get(offer), first.deflate, 'the answer is kept under the value')
  const second = accepted(acceptHandshake(sample({ 'Sec-WebSocket-Extensions': offer }), options))
  assert.is(second.deflate, first.deflate, 'the second handshake gets the kept answer')
  assert.is(second.response, first.response)

  refused(acceptHandshake(sample({ 'Sec-WebSocket-Extensions': 'foo;' }), options), 400, 'WS_BAD_EXTENSIONS')
  assert.is(answers.get('foo;'), false, 'a malformed value is kept as such')
  refused(acceptHandshake(sample({ 'Sec-WebSocket-Extensions': 'foo;' }), options), 400, 'WS_BAD_EXTENSIONS', 'and refused again')

  const long = `${offer}${', x-unknown'.repeat(40)}`
  assert.ok(accepted(acceptHandshake(sample({ 'Sec-WebSocket-Extensions': long }), options)).deflate !== null, 'a long value is worked out')
  assert.not.ok(answers.has(long), 'but not kept')
  for (let i = 0; i < 100; i++) accepted(acceptHandshake(sample({ 'Sec-WebSocket-Extensions': `x-extension-${i}` }), options))
  assert.is(answers.size, 64, 'at most 64 values are kept')
  assert.is(accepted(acceptHandshake(sample({ 'Sec-WebSocket-Extensions': 'x-extension-99' }), options)).deflate, null, 'one not kept is still answered')
})

extensions('an unknown extension is declined: no Sec-WebSocket-Extensions in the response', () => {
  const withDeflate = { ...OPTIONS, deflate: DEFAULT_DEFLATE }
  for (const offer of ['x-webkit-deflate-frame', 'permessage-foo; a=1', 'deflate-frame, x-unknown']) {
    const result = accepted(acceptHandshake(sample({ 'Sec-WebSocket-Extensions': offer }), withDeflate), offer)
    assert.is(result.deflate, null)
    assert.is(normalised(result), RFC_RESPONSE, offer)
  }
})

extensions('permessage-deflate is accepted when the route offers it, and declined when it does not', () => {
  const withDeflate = { ...OPTIONS, deflate: DEFAULT_DEFLATE }
  const offer = { 'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits' }
  const yes = acceptHandshake(sample(offer), withDeflate)
  assert.is(
    normalised(yes),
    'HTTP/1.1 101 Switching Protocols\r\n' +
      'Date: <date>\r\n' +
      'Upgrade: websocket\r\n' +
      'Connection: Upgrade\r\n' +
      'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n' +
      'Sec-WebSocket-Extensions: permessage-deflate\r\n' +
      '\r\n',
  )
  assert.equal(accepted(yes).deflate, {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 15,
    response: 'permessage-deflate',
  })
  const no = accepted(acceptHandshake(sample(offer), OPTIONS))
  assert.is(no.deflate, null)
  assert.is(normalised(no), RFC_RESPONSE)
})

extensions('Sec-WebSocket-Extensions on several lines is one list', () => {
  const withDeflate = { ...OPTIONS, deflate: DEFAULT_DEFLATE }
  const result = accepted(
    acceptHandshake(sample({ 'Sec-WebSocket-Extensions': ['x-webkit-deflate-frame', 'permessage-deflate; client_no_context_takeover'] }), withDeflate),
  )
  assert.is(result.deflate?.response, 'permessage-deflate; client_no_context_takeover')
  assert.ok(result.response.includes('\r\nSec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover\r\n'))
})

extensions('a malformed Sec-WebSocket-Extensions is 400, whether or not the route compresses', () => {
  for (const deflate of [DEFAULT_DEFLATE, null]) {
    for (const value of ['permessage-deflate; client_max_window_bits=', 'permessage deflate', 'permessage-deflate;']) {
      const error = refused(acceptHandshake(sample({ 'Sec-WebSocket-Extensions': value }), { ...OPTIONS, deflate }), 400, 'WS_BAD_EXTENSIONS', value)
      assert.equal([...error.fields], UPGRADE_FIELDS)
    }
  }
})

extensions('subprotocol and extension lines come in that order after the accept value', () => {
  const result = acceptHandshake(
    sample({ 'Sec-WebSocket-Protocol': 'superchat', 'Sec-WebSocket-Extensions': 'permessage-deflate; server_max_window_bits=10' }),
    { ...SPEAKS, deflate: DEFAULT_DEFLATE },
  )
  assert.is(
    normalised(result),
    'HTTP/1.1 101 Switching Protocols\r\n' +
      'Date: <date>\r\n' +
      'Upgrade: websocket\r\n' +
      'Connection: Upgrade\r\n' +
      'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n' +
      'Sec-WebSocket-Protocol: superchat\r\n' +
      'Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10\r\n' +
      '\r\n',
  )
})

accepting.run()
refusing.run()
origins.run()
protocols.run()
extensions.run()

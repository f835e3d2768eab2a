// POST /publish/{channel} on real sockets against the real server on port 0
// (CONTRACT.md, "Routes" and "Cross-origin use and publishing rights"): the {"id":N}
// answer, event names, the body's checks (UTF-8, size, chunked framing), channel names,
// the publish token and the channel limit. Refused requests leave no channel behind.

import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { exchange, requestBytes } from '../helpers/raw-client.ts'
import { publish, published, request, text } from '../helpers/push.ts'
import { startServer, withServer, type RunningServer } from '../helpers/server.ts'
import { field, fieldAll } from '../helpers/wire.ts'

const test = suite('push routes: POST /publish')

let server: RunningServer

test.before(async () => {
  server = await startServer()
})

test.after(async () => {
  await server?.close()
})

test('a publish is answered 200 application/json {"id":N}, with ids 1, 2, 3 in order per channel', async () => {
  for (const expected of [1, 2, 3]) {
    const response = await publish(server.port, 'ids', `message ${expected}`)
    assert.is(response.status, 200)
    assert.is(field(response, 'content-type'), 'application/json')
    assert.is(text(response), `{"id":${expected}}`)
  }
  // Another channel counts from 1 on its own.
  assert.is(await published(server.port, 'ids-other', 'x'), 1)
  assert.is(await published(server.port, 'ids', 'four'), 4)
})

test('the published body is the message data exactly, as poll returns it', async () => {
  const data = 'héllo "quoted" \\ back\nslash ✓ 𝄞'
  const id = await published(server.port, 'exact-data', data)
  const poll = await request(server.port, `/poll/exact-data?after=${id - 1}`)
  assert.is(text(poll), `{"messages":[{"id":${id},"data":${JSON.stringify(data)}}],"last":${id}}`)
})

test('an empty body publishes an empty message', async () => {
  const id = await published(server.port, 'empty-body', '')
  const poll = await request(server.port, '/poll/empty-body?after=0')
  assert.is(text(poll), `{"messages":[{"id":${id},"data":""}],"last":${id}}`)
})

test('?event=E gives the message that event name; it shows in the envelope', async () => {
  const id = await published(server.port, 'named', 'up 3%', { event: 'price.tick_1-x' })
  assert.is(id, 1)
  const poll = await request(server.port, '/poll/named?after=0')
  assert.is(text(poll), '{"messages":[{"id":1,"data":"up 3%","event":"price.tick_1-x"}],"last":1}')
})

test('an invalid event name is 400 and publishes nothing', async () => {
  for (const event of ['a b', 'a:b', 'x'.repeat(65), 'é', 'a\nb', 'a/b']) {
    const response = await publish(server.port, 'bad-event', 'data', { event })
    assert.is(response.status, 400, `event ${JSON.stringify(event)}`)
  }
  assert.is(server.hub.find('bad-event'), undefined, 'no channel was made')
  // The same route takes a good one.
  assert.is(await published(server.port, 'bad-event', 'data', { event: 'good' }), 1)
})

test('an empty ?event= publishes a message without an event name', async () => {
  const head = requestBytes('POST', '/publish/empty-event?event=', ['Content-Length: 1'])
  const response = await exchange(server.port, `${head}z`)
  assert.is(response.status, 200)
  const poll = await request(server.port, '/poll/empty-event?after=0')
  assert.is(text(poll), '{"messages":[{"id":1,"data":"z"}],"last":1}')
})

test('a body that is not UTF-8 is 400 and leaves no channel behind', async () => {
  const before = server.hub.channelCount
  for (const body of [Buffer.from([0xff]), Buffer.from([0x61, 0xc3]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xc0, 0x80])]) {
    const response = await publish(server.port, 'not-utf8', body)
    assert.is(response.status, 400, body.toString('hex'))
  }
  assert.is(server.hub.find('not-utf8'), undefined)
  assert.is(server.hub.channelCount, before)
})

test('a channel name that breaks the rules is 404 and makes no channel', async () => {
  const before = server.hub.channelCount
  const names = ['a%20b', 'a$b', 'x'.repeat(65), 'a%2Fb', '%C3%A9', 'a:b', '%00']
  for (const name of names) {
    const response = await publish(server.port, name, 'data')
    assert.is(response.status, 404, name)
  }
  // A name of 64 characters from the whole alphabet is fine.
  const longest = 'Az09_.-'.repeat(9) + 'x'
  assert.is(longest.length, 64)
  assert.is(await published(server.port, longest, 'ok'), 1)
  assert.is(server.hub.channelCount, before + 1)
})

test('a chunked request body is published whole, a character split across chunks included', async () => {
  const data = Buffer.from('chunk one, ✓ and the rest')
  const split = data.indexOf(Buffer.from('✓')) + 1 // inside the three bytes of ✓
  const parts = [data.subarray(0, split), data.subarray(split)]
  const body = parts.map((part) => `${part.length.toString(16)}\r\n${part.toString('latin1')}\r\n`).join('') + '0\r\n\r\n'
  const head = requestBytes('POST', '/publish/chunked', ['Transfer-Encoding: chunked'])
  const response = await exchange(server.port, head + body)
  assert.is(response.status, 200)
  assert.is(text(response), '{"id":1}')
  const poll = await request(server.port, '/poll/chunked?after=0')
  assert.equal(JSON.parse(text(poll)).messages[0].data, data.toString('utf8'))
})

test('/publish sends no CORS fields, even to a request with Origin', async () => {
  const head = requestBytes('POST', '/publish/no-cors', ['Content-Length: 1', 'Origin: http://elsewhere.example'])
  const response = await exchange(server.port, `${head}x`)
  assert.is(response.status, 200)
  assert.not.ok(response.fields.some(([name]) => name.toLowerCase().startsWith('access-control-')), response.head)
  // A preflight is not answered with CORS fields either: a page of another origin cannot publish.
  const preflight = await request(server.port, '/publish/no-cors', ['Origin: http://elsewhere.example', 'Access-Control-Request-Method: POST'], 'OPTIONS')
  assert.not.ok(preflight.fields.some(([name]) => name.toLowerCase().startsWith('access-control-')), preflight.head)
})

test('GET /publish/{channel} is 405 with Allow naming POST', async () => {
  const response = await request(server.port, '/publish/method')
  assert.is(response.status, 405)
  assert.match(field(response, 'allow') ?? '', /\bPOST\b/)
})

test('a body over maxBodyBytes is 413 and leaves no channel behind', async () => {
  await withServer({ maxBodyBytes: 1024 }, async (small) => {
    assert.is(await published(small.port, 'limit-ok', 'y'.repeat(1024)), 1, 'exactly the limit is taken')
    const response = await publish(small.port, 'too-big', 'x'.repeat(1025))
    assert.is(response.status, 413)
    // Chunked, the limit is found while reading.
    const client = await small.connect()
    const chunk = 'z'.repeat(600)
    client.write(requestBytes('POST', '/publish/too-big-chunked', ['Transfer-Encoding: chunked']) + `258\r\n${chunk}\r\n258\r\n${chunk}\r\n0\r\n\r\n`)
    const chunked = await client.nextOne()
    assert.is(chunked.status, 413)
    assert.is(small.hub.find('too-big'), undefined)
    assert.is(small.hub.find('too-big-chunked'), undefined)
    assert.is(small.hub.channelCount, 1, 'only limit-ok')
  })
})

test('with a publish token: no Authorization is 401 with WWW-Authenticate, a wrong token 401, the right Bearer token 200', async () => {
  const token = 's3cret-token'
  await withServer({ publishToken: token }, async (guarded) => {
    const none = await publish(guarded.port, 'guarded', 'x')
    assert.is(none.status, 401)
    assert.match(field(none, 'www-authenticate') ?? '', /^Bearer\b/)
    for (const authorization of [`Bearer ${token}x`, `Bearer ${token.slice(0, -1)}`, `Basic ${Buffer.from(`u:${token}`).toString('base64')}`, token, 'Bearer', `Bearer ${token} extra`]) {
      const wrong = await publish(guarded.port, 'guarded', 'x', { fields: [`Authorization: ${authorization}`] })
      assert.is(wrong.status, 401, authorization)
      assert.ok(fieldAll(wrong, 'www-authenticate').length === 1, authorization)
    }
    assert.is(guarded.hub.find('guarded'), undefined, 'refused publishes made no channel')
    assert.is(await published(guarded.port, 'guarded', 'x', { fields: [`Authorization: Bearer ${token}`] }), 1)
    // The scheme is case-insensitive (RFC 9110 §11.1).
    assert.is(await published(guarded.port, 'guarded', 'y', { fields: [`Authorization: bearer ${token}`] }), 2)
    // Subscribing needs no token.
    const poll = await request(guarded.port, '/poll/guarded?after=0')
    assert.is(poll.status, 200)
    assert.is(text(poll), '{"messages":[{"id":1,"data":"x"},{"id":2,"data":"y"}],"last":2}')
  })
})

test('past maxChannels a new channel is 503, and the existing ones still take messages', async () => {
  await withServer({ maxChannels: 2 }, async (small) => {
    assert.is(await published(small.port, 'one', 'a'), 1)
    assert.is(await published(small.port, 'two', 'b'), 1)
    const third = await publish(small.port, 'three', 'c')
    assert.is(third.status, 503)
    assert.is(small.hub.find('three'), undefined)
    assert.is(await published(small.port, 'one', 'a2'), 2)
    assert.is(await published(small.port, 'two', 'b2'), 2)
    // Subscribing to a new channel is refused the same way.
    const poll = await request(small.port, '/poll/three')
    assert.is(poll.status, 503)
    assert.is(small.hub.channelCount, 2)
  })
})

test('a keep-alive connection publishes several messages in a row', async () => {
  await withServer({}, async (live) => {
    const client = await live.connect()
    const bodies = ['first', 'second', 'third']
    client.write(bodies.map((body) => requestBytes('POST', '/publish/pipelined', [`Content-Length: ${body.length}`]) + body).join(''))
    const responses = await client.next(3)
    assert.equal(
      responses.map((response) => text(response)),
      ['{"id":1}', '{"id":2}', '{"id":3}'],
    )
  })
})

test.run()

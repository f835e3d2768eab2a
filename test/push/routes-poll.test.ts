// GET /poll/{channel} and GET /longpoll/{channel} on real sockets against the real server
// on port 0 (CONTRACT.md, "Channels and messages" and "Routes"): the exact JSON, the
// `after` cursor and its gap record, the ETag and 304, timeouts, parked polls woken by a
// publish (many at once, with one body), clients that leave while parked, and shutdown.
//
// A parked poll is waited for through server.longPolls.count; the answer is waited for
// on the socket. No test asserts on how long something took.

import type { Socket } from 'node:net'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { published, request, text } from '../helpers/push.ts'
import { RawClient, requestBytes } from '../helpers/raw-client.ts'
import { startServer, withServer, type RunningServer } from '../helpers/server.ts'
import { until, within } from '../helpers/wait.ts'
import { field } from '../helpers/wire.ts'

const poll = suite('push routes: GET /poll')

let server: RunningServer

poll.before(async () => {
  server = await startServer()
})

poll.after(async () => {
  await server?.close()
})

/** Publishes `count` messages "m1", "m2", ... to `channel`. */
async function fill(port: number, channel: string, count: number): Promise<void> {
  for (let i = 1; i <= count; i++) await published(port, channel, `m${i}`)
}

poll('an empty channel answers {"messages":[],"last":0} as application/json, and is not kept', async () => {
  const response = await request(server.port, '/poll/nothing-here')
  assert.is(response.status, 200)
  assert.is(field(response, 'content-type'), 'application/json')
  assert.is(text(response), '{"messages":[],"last":0}')
  assert.is(server.hub.find('nothing-here'), undefined, 'an empty channel that no one follows is freed')
})

poll('the JSON is exact: envelopes in order, "event" when a message has one, and last', async () => {
  await published(server.port, 'exact', 'a')
  await published(server.port, 'exact', 'line1\nline2 "q" </script>', { event: 'note' })
  await published(server.port, 'exact', '✓')
  const response = await request(server.port, '/poll/exact?after=0')
  assert.is(text(response), '{"messages":[{"id":1,"data":"a"},{"id":2,"data":"line1\\nline2 \\"q\\" </script>","event":"note"},{"id":3,"data":"✓"}],"last":3}')
})

poll('without after only "last" comes: no history', async () => {
  await fill(server.port, 'no-after', 3)
  const response = await request(server.port, '/poll/no-after')
  assert.is(text(response), '{"messages":[],"last":3}')
})

poll('after=0 is all retained history, after=N what follows N, after=newest nothing', async () => {
  await fill(server.port, 'cursor', 4)
  assert.is(text(await request(server.port, '/poll/cursor?after=0')), '{"messages":[{"id":1,"data":"m1"},{"id":2,"data":"m2"},{"id":3,"data":"m3"},{"id":4,"data":"m4"}],"last":4}')
  assert.is(text(await request(server.port, '/poll/cursor?after=2')), '{"messages":[{"id":3,"data":"m3"},{"id":4,"data":"m4"}],"last":4}')
  assert.is(text(await request(server.port, '/poll/cursor?after=4')), '{"messages":[],"last":4}')
})

poll('after beyond the newest id (a cursor from another life) is a gap first, then all retained messages', async () => {
  await fill(server.port, 'beyond', 2)
  assert.is(text(await request(server.port, '/poll/beyond?after=7')), '{"gap":{"first":1},"messages":[{"id":1,"data":"m1"},{"id":2,"data":"m2"}],"last":2}')
  // On a channel with nothing, the gap says the first id to come is 1.
  assert.is(text(await request(server.port, '/poll/beyond-empty?after=3')), '{"gap":{"first":1},"messages":[],"last":0}')
})

poll('once history is trimmed, a cursor before it gets "gap":{"first":M}; after=0 never does', async () => {
  await withServer({ historyMessages: 3 }, async (small) => {
    await fill(small.port, 'trimmed', 6) // retained: 4, 5, 6
    const tail = '{"id":4,"data":"m4"},{"id":5,"data":"m5"},{"id":6,"data":"m6"}],"last":6}'
    assert.is(text(await request(small.port, '/poll/trimmed?after=1')), `{"gap":{"first":4},"messages":[${tail}`)
    assert.is(text(await request(small.port, '/poll/trimmed?after=2')), `{"gap":{"first":4},"messages":[${tail}`)
    // Message 4 is the next one the client needs, and it is retained: no gap.
    assert.is(text(await request(small.port, '/poll/trimmed?after=3')), `{"messages":[${tail}`)
    assert.is(text(await request(small.port, '/poll/trimmed?after=0')), `{"messages":[${tail}`)
    assert.is(text(await request(small.port, '/poll/trimmed?after=5')), '{"messages":[{"id":6,"data":"m6"}],"last":6}')
  })
})

poll('an after that is not a message id is 400', async () => {
  for (const after of ['-1', '1.5', 'abc', '', '1e3', '0x10', ' 1', '+1', String(2 ** 60), '9007199254740992']) {
    const response = await request(server.port, `/poll/bad-after?after=${encodeURIComponent(after)}`)
    assert.is(response.status, 400, `after=${JSON.stringify(after)}`)
  }
  // The largest safe integer is a (far-future) cursor, not an error.
  const largest = await request(server.port, `/poll/bad-after?after=${Number.MAX_SAFE_INTEGER}`)
  assert.is(largest.status, 200)
})

poll('the ETag sent back in If-None-Match is 304 with no body while nothing is new, 200 after a publish', async () => {
  await fill(server.port, 'etag', 2)
  const first = await request(server.port, '/poll/etag?after=2')
  const etag = field(first, 'etag')
  assert.ok(etag !== undefined && /^"[^"]+"$/.test(etag), `a strong ETag: ${etag}`)
  assert.is(text(first), '{"messages":[],"last":2}')

  const client = await RawClient.connect(server.port)
  try {
    client.write(requestBytes('GET', '/poll/etag?after=2', [`If-None-Match: ${etag}`]))
    const notModified = await client.nextOne()
    assert.is(notModified.status, 304)
    assert.is(notModified.body.length, 0)
    assert.is(field(notModified, 'content-length'), undefined)
    assert.is(field(notModified, 'content-type'), undefined, 'a 304 has no content to type (RFC 9110 §15.4.5)')
    assert.is(field(notModified, 'etag'), etag)
    assert.is(field(notModified, 'cache-control'), 'no-store')
    // A list that holds it, and the weak form, match too (RFC 9110 §13.1.2: weak comparison).
    client.write(requestBytes('GET', '/poll/etag?after=2', [`If-None-Match: "other", W/${etag}`]))
    assert.is((await client.nextOne()).status, 304)
    // "*" matches any current representation (RFC 9110 §13.1.2).
    client.write(requestBytes('GET', '/poll/etag?after=2', ['If-None-Match: *']))
    assert.is((await client.nextOne()).status, 304)
    // Another cursor is another answer.
    client.write(requestBytes('GET', '/poll/etag?after=1', [`If-None-Match: ${etag}`]))
    const otherCursor = await client.nextOne()
    assert.is(otherCursor.status, 200)
    assert.is(text(otherCursor), '{"messages":[{"id":2,"data":"m2"}],"last":2}')

    await published(server.port, 'etag', 'm3')
    client.write(requestBytes('GET', '/poll/etag?after=2', [`If-None-Match: ${etag}`]))
    const changed = await client.nextOne()
    assert.is(changed.status, 200)
    assert.is(text(changed), '{"messages":[{"id":3,"data":"m3"}],"last":3}')
    assert.is.not(field(changed, 'etag'), etag)
  } finally {
    client.destroy()
  }
})

poll('an ETag also names the trimmed history: a trim alone changes it', async () => {
  await withServer({ historyMessages: 2 }, async (small) => {
    await fill(small.port, 'trim-etag', 2)
    const before = field(await request(small.port, '/poll/trim-etag?after=0'), 'etag')
    await fill(small.port, 'trim-etag-other', 1)
    assert.is(field(await request(small.port, '/poll/trim-etag?after=0'), 'etag'), before, 'unchanged while the channel is')
    await published(small.port, 'trim-etag', 'm3')
    assert.is.not(field(await request(small.port, '/poll/trim-etag?after=0'), 'etag'), before)
  })
})

poll('/poll is Cache-Control: no-store with Access-Control-Allow-Origin: * and no credentials', async () => {
  const response = await request(server.port, '/poll/headers', ['Origin: http://page.example'])
  assert.is(field(response, 'cache-control'), 'no-store')
  assert.is(field(response, 'access-control-allow-origin'), '*')
  assert.is(field(response, 'access-control-allow-credentials'), undefined)
})

poll.run()

// ---------------------------------------------------------------------------------------

const longpoll = suite('push routes: GET /longpoll')

let lp: RunningServer

longpoll.before(async () => {
  lp = await startServer()
})

longpoll.after(async () => {
  await lp?.close()
})

/** A long poll on its own connection: the client, once the server has parked it. */
async function park(port: number, target: string, parkedBefore: () => number): Promise<RawClient> {
  const base = parkedBefore()
  const client = await RawClient.connect(port)
  client.write(requestBytes('GET', target))
  await until(() => parkedBefore() > base || client.responses.length > 0, `the long poll ${target} to be parked`)
  if (client.responses.length > 0) throw new Error(`the long poll ${target} was answered at once: ${client.responses[0].head}`)
  return client
}

longpoll('with something after N it answers at once, the same JSON as /poll', async () => {
  await fill(lp.port, 'lp-now', 3)
  const response = await request(lp.port, '/longpoll/lp-now?after=1')
  assert.is(response.status, 200)
  assert.is(field(response, 'content-type'), 'application/json')
  assert.is(field(response, 'cache-control'), 'no-store')
  assert.is(field(response, 'access-control-allow-origin'), '*')
  assert.is(text(response), '{"messages":[{"id":2,"data":"m2"},{"id":3,"data":"m3"}],"last":3}')
  // A cursor from another life: the gap, at once.
  assert.is(text(await request(lp.port, '/longpoll/lp-now?after=9')), '{"gap":{"first":1},"messages":[{"id":1,"data":"m1"},{"id":2,"data":"m2"},{"id":3,"data":"m3"}],"last":3}')
})

longpoll('a parked poll is answered with the message that a publish brings', async () => {
  await fill(lp.port, 'lp-wake', 2)
  const client = await park(lp.port, '/longpoll/lp-wake?after=2&timeout=60', () => lp.longPolls.count)
  try {
    const id = await published(lp.port, 'lp-wake', 'news', { event: 'tick' })
    const response = await client.nextOne()
    assert.is(response.status, 200)
    assert.is(field(response, 'content-type'), 'application/json')
    assert.is(field(response, 'cache-control'), 'no-store')
    assert.is(field(response, 'access-control-allow-origin'), '*')
    assert.is(text(response), `{"messages":[{"id":${id},"data":"news","event":"tick"}],"last":${id}}`)
    assert.is(lp.longPolls.count, 0)
    // The answer is what /poll answers for the same cursor.
    assert.is(text(await request(lp.port, '/poll/lp-wake?after=2')), text(response))
  } finally {
    client.destroy()
  }
})

longpoll('without after a poll parks even on a channel with history, and gets only the next message', async () => {
  await fill(lp.port, 'lp-fresh', 2)
  const client = await park(lp.port, '/longpoll/lp-fresh?timeout=60', () => lp.longPolls.count)
  try {
    await published(lp.port, 'lp-fresh', 'm3')
    assert.is(text(await client.nextOne()), '{"messages":[{"id":3,"data":"m3"}],"last":3}')
  } finally {
    client.destroy()
  }
})

longpoll('timeout=1 with nothing published is 204 with no body', async () => {
  const client = await RawClient.connect(lp.port)
  try {
    client.write(requestBytes('GET', '/longpoll/lp-timeout?timeout=1'))
    const response = await client.nextOne()
    assert.is(response.status, 204)
    assert.is(response.body.length, 0)
    assert.is(field(response, 'content-length'), undefined)
    assert.is(field(response, 'content-type'), undefined)
    assert.is(field(response, 'cache-control'), 'no-store')
    assert.is(lp.longPolls.count, 0)
    assert.is(lp.hub.find('lp-timeout'), undefined, 'the channel is freed with its last waiter')
    // The connection goes on.
    client.write(requestBytes('GET', '/poll/lp-timeout'))
    assert.is((await client.nextOne()).status, 200)
  } finally {
    client.destroy()
  }
})

longpoll('a timeout other than a whole number of seconds from 1 to 120 is 400', async () => {
  for (const timeout of ['0', '121', '1.5', 'abc', '-1', '', '1000', '2e1']) {
    const response = await request(lp.port, `/longpoll/lp-bad-timeout?timeout=${encodeURIComponent(timeout)}`)
    assert.is(response.status, 400, `timeout=${JSON.stringify(timeout)}`)
  }
  assert.is(lp.longPolls.count, 0)
  for (const after of ['-1', '1.5', 'abc', String(2 ** 60)]) {
    const response = await request(lp.port, `/longpoll/lp-bad-timeout?after=${encodeURIComponent(after)}&timeout=5`)
    assert.is(response.status, 400, `after=${after}`)
  }
})

longpoll('timeout=120 and no timeout at all (25 s) both park until a publish', async () => {
  for (const target of ['/longpoll/lp-default', '/longpoll/lp-default?timeout=120']) {
    const client = await park(lp.port, target, () => lp.longPolls.count)
    try {
      const id = await published(lp.port, 'lp-default', 'now')
      const response = await client.nextOne()
      assert.is(response.status, 200, target)
      assert.is(text(response), `{"messages":[{"id":${id},"data":"now"}],"last":${id}}`)
    } finally {
      client.destroy()
    }
  }
})

longpoll('a client that goes away (reset) while parked is forgotten at once, and a later publish writes to no one', async () => {
  // A FIN alone is a half-close, which still gets its answer (the test after this one): the
  // server cannot tell it from a client that left until it writes. A reset it can.
  await withServer({}, async (live) => {
    const client = await live.connect()
    client.write(requestBytes('GET', '/longpoll/lp-gone?timeout=60'))
    await until(() => live.longPolls.count === 1, 'the poll to park')
    assert.is(live.accepted.length, 1)
    const serverSide: Socket = live.accepted[0]
    client.socket.resetAndDestroy()
    await until(() => live.longPolls.count === 0, 'the server to forget the parked poll')
    assert.is(live.hub.find('lp-gone'), undefined, 'the channel went with its only waiter')
    await until(() => serverSide.destroyed, "the server's socket to close")
    const written = serverSide.bytesWritten
    await published(live.port, 'lp-gone', 'for no one')
    assert.is(live.hub.find('lp-gone')!.subscribers, 0)
    assert.is(serverSide.bytesWritten, written, 'nothing written to the dead socket')
  })
})

longpoll('a client that half-closes (FIN) while parked has gone: it is forgotten at once, and a later publish writes to no one', async () => {
  // Browsers never half-close while they wait for an answer: a FIN from a parked poll is a
  // client that left (closed its tab, aborted its fetch). A plain request still gets its
  // answer after a FIN (test/http/connection.test.ts): only responses that wait for events
  // are abandoned.
  await withServer({}, async (live) => {
    const client = await live.connect()
    client.write(requestBytes('GET', '/longpoll/lp-half?timeout=60'))
    await until(() => live.longPolls.count === 1, 'the poll to park')
    const serverSide: Socket = live.accepted[0]
    client.end()
    await until(() => live.longPolls.count === 0, 'the server to forget the parked poll')
    assert.is(live.hub.find('lp-half'), undefined, 'the channel went with its only waiter')
    await until(() => serverSide.destroyed, "the server's socket to close")
    const written = serverSide.bytesWritten
    await published(live.port, 'lp-half', 'for no one')
    assert.is(serverSide.bytesWritten, written, 'nothing written to the gone client')
  })
})

longpoll('500 parked polls on keep-alive connections are all answered by one publish with the same body', async () => {
  await withServer({}, async (live) => {
    const clients: RawClient[] = []
    for (let i = 0; i < 500; i++) clients.push(await live.connect())
    for (const client of clients) client.write(requestBytes('GET', '/longpoll/lp-many?after=0&timeout=60'))
    await until(() => live.longPolls.count === 500, 'all 500 polls to park')
    const id = await published(live.port, 'lp-many', 'to all')
    const responses = await Promise.all(clients.map((client) => client.nextOne()))
    const expected = `{"messages":[{"id":${id},"data":"to all"}],"last":${id}}`
    for (const response of responses) {
      assert.is(response.status, 200)
      assert.is(text(response), expected)
      assert.is(field(response, 'connection'), undefined, 'keep-alive: no Connection: close')
    }
    assert.is(live.longPolls.count, 0)
    // Every connection is still usable: each parks again and one more publish answers them all.
    for (const client of clients) client.write(requestBytes('GET', `/longpoll/lp-many?after=${id}&timeout=60`))
    await until(() => live.longPolls.count === 500, 'all 500 polls to park again')
    const second = await published(live.port, 'lp-many', 'again')
    const again = await Promise.all(clients.map((client) => client.nextOne()))
    for (const response of again) assert.is(text(response), `{"messages":[{"id":${second},"data":"again"}],"last":${second}}`)
  })
})

longpoll('shutdown answers parked polls with 204, and close() resolves', async () => {
  const own = await startServer()
  const clients = [await RawClient.connect(own.port), await RawClient.connect(own.port)]
  try {
    for (const client of clients) client.write(requestBytes('GET', '/longpoll/lp-shutdown?timeout=60'))
    await until(() => own.longPolls.count === 2, 'both polls to park')
    const closing = own.listener.close()
    for (const client of clients) {
      const response = await client.nextOne()
      assert.is(response.status, 204)
      assert.is(field(response, 'connection'), 'close')
      await client.serverClosed()
    }
    await within(closing, 'listener.close() to resolve')
    assert.is(own.longPolls.count, 0)
  } finally {
    for (const client of clients) client.destroy()
    await own.close()
  }
})

longpoll('a HEAD long poll parks too, and its answer has no body', async () => {
  const client = await RawClient.connect(lp.port)
  try {
    client.expectHead(0)
    client.write(requestBytes('HEAD', '/longpoll/lp-head?timeout=60'))
    await until(() => lp.longPolls.count === 1, 'the HEAD poll to park')
    await published(lp.port, 'lp-head', 'x')
    const response = await client.nextOne()
    assert.is(response.status, 200)
    assert.is(response.body.length, 0)
    // The connection stays in step: the next response is read right after the head.
    client.write(requestBytes('GET', '/hello'))
    assert.is(text(await client.nextOne()), 'hello world')
  } finally {
    client.destroy()
  }
})

longpoll('polls parked on two channels wake only with their own channel', async () => {
  const a = await park(lp.port, '/longpoll/lp-a?timeout=60', () => lp.longPolls.count)
  const b = await park(lp.port, '/longpoll/lp-b?timeout=60', () => lp.longPolls.count)
  try {
    await published(lp.port, 'lp-a', 'for a')
    assert.is(text(await a.nextOne()), '{"messages":[{"id":1,"data":"for a"}],"last":1}')
    assert.is(lp.longPolls.count, 1, 'b is still parked')
    assert.is(b.receivedLength, 0)
    await published(lp.port, 'lp-b', 'for b')
    assert.is(text(await b.nextOne()), '{"messages":[{"id":1,"data":"for b"}],"last":1}')
  } finally {
    a.destroy()
    b.destroy()
  }
})

longpoll.run()

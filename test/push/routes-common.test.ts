// What every push route shares, on real sockets against the real server on port 0
// (CONTRACT.md): CORS by default and with an allowlist (preflights included, and the
// WebSocket Origin check), Cache-Control, HEAD on the streamed routes, 404 and 405, and
// shutdown with every kind of subscriber connected.

import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import WebSocket from 'ws'
import { openStream, published, request, text } from '../helpers/push.ts'
import { RawClient, requestBytes } from '../helpers/raw-client.ts'
import { startServer, withServer, type RunningServer } from '../helpers/server.ts'
import { until, within } from '../helpers/wait.ts'
import { field, fieldAll, type WireResponse } from '../helpers/wire.ts'
import { closeBody, WsRawClient } from '../helpers/ws-raw.ts'
import { Opcode } from '../../src/ws/frame.ts'

const test = suite('push routes: CORS, Cache-Control, HEAD, shutdown')

let server: RunningServer

test.before(async () => {
  server = await startServer()
})

test.after(async () => {
  await server?.close()
})

/** The subscription routes, each with a target that answers at once (long poll: a cursor with something after it). */
const SUBSCRIPTIONS = ['poll', 'longpoll', 'stream', 'iframe', 'sse'] as const

function targetOf(route: (typeof SUBSCRIPTIONS)[number], channel: string): string {
  return route === 'longpoll' ? `/longpoll/${channel}?after=0&timeout=60` : `/${route}/${channel}`
}

/** The head of a GET on any push route: a fixed response, or the head of a streamed one (then the connection is dropped). */
async function headOf(port: number, target: string, fields: string[] = []): Promise<{ status: number; fields: [string, string][] }> {
  const stream = await openStream(port, target, fields)
  try {
    return await stream.head()
  } finally {
    stream.destroy()
  }
}

const get = (head: { fields: [string, string][] }, name: string) => field(head as WireResponse, name)
const getAll = (head: { fields: [string, string][] }, name: string) => fieldAll(head as WireResponse, name)

test('by default every subscription route answers Access-Control-Allow-Origin: * without credentials', async () => {
  await published(server.port, 'c-default', 'x')
  for (const route of SUBSCRIPTIONS) {
    for (const origin of [['Origin: http://anywhere.example'], []]) {
      const head = await headOf(server.port, targetOf(route, 'c-default'), origin)
      assert.is(head.status, 200, route)
      assert.is(get(head, 'access-control-allow-origin'), '*', `${route} ${origin.join('')}`)
      assert.is(get(head, 'access-control-allow-credentials'), undefined, route)
    }
  }
})

test('by default a preflight is answered 204 with *, the methods, and the requested headers', async () => {
  for (const route of SUBSCRIPTIONS) {
    const response = await request(
      server.port,
      `/${route}/c-preflight`,
      ['Origin: http://anywhere.example', 'Access-Control-Request-Method: GET', 'Access-Control-Request-Headers: last-event-id, cache-control'],
      'OPTIONS',
    )
    assert.is(response.status, 204, route)
    assert.is(field(response, 'access-control-allow-origin'), '*', route)
    assert.is(field(response, 'access-control-allow-methods'), 'GET, HEAD', route)
    assert.is(field(response, 'access-control-allow-headers'), 'last-event-id, cache-control', route)
    assert.is(field(response, 'access-control-allow-credentials'), undefined, route)
    assert.match(field(response, 'allow') ?? '', /GET/)
    assert.is(response.body.length, 0)
  }
  assert.is(server.hub.find('c-preflight'), undefined, 'a preflight makes no channel')
})

test('a preflight asking for a header list that is not tokens gets no Access-Control-Allow-Headers', async () => {
  const response = await request(server.port, '/sse/c-bad-headers', ['Origin: http://a.example', 'Access-Control-Request-Method: GET', 'Access-Control-Request-Headers: x(y), z'], 'OPTIONS')
  assert.is(response.status, 204)
  assert.is(field(response, 'access-control-allow-headers'), undefined)
})

test('with allowedOrigins: an allowed Origin is echoed with credentials and Vary: Origin; another gets no ACAO; none is never refused', async () => {
  const allowed = 'http://app.example:8080'
  await withServer({ allowedOrigins: [allowed, 'https://second.example'] }, async (live) => {
    await published(live.port, 'c-list', 'x')
    for (const route of SUBSCRIPTIONS) {
      const target = targetOf(route, 'c-list')
      const ok = await headOf(live.port, target, [`Origin: ${allowed}`])
      assert.is(ok.status, 200, route)
      assert.is(get(ok, 'access-control-allow-origin'), allowed, route)
      assert.is(get(ok, 'access-control-allow-credentials'), 'true', route)
      assert.ok(getAll(ok, 'vary').some((value) => /\bOrigin\b/i.test(value)), `${route}: Vary: Origin`)

      for (const origin of ['http://evil.example', 'http://app.example', 'null', `${allowed}/`]) {
        const other = await headOf(live.port, target, [`Origin: ${origin}`])
        assert.is(other.status, 200, `${route} ${origin}: answered, the browser withholds it`)
        assert.is(get(other, 'access-control-allow-origin'), undefined, `${route} ${origin}`)
        assert.is(get(other, 'access-control-allow-credentials'), undefined, `${route} ${origin}`)
        assert.ok(getAll(other, 'vary').some((value) => /\bOrigin\b/i.test(value)), `${route} ${origin}: Vary: Origin`)
      }

      const none = await headOf(live.port, target)
      assert.is(none.status, 200, `${route} without Origin`)
      assert.is(get(none, 'access-control-allow-origin'), undefined)
    }
    // The second origin of the list is allowed as well.
    const second = await headOf(live.port, '/poll/c-list', ['Origin: https://second.example'])
    assert.is(get(second, 'access-control-allow-origin'), 'https://second.example')
  })
})

test('with allowedOrigins: preflights from an allowed origin are answered with it; others get no CORS fields', async () => {
  const allowed = 'https://app.example'
  await withServer({ allowedOrigins: [allowed] }, async (live) => {
    for (const route of SUBSCRIPTIONS) {
      const ok = await request(live.port, `/${route}/c-list-pre`, [`Origin: ${allowed}`, 'Access-Control-Request-Method: GET', 'Access-Control-Request-Headers: Last-Event-ID'], 'OPTIONS')
      assert.is(ok.status, 204, route)
      assert.is(field(ok, 'access-control-allow-origin'), allowed, route)
      assert.is(field(ok, 'access-control-allow-credentials'), 'true', route)
      assert.is(field(ok, 'access-control-allow-methods'), 'GET, HEAD', route)
      assert.is(field(ok, 'access-control-allow-headers'), 'Last-Event-ID', route)
      assert.ok(fieldAll(ok, 'vary').some((value) => /\bOrigin\b/i.test(value)), route)

      const other = await request(live.port, `/${route}/c-list-pre`, ['Origin: https://evil.example', 'Access-Control-Request-Method: GET'], 'OPTIONS')
      assert.is(field(other, 'access-control-allow-origin'), undefined, route)
      assert.is(field(other, 'access-control-allow-credentials'), undefined, route)
    }
  })
})

test('with allowedOrigins: a WebSocket upgrade from another origin is 403; allowed or no Origin is 101', async () => {
  const allowed = 'https://app.example'
  await withServer({ allowedOrigins: [allowed] }, async (live) => {
    const refused = await WsRawClient.connect(live.port, { path: '/ws/c-ws-origin', fields: ['Origin: https://evil.example'] })
    try {
      await refused.waitFor(() => refused.status !== 0, 'the handshake response')
      assert.is(refused.status, 403)
      assert.is(live.hub.find('c-ws-origin'), undefined, 'a refused upgrade makes no channel')
    } finally {
      refused.destroy()
    }
    for (const fields of [[`Origin: ${allowed}`], []]) {
      const ok = await WsRawClient.open(live.port, { path: '/ws/c-ws-origin', fields })
      ok.destroy()
    }
  })
  // By default every origin may connect.
  const any = await WsRawClient.open(server.port, { path: '/ws/c-ws-any', fields: ['Origin: https://evil.example'] })
  any.destroy()
})

test('Cache-Control: no-store on /poll, /longpoll (200 and 204), /stream, /iframe; no-cache on /sse', async () => {
  await published(server.port, 'c-cache', 'x')
  const expected: [string, string][] = [
    ['/poll/c-cache', 'no-store'],
    ['/poll/c-cache?after=0', 'no-store'],
    ['/longpoll/c-cache?after=0', 'no-store'],
    ['/longpoll/c-cache-empty?timeout=1', 'no-store'],
    ['/stream/c-cache', 'no-store'],
    ['/iframe/c-cache', 'no-store'],
    ['/sse/c-cache', 'no-cache'],
  ]
  for (const [target, value] of expected) {
    const head = await headOf(server.port, target)
    assert.is(getAll(head, 'cache-control').join(', '), value, target)
  }
})

test('HEAD on /stream, /iframe and /sse is the head alone, the connection goes on, and no channel is kept', async () => {
  const client = await RawClient.connect(server.port)
  try {
    const targets = ['/stream/c-head', '/iframe/c-head', '/sse/c-head', '/poll/c-head']
    client.expectHead(0, 1, 2, 3)
    client.write(targets.map((target) => requestBytes('HEAD', target)).join('') + requestBytes('GET', '/hello'))
    const responses = await client.next(5)
    const types = ['application/x-ndjson', 'text/html; charset=utf-8', 'text/event-stream', 'application/json']
    for (const [i, response] of responses.slice(0, 4).entries()) {
      assert.is(response.status, 200, targets[i])
      assert.is(field(response, 'content-type'), types[i], targets[i])
      assert.is(response.body.length, 0, targets[i])
    }
    // The head is all: the next response starts right after it.
    assert.is(text(responses[4]), 'hello world')
    assert.is(server.hub.find('c-head'), undefined)
  } finally {
    client.destroy()
  }
})

test('a push path without a channel, or with more segments, is 404; another method on a route is 405 with Allow', async () => {
  for (const target of ['/poll', '/poll/', '/sse/a/b', '/stream/a/b', '/ws/', '/longpoll/a/b']) {
    assert.is((await request(server.port, target)).status, 404, target)
  }
  for (const [method, target] of [
    ['POST', '/poll/c-method'],
    ['DELETE', '/sse/c-method'],
    ['PUT', '/stream/c-method'],
    ['POST', '/iframe/c-method'],
    ['POST', '/longpoll/c-method'],
  ]) {
    const response = await request(server.port, target, ['Content-Length: 0'], method)
    assert.is(response.status, 405, `${method} ${target}`)
    assert.match(field(response, 'allow') ?? '', /\bGET\b/)
  }
})

test('every response of a push route carries Date', async () => {
  await published(server.port, 'c-date', 'x')
  for (const target of ['/poll/c-date', '/longpoll/c-date?after=0', '/stream/c-date', '/iframe/c-date', '/sse/c-date', '/ws/c-date', '/poll/c-date?after=x']) {
    const head = await headOf(server.port, target)
    assert.ok(get(head, 'date'), target)
  }
})

test('shutdown: SSE, stream and iframe end with the last chunk, ws clients get 1001, parked polls 204, and close() resolves', async () => {
  const own = await startServer()
  const streams = await Promise.all(['/sse/c-bye', '/stream/c-bye', '/iframe/c-bye'].map((target) => openStream(own.port, target)))
  const raw = await WsRawClient.open(own.port, { path: '/ws/c-bye' })
  const client = new WebSocket(`ws://127.0.0.1:${own.port}/ws/c-bye`)
  const poll = await RawClient.connect(own.port)
  try {
    const closed = within(new Promise<number>((resolve) => client.on('close', (code: number) => resolve(code))), 'the ws close event')
    await within(new Promise((resolve) => client.once('open', resolve)), 'the ws client to open')
    for (const stream of streams) await stream.head()
    await until(() => own.hub.find('c-bye')?.subscribers === 5, 'every subscriber to be in place')
    // One message first: each subscriber is live, and the end comes after it.
    await published(own.port, 'c-bye', 'last words')
    for (const stream of streams) await stream.waitData('last words')
    poll.write(requestBytes('GET', '/longpoll/c-bye?after=1&timeout=60'))
    await until(() => own.longPolls.count === 1, 'the poll to park')

    const closing = own.listener.close()
    for (const stream of streams) {
      await stream.waitEnd()
      await stream.client.serverClosed()
    }
    assert.ok(streams[0].data.endsWith('id: 1\ndata: last words\n\n'), streams[0].data)
    assert.ok(streams[1].data.endsWith('{"id":1,"data":"last words"}\n'), streams[1].data)
    assert.ok(streams[2].data.endsWith('<script>parent.push({"id":1,"data":"last words"})</script>\n'), streams[2].data.slice(-100))

    const close = await raw.untilClose()
    assert.is(close.code, 1001)
    raw.sendFrame(Opcode.CLOSE, closeBody(1001))
    await raw.serverEnded()
    assert.is(await closed, 1001)

    const answer = await poll.nextOne()
    assert.is(answer.status, 204)
    await within(closing, 'listener.close() to resolve')
    assert.is(own.streams.count, 0)
    assert.is(own.longPolls.count, 0)
    assert.is(own.channels.sessionCount, 0)
  } finally {
    for (const stream of streams) stream.destroy()
    raw.destroy()
    client.terminate()
    poll.destroy()
    await own.close()
  }
})

// A streamed response ends only when the server closes the connection: its head says so,
// or a client would pool the connection (fetch does) and send its next request into a
// closing socket (an EventSource's reconnection would fail once, and retry).
test('a streamed response, which ends only when the server closes the connection, says Connection: close in its head', async () => {
  await withServer({}, async (live) => {
    for (const target of ['/sse/c-close-head', '/stream/c-close-head', '/iframe/c-close-head']) {
      const stream = await openStream(live.port, target)
      try {
        const head = await stream.head()
        live.streams.shutdown()
        await stream.waitEnd()
        await stream.client.serverClosed()
        assert.is(get(head, 'connection'), 'close', `${target}: the connection closed after a keep-alive response`)
      } finally {
        stream.destroy()
      }
    }
  })
})

test.run()

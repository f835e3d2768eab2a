// GET /sse/{channel} on real sockets against the real server on port 0 (CONTRACT.md,
// "Routes"; WHATWG HTML, "Server-sent events"): the head, retry: first, one event per
// chunk with id:, event: and one data: line per line, Last-Event-ID over after, the gap
// event, heartbeat comments, curl -sN, and the `eventsource` package (v4) as a client,
// reconnecting after the server drops it and resuming with Last-Event-ID.

import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { EventSource, type FetchLike } from 'eventsource'
import { curlPath, startCurl } from '../helpers/curl-stream.ts'
import { headField, openStream, published, request } from '../helpers/push.ts'
import { startServer, withServer, type RunningServer } from '../helpers/server.ts'
import { until } from '../helpers/wait.ts'

const test = suite('push routes: GET /sse')

let server: RunningServer

test.before(async () => {
  server = await startServer()
})

test.after(async () => {
  await server?.close()
})

test('the head is 200 chunked text/event-stream, Cache-Control: no-cache, X-Accel-Buffering: no, CORS *', async () => {
  const feed = await openStream(server.port, '/sse/e-head', ['Origin: http://page.example'])
  try {
    const head = await feed.head()
    assert.is(head.status, 200)
    assert.is(headField(head, 'content-type'), 'text/event-stream')
    assert.is(headField(head, 'cache-control'), 'no-cache')
    assert.is(headField(head, 'x-accel-buffering'), 'no')
    assert.is(headField(head, 'transfer-encoding'), 'chunked')
    assert.is(headField(head, 'content-length'), undefined)
    assert.is(headField(head, 'access-control-allow-origin'), '*')
    assert.is(headField(head, 'access-control-allow-credentials'), undefined)
  } finally {
    feed.destroy()
  }
})

test('retry: 3000 is the first chunk, then one chunk per event: id:, event: when named, data:', async () => {
  await published(server.port, 'e-events', 'hello')
  await published(server.port, 'e-events', 'up', { event: 'price' })
  const feed = await openStream(server.port, '/sse/e-events?after=0')
  try {
    await feed.waitChunks(3)
    await published(server.port, 'e-events', 'live ✓')
    await feed.waitChunks(4)
    assert.equal(feed.chunkTexts(), ['retry: 3000\n\n', 'id: 1\ndata: hello\n\n', 'id: 2\nevent: price\ndata: up\n\n', 'id: 3\ndata: live ✓\n\n'])
  } finally {
    feed.destroy()
  }
})

test('the configured sseRetryMs is the retry: sent', async () => {
  await withServer({ sseRetryMs: 1234 }, async (live) => {
    const feed = await openStream(live.port, '/sse/e-retry')
    try {
      await feed.waitChunks(1)
      assert.equal(feed.chunkTexts(), ['retry: 1234\n\n'])
    } finally {
      feed.destroy()
    }
  })
})

test('data with \\n, \\r\\n and \\r line breaks is one data: line per line; empty lines and an empty message too', async () => {
  const messages = ['a\nb\r\nc\rd', 'trailing\n', '', '\n\n', 'x\r\n\r\ny']
  for (const data of messages) await published(server.port, 'e-lines', data)
  const feed = await openStream(server.port, '/sse/e-lines?after=0')
  try {
    await feed.waitChunks(1 + messages.length)
    assert.equal(feed.chunkTexts().slice(1), [
      'id: 1\ndata: a\ndata: b\ndata: c\ndata: d\n\n',
      'id: 2\ndata: trailing\ndata: \n\n',
      'id: 3\ndata: \n\n',
      'id: 4\ndata: \ndata: \ndata: \n\n',
      'id: 5\ndata: x\ndata: \ndata: y\n\n',
    ])
  } finally {
    feed.destroy()
  }
})

test('without after only new events come; after=N starts after N', async () => {
  for (const data of ['a', 'b', 'c']) await published(server.port, 'e-cursor', data)
  const fresh = await openStream(server.port, '/sse/e-cursor')
  const fromTwo = await openStream(server.port, '/sse/e-cursor?after=2')
  try {
    await fresh.waitChunks(1)
    await fromTwo.waitChunks(2)
    await published(server.port, 'e-cursor', 'd')
    await fresh.waitChunks(2)
    await fromTwo.waitChunks(3)
    assert.equal(fresh.chunkTexts(), ['retry: 3000\n\n', 'id: 4\ndata: d\n\n'])
    assert.equal(fromTwo.chunkTexts(), ['retry: 3000\n\n', 'id: 3\ndata: c\n\n', 'id: 4\ndata: d\n\n'])
  } finally {
    fresh.destroy()
    fromTwo.destroy()
  }
})

test('Last-Event-ID wins over after; an empty one leaves after in charge', async () => {
  for (const data of ['1', '2', '3', '4', '5']) await published(server.port, 'e-last', data)
  const resumed = await openStream(server.port, '/sse/e-last?after=1', ['Last-Event-ID: 3'])
  const empty = await openStream(server.port, '/sse/e-last?after=4', ['Last-Event-ID: '])
  try {
    await resumed.waitChunks(3)
    await empty.waitChunks(2)
    assert.equal(resumed.chunkTexts(), ['retry: 3000\n\n', 'id: 4\ndata: 4\n\n', 'id: 5\ndata: 5\n\n'])
    assert.equal(empty.chunkTexts(), ['retry: 3000\n\n', 'id: 5\ndata: 5\n\n'])
  } finally {
    resumed.destroy()
    empty.destroy()
  }
  // A Last-Event-ID that is not a message id of this server is refused like a bad after.
  assert.is((await request(server.port, '/sse/e-last', ['Last-Event-ID: abc'])).status, 400)
  assert.is((await request(server.port, '/sse/e-last?after=x')).status, 400)
})

test('a gap is "event: gap" with data {"first":M} and no id, then the oldest retained message on', async () => {
  await withServer({ historyMessages: 2 }, async (small) => {
    for (const data of ['a', 'b', 'c', 'd']) await published(small.port, 'e-gap', data)
    const behind = await openStream(small.port, '/sse/e-gap', ['Last-Event-ID: 1'])
    const beyond = await openStream(small.port, '/sse/e-gap?after=99')
    try {
      await behind.waitChunks(4)
      await beyond.waitChunks(4)
      const expected = ['retry: 3000\n\n', 'event: gap\ndata: {"first":3}\n\n', 'id: 3\ndata: c\n\n', 'id: 4\ndata: d\n\n']
      assert.equal(behind.chunkTexts(), expected)
      assert.equal(beyond.chunkTexts(), expected)
    } finally {
      behind.destroy()
      beyond.destroy()
    }
  })
})

test('an idle event stream gets comment heartbeats', async () => {
  await withServer({ heartbeatMs: 40 }, async (live) => {
    const feed = await openStream(live.port, '/sse/e-beat')
    try {
      await feed.waitChunks(3, 'retry: and two heartbeats')
      const chunks = feed.chunkTexts()
      assert.is(chunks[0], 'retry: 3000\n\n')
      assert.equal(chunks.slice(1), chunks.slice(1).map(() => ':\n\n'))
    } finally {
      feed.destroy()
    }
  })
})

test('curl -sN prints the event stream as it comes, and exits 0 when the server ends it', async () => {
  if (curlPath === null) return console.log('curl is not installed: skipping')
  await withServer({}, async (live) => {
    await published(live.port, 'e-curl', 'first')
    const curl = startCurl(['-N', `${live.origin}/sse/e-curl?after=0`])
    try {
      await curl.waitOutput('data: first\n\n')
      await published(live.port, 'e-curl', 'two\nlines', { event: 'multi' })
      await curl.waitOutput('data: lines\n\n')
      live.streams.shutdown()
      assert.is(await curl.exited, 0, curl.stderr())
      assert.is(curl.stdout().toString(), 'retry: 3000\n\nid: 1\ndata: first\n\nid: 2\nevent: multi\ndata: two\ndata: lines\n\n')
    } finally {
      curl.stop()
    }
  })
})

// ---- the eventsource package as a client

interface Received {
  type: string
  data: string
  lastEventId: string
}

/** An EventSource that records every event of the given types, and the Last-Event-ID of each request it makes. */
function follow(url: string, types: string[] = []) {
  const received: Received[] = []
  const errors: string[] = []
  /** Last-Event-ID of each request (null: none sent). */
  const requests: (string | null)[] = []
  let opened = 0
  const recordingFetch: FetchLike = (input, init) => {
    requests.push(init.headers['Last-Event-ID'] ?? null)
    return fetch(input, init)
  }
  const source = new EventSource(url, { fetch: recordingFetch })
  const record = (event: Event) => {
    const message = event as MessageEvent
    received.push({ type: message.type, data: message.data as string, lastEventId: message.lastEventId })
  }
  source.addEventListener('message', record)
  for (const type of types) source.addEventListener(type, record)
  source.addEventListener('open', () => opened++)
  source.addEventListener('error', (event) => errors.push(String((event as { message?: string }).message)))
  return {
    source,
    received,
    errors,
    requests,
    get opened() {
      return opened
    },
    waitFor(count: number, what = `${count} event(s)`) {
      return until(() => received.length >= count, `${what}; got ${JSON.stringify(received)} errors ${JSON.stringify(errors)}`)
    },
  }
}

test('eventsource receives messages and named events, with their ids, and line breaks as the spec joins them', async () => {
  const client = follow(`${server.origin}/sse/e-client`, ['price', 'gap'])
  try {
    await until(() => client.opened === 1 && (server.hub.find('e-client')?.subscribers ?? 0) === 1, 'the EventSource to connect')
    await published(server.port, 'e-client', 'plain')
    await published(server.port, 'e-client', '42.5', { event: 'price' })
    await published(server.port, 'e-client', 'one\ntwo\n\nfour')
    await published(server.port, 'e-client', 'crlf\r\nand\rcr')
    await client.waitFor(4)
    assert.equal(client.received, [
      { type: 'message', data: 'plain', lastEventId: '1' },
      { type: 'price', data: '42.5', lastEventId: '2' },
      { type: 'message', data: 'one\ntwo\n\nfour', lastEventId: '3' },
      // One data: line per line, joined with LF by the parser: CR LF and CR come back as LF.
      { type: 'message', data: 'crlf\nand\ncr', lastEventId: '4' },
    ])
    assert.equal(client.errors, [])
  } finally {
    client.source.close()
  }
})

test('eventsource gets the gap as a "gap" event whose data is {"first":M}', async () => {
  await withServer({ historyMessages: 1 }, async (small) => {
    for (const data of ['a', 'b', 'c']) await published(small.port, 'e-client-gap', data)
    const client = follow(`${small.origin}/sse/e-client-gap?after=1`, ['gap'])
    try {
      await client.waitFor(2)
      // eventsource v4 sets lastEventId to the event's own id, '' for an event without one
      // (a browser would repeat the last id seen); the id it sends back on reconnect is unchanged.
      assert.equal(client.received, [
        { type: 'gap', data: '{"first":3}', lastEventId: '' },
        { type: 'message', data: 'c', lastEventId: '3' },
      ])
    } finally {
      client.source.close()
    }
  })
})

test('eventsource reconnects after the server ends the stream, sends Last-Event-ID, and misses nothing', async () => {
  await withServer({ sseRetryMs: 50 }, async (live) => {
    const client = follow(`${live.origin}/sse/e-resume?after=0`)
    try {
      await published(live.port, 'e-resume', 'm1')
      await published(live.port, 'e-resume', 'm2')
      await client.waitFor(2)
      // A clean end (the last chunk), as on shutdown; then messages while it is away.
      live.streams.shutdown()
      await published(live.port, 'e-resume', 'm3')
      await published(live.port, 'e-resume', 'm4')
      await client.waitFor(4)
      await until(() => client.opened === 2 && live.streams.count === 1, 'the EventSource to be connected again')
      await published(live.port, 'e-resume', 'm5')
      await client.waitFor(5)
      assert.equal(
        client.received.map((event) => `${event.lastEventId}:${event.data}`),
        ['1:m1', '2:m2', '3:m3', '4:m4', '5:m5'],
      )
      // One reconnection, resuming from the last id seen (the head said Connection: close,
      // so the client did not try to reuse the closed connection).
      assert.equal(client.requests, [null, '2'])
    } finally {
      client.source.close()
    }
  })
})

test('eventsource reconnects after its connection is destroyed mid-stream, and resumes without loss or duplicates', async () => {
  await withServer({ sseRetryMs: 50 }, async (live) => {
    const client = follow(`${live.origin}/sse/e-drop`)
    try {
      await until(() => client.opened === 1 && live.streams.count === 1, 'the EventSource to connect')
      await published(live.port, 'e-drop', 'm1')
      await client.waitFor(1)
      // Once the publishes' own connections have closed, the one socket left open is the EventSource's.
      const open = () => live.accepted.filter((socket) => !socket.destroyed)
      await until(() => open().length === 1, 'only the EventSource connection to be open')
      open()[0].destroy()
      await published(live.port, 'e-drop', 'm2')
      await client.waitFor(2)
      await until(() => client.opened === 2 && live.streams.count === 1, 'the EventSource to be connected again')
      await published(live.port, 'e-drop', 'm3')
      await client.waitFor(3)
      assert.equal(
        client.received.map((event) => `${event.lastEventId}:${event.data}`),
        ['1:m1', '2:m2', '3:m3'],
      )
      assert.equal(client.requests, [null, '1'])
      assert.ok(client.errors.length >= 1, 'the drop was reported as an error event')
    } finally {
      client.source.close()
    }
  })
})

test('eventsource stops reconnecting once closed, and the server forgets the stream at once', async () => {
  // Closing aborts the fetch: the connection gets a FIN, and a streamed response whose
  // client half-closes is taken to be abandoned (connection.ts), with no heartbeat needed.
  await withServer({ heartbeatMs: 60_000 }, async (live) => {
    const client = follow(`${live.origin}/sse/e-close`)
    await until(() => client.opened === 1 && live.hub.find('e-close')?.subscribers === 1, 'the EventSource to connect')
    client.source.close()
    await until(() => live.hub.find('e-close') === undefined && live.streams.count === 0, 'the server to forget the stream')
    assert.is(client.source.readyState, client.source.CLOSED)
    assert.is(client.requests.length, 1, 'no reconnection')
  })
})

test.run()

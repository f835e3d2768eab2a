// The trace on the real server and real sockets: what a request to /hello, an SSE
// subscription with one publish, and a WebSocket exchange produce, in order; GET /trace
// as an inspector sees it (it leaves itself out, redacts secrets, refuses other machines,
// drops events for a reader that does not keep up); and nothing at all when tracing is off.
//
// The tracer is one per process: every test attaches its sink and detaches it, and checks
// that tracing is off when it starts.

import { networkInterfaces } from 'node:os'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { defaultOptions } from '../../src/options.ts'
import { createPushServer } from '../../src/server.ts'
import { isLoopback, MAX_BACKLOG } from '../../src/trace/inspector.ts'
import { formatEvent, redactTarget, requestText, tracer, transportOf, type TraceEvent, type TraceSink } from '../../src/trace/tracer.ts'
import { Opcode } from '../../src/ws/frame.ts'
import { openStream, published, request, type OpenStream } from '../helpers/push.ts'
import { RawClient, requestBytes } from '../helpers/raw-client.ts'
import { withServer } from '../helpers/server.ts'
import { until, within } from '../helpers/wait.ts'
import { clientFrame, closeBody, WsRawClient } from '../helpers/ws-raw.ts'

class Collector implements TraceSink {
  readonly events: TraceEvent[] = []
  event(event: TraceEvent): void {
    this.events.push(event)
  }
  of(conn: number): TraceEvent[] {
    return this.events.filter((event) => event.conn === conn)
  }
  /** The connection of the first event whose first line starts with `start`. */
  connOf(start: string): number {
    const event = this.events.find((e) => e.lines[0]?.startsWith(start))
    if (event === undefined) throw new Error(`no event starts with ${JSON.stringify(start)}; events: ${JSON.stringify(this.events.map((e) => e.lines[0]))}`)
    return event.conn
  }
}

/** Runs `run` with a collecting sink attached; detaches it whatever happens. */
async function tracing(run: (sink: Collector) => Promise<void>): Promise<void> {
  assert.is(tracer.on, false, 'tracing is off before the test')
  const sink = new Collector()
  tracer.attach(sink)
  try {
    await run(sink)
  } finally {
    tracer.detach(sink)
  }
}

function summary(events: TraceEvent[]): string[] {
  return events.map((e) => `${e.transport} ${e.dir} ${e.kind}`)
}

// ---- the events

const events = suite('trace: events on the real server')

events('a request to /hello: the request head as parsed, the response head as written, the body', async () => {
  await withServer({}, async (server) => {
    await tracing(async (sink) => {
      const response = await request(server.port, '/hello')
      await until(() => sink.events.length >= 3, 'three events')
      assert.equal(summary(sink.events), ['http in head', 'http out head', 'http out body'])
      const [head, answer, body] = sink.events
      assert.ok(head.conn === answer.conn && answer.conn === body.conn, 'one connection')
      assert.equal(head.lines, ['GET /hello HTTP/1.1␍␊', 'host: test␍␊', '␍␊'])
      assert.is(head.bytes, requestBytes('GET', '/hello').length)
      assert.equal(answer.lines, [...response.head.split('\r\n').slice(0, -2).map((line) => `${line}␍␊`), '␍␊'])
      assert.is(answer.bytes, response.head.length)
      assert.equal(body.lines, ['hello world  body, 11 bytes'])
      assert.is(body.bytes, 11)
      assert.ok(body.time >= head.time && head.time > Date.now() - 60_000, 'times in ms since the epoch')
    })
  })
})

events('an SSE subscription and one publish: heads, the retry block, the event in its chunk, the publish', async () => {
  await withServer({}, async (server) => {
    await tracing(async (sink) => {
      const sse = await openStream(server.port, '/sse/news?after=0')
      try {
        await sse.waitChunks(1, 'the retry: block')
        await published(server.port, 'news', 'hi')
        await sse.waitChunks(2, 'the event')
        const sseConn = sink.connOf('GET /sse/news')
        await until(() => sink.of(sseConn).length >= 4, 'four SSE events')
        const stream = sink.of(sseConn)
        assert.equal(summary(stream), ['sse in head', 'sse out head', 'sse out sse', 'sse out sse'])
        assert.ok(stream[1].lines.includes('Content-Type: text/event-stream␍␊'))
        assert.equal(stream[2].lines, [
          'd␍␊  chunk-size 0xd = 13 bytes',
          '  retry: 3000␊  field retry: the reconnection delay, in ms',
          '  ␊  empty line: ends the block (no data: no event is dispatched)',
          '␍␊  end of the chunk-data',
        ])
        assert.equal(stream[3].lines, [
          '10␍␊  chunk-size 0x10 = 16 bytes',
          '  id: 1␊  field id: the event\'s id: a reconnecting browser sends it back as Last-Event-ID',
          '  data: hi␊  field data: one line of the event\'s data',
          '  ␊  empty line: dispatches the event',
          '␍␊  end of the chunk-data',
        ])
        assert.is(stream[3].bytes, '10\r\nid: 1\ndata: hi\n\n\r\n'.length)

        const publishConn = sink.connOf('POST /publish/news')
        assert.is.not(publishConn, sseConn)
        const publish = sink.of(publishConn)
        assert.equal(summary(publish), ['http in head', 'http in body', 'http out head', 'http out body'])
        assert.equal(publish[1].lines, ['(2 bytes of request body)'])
        assert.equal(publish[3].lines, ['{"id":1}  body, 8 bytes'])
        // The message reaches the subscriber after the publisher's body was read.
        assert.ok(sink.events.indexOf(publish[1]) < sink.events.indexOf(stream[3]))
      } finally {
        sse.destroy()
      }
    })
  })
})

events('a WebSocket exchange on /ws: the upgrade, the 101, each frame both ways, the close', async () => {
  await withServer({}, async (server) => {
    await tracing(async (sink) => {
      const ws = await WsRawClient.open(server.port, { path: '/ws/chat' })
      try {
        ws.sendFrame(Opcode.TEXT, 'hello')
        const message = await ws.nextMessage()
        assert.is(message.payload.toString(), '{"id":1,"data":"hello"}')
        ws.sendFrame(Opcode.CLOSE, closeBody(1000))
        await ws.nextClose()
        const conn = sink.connOf('GET /ws/chat')
        await until(() => sink.of(conn).length >= 6, 'six WebSocket events')
        const trace = sink.of(conn)
        assert.equal(summary(trace), ['ws in head', 'ws out head', 'ws in frame', 'ws out frame', 'ws in frame', 'ws out frame'])
        assert.is(trace[1].lines[0], 'HTTP/1.1 101 Switching Protocols␍␊')
        assert.equal(trace[2].lines, [
          '81 85 37 fa 21 3d  frame header, 6 bytes',
          '  FIN    1  the final frame of its message',
          '  RSV1   0  not compressed',
          '  RSV2   0',
          '  RSV3   0',
          '  opcode 0x1  text',
          '  MASK   1  masked: as every client-to-server frame must be',
          '  length 5  7-bit form',
          '  masking key 37 fa 21 3d',
          '  payload (5 bytes, unmasked) "hello"',
        ])
        assert.is(trace[2].bytes, 11)
        assert.is(trace[3].lines[0], '81 17  frame header, 2 bytes')
        assert.is(trace[3].lines.at(-1), '  payload (23 bytes) "{\\"id\\":1,\\"data\\":\\"hello\\"}"')
        assert.is(trace[4].lines.at(-2), '  close code 1000 (Normal Closure)')
        assert.is(trace[5].lines.at(-2), '  close code 1000 (Normal Closure)')
        assert.is(trace[5].lines[6], '  MASK   0  not masked: right from a server; from a client, a protocol error (1002)')
      } finally {
        ws.destroy()
      }
    })
  })
})

events('a frame split over many reads is one event; a large one is cut to its first bytes', async () => {
  await withServer({}, async (server) => {
    await tracing(async (sink) => {
      const ws = await WsRawClient.open(server.port, { path: '/echo' })
      try {
        const frame = clientFrame(Opcode.BINARY, Buffer.alloc(70_000, 0x61))
        await ws.send(frame.subarray(0, 3))
        await ws.send(frame.subarray(3, 20))
        await ws.send(frame.subarray(20))
        await ws.nextMessage('the echo')
        const conn = sink.connOf('GET /echo')
        await until(() => sink.of(conn).filter((e) => e.kind === 'frame').length >= 2, 'the frame and its echo')
        const [received, echoed] = sink.of(conn).filter((e) => e.kind === 'frame')
        assert.is(received.bytes, frame.length)
        assert.is(received.lines[0], '82 ff 00 00 00 00 00 01 11 70 37 fa 21 3d  frame header, 14 bytes')
        assert.is(received.lines[7], '  length 70000  64-bit form: 127, then 00 00 00 00 00 01 11 70')
        assert.is(received.lines.at(-1), `  payload (70000 bytes, unmasked) ${Array(256).fill('61').join(' ')} … (69744 more bytes)`)
        assert.is(echoed.bytes, 10 + 70_000)
        assert.ok(echoed.lines.at(-1)!.endsWith(' … (69744 more bytes)'), echoed.lines.at(-1))
      } finally {
        ws.destroy()
      }
    })
  })
})

events('the stdout format prefixes every line with the connection, its transport and the direction', () => {
  const text = formatEvent({ conn: 7, transport: 'ws', dir: 'in', kind: 'frame', lines: ['81 85 37 fa 21 3d  frame header, 6 bytes', '  FIN    1'], bytes: 11, time: 0 })
  assert.is(text, '#7 ws > frame, 11 bytes\n#7 ws >   81 85 37 fa 21 3d  frame header, 6 bytes\n#7 ws >     FIN    1\n')
  assert.match(formatEvent({ conn: 1, transport: 'http', dir: 'out', kind: 'body', lines: [], bytes: 1, time: 0 }), /^#1 http < body, 1 byte\n$/)
})

events('labels each exchange with its transport', () => {
  const head = (method: string, target: string, upgrade = false) =>
    ({ method, target, path: target.split('?')[0], query: '', versionMinor: 1, headers: [], upgrade }) as unknown as Parameters<typeof transportOf>[0]
  assert.is(transportOf(head('GET', '/poll/a')), 'poll')
  assert.is(transportOf(head('GET', '/longpoll/a')), 'longpoll')
  assert.is(transportOf(head('GET', '/stream/a')), 'stream')
  assert.is(transportOf(head('GET', '/iframe/a')), 'iframe')
  assert.is(transportOf(head('GET', '/sse/a')), 'sse')
  assert.is(transportOf(head('GET', '/ws/a', true)), 'ws')
  assert.is(transportOf(head('GET', '/echo', true)), 'ws')
  assert.is(transportOf(head('POST', '/echo')), 'http')
  assert.is(transportOf(head('GET', '/sse.html')), 'http')
})

events.run()

// ---- secrets

const secrets = suite('trace: secrets are redacted')

secrets('the value of token= query parameters, wherever they are', () => {
  assert.is(redactTarget('/ws/a?token=abc'), '/ws/a?token=[redacted]')
  assert.is(redactTarget('/ws/a?after=2&token=abc&x=1'), '/ws/a?after=2&token=[redacted]&x=1')
  assert.is(redactTarget('/ws/a?TOKEN=abc'), '/ws/a?TOKEN=[redacted]')
  assert.is(redactTarget('/token=abc'), '/token=abc', 'only in the query')
  assert.is(redactTarget('/ws/a?mytoken=abc'), '/ws/a?mytoken=abc', 'only that parameter')
})

secrets('the credentials of Authorization headers, keeping the scheme', () => {
  const head = { method: 'POST', target: '/publish/a?token=t0ps3cr3t', versionMinor: 1, headers: ['authorization', 'Bearer t0ps3cr3t', 'proxy-authorization', 'Basic dXNlcjpwYXNz', 'x-other', 'Bearer visible'] }
  assert.is(
    requestText(head as unknown as Parameters<typeof requestText>[0]),
    'POST /publish/a?token=[redacted] HTTP/1.1\r\nauthorization: Bearer [redacted]\r\nproxy-authorization: Basic [redacted]\r\nx-other: Bearer visible\r\n\r\n',
  )
})

secrets.run()

// ---- GET /trace

/** The events an inspector received, and the other SSE events (dropped notices). */
function inspectorEvents(trace: OpenStream): { events: TraceEvent[]; others: { event: string; data: string }[] } {
  const events: TraceEvent[] = []
  const others: { event: string; data: string }[] = []
  for (const block of trace.data.split('\n\n')) {
    const lines = block.split('\n')
    const data = lines.find((line) => line.startsWith('data: '))?.slice(6)
    if (data === undefined) continue
    const event = lines.find((line) => line.startsWith('event: '))?.slice(7)
    if (event === undefined) events.push(JSON.parse(data) as TraceEvent)
    else others.push({ event, data })
  }
  return { events, others }
}

const stream = suite('GET /trace: the inspector stream')

stream('streams the trace as SSE, one JSON event per data: line, leaving its own connection out', async () => {
  await withServer({}, async (server) => {
    assert.is(tracer.on, false)
    const trace = await openStream(server.port, '/trace')
    try {
      const head = await trace.head()
      assert.is(head.status, 200)
      assert.match(head.raw, 'Content-Type: text/event-stream\r\n')
      await trace.waitChunks(1, 'the retry: block')
      assert.is(trace.chunkTexts()[0], 'retry: 1000\n\n')
      assert.is(tracer.on, true, 'an inspector turns tracing on')
      await request(server.port, '/hello')
      await trace.waitData('hello world  body')
      const { events } = inspectorEvents(trace)
      assert.equal(summary(events), ['http in head', 'http out head', 'http out body'])
      assert.is(events[0].lines[0], 'GET /hello HTTP/1.1␍␊')
      // Its own exchange is nowhere: neither its request, nor its response, nor the events it was sent.
      assert.not.match(trace.data, 'GET /trace')
      assert.ok(events.every((e) => e.transport === 'http' && e.kind !== 'sse'))
      assert.ok(trace.chunkTexts().every((chunk) => chunk === 'retry: 1000\n\n' || /^data: \{.*\}\n\n$/.test(chunk)), 'one event per chunk, one data: line each')
    } finally {
      trace.destroy()
    }
    await until(() => !tracer.on, 'tracing to stop when the last inspector leaves')
    assert.is(server.inspectors.count, 0)
  })
})

stream('redacts the token and the Authorization header of a request', async () => {
  await withServer({}, async (server) => {
    const trace = await openStream(server.port, '/trace')
    try {
      await trace.waitChunks(1, 'the retry: block')
      await request(server.port, '/poll/news?after=0&token=s3cr3t-t0ken', ['Authorization: Bearer s3cr3t-t0ken'])
      await trace.waitData('body, 24 bytes')
      const { events } = inspectorEvents(trace)
      assert.is(events[0].lines[0], 'GET /poll/news?after=0&token=[redacted] HTTP/1.1␍␊')
      assert.ok(events[0].lines.includes('authorization: Bearer [redacted]␍␊'), events[0].lines.join('\n'))
      assert.not.match(trace.data, 's3cr3t')
    } finally {
      trace.destroy()
    }
    await until(() => !tracer.on, 'tracing to stop')
  })
})

stream('only loopback peers may open it', () => {
  for (const address of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) assert.ok(isLoopback(address), address)
  for (const address of ['192.0.2.7', '10.0.0.1', '::ffff:192.0.2.7', '2001:db8::1', '::', '0.0.0.0', '', undefined, '128.0.0.1', '::2']) {
    assert.not.ok(isLoopback(address), String(address))
  }
})

/** A non-loopback IPv4 address of this machine, if it has one. */
function externalAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const entry of list ?? []) if (entry.family === 'IPv4' && !entry.internal) return entry.address
  }
  return undefined
}

stream('refuses a client from another address with 403 and a body that says why', async () => {
  const address = externalAddress()
  if (address === undefined) {
    console.log('  (skipped the 403 over a real socket: this machine has no non-loopback address)')
    return
  }
  const server = createPushServer({ ...defaultOptions(), host: '0.0.0.0', port: 0 })
  const { port } = await server.listener.listen(0, '0.0.0.0')
  const client = await RawClient.connect(port, address)
  try {
    client.write(requestBytes('GET', '/trace'))
    const response = await client.nextOne()
    assert.is(response.status, 403)
    assert.match(response.body.toString(), `403 Forbidden: /trace shows every byte this server sees: only clients on this machine (127.0.0.1, ::1) may open it, not ${address}`)
    assert.is(tracer.on, false)
    assert.is(server.inspectors.count, 0)
  } finally {
    client.destroy()
    await within(server.listener.close(200), 'the listener to close')
  }
})

stream('drops events for an inspector that does not read, bounded, and tells it how many', async () => {
  await withServer({}, async (server) => {
    const trace = await openStream(server.port, '/trace')
    try {
      await trace.waitChunks(1, 'the retry: block')
      trace.client.pauseReading()
      const inspectorSocket = server.accepted[0]
      // Requests with 8 KB heads make 8 KB events; pipelined 100 at a time until the kernel's
      // buffers are full and the server starts dropping.
      const pad = `X-Pad: ${'a'.repeat(8000)}`
      const batch = requestBytes('GET', '/hello', [pad]).repeat(100)
      const client = await server.connect()
      let largestBacklog = 0
      for (let round = 0; round < 200 && server.inspectors.droppedEvents === 0; round++) {
        client.write(batch)
        await client.next(100)
        largestBacklog = Math.max(largestBacklog, inspectorSocket.writableLength)
      }
      assert.ok(server.inspectors.droppedEvents > 0, 'events were dropped')
      for (let round = 0; round < 5; round++) {
        client.write(batch)
        await client.next(100)
        largestBacklog = Math.max(largestBacklog, inspectorSocket.writableLength)
      }
      // Queued for it: at most the backlog limit and one event.
      assert.ok(largestBacklog <= MAX_BACKLOG + 16 * 1024, `backlog ${largestBacklog}`)
      trace.client.resumeReading()
      await until(() => inspectorSocket.writableLength === 0, 'the inspector to catch up', 30_000)
      // The next event goes out after a notice of what was left out before it.
      await request(server.port, '/hello?caught-up')
      await trace.client.waitFor(() => trace.data.includes('GET /hello?caught-up HTTP/1.1'), 'the event after catching up', 30_000)
      // One notice each time it caught up after falling behind: together, every event it missed.
      const { others } = inspectorEvents(trace)
      assert.ok(others.length >= 1)
      assert.ok(others.every((other) => other.event === 'dropped'))
      const told = others.reduce((sum, other) => sum + (JSON.parse(other.data) as { dropped: number }).dropped, 0)
      assert.is(told, server.inspectors.droppedEvents)
    } finally {
      trace.destroy()
    }
    await until(() => !tracer.on, 'tracing to stop')
  })
})

stream.run()

// ---- off

const off = suite('trace: off')

off('with no sink, tracing is off and nothing is produced', async () => {
  await withServer({}, async (server) => {
    const sink = new Collector()
    tracer.attach(sink)
    tracer.detach(sink)
    assert.is(tracer.on, false)
    await request(server.port, '/hello')
    await published(server.port, 'quiet', 'x')
    const ws = await WsRawClient.open(server.port, { path: '/echo' })
    try {
      ws.sendFrame(Opcode.TEXT, 'hi')
      await ws.nextMessage()
    } finally {
      ws.destroy()
    }
    assert.is(sink.events.length, 0)
  })
})

off('an exchange that began before tracing is traced from where tracing began', async () => {
  await withServer({}, async (server) => {
    const sse = await openStream(server.port, '/sse/late?after=0')
    try {
      await sse.waitChunks(1, 'the retry: block')
      await tracing(async (sink) => {
        await published(server.port, 'late', 'now')
        await sse.waitChunks(2, 'the event')
        await until(() => sink.events.some((e) => e.kind === 'sse'), 'the SSE event')
        const event = sink.events.find((e) => e.kind === 'sse')!
        assert.is(event.transport, 'sse')
        assert.ok(event.lines.includes('  data: now␊  field data: one line of the event\'s data'))
      })
    } finally {
      sse.destroy()
    }
  })
})

off.run()

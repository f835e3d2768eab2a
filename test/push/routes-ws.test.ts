// GET /ws/{channel} on real sockets against the real server on port 0 (CONTRACT.md,
// "Routes", "Cross-origin use and publishing rights", "Status codes"): the `ws` package
// (v8) as the client a Node.js user would pick, and the raw client of
// test/helpers/ws-raw.ts where the frames themselves are the point (RSV1, sizes).

import type { IncomingMessage } from 'node:http'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import WebSocket, { type ClientOptions, type RawData } from 'ws'
import { Opcode } from '../../src/ws/frame.ts'
import { openStream, published, request, text } from '../helpers/push.ts'
import { startServer, withServer, type RunningServer } from '../helpers/server.ts'
import { until, within } from '../helpers/wait.ts'
import { field } from '../helpers/wire.ts'
import { ClientInflater, WsRawClient } from '../helpers/ws-raw.ts'

const test = suite('push routes: GET /ws')

let server: RunningServer

test.before(async () => {
  server = await startServer()
})

test.after(async () => {
  await server?.close()
})

/** One ws client of a channel, and everything it received. */
class Subscriber {
  readonly texts: string[] = []
  readonly binaries: Buffer[] = []
  readonly errors: Error[] = []
  extensions = ''
  readonly opened: Promise<void>
  readonly closed: Promise<{ code: number; reason: string }>

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data: RawData, isBinary: boolean) => {
      const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)
      if (isBinary) this.binaries.push(bytes)
      else this.texts.push(bytes.toString('utf8'))
    })
    ws.on('error', (error: Error) => this.errors.push(error))
    ws.on('upgrade', (res: IncomingMessage) => (this.extensions = String(res.headers['sec-websocket-extensions'] ?? '')))
    this.opened = within(
      new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve())
        ws.once('error', reject)
      }),
      'the WebSocket to open',
    )
    this.closed = within(new Promise((resolve) => ws.on('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() }))), 'the close event')
  }

  /** Waits until `count` text messages have come. */
  waitTexts(count: number): Promise<void> {
    return until(() => this.texts.length >= count, `${count} text message(s); got ${JSON.stringify(this.texts.map((t) => t.slice(0, 80)))}`)
  }
}

/** Opens a ws client to `path` and waits until the server has subscribed it to `channel`. */
async function subscribe(target: RunningServer, path: string, options: ClientOptions = {}): Promise<Subscriber> {
  const channel = /^\/ws\/([^?]+)/.exec(path)![1]
  const before = target.hub.find(channel)?.subscribers ?? 0
  const subscriber = new Subscriber(new WebSocket(`ws://127.0.0.1:${target.port}${path}`, { perMessageDeflate: false, ...options }))
  await subscriber.opened
  await until(() => (target.hub.find(channel)?.subscribers ?? 0) > before, `the server to subscribe the client to ${channel}`)
  return subscriber
}

const envelope = (id: number, data: string, event?: string) => JSON.stringify(event === undefined ? { id, data } : { id, data, event })

test('each message comes as a text frame holding its envelope', async () => {
  const client = await subscribe(server, '/ws/w-basic')
  try {
    await published(server.port, 'w-basic', 'hello')
    await published(server.port, 'w-basic', 'named ✓', { event: 'tick' })
    await client.waitTexts(2)
    assert.equal(client.texts, [envelope(1, 'hello'), envelope(2, 'named ✓', 'tick')])
    assert.is(client.binaries.length, 0)
  } finally {
    client.ws.close()
  }
})

test('after=0 replays the history, after=N what follows N, then live messages follow', async () => {
  for (const data of ['a', 'b', 'c']) await published(server.port, 'w-replay', data)
  const all = await subscribe(server, '/ws/w-replay?after=0')
  const fromTwo = await subscribe(server, '/ws/w-replay?after=2')
  try {
    await all.waitTexts(3)
    await fromTwo.waitTexts(1)
    await published(server.port, 'w-replay', 'd')
    await all.waitTexts(4)
    await fromTwo.waitTexts(2)
    assert.equal(all.texts, [envelope(1, 'a'), envelope(2, 'b'), envelope(3, 'c'), envelope(4, 'd')])
    assert.equal(fromTwo.texts, [envelope(3, 'c'), envelope(4, 'd')])
  } finally {
    all.ws.close()
    fromTwo.ws.close()
  }
})

test('a cursor before the retained history gets the gap frame {"gap":true,"first":M} first', async () => {
  await withServer({ historyMessages: 2 }, async (small) => {
    for (const data of ['a', 'b', 'c', 'd']) await published(small.port, 'w-gap', data)
    const behind = await subscribe(small, '/ws/w-gap?after=1')
    const beyond = await subscribe(small, '/ws/w-gap?after=40')
    try {
      await behind.waitTexts(3)
      await beyond.waitTexts(3)
      const expected = ['{"gap":true,"first":3}', envelope(3, 'c'), envelope(4, 'd')]
      assert.equal(behind.texts, expected)
      assert.equal(beyond.texts, expected)
    } finally {
      behind.ws.close()
      beyond.ws.close()
    }
  })
})

test('a bad after is 400 before the upgrade, and leaves no channel behind', async () => {
  for (const after of ['-1', '1.5', 'abc']) {
    const response = await request(server.port, `/ws/w-bad-after?after=${after}`, ['Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13'])
    assert.is(response.status, 400, after)
  }
  // An empty channel that no one follows would never be freed, and would count against maxChannels.
  assert.is(server.hub.find('w-bad-after'), undefined)
})

test('a text frame from the client is published: SSE and poll subscribers see it, and so does the sender', async () => {
  const sender = await subscribe(server, '/ws/w-publish')
  const other = await subscribe(server, '/ws/w-publish')
  const sse = await openStream(server.port, '/sse/w-publish')
  try {
    await sse.waitChunks(1)
    sender.ws.send('from ws ✓')
    await other.waitTexts(1)
    await sender.waitTexts(1)
    await sse.waitChunks(2)
    assert.equal(other.texts, [envelope(1, 'from ws ✓')])
    assert.equal(sender.texts, [envelope(1, 'from ws ✓')])
    assert.is(sse.chunkTexts()[1], 'id: 1\ndata: from ws ✓\n\n')
    assert.is(text(await request(server.port, '/poll/w-publish?after=0')), `{"messages":[${envelope(1, 'from ws ✓')}],"last":1}`)
  } finally {
    sender.ws.close()
    other.ws.close()
    sse.destroy()
  }
})

test('a binary frame closes the connection with 1003 and publishes nothing', async () => {
  const client = await subscribe(server, '/ws/w-binary')
  client.ws.send(Buffer.from([1, 2, 3]))
  const closed = await client.closed
  assert.is(closed.code, 1003)
  // Nothing was published: the channel is freed with its only client.
  await until(() => server.hub.find('w-binary') === undefined, 'the channel to be freed')
})

test('a text message over maxBodyBytes closes with 1009; one at the limit is published', async () => {
  await withServer({ maxBodyBytes: 1024 }, async (small) => {
    const client = await subscribe(small, '/ws/w-big')
    client.ws.send('x'.repeat(1024))
    await client.waitTexts(1)
    assert.equal(JSON.parse(client.texts[0]), { id: 1, data: 'x'.repeat(1024) })
    client.ws.send('y'.repeat(1025))
    assert.is((await client.closed).code, 1009)
    assert.is(small.hub.find('w-big')?.lastId, 1)
  })
})

test('a text frame that is not UTF-8 closes with 1007', async () => {
  await withServer({}, async (live) => {
    const raw = await WsRawClient.open(live.port, { path: '/ws/w-utf8' })
    try {
      raw.sendFrame(Opcode.TEXT, Buffer.from([0x61, 0xff]))
      const close = await raw.untilClose()
      assert.is(close.code, 1007)
      await until(() => live.hub.find('w-utf8') === undefined, 'the channel to be freed: nothing was published')
    } finally {
      raw.destroy()
    }
  })
})

test('with a publish token: a text frame without it closes 1008; ?token=T or Authorization: Bearer T on the upgrade publishes', async () => {
  const token = 'ws-token-123'
  await withServer({ publishToken: token }, async (guarded) => {
    const anonymous = await subscribe(guarded, '/ws/w-token')
    const wrong = await subscribe(guarded, `/ws/w-token?token=${token}x`)
    const byQuery = await subscribe(guarded, `/ws/w-token?token=${token}`)
    const byHeader = await subscribe(guarded, '/ws/w-token', { headers: { Authorization: `Bearer ${token}` } })
    try {
      anonymous.ws.send('no token')
      assert.is((await anonymous.closed).code, 1008)
      wrong.ws.send('wrong token')
      assert.is((await wrong.closed).code, 1008)
      byQuery.ws.send('by query')
      await byQuery.waitTexts(1)
      byHeader.ws.send('by header')
      await byHeader.waitTexts(2)
      assert.equal(byHeader.texts, [envelope(1, 'by query'), envelope(2, 'by header')])
      assert.equal(byQuery.texts, byHeader.texts)
      assert.is(guarded.hub.find('w-token')?.lastId, 2, 'the refused frames published nothing')
    } finally {
      for (const client of [anonymous, wrong, byQuery, byHeader]) client.ws.close()
    }
  })
})

test('a plain GET /ws/{channel} is 426 with Upgrade: websocket', async () => {
  const response = await request(server.port, '/ws/w-plain')
  assert.is(response.status, 426)
  assert.is(field(response, 'upgrade'), 'websocket')
  assert.is(field(response, 'sec-websocket-version'), '13')
  assert.is(server.hub.find('w-plain'), undefined)
})

test('a bad channel name is 404, with or without Upgrade', async () => {
  const upgrade = ['Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13']
  for (const name of ['a$b', 'x'.repeat(65), 'a%20b']) {
    assert.is((await request(server.port, `/ws/${name}`)).status, 404, name)
    assert.is((await request(server.port, `/ws/${name}`, upgrade)).status, 404, `${name} with Upgrade`)
  }
})

test('a client that closes is unsubscribed and an empty channel freed', async () => {
  const client = await subscribe(server, '/ws/w-leave')
  assert.is(server.hub.find('w-leave')?.subscribers, 1)
  client.ws.close(1000)
  assert.is((await client.closed).code, 1000)
  await until(() => server.hub.find('w-leave') === undefined, 'the channel to be freed')
})

test('permessage-deflate is agreed with server_no_context_takeover in the response', async () => {
  const client = await subscribe(server, '/ws/w-deflate-offer', { perMessageDeflate: true })
  try {
    assert.match(client.extensions, /^permessage-deflate\b/)
    assert.match(client.extensions, /\bserver_no_context_takeover\b/)
  } finally {
    client.ws.close()
  }
  const raw = await WsRawClient.open(server.port, { path: '/ws/w-deflate-offer', fields: ['Sec-WebSocket-Extensions: permessage-deflate'] })
  try {
    assert.match(raw.header('sec-websocket-extensions') ?? '', /^permessage-deflate;.*\bserver_no_context_takeover\b/)
  } finally {
    raw.destroy()
  }
})

test('large messages arrive intact to several deflate clients and plain clients; small ones go uncompressed', async () => {
  await withServer({}, async (live) => {
    const deflating = await Promise.all([0, 1, 2].map(() => subscribe(live, '/ws/w-large', { perMessageDeflate: true })))
    const plain = await Promise.all([0, 1].map(() => subscribe(live, '/ws/w-large', { perMessageDeflate: false })))
    const raw = await WsRawClient.open(live.port, { path: '/ws/w-large', fields: ['Sec-WebSocket-Extensions: permessage-deflate'] })
    await until(() => live.hub.find('w-large')?.subscribers === 6, 'the raw client to be subscribed')
    const inflater = new ClientInflater()
    try {
      // Text that compresses, of several sizes around and far above the 1 KiB threshold.
      const line = 'the quick brown fox jumps over the lazy dog ✓ 0123456789\n'
      const bodies = [line.repeat(400), 'small', line.repeat(20), line.repeat(4000)]
      for (const body of bodies) await published(live.port, 'w-large', body)
      const expected = bodies.map((body, i) => envelope(i + 1, body))
      for (const client of [...deflating, ...plain]) {
        await client.waitTexts(bodies.length)
        assert.ok(
          client.texts.every((got, i) => got === expected[i]),
          'every message intact',
        )
      }
      for (const client of deflating) assert.match(client.extensions, /server_no_context_takeover/)
      for (const client of plain) assert.is(client.extensions, '')
      // On the wire: RSV1 and a smaller payload above the threshold, plain frames below it.
      for (let i = 0; i < bodies.length; i++) {
        const frame = await raw.nextMessage(`message ${i + 1}`)
        const size = Buffer.byteLength(expected[i])
        if (size >= 1024) {
          assert.ok(frame.compressed, `message ${i + 1} (${size} bytes) compressed`)
          assert.ok(frame.payload.length < size / 2, `message ${i + 1}: ${frame.payload.length} bytes on the wire for ${size}`)
          assert.is((await inflater.inflate(frame.payload)).toString(), expected[i])
        } else {
          assert.not.ok(frame.compressed, `message ${i + 1} (${size} bytes) plain`)
          assert.is(frame.payload.toString(), expected[i])
        }
      }
    } finally {
      inflater.close()
      raw.destroy()
      for (const client of [...deflating, ...plain]) client.ws.close()
    }
  })
})

test('a client can publish a large message compressed, and every subscriber gets it whole', async () => {
  await withServer({}, async (live) => {
    const sender = await subscribe(live, '/ws/w-large-up', { perMessageDeflate: true })
    const reader = await subscribe(live, '/ws/w-large-up', { perMessageDeflate: false })
    try {
      const body = 'upload ✓ '.repeat(20_000)
      sender.ws.send(body)
      await reader.waitTexts(1)
      await sender.waitTexts(1)
      assert.is(reader.texts[0], envelope(1, body))
      assert.is(sender.texts[0], envelope(1, body))
    } finally {
      sender.ws.close()
      reader.ws.close()
    }
  })
})

test.run()

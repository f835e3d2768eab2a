// The wire formats of the Comet routes, as exact bytes: TextFeed's two framings (chunks for
// HTTP/1.1, the bytes as they are for HTTP/1.0) of the NDJSON format of /stream, taken
// from the route itself; its per-message cache (encode once, write many); and pollBody,
// the JSON answer of /poll and /longpoll.

import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { pollBody } from '../../src/comet/poll.ts'
import { streamRoute } from '../../src/comet/stream.ts'
import { TextFeed, type StreamOutlet, type Streams } from '../../src/comet/streaming.ts'
import type { IncomingRequest } from '../../src/http/request.ts'
import type { Response } from '../../src/http/response.ts'
import { Hub, type Message, type Outlet } from '../../src/hub/hub.ts'

/** The feeds and heartbeat GET /stream/{channel} starts its response with, caught by a fake Streams. */
function ndjsonFeeds(): { chunked: TextFeed; raw: TextFeed; heartbeat: string; contentType: string | undefined } {
  let caught: { chunked: TextFeed; raw: TextFeed } | undefined
  let heartbeat = ''
  const headers = new Map<string, string>()
  const hub = new Hub()
  const req = { method: 'GET', params: { channel: 'c' }, query: new URLSearchParams(''), header: () => undefined } as unknown as IncomingRequest
  const res = {
    status: 0,
    setHeader: (name: string, value: string) => headers.set(name.toLowerCase(), value),
    appendHeader: () => {},
    flushHeaders: () => {},
    end: () => {},
  } as unknown as Response
  const streams = {
    start(_res: Response, feeds: { chunked: TextFeed; raw: TextFeed }, beat: string): StreamOutlet {
      caught = feeds
      heartbeat = beat
      const outlet = { feed: feeds.chunked, subscription: null, queuedBytes: 0, write: () => true, drained: () => Promise.resolve(), cutOff: () => {} }
      return outlet as unknown as StreamOutlet
    },
  } as unknown as Streams
  void streamRoute(hub, streams, { allowedOrigins: [] })(req, res)
  assert.ok(caught !== undefined, 'the route started a stream')
  return { ...caught, heartbeat, contentType: headers.get('content-type') }
}

const NDJSON = ndjsonFeeds()

/** A message as the hub makes it. */
function message(data: string, event = '', id = 1): Message {
  const channel = new Hub().channel('c')
  for (let i = 1; i < id; i++) channel.publish('')
  return channel.publish(data, event)
}

const latin1 = (buffer: Buffer) => buffer.toString('latin1')

// --- NDJSON through TextFeed ------------------------------------------------------------

const ndjson = suite('TextFeed: the NDJSON format of /stream')

ndjson('is served as application/x-ndjson with an empty line as heartbeat', () => {
  assert.is(NDJSON.contentType, 'application/x-ndjson')
  assert.is(NDJSON.heartbeat, '\n')
  assert.is(NDJSON.chunked.chunked, true)
  assert.is(NDJSON.raw.chunked, false)
})

ndjson('frames a message as one chunk: hex size in bytes, CRLF, the envelope and LF, CRLF', () => {
  // {"id":1,"data":"x"}\n is 20 bytes: 0x14.
  assert.is(latin1(NDJSON.chunked.encode(message('x'))), '14\r\n{"id":1,"data":"x"}\n\r\n')
  // {"id":1,"data":"hello"}\n is 24 bytes: 0x18.
  assert.is(latin1(NDJSON.chunked.encode(message('hello'))), '18\r\n{"id":1,"data":"hello"}\n\r\n')
  assert.is(latin1(NDJSON.chunked.encode(message('b', 'price', 12))), '25\r\n{"id":12,"data":"b","event":"price"}\n\r\n')
})

ndjson('writes the envelope and LF as they are for HTTP/1.0', () => {
  assert.is(latin1(NDJSON.raw.encode(message('x'))), '{"id":1,"data":"x"}\n')
  assert.is(latin1(NDJSON.raw.encode(message('b', 'price', 12))), '{"id":12,"data":"b","event":"price"}\n')
})

ndjson('counts chunk sizes in UTF-8 bytes, not characters', () => {
  // 19 bytes of ASCII around the data, and é (2) € (3) 😀 (4): 28 bytes, 0x1c (23 UTF-16 units).
  const expected = Buffer.concat([Buffer.from('1c\r\n{"id":1,"data":"'), Buffer.from([0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80]), Buffer.from('"}\n\r\n')])
  assert.equal(NDJSON.chunked.encode(message('é€😀')), expected)
  assert.equal(NDJSON.raw.encode(message('é€😀')), expected.subarray(4, -2))

  const big = 'ü'.repeat(200) // 400 bytes of data: 419 = 0x1a3
  const chunk = NDJSON.chunked.encode(message(big))
  assert.is(latin1(chunk.subarray(0, 5)), '1a3\r\n')
  assert.is(chunk.length, 5 + 419 + 2)
  assert.is(chunk.subarray(5, -2).toString('utf8'), `{"id":1,"data":"${big}"}\n`)
})

ndjson('keeps JSON escapes as they are, one line per message whatever the data', () => {
  const wire = NDJSON.raw.encode(message('a\nb\r\u2028"'))
  const text = wire.toString('utf8')
  assert.is(text.indexOf('\n'), text.length - 1, 'the only LF ends the line')
  assert.equal(JSON.parse(text), { id: 1, data: 'a\nb\r\u2028"' })
})

ndjson('frames a gap as one JSON line {"gap":true,"first":M}', () => {
  // {"gap":true,"first":4}\n is 23 bytes: 0x17.
  assert.is(latin1(NDJSON.chunked.encodeGap(4)), '17\r\n{"gap":true,"first":4}\n\r\n')
  assert.is(latin1(NDJSON.raw.encodeGap(4)), '{"gap":true,"first":4}\n')
  assert.is(latin1(NDJSON.chunked.encodeGap(1234)), '1a\r\n{"gap":true,"first":1234}\n\r\n')
})

ndjson('frames the heartbeat as a chunk of one LF, or the LF alone', () => {
  assert.is(latin1(NDJSON.chunked.frame(NDJSON.heartbeat)), '1\r\n\n\r\n')
  assert.is(latin1(NDJSON.raw.frame(NDJSON.heartbeat)), '\n')
})

ndjson.run()

// --- The cache: encode once, write many -------------------------------------------------

const cache = suite('TextFeed cache')

cache('returns the same Buffer object for the same message', () => {
  const m = message('x')
  const first = NDJSON.chunked.encode(m)
  assert.is(NDJSON.chunked.encode(m), first)
  assert.is(NDJSON.chunked.encode(m), first)
  const raw = NDJSON.raw.encode(m)
  assert.is(NDJSON.raw.encode(m), raw)
  assert.is.not(raw, first, 'each framing its own bytes')
})

cache('returns different Buffers for different messages, even with the same data', () => {
  const channel = new Hub().channel('c')
  const a = channel.publish('same')
  const b = channel.publish('same')
  const wireA = NDJSON.chunked.encode(a)
  const wireB = NDJSON.chunked.encode(b)
  assert.is.not(wireA, wireB)
  assert.is(latin1(wireA), '17\r\n{"id":1,"data":"same"}\n\r\n')
  assert.is(latin1(wireB), '17\r\n{"id":2,"data":"same"}\n\r\n')
})

cache('formats each message once per feed, for live subscribers and replays alike', () => {
  let formatted = 0
  const feed = new TextFeed(
    {
      message: (m) => (formatted++, `${m.envelope}\n`),
      gap: (first) => `{"gap":true,"first":${first}}\n`,
    },
    true,
  )
  const writes: Buffer[][] = [[], [], []]
  const outlet = (list: Buffer[]): Outlet<Buffer> => ({ write: (wire) => (list.push(wire), true), drained: () => Promise.resolve(), queuedBytes: 0, cutOff: () => {} })
  const channel = new Hub().channel('c')
  channel.subscribe(feed, outlet(writes[0]), undefined)
  channel.subscribe(feed, outlet(writes[1]), undefined)
  channel.publish('one')
  channel.publish('two')
  channel.subscribe(feed, outlet(writes[2]), 0) // replays 1 and 2 from the cache
  assert.is(formatted, 2)
  for (const list of writes) assert.equal(list.map(latin1), ['16\r\n{"id":1,"data":"one"}\n\r\n', '16\r\n{"id":2,"data":"two"}\n\r\n'])
  assert.is(writes[1][0], writes[0][0])
  assert.is(writes[2][0], writes[0][0], 'the replay writes the cached Buffer')
  assert.is(writes[2][1], writes[0][1])
})

cache('does not cache gaps, and frames text of any format', () => {
  const feed = new TextFeed({ message: (m) => `<${m.data}>`, gap: (first) => `gap ${first}` }, false)
  assert.is(latin1(feed.encodeGap(3)), 'gap 3')
  assert.is.not(feed.encodeGap(3), feed.encodeGap(3))
  assert.equal(feed.frame('é'), Buffer.from([0xc3, 0xa9]))
  assert.is(latin1(new TextFeed({ message: () => '', gap: () => '' }, true).frame('abc')), '3\r\nabc\r\n')
})

cache.run()

// --- pollBody ---------------------------------------------------------------------------

const poll = suite('pollBody')

poll('answers an empty channel with no messages and last 0', () => {
  const channel = new Hub().channel('c')
  assert.is(pollBody(channel, undefined), '{"messages":[],"last":0}')
  assert.is(pollBody(channel, 0), '{"messages":[],"last":0}')
})

poll('without after, answers no messages and the newest id (a cursor to start from)', () => {
  const channel = new Hub().channel('c')
  channel.publish('a')
  channel.publish('b')
  assert.is(pollBody(channel, undefined), '{"messages":[],"last":2}')
})

poll('answers the envelopes after the cursor, in order, with the newest id', () => {
  const channel = new Hub().channel('c')
  channel.publish('a')
  channel.publish('b', 'ev')
  channel.publish('c"\n')
  assert.is(pollBody(channel, 0), String.raw`{"messages":[{"id":1,"data":"a"},{"id":2,"data":"b","event":"ev"},{"id":3,"data":"c\"\n"}],"last":3}`)
  assert.is(pollBody(channel, 1), String.raw`{"messages":[{"id":2,"data":"b","event":"ev"},{"id":3,"data":"c\"\n"}],"last":3}`)
  assert.is(pollBody(channel, 3), '{"messages":[],"last":3}')
  assert.equal(JSON.parse(pollBody(channel, 2)), { messages: [{ id: 3, data: 'c"\n' }], last: 3 })
})

poll('with after=0 on a trimmed history, answers what is retained, with no gap', () => {
  const channel = new Hub({ historyMessages: 2 }).channel('c')
  for (const data of ['a', 'b', 'c', 'd']) channel.publish(data)
  assert.is(pollBody(channel, 0), '{"messages":[{"id":3,"data":"c"},{"id":4,"data":"d"}],"last":4}')
})

poll('puts the gap first when the cursor is older than the history', () => {
  const channel = new Hub({ historyMessages: 2 }).channel('c')
  for (const data of ['a', 'b', 'c', 'd']) channel.publish(data)
  assert.is(pollBody(channel, 1), '{"gap":{"first":3},"messages":[{"id":3,"data":"c"},{"id":4,"data":"d"}],"last":4}')
  assert.is(pollBody(channel, 2), '{"messages":[{"id":3,"data":"c"},{"id":4,"data":"d"}],"last":4}', 'nothing missed at 2')
})

poll('puts the gap first when the cursor is beyond the newest id', () => {
  const channel = new Hub({ historyMessages: 2 }).channel('c')
  for (const data of ['a', 'b', 'c', 'd']) channel.publish(data)
  assert.is(pollBody(channel, 5), '{"gap":{"first":3},"messages":[{"id":3,"data":"c"},{"id":4,"data":"d"}],"last":4}')
  const empty = new Hub().channel('e')
  assert.is(pollBody(empty, 7), '{"gap":{"first":1},"messages":[],"last":0}')
})

poll.run()

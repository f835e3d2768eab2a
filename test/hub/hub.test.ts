// The hub, without any transport: channels, ids, envelopes, the history window, where a
// reader starts (after/gap, CONTRACT.md), and subscriptions driven through a fake Feed
// that records what it encodes and a fake Outlet whose socket buffer the test fills and
// drains by hand.

import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { Hub, HubError, type Feed, type Message, type Outlet } from '../../src/hub/hub.ts'

/** What the fake feed produces: an object, so that identity shows "encoded once, written many times". */
interface Wire {
  readonly kind: 'message' | 'gap'
  readonly id: number
}

class RecordingFeed implements Feed<Wire> {
  /** Ids of the messages encoded, one entry per encode() call. */
  readonly encoded: number[] = []
  /** `first` of each encodeGap() call. */
  readonly gaps: number[] = []

  encode(message: Message): Wire {
    this.encoded.push(message.id)
    return { kind: 'message', id: message.id }
  }

  encodeGap(first: number): Wire {
    this.gaps.push(first)
    return { kind: 'gap', id: first }
  }
}

class FakeOutlet implements Outlet<Wire> {
  readonly writes: Wire[] = []
  /** What write() returns: false is a full socket buffer. */
  accepting = true
  queuedBytes = 0
  cutOffs = 0
  drainedCalls = 0
  private waiting: (() => void)[] = []

  write(wire: Wire): boolean {
    this.writes.push(wire)
    return this.accepting
  }

  drained(): Promise<void> {
    this.drainedCalls++
    return new Promise((resolve) => this.waiting.push(resolve))
  }

  cutOff(): void {
    this.cutOffs++
  }

  /** How many drained() promises are pending. */
  get pending(): number {
    return this.waiting.length
  }

  /** The socket drains: every pending drained() resolves, and the promise jobs run. */
  async drain(): Promise<void> {
    const waiting = this.waiting
    this.waiting = []
    for (const resolve of waiting) resolve()
    await settle()
  }

  /** The writes as short labels: m3 for message 3, gap3 for a gap whose first is 3. */
  get log(): string[] {
    return this.writes.map((wire) => (wire.kind === 'gap' ? `gap${wire.id}` : `m${wire.id}`))
  }
}

/** Lets every pending promise job run (a macrotask turn: not a timing assertion). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

function publishMany(channel: ReturnType<Hub['channel']>, count: number): void {
  for (let i = 0; i < count; i++) channel.publish(`message ${channel.lastId + 1}`)
}

function throwsHubError(fn: () => unknown, status: number, code: string, label: string): void {
  try {
    fn()
  } catch (error) {
    assert.ok(error instanceof HubError, `${label}: a HubError`)
    assert.is((error as HubError).status, status, `${label}: status`)
    assert.is((error as HubError).code, code, `${label}: code`)
    return
  }
  assert.unreachable(`${label}: should have thrown`)
}

// ---------------------------------------------------------------------------------------

const messages = suite('Channel messages')

messages('gives ids from 1 per channel, each channel counting on its own', () => {
  const hub = new Hub()
  const a = hub.channel('a')
  const b = hub.channel('b')
  assert.is(a.lastId, 0)
  assert.is(a.publish('x').id, 1)
  assert.is(a.publish('y').id, 2)
  assert.is(b.publish('z').id, 1)
  assert.is(a.publish('w').id, 3)
  assert.is(a.lastId, 3)
  assert.is(b.lastId, 1)
})

messages('writes the envelope as exactly {"id":N,"data":"..."} when there is no event', () => {
  const channel = new Hub().channel('c')
  const message = channel.publish('hello')
  assert.is(message.envelope, '{"id":1,"data":"hello"}')
  assert.is(message.event, '')
  assert.is(message.data, 'hello')
})

messages('adds "event" after data in the envelope when the message has an event name', () => {
  const channel = new Hub().channel('c')
  channel.publish('a')
  const message = channel.publish('b', 'price.update-2')
  assert.is(message.envelope, '{"id":2,"data":"b","event":"price.update-2"}')
  assert.is(message.event, 'price.update-2')
})

messages('escapes quotes, backslashes and control characters so that the envelope parses back to the data', () => {
  const channel = new Hub().channel('c')
  const data = 'a"b\\c\nd\re\tf\bg\fh\u0000i\u001fj'
  const message = channel.publish(data)
  assert.is(message.envelope, String.raw`{"id":1,"data":"a\"b\\c\nd\re\tf\bg\fh\u0000i\u001fj"}`)
  assert.equal(JSON.parse(message.envelope), { id: 1, data })
})

messages('keeps U+2028 and U+2029 valid JSON and escapes lone surrogates so that no byte is lost in UTF-8', () => {
  const channel = new Hub().channel('c')
  const data = 'x\u2028y\u2029z\ud800w\udc00v😀'
  const message = channel.publish(data, 'e')
  // A lone surrogate written raw would become U+FFFD in UTF-8; escaped, it survives.
  assert.ok(message.envelope.includes('\\ud800'), 'the high surrogate is escaped')
  assert.ok(message.envelope.includes('\\udc00'), 'the low surrogate is escaped')
  assert.not.ok(/[\ud800-\udfff]/.test(message.envelope.replace(/😀/g, '')), 'no lone surrogate left raw')
  const throughUtf8 = Buffer.from(message.envelope, 'utf8').toString('utf8')
  assert.equal(JSON.parse(throughUtf8), { id: 1, data, event: 'e' })
})

messages('counts the size of a message in UTF-8 bytes', () => {
  const channel = new Hub().channel('c')
  assert.is(channel.publish('abc').size, 3)
  assert.is(channel.publish('é€😀').size, 2 + 3 + 4)
  assert.is(channel.publish('').size, 0)
})

messages.run()

// ---------------------------------------------------------------------------------------

const history = suite('Channel history window')

history('keeps the last historyMessages messages and drops older ones', () => {
  const channel = new Hub({ historyMessages: 3 }).channel('c')
  publishMany(channel, 5)
  assert.is(channel.firstRetainedId, 3)
  assert.is(channel.lastId, 5)
  assert.equal(
    channel.messagesFrom(1).map((m) => m.id),
    [3, 4, 5],
  )
  assert.is(channel.message(2), undefined)
  assert.is(channel.message(3)?.data, 'message 3')
})

history('keeps at most historyBytes bytes of data, counted in UTF-8', () => {
  const channel = new Hub({ historyBytes: 10 }).channel('c')
  channel.publish('aaaa')
  channel.publish('bbbb')
  assert.is(channel.firstRetainedId, 1, '8 bytes fit')
  channel.publish('cccc')
  assert.is(channel.firstRetainedId, 2, '12 bytes do not: the oldest goes')
  assert.equal(
    channel.messagesFrom(0).map((m) => m.data),
    ['bbbb', 'cccc'],
  )

  // "éé" is 2 characters but 4 bytes: counted in characters the window would keep both.
  const utf8 = new Hub({ historyBytes: 5 }).channel('u')
  utf8.publish('éé')
  utf8.publish('é')
  assert.is(utf8.firstRetainedId, 2)
})

history('always keeps the newest message, even one larger than the byte limit', () => {
  const channel = new Hub({ historyBytes: 10 }).channel('c')
  channel.publish('small')
  channel.publish('x'.repeat(50))
  assert.is(channel.firstRetainedId, 2)
  assert.is(channel.lastId, 2)
  assert.is(channel.message(2)?.size, 50)
  channel.publish('y'.repeat(60))
  assert.is(channel.firstRetainedId, 3)
  assert.equal(
    channel.messagesFrom(0).map((m) => m.id),
    [3],
  )
})

history('reports firstRetainedId as the next id and lastId as 0 on a channel that never had a message', () => {
  const channel = new Hub().channel('c')
  assert.is(channel.firstRetainedId, 1)
  assert.is(channel.lastId, 0)
  assert.equal(channel.messagesFrom(0), [])
  assert.is(channel.message(1), undefined)
})

history('answers messagesFrom with retained messages from an id, up to a limit', () => {
  const channel = new Hub({ historyMessages: 4 }).channel('c')
  publishMany(channel, 6) // retained: 3..6
  const ids = (list: Message[]) => list.map((m) => m.id)
  assert.equal(ids(channel.messagesFrom(0)), [3, 4, 5, 6])
  assert.equal(ids(channel.messagesFrom(3)), [3, 4, 5, 6])
  assert.equal(ids(channel.messagesFrom(5)), [5, 6])
  assert.equal(ids(channel.messagesFrom(4, 2)), [4, 5])
  assert.equal(ids(channel.messagesFrom(6, 10)), [6])
  assert.equal(ids(channel.messagesFrom(7)), [])
  assert.equal(ids(channel.messagesFrom(100)), [])
})

history('finds messages by id only while they are retained', () => {
  const channel = new Hub({ historyMessages: 2 }).channel('c')
  publishMany(channel, 4)
  assert.is(channel.message(0), undefined)
  assert.is(channel.message(1), undefined)
  assert.is(channel.message(2), undefined)
  assert.is(channel.message(3)?.id, 3)
  assert.is(channel.message(4)?.id, 4)
  assert.is(channel.message(5), undefined)
})

history('stays consistent over many messages, when the forgotten part of the log is compacted', () => {
  const channel = new Hub({ historyMessages: 3 }).channel('c')
  for (let n = 1; n <= 500; n++) {
    channel.publish(`message ${n}`)
    const first = Math.max(1, n - 2)
    assert.is(channel.firstRetainedId, first, `after ${n}`)
    assert.equal(
      channel.messagesFrom(0).map((m) => m.id),
      Array.from({ length: n - first + 1 }, (_, i) => first + i),
      `after ${n}`,
    )
    assert.is(channel.message(n)?.data, `message ${n}`)
    assert.is(channel.message(first - 1), undefined)
  }
})

history.run()

// ---------------------------------------------------------------------------------------

const start = suite('Channel.startPoint')

start('without after, starts with the next message and announces no gap', () => {
  const channel = new Hub().channel('c')
  assert.equal(channel.startPoint(undefined), { gapFirst: 0, from: 1 })
  publishMany(channel, 3)
  assert.equal(channel.startPoint(undefined), { gapFirst: 0, from: 4 })
})

start('with after=0, starts with the oldest retained message and never announces a gap', () => {
  const channel = new Hub({ historyMessages: 3 }).channel('c')
  assert.equal(channel.startPoint(0), { gapFirst: 0, from: 1 }, 'empty channel')
  publishMany(channel, 2)
  assert.equal(channel.startPoint(0), { gapFirst: 0, from: 1 })
  publishMany(channel, 5) // 1..4 trimmed
  assert.equal(channel.startPoint(0), { gapFirst: 0, from: 5 })
})

start('with after inside the window, starts right after it', () => {
  const channel = new Hub({ historyMessages: 3 }).channel('c')
  publishMany(channel, 6) // retained 4..6
  assert.equal(channel.startPoint(3), { gapFirst: 0, from: 4 }, 'the message before the oldest retained one')
  assert.equal(channel.startPoint(4), { gapFirst: 0, from: 5 })
  assert.equal(channel.startPoint(5), { gapFirst: 0, from: 6 })
  assert.equal(channel.startPoint(6), { gapFirst: 0, from: 7 }, 'the newest id: nothing missed')
})

start('with after older than the window, announces a gap whose first is the oldest retained id', () => {
  const channel = new Hub({ historyMessages: 3 }).channel('c')
  publishMany(channel, 6) // retained 4..6
  assert.equal(channel.startPoint(2), { gapFirst: 4, from: 4 })
  assert.equal(channel.startPoint(1), { gapFirst: 4, from: 4 })
})

start('with after beyond the newest id, announces a gap and starts from the oldest retained message', () => {
  const channel = new Hub({ historyMessages: 3 }).channel('c')
  publishMany(channel, 6)
  assert.equal(channel.startPoint(7), { gapFirst: 4, from: 4 })
  assert.equal(channel.startPoint(1_000_000), { gapFirst: 4, from: 4 })
})

start('on an empty channel, a cursor from another life of the server gets a gap with first 1', () => {
  const channel = new Hub().channel('c')
  assert.equal(channel.startPoint(5), { gapFirst: 1, from: 1 })
  assert.equal(channel.startPoint(1), { gapFirst: 1, from: 1 })
})

start.run()

// ---------------------------------------------------------------------------------------

const channels = suite('Hub channels')

channels('accepts names of 1 to 64 characters of A-Z a-z 0-9 _ . -', () => {
  const hub = new Hub()
  for (const name of ['a', 'Z', '0', '_', '.', '-', 'news.sport-2_x', 'x'.repeat(64)]) {
    assert.is(hub.channel(name).name, name)
  }
})

channels('refuses other names with a 404 HubError and makes no channel', () => {
  const hub = new Hub()
  const bad = ['', 'x'.repeat(65), '/', 'a/b', ' ', 'a b', 'a\n', '\na', 'café', 'π', '😀', 'a%20b', 'a+b', 'a:b', 'a\u0000']
  for (const name of bad) throwsHubError(() => hub.channel(name), 404, 'BAD_CHANNEL_NAME', JSON.stringify(name))
  assert.is(hub.channelCount, 0)
})

channels('returns the same channel for the same name', () => {
  const hub = new Hub()
  const channel = hub.channel('same')
  assert.is(hub.channel('same'), channel)
  assert.is(hub.find('same'), channel)
  assert.is(hub.channelCount, 1)
  assert.is(hub.find('other'), undefined)
  assert.is(hub.channelCount, 1, 'find makes nothing')
})

channels('refuses a new channel with 503 at maxChannels, and still serves the existing ones', () => {
  const hub = new Hub({ maxChannels: 2 })
  const a = hub.channel('a')
  hub.channel('b').publish('kept')
  throwsHubError(() => hub.channel('c'), 503, 'TOO_MANY_CHANNELS', 'third channel')
  assert.is(hub.channel('a'), a)
  assert.is(hub.channelCount, 2)
  a.releaseIfEmpty()
  assert.is(hub.channel('c').name, 'c', 'room again once a channel is freed')
})

channels('frees a channel with no subscribers and no history', () => {
  const hub = new Hub()
  const channel = hub.channel('empty')
  const subscription = channel.subscribe(new RecordingFeed(), new FakeOutlet(), undefined)
  assert.is(hub.find('empty'), channel)
  subscription.close()
  assert.is(hub.find('empty'), undefined)
  assert.is(hub.channelCount, 0)
  assert.is.not(hub.channel('empty'), channel, 'the name gives a fresh channel')
})

channels('keeps a channel that holds history, with no subscribers', () => {
  const hub = new Hub()
  const channel = hub.channel('kept')
  const subscription = channel.subscribe(new RecordingFeed(), new FakeOutlet(), undefined)
  channel.publish('x')
  subscription.close()
  channel.releaseIfEmpty()
  assert.is(hub.find('kept'), channel)
  assert.is(hub.channel('kept').lastId, 1)
})

channels('keeps a channel that has subscribers, with no history', () => {
  const hub = new Hub()
  const channel = hub.channel('live')
  channel.subscribe(new RecordingFeed(), new FakeOutlet(), undefined)
  channel.releaseIfEmpty()
  assert.is(hub.find('live'), channel)
})

channels.run()

// ---------------------------------------------------------------------------------------

const subscriptions = suite('Subscription')

subscriptions('encodes each live message once per feed, however many subscriptions share the feed', () => {
  const channel = new Hub().channel('c')
  const sse = new RecordingFeed()
  const ws = new RecordingFeed()
  const sseOutlets = [new FakeOutlet(), new FakeOutlet(), new FakeOutlet()]
  const wsOutlets = [new FakeOutlet(), new FakeOutlet()]
  for (const outlet of sseOutlets) channel.subscribe(sse, outlet, undefined)
  for (const outlet of wsOutlets) channel.subscribe(ws, outlet, undefined)
  channel.publish('one')
  channel.publish('two')
  assert.equal(sse.encoded, [1, 2])
  assert.equal(ws.encoded, [1, 2])
  for (const [feedOutlets, label] of [
    [sseOutlets, 'sse'],
    [wsOutlets, 'ws'],
  ] as const) {
    for (const outlet of feedOutlets) assert.equal(outlet.log, ['m1', 'm2'], label)
    // The very same wire object goes to every outlet of the feed: written many times.
    for (const outlet of feedOutlets.slice(1)) {
      assert.is(outlet.writes[0], feedOutlets[0].writes[0], label)
      assert.is(outlet.writes[1], feedOutlets[0].writes[1], label)
    }
  }
  assert.is.not(sseOutlets[0].writes[0], wsOutlets[0].writes[0], 'each feed its own wire')
})

subscriptions('does not encode for a feed whose subscriptions are all still replaying', () => {
  const channel = new Hub().channel('c')
  channel.publish('old')
  const feed = new RecordingFeed()
  const outlet = new FakeOutlet()
  outlet.accepting = false
  const subscription = channel.subscribe(feed, outlet, 0) // blocked after writing message 1
  assert.is(subscription.live, false)
  feed.encoded.length = 0
  channel.publish('new')
  assert.equal(feed.encoded, [], 'no live subscriber: nothing encoded at publish')
  assert.equal(outlet.log, ['m1'])
})

subscriptions('with after=undefined, writes nothing old and then every new message live', () => {
  const channel = new Hub().channel('c')
  publishMany(channel, 3)
  const outlet = new FakeOutlet()
  const subscription = channel.subscribe(new RecordingFeed(), outlet, undefined)
  assert.equal(outlet.log, [])
  assert.is(subscription.live, true)
  channel.publish('x')
  channel.publish('y')
  assert.equal(outlet.log, ['m4', 'm5'])
  assert.is(subscription.lastId, 5)
})

subscriptions('replays retained history in order, then delivers live messages', () => {
  const channel = new Hub().channel('c')
  publishMany(channel, 3)
  const outlet = new FakeOutlet()
  const subscription = channel.subscribe(new RecordingFeed(), outlet, 0)
  assert.equal(outlet.log, ['m1', 'm2', 'm3'])
  assert.is(subscription.live, true)
  assert.is(subscription.lastId, 3)
  channel.publish('four')
  assert.equal(outlet.log, ['m1', 'm2', 'm3', 'm4'])

  const resumed = new FakeOutlet()
  channel.subscribe(new RecordingFeed(), resumed, 2)
  assert.equal(resumed.log, ['m3', 'm4'], 'after=2 starts with 3')
})

subscriptions('paces a replay by the outlet: after a refused write it awaits drained() before the next', async () => {
  const channel = new Hub().channel('c')
  publishMany(channel, 3)
  const outlet = new FakeOutlet()
  outlet.accepting = false
  const subscription = channel.subscribe(new RecordingFeed(), outlet, 0)
  assert.equal(outlet.log, ['m1'])
  assert.is(outlet.pending, 1, 'waiting for the socket')
  await settle()
  assert.equal(outlet.log, ['m1'], 'nothing more until the socket drains')

  await outlet.drain()
  assert.equal(outlet.log, ['m1', 'm2'])
  assert.is(outlet.pending, 1)
  await outlet.drain()
  assert.equal(outlet.log, ['m1', 'm2', 'm3'])
  assert.is(subscription.live, false, 'the last write was refused: not yet live')
  await outlet.drain()
  assert.is(subscription.live, true)
  assert.is(outlet.pending, 0)
  assert.is(outlet.drainedCalls, 3)

  outlet.accepting = true
  channel.publish('live')
  assert.equal(outlet.log, ['m1', 'm2', 'm3', 'm4'])
})

subscriptions('keeps writing without waiting while the outlet accepts', async () => {
  const channel = new Hub().channel('c')
  publishMany(channel, 4)
  const outlet = new FakeOutlet()
  outlet.accepting = false
  channel.subscribe(new RecordingFeed(), outlet, 0)
  outlet.accepting = true
  await outlet.drain()
  assert.equal(outlet.log, ['m1', 'm2', 'm3', 'm4'])
  assert.is(outlet.drainedCalls, 1)
})

subscriptions('delivers messages published during a replay exactly once, in order', async () => {
  const channel = new Hub().channel('c')
  publishMany(channel, 3)
  const outlet = new FakeOutlet()
  outlet.accepting = false
  const subscription = channel.subscribe(new RecordingFeed(), outlet, 0)
  channel.publish('4') // while message 1 waits for the socket
  await outlet.drain()
  await outlet.drain()
  await outlet.drain()
  assert.equal(outlet.log, ['m1', 'm2', 'm3', 'm4'])
  assert.is(subscription.live, false, 'blocked on the newest message')
  channel.publish('5') // between the last replayed write and its drain
  outlet.accepting = true
  await outlet.drain()
  assert.is(subscription.live, true)
  channel.publish('6')
  channel.publish('7')
  assert.equal(outlet.log, ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7'])
})

subscriptions('with many subscribers replaying at different paces, each gets every message once, in order', async () => {
  const channel = new Hub().channel('c')
  publishMany(channel, 5)
  const feed = new RecordingFeed()
  const fast = new FakeOutlet()
  const slow = new FakeOutlet()
  slow.accepting = false
  channel.subscribe(feed, fast, 0)
  channel.subscribe(feed, slow, 2)
  for (let round = 0; round < 10; round++) {
    channel.publish(`round ${round}`)
    await slow.drain()
  }
  slow.accepting = true
  await slow.drain()
  const all = Array.from({ length: 15 }, (_, i) => `m${i + 1}`)
  assert.equal(fast.log, all)
  assert.equal(slow.log, all.slice(2))
})

subscriptions('writes the gap record first when the cursor is older than the window', () => {
  const channel = new Hub({ historyMessages: 3 }).channel('c')
  publishMany(channel, 5) // retained 3..5
  const feed = new RecordingFeed()
  const outlet = new FakeOutlet()
  const subscription = channel.subscribe(feed, outlet, 1)
  assert.equal(outlet.log, ['gap3', 'm3', 'm4', 'm5'])
  assert.equal(feed.gaps, [3])
  assert.is(subscription.lastId, 5)
})

subscriptions('writes the gap record first when the cursor is beyond the newest id, then the oldest retained', () => {
  const channel = new Hub({ historyMessages: 3 }).channel('c')
  publishMany(channel, 5)
  const outlet = new FakeOutlet()
  channel.subscribe(new RecordingFeed(), outlet, 99)
  assert.equal(outlet.log, ['gap3', 'm3', 'm4', 'm5'])

  const empty = new Hub().channel('e')
  const fresh = new FakeOutlet()
  empty.subscribe(new RecordingFeed(), fresh, 7)
  assert.equal(fresh.log, ['gap1'])
  empty.publish('first')
  assert.equal(fresh.log, ['gap1', 'm1'])
})

subscriptions('writes no gap for after=0 even when history was trimmed', () => {
  const channel = new Hub({ historyMessages: 2 }).channel('c')
  publishMany(channel, 5)
  const feed = new RecordingFeed()
  const outlet = new FakeOutlet()
  channel.subscribe(feed, outlet, 0)
  assert.equal(outlet.log, ['m4', 'm5'])
  assert.equal(feed.gaps, [])
})

subscriptions('waits for the socket after a refused gap record before replaying', async () => {
  const channel = new Hub({ historyMessages: 3 }).channel('c')
  publishMany(channel, 5)
  const outlet = new FakeOutlet()
  outlet.accepting = false
  channel.subscribe(new RecordingFeed(), outlet, 1)
  assert.equal(outlet.log, ['gap3'])
  assert.is(outlet.pending, 1)
  await outlet.drain()
  assert.equal(outlet.log, ['gap3', 'm3'])
})

subscriptions('when history is trimmed past a blocked replay, writes a gap and goes on from the oldest retained', async () => {
  const channel = new Hub({ historyMessages: 3 }).channel('c')
  publishMany(channel, 3)
  const feed = new RecordingFeed()
  const outlet = new FakeOutlet()
  outlet.accepting = false
  const subscription = channel.subscribe(feed, outlet, 0)
  assert.equal(outlet.log, ['m1'])
  publishMany(channel, 3) // retained now 4..6: 2 and 3 are gone
  await outlet.drain()
  assert.equal(outlet.log, ['m1', 'gap4'])
  assert.equal(feed.gaps, [4])
  outlet.accepting = true
  await outlet.drain()
  assert.equal(outlet.log, ['m1', 'gap4', 'm4', 'm5', 'm6'])
  assert.is(subscription.live, true)
  channel.publish('7')
  assert.equal(outlet.log, ['m1', 'gap4', 'm4', 'm5', 'm6', 'm7'])
})

subscriptions('cuts off a live subscriber whose outlet holds more than maxQueuedBytes', () => {
  const hub = new Hub({ maxQueuedBytes: 100 })
  const channel = hub.channel('c')
  const feed = new RecordingFeed()
  const slow = new FakeOutlet()
  const fine = new FakeOutlet()
  const slowSubscription = channel.subscribe(feed, slow, undefined)
  channel.subscribe(feed, fine, undefined)
  assert.is(channel.subscribers, 2)

  slow.queuedBytes = 100 // at the limit, not beyond it
  channel.publish('1')
  assert.equal(slow.log, ['m1'])
  assert.is(slow.cutOffs, 0)

  slow.queuedBytes = 101
  channel.publish('2')
  assert.is(slow.cutOffs, 1)
  assert.equal(slow.log, ['m1'], 'the message that found it full is not written')
  assert.is(slowSubscription.closed, true)
  assert.is(slowSubscription.live, false)
  assert.is(slowSubscription.lastId, 1, 'it resumes after the last message it got')
  assert.is(channel.subscribers, 1, 'forgotten by the channel')

  channel.publish('3')
  assert.equal(slow.log, ['m1'])
  assert.is(slow.cutOffs, 1, 'cut off once')
  assert.equal(fine.log, ['m1', 'm2', 'm3'])
})

subscriptions('never cuts off a subscriber because of a replay, however much its outlet holds', async () => {
  const channel = new Hub({ maxQueuedBytes: 10 }).channel('c')
  publishMany(channel, 5)
  const outlet = new FakeOutlet()
  outlet.accepting = false
  outlet.queuedBytes = 1_000_000
  const subscription = channel.subscribe(new RecordingFeed(), outlet, 0)
  channel.publish('6')
  for (let i = 0; i < 6; i++) await outlet.drain()
  assert.equal(outlet.log, ['m1', 'm2', 'm3', 'm4', 'm5', 'm6'])
  assert.is(outlet.cutOffs, 0)
  assert.is(subscription.closed, false)
  await outlet.drain()
  assert.is(subscription.live, true)
  outlet.queuedBytes = 0
  channel.publish('7')
  assert.equal(outlet.log.at(-1), 'm7')
  assert.is(outlet.cutOffs, 0)
})

subscriptions('is removed from the channel by close(), and writes nothing more', () => {
  const channel = new Hub().channel('c')
  const outlet = new FakeOutlet()
  const other = new FakeOutlet()
  const subscription = channel.subscribe(new RecordingFeed(), outlet, undefined)
  channel.subscribe(new RecordingFeed(), other, undefined)
  channel.publish('1')
  subscription.close()
  subscription.close() // twice is harmless
  assert.is(subscription.closed, true)
  assert.is(channel.subscribers, 1)
  channel.publish('2')
  assert.equal(outlet.log, ['m1'])
  assert.equal(other.log, ['m1', 'm2'])
  assert.is(outlet.cutOffs, 0, 'close is not a cut-off')
})

subscriptions('is removed from the channel by channel.unsubscribe()', () => {
  const channel = new Hub().channel('c')
  const outlet = new FakeOutlet()
  const subscription = channel.subscribe(new RecordingFeed(), outlet, undefined)
  channel.publish('1')
  channel.unsubscribe(subscription)
  assert.is(channel.subscribers, 0)
  channel.publish('2')
  assert.equal(outlet.log, ['m1'])
  channel.unsubscribe(subscription)
  assert.is(channel.subscribers, 0, 'a second unsubscribe changes no count')
})

subscriptions('stops a blocked replay when closed', async () => {
  const channel = new Hub().channel('c')
  publishMany(channel, 3)
  const outlet = new FakeOutlet()
  outlet.accepting = false
  const subscription = channel.subscribe(new RecordingFeed(), outlet, 0)
  subscription.close()
  assert.is(channel.subscribers, 0)
  await outlet.drain()
  channel.publish('4')
  assert.equal(outlet.log, ['m1'])
  assert.is(subscription.live, false)
})

subscriptions.run()

// ---------------------------------------------------------------------------------------

const waiters = suite('Channel waiters')

waiters('calls a waiter once with the next message, then forgets it', () => {
  const channel = new Hub().channel('c')
  channel.publish('before')
  const seen: Message[] = []
  channel.wait((message) => seen.push(message))
  assert.is(channel.subscribers, 1)
  const next = channel.publish('next')
  assert.is(seen.length, 1)
  assert.is(seen[0], next)
  assert.is(channel.subscribers, 0)
  channel.publish('later')
  assert.is(seen.length, 1, 'not called again')
})

waiters('wakes every waiter with the same message', () => {
  const channel = new Hub().channel('c')
  const seen: number[][] = [[], [], []]
  for (const list of seen) channel.wait((message) => list.push(message.id))
  assert.is(channel.subscribers, 3)
  channel.publish('x')
  assert.equal(seen, [[1], [1], [1]])
})

waiters('a waiter that waits again from its callback gets the following message, not the same one', () => {
  const channel = new Hub().channel('c')
  const seen: number[] = []
  const waiter = (message: Message) => {
    seen.push(message.id)
    if (seen.length < 3) channel.wait(waiter)
  }
  channel.wait(waiter)
  publishMany(channel, 4)
  assert.equal(seen, [1, 2, 3])
})

waiters('the remover forgets a waiter before any message, and frees an empty channel', () => {
  const hub = new Hub()
  const channel = hub.channel('c')
  let calls = 0
  const remove = channel.wait(() => calls++)
  const keep = channel.wait(() => calls++)
  remove()
  assert.is(channel.subscribers, 1)
  assert.is(hub.find('c'), channel, 'still one waiter')
  keep()
  assert.is(channel.subscribers, 0)
  assert.is(hub.find('c'), undefined, 'no waiter, no history: freed')
  channel.publish('x')
  assert.is(calls, 0)
})

waiters('the remover is harmless after the waiter was answered', () => {
  const hub = new Hub()
  const channel = hub.channel('c')
  let calls = 0
  const remove = channel.wait(() => calls++)
  channel.publish('x')
  remove()
  assert.is(calls, 1)
  assert.is(channel.subscribers, 0)
  assert.is(hub.find('c'), channel, 'it has history: kept')
})

waiters.run()

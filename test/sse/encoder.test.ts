// The text/event-stream encoder, read back by a parser written here from the WHATWG HTML
// standard ("Server-sent events", 9.2.6 "Interpreting an event stream"). The parser is
// first checked against the WPT EventSource cases (test/fixtures/wpt-eventsource), then
// used to show that whatever a message holds, a conforming client reads back exactly it.

import { readFileSync } from 'node:fs'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { encodeComment, encodeEvent, encodeRetry } from '../../src/sse/encoder.ts'

// --- A WHATWG event-stream parser -------------------------------------------------------

interface ParsedEvent {
  /** The event type: the event field, or "message". */
  type: string
  data: string
  /** The event source's last event ID when the event was dispatched. */
  lastEventId: string
}

interface ParsedStream {
  events: ParsedEvent[]
  /** The reconnection time set by the last valid retry field, or undefined. */
  retry: number | undefined
  /** The last event ID string at the end of the stream. */
  lastEventId: string
}

/**
 * Interprets a whole event stream (already decoded from UTF-8). One leading BOM is
 * dropped; lines end with CRLF, LF or CR; a last line with no line end, and an event not
 * closed by an empty line, are discarded, as at the end of a stream.
 */
function parseEventStream(text: string): ParsedStream {
  const events: ParsedEvent[] = []
  let retry: number | undefined
  let data = ''
  let eventType = ''
  let lastEventIdBuffer = ''
  let lastEventId = ''

  const dispatch = (): void => {
    // 1. The last event ID string is set from the buffer, whether or not an event fires.
    lastEventId = lastEventIdBuffer
    // 2. No data: reset and fire nothing.
    if (data === '') {
      eventType = ''
      return
    }
    // 3. One trailing LF goes.
    if (data.endsWith('\n')) data = data.slice(0, -1)
    events.push({ type: eventType === '' ? 'message' : eventType, data, lastEventId })
    data = ''
    eventType = ''
  }

  const processField = (name: string, value: string): void => {
    switch (name) {
      case 'event':
        eventType = value
        break
      case 'data':
        data += value + '\n'
        break
      case 'id':
        if (!value.includes('\u0000')) lastEventIdBuffer = value
        break
      case 'retry':
        if (/^[0-9]+$/.test(value)) retry = Number.parseInt(value, 10)
        break
      default: // unknown fields are ignored
    }
  }

  let at = text.startsWith('\uFEFF') ? 1 : 0
  while (at < text.length) {
    let end = at
    while (end < text.length && text[end] !== '\r' && text[end] !== '\n') end++
    if (end === text.length) break // no line end: the stream ended mid-line, discard
    const line = text.slice(at, end)
    at = text[end] === '\r' && text[end + 1] === '\n' ? end + 2 : end + 1

    if (line === '') dispatch()
    else if (line.startsWith(':')) continue // a comment
    else {
      const colon = line.indexOf(':')
      if (colon === -1) processField(line, '')
      else {
        let value = line.slice(colon + 1)
        if (value.startsWith(' ')) value = value.slice(1)
        processField(line.slice(0, colon), value)
      }
    }
  }
  return { events, retry, lastEventId }
}

/** What a client reads from the bytes the server sends: UTF-8 decoded, then parsed. */
function parseBytes(bytes: Buffer): ParsedStream {
  // ignoreBOM: the BOM is left to the parser, which drops exactly one.
  return parseEventStream(new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes))
}

/** The text as it goes on the wire and what a client reads back from it. */
function readBack(text: string): ParsedStream {
  return parseBytes(Buffer.from(text, 'utf8'))
}

// --- The parser against the WPT cases ---------------------------------------------------

interface WptCase {
  id: string
  body: string
  expect: {
    messages?: string[]
    events?: { type: string; data: string }[]
    lastEventIds?: string[]
    reconnectDelayMs?: number
    fail?: boolean
  }
}

const fixture = JSON.parse(readFileSync(new URL('../fixtures/wpt-eventsource/cases.json', import.meta.url), 'utf8')) as { cases: WptCase[] }

// The cases about parsing: those that say which events a client observes. The others are
// about the connection (a bad MIME type or status fails it, whatever the body says).
const parsingCases = fixture.cases.filter((c) => c.expect.fail !== true && (c.expect.messages !== undefined || c.expect.events !== undefined))

const wpt = suite('the test parser against the WPT EventSource cases')

wpt('has the parsing cases to check', () => {
  assert.ok(parsingCases.length >= 25, `${parsingCases.length} cases`)
})

for (const c of parsingCases) {
  wpt(`reads case ${c.id} as a browser does`, () => {
    const parsed = parseBytes(Buffer.from(c.body, 'utf8'))
    if (c.expect.messages !== undefined) {
      // The WPT tests listen with onmessage: they see the events of type "message".
      const messages = parsed.events.filter((event) => event.type === 'message')
      assert.equal(
        messages.map((event) => event.data),
        c.expect.messages,
      )
      if (c.expect.lastEventIds !== undefined) {
        assert.equal(
          messages.map((event) => event.lastEventId),
          c.expect.lastEventIds,
        )
      }
    }
    if (c.expect.events !== undefined) {
      assert.equal(
        parsed.events.map(({ type, data }) => ({ type, data })),
        c.expect.events,
      )
    }
    if (c.expect.reconnectDelayMs !== undefined) assert.is(parsed.retry, c.expect.reconnectDelayMs)
  })
}

wpt('follows the rules the cases hinge on: CR line ends, one BOM dropped, one space dropped, no event without an empty line', () => {
  // Guards on the parser itself, so that the checks above can fail.
  assert.equal(parseEventStream('data:a\rdata:b\r\r').events, [{ type: 'message', data: 'a\nb', lastEventId: '' }])
  assert.equal(parseEventStream('\uFEFF\uFEFFdata:x\n\ndata:y\n\n').events.map((e) => e.data), ['y'])
  assert.equal(parseEventStream('data:  x\n\n').events[0].data, ' x')
  assert.equal(parseEventStream('data:x\n').events, [], 'no empty line: not dispatched')
  assert.equal(parseEventStream('data:x\n\ndata:y').events.length, 1, 'an unterminated line is discarded')
  assert.equal(parseEventStream('id:7\n\ndata:x\n\n').events[0].lastEventId, '7', 'the id is kept across events')
})

wpt.run()

// --- encodeEvent, encodeRetry, encodeComment: exact bytes -------------------------------

const exact = suite('SSE encoder bytes')

exact('writes an event with id and data, and an empty line after it', () => {
  assert.is(encodeEvent({ id: 1, data: 'hello' }), 'id: 1\ndata: hello\n\n')
})

exact('writes the event name after the id when there is one', () => {
  assert.is(encodeEvent({ id: 7, event: 'price', data: '42' }), 'id: 7\nevent: price\ndata: 42\n\n')
})

exact('writes no event field for an empty event name, and no id field without an id', () => {
  assert.is(encodeEvent({ id: 3, event: '', data: 'x' }), 'id: 3\ndata: x\n\n')
  assert.is(encodeEvent({ event: 'gap', data: '{"first":4}' }), 'event: gap\ndata: {"first":4}\n\n')
  assert.is(encodeEvent({ data: 'x' }), 'data: x\n\n')
})

exact('writes one data: line per line of the data', () => {
  assert.is(encodeEvent({ id: 2, data: 'a\nb\r\nc\rd' }), 'id: 2\ndata: a\ndata: b\ndata: c\ndata: d\n\n')
  assert.is(encodeEvent({ data: '' }), 'data: \n\n')
  assert.is(encodeEvent({ data: '\n' }), 'data: \ndata: \n\n')
})

exact('writes retry as a whole number of milliseconds, as an event of its own', () => {
  assert.is(encodeRetry(3000), 'retry: 3000\n\n')
  assert.is(encodeRetry(1500.7), 'retry: 1500\n\n')
})

exact('writes a comment as a colon line and an empty line', () => {
  assert.is(encodeComment(), ':\n\n')
  assert.is(encodeComment('keep-alive'), ': keep-alive\n\n')
  assert.is(encodeComment('a\nb\r\nc\rd'), ': a b c d\n\n', 'line breaks would end the comment')
})

exact.run()

// --- Round trips through the parser -----------------------------------------------------

const trip = suite('SSE encoder read back by a conforming parser')

/** The data as a client reads it: every line end becomes \n. */
const normalized = (data: string) => data.replace(/\r\n|\r|\n/g, '\n')

const HOSTILE: [string, string][] = [
  ['LF line ends', 'one\ntwo\nthree'],
  ['CRLF line ends', 'one\r\ntwo\r\nthree'],
  ['CR line ends', 'one\rtwo\rthree'],
  ['mixed line ends, CR then LF as two breaks', 'a\r\rb\n\rc\r\n\nd'],
  ['empty lines inside', 'first\n\n\nlast'],
  ['an empty line that would dispatch early', 'before\n\nafter'],
  ['leading spaces', ' one space\n  two spaces\n\tand a tab'],
  ['a line that is a comment', 'x\n: not a comment\n:also not'],
  ['lines that look like fields', 'data: inner\nid: 99\nevent: evil\nretry: 1\ndata:\nid:'],
  ['a field line at the start', 'data: data: data'],
  ['an empty message', ''],
  ['only line breaks', '\n\r\n\r'],
  ['a single LF', '\n'],
  ['a single CR', '\r'],
  ['a trailing line break', 'ends with a break\n'],
  ['a trailing CRLF', 'ends with a break\r\n'],
  ['a leading line break', '\nstarts with a break'],
  ['unicode', 'emoji 😀 👩‍👩‍👧, é, 中文, \u2028 line separator, \u2029 paragraph separator, \u0085 NEL'],
  ['a BOM inside', '\uFEFFdata: x'],
  ['NUL', 'a\u0000b'],
  ['colons everywhere', ':::\n: : :\na:b:c'],
]

for (const [what, data] of HOSTILE) {
  trip(`gives back data with ${what}, line ends normalized to LF`, () => {
    const text = encodeEvent({ id: 12, data })
    const lines = normalized(data).split('\n')
    // Each line of the data is a data: line of its own.
    assert.is(text.split('\n').filter((line) => line.startsWith('data: ')).length, lines.length, 'one data: line per line')
    assert.not.ok(text.slice(0, -2).includes('\n\n'), 'no empty line before the end of the event')
    assert.not.ok(text.includes('\r'), 'no CR on the wire')
    const parsed = readBack(text)
    assert.equal(parsed.events, [{ type: 'message', data: normalized(data), lastEventId: '12' }])
  })
}

trip('gives back event names and ids exactly', () => {
  const names = ['a', 'price.update', 'x-y_z.0', 'E'.repeat(64)]
  let stream = ''
  names.forEach((event, i) => (stream += encodeEvent({ id: i + 1, event, data: `d${i}` })))
  stream += encodeEvent({ id: 9007199254740991, data: 'largest id' })
  const parsed = readBack(stream)
  assert.equal(parsed.events, [
    ...names.map((type, i) => ({ type, data: `d${i}`, lastEventId: String(i + 1) })),
    { type: 'message', data: 'largest id', lastEventId: '9007199254740991' },
  ])
  assert.is(parsed.lastEventId, '9007199254740991')
})

trip('keeps the last id across events that carry none (a gap record leaves it alone)', () => {
  const stream = encodeEvent({ id: 5, data: 'a' }) + encodeEvent({ event: 'gap', data: '{"first":9}' }) + encodeEvent({ id: 9, data: 'b' })
  assert.equal(readBack(stream).events, [
    { type: 'message', data: 'a', lastEventId: '5' },
    { type: 'gap', data: '{"first":9}', lastEventId: '5' },
    { type: 'message', data: 'b', lastEventId: '9' },
  ])
})

trip('reads many hostile events in one stream as many events, each whole', () => {
  const stream = HOSTILE.map(([, data], i) => encodeEvent({ id: i + 1, event: i % 2 === 0 ? 'even' : '', data })).join('')
  const parsed = readBack(encodeRetry(3000) + stream)
  assert.is(parsed.retry, 3000)
  assert.equal(
    parsed.events,
    HOSTILE.map(([, data], i) => ({ type: i % 2 === 0 ? 'even' : 'message', data: normalized(data), lastEventId: String(i + 1) })),
  )
})

trip('sets the reconnection time with retry and dispatches nothing', () => {
  const parsed = readBack(encodeRetry(3000))
  assert.is(parsed.retry, 3000)
  assert.equal(parsed.events, [])
})

trip('dispatches nothing for a comment, with or without text, even with line breaks in it', () => {
  for (const text of [undefined, '', 'keep-alive', 'data: x', 'a\ndata: injected\n\n', 'b\r\rdata: y\r\r']) {
    const wire = text === undefined ? encodeComment() : encodeComment(text)
    const parsed = readBack(wire)
    assert.equal(parsed.events, [], JSON.stringify(text))
    assert.is(parsed.lastEventId, '', JSON.stringify(text))
    assert.is(parsed.retry, undefined, JSON.stringify(text))
  }
})

trip('lets a comment between two events change neither', () => {
  const stream = encodeEvent({ id: 1, data: 'a' }) + encodeComment('x\ndata: z') + encodeEvent({ id: 2, data: 'b' })
  assert.equal(
    readBack(stream).events.map((e) => e.data),
    ['a', 'b'],
  )
})

trip.run()

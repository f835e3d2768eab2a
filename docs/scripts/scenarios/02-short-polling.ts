// Transcripts of docs/02-short-polling.md: GET /poll/{channel}?after=N.

import type { Connection, Transcript } from '../recorder.ts'
import type { Scenario } from '../transcripts.ts'

const HOST = 'Host: 127.0.0.1:8080\r\n'

function poll(c: Connection, query: string, extra = ''): void {
  c.send(`GET /poll/news${query} HTTP/1.1\r\n${HOST}${extra}\r\n`)
}

/** Notes what one poll cost, both ways, since `from` (the connection's byte counts before it). */
function noteCost(t: Transcript, c: Connection, from: { sent: number; received: number }, what: string): void {
  t.note(`${what}: ${c.bytesSent - from.sent} bytes up, ${c.bytesReceived - from.received} bytes down`)
}

function counts(c: Connection): { sent: number; received: number } {
  return { sent: c.bytesSent, received: c.bytesReceived }
}

export const scenarios: Record<string, Scenario> = {
  /** The smallest exchange: learn the cursor, then ask for what came after it. */
  'poll-first': async (t) => {
    const c = await t.connect()
    poll(c, '')
    await c.response()
    await t.publish('news', 'hello')
    const before = counts(c)
    poll(c, '?after=0')
    await c.response()
    noteCost(t, c, before, 'this poll')
  },

  /** The cursor: messages published between two polls are in the next answer, none twice. */
  'poll-cursor': async (t) => {
    const c = await t.connect()
    await t.publish('news', 'one')
    poll(c, '?after=0')
    await c.response()
    t.note('the client keeps last (1) as its cursor and waits for its next turn')
    await t.publish('news', 'two')
    await t.publish('news', 'three')
    poll(c, '?after=1')
    await c.response()
    const before = counts(c)
    poll(c, '?after=3')
    await c.response()
    noteCost(t, c, before, 'a poll that finds nothing')
  },

  /** ETag and If-None-Match: 304 while nothing changed; what that saves, and what it does not. */
  'poll-etag': async (t) => {
    const c = await t.connect()
    await t.publish('news', 'one')
    let before = counts(c)
    poll(c, '?after=1')
    const first = await c.response()
    noteCost(t, c, before, 'an empty 200')
    const etag = first.headers.get('etag')!
    before = counts(c)
    poll(c, '?after=1', `If-None-Match: ${etag}\r\n`)
    await c.response()
    noteCost(t, c, before, 'the same poll, answered 304')
    await t.publish('news', 'two')
    poll(c, '?after=1', `If-None-Match: ${etag}\r\n`)
    const second = await c.response()
    t.note('the cursor moves to 2: the URL changes, and so does the ETag it answers to')
    poll(c, '?after=2', `If-None-Match: ${second.headers.get('etag')!}\r\n`)
    await c.response()
  },

  /** History is limited (here to 3 messages): a cursor older than it gets a gap record first. */
  'poll-gap': {
    options: { historyMessages: 3 },
    run: async (t) => {
      for (const data of ['one', 'two', 'three', 'four', 'five']) await t.publish('news', data)
      const c = await t.connect()
      poll(c, '?after=1')
      await c.response()
      t.note('a cursor from another life of the server (it restarted: ids begin again at 1)')
      poll(c, '?after=42')
      await c.response()
    },
  },

  /** A cursor that is not a message id is refused, and the connection closed. */
  'poll-bad-cursor': async (t) => {
    const c = await t.connect()
    poll(c, '?after=-1')
    await c.response()
    await c.closed()
  },
}

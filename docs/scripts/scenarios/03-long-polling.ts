// Transcripts of docs/03-long-polling.md: GET /longpoll/{channel}?after=N&timeout=S.
//
// A parked poll shows nothing on the wire, so nothing in a transcript proves it parked before
// a publish. Where the bytes would be the same either way (a cursor: the message is in the
// answer whether it came before or after the poll), that does not matter. Where it would not
// (no cursor), the request is written before the publisher even connects, and the server
// parks it in the turn that reads it; the short sleep only makes that margin wider.

import type { Connection, Transcript } from '../recorder.ts'
import type { Scenario } from '../transcripts.ts'

const HOST = 'Host: 127.0.0.1:8080\r\n'
/** Time for a request already written to be read and parked by the server. */
const PARK_MS = 100

function longpoll(c: Connection, query: string): void {
  c.send(`GET /longpoll/news${query} HTTP/1.1\r\n${HOST}\r\n`)
}

async function parked(t: Transcript): Promise<void> {
  await t.sleep(PARK_MS)
  t.note('parked: the server holds the request and sends nothing')
}

export const scenarios: Record<string, Scenario> = {
  /** The smallest exchange: the request waits on the server until a message comes. */
  'longpoll-wait': async (t) => {
    const c = await t.connect()
    longpoll(c, '?after=0&timeout=25')
    await parked(t)
    await t.publish('news', 'hello')
    await c.response()
    t.note(`this poll: ${c.bytesSent} bytes up, ${c.bytesReceived} bytes down`)
  },

  /** Nothing comes within the timeout (here 1 s): 204, no body; the client asks again. */
  'longpoll-timeout': async (t) => {
    const c = await t.connect()
    longpoll(c, '?after=0&timeout=1')
    await c.response()
    t.note(`one second later; an empty round: ${c.bytesSent} bytes up, ${c.bytesReceived} bytes down`)
  },

  /** The timeout is checked: whole seconds from 1 to 120, else 400 and the connection closes. */
  'longpoll-bad-timeout': async (t) => {
    for (const timeout of ['0', '121', '2.5']) {
      const c = await t.connect()
      longpoll(c, `?after=0&timeout=${timeout}`)
      await c.response()
      await c.closed()
    }
  },

  /** The client's loop: each poll carries the cursor, so what came between two polls is not lost. */
  'longpoll-loop': async (t) => {
    const c = await t.connect()
    longpoll(c, '?after=0&timeout=25')
    await parked(t)
    await t.publish('news', 'one')
    await c.response()
    t.note('between two polls: the client is handling "one", no poll is parked')
    await t.publish('news', 'two')
    await t.publish('news', 'three')
    longpoll(c, '?after=1&timeout=25')
    await c.response()
    t.note('answered at once, since something came after 1; the next poll parks')
    longpoll(c, '?after=3&timeout=25')
    await parked(t)
    await t.publish('news', 'four')
    await c.response()
  },

  /** The same loop without a cursor: a message published between two polls is lost. */
  'longpoll-no-cursor': async (t) => {
    const c = await t.connect()
    longpoll(c, '?timeout=25')
    await parked(t)
    await t.publish('news', 'one')
    await c.response()
    t.note('between two polls')
    await t.publish('news', 'two')
    longpoll(c, '?timeout=25')
    await parked(t)
    await t.publish('news', 'three')
    await c.response()
    t.note('"two" was never delivered: no poll was parked when it came, and no cursor asked for it')
  },

  /** A client that goes away while parked is forgotten; the message waits in the history. */
  'longpoll-disconnect': async (t) => {
    const c = await t.connect()
    const d = await t.connect()
    longpoll(c, '?after=0&timeout=25')
    await parked(t)
    t.note('the client closes its side (a tab closed, a fetch aborted)')
    c.end()
    await c.closed()
    await t.publish('news', 'hello')
    t.note('the client comes back, on a new connection, with the cursor it had')
    longpoll(d, '?after=0&timeout=25')
    await d.response()
  },

  /** Shutdown answers every parked poll with 204 and closes: the client polls again elsewhere. */
  'longpoll-shutdown': async (t) => {
    const c = await t.connect()
    longpoll(c, '?after=0&timeout=25')
    await parked(t)
    t.note('the server is told to stop (SIGTERM, Ctrl-C)')
    const stopped = t.shutdown()
    await c.response()
    await c.closed()
    await stopped
  },
}

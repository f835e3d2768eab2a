// Transcripts of docs/05-forever-iframe.md: GET /iframe/{channel}?callback=F.

import type { Connection } from '../recorder.ts'
import type { Scenario } from '../transcripts.ts'

const HOST = 'Host: 127.0.0.1:8080\r\n'

function iframe(c: Connection, query: string): void {
  c.send(`GET /iframe/news${query} HTTP/1.1\r\n${HOST}\r\n`)
}

export const scenarios: Record<string, Scenario> = {
  /** The smallest exchange: padding first, then one script per message. */
  'iframe-first': async (t) => {
    const c = await t.connect()
    iframe(c, '?after=0&callback=onMessage')
    await c.head()
    await c.chunk()
    t.note(`the head and the padding: ${c.bytesReceived} bytes before any message`)
    await t.publish('news', 'hello')
    const before = c.bytesReceived
    await c.chunk()
    t.note(`the message: ${c.bytesReceived - before} bytes on the wire, for 5 bytes of data`)
  },

  /** When nothing happens for heartbeatMs (here 300 ms), an empty HTML comment. */
  'iframe-heartbeat': {
    options: { heartbeatMs: 300 },
    run: async (t) => {
      const c = await t.connect()
      iframe(c, '?after=0')
      await c.head()
      await c.chunk()
      await c.chunk()
      t.note('300 ms of silence: a heartbeat')
    },
  },

  /** A callback that is not a JavaScript name is refused: it would be written into a script. */
  'iframe-bad-callback': async (t) => {
    for (const callback of ['alert(document.cookie)', '%3C/script%3E']) {
      const c = await t.connect()
      iframe(c, `?callback=${callback}`)
      await c.response()
      await c.closed()
    }
  },

  /** A hostile message: it cannot close the script, open a comment, or break the string. */
  'iframe-hostile': async (t) => {
    const c = await t.connect()
    iframe(c, '?after=0&callback=onMessage')
    await c.head()
    await c.chunk()
    await t.publish('news', '</script><script>alert(1)</script>', undefined, { shown: '"</script><script>alert(1)</script>"' })
    await c.chunk()
    await t.publish('news', '<!--<script>&amp;', undefined, { shown: '"<!--<script>&amp;"' })
    await c.chunk()
    await t.publish('news', 'line\u2028separator', undefined, { shown: '"line" U+2028 LINE SEPARATOR "separator"' })
    await c.chunk()
  },

  /** The client's byte budget: it closes the frame and opens a new one with its cursor; the padding again. */
  'iframe-reconnect': async (t) => {
    const c = await t.connect()
    const d = await t.connect()
    iframe(c, '?after=0&callback=onMessage')
    await c.head()
    await c.chunk()
    await t.publish('news', 'one')
    await c.chunk()
    t.note('the page has received its byte budget: it removes the iframe (the connection closes) and makes a new one')
    c.end()
    await c.closed()
    await t.publish('news', 'two')
    iframe(d, '?after=1&callback=onMessage')
    await d.head()
    await d.chunk()
    await d.chunk()
  },
}

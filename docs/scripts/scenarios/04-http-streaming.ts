// Transcripts of docs/04-http-streaming.md: GET /stream/{channel}, chunked NDJSON.

import type { Connection } from '../recorder.ts'
import type { Scenario } from '../transcripts.ts'

const HOST = 'Host: 127.0.0.1:8080\r\n'

function stream(c: Connection, query: string): void {
  c.send(`GET /stream/news${query} HTTP/1.1\r\n${HOST}\r\n`)
}

export const scenarios: Record<string, Scenario> = {
  /** The smallest exchange: one response that never ends, one chunk per message. */
  'stream-first': async (t) => {
    const c = await t.connect()
    stream(c, '?after=0')
    await c.head()
    await t.publish('news', 'hello')
    await c.chunk()
    const before = c.bytesReceived
    await t.publish('news', 'second message')
    await c.chunk()
    t.note(`the second message cost ${c.bytesReceived - before} bytes on the wire, for 14 bytes of data; nothing went up`)
  },

  /** When nothing happens for heartbeatMs (here 300 ms), an empty line, so that idle connections stay open. */
  'stream-heartbeat': {
    options: { heartbeatMs: 300 },
    run: async (t) => {
      const c = await t.connect()
      stream(c, '?after=0')
      await c.head()
      await c.chunk()
      t.note('300 ms of silence: a heartbeat')
      await t.publish('news', 'hello')
      await c.chunk()
      await c.chunk()
      t.note('300 ms after the message: the next heartbeat')
    },
  },

  /** A cursor older than the history (here 3 messages): the gap line first, then the oldest retained. */
  'stream-gap': {
    options: { historyMessages: 3 },
    run: async (t) => {
      for (const data of ['one', 'two', 'three', 'four', 'five']) await t.publish('news', data)
      const c = await t.connect()
      stream(c, '?after=1')
      await c.head()
      for (let i = 0; i < 4; i++) await c.chunk()
    },
  },

  /**
   * A slow client: it stops reading. One message bigger than the kernel's buffers can hold
   * (6 MiB; loopback takes at most 4 MiB of send buffer and the unread receive window) leaves
   * most of itself in the server's queue, so the next message finds more than maxBufferedBytes
   * (here 64 KiB) waiting: the client is cut off. That makes the cut come at the same message
   * on every run, whatever the machine's buffers do with the rest.
   */
  'stream-slow-client': {
    options: { maxBufferedBytes: 64 * 1024, maxBodyBytes: 8 * 1024 * 1024 },
    run: async (t) => {
      const c = await t.connect()
      const d = await t.connect()
      stream(c, '')
      await c.head()
      c.pause()
      t.note('the client stops reading')
      await t.publish('news', 'x'.repeat(6 * 1024 * 1024), undefined, { shown: '"xxx…" (6 MiB)' })
      await t.publish('news', 'two')
      t.note('more than 64 KiB still waits in the server for this client: it is cut off')
      await t.publish('news', 'three')
      c.resume()
      t.note('the client reads again: what was sent before the cut, then the end')
      await c.chunk()
      await c.chunk()
      await c.closed()
      t.note('it comes back with its cursor, 1')
      stream(d, '?after=1')
      await d.head()
      await d.chunk()
      await d.chunk()
    },
  },

  /** Shutdown: the last chunk ends the body cleanly, and the connection closes. */
  'stream-shutdown': async (t) => {
    const c = await t.connect()
    stream(c, '?after=0')
    await c.head()
    await t.publish('news', 'hello')
    await c.chunk()
    t.note('the server is told to stop (SIGTERM, Ctrl-C)')
    const stopped = t.shutdown()
    await c.chunk()
    await c.closed()
    await stopped
  },
}

// Transcripts of docs/06-sse.md: Server-Sent Events.

import { once } from 'node:events'
import { connect, createServer, type Socket } from 'node:net'
import { EventSource } from 'eventsource'
import type { Transcript } from '../recorder.ts'
import type { Scenario } from '../transcripts.ts'

const HOST = 'Host: 127.0.0.1:8080\r\n'
/** What a browser's EventSource sends with its request (the Fetch standard adds more: User-Agent, Accept-Language...). */
const EVENT_STREAM = 'Accept: text/event-stream\r\nCache-Control: no-cache\r\n'

function subscribe(path: string, fields = ''): string {
  return `GET ${path} HTTP/1.1\r\n${HOST}${EVENT_STREAM}${fields}\r\n`
}

export const scenarios: Record<string, Scenario> = {
  /** The smallest exchange: the head, retry:, one message, one named event; and what each cost. */
  'sse-smallest': async (t) => {
    const c = await t.connect()
    c.send(subscribe('/sse/news'))
    await c.head()
    await c.sseBlock()
    t.note(`the head and the retry: block (chunk framing included): ${c.bytesReceived} bytes, once per connection`)
    let before = c.bytesReceived
    await t.publish('news', 'hello')
    await c.sseBlock()
    t.note(`"hello" (5 bytes of data) took ${c.bytesReceived - before} bytes on the wire`)
    before = c.bytesReceived
    await t.publish('news', '{"price":101.5}', 'price')
    await c.sseBlock()
    t.note(`{"price":101.5} (15 bytes) with its event name took ${c.bytesReceived - before} bytes`)
  },

  /** A message with three kinds of line break: one data: line per line; what a WHATWG parser makes of it. */
  'sse-multiline': async (t) => {
    await t.publish('lines', 'one\ntwo\r\nthree\rfour')
    const c = await t.connect()
    c.send(subscribe('/sse/lines?after=0'))
    await c.head()
    await c.sseBlock()
    await c.sseBlock()
    const es = new EventSource(`http://127.0.0.1:${t.port}/sse/lines?after=0`)
    try {
      const [event] = (await once(es, 'message')) as [MessageEvent]
      t.note(`an EventSource (the eventsource package) receives event.data = ${JSON.stringify(event.data)}`)
    } finally {
      es.close()
    }
  },

  /** A comment line when the stream has been idle (heartbeatMs: 200 here; 15 s by default). */
  'sse-heartbeat': {
    options: { heartbeatMs: 200 },
    run: async (t) => {
      const c = await t.connect()
      c.send(subscribe('/sse/news'))
      await c.head()
      await c.sseBlock()
      t.note('200 ms of silence')
      await c.sseBlock()
      await t.publish('news', 'hello')
      await c.sseBlock()
      t.note('200 ms of silence again')
      await c.sseBlock()
    },
  },

  /** A reconnect: the same URL (after=0 still in it) with Last-Event-ID, which wins. */
  'sse-resume': async (t) => {
    await t.publish('news', 'one')
    await t.publish('news', 'two')
    const first = await t.connect()
    first.send(subscribe('/sse/news?after=0'))
    await first.head()
    await first.sseBlock()
    await first.sseBlock()
    await first.sseBlock()
    first.destroy()
    t.note('the connection is lost; a message is published meanwhile')
    await t.publish('news', 'three')
    const second = await t.connect()
    second.send(subscribe('/sse/news?after=0', 'Last-Event-ID: 2\r\n'))
    await second.head()
    await second.sseBlock()
    await second.sseBlock()
  },

  /** Resuming after history has moved on (historyMessages: 3): the gap event first. */
  'sse-gap': {
    options: { historyMessages: 3 },
    run: async (t) => {
      for (const data of ['one', 'two', 'three', 'four', 'five']) await t.publish('news', data)
      t.note('the channel keeps the last 3 messages: ids 3, 4 and 5')
      const c = await t.connect()
      c.send(subscribe('/sse/news', 'Last-Event-ID: 1\r\n'))
      await c.head()
      for (let block = 0; block < 5; block++) await c.sseBlock()
    },
  },

  /** A cursor that is not a message id, and a channel name that breaks the rules. */
  'sse-errors': async (t) => {
    const c = await t.connect()
    c.send(subscribe('/sse/news', 'Last-Event-ID: two\r\n'))
    await c.response()
    await c.closed()
    const d = await t.connect()
    d.send(subscribe('/sse/no%20spaces'))
    await d.response()
  },

  /** EventSource (the eventsource package, which follows the WHATWG processing model): readyState, reconnect, Last-Event-ID. */
  'sse-eventsource': {
    options: { sseRetryMs: 200 },
    run: async (t) => {
      const relay = await startRelay(t.port)
      const log = new EventLog()
      let requests = 0
      let gate: Promise<void> = Promise.resolve()
      let openGate = (): void => {}
      const es = new EventSource(`http://127.0.0.1:${relay.port}/sse/news`, {
        async fetch(input, init) {
          await gate
          const lastEventId = (init?.headers as Record<string, string> | undefined)?.['Last-Event-ID']
          t.note(`request ${++requests}: GET /sse/news, ${lastEventId === undefined ? 'no Last-Event-ID' : `Last-Event-ID: ${lastEventId}`}`)
          return fetch(input, init)
        },
      })
      try {
        t.note(`new EventSource(".../sse/news"): readyState ${state(es)}`)
        log.watch(es)
        await log.next('open', t)
        await t.publish('news', 'one')
        await log.next('message', t)
        await t.publish('news', 'two')
        await log.next('message', t)
        gate = new Promise((resolve) => (openGate = resolve))
        t.note('the TCP connection is cut in the middle (a relay between client and server drops it)')
        relay.cut()
        await log.next('error', t)
        await t.publish('news', 'three')
        t.note('retry: 200 ms later, the client connects again by itself')
        openGate()
        await log.next('open', t)
        await log.next('message', t)
        es.close()
        t.note(`es.close(): readyState ${state(es)}, and no more reconnects`)

        const bad = new EventSource(`http://127.0.0.1:${t.port}/sse/news?after=two`)
        t.note('new EventSource(".../sse/news?after=two"): the server answers 400')
        log.watch(bad)
        await log.next('error', t)
        bad.close()
      } finally {
        es.close()
        await relay.close()
      }
    },
  },

  /** CORS with the default policy: any origin may read, without credentials. */
  'sse-cors-any': async (t) => {
    const c = await t.connect()
    c.send(subscribe('/sse/news', 'Origin: http://localhost:8080\r\n'))
    await c.head()
  },

  /** CORS with an allowlist (--allow-origin http://localhost:8080): echoed with credentials; others get nothing; a preflight. */
  'sse-cors-allowlist': {
    options: { allowedOrigins: ['http://localhost:8080'] },
    run: async (t) => {
      const allowed = await t.connect()
      allowed.send(subscribe('/sse/news', 'Origin: http://localhost:8080\r\n'))
      await allowed.head()
      const other = await t.connect()
      other.send(subscribe('/sse/news', 'Origin: http://evil.example\r\n'))
      await other.head()
      t.note('no Access-Control-Allow-Origin: the browser keeps the response from the page and fires error')
      const preflight = await t.connect()
      preflight.send(
        `OPTIONS /sse/news HTTP/1.1\r\n${HOST}Origin: http://localhost:8080\r\nAccess-Control-Request-Method: GET\r\nAccess-Control-Request-Headers: last-event-id\r\n\r\n`,
      )
      await preflight.response()
    },
  },

  /** A client that stops reading is cut off once more than maxBufferedBytes (64 KiB here) wait for it. */
  'sse-slow-client': {
    options: { maxBufferedBytes: 64 * 1024 },
    run: async (t) => {
      const c = await t.connect()
      c.send(subscribe('/sse/news'))
      await c.head()
      await c.sseBlock()
      c.pause()
      const count = 64
      const data = 'x'.repeat(256 * 1024)
      t.note(`the client stops reading; ${count} messages of 256 KiB are published`)
      for (let i = 0; i < count; i++) await t.publish('news', data, undefined, { shown: null })
      c.resume()
      const received = await c.skipChunksUntilLast()
      if (received >= count) throw new Error(`the slow client received all ${received} messages: it was not cut off`)
      t.note('the client reads again: the events that were already in the buffers (fewer than 64), then')
      await c.chunk()
      await c.closed()
    },
  },

  /** Shutdown (SIGTERM, Ctrl-C): the response ends cleanly with the last chunk. */
  'sse-shutdown': async (t) => {
    const c = await t.connect()
    c.send(subscribe('/sse/news'))
    await c.head()
    await c.sseBlock()
    await t.publish('news', 'hello')
    await c.sseBlock()
    t.note('the server shuts down')
    const closing = t.shutdown()
    await c.chunk()
    await c.closed()
    await closing
  },
}


const STATES = ['0 (CONNECTING)', '1 (OPEN)', '2 (CLOSED)']

function state(es: EventSource): string {
  return STATES[es.readyState]
}

/** The events of EventSources, in order, as notes when a scenario takes them. */
class EventLog {
  private readonly events: string[] = []
  private waiter: (() => void) | null = null

  watch(es: EventSource): void {
    for (const type of ['open', 'message', 'error'] as const) {
      es.addEventListener(type, (event) => {
        let text = `${type}: readyState ${state(es)}`
        if (type === 'message') {
          const message = event as MessageEvent
          text = `message: data ${JSON.stringify(message.data)}, lastEventId ${JSON.stringify(message.lastEventId)}`
        }
        this.events.push(`${type}|${text}`)
        this.waiter?.()
      })
    }
  }

  /** Waits for the next event, which must be of this type, and notes it. */
  async next(type: string, t: Transcript): Promise<void> {
    const deadline = Date.now() + 5000
    while (this.events.length === 0) {
      if (Date.now() > deadline) throw new Error(`no ${type} event within 5 s`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100)
        this.waiter = () => {
          clearTimeout(timer)
          resolve()
        }
      })
    }
    const [got, text] = this.events.shift()!.split('|')
    if (got !== type) throw new Error(`expected a ${type} event, got ${text}`)
    t.note(text)
  }
}

/** A TCP relay in front of the server, whose connections can be cut as a network would cut them. */
async function startRelay(target: number): Promise<{ port: number; cut(): void; close(): Promise<void> }> {
  const open = new Set<Socket>()
  const relay = createServer((client) => {
    const server = connect(target, '127.0.0.1')
    for (const socket of [client, server]) {
      open.add(socket)
      socket.on('error', () => {})
      socket.on('close', () => {
        open.delete(socket)
        client.destroy()
        server.destroy()
      })
    }
    client.pipe(server)
    server.pipe(client)
  })
  relay.listen(0, '127.0.0.1')
  await once(relay, 'listening')
  const address = relay.address()
  if (address === null || typeof address === 'string') throw new Error('the relay has no port')
  return {
    port: address.port,
    cut() {
      for (const socket of open) socket.destroy()
    },
    async close() {
      for (const socket of open) socket.destroy()
      await new Promise<void>((resolve) => relay.close(() => resolve()))
    },
  }
}

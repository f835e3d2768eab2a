// Server-Sent Events with EventSource: the browser keeps one response open, parses the
// event stream, and reconnects by itself, sending the id it saw last as Last-Event-ID.
//
//   GET /sse/demo?after=8            ->  retry: 3000
//                                        id: 9
//                                        event: note          (only for a named event)
//                                        data: hello
//   ... connection lost, 3 s later the browser asks again:
//   GET /sse/demo?after=8
//   Last-Event-ID: 9                 ->  the server resumes after 9 (the header wins over after=)
//
// Done right:
// - Unnamed events reach onmessage ("message"); an event with a name reaches only the
//   listeners added for that name. A named event no one listens for is dropped silently
//   (yet its id still becomes lastEventId): this page counts such ids as missing.
// - The gap event: the server no longer keeps what we asked for, and says so first.
// - readyState: CONNECTING (0, also while the browser waits to reconnect), OPEN (1),
//   CLOSED (2). The browser gives up for good (CLOSED) on an answer that is not a 200
//   text/event-stream; then it is our turn to reconnect, with after= the newest id.

import { backoffDelay, chunkBytes, utf8Bytes } from '../demo.js'

const STATES = ['connecting', 'open', 'closed']

/** The bytes of one event as the server wrote it, framed as one chunk. */
function eventBytes(event) {
  let text = `id: ${event.lastEventId}\n`
  if (event.type !== 'message') text += `event: ${event.type}\n`
  for (const line of event.data.split('\n')) text += `data: ${line}\n`
  return chunkBytes(utf8Bytes(text + '\n'))
}

export function subscribeSse({ base = '', channel, tally, events = [], hiddenHeadBytes = 0 }) {
  let source = null
  let failures = 0
  let retryTimer = 0
  let closed = false

  const onEvent = (event) => {
    tally.countBytes(eventBytes(event))
    const envelope = { id: Number(event.lastEventId), data: event.data }
    if (event.type !== 'message') envelope.event = event.type
    tally.deliver(envelope)
  }

  function connect() {
    tally.countRequest()
    tally.setState('connecting')
    source = new EventSource(`${base}/sse/${channel}?after=${tally.lastId}`)
    tally.countBytes(hiddenHeadBytes)
    source.onopen = () => {
      failures = 0
      tally.setState('open', `readyState ${source.readyState} (OPEN)`)
    }
    source.onmessage = onEvent
    for (const name of events) source.addEventListener(name, onEvent)
    // The gap record carries no id: lastEventId keeps the id of the last real message. A
    // message someone published with the event name "gap" has an id and no "first".
    source.addEventListener('gap', (event) => {
      const record = parseGap(event.data)
      if (record === null) return onEvent(event)
      const anotherLife = record.first <= tally.lastId
      tally.gap(record.first)
      // The browser would reconnect with the old life's Last-Event-ID (the gap record has no
      // id: to replace it) and get the gap again: start a new EventSource from the new cursor.
      if (anotherLife) {
        source.close()
        connect()
      }
    })
    source.onerror = () => {
      if (closed) return
      if (source.readyState === EventSource.CONNECTING) {
        // The browser reconnects by itself, after retry: ms, with Last-Event-ID.
        tally.reconnects++
        tally.countRequest()
        tally.countBytes(hiddenHeadBytes)
        tally.setState('connecting', `readyState 0 (CONNECTING): the browser reconnects by itself with Last-Event-ID: ${tally.lastId}`)
        return
      }
      // CLOSED: the browser gave up. A new EventSource, from the newest id, after a backoff.
      source.close()
      const delay = backoffDelay(failures++)
      tally.reconnecting(`readyState 2 (CLOSED): the browser gave up`, delay)
      retryTimer = setTimeout(connect, delay)
    }
  }

  connect()
  return {
    get readyState() {
      return STATES[source.readyState]
    },
    close() {
      closed = true
      clearTimeout(retryTimer)
      source.close()
      tally.setState('closed')
    },
  }
}

function parseGap(data) {
  try {
    const record = JSON.parse(data)
    return typeof record.first === 'number' ? record : null
  } catch {
    return null
  }
}

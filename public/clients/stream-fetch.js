// HTTP streaming with fetch(): one response that never ends, read piece by piece from a
// ReadableStream. The server writes one JSON line per message (NDJSON), each in its own
// chunk, and an empty line as a heartbeat when idle:
//
//   GET /stream/demo?after=8   ->  200, Transfer-Encoding: chunked, application/x-ndjson
//                                  {"id":9,"data":"hello"}\n
//                                  \n                          (heartbeat, every 15 s of silence)
//
// Done right:
// - A read can end in the middle of a line (TCP does not know about lines): keep the
//   unfinished tail in a buffer until its newline comes. TextDecoderStream likewise keeps a
//   UTF-8 character split between two reads.
// - The stream can end (server restart) or fail (network): reconnect with after= the newest
//   id, with backoff.
// - Silence longer than a few heartbeats means the connection is dead even if no error came
//   (a proxy or a laptop lid): abort it and reconnect.

import { backoffDelay, chunkBytes, headBytes, utf8Bytes } from '../demo.js'

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

export function subscribeStream({ base = '', channel, tally, silenceMs = 45_000 }) {
  let closed = false
  let connection = null
  let lastHeard = Date.now()

  // Heartbeats reset the clock; a connection silent for too long is aborted.
  const watchdog = setInterval(() => {
    if (connection !== null && Date.now() - lastHeard > silenceMs) connection.abort(new Error(`silent for ${silenceMs} ms`))
  }, 1000)

  async function loop() {
    let failures = 0
    while (!closed) {
      connection = new AbortController()
      try {
        tally.setState('connecting')
        tally.countRequest()
        const response = await fetch(`${base}/stream/${channel}?after=${tally.lastId}`, { cache: 'no-store', signal: connection.signal })
        if (response.status !== 200) throw new Error(`GET /stream answered ${response.status}`)
        tally.countBytes(headBytes(response))
        tally.setState('open')
        lastHeard = Date.now()
        failures = 0
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
        let buffer = ''
        for (;;) {
          const { value, done } = await reader.read()
          if (done) break
          lastHeard = Date.now()
          buffer += value
          let newline
          while ((newline = buffer.indexOf('\n')) !== -1) {
            const line = buffer.slice(0, newline)
            buffer = buffer.slice(newline + 1)
            tally.countBytes(chunkBytes(utf8Bytes(line) + 1))
            if (line !== '') tally.deliver(JSON.parse(line)) // an empty line is a heartbeat
          }
        }
        throw new Error('the server ended the stream')
      } catch (error) {
        if (closed) break
        const delay = backoffDelay(failures++)
        tally.reconnecting(`stream ended (${error.message ?? error})`, delay)
        await sleep(delay)
      }
    }
  }

  loop()
  return {
    close() {
      closed = true
      clearInterval(watchdog)
      connection?.abort()
      tally.setState('closed')
    },
  }
}

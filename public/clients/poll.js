// Short polling: every few seconds, ask "anything after my cursor?" and get an answer at once.
//
//   GET /poll/demo?after=6            ->  200 {"messages":[{"id":7,...},{"id":8,...}],"last":8}
//   GET /poll/demo?after=8            ->  200 {"messages":[],"last":8}   ETag: "...8.8..."
//   GET /poll/demo?after=8
//   If-None-Match: "...8.8..."        ->  304, no body: nothing new
//
// Done right:
// - The cursor (after=) is what makes polling lose nothing: whatever was published between
//   two polls is in the next answer.
// - setInterval does not wait for a slow answer: a tick that finds the previous poll still
//   out is skipped, so polls never overlap or arrive out of order.
// - The server says Cache-Control: no-store, so the browser's HTTP cache keeps nothing and
//   never sends If-None-Match by itself. We keep the ETag and send it ourselves; the browser
//   then hands us the 304 as it is (a request with If-None-Match bypasses the cache).
// - After an error, wait (exponential backoff with jitter) before the next poll.

import { backoffDelay, headBytes, utf8Bytes } from '../demo.js'

export function subscribePoll({ base = '', channel, tally, everyMs = 1000 }) {
  let etag = null
  let inFlight = false
  let failures = 0
  let notBefore = 0
  tally.notModified = 0

  async function poll() {
    if (inFlight || Date.now() < notBefore) return
    inFlight = true
    try {
      tally.countRequest()
      const response = await fetch(`${base}/poll/${channel}?after=${tally.lastId}`, {
        cache: 'no-store',
        headers: etag === null ? {} : { 'If-None-Match': etag },
      })
      tally.countBytes(headBytes(response))
      if (response.status === 304) {
        tally.notModified++
      } else if (response.status === 200) {
        etag = response.headers.get('ETag')
        const text = await response.text()
        tally.countBytes(utf8Bytes(text))
        const answer = JSON.parse(text)
        if (answer.gap) tally.gap(answer.gap.first)
        for (const message of answer.messages) tally.deliver(message)
      } else {
        throw new Error(`GET /poll answered ${response.status}`)
      }
      failures = 0
      tally.setState('open')
    } catch (error) {
      const delay = backoffDelay(failures++)
      notBefore = Date.now() + delay
      tally.reconnecting(`poll failed (${error.message})`, delay)
    } finally {
      inFlight = false
    }
  }

  tally.setState('connecting')
  poll()
  const timer = setInterval(poll, everyMs)
  return {
    close() {
      clearInterval(timer)
      tally.setState('closed')
    },
  }
}

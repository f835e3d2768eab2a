// Long polling: ask "anything after my cursor?" and let the server hold the question until
// there is something (or the timeout passes), then ask again at once.
//
//   GET /longpoll/demo?after=8&timeout=25   ... the server waits ...
//                                           ->  200 {"messages":[{"id":9,...}],"last":9}
//   GET /longpoll/demo?after=9&timeout=25   ... 25 s of nothing ...  ->  204
//   GET /longpoll/demo?after=9&timeout=25   ...
//
// Done right: the next request carries the newest id we have, so a message published while
// no request was waiting (between two polls, or during an outage) comes in the next answer;
// after an error, back off (exponential, with jitter) instead of hammering the server.

import { backoffDelay, headBytes, utf8Bytes } from '../demo.js'

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

export function subscribeLongPoll({ base = '', channel, tally, timeoutSeconds = 25 }) {
  const controller = new AbortController()

  async function loop() {
    let failures = 0
    tally.setState('connecting')
    while (!controller.signal.aborted) {
      try {
        tally.countRequest()
        const request = fetch(`${base}/longpoll/${channel}?after=${tally.lastId}&timeout=${timeoutSeconds}`, {
          cache: 'no-store',
          signal: controller.signal,
        })
        tally.setState('open')
        const response = await request
        tally.countBytes(headBytes(response))
        if (response.status === 200) {
          const text = await response.text()
          tally.countBytes(utf8Bytes(text))
          const answer = JSON.parse(text)
          if (answer.gap) tally.gap(answer.gap.first)
          for (const message of answer.messages) tally.deliver(message)
        } else if (response.status !== 204) {
          throw new Error(`GET /longpoll answered ${response.status}`)
        }
        failures = 0
      } catch (error) {
        if (controller.signal.aborted) break
        const delay = backoffDelay(failures++)
        tally.reconnecting(`long poll failed (${error.message})`, delay)
        await sleep(delay)
      }
    }
  }

  loop()
  return {
    close() {
      controller.abort()
      tally.setState('closed')
    },
  }
}

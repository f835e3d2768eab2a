// compare.html in Chromium: all six transports subscribe to one channel at once, some from
// the second origin (localhost beside 127.0.0.1); messages from the page's publish box reach
// all six, in order, with a latency; after the server drops every connection of the channel,
// all six recover and lose or repeat nothing (the cross-origin EventSource reconnects by
// itself with Last-Event-ID; Chromium sends that header without a CORS preflight).

import * as assert from 'uvu/assert'
import { browserSuite, type WatchedPage } from '../helpers/browser.ts'
import { freshChannel, NETWORK_ERRORS, publishAll, range } from './demo-page.ts'

const TRANSPORTS = ['poll', 'longpoll', 'stream', 'iframe', 'sse', 'ws']

// Heartbeats every 200 ms and a short SSE retry: the page notices a dead iframe, and the
// browser reconnects its EventSource, within a second.
const test = browserSuite('browser: compare.html', { heartbeatMs: 200, sseRetryMs: 300 })

interface Row {
  state: string
  received: number[]
  duplicates: number
  missing: number
  reconnects: number
  latencies: number[]
  bytes: number
}

function rows(page: WatchedPage): Promise<Record<string, Row>> {
  return page.value(
    `Object.fromEntries(Object.entries(demo.transports).map(([key, t]) => [key, { state: t.state, received: [...t.received], duplicates: t.duplicates, missing: t.missing, reconnects: t.reconnects, latencies: [...t.latencies], bytes: t.bytes }]))`,
  )
}

const allReceived = (count: number) => `demo.transports.ws && Object.values(demo.transports).every((t) => t.received.length >= ${count})`

if (test) {
  test('all six receive what the publish box sends, in order, two of them from the second origin', async ({ server, browser }) => {
    const channel = freshChannel('compare')
    const page = await browser.open(`${server.origin}/compare.html?channel=${channel}&every=200`)
    try {
      await page.until(`demo.transports.ws && Object.values(demo.transports).every((t) => t.state === 'open')`, 'all six to be open')
      for (let i = 0; i < 3; i++) await page.page.click('#publish button')
      await page.until(allReceived(3), 'all six to receive three messages')
      const seen = await rows(page)
      for (const key of TRANSPORTS) {
        assert.equal(seen[key].received, [1, 2, 3], `${key} received ${JSON.stringify(seen[key].received)}`)
        assert.is(seen[key].duplicates, 0, key)
        assert.is(seen[key].missing, 0, key)
        assert.is(seen[key].latencies.length, 3, `${key} measured no latency`)
        assert.ok(seen[key].bytes > 0, `${key} counted no bytes`)
      }
      // The table shows it: a row per transport, three received each; some from localhost.
      await page.until(`document.querySelectorAll('#rows tr').length === 6 && [...document.querySelectorAll('#rows .received')].every((td) => td.textContent === '3')`, 'the table to show three received per transport')
      const origins = await page.value<string[]>(`[...document.querySelectorAll('#rows .origin')].map((td) => td.textContent)`)
      assert.ok(origins.some((o) => o.startsWith('localhost:')), `no transport on the second origin: ${origins}`)
      assert.ok(origins.some((o) => o.startsWith('127.0.0.1:')), `no transport on the page's origin: ${origins}`)
      await page.screenshot('compare')
      page.assertNoErrors()
    } finally {
      await page.close()
    }
  })

  test('after the server drops every connection of the channel, all six recover without loss or repeat', async (context) => {
    const { server, browser, connections } = context
    const channel = freshChannel('compare-drop')
    const page = await browser.open(`${server.origin}/compare.html?channel=${channel}&every=200&silence=1000`)
    try {
      await page.until(`demo.transports.ws && Object.values(demo.transports).every((t) => t.state === 'open')`, 'all six to be open')
      await publishAll(context, channel, ['one', 'two', 'three'])
      await page.until(allReceived(3), 'all six to receive three messages')
      let dropped = 0
      for (const route of ['/poll/', '/longpoll/', '/stream/', '/iframe/', '/sse/', '/ws/']) dropped += connections.drop(`${route}${channel}`)
      assert.ok(dropped >= 5, `only ${dropped} connections dropped`)
      await publishAll(context, channel, ['four (during the outage)', 'five (during the outage)'])
      await page.until(allReceived(5), 'all six to receive the messages of the outage')
      await publishAll(context, channel, ['six'])
      await page.until(allReceived(6), 'all six to receive the sixth message')
      const seen = await rows(page)
      for (const key of TRANSPORTS) {
        assert.equal(seen[key].received, range(1, 6), `${key} received ${JSON.stringify(seen[key].received)}`)
        assert.is(seen[key].duplicates, 0, key)
        assert.is(seen[key].missing, 0, key)
      }
      // Those that held a connection open noticed the drop (polls may be retried by the browser unseen).
      for (const key of ['stream', 'iframe', 'sse', 'ws']) assert.ok(seen[key].reconnects > 0, `${key} counted no reconnect`)
      await page.screenshot('compare-recovered')
      page.assertNoErrors(NETWORK_ERRORS)
    } finally {
      await page.close()
    }
  })

  test.run()
}

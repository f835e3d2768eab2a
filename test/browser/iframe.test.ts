// iframe.html in Chromium: the hidden frame's scripts call the page in order; when the server
// drops the frame's connection the page makes a new frame with after= the newest id; after a
// budget of bytes it replaces the frame, losing and repeating nothing.

import * as assert from 'uvu/assert'
import { browserSuite } from '../helpers/browser.ts'
import { account, deliversAndRecovers, freshChannel, openDemo, publishAll, range, receives, resumesAcrossLives } from './demo-page.ts'

// A heartbeat every 200 ms, so that the page can tell a dead frame within a second (?silence=1000).
const test = browserSuite('browser: iframe.html', { heartbeatMs: 200 })

if (test) {
  test('receives in order, and resumes after the server drops the frame', async (context) => {
    await deliversAndRecovers(context, { path: 'iframe.html?silence=1000', route: '/iframe/', name: 'iframe' })
  })

  test('a new frame after the byte budget, nothing lost or repeated', async (context) => {
    const channel = freshChannel('iframe-budget')
    const page = await openDemo(context, 'iframe.html?budget=300', channel)
    try {
      // Four bursts of five scripts of about 65 bytes: each passes the budget of 300.
      for (let burst = 0; burst < 4; burst++) {
        await publishAll(context, channel, range(1, 5).map((i) => `message number ${burst * 5 + i}`))
        await page.until(`demo.received.length >= ${burst * 5 + 5}`, `burst ${burst + 1}`)
      }
      await receives(page, range(1, 20))
      const seen = await account(page)
      assert.ok(seen.reconnects >= 3, `only ${seen.reconnects} renewals`)
      assert.is(seen.duplicates, 0)
      assert.is(seen.missing, 0)
      assert.is(await page.value('document.querySelectorAll("iframe").length'), 1)
      page.assertNoErrors()
    } finally {
      await page.close()
    }
  })

  test('a cursor from another life of the server (iframe.html?after=5 on a new channel): the gap resets it, ids 1 and 2 arrive', async (context) => {
    await resumesAcrossLives(context, 'iframe.html')
  })

  test.run()
}

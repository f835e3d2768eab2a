// stream.html in Chromium, both modes: fetch + ReadableStream, and XMLHttpRequest at
// readyState 3. Each receives in order and resumes with after= after the server drops the
// stream; the XHR mode also renews its request after a budget of characters, losing and
// repeating nothing.

import * as assert from 'uvu/assert'
import { browserSuite } from '../helpers/browser.ts'
import { account, deliversAndRecovers, freshChannel, openDemo, publishAll, range, receives, resumesAcrossLives } from './demo-page.ts'

const test = browserSuite('browser: stream.html')

if (test) {
  test('fetch + ReadableStream: receives in order, and resumes after the server drops it', async (context) => {
    await deliversAndRecovers(context, { path: 'stream.html?mode=fetch', route: '/stream/', name: 'stream-fetch' })
  })

  test('XMLHttpRequest: receives in order, and resumes after the server drops it', async (context) => {
    await deliversAndRecovers(context, { path: 'stream.html?mode=xhr', route: '/stream/', name: 'stream-xhr' })
  })

  test('XMLHttpRequest: a new request after the character budget, nothing lost or repeated', async (context) => {
    const channel = freshChannel('stream-budget')
    const page = await openDemo(context, 'stream.html?mode=xhr&budget=150', channel)
    try {
      // Four bursts of five lines of about 38 characters: each passes the budget of 150.
      for (let burst = 0; burst < 4; burst++) {
        await publishAll(context, channel, range(1, 5).map((i) => `message number ${String(burst * 5 + i).padStart(3, '0')}`))
        await page.until(`demo.received.length >= ${burst * 5 + 5}`, `burst ${burst + 1}`)
      }
      await receives(page, range(1, 20))
      const seen = await account(page)
      assert.ok(seen.reconnects >= 3, `only ${seen.reconnects} renewals`)
      assert.is(seen.duplicates, 0)
      assert.is(seen.missing, 0)
      page.assertNoErrors()
    } finally {
      await page.close()
    }
  })

  test('a cursor from another life of the server (stream.html?after=5 on a new channel): the gap resets it, ids 1 and 2 arrive', async (context) => {
    await resumesAcrossLives(context, 'stream.html')
  })

  test('a cursor from another life of the server (stream.html?mode=xhr?after=5 on a new channel): the gap resets it, ids 1 and 2 arrive', async (context) => {
    await resumesAcrossLives(context, 'stream.html?mode=xhr')
  })

  test.run()
}

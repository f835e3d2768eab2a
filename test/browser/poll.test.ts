// poll.html in Chromium: short polling with the cursor receives in order; while its polls
// fail (the requests are refused), it backs off, and what was published meanwhile comes in
// the first answer after, once; an unchanged answer comes back as 304 to the page's own
// If-None-Match.

import * as assert from 'uvu/assert'
import { browserSuite } from '../helpers/browser.ts'
import { account, deliversAndRecovers, freshChannel, openDemo, publishAll, range, receives, resumesAcrossLives } from './demo-page.ts'

const test = browserSuite('browser: poll.html', { historyMessages: 5 })

if (test) {
  test('receives in order, and loses nothing while its polls fail', async (context) => {
    await deliversAndRecovers(context, { path: 'poll.html?every=150', route: '/poll/', name: 'poll', outage: 'block' })
  })

  test('sends the ETag back itself and counts the 304s', async (context) => {
    const page = await openDemo(context, 'poll.html?every=100', freshChannel('poll-etag'))
    try {
      await page.until('demo.notModified >= 2', 'two 304 answers')
      assert.is((await account(page)).received.length, 0)
      page.assertNoErrors()
    } finally {
      await page.close()
    }
  })

  test('a cursor older than the history gets the gap record first', async (context) => {
    const channel = freshChannel('poll-gap')
    await publishAll(context, channel, range(1, 8).map(String))
    const page = await openDemo(context, 'poll.html?every=150&after=1', channel)
    try {
      await receives(page, range(4, 8))
      assert.equal((await account(page)).gaps, [4])
      page.assertNoErrors()
    } finally {
      await page.close()
    }
  })

  test('a cursor from another life of the server (poll.html?after=5 on a new channel): the gap resets it, ids 1 and 2 arrive', async (context) => {
    await resumesAcrossLives(context, 'poll.html')
  })

  test.run()
}

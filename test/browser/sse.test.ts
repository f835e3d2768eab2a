// sse.html in Chromium: EventSource receives in order; after the server drops the connection
// the browser reconnects by itself with Last-Event-ID and nothing is lost or repeated; named
// events reach their listeners (and an unheard name goes missing, as EventSource does); a
// resume from ids the channel no longer keeps shows the gap event.

import * as assert from 'uvu/assert'
import { browserSuite } from '../helpers/browser.ts'
import { account, deliversAndRecovers, freshChannel, openDemo, publishAll, range, receives, resumesAcrossLives } from './demo-page.ts'
import { published } from '../helpers/push.ts'

// A short retry: so that the browser's own reconnection comes quickly.
const test = browserSuite('browser: sse.html', { sseRetryMs: 300, historyMessages: 5 })

if (test) {
  test('receives in order, and resumes with Last-Event-ID after the server drops it', async (context) => {
    await deliversAndRecovers(context, { path: 'sse.html', route: '/sse/', name: 'sse' })
  })

  test('named events reach their listener; a name no one listens for goes missing', async (context) => {
    const channel = freshChannel('sse-named')
    const page = await openDemo(context, 'sse.html?events=note', channel)
    try {
      await published(context.server.port, channel, 'plain')
      await published(context.server.port, channel, 'named', { event: 'note' })
      await receives(page, [1, 2])
      assert.is(await page.value('demo.messages[1].event'), 'note')
      await published(context.server.port, channel, 'unheard', { event: 'other' })
      await published(context.server.port, channel, 'after it')
      await receives(page, [1, 2, 4])
      assert.is((await account(page)).missing, 1)
      page.assertNoErrors()
    } finally {
      await page.close()
    }
  })

  test('a resume from ids no longer kept (after=1, five kept of eight) shows the gap event first', async (context) => {
    const channel = freshChannel('sse-gap')
    await publishAll(context, channel, range(1, 8).map(String))
    const page = await openDemo(context, 'sse.html?after=1', channel)
    try {
      await receives(page, range(4, 8))
      const seen = await account(page)
      assert.equal(seen.gaps, [4])
      assert.is(seen.missing, 0)
      await page.screenshot('sse-gap')
      page.assertNoErrors()
    } finally {
      await page.close()
    }
  })

  test('a cursor from another life of the server (sse.html?after=5 on a new channel): the gap resets it, ids 1 and 2 arrive', async (context) => {
    await resumesAcrossLives(context, 'sse.html')
  })

  test.run()
}

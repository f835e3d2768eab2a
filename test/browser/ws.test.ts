// ws.html in Chromium: the WebSocket receives in order; after the server drops the TCP
// connection it reconnects with backoff and after= the newest id, losing and repeating
// nothing; a text frame it sends is published to the channel and comes back with its id; with
// the application heartbeat on, a connection that stops answering is called dead and replaced.

import * as assert from 'uvu/assert'
import { browserSuite } from '../helpers/browser.ts'
import { until } from '../helpers/wait.ts'
import { account, deliversAndRecovers, freshChannel, openDemo, publishAll, range, receives, resumesAcrossLives } from './demo-page.ts'

const test = browserSuite('browser: ws.html')

if (test) {
  test('receives in order, and resumes with after= after the server drops it', async (context) => {
    await deliversAndRecovers(context, { path: 'ws.html', route: '/ws/', name: 'ws' })
  })

  test('a message sent over the WebSocket is published and comes back with its id', async (context) => {
    const channel = freshChannel('ws-send')
    const page = await openDemo(context, 'ws.html', channel)
    try {
      await page.until('demo.state === "open"', 'the WebSocket to open')
      assert.ok(await page.value('demo.send("from the page")'))
      await receives(page, [1])
      assert.is(await page.value('demo.messages[0].data'), 'from the page')
      page.assertNoErrors()
    } finally {
      await page.close()
    }
  })

  test('heartbeat: a connection that stops answering is replaced, and nothing is lost', async (context) => {
    const channel = freshChannel('ws-heartbeat')
    const page = await openDemo(context, 'ws.html?heartbeat=400', channel)
    try {
      // The heartbeat goes out and comes back as a message of the channel.
      await page.until('demo.received.length >= 1', 'a heartbeat to come back')
      // The server stops reading this connection: heartbeats go unanswered, though TCP stays up.
      const prefix = `/ws/${channel}`
      const [socket] = context.connections.matching(prefix)
      assert.ok(socket !== undefined, 'the page holds a WebSocket')
      socket.pause()
      const before = (await account(page)).reconnects
      await page.until(`demo.reconnects > ${before} && demo.state === "open"`, 'the page to replace the silent connection')
      const [last] = await publishAll(context, channel, ['after the replacement'])
      await page.until(`demo.lastId >= ${last}`, 'the message after the replacement')
      const seen = await account(page)
      assert.equal(seen.received, range(1, seen.received.length))
      assert.is(seen.duplicates, 0)
      assert.is(seen.missing, 0)
      socket.destroy()
      page.assertNoErrors()
    } finally {
      await page.close()
    }
  })

  test('a cursor from another life of the server (ws.html?after=5 on a new channel): the gap resets it, ids 1 and 2 arrive', async (context) => {
    await resumesAcrossLives(context, 'ws.html')
  })

  test.run()
}

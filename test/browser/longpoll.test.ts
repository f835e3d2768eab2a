// longpoll.html in Chromium: the fetch loop receives in order; when the server drops the
// parked request it backs off, asks again with after= the newest id, and loses nothing.

import { browserSuite } from '../helpers/browser.ts'
import { deliversAndRecovers } from './demo-page.ts'

const test = browserSuite('browser: longpoll.html')

if (test) {
  test('receives in order, and resumes with after= after the server drops the parked poll', async (context) => {
    await deliversAndRecovers(context, { path: 'longpoll.html', route: '/longpoll/', name: 'longpoll' })
  })

  test.run()
}

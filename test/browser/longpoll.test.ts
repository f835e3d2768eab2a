// longpoll.html in Chromium: the fetch loop receives in order; when the server drops the
// parked request it backs off, asks again with after= the newest id, and loses nothing.

import { browserSuite } from '../helpers/browser.ts'
import { deliversAndRecovers, resumesAcrossLives } from './demo-page.ts'

const test = browserSuite('browser: longpoll.html')

if (test) {
  test('receives in order, and resumes with after= after the server drops the parked poll', async (context) => {
    await deliversAndRecovers(context, { path: 'longpoll.html', route: '/longpoll/', name: 'longpoll' })
  })

  test('a cursor from another life of the server (longpoll.html?after=5 on a new channel): the gap resets it, ids 1 and 2 arrive', async (context) => {
    await resumesAcrossLives(context, 'longpoll.html')
  })

  test.run()
}

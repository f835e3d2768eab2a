// npm run docs:screenshots
//
// The pictures of the demo pages that the course shows, taken from the real pages: the
// server in this process on a free port, Debian's Chromium (test/helpers/browser.ts), a few
// messages published to each page, and one PNG per page in docs/img/<page>.png, at a
// modest viewport so that the files stay small.

import { mkdirSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { defaultOptions } from '../../src/options.ts'
import { createPushServer } from '../../src/server.ts'
import { chromiumPresent, CHROMIUM_PATH, TestBrowser, type WatchedPage } from '../../test/helpers/browser.ts'

const IMG = fileURLToPath(new URL('../img/', import.meta.url))

interface Shot {
  /** docs/img/<name>.png */
  name: string
  /** The page and its query (the channel is added). */
  path: string
  /** What happens on the page before the picture. */
  act(page: WatchedPage, publish: (data: string, event?: string) => Promise<number>): Promise<void>
  /** The height of the picture (the width is the viewport's). */
  height?: number
}

const waitReceived = (page: WatchedPage, count: number) => page.until(`window.demo.received.length >= ${count}`, `${count} messages`)

/** Three messages from outside the page, as a learner would publish them with curl. */
async function three(page: WatchedPage, publish: (data: string, event?: string) => Promise<number>): Promise<void> {
  await publish('hello')
  await publish('a second message')
  await publish('{"temperature":21.5}')
  await waitReceived(page, 3)
}

const SHOTS: Shot[] = [
  { name: 'index', path: '', act: async () => {}, height: 760 },
  { name: 'poll', path: 'poll.html', act: three },
  { name: 'longpoll', path: 'longpoll.html', act: three },
  { name: 'stream', path: 'stream.html?mode=fetch', act: three },
  { name: 'iframe', path: 'iframe.html', act: three },
  {
    name: 'sse',
    path: 'sse.html',
    async act(page, publish) {
      await publish('hello')
      await publish('a named event', 'note')
      await publish('two\nlines')
      await waitReceived(page, 3)
    },
  },
  {
    name: 'ws',
    path: 'ws.html',
    async act(page, publish) {
      await page.until('window.demo.state === "open"', 'the WebSocket to open')
      await publish('hello')
      await page.value('window.demo.send("sent over the WebSocket")')
      await waitReceived(page, 2)
    },
  },
  {
    name: 'compare',
    path: 'compare.html',
    height: 640,
    async act(page) {
      await page.until(`window.demo.transports.ws && Object.values(window.demo.transports).every((t) => t.state === 'open')`, 'all six to be open')
      for (let i = 0; i < 6; i++) {
        await page.page.click('#publish button')
        await page.until(`Object.values(window.demo.transports).every((t) => t.received.length >= ${i + 1})`, `message ${i + 1} everywhere`)
        await new Promise((resolve) => setTimeout(resolve, 400))
      }
    },
  },
]

if (!chromiumPresent()) {
  console.error(`docs:screenshots needs Chromium: ${CHROMIUM_PATH} not found (apt-get install chromium)`)
  process.exit(1)
}

const server = createPushServer({ ...defaultOptions(), port: 0 })
const address: AddressInfo = await server.listener.listen(0, '127.0.0.1')
const origin = `http://127.0.0.1:${address.port}`
const browser = await TestBrowser.launch({ width: 1000, height: 700 })
mkdirSync(IMG, { recursive: true })

async function publisher(channel: string) {
  return async (data: string, event?: string): Promise<number> => {
    const query = event === undefined ? '' : `?event=${event}`
    const response = await fetch(`${origin}/publish/${channel}${query}`, { method: 'POST', body: data })
    if (!response.ok) throw new Error(`publishing answered ${response.status}`)
    return ((await response.json()) as { id: number }).id
  }
}

try {
  for (const shot of SHOTS) {
    const channel = 'demo'
    const separator = shot.path.includes('?') ? '&' : '?'
    const page = await browser.open(`${origin}/${shot.path}${shot.path ? `${separator}channel=${channel}` : ''}`)
    await page.page.setViewportSize({ width: 1000, height: shot.height ?? 700 })
    if (shot.path) await page.until('window.demo', 'the page to start')
    await shot.act(page, await publisher(channel))
    const path = `${IMG}${shot.name}.png`
    await page.page.screenshot({ path })
    page.assertNoErrors()
    await page.close()
    console.log(`docs/img/${shot.name}.png`)
  }
} finally {
  await browser.close()
  await server.listener.close(200)
}

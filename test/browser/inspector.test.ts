// inspector.html in Chromium: it connects to GET /trace, shows the traffic of other
// clients (an HTTP request, a WebSocket exchange from another tab) annotated, and its
// filters, pause and clear do what they say.

import * as assert from 'uvu/assert'
import { tracer } from '../../src/trace/tracer.ts'
import { browserSuite } from '../helpers/browser.ts'
import { request } from '../helpers/push.ts'
import { until } from '../helpers/wait.ts'

const test = browserSuite('browser: inspector.html')

/** The text of the shown events' annotated lines. */
const SHOWN_TEXT = `[...document.querySelectorAll('#events .event:not([hidden]) pre')].map((pre) => pre.textContent).join('\\n')`

if (test) {
  test('shows an HTTP exchange and the frames of a WebSocket in another tab, and filters, pauses and clears', async ({ server, browser }) => {
    const inspector = await browser.open(`${server.origin}/inspector.html`)
    await inspector.until(`window.inspector.state === 'open'`, 'the trace stream to open')
    await until(() => server.inspectors.count === 1, 'the server to count the inspector')

    // An HTTP request from elsewhere: its request head and response appear.
    await request(server.port, '/hello')
    await inspector.until(`${SHOWN_TEXT}.includes('GET /hello HTTP/1.1␍␊')`, 'the /hello request head')
    await inspector.until(`${SHOWN_TEXT}.includes('hello world  body, 11 bytes')`, 'the /hello body')

    // A WebSocket in another tab: the frames both ways, unmasked and explained.
    const other = await browser.open(`${server.origin}/`)
    await other.value(`new Promise((resolve, reject) => {
      const ws = new WebSocket('ws://' + location.host + '/echo')
      ws.onopen = () => ws.send('hello inspector')
      ws.onmessage = (event) => { window.echoed = event.data; ws.close(1000) }
      ws.onclose = () => resolve()
      ws.onerror = () => reject(new Error('the WebSocket failed'))
    })`)
    assert.is(await other.value('window.echoed'), 'hello inspector')
    // Chromium offers permessage-deflate and compresses what it sends: the trace shows the
    // frame as it crossed the wire, RSV1 set and the payload deflated (RFC 7692).
    await inspector.until(
      `[...document.querySelectorAll('.event[data-kind="frame"][data-dir="in"] pre')].some((pre) => pre.textContent.includes('opcode 0x1  text') && pre.textContent.includes('MASK   1  masked') && /payload \\(\\d+ bytes, unmasked(, compressed)?\\)/.test(pre.textContent))`,
      'the browser\'s masked text frame',
    )
    await inspector.until(
      `[...document.querySelectorAll('.event[data-kind="frame"][data-dir="out"] pre')].some((pre) => pre.textContent.includes('payload (15 bytes) "hello inspector"'))`,
      'the echoed frame',
    )
    await inspector.until(`${SHOWN_TEXT}.includes('close code 1000 (Normal Closure)')`, 'the close frames')
    await inspector.screenshot('inspector')
    // Its own stream is left out.
    assert.not.match(await inspector.value<string>(SHOWN_TEXT), 'GET /trace')

    // Filter by transport: without ws, no frame is shown; with it, they are back.
    await inspector.page.uncheck('#transports input[value="ws"]')
    assert.is(await inspector.value(`document.querySelectorAll('#events .event[data-transport="ws"]:not([hidden])').length`), 0)
    assert.ok((await inspector.value<number>(`document.querySelectorAll('#events .event[data-transport="http"]:not([hidden])').length`)) > 0)
    await inspector.page.check('#transports input[value="ws"]')

    // Filter by connection: click the ws connection's id; only its events are shown.
    const wsConn = await inspector.value<string>(`document.querySelector('.event[data-transport="ws"]').dataset.conn`)
    await inspector.page.click(`.event[data-conn="${wsConn}"] header .conn`)
    const conns = await inspector.value<string[]>(`[...document.querySelectorAll('#events .event:not([hidden])')].map((e) => e.dataset.conn)`)
    assert.ok(conns.length >= 4 && conns.every((conn) => conn === wsConn), JSON.stringify(conns))
    await inspector.page.click('#allConns')

    // Pause: new events are held, not shown, until resumed.
    const before = await inspector.value<number>('window.inspector.shown.length')
    await inspector.page.click('#pause')
    await request(server.port, '/hello?paused')
    await inspector.until('window.inspector.held >= 3', 'events held while paused')
    assert.is(await inspector.value('window.inspector.shown.length'), before)
    await inspector.page.click('#pause')
    await inspector.until(`${SHOWN_TEXT}.includes('GET /hello?paused HTTP/1.1␍␊')`, 'the held events after resuming')

    // Clear.
    await inspector.page.click('#clear')
    assert.is(await inspector.value(`document.querySelectorAll('#events .event').length`), 0)

    inspector.assertNoErrors()
    other.assertNoErrors()
    await other.close()
    await inspector.close()
    await until(() => server.inspectors.count === 0 && !tracer.on, 'tracing to stop when the page closes')
  })

  test.run()
}

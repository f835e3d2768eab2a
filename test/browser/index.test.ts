// index.html in Chromium: it loads without errors, links to every demo page, the compare page
// and the inspector, and every link of its own leads somewhere that answers 200.

import * as assert from 'uvu/assert'
import { browserSuite } from '../helpers/browser.ts'

const test = browserSuite('browser: index.html')

const PAGES = ['poll.html', 'longpoll.html', 'stream.html', 'iframe.html', 'sse.html', 'ws.html', 'compare.html', 'inspector.html']

if (test) {
  test('the index links to every page, and every page it links to loads', async ({ server, browser }) => {
    const page = await browser.open(`${server.origin}/`)
    try {
      assert.match(await page.page.title(), /push-wire/)
      const links = await page.value<string[]>(`[...document.querySelectorAll('a[href]')].map((a) => a.href).filter((href) => href.startsWith(location.origin))`)
      for (const name of PAGES) assert.ok(links.includes(`${server.origin}/${name}`), `no link to ${name}`)
      for (const link of new Set(links)) {
        const response = await fetch(link)
        assert.is(response.status, 200, `${link} answered ${response.status}`)
      }
      await page.screenshot('index')
      page.assertNoErrors()
    } finally {
      await page.close()
    }
  })

  test.run()
}

// index.html in Chromium: it loads without errors and links to every demo page.

import * as assert from 'uvu/assert'
import { browserSuite } from '../helpers/browser.ts'

const test = browserSuite('browser: index.html')

if (test) {
  test('the index loads without errors', async ({ server, browser }) => {
    const page = await browser.open(`${server.origin}/`)
    assert.match(await page.page.title(), /push-wire/)
    await page.screenshot('index')
    page.assertNoErrors()
    await page.close()
  })

  test.run()
}

// What the browser suites of the demo pages share: open a page on a channel of its own,
// publish from the test, read the page's account (window.demo), and the check every page
// must pass: messages arrive in order; the server drops the page's connection; what is
// published during the outage arrives after the reconnect; nothing is lost or repeated.

import * as assert from 'uvu/assert'
import type { BrowserSuiteContext, WatchedPage } from '../helpers/browser.ts'
import { published } from '../helpers/push.ts'
import { delay, until, WAIT_MS } from '../helpers/wait.ts'

/** What a page exposes as window.demo (public/demo.js, Tally). */
export interface DemoAccount {
  state: string
  lastId: number
  received: number[]
  duplicates: number
  missing: number
  gaps: number[]
  reconnects: number
  requests: number
  bytes: number
}

/** Errors a page logs when the test drops its connection on purpose, or blocks its requests. */
export const NETWORK_ERRORS = [/net::ERR_(INCOMPLETE_CHUNKED_ENCODING|CONNECTION_RESET|CONNECTION_CLOSED|EMPTY_RESPONSE|FAILED|CONNECTION_REFUSED)/]

let channels = 0

/** A channel name no other test of this process uses. */
export function freshChannel(prefix: string): string {
  return `${prefix}-${++channels}`
}

/** Opens `path` (e.g. "sse.html?x=1") on `channel`; waits until the page has started its transport. */
export async function openDemo(context: BrowserSuiteContext, path: string, channel: string): Promise<WatchedPage> {
  const separator = path.includes('?') ? '&' : '?'
  const page = await context.browser.open(`${context.server.origin}/${path}${separator}channel=${channel}`)
  await page.until('window.demo && window.demo.requests > 0', 'the page to start its transport')
  return page
}

export function account(page: WatchedPage): Promise<DemoAccount> {
  return page.value<DemoAccount>(
    '({ state: demo.state, lastId: demo.lastId, received: [...demo.received], duplicates: demo.duplicates, missing: demo.missing, gaps: [...demo.gaps], reconnects: demo.reconnects, requests: demo.requests, bytes: demo.bytes })',
  )
}

/** Publishes `texts` one after another from the test (POST /publish); returns their ids. */
export async function publishAll(context: BrowserSuiteContext, channel: string, texts: string[]): Promise<number[]> {
  const ids: number[] = []
  for (const text of texts) ids.push(await published(context.server.port, channel, text))
  return ids
}

/** 1..n */
export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i)
}

/** Waits until the page has received exactly the ids `ids`, in order. */
export async function receives(page: WatchedPage, ids: number[], what = `ids ${ids.join(',')}`): Promise<void> {
  await page.until(`demo.received.length >= ${ids.length}`, what)
  const seen = await account(page)
  assert.equal(seen.received, ids, `the page received ${JSON.stringify(seen.received)}`)
}

/**
 * Destroys the page's connections to `prefix` until the page notices. Once is not always
 * enough: Chromium retries a request by itself, unseen by the page, when a reused keep-alive
 * connection closes before any byte of the answer (a parked long poll, say); the retry goes
 * out on a new connection, and dropping that one too reaches the page.
 */
async function dropUntilNoticed(context: BrowserSuiteContext, page: WatchedPage, prefix: string, reconnectsBefore: number): Promise<void> {
  let dropped = 0
  const deadline = Date.now() + WAIT_MS
  while ((await account(page)).reconnects <= reconnectsBefore) {
    if (Date.now() > deadline) throw new Error(`the page did not notice ${dropped} dropped connection(s) to ${prefix}`)
    dropped += context.connections.drop(prefix)
    await delay(20)
  }
  assert.ok(dropped > 0, `no open connection to ${prefix} to drop`)
}

export interface RecoveryCheck {
  /** The page and its query, e.g. "stream.html?mode=xhr". */
  path: string
  /** The route prefix of the page's connections, e.g. "/sse/"; the channel is appended. */
  route: string
  /** A name for the channel and the screenshot. */
  name: string
  /**
   * How the outage is made. "drop" (the default): the server destroys the page's open
   * connections. "block": the page's requests to the route fail for a while (a page that
   * holds no connection open, as a short poll between two polls, has nothing to drop).
   */
  outage?: 'drop' | 'block'
}

/**
 * The check every demo page passes: three messages in order; the outage; two messages
 * published during it; the reconnect; one more after it; ids 1..6 exactly once, in order.
 */
export async function deliversAndRecovers(context: BrowserSuiteContext, check: RecoveryCheck): Promise<DemoAccount> {
  const channel = freshChannel(check.name)
  const page = await openDemo(context, check.path, channel)
  try {
    await publishAll(context, channel, ['one', 'two', 'three'])
    await receives(page, [1, 2, 3])
    const before = await account(page)

    const prefix = `${check.route}${channel}`
    if (check.outage === 'block') {
      await page.page.route(`**${prefix}*`, (route) => route.abort('connectionreset'))
      await page.until(`demo.reconnects > ${before.reconnects}`, 'the page to notice the failure')
      await publishAll(context, channel, ['four (during the outage)', 'five (during the outage)'])
      await page.page.unroute(`**${prefix}*`)
    } else {
      await until(() => context.connections.matching(prefix).length > 0, `the page to hold a connection to ${prefix}`)
      await dropUntilNoticed(context, page, prefix, before.reconnects)
      await publishAll(context, channel, ['four (during the outage)', 'five (during the outage)'])
    }
    await receives(page, range(1, 5), 'the messages of the outage, after the reconnect')
    await publishAll(context, channel, ['six'])
    await receives(page, range(1, 6))

    const after = await account(page)
    assert.ok(after.reconnects > before.reconnects, `the page counted no reconnect (${after.reconnects})`)
    assert.is(after.duplicates, 0, 'duplicates dropped')
    assert.is(after.missing, 0, 'ids missing')
    assert.equal(after.gaps, [])
    await page.screenshot(`${check.name}-recovered`)
    if (process.env.SHOW_PAGE_ERRORS) console.log(check.name, page.errors)
    page.assertNoErrors(NETWORK_ERRORS)
    return after
  } finally {
    await page.close()
  }
}

/**
 * A cursor from another life of the server (after=5 on a channel with no message yet, as
 * after a restart): the gap record comes first, with first = 1, and the page must take it as
 * its new cursor: the new life's ids 1 and 2 arrive and are not dropped as repeats, and the
 * page does not ask again and again for what it cannot have.
 */
export async function resumesAcrossLives(context: BrowserSuiteContext, path: string): Promise<void> {
  const channel = freshChannel('another-life')
  const page = await openDemo(context, `${path}${path.includes('?') ? '&' : '?'}after=5`, channel)
  try {
    await page.until('demo.gaps.length >= 1', 'the gap record')
    await publishAll(context, channel, ['one', 'two'])
    await receives(page, [1, 2])
    const seen = await account(page)
    assert.is(seen.gaps[0], 1)
    assert.is(seen.duplicates, 0, 'no message of the new life was dropped as a repeat')
    assert.ok(seen.requests <= 10, `the page made ${seen.requests} requests for two messages`)
    page.assertNoErrors(NETWORK_ERRORS)
  } finally {
    await page.close()
  }
}

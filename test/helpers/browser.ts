// The demo pages in a real browser: Debian's Chromium driven by playwright-core, against the
// real server in this process on an ephemeral port. One browser per suite, with a fresh
// profile in a temporary folder; each page's console errors and uncaught exceptions are
// collected, and a test fails on them; screenshots go to .scratch/screenshots/ (untracked).
//
//   const test = browserSuite('demo: sse.html')
//   if (test) {
//     test('it receives', async ({ server, browser }) => {
//       const page = await browser.open(`${server.origin}/sse.html`)
//       ...
//       await page.screenshot('sse')
//       page.assertNoErrors()
//     })
//     test.run()
//   }
//
// Where Chromium is absent, browserSuite() prints one line and returns null: the suite
// registers no tests, so nothing fails for want of a browser.

import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import type { Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type BrowserContext, type ConsoleMessage, type Page } from 'playwright-core'
import { suite, type Test } from 'uvu'
import type { ServerOptions } from '../../src/options.ts'
import { startServer, type RunningServer } from './server.ts'
import { within } from './wait.ts'

/** Debian's Chromium (apt-get install chromium); CHROMIUM_PATH overrides it. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/** Where tests put their screenshots: the repository's .scratch/ folder, which git ignores. */
export const SCREENSHOT_DIR = fileURLToPath(new URL('../../.scratch/screenshots/', import.meta.url))

const LAUNCH_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
]

/** Whether the browser these tests drive is installed. */
export function chromiumPresent(): boolean {
  return existsSync(CHROMIUM_PATH)
}

let skipNoticePrinted = false

/** Prints, once per process, the one line that says the browser tests are skipped. */
function printSkipNotice(): void {
  if (skipNoticePrinted) return
  skipNoticePrinted = true
  console.log(`browser tests skipped: ${CHROMIUM_PATH} not found (apt-get install chromium)`)
}

/** A console message or an uncaught exception of a page. */
export interface PageError {
  kind: 'console' | 'pageerror'
  text: string
}

/** A page of the browser with its errors collected. */
export class WatchedPage {
  readonly errors: PageError[] = []

  constructor(readonly page: Page) {
    page.on('console', (message: ConsoleMessage) => {
      if (message.type() !== 'error') return
      const url = message.location().url
      // The browser asks every origin for /favicon.ico on its own; that is no error of a page.
      if (url.endsWith('/favicon.ico')) return
      this.errors.push({ kind: 'console', text: url ? `${message.text()} (${url})` : message.text() })
    })
    page.on('pageerror', (error: Error) => this.errors.push({ kind: 'pageerror', text: String(error.stack ?? error) }))
  }

  /**
   * Fails when the page logged an error or threw. `allowed` names the errors a test causes
   * on purpose (a connection the server dropped shows up as net::ERR_... in the console).
   */
  assertNoErrors(allowed: RegExp[] = []): void {
    const unexpected = this.errors.filter((error) => !allowed.some((pattern) => pattern.test(error.text)))
    if (unexpected.length > 0) {
      throw new Error(`the page logged ${unexpected.length} error(s):\n${unexpected.map((e) => `  ${e.kind}: ${e.text}`).join('\n')}`)
    }
  }

  /** Evaluates `expression` in the page. */
  value<T>(expression: string): Promise<T> {
    return this.page.evaluate(expression) as Promise<T>
  }

  /** Waits until `expression` is truthy in the page; fails naming `what` after `ms`. */
  async until(expression: string, what: string, ms = 10_000): Promise<void> {
    try {
      await this.page.waitForFunction(expression, undefined, { timeout: ms, polling: 20 })
    } catch (error) {
      throw new Error(`timed out after ${ms} ms waiting for ${what} (${expression})${this.errors.length ? `; page errors: ${JSON.stringify(this.errors)}` : ''}`, { cause: error })
    }
  }

  /** Saves a screenshot as .scratch/screenshots/NAME.png; returns its path. */
  async screenshot(name: string, fullPage = true): Promise<string> {
    mkdirSync(SCREENSHOT_DIR, { recursive: true })
    const path = join(SCREENSHOT_DIR, `${name}.png`)
    await this.page.screenshot({ path, fullPage })
    return path
  }

  close(): Promise<void> {
    return this.page.close()
  }
}

/** One Chromium with a profile of its own, removed when it closes. */
export class TestBrowser {
  private constructor(
    readonly context: BrowserContext,
    private readonly profileDir: string,
  ) {}

  static async launch(viewport = { width: 1100, height: 800 }): Promise<TestBrowser> {
    const profileDir = mkdtempSync(join(tmpdir(), 'push-wire-chromium-'))
    try {
      const context = await chromium.launchPersistentContext(profileDir, {
        executablePath: CHROMIUM_PATH,
        headless: true,
        args: LAUNCH_ARGS,
        viewport,
      })
      return new TestBrowser(context, profileDir)
    } catch (error) {
      rmSync(profileDir, { recursive: true, force: true })
      throw error
    }
  }

  /** A new tab with its errors watched, at `url` when given (waits for the load event). */
  async open(url?: string): Promise<WatchedPage> {
    const page = new WatchedPage(await this.context.newPage())
    if (url !== undefined) await page.page.goto(url)
    return page
  }

  async close(): Promise<void> {
    try {
      await within(this.context.close(), 'Chromium to close', 15_000)
    } finally {
      rmSync(this.profileDir, { recursive: true, force: true })
    }
  }
}

/**
 * The server's side of each TCP connection, with the request target it carried last, so a
 * test can drop the connections of one transport as a network failure would.
 */
export class ServerConnections {
  private readonly lastTarget = new Map<Socket, string>()

  constructor(server: RunningServer) {
    server.listener.server.on('connection', (socket: Socket) => {
      this.lastTarget.set(socket, '')
      // Watching only: the server reads the socket as before. A request starts a read of its
      // own in practice (browsers send one request and wait), which is all a test needs.
      socket.on('data', (chunk: Buffer) => {
        const match = /^[A-Z]+ (\S+) HTTP\/1\.[01]\r\n/.exec(chunk.subarray(0, 2048).toString('latin1'))
        if (match) this.lastTarget.set(socket, match[1])
      })
      socket.once('close', () => this.lastTarget.delete(socket))
    })
  }

  /** The open connections whose last request target starts with `prefix` (all of them for ''). */
  matching(prefix: string): Socket[] {
    return [...this.lastTarget].filter(([, target]) => target.startsWith(prefix)).map(([socket]) => socket)
  }

  /** Destroys the open connections whose last request target starts with `prefix`; returns how many. */
  drop(prefix: string): number {
    const sockets = this.matching(prefix)
    for (const socket of sockets) socket.destroy()
    return sockets.length
  }
}

/** What each test of a browser suite receives. */
export interface BrowserSuiteContext {
  server: RunningServer
  connections: ServerConnections
  browser: TestBrowser
}

/**
 * A uvu suite whose tests share one server (startServer, port 0, with `overrides`) and one
 * Chromium, both closed after the last test; null, after a one-line notice, without Chromium.
 */
export function browserSuite(name: string, overrides: Partial<ServerOptions> = {}): Test<BrowserSuiteContext> | null {
  if (!chromiumPresent()) {
    printSkipNotice()
    return null
  }
  const test = suite<BrowserSuiteContext>(name, {} as BrowserSuiteContext)
  test.before(async (context) => {
    context.server = await startServer(overrides)
    context.connections = new ServerConnections(context.server)
    context.browser = await TestBrowser.launch()
  })
  test.after(async (context) => {
    await context.browser?.close()
    await context.server?.close()
  })
  return test
}

// The forever frame: scriptSafeJson, and the HTML the /iframe route writes, taken from the
// route itself (driven with a fake request, response and Streams) and run the way a
// browser would: each <script> body cut where an HTML parser ends it, then run in node:vm
// with a `parent` whose callback records what it is called with.

import { runInNewContext } from 'node:vm'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { iframeRoute, scriptSafeJson } from '../../src/comet/iframe.ts'
import type { StreamOutlet, Streams, TextFeed } from '../../src/comet/streaming.ts'
import type { IncomingRequest } from '../../src/http/request.ts'
import type { Response } from '../../src/http/response.ts'
import { Hub, type Message } from '../../src/hub/hub.ts'

// --- Driving the route without a socket -------------------------------------------------

interface Frame {
  /** Every byte the route wrote to the response, unframed (the HTTP/1.0 feed). */
  readonly bytes: () => Buffer
  readonly html: () => string
  readonly heartbeat: string
  readonly headers: Map<string, string>
}

/** Runs GET /iframe/{channel}?query against `hub`; what the response receives is recorded. */
function openFrame(hub: Hub, channel: string, query: string): Frame {
  const writes: Buffer[] = []
  const headers = new Map<string, string>()
  let heartbeat = ''
  const req = {
    method: 'GET',
    params: { channel },
    query: new URLSearchParams(query),
    header: () => undefined,
  } as unknown as IncomingRequest
  const res = {
    status: 0,
    chunked: false,
    setHeader: (name: string, value: string) => headers.set(name.toLowerCase(), value),
    appendHeader: (name: string, value: string) => headers.set(name.toLowerCase(), value),
    flushHeaders: () => {},
    end: () => {},
  } as unknown as Response
  const streams = {
    start(_res: Response, feeds: { chunked: TextFeed; raw: TextFeed }, beat: string): StreamOutlet {
      heartbeat = beat
      const feed = feeds.raw
      const outlet = {
        feed,
        subscription: null,
        queuedBytes: 0,
        write: (wire: Buffer) => (writes.push(wire), true),
        writeText: (text: string) => (writes.push(feed.frame(text)), true),
        drained: () => Promise.resolve(),
        cutOff: () => {},
      }
      return outlet as unknown as StreamOutlet
    },
  } as unknown as Streams
  void iframeRoute(hub, streams, { allowedOrigins: [] })(req, res)
  const bytes = () => Buffer.concat(writes)
  return { bytes, html: () => bytes().toString('utf8'), heartbeat, headers }
}

/**
 * The bodies of the script elements, cut as the HTML tokenizer cuts them: script data ends
 * at the first "</script" followed by whitespace, "/" or ">", in any case.
 */
function scriptBodies(html: string): string[] {
  const bodies: string[] = []
  const open = /<script>/gi
  let match: RegExpExecArray | null
  while ((match = open.exec(html)) !== null) {
    const rest = html.slice(match.index + match[0].length)
    const end = /<\/script[\t\n\f\r />]/i.exec(rest)
    assert.ok(end !== null, 'every script element is closed')
    bodies.push(rest.slice(0, end.index))
    open.lastIndex = match.index + match[0].length + end.index
  }
  return bodies
}

/** Runs each script with a `parent` holding the callback; returns the arguments of each call. */
function runScripts(bodies: string[], callback = 'push'): unknown[] {
  const calls: unknown[] = []
  const record = (...args: unknown[]) => {
    assert.is(args.length, 1, 'one argument')
    // Across a vm context, objects have the other realm's prototypes: compare as plain JSON data.
    calls.push(JSON.parse(JSON.stringify(args[0])))
  }
  const parent: Record<string, unknown> = {}
  const path = callback.split('.')
  let holder = parent
  for (const name of path.slice(0, -1)) holder = holder[name] = {} as Record<string, unknown>
  holder[path[path.length - 1]] = record
  for (const body of bodies) runInNewContext(body, { parent })
  return calls
}

/** The envelope of a message as a plain object. */
function envelopeOf(message: Message): unknown {
  return JSON.parse(message.envelope)
}

// --- scriptSafeJson ---------------------------------------------------------------------

const safe = suite('scriptSafeJson')

safe('escapes < > & U+2028 and U+2029 as \\u escapes', () => {
  assert.is(scriptSafeJson('"<a>&b\u2028c\u2029"'), String.raw`"\u003ca\u003e\u0026b\u2028c\u2029"`)
  assert.is(scriptSafeJson('{"id":1,"data":"</script>"}'), String.raw`{"id":1,"data":"\u003c/script\u003e"}`)
})

safe('leaves other JSON untouched', () => {
  const json = String.raw`{"id":12,"data":"plain \"quoted\" \\ back\nslash é 😀 \u0000","event":"e.v-1"}`
  assert.is(scriptSafeJson(json), json)
})

const HOSTILE = [
  '</script><script>alert(1)</script>',
  '</SCRIPT >',
  '</script/x>',
  '<!--',
  '-->',
  '<!-- <script> </script> -->',
  '<![CDATA[ x ]]>',
  '\u2028',
  '\u2029',
  'a\u2028b\u2029c',
  '"quotes" and \'single\'',
  'back\\slash\\\\ and \\u003c',
  '& &amp; &lt;',
  'line\nbreaks\r\nand\ttabs\u0000',
  'lone \ud800 surrogates \udfff',
  'emoji 😀',
  '',
]

safe('gives JSON that parses to the same value, with none of the escaped characters left', () => {
  for (const data of HOSTILE) {
    const value = { id: 1, data, event: data, [data]: [data] }
    const json = JSON.stringify(value)
    const escaped = scriptSafeJson(json)
    assert.not.ok(/[<>&\u2028\u2029]/.test(escaped), JSON.stringify(data))
    assert.equal(JSON.parse(escaped), value, JSON.stringify(data))
  }
})

safe.run()

// --- The iframe format ------------------------------------------------------------------

const frame = suite('/iframe: the forever frame')

frame('starts with at least 1 KiB of HTML before the first script, and writes a comment as heartbeat', () => {
  const hub = new Hub()
  hub.channel('c').publish('x')
  const page = openFrame(hub, 'c', 'after=0')
  const html = page.html()
  const first = html.indexOf('<script>')
  assert.ok(first >= 1024, `${first} bytes before the first script`)
  assert.ok(html.startsWith('<!doctype html>'))
  assert.is(page.headers.get('content-type'), 'text/html; charset=utf-8')
  assert.is(page.heartbeat, '<!-- -->\n')
})

frame('writes one script per message that calls parent.push once with the envelope', () => {
  const hub = new Hub()
  const channel = hub.channel('c')
  const one = channel.publish('hello')
  const two = channel.publish('world', 'greeting')
  const page = openFrame(hub, 'c', 'after=0')
  const html = page.html()
  assert.ok(html.endsWith('<script>parent.push({"id":1,"data":"hello"})</script>\n<script>parent.push({"id":2,"data":"world","event":"greeting"})</script>\n'))
  assert.equal(runScripts(scriptBodies(html)), [envelopeOf(one), envelopeOf(two)])
})

for (const data of HOSTILE) {
  frame(`delivers ${JSON.stringify(data)} intact, in a script no message can break out of`, () => {
    const hub = new Hub()
    const channel = hub.channel('c')
    const page = openFrame(hub, 'c', '')
    const message = channel.publish(data, 'ev')
    const html = page.html()
    const start = html.lastIndexOf('<script>')
    const body = html.slice(start + '<script>'.length, html.lastIndexOf('</script>'))
    assert.not.ok(/<\/script/i.test(body), 'no </script in the script body')
    assert.not.ok(body.includes('<!--'), 'no <!-- in the script body')
    assert.not.ok(/[<>\u2028\u2029]/.test(body), 'no < > U+2028 U+2029 in the script body')
    // The bytes a browser gets, cut as its HTML parser cuts them.
    const bodies = scriptBodies(html)
    assert.is(bodies.length, 1)
    assert.is(bodies[0], body)
    assert.equal(runScripts(bodies), [{ id: 1, data, event: 'ev' }])
    assert.equal(runScripts(bodies), [envelopeOf(message)])
  })
}

frame('delivers every hostile message of a long frame, one call each, in order', () => {
  const hub = new Hub()
  const channel = hub.channel('c')
  const sent = HOSTILE.map((data) => channel.publish(data))
  const page = openFrame(hub, 'c', 'after=0')
  channel.publish('live')
  const bodies = scriptBodies(page.html())
  assert.is(bodies.length, HOSTILE.length + 1)
  assert.equal(runScripts(bodies), [...sent.map(envelopeOf), { id: HOSTILE.length + 1, data: 'live' }])
})

frame('calls the callback the client names, dotted names included', () => {
  const hub = new Hub()
  hub.channel('c').publish('</script>')
  const page = openFrame(hub, 'c', 'after=0&callback=app.feed_1.$on')
  assert.ok(page.html().includes('<script>parent.app.feed_1.$on({"id":1,'))
  assert.equal(runScripts(scriptBodies(page.html()), 'app.feed_1.$on'), [{ id: 1, data: '</script>' }])
})

frame('refuses a callback that is not a JavaScript name with 400', () => {
  for (const callback of ['alert(1)', '1abc', 'a-b', 'a b', 'x;alert(1)', 'a</script>', '', 'x'.repeat(129)]) {
    const hub = new Hub()
    try {
      openFrame(hub, 'c', `callback=${encodeURIComponent(callback)}`)
    } catch (error) {
      assert.is((error as { status?: number }).status, 400, JSON.stringify(callback))
      assert.is(hub.channelCount, 0, 'no channel made')
      continue
    }
    assert.unreachable(`callback ${JSON.stringify(callback)} should be refused`)
  }
})

frame('announces a gap with one call of {"gap":true,"first":M} before the oldest retained message', () => {
  const hub = new Hub({ historyMessages: 2 })
  const channel = hub.channel('c')
  for (let i = 1; i <= 5; i++) channel.publish(`m${i}`)
  const page = openFrame(hub, 'c', 'after=1')
  const html = page.html()
  assert.ok(html.includes('<script>parent.push({"gap":true,"first":4})</script>\n<script>parent.push({"id":4,'))
  assert.equal(runScripts(scriptBodies(html)), [
    { gap: true, first: 4 },
    { id: 4, data: 'm4' },
    { id: 5, data: 'm5' },
  ])
})

frame('announces a gap with first 1 for a cursor beyond the newest id of an empty channel', () => {
  const hub = new Hub()
  const page = openFrame(hub, 'c', 'after=42&callback=cb')
  assert.equal(runScripts(scriptBodies(page.html()), 'cb'), [{ gap: true, first: 1 }])
})

frame.run()

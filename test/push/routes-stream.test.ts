// GET /stream/{channel} (NDJSON over chunked HTTP) and GET /iframe/{channel} (the forever
// frame) on real sockets against the real server on port 0 (CONTRACT.md, "Routes"): the
// head, one envelope per chunk as framed on the wire, replay with `after` and the gap
// record, heartbeats when idle, the iframe's padding, callbacks and script-safe JSON,
// and curl --raw as a client. Heartbeats are tested on a server of their own with a short
// heartbeatMs; elsewhere the default (15 s) keeps them out of exact bodies.

import { runInNewContext } from 'node:vm'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { curlPath, startCurl } from '../helpers/curl-stream.ts'
import { headField, openStream, published, request } from '../helpers/push.ts'
import { RawClient } from '../helpers/raw-client.ts'
import { startServer, withServer, type RunningServer } from '../helpers/server.ts'
import { until } from '../helpers/wait.ts'

const stream = suite('push routes: GET /stream')

let server: RunningServer

stream.before(async () => {
  server = await startServer()
})

stream.after(async () => {
  await server?.close()
})

const envelope = (id: number, data: string, event?: string) => `${JSON.stringify(event === undefined ? { id, data } : { id, data, event })}\n`

stream('the head is 200 chunked application/x-ndjson with Cache-Control: no-store and CORS *', async () => {
  const feed = await openStream(server.port, '/stream/s-head', ['Origin: http://page.example'])
  try {
    const head = await feed.head()
    assert.is(head.status, 200)
    assert.is(headField(head, 'content-type'), 'application/x-ndjson')
    assert.is(headField(head, 'transfer-encoding'), 'chunked')
    assert.is(headField(head, 'content-length'), undefined)
    assert.is(headField(head, 'cache-control'), 'no-store')
    assert.is(headField(head, 'x-accel-buffering'), 'no')
    assert.is(headField(head, 'access-control-allow-origin'), '*')
    assert.is(headField(head, 'access-control-allow-credentials'), undefined)
  } finally {
    feed.destroy()
  }
})

stream('each envelope and its newline is a chunk of its own: the replay after=0, then live messages', async () => {
  await published(server.port, 's-chunks', 'one')
  await published(server.port, 's-chunks', 'two "2"', { event: 'e' })
  const feed = await openStream(server.port, '/stream/s-chunks?after=0')
  try {
    await feed.waitChunks(2)
    await published(server.port, 's-chunks', 'three\nlines ✓')
    await feed.waitChunks(3)
    assert.equal(feed.chunkTexts(), [envelope(1, 'one'), envelope(2, 'two "2"', 'e'), envelope(3, 'three\nlines ✓')])
    // On the wire: the size in hex counts the UTF-8 bytes of the line.
    const third = Buffer.from(envelope(3, 'three\nlines ✓'))
    assert.ok(feed.body.includes(Buffer.concat([Buffer.from(`${third.length.toString(16)}\r\n`), third, Buffer.from('\r\n')])))
  } finally {
    feed.destroy()
  }
})

stream('without after only new messages come; after=N starts after N', async () => {
  await published(server.port, 's-cursor', 'old 1')
  await published(server.port, 's-cursor', 'old 2')
  const fresh = await openStream(server.port, '/stream/s-cursor')
  const fromOne = await openStream(server.port, '/stream/s-cursor?after=1')
  try {
    await fresh.head()
    await fromOne.waitChunks(1)
    await published(server.port, 's-cursor', 'new 3')
    await fresh.waitChunks(1)
    await fromOne.waitChunks(2)
    assert.equal(fresh.chunkTexts(), [envelope(3, 'new 3')])
    assert.equal(fromOne.chunkTexts(), [envelope(2, 'old 2'), envelope(3, 'new 3')])
  } finally {
    fresh.destroy()
    fromOne.destroy()
  }
})

stream('a cursor before the retained history gets the gap line first, then the oldest retained message on', async () => {
  await withServer({ historyMessages: 2 }, async (small) => {
    for (let i = 1; i <= 4; i++) await published(small.port, 's-gap', `m${i}`)
    const feed = await openStream(small.port, '/stream/s-gap?after=1')
    const beyond = await openStream(small.port, '/stream/s-gap?after=50')
    try {
      await feed.waitChunks(3)
      await beyond.waitChunks(3)
      const expected = ['{"gap":true,"first":3}\n', envelope(3, 'm3'), envelope(4, 'm4')]
      assert.equal(feed.chunkTexts(), expected)
      assert.equal(beyond.chunkTexts(), expected, 'a cursor beyond the newest id is a gap too')
    } finally {
      feed.destroy()
      beyond.destroy()
    }
  })
})

stream('an idle stream gets heartbeat chunks holding one newline', async () => {
  await withServer({ heartbeatMs: 40 }, async (live) => {
    const feed = await openStream(live.port, '/stream/s-beat')
    try {
      await feed.waitChunks(2, 'two heartbeats')
      assert.ok(feed.chunkTexts().every((chunk) => chunk === '\n'), JSON.stringify(feed.chunkTexts()))
      // Messages still come as their own chunks among the heartbeats.
      await published(live.port, 's-beat', 'between')
      await feed.waitData('between')
      assert.ok(feed.chunkTexts().includes(envelope(1, 'between')))
      assert.ok(feed.chunkTexts().every((chunk) => chunk === '\n' || chunk === envelope(1, 'between')))
    } finally {
      feed.destroy()
    }
  })
})

stream('bad cursors are 400 and bad channel names 404, before any stream starts', async () => {
  await until(() => server.streams.count === 0, "the earlier tests' streams to close")
  const open = 0
  for (const after of ['-1', '1.5', 'abc', String(2 ** 60)]) {
    assert.is((await request(server.port, `/stream/s-bad?after=${encodeURIComponent(after)}`)).status, 400, after)
  }
  for (const name of ['a$b', 'x'.repeat(65), 'a%20b']) {
    assert.is((await request(server.port, `/stream/${name}`)).status, 404, name)
  }
  assert.is(server.streams.count, open)
  assert.is(server.hub.find('s-bad'), undefined)
})

stream('an HTTP/1.0 client gets the lines unframed, and the body ends with the connection', async () => {
  await published(server.port, 's-http10', 'old')
  const client = await RawClient.connect(server.port)
  try {
    client.write('GET /stream/s-http10?after=0 HTTP/1.0\r\nHost: test\r\n\r\n')
    await client.until(envelope(1, 'old'))
    await published(server.port, 's-http10', 'new')
    await client.until(envelope(2, 'new'))
    const head = client.text.slice(0, client.text.indexOf('\r\n\r\n') + 4)
    assert.not.match(head, /transfer-encoding/i)
    assert.match(head, /\r\nConnection: close\r\n/)
    assert.is(client.received.subarray(head.length).toString(), envelope(1, 'old') + envelope(2, 'new'))
  } finally {
    client.destroy()
  }
})

stream('a client that resets the connection is forgotten, and its channel freed', async () => {
  await until(() => server.streams.count === 0, "the earlier tests' streams to close")
  const open = 0
  const feed = await openStream(server.port, '/stream/s-leave')
  await feed.head()
  assert.is(server.streams.count, open + 1)
  assert.is(server.hub.find('s-leave')?.subscribers, 1)
  feed.client.socket.resetAndDestroy()
  await until(() => server.streams.count === open, 'the server to forget the stream')
  assert.is(server.hub.find('s-leave'), undefined)
})

stream('curl -sN --raw shows each message as its own chunk, and the last chunk when the server ends the stream', async () => {
  if (curlPath === null) return console.log('curl is not installed: skipping')
  await withServer({}, async (live) => {
    await published(live.port, 's-curl', 'first')
    const curl = startCurl(['-N', '--raw', `${live.origin}/stream/s-curl?after=0`])
    try {
      await curl.waitOutput(envelope(1, 'first'))
      await published(live.port, 's-curl', 'second ✓')
      await curl.waitOutput('second')
      live.streams.shutdown()
      assert.is(await curl.exited, 0, curl.stderr())
      const first = Buffer.from(envelope(1, 'first'))
      const second = Buffer.from(envelope(2, 'second ✓'))
      const expected = Buffer.concat([
        Buffer.from(`${first.length.toString(16)}\r\n`),
        first,
        Buffer.from(`\r\n${second.length.toString(16)}\r\n`),
        second,
        Buffer.from('\r\n0\r\n\r\n'),
      ])
      assert.is(curl.stdout().toString('latin1'), expected.toString('latin1'))
    } finally {
      curl.stop()
    }
  })
})

stream.run()

// ---------------------------------------------------------------------------------------

const iframe = suite('push routes: GET /iframe')

let frames: RunningServer

iframe.before(async () => {
  frames = await startServer()
})

iframe.after(async () => {
  await frames?.close()
})

/**
 * Runs the scripts of a forever frame as a browser would find them: each script's text
 * ends at the first "</script" after its "<script>" (HTML's tokenizer, any case). Returns
 * the callback calls as [path, argument] pairs.
 */
function runScripts(html: string): { calls: [string, unknown][]; scripts: string[] } {
  const calls: [string, unknown][] = []
  const scripts: string[] = []
  const lower = html.toLowerCase()
  let at = 0
  for (;;) {
    const open = lower.indexOf('<script', at)
    if (open === -1) break
    const start = lower.indexOf('>', open) + 1
    const end = lower.indexOf('</script', start)
    if (end === -1) throw new Error(`a script that does not end: ${html.slice(open, open + 200)}`)
    const source = html.slice(start, end)
    scripts.push(source)
    // parent.a.b$_1(...) and parent.push(...) alike: a proxy records the path called.
    const recorder = (path: string[]): unknown =>
      new Proxy(() => {}, {
        get: (_, key) => recorder([...path, String(key)]),
        apply: (_, __, args) => {
          // Through JSON: an object of the script's realm, as plain data of this one.
          calls.push([path.join('.'), JSON.parse(JSON.stringify(args[0]))])
        },
      })
    runInNewContext(source, { parent: recorder([]) })
    at = end
  }
  return { calls, scripts }
}

iframe('the head is 200 chunked text/html with Cache-Control: no-store', async () => {
  const feed = await openStream(frames.port, '/iframe/i-head')
  try {
    const head = await feed.head()
    assert.is(head.status, 200)
    assert.is(headField(head, 'content-type'), 'text/html; charset=utf-8')
    assert.is(headField(head, 'transfer-encoding'), 'chunked')
    assert.is(headField(head, 'cache-control'), 'no-store')
    assert.is(headField(head, 'access-control-allow-origin'), '*')
  } finally {
    feed.destroy()
  }
})

iframe('at least 1 KiB comes before the first script, then one <script>parent.push(envelope)</script> per message', async () => {
  await published(frames.port, 'i-default', 'hello')
  const feed = await openStream(frames.port, '/iframe/i-default?after=0')
  try {
    await feed.waitData('</script>')
    await published(frames.port, 'i-default', 'again', { event: 'named' })
    await feed.waitData('"named"')
    const html = feed.data
    assert.ok(Buffer.byteLength(html.slice(0, html.indexOf('<script'))) >= 1024, 'padding first')
    assert.ok(html.includes(`<script>parent.push({"id":1,"data":"hello"})</script>\n`), html.slice(-200))
    assert.ok(html.includes(`<script>parent.push({"id":2,"data":"again","event":"named"})</script>\n`), html.slice(-200))
    // Each message is a chunk of its own.
    const chunks = feed.chunkTexts()
    assert.ok(chunks.includes(`<script>parent.push({"id":1,"data":"hello"})</script>\n`))
    const { calls } = runScripts(html)
    assert.equal(calls, [
      ['push', { id: 1, data: 'hello' }],
      ['push', { id: 2, data: 'again', event: 'named' }],
    ])
  } finally {
    feed.destroy()
  }
})

iframe('callback=a.b$_1 calls parent.a.b$_1', async () => {
  await published(frames.port, 'i-callback', 'x')
  const feed = await openStream(frames.port, '/iframe/i-callback?after=0&callback=a.b$_1')
  try {
    await feed.waitData('</script>')
    assert.ok(feed.data.includes('<script>parent.a.b$_1({"id":1,"data":"x"})</script>'))
    assert.equal(runScripts(feed.data).calls, [['a.b$_1', { id: 1, data: 'x' }]])
  } finally {
    feed.destroy()
  }
})

iframe('a callback that is not a JavaScript name is 400', async () => {
  await until(() => frames.streams.count === 0, "the earlier tests' streams to close")
  const open = 0
  for (const callback of ['alert(1)', '1abc', 'a-b', 'a;b', 'a b', '', 'a[0]', 'x'.repeat(129), '</script>', 'é']) {
    const response = await request(frames.port, `/iframe/i-bad?callback=${encodeURIComponent(callback)}`)
    assert.is(response.status, 400, `callback=${JSON.stringify(callback)}`)
  }
  assert.is(frames.streams.count, open)
  assert.is(frames.hub.find('i-bad'), undefined)
})

iframe('hostile message data cannot close the script or open a comment, and arrives intact', async () => {
  const hostile = [
    '</script><script>parent.pwned(1)</script>',
    '</SCRIPT ><img src=x onerror=alert(1)>',
    '<!--<script>',
    '--> & &amp; <b>',
    'line\u2028sep\u2029para',
    '\\</script>',
  ]
  for (const data of hostile) await published(frames.port, 'i-hostile', data)
  const feed = await openStream(frames.port, '/iframe/i-hostile?after=0')
  try {
    await feed.waitChunks(1 + hostile.length)
    const html = feed.data
    const { calls, scripts } = runScripts(html)
    assert.is(scripts.length, hostile.length, 'one script per message, none cut short or added')
    assert.equal(
      calls,
      hostile.map((data, i) => ['push', { id: i + 1, data }]),
    )
    for (const script of scripts) {
      assert.not.match(script, /<!--|<\/script|[<>&\u2028\u2029]/i)
    }
  } finally {
    feed.destroy()
  }
})

iframe('the gap is a callback call too: parent.F({"gap":true,"first":M}), then the oldest retained message', async () => {
  await withServer({ historyMessages: 1 }, async (small) => {
    for (const data of ['a', 'b', 'c']) await published(small.port, 'i-gap', data)
    const behind = await openStream(small.port, '/iframe/i-gap?after=1&callback=got')
    const all = await openStream(small.port, '/iframe/i-gap?after=0&callback=got')
    try {
      await behind.waitChunks(3)
      await all.waitChunks(2)
      assert.ok(behind.data.includes('<script>parent.got({"gap":true,"first":3})</script>\n'), behind.data.slice(-200))
      assert.equal(runScripts(behind.data).calls, [
        ['got', { gap: true, first: 3 }],
        ['got', { id: 3, data: 'c' }],
      ])
      assert.equal(runScripts(all.data).calls, [['got', { id: 3, data: 'c' }]], 'after=0 is never a gap')
    } finally {
      behind.destroy()
      all.destroy()
    }
  })
})

iframe('an idle frame gets heartbeat comments', async () => {
  await withServer({ heartbeatMs: 40 }, async (live) => {
    const feed = await openStream(live.port, '/iframe/i-beat')
    try {
      await feed.waitChunks(3, 'the padding and two heartbeats')
      const chunks = feed.chunkTexts()
      assert.match(chunks[0], /^<!doctype html>/)
      assert.equal(chunks.slice(1), chunks.slice(1).map(() => '<!-- -->\n'))
    } finally {
      feed.destroy()
    }
  })
})

iframe.run()


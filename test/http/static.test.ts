// Static files, against the real server on port 0 serving a temporary folder (see
// test/helpers/tree.ts). Requests go out on raw sockets, byte for byte, so that no
// client normalises a path before the server sees it.

import { statSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { exchange, RawClient, requestBytes } from '../helpers/raw-client.ts'
import { startServer, type RunningServer } from '../helpers/server.ts'
import { makeStaticTree, SECRET, type StaticTree } from '../helpers/tree.ts'
import { field, IMF_FIXDATE, type WireResponse } from '../helpers/wire.ts'

let tree: StaticTree
let server: RunningServer

async function setUp(): Promise<void> {
  tree = makeStaticTree()
  server = await startServer({ publicDir: tree.publicDir })
}

async function tearDown(): Promise<void> {
  await server?.close()
  tree?.remove()
}

function get(target: string, fields: string[] = [], method = 'GET'): Promise<WireResponse> {
  return exchange(server.port, requestBytes(method, target, fields), { head: method === 'HEAD' })
}

/**
 * Sends `request` and then a GET /hello on the same connection: the first response must
 * end exactly where its framing says (no stray body bytes), or the second would not parse.
 */
async function thenHello(request: string, head = false): Promise<WireResponse> {
  const client = await RawClient.connect(server.port)
  try {
    if (head) client.expectHead(0)
    client.write(request + requestBytes('GET', '/hello'))
    const first = await client.nextOne()
    const second = await client.nextOne()
    assert.is(second.status, 200, 'the next response on the connection')
    assert.is(second.body.toString(), 'hello world', 'the next response on the connection')
    return first
  } finally {
    client.destroy()
  }
}

// ---- no way out of the folder

const escape = suite('no way out of the public folder')
escape.before(setUp)

const TRAVERSALS: [target: string, status: number][] = [
  ['/../outside.txt', 404],
  ['/..', 404],
  ['/%2e%2e/outside.txt', 404],
  ['/%2E%2E/outside.txt', 404],
  ['/%2E%2E%2Foutside.txt', 404],
  ['/.%2e/outside.txt', 404],
  ['/sub/../../outside.txt', 404],
  ['/sub%2f..%2f..%2foutside.txt', 404],
  ['/sub%2F..%2F..%2Foutside.txt', 404],
  ['/..%5coutside.txt', 404],
  ['/..%5c..%5coutside.txt', 404],
  ['/sub/%2e%2e/%2e%2e/outside.txt', 404],
  ['/sub/./../../outside.txt', 404],
  ['//etc/passwd', 404],
  ['/%2fetc%2fpasswd', 404],
  ['/%00', 400],
  ['/hello.txt%00.html', 400],
  ['/%00/../outside.txt', 400], // a NUL anywhere in the path is a malformed request
  ['/%zz', 400],
  ['/%c0%ae%c0%ae/outside.txt', 400], // overlong UTF-8 for ".": not valid UTF-8
  ['/%', 400],
]

for (const [target, status] of TRAVERSALS) {
  escape(`answers ${status} to ${target} and never sends the outside file`, async () => {
    const response = await get(target)
    assert.is(response.status, status)
    assert.not.ok(response.body.includes(SECRET), 'the outside content is not sent')
    assert.not.ok(response.body.includes('root:'), '/etc/passwd is not sent')
  })
}

escape('answers 404 to a traversal in absolute form and never sends the outside file', async () => {
  for (const target of ['http://h/../outside.txt', 'http://h/%2e%2e/outside.txt', 'http://h/sub/../../outside.txt']) {
    const response = await exchange(server.port, `GET ${target} HTTP/1.1\r\nHost: h\r\n\r\n`)
    assert.is(response.status, 404, target)
    assert.not.ok(response.body.includes(SECRET), target)
  }
})

escape('refuses the traversals with every method, never reaching the outside file', async () => {
  for (const method of ['HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS']) {
    for (const target of ['/../outside.txt', '/%2e%2e/outside.txt', '/link-outside.txt']) {
      const response = await get(target, [], method)
      assert.is(response.status, 404, `${method} ${target}`)
      assert.not.ok(response.body.includes(SECRET))
    }
  }
})

escape('answers 404 to dotfiles, however the dot is written', async () => {
  for (const target of ['/.hidden', '/%2ehidden', '/%2Ehidden', '/sub/../.hidden', '/.', '/%2e']) {
    const response = await get(target)
    assert.is(response.status, 404, target)
    assert.not.ok(response.body.includes('a dotfile'), target)
  }
})

escape('serves a symlink that points inside the folder', async () => {
  const response = await get('/link-inside.txt')
  assert.is(response.status, 200)
  assert.equal(response.body, tree.files['hello.txt'])
})

escape('answers 404 to a symlink that points to a file outside the folder', async () => {
  const response = await get('/link-outside.txt')
  assert.is(response.status, 404)
  assert.not.ok(response.body.includes(SECRET))
})

escape('answers 404 to a symlink that points to a folder outside, and to anything in it', async () => {
  for (const target of ['/link-outside-dir', '/link-outside-dir/', '/link-outside-dir/secret.txt']) {
    const response = await get(target)
    assert.is(response.status, 404, target)
    assert.is(field(response, 'Location'), undefined, `${target}: not redirected`)
    assert.not.ok(response.body.includes(SECRET), target)
  }
})

escape('closes the connection after a 400 for a malformed path (CONTRACT.md)', async () => {
  for (const target of ['/%00', '/%zz']) {
    const client = await RawClient.connect(server.port)
    try {
      client.write(requestBytes('GET', target) + requestBytes('GET', '/hello'))
      const response = await client.nextOne()
      assert.is(response.status, 400, target)
      assert.is(field(response, 'Connection'), 'close', target)
      const rest = await client.untilClosed()
      assert.is(rest.length, 0, `${target}: the pipelined request is not answered`)
    } finally {
      client.destroy()
    }
  }
})

escape('keeps serving on the connection after a refused traversal answered with 404', async () => {
  const response = await thenHello(requestBytes('GET', '/../outside.txt'))
  assert.is(response.status, 404)
})

escape.run()

// ---- what a file is sent with

const files = suite('files and their fields')

files('sends a file with its Content-Type by extension and its exact Content-Length', async () => {
  const cases: [string, string][] = [
    ['/index.html', 'text/html; charset=utf-8'],
    ['/hello.txt', 'text/plain; charset=utf-8'],
    ['/style.css', 'text/css; charset=utf-8'],
    ['/app.js', 'text/javascript; charset=utf-8'],
    ['/data.json', 'application/json'],
    ['/pixel.png', 'image/png'],
    ['/UPPER.TXT', 'text/plain; charset=utf-8'],
    ['/notes.XYZ', 'application/octet-stream'],
  ]
  for (const [target, type] of cases) {
    const response = await get(target)
    const content = tree.files[target.slice(1)]
    assert.is(response.status, 200, target)
    assert.is(field(response, 'Content-Type'), type, target)
    assert.is(field(response, 'Content-Length'), String(content.length), target)
    assert.equal(response.body, content, target)
  }
})

files('sends a strong ETag, a Last-Modified date that is the file mtime, and a Date', async () => {
  const response = await get('/hello.txt')
  const etag = field(response, 'ETag')
  assert.ok(etag !== undefined, 'an ETag')
  assert.match(etag!, /^"[!#-~]+"$/, 'a strong entity tag: quoted, no W/')
  const lastModified = field(response, 'Last-Modified')
  assert.ok(lastModified !== undefined, 'a Last-Modified')
  assert.match(lastModified!, IMF_FIXDATE)
  const mtime = statSync(join(tree.publicDir, 'hello.txt')).mtimeMs
  assert.is(Date.parse(lastModified!), Math.floor(mtime / 1000) * 1000)
  assert.match(field(response, 'Date') ?? '', IMF_FIXDATE)
})

files('gives different files different ETags and the same file the same one', async () => {
  const a1 = field(await get('/hello.txt'), 'ETag')
  const a2 = field(await get('/hello.txt'), 'ETag')
  const b = field(await get('/style.css'), 'ETag')
  assert.is(a1, a2)
  assert.is.not(a1, b)
})

files('serves index.html for / and for a folder asked with its trailing slash', async () => {
  const root = await get('/')
  assert.is(root.status, 200)
  assert.is(field(root, 'Content-Type'), 'text/html; charset=utf-8')
  assert.equal(root.body, tree.files['index.html'])
  const sub = await get('/sub/')
  assert.is(sub.status, 200)
  assert.equal(sub.body, tree.files['sub/index.html'])
  const withQuery = await get('/sub/?v=2')
  assert.equal(withQuery.body, tree.files['sub/index.html'])
})

files('redirects a folder asked without its trailing slash with 301, keeping the query', async () => {
  const plain = await get('/sub')
  assert.is(plain.status, 301)
  assert.is(field(plain, 'Location'), '/sub/')
  const query = await get('/sub?a=1&b=%20x')
  assert.is(query.status, 301)
  assert.is(field(query, 'Location'), '/sub/?a=1&b=%20x')
})

files('never redirects to another host: a folder asked as //name goes to /name/', async () => {
  // "//sub/" in Location would be a network-path reference: the browser would go to the host "sub".
  const response = await get('//sub')
  assert.is(response.status, 301)
  const location = field(response, 'Location') ?? ''
  assert.not.ok(location.startsWith('//'), `Location ${location} names no host`)
  assert.is(location, '/sub/')
})

files('answers 404 to a missing file and to a file asked as a folder', async () => {
  for (const target of ['/missing.txt', '/sub/missing.html', '/hello.txt/', '/hello.txt/x']) {
    const response = await get(target)
    assert.is(response.status, 404, target)
  }
})

files('serves a percent-encoded name like the plain one', async () => {
  const response = await get('/hell%6F.txt')
  assert.is(response.status, 200)
  assert.equal(response.body, tree.files['hello.txt'])
})

files.run()

// ---- conditional requests

const conditional = suite('conditional requests (RFC 9110 §13)')

async function validators(target = '/hello.txt'): Promise<{ etag: string; lastModified: string }> {
  const response = await get(target)
  return { etag: field(response, 'ETag')!, lastModified: field(response, 'Last-Modified')! }
}

conditional('answers If-None-Match with the ETag with 304, the validators, and no body', async () => {
  const { etag, lastModified } = await validators()
  const response = await thenHello(requestBytes('GET', '/hello.txt', [`If-None-Match: ${etag}`]))
  assert.is(response.status, 304)
  assert.is(response.body.length, 0)
  assert.is(field(response, 'ETag'), etag)
  assert.is(field(response, 'Last-Modified'), lastModified)
  assert.is(field(response, 'Content-Length'), undefined)
  assert.is(field(response, 'Transfer-Encoding'), undefined)
})

conditional('sends the Cache-Control of the 200 on the 304 too (RFC 9110 §15.4.5)', async () => {
  const full = await get('/hello.txt')
  const cacheControl = field(full, 'Cache-Control')
  assert.ok(cacheControl !== undefined)
  const response = await get('/hello.txt', [`If-None-Match: ${field(full, 'ETag')}`])
  assert.is(response.status, 304)
  assert.is(field(response, 'Cache-Control'), cacheControl)
})

conditional('answers 304 when the ETag is one of a list', async () => {
  const { etag } = await validators()
  for (const list of [`"nope", ${etag}`, `"a",${etag},"b"`, `W/"x", ${etag}`]) {
    const response = await thenHello(requestBytes('GET', '/hello.txt', [`If-None-Match: ${list}`]))
    assert.is(response.status, 304, list)
  }
})

conditional('answers 304 to If-None-Match: *', async () => {
  const response = await thenHello(requestBytes('GET', '/hello.txt', ['If-None-Match: *']))
  assert.is(response.status, 304)
})

conditional('compares weakly: W/ and the ETag match (RFC 9110 §8.8.3.2)', async () => {
  const { etag } = await validators()
  const response = await thenHello(requestBytes('GET', '/hello.txt', [`If-None-Match: W/${etag}`]))
  assert.is(response.status, 304)
})

conditional('answers 200 with the body when no tag matches', async () => {
  const { etag } = await validators()
  for (const value of ['"nope"', `"${etag}"`, etag.slice(0, -2) + '"', `${etag.slice(1, -1)}`]) {
    const response = await get('/hello.txt', [`If-None-Match: ${value}`])
    assert.is(response.status, 200, value)
    assert.equal(response.body, tree.files['hello.txt'])
  }
})

conditional('answers If-Modified-Since equal to Last-Modified (or later) with 304', async () => {
  const { lastModified } = await validators()
  const same = await thenHello(requestBytes('GET', '/hello.txt', [`If-Modified-Since: ${lastModified}`]))
  assert.is(same.status, 304)
  assert.is(same.body.length, 0)
  const later = new Date(Date.parse(lastModified) + 86_400_000).toUTCString()
  assert.is((await get('/hello.txt', [`If-Modified-Since: ${later}`])).status, 304)
})

conditional('answers If-Modified-Since older than Last-Modified with 200 and the body', async () => {
  const { lastModified } = await validators()
  const older = new Date(Date.parse(lastModified) - 1000).toUTCString()
  const response = await get('/hello.txt', [`If-Modified-Since: ${older}`])
  assert.is(response.status, 200)
  assert.equal(response.body, tree.files['hello.txt'])
})

conditional('ignores an If-Modified-Since that is not a date', async () => {
  const response = await get('/hello.txt', ['If-Modified-Since: not a date'])
  assert.is(response.status, 200)
})

conditional('lets If-None-Match win over If-Modified-Since, either way', async () => {
  const { etag, lastModified } = await validators()
  const noMatch = await get('/hello.txt', ['If-None-Match: "nope"', `If-Modified-Since: ${lastModified}`])
  assert.is(noMatch.status, 200, 'a tag that does not match: 200 although the date says not modified')
  assert.equal(noMatch.body, tree.files['hello.txt'])
  const older = new Date(Date.parse(lastModified) - 86_400_000).toUTCString()
  const match = await get('/hello.txt', [`If-None-Match: ${etag}`, `If-Modified-Since: ${older}`])
  assert.is(match.status, 304, 'a tag that matches: 304 although the date says modified')
})

conditional('answers HEAD with If-None-Match with 304 too', async () => {
  const { etag } = await validators()
  const response = await thenHello(requestBytes('HEAD', '/hello.txt', [`If-None-Match: ${etag}`]), true)
  assert.is(response.status, 304)
})

conditional.run()

// ---- methods

const methods = suite('methods on static files')

methods('answers HEAD with the Content-Length of the file and no body', async () => {
  for (const name of ['hello.txt', 'big.bin']) {
    const response = await thenHello(requestBytes('HEAD', `/${name}`), true)
    assert.is(response.status, 200, name)
    assert.is(field(response, 'Content-Length'), String(tree.files[name].length), name)
    assert.is(response.body.length, 0, name)
    assert.ok(field(response, 'ETag'), name)
  }
})

methods('answers POST, PUT and DELETE on an existing file with 405 and Allow: GET, HEAD, OPTIONS', async () => {
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
    const response = await get('/hello.txt', ['Content-Length: 0'], method)
    assert.is(response.status, 405, method)
    assert.is(field(response, 'Allow'), 'GET, HEAD, OPTIONS', method)
    assert.not.ok(response.body.includes(tree.files['hello.txt']), `${method}: not the file`)
  }
})

methods('answers POST on a folder with 405, not with a redirect', async () => {
  for (const target of ['/sub', '/sub/']) {
    const response = await get(target, ['Content-Length: 0'], 'POST')
    assert.is(response.status, 405, target)
    assert.is(field(response, 'Allow'), 'GET, HEAD, OPTIONS', target)
    assert.is(field(response, 'Location'), undefined, target)
  }
})

methods('answers POST on a missing path with 404', async () => {
  for (const target of ['/missing.txt', '/sub/missing', '/nothing/here']) {
    const response = await get(target, ['Content-Length: 0'], 'POST')
    assert.is(response.status, 404, target)
  }
})

methods('answers OPTIONS on a file with 204 and Allow', async () => {
  const response = await get('/hello.txt', [], 'OPTIONS')
  assert.is(response.status, 204)
  assert.is(field(response, 'Allow'), 'GET, HEAD, OPTIONS')
})

methods('answers OPTIONS * with 204 and Allow from the routes', async () => {
  const response = await exchange(server.port, 'OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n')
  assert.is(response.status, 204)
  assert.equal(field(response, 'Allow')!.split(', ').sort(), ['GET', 'HEAD', 'OPTIONS', 'POST'])
})

methods.run()

// ---- a large file

const large = suite('a large file')
large.after(tearDown)

large('arrives intact, byte for byte, with the right Content-Length', async () => {
  const response = await get('/big.bin')
  const expected = tree.files['big.bin']
  assert.is(response.status, 200)
  assert.is(field(response, 'Content-Length'), String(expected.length))
  assert.is(field(response, 'Content-Type'), 'application/octet-stream')
  assert.is(response.body.length, expected.length)
  assert.ok(response.body.equals(expected), 'the bytes are the file')
})

large('arrives intact to an HTTP/1.0 client too', async () => {
  const client = await RawClient.connect(server.port)
  try {
    client.write('GET /big.bin HTTP/1.0\r\n\r\n')
    const response = await client.nextOne()
    assert.is(response.status, 200)
    assert.is(field(response, 'Content-Length'), String(tree.files['big.bin'].length))
    assert.ok(response.body.equals(tree.files['big.bin']))
    await client.untilClosed()
  } finally {
    client.destroy()
  }
})

large('leaves the connection usable for the next request', async () => {
  const client = await RawClient.connect(server.port)
  try {
    client.write(requestBytes('GET', '/big.bin') + requestBytes('GET', '/big.bin') + requestBytes('GET', '/hello.txt'))
    for (let i = 0; i < 2; i++) {
      const response = await client.nextOne()
      assert.ok(response.body.equals(tree.files['big.bin']), `response ${i + 1}`)
    }
    const last = await client.nextOne()
    assert.equal(last.body, tree.files['hello.txt'])
  } finally {
    client.destroy()
  }
})

large.run()

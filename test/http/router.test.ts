// The router, with request heads parsed by the project's own parser and responses written
// to a fake sink: which handler runs, with which parameters, and what a request that no
// route takes gets (RFC 9110 §15.5, §15.6): 400, 404, 405 + Allow, 501, and OPTIONS.

import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { IncomingRequest, type RequestOwner } from '../../src/http/request.ts'
import { Response } from '../../src/http/response.ts'
import { Router, splitPath, type RouteHandler } from '../../src/http/router.ts'
import { FakeSink, parseHead } from '../helpers/fake-sink.ts'
import { field, readAllResponses, type WireResponse } from '../helpers/wire.ts'

const owner: RequestOwner = { bodyWanted() {}, takeOver() {} }

interface Routed {
  response: WireResponse
  res: Response
  /** The handlers that ran, by name, with the params they saw. */
  calls: { name: string; params: Record<string, string> }[]
}

/** The request line (and optional fields) through `router`, answered synchronously. */
async function route(router: Router, calls: Routed['calls'], requestLine: string, fields: string[] = []): Promise<Routed> {
  const text = `${requestLine}\r\n${requestLine.endsWith('HTTP/1.0') ? '' : 'Host: h\r\n'}${fields.map((f) => `${f}\r\n`).join('')}\r\n`
  const head = parseHead(text)
  const sink = new FakeSink()
  const req = new IncomingRequest(head, owner)
  const res = new Response(sink, head)
  await router.handle(req, res)
  assert.ok(res.ended, `${requestLine}: answered`)
  const responses = readAllResponses(sink.bytes, { head: head.method === 'HEAD' })
  assert.is(responses.length, 1, `${requestLine}: one response`)
  return { response: responses[0], res, calls }
}

/** A handler that records its call and answers 200 with its name. */
function named(name: string, calls: Routed['calls']): RouteHandler {
  return (req, res) => {
    calls.push({ name, params: { ...req.params } })
    res.send(200, name)
  }
}

function makeRouter(): { router: Router; calls: Routed['calls'] } {
  const calls: Routed['calls'] = []
  const router = new Router()
  router.get('/hello', named('hello', calls))
  router.post('/echo', named('echo', calls))
  router.get('/poll/:channel', named('poll', calls))
  router.get('/both', named('both-get', calls))
  router.post('/both', named('both-post', calls))
  router.on('PUT', '/items/:id/parts/:part', named('put-part', calls))
  router.on('DELETE', '/items/:id/parts/:part', named('delete-part', calls))
  return { router, calls }
}

// ---- matching

const matching = suite('matching routes')

matching('runs the handler of an exact path and of a path with parameters', async () => {
  const { router, calls } = makeRouter()
  const hello = await route(router, calls, 'GET /hello HTTP/1.1')
  assert.is(hello.response.status, 200)
  assert.is(hello.response.body.toString(), 'hello')
  const poll = await route(router, calls, 'GET /poll/news?after=3 HTTP/1.1')
  assert.is(poll.response.body.toString(), 'poll')
  assert.equal(calls, [
    { name: 'hello', params: {} },
    { name: 'poll', params: { channel: 'news' } },
  ])
})

matching('percent-decodes parameters, a slash and a space included', async () => {
  const { router, calls } = makeRouter()
  await route(router, calls, 'GET /poll/a%20b%2Fc%C3%A9 HTTP/1.1')
  await route(router, calls, 'PUT /items/%31%32/parts/x%25y HTTP/1.1')
  assert.equal(calls, [
    { name: 'poll', params: { channel: 'a b/cé' } },
    { name: 'put-part', params: { id: '12', part: 'x%y' } },
  ])
})

matching('matches a percent-encoded literal segment like the plain one', async () => {
  const { router, calls } = makeRouter()
  const { response } = await route(router, calls, 'GET /hell%6F HTTP/1.1')
  assert.is(response.status, 200)
  assert.equal(calls, [{ name: 'hello', params: {} }])
})

matching('does not match an empty parameter, a trailing slash or an extra segment', async () => {
  const { router, calls } = makeRouter()
  for (const target of ['/poll/', '/poll', '/hello/', '/poll/a/b', '/hello/x']) {
    const { response } = await route(router, calls, `GET ${target} HTTP/1.1`)
    assert.is(response.status, 404, target)
  }
  assert.equal(calls, [])
})

matching('routes a request in absolute form by its path', async () => {
  const { router, calls } = makeRouter()
  const { response } = await route(router, calls, 'GET http://example.com/poll/x HTTP/1.1')
  assert.is(response.status, 200)
  assert.equal(calls, [{ name: 'poll', params: { channel: 'x' } }])
})

matching('answers 400 to a path with a bad percent-escape, and closes the connection', async () => {
  const { router, calls } = makeRouter()
  for (const target of ['/poll/%zz', '/poll/%', '/poll/%4', '/%E0%A4%A', '/nothing/%c0%ae', '/poll/%FF']) {
    const { response, res } = await route(router, calls, `GET ${target} HTTP/1.1`)
    assert.is(response.status, 400, target)
    assert.match(response.body.toString(), /percent-encoding/)
    // CONTRACT.md: a malformed request gets 400 and the connection closes.
    assert.is(field(response, 'Connection'), 'close', target)
    assert.is(res.keepAlive, false, target)
  }
  assert.equal(calls, [])
})

matching('refuses to route the same method and pattern twice', () => {
  const router = new Router()
  router.get('/x/:a', () => {})
  assert.throws(() => router.get('/x/:a', () => {}), /routed twice/)
  router.post('/x/:a', () => {}) // another method on the same pattern is fine
  assert.throws(() => router.on('POST', '/x/:a', () => {}), /routed twice/)
})

matching('refuses a pattern that does not start with a slash', () => {
  assert.throws(() => new Router().get('hello', () => {}), /starts with "\/"/)
})

matching('splitPath() decodes each segment and says null for a bad escape', () => {
  assert.equal(splitPath('/a/b%2Fc/'), ['a', 'b/c', ''])
  assert.equal(splitPath('/'), [''])
  assert.equal(splitPath('/%2e%2e'), ['..'])
  assert.is(splitPath('/a/%zz'), null)
})

matching.run()

// ---- what no route takes

const refusals = suite('requests no route takes')

refusals('answers 404 to an unknown path whatever the known method', async () => {
  const { router, calls } = makeRouter()
  for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'TRACE', 'OPTIONS']) {
    const { response } = await route(router, calls, `${method} /nowhere HTTP/1.1`)
    assert.is(response.status, 404, method)
    assert.is(field(response, 'Allow'), undefined, `${method}: no Allow on a 404`)
  }
  assert.equal(calls, [])
})

refusals('answers 405 with Allow to a path that exists with other methods', async () => {
  const { router, calls } = makeRouter()
  const cases: [string, string, string][] = [
    ['POST', '/hello', 'GET, HEAD, OPTIONS'],
    ['PUT', '/hello', 'GET, HEAD, OPTIONS'],
    ['DELETE', '/poll/x', 'GET, HEAD, OPTIONS'],
    ['GET', '/echo', 'POST, OPTIONS'],
    ['HEAD', '/echo', 'POST, OPTIONS'],
    ['PATCH', '/both', 'GET, HEAD, POST, OPTIONS'],
    ['GET', '/items/1/parts/2', 'PUT, DELETE, OPTIONS'],
  ]
  for (const [method, target, allow] of cases) {
    const { response } = await route(router, calls, `${method} ${target} HTTP/1.1`)
    assert.is(response.status, 405, `${method} ${target}`)
    assert.is(field(response, 'Allow'), allow, `${method} ${target}`)
  }
  assert.equal(calls, [])
})

refusals('lists HEAD once when a route has its own HEAD handler', async () => {
  const calls: Routed['calls'] = []
  const router = new Router()
  router.get('/x', named('get', calls))
  router.on('HEAD', '/x', named('head', calls))
  const { response } = await route(router, calls, 'POST /x HTTP/1.1')
  assert.is(field(response, 'Allow'), 'GET, HEAD, OPTIONS')
  await route(router, calls, 'HEAD /x HTTP/1.1')
  assert.equal(calls, [{ name: 'head', params: {} }])
})

refusals('answers 501 to a method it does not implement, on any path', async () => {
  const { router, calls } = makeRouter()
  for (const method of ['FOO', 'get', 'Get', 'PROPFIND', 'BREW']) {
    for (const target of ['/hello', '/nowhere', '/poll/x']) {
      const { response } = await route(router, calls, `${method} ${target} HTTP/1.1`)
      assert.is(response.status, 501, `${method} ${target}`)
    }
  }
  assert.equal(calls, [])
})

refusals('refuses a route for a method the server does not implement, which would get 501 first', () => {
  const router = new Router()
  assert.throws(() => router.on('PURGE', '/cache', () => {}), /PURGE is not a method this server implements/)
  assert.throws(() => router.on('get', '/hello', () => {}), /get is not a method/)
  router.on('PATCH', '/items/:id', () => {})
})

refusals('answers 501 to CONNECT and closes the connection', async () => {
  const { router, calls } = makeRouter()
  const { response, res } = await route(router, calls, 'CONNECT example.com:443 HTTP/1.1')
  assert.is(response.status, 501)
  assert.is(field(response, 'Connection'), 'close')
  assert.is(res.keepAlive, false)
})

refusals('hands a request no route matched to the fallback, whatever the method', async () => {
  const calls: Routed['calls'] = []
  const router = new Router()
  router.get('/hello', named('hello', calls))
  router.setFallback(named('fallback', calls))
  for (const method of ['GET', 'HEAD', 'POST', 'DELETE']) await route(router, calls, `${method} /some/file.txt HTTP/1.1`)
  assert.equal(calls.map((c) => c.name), ['fallback', 'fallback', 'fallback', 'fallback'])
  const { response } = await route(router, calls, 'POST /hello HTTP/1.1')
  assert.is(response.status, 405, 'a routed path still gets 405, not the fallback')
  const unknown = await route(router, calls, 'FOO /some/file.txt HTTP/1.1')
  assert.is(unknown.response.status, 501, 'an unknown method never reaches the fallback')
  assert.is(calls.length, 4)
})

refusals.run()

// ---- HEAD and OPTIONS

const headOptions = suite('HEAD and OPTIONS')

headOptions('serves HEAD with the GET handler: the same head, Content-Length, and no body', async () => {
  const { router, calls } = makeRouter()
  const { response } = await route(router, calls, 'HEAD /poll/x HTTP/1.1')
  assert.is(response.status, 200)
  assert.is(field(response, 'Content-Length'), '4')
  assert.is(response.body.length, 0)
  assert.ok(response.raw.toString('latin1').endsWith('\r\n\r\n'), 'the response ends with its head')
  assert.equal(calls, [{ name: 'poll', params: { channel: 'x' } }])
})

headOptions('answers OPTIONS on a route with 204 and its Allow', async () => {
  const { router, calls } = makeRouter()
  const cases: [string, string][] = [
    ['/hello', 'GET, HEAD, OPTIONS'],
    ['/echo', 'POST, OPTIONS'],
    ['/both', 'GET, HEAD, POST, OPTIONS'],
    ['/items/a/parts/b', 'PUT, DELETE, OPTIONS'],
  ]
  for (const [target, allow] of cases) {
    const { response } = await route(router, calls, `OPTIONS ${target} HTTP/1.1`)
    assert.is(response.status, 204, target)
    assert.is(field(response, 'Allow'), allow, target)
    assert.is(field(response, 'Content-Length'), undefined, `${target}: a 204 has no Content-Length`)
  }
  assert.equal(calls, [])
})

headOptions('answers OPTIONS * with 204 and every method any route takes, each once', async () => {
  const { router, calls } = makeRouter()
  const { response } = await route(router, calls, 'OPTIONS * HTTP/1.1')
  assert.is(response.status, 204)
  const allow = field(response, 'Allow')!.split(', ')
  assert.equal([...allow].sort(), ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT'])
})

headOptions('answers OPTIONS * with GET, HEAD and OPTIONS on an empty router', async () => {
  const calls: Routed['calls'] = []
  const { response } = await route(new Router(), calls, 'OPTIONS * HTTP/1.1')
  assert.is(response.status, 204)
  assert.is(field(response, 'Allow'), 'GET, HEAD, OPTIONS')
})

headOptions('lets a route that handles OPTIONS itself answer it', async () => {
  const calls: Routed['calls'] = []
  const router = new Router()
  router.on('OPTIONS', '/cors', named('preflight', calls))
  const { response } = await route(router, calls, 'OPTIONS /cors HTTP/1.1')
  assert.is(response.status, 200)
  assert.equal(calls, [{ name: 'preflight', params: {} }])
})

headOptions.run()

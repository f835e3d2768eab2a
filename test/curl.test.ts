// curl as the peer a user would pick: the real server on port 0, curl run with execFile
// (no shell), and what curl printed (-v shows both heads: "> " request, "< " response).

import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { findOnPath, run, type Ran } from './helpers/commands.ts'
import { startServer, type RunningServer } from './helpers/server.ts'
import { makeStaticTree, SECRET, type StaticTree } from './helpers/tree.ts'
import { IMF_FIXDATE } from './helpers/wire.ts'

const test = suite('curl')
const curlPath = findOnPath('curl')

if (curlPath === null) {
  console.log('curl is not installed: skipping the curl tests (.ci/run installs it)')
} else {
  const curlFile = curlPath
  let server: RunningServer
  let tree: StaticTree
  /** 1 KiB holding every byte value four times. */
  let binaryFile: string
  let binary: Buffer

  const curl = (...args: string[]): Promise<Ran> => run(curlFile, ['--silent', '--show-error', '--max-time', '20', ...args])
  const url = (path: string) => `${server.origin}${path}`

  /** The response lines curl -v printed ("< Name: value"), without the marker. */
  const received = (ran: Ran) =>
    ran.stderr
      .split(/\r?\n/)
      .filter((line) => line.startsWith('< '))
      .map((line) => line.slice(2))
  const sent = (ran: Ran) =>
    ran.stderr
      .split(/\r?\n/)
      .filter((line) => line.startsWith('> '))
      .map((line) => line.slice(2))

  test.before(async () => {
    tree = makeStaticTree()
    server = await startServer({ publicDir: tree.publicDir })
    binary = Buffer.alloc(1024)
    for (let i = 0; i < binary.length; i++) binary[i] = i & 0xff
    binaryFile = join(tree.base, 'all-bytes.bin')
    writeFileSync(binaryFile, binary)
  })

  test.after(async () => {
    await server?.close()
    tree?.remove()
  })

  test('curl -v /hello gets 200, a Date, Content-Length and "hello world"', async () => {
    const ran = await curl('-v', url('/hello'))
    assert.is(ran.code, 0, ran.stderr)
    assert.is(ran.stdout.toString(), 'hello world')
    const lines = received(ran)
    assert.is(lines[0], 'HTTP/1.1 200 OK')
    const date = lines.find((line) => /^date:/i.test(line))
    assert.ok(date, 'a Date field')
    assert.match(date!.slice(date!.indexOf(':') + 1).trim(), IMF_FIXDATE)
    assert.ok(lines.includes('Content-Length: 11'), lines.join('\n'))
    assert.ok(lines.includes('Content-Type: text/plain'), lines.join('\n'))
  })

  test('curl --http1.0 gets a complete answer and the connection closed', async () => {
    const ran = await curl('-v', '--http1.0', url('/hello'))
    assert.is(ran.code, 0, ran.stderr)
    assert.ok(sent(ran).includes('GET /hello HTTP/1.0'), ran.stderr)
    const lines = received(ran)
    assert.is(lines[0], 'HTTP/1.1 200 OK')
    assert.ok(lines.includes('Connection: close'), lines.join('\n'))
    assert.is(ran.stdout.toString(), 'hello world')
  })

  test('curl --data-binary @file to /echo gets every byte value back, with its Content-Type', async () => {
    const ran = await curl('-v', '-H', 'Content-Type: application/x-all-bytes', '--data-binary', `@${binaryFile}`, url('/echo'))
    assert.is(ran.code, 0, ran.stderr)
    assert.ok(sent(ran).includes(`Content-Length: ${binary.length}`), ran.stderr)
    const lines = received(ran)
    assert.is(lines[0], 'HTTP/1.1 200 OK')
    assert.ok(lines.includes('Content-Type: application/x-all-bytes'), lines.join('\n'))
    assert.ok(lines.includes(`Content-Length: ${binary.length}`), lines.join('\n'))
    assert.ok(ran.stdout.equals(binary), `the echo is the file (${ran.stdout.length} bytes)`)
  })

  test('curl uploads a chunked body to /echo and gets it back whole', async () => {
    const ran = await curl('-v', '-H', 'Transfer-Encoding: chunked', '--data-binary', `@${binaryFile}`, url('/echo'))
    assert.is(ran.code, 0, ran.stderr)
    const request = sent(ran)
    assert.ok(request.includes('Transfer-Encoding: chunked'), ran.stderr)
    assert.not.ok(request.some((line) => /^content-length:/i.test(line)), 'no Content-Length with chunks')
    assert.is(received(ran)[0], 'HTTP/1.1 200 OK')
    assert.ok(ran.stdout.equals(binary), `the echo is the file (${ran.stdout.length} bytes)`)
  })

  test('curl with Expect: 100-continue is told to send the body, then gets it echoed', async () => {
    // --expect100-timeout: curl waits for the 100 instead of sending the body after 1 s anyway.
    const ran = await curl('-v', '--expect100-timeout', '20', '-H', 'Expect: 100-continue', '--data-binary', `@${binaryFile}`, url('/echo'))
    assert.is(ran.code, 0, ran.stderr)
    assert.ok(sent(ran).includes('Expect: 100-continue'), ran.stderr)
    const statuses = received(ran).filter((line) => line.startsWith('HTTP/'))
    assert.equal(statuses, ['HTTP/1.1 100 Continue', 'HTTP/1.1 200 OK'])
    assert.ok(ran.stdout.equals(binary), `the echo is the file (${ran.stdout.length} bytes)`)
  })

  test('curl -I (HEAD) gets the head with Content-Length and no body', async () => {
    for (const [path, length] of [
      ['/hello', 11],
      ['/big.bin', tree.files['big.bin'].length],
    ] as const) {
      const ran = await curl('-I', url(path))
      assert.is(ran.code, 0, ran.stderr)
      const text = ran.stdout.toString('latin1')
      assert.ok(text.startsWith('HTTP/1.1 200 OK\r\n'), text)
      assert.match(text, new RegExp(`\\r\\nContent-Length: ${length}\\r\\n`))
      assert.ok(text.endsWith('\r\n\r\n'), 'only the head')
    }
  })

  test('curl reuses the keep-alive connection for a second URL', async () => {
    const ran = await curl('-v', url('/hello'), url('/hello'))
    assert.is(ran.code, 0, ran.stderr)
    assert.match(ran.stderr, /Re-using existing connection/)
    assert.is(ran.stderr.match(/^\* +Connected to /gm)?.length, 1, 'one TCP connection')
    assert.is(ran.stdout.toString(), 'hello worldhello world')
  })

  test('curl downloads the 1 MiB file intact', async () => {
    const ran = await curl(url('/big.bin'))
    assert.is(ran.code, 0, ran.stderr)
    assert.ok(ran.stdout.equals(tree.files['big.bin']))
  })

  test('curl --path-as-is traversals get 404 and never the outside file', async () => {
    const targets = ['/../outside.txt', '/../../outside.txt', '/%2e%2e/outside.txt', '/%2E%2E%2Foutside.txt', '/sub/../../outside.txt', '/sub/%2e%2e/%2e%2e/outside.txt', '/..%5coutside.txt', '/link-outside.txt', '/link-outside-dir/secret.txt']
    for (const target of targets) {
      const ran = await curl('--path-as-is', '-w', '\n%{http_code}', url(target))
      assert.is(ran.code, 0, ran.stderr)
      const text = ran.stdout.toString('latin1')
      const status = text.slice(text.lastIndexOf('\n') + 1)
      assert.is(status, '404', target)
      assert.not.ok(text.includes(SECRET), `${target}: the outside file is not sent`)
    }
  })

  test('curl --path-as-is with a NUL byte gets 400', async () => {
    const ran = await curl('--path-as-is', '-o', '/dev/null', '-w', '%{http_code}', url('/%00'))
    assert.is(ran.stdout.toString(), '400')
  })
}

test.run()

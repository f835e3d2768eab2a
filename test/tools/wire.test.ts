// npm run wire (tools/wire.ts) as a learner runs it with a script on stdin, against the
// real server: the handshake it checks, the echo of a text frame, and the server's
// answer to each deliberate mistake (RFC 6455 §7.4.1 close codes).

import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { startServer, type RunningServer } from '../helpers/server.ts'
import { within } from '../helpers/wait.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

interface Run {
  code: number | null
  stdout: string
  stderr: string
  lines: string[]
}

/** Runs the client with `args`, writes `input` to its stdin and closes it; resolves when it exits. */
function wire(args: string[], input = ''): Promise<Run> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'tools/wire.ts', ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text))
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text))
  child.stdin.end(input)
  const exited = new Promise<Run>((resolve) => {
    child.on('close', (code) => resolve({ code, stdout, stderr, lines: stdout.split('\n') }))
  })
  return within(exited, `the wire client to exit (${args.join(' ')}); so far:\n${stdout}`, 30_000).catch((error: Error) => {
    child.kill()
    throw new Error(`${error.message}\nstdout so far:\n${stdout}\nstderr:\n${stderr}`)
  })
}

/** The lines of the frames received (`<`), from the first close frame on. */
function closeFrom(run: Run): { code: string; reason: string } {
  const at = run.lines.findIndex((line) => /^< 88 /.test(line))
  if (at < 0) throw new Error(`no close frame received:\n${run.stdout}`)
  const code = run.lines.slice(at).find((line) => line.startsWith('<   close code '))!
  const reason = run.lines.slice(at).find((line) => line.startsWith('<   reason '))!
  return { code: code.slice(4), reason: reason.slice(4) }
}

const test = suite('npm run wire')
let server: RunningServer
let url: string

test.before(async () => {
  server = await startServer()
  url = `ws://127.0.0.1:${server.port}/echo`
})

test.after(async () => {
  await within(server.close(), 'the server to close')
})

test('sends a typed line as a masked text frame and shows both frames of the echo, then closes', async () => {
  const run = await wire(['--mask-key', '37fa213d', url], 'Hello\n')
  assert.is(run.code, 0, run.stdout + run.stderr)
  assert.ok(run.lines.includes('> GET /echo HTTP/1.1␍␊'))
  assert.ok(run.lines.includes('< HTTP/1.1 101 Switching Protocols␍␊'))
  assert.match(run.stdout, /\n\* Sec-WebSocket-Accept is right: base64\(SHA-1\("[A-Za-z0-9+/]{22}==" \+ "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"\)\)\n/)
  // RFC 6455 §5.7's masked "Hello", byte for byte, and the server's unmasked answer.
  const sent = run.lines.indexOf('> 81 85 37 fa 21 3d  frame header, 6 bytes')
  assert.ok(sent > 0, run.stdout)
  assert.equal(run.lines.slice(sent, sent + 10), [
    '> 81 85 37 fa 21 3d  frame header, 6 bytes',
    '>   FIN    1  the final frame of its message',
    '>   RSV1   0  not compressed',
    '>   RSV2   0',
    '>   RSV3   0',
    '>   opcode 0x1  text',
    '>   MASK   1  masked: as every client-to-server frame must be',
    '>   length 5  7-bit form',
    '>   masking key 37 fa 21 3d',
    '>   payload (5 bytes, unmasked) "Hello"',
  ])
  const received = run.lines.indexOf('< 81 05  frame header, 2 bytes')
  assert.ok(received > sent, run.stdout)
  assert.is(run.lines[received + 8], '<   payload (5 bytes) "Hello"')
  // Input ended: the client closes with 1000 and the server answers in kind.
  assert.ok(run.lines.includes('* input ended: closing with 1000'))
  assert.equal(closeFrom(run), { code: 'close code 1000 (Normal Closure)', reason: 'reason (none)' })
  assert.ok(run.lines.includes('* closed'))
})

test('a ping with a payload is answered by a pong with the same payload; raw hex goes out as it is', async () => {
  const run = await wire([url], '/ping are you there\n/hex 81 85 37 fa 21 3d 7f 9f 4d 51 58\n')
  assert.is(run.code, 0, run.stdout)
  const pong = run.lines.indexOf('< 8a 0d  frame header, 2 bytes')
  assert.ok(pong > 0, run.stdout)
  assert.is(run.lines[pong + 8], '<   payload (13 bytes) "are you there"')
  assert.ok(run.lines.includes('> 81 85 37 fa 21 3d  frame header, 6 bytes'))
  assert.ok(run.lines.includes('<   payload (5 bytes) "Hello"'))
})

test('an unmasked frame: the server closes with 1002', async () => {
  const run = await wire([url], '/unmasked hello\n')
  assert.ok(run.lines.includes('>   MASK   0  not masked: right from a server; from a client, a protocol error (1002)'))
  assert.equal(closeFrom(run), { code: 'close code 1002 (Protocol Error)', reason: 'reason "a client must mask every frame it sends (RFC 6455 §5.1)"' })
  assert.ok(run.lines.includes('* the server closes with 1002 (Protocol Error)'))
})

test('invalid UTF-8 in a text frame: the server closes with 1007', async () => {
  const run = await wire([url], '/badutf8\n')
  assert.ok(run.lines.some((line) => line.startsWith('>   payload (2 bytes, unmasked) c3 28  not valid UTF-8')), run.stdout)
  assert.equal(closeFrom(run), { code: 'close code 1007 (Invalid Frame Payload Data)', reason: 'reason "a text message is not valid UTF-8"' })
})

test('close code 1005, which must not be sent: the server closes with 1002', async () => {
  const run = await wire([url], '/close 1005\n')
  assert.ok(run.lines.includes('>   close code 1005 (No Status Rcvd, reserved: must not be sent in a close frame)'))
  assert.equal(closeFrom(run), { code: 'close code 1002 (Protocol Error)', reason: 'reason "close code 1005 may not be sent"' })
})

test('close code 999, below the range: the server closes with 1002', async () => {
  const run = await wire([url], '/close 999\n')
  assert.equal(closeFrom(run), { code: 'close code 1002 (Protocol Error)', reason: 'reason "close code 999 may not be sent"' })
})

test('a close with a code and reason is answered with the same code', async () => {
  const run = await wire([url], '/close 1000 done for today\n')
  assert.is(run.code, 0)
  assert.ok(run.lines.includes('>   reason "done for today"'))
  assert.equal(closeFrom(run).code, 'close code 1000 (Normal Closure)')
  assert.ok(run.lines.includes('* the close handshake is complete; the server closes TCP first (RFC 6455 §7.1.1)'))
})

test('a server that does not switch protocols: exit 1, saying what it answered', async () => {
  const run = await wire([`ws://127.0.0.1:${server.port}/hello`])
  assert.is(run.code, 1)
  assert.ok(run.lines.includes('< HTTP/1.1 200 OK␍␊'))
  assert.ok(run.lines.includes('* the server answered 200, not 101 Switching Protocols: no WebSocket here'))
})

test('--help prints the commands; a bad URL exits 2', async () => {
  const help = await wire(['--help'])
  assert.is(help.code, 0)
  assert.match(help.stdout, 'npm run wire -- [options] ws://HOST:PORT/PATH')
  assert.match(help.stdout, '/unmasked TEXT')
  const bad = await wire(['http://127.0.0.1/'])
  assert.is(bad.code, 2)
  assert.match(bad.stderr, 'the URL must start with ws://')
})

test.run()

// Debian's python3-websockets (10.4, the asyncio API) as a second, independent client:
// small Python scripts run by Debian's own /usr/bin/python3 (execFile, no shell), the
// port as their first argument; each prints one JSON line last, which the test reads.
// Echo of text and binary, a 4 MiB message, permessage-deflate on and off, ping and
// pong both ways, the close handshake, shutdown, and fragmented sends.
//
// Without the package the suite registers no tests and says so in one line.

import { execFile, execFileSync } from 'node:child_process'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { run } from '../helpers/commands.ts'
import { startServer, withServer, type RunningServer } from '../helpers/server.ts'
import { deferred, within } from '../helpers/wait.ts'

const test = suite('python websockets peer')

/** Debian's python, which has python3-websockets (the python3 first on PATH may not). */
const PYTHON = '/usr/bin/python3'

function hasWebsockets(): boolean {
  try {
    execFileSync(PYTHON, ['-c', 'import websockets'], { stdio: 'ignore', timeout: 20_000 })
    return true
  } catch {
    return false
  }
}

/** Removes the indentation the script has in this file. */
function dedent(text: string): string {
  const lines = text.replace(/^\n/, '').split('\n')
  const indent = Math.min(...lines.filter((line) => line.trim() !== '').map((line) => /^ */.exec(line)![0].length))
  return lines.map((line) => line.slice(indent)).join('\n')
}

/** What every script starts with: the URI from the port argument, and out() for the JSON result. */
const PRELUDE = dedent(`
  import asyncio, hashlib, json, logging, os, sys
  import websockets
  PORT = int(sys.argv[1])
  URI = f"ws://127.0.0.1:{PORT}/echo"
  ARGS = sys.argv[2:]
  def out(**result):
      print(json.dumps(result), flush=True)
`)

/** A script: the prelude, then `body` (which defines `async def main()`), run with a deadline. */
function script(body: string): string {
  return `${PRELUDE}\n${dedent(body)}\nasyncio.run(asyncio.wait_for(main(), 25))\n`
}

type Json = Record<string, unknown>

/** Runs a script against `port`; its last line of output, parsed. */
async function python(port: number, body: string, ...args: string[]): Promise<Json> {
  const ran = await run(PYTHON, ['-c', script(body), String(port), ...args], 30_000)
  const stdout = ran.stdout.toString()
  assert.is(ran.code, 0, `python exited with ${ran.code}:\n${ran.stderr}\n${stdout}`)
  const lines = stdout.trim().split('\n')
  return JSON.parse(lines[lines.length - 1]) as Json
}

if (!hasWebsockets()) {
  console.log('python3-websockets is not installed: skipping the Python WebSocket tests (.ci/run installs it)')
} else {
  let server: RunningServer

  test.before(async () => {
    server = await startServer()
  })

  test.after(async () => {
    await server?.close()
  })

  test('text and binary messages come back with their type and content', async () => {
    const result = await python(
      server.port,
      `
      async def main():
          async with websockets.connect(URI, compression=None) as ws:
              text = "héllo, wörld ✓ 𝄞"
              await ws.send(text)
              back_text = await ws.recv()
              data = bytes(range(256)) * 4
              await ws.send(data)
              back_data = await ws.recv()
              await ws.send("")
              empty = await ws.recv()
              out(text=back_text, text_type=type(back_text).__name__,
                  binary_type=type(back_data).__name__, binary_equal=back_data == data, binary_len=len(back_data),
                  empty=empty, empty_type=type(empty).__name__)
      `,
    )
    assert.equal(result, {
      text: 'héllo, wörld ✓ 𝄞',
      text_type: 'str',
      binary_type: 'bytes',
      binary_equal: true,
      binary_len: 1024,
      empty: '',
      empty_type: 'str',
    })
  })

  const BIG = `
    async def main():
        size = int(ARGS[0])
        compression = None if ARGS[1] == "off" else "deflate"
        data = os.urandom(size // 2) * 2  # half random, repeated: compressible, but not trivially
        async with websockets.connect(URI, compression=compression, max_size=2 * size) as ws:
            await ws.send(data)
            back = await ws.recv()
            out(length=len(back), equal=back == data, type=type(back).__name__,
                sha256=hashlib.sha256(back).hexdigest(), sent_sha256=hashlib.sha256(data).hexdigest(),
                extensions=[e.name for e in ws.extensions])
    `

  for (const compression of ['off', 'on']) {
    test(`a 4 MiB binary message comes back intact (max_size raised; compression ${compression})`, async () => {
      const size = 4 * 1024 * 1024
      const result = await python(server.port, BIG, String(size), compression)
      assert.is(result.length, size)
      assert.is(result.type, 'bytes')
      assert.is(result.equal, true)
      assert.is(result.sha256, result.sent_sha256)
      assert.equal(result.extensions, compression === 'on' ? ['permessage-deflate'] : [])
    })
  }

  const COMPRESSION = `
    async def main():
        compression = None if ARGS[0] == "off" else "deflate"
        async with websockets.connect(URI, compression=compression) as ws:
            echoed = []
            for message in ["x" * 100, "the same words again. " * 5000, b"\\x07" * 200000, "small again"]:
                await ws.send(message)
                echoed.append(await ws.recv() == message)
            out(header=ws.response_headers.get("Sec-WebSocket-Extensions"),
                extensions=[e.name for e in ws.extensions], echoed=echoed)
    `

  test('compression="deflate": permessage-deflate is agreed and large messages cross the wire compressed', async () => {
    await withServer({}, async (live) => {
      const result = await python(live.port, COMPRESSION, 'on')
      assert.match(String(result.header), /^permessage-deflate\b/)
      assert.equal(result.extensions, ['permessage-deflate'])
      assert.equal(result.echoed, [true, true, true, true])
      // 110 KB of text and 200 KB of one byte went each way: compressed, a few KB in all.
      assert.is(live.accepted.length, 1)
      const socket = live.accepted[0]
      assert.ok(socket.bytesRead < 20_000, `the server read ${socket.bytesRead} bytes`)
      assert.ok(socket.bytesWritten < 20_000, `the server wrote ${socket.bytesWritten} bytes`)
    })
  })

  test('compression=None: no extension is agreed and messages go plain', async () => {
    await withServer({}, async (live) => {
      const result = await python(live.port, COMPRESSION, 'off')
      assert.is(result.header, null)
      assert.equal(result.extensions, [])
      assert.equal(result.echoed, [true, true, true, true])
      const socket = live.accepted[0]
      assert.ok(socket.bytesRead > 300_000, `the server read ${socket.bytesRead} bytes`)
      assert.ok(socket.bytesWritten > 300_000, `the server wrote ${socket.bytesWritten} bytes`)
    })
  })

  test("ping from python: the pong waiter resolves (websockets matches the pong's payload to the ping's)", async () => {
    const result = await python(
      server.port,
      `
      async def main():
          async with websockets.connect(URI) as ws:
              resolved = []
              for payload in [b"py-ping", "text ping ✓", b"", os.urandom(125), None]:
                  waiter = await ws.ping(payload)
                  await asyncio.wait_for(waiter, 10)
                  resolved.append(waiter.done() and not waiter.cancelled())
              await ws.send("after the pings")
              back = await ws.recv()
              out(resolved=resolved, back=back)
      `,
    )
    assert.equal(result, { resolved: [true, true, true, true, true], back: 'after the pings' })
  })

  test("the server's pings are answered by python: it stays connected over several intervals", async () => {
    await withServer({ wsPingIntervalMs: 100, wsPongTimeoutMs: 2000 }, async (live) => {
      const result = await python(
        live.port,
        `
        class Pings(logging.Handler):
            count = 0
            def emit(self, record):
                if record.getMessage().startswith("< PING"):
                    Pings.count += 1
        logger = logging.getLogger("websockets.client")
        logger.setLevel(logging.DEBUG)
        logger.addHandler(Pings())

        async def main():
            # ping_interval=None: python sends no pings of its own.
            async with websockets.connect(URI, ping_interval=None) as ws:
                for _ in range(400):
                    if Pings.count >= 4:
                        break
                    await asyncio.sleep(0.05)
                await ws.send("still here")
                back = await ws.recv()
                out(pings=Pings.count, open=ws.open, back=back)
        `,
      )
      assert.ok((result.pings as number) >= 4, `python saw ${result.pings} pings`)
      assert.is(result.open, true)
      assert.is(result.back, 'still here')
    })
  })

  test('close: 1000 and 4000 with a reason are answered with the same code', async () => {
    const result = await python(
      server.port,
      `
      async def main():
          closes = []
          for code, reason in [(1000, ""), (1000, "done"), (4000, "four thousand ✓")]:
              ws = await websockets.connect(URI)
              await ws.send("hi")
              await ws.recv()
              await ws.close(code, reason)
              closes.append({"code": ws.close_code, "open": ws.open})
          out(closes=closes)
      `,
    )
    assert.equal(result.closes, [
      { code: 1000, open: false },
      { code: 1000, open: false },
      { code: 4000, open: false },
    ])
  })

  test('shutdown: listener.close() closes a waiting python client with 1001', async () => {
    const own = await startServer()
    try {
      const opened = deferred()
      let stdout = ''
      const finished = new Promise<{ error: Error | null; stderr: string }>((resolve) => {
        const child = execFile(
          PYTHON,
          [
            '-c',
            script(`
            async def main():
                async with websockets.connect(URI) as ws:
                    await ws.send("ready")
                    await ws.recv()
                    print("open", flush=True)
                    await asyncio.wait_for(ws.wait_closed(), 20)
                    out(code=ws.close_code, open=ws.open)
            `),
            String(own.port),
          ],
          { timeout: 30_000 },
          (error, _out, stderr) => resolve({ error, stderr: String(stderr) }),
        )
        child.stdout!.on('data', (chunk: Buffer | string) => {
          stdout += String(chunk)
          if (stdout.split('\n').includes('open')) opened.resolve()
        })
      })
      await within(opened.promise, 'python to say it is connected', 20_000)
      assert.is(own.echo.sessionCount, 1)
      await within(own.listener.close(5000), 'the listener to close')
      const ended = await within(finished, 'python to exit', 20_000)
      assert.is(ended.error, null, ended.stderr)
      const lines = stdout.trim().split('\n')
      assert.equal(JSON.parse(lines[lines.length - 1]), { code: 1001, open: false })
    } finally {
      await own.close()
    }
  })

  test('invalid UTF-8 cannot be sent through the API (a lone surrogate fails to encode); the connection stays usable', async () => {
    // websockets encodes str with UTF-8 itself and validates nothing else it could send as
    // text, so a protocol violation cannot be provoked from here (the raw-socket tests do that).
    const result = await python(
      server.port,
      `
      async def main():
          async with websockets.connect(URI) as ws:
              try:
                  await ws.send("\\ud800")
                  error = None
              except UnicodeEncodeError as e:
                  error = type(e).__name__
              await ws.send("still open")
              back = await ws.recv()
              out(error=error, back=back, open=ws.open)
      `,
    )
    assert.equal(result, { error: 'UnicodeEncodeError', back: 'still open', open: true })
  })

  const FRAGMENTS = `
    async def main():
        compression = None if ARGS[0] == "off" else "deflate"
        async with websockets.connect(URI, compression=compression) as ws:
            await ws.send(["frag", "ment", "é", "d"])
            text = await ws.recv()
            parts = [os.urandom(1000), b"a" * 70000, os.urandom(1)]
            await ws.send(parts)
            binary = await ws.recv()
            async def pieces():
                for piece in ["as", "ync ", "frag" * 1000, "ments"]:
                    await asyncio.sleep(0)
                    yield piece
            await ws.send(pieces())
            from_async = await ws.recv()
            await ws.send("single")
            single = await ws.recv()
            out(text=text, binary_equal=binary == b"".join(parts), binary_type=type(binary).__name__,
                from_async=from_async == "async " + "frag" * 1000 + "ments", single=single,
                extensions=[e.name for e in ws.extensions])
    `

  for (const compression of ['off', 'on']) {
    test(`fragmented sends (a list, an async generator) come back as one message each (compression ${compression})`, async () => {
      const result = await python(server.port, FRAGMENTS, compression)
      assert.equal(result, {
        text: 'fragmentéd',
        binary_equal: true,
        binary_type: 'bytes',
        from_async: true,
        single: 'single',
        extensions: compression === 'on' ? ['permessage-deflate'] : [],
      })
    })
  }
}

test.run()

// The command line (CONTRACT.md, "Starting it" and "Shutting down"), run as a user runs
// it: `node --import tsx src/main.ts ...` in a child process that each test kills in a
// finally, whatever happened.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { parseCommandLine } from '../src/options.ts'
import { MainProcess, runMain } from './helpers/main-process.ts'
import { RawClient, requestBytes } from './helpers/raw-client.ts'
import { field } from './helpers/wire.ts'

/** Every flag the command line takes (src/options.ts). */
const FLAGS = [
  '--host',
  '--port',
  '--public',
  '--max-connections',
  '--max-request-line',
  '--max-header-bytes',
  '--max-header-fields',
  '--max-body',
  '--header-timeout',
  '--body-timeout',
  '--idle-timeout',
  '--shutdown-grace',
  '--help',
]

async function getHello(port: number, host = '127.0.0.1'): Promise<void> {
  const client = await RawClient.connect(port, host)
  try {
    client.write(requestBytes('GET', '/hello'))
    const response = await client.nextOne()
    assert.is(response.status, 200)
    assert.is(response.body.toString(), 'hello world')
  } finally {
    client.destroy()
  }
}

// ---- the flags

const flags = suite('the command line')

flags('--help prints the usage with every flag and exits 0', async () => {
  const result = await runMain(['--help'])
  assert.is(result.code, 0, result.stderr)
  assert.match(result.stdout, /usage/)
  for (const flag of FLAGS) assert.ok(result.stdout.includes(flag), `${flag} is in the help:\n${result.stdout}`)
  assert.is(result.stderr, '')
})

flags('an unknown flag exits 2 with a message that names it', async () => {
  const result = await runMain(['--no-such-flag'])
  assert.is(result.code, 2)
  assert.match(result.stderr, /no-such-flag/)
  assert.match(result.stderr, /--help/)
  assert.not.match(result.stdout, /listening/)
})

flags('a stray argument or a flag without its value exits 2', async () => {
  for (const args of [['extra'], ['--port'], ['--max-body']]) {
    const result = await runMain(args)
    assert.is(result.code, 2, `${args.join(' ')}: ${result.stderr}`)
    assert.match(result.stderr, /push-wire: /)
  }
})

flags('--port 70000 is an error: exit 2 with a message, and nothing listens', async () => {
  for (const args of [['--port', '70000'], ['--port=0x50'], ['--port=']]) {
    const result = await runMain(args)
    assert.is(result.code, 2, `${args.join(' ')}: ${result.stdout}${result.stderr}`)
    assert.match(result.stderr, /the port must be 0-65535/, args.join(' '))
    assert.not.match(result.stdout, /listening/)
  }
  const env = await runMain([], { PORT: '70000' })
  assert.is(env.code, 2, 'PORT=70000')
  assert.match(env.stderr, /0-65535/)
})

flags('parseCommandLine takes a port of decimal digits from 0 to 65535 only', () => {
  for (const port of ['70000', '65536', '-1', 'http', '1.5', '0x50', '1e3', ' 80', '80 ', '+80', '']) {
    const parsed = parseCommandLine([`--port=${port}`], {})
    assert.is(parsed.kind, 'error', `--port=${JSON.stringify(port)}`)
    assert.is(parseCommandLine([], { PORT: port }).kind, port === '' ? 'run' : 'error', `PORT=${JSON.stringify(port)}`)
  }
  for (const [port, n] of [['0', 0], ['80', 80], ['65535', 65535], ['08080', 8080]] as const) {
    const parsed = parseCommandLine(['--port', port], {})
    assert.ok(parsed.kind === 'run' && parsed.options.port === n, `--port ${port}`)
  }
  const fromEnv = parseCommandLine([], { PORT: '9000' })
  assert.ok(fromEnv.kind === 'run' && fromEnv.options.port === 9000, 'PORT=9000')
  const unset = parseCommandLine([], { PORT: '' })
  assert.ok(unset.kind === 'run' && unset.options.port === 8080, 'an empty PORT is unset')
})

flags('a limit that is not a positive integer is an error, exit 2', async () => {
  for (const args of [
    ['--max-body', '0'],
    ['--idle-timeout', '-5'],
    ['--max-connections', 'many'],
  ]) {
    const result = await runMain(args)
    assert.is(result.code, 2, args.join(' '))
    assert.match(result.stderr, new RegExp(args[0]))
  }
})

flags('a port already taken exits 1 with a message', async () => {
  const taken = createServer()
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
  try {
    const { port } = taken.address() as AddressInfo
    const result = await runMain(['--port', String(port)])
    assert.is(result.code, 1)
    assert.match(result.stderr, /cannot listen/)
  } finally {
    await new Promise<void>((resolve) => taken.close(() => resolve()))
  }
})

flags.run()

// ---- listening

const listening = suite('listening')

listening('--port 0 prints "listening on http://127.0.0.1:PORT" and serves GET /hello there', async () => {
  const main = new MainProcess(['--port', '0'])
  try {
    const port = await main.listening()
    assert.ok(port > 0 && port < 65536, `port ${port}`)
    await getHello(port)
  } finally {
    await main.kill()
  }
})

listening('PORT=0 in the environment picks a free port too', async () => {
  const main = new MainProcess([], { PORT: '0' })
  try {
    const port = await main.listening()
    assert.ok(port > 0)
    await getHello(port)
  } finally {
    await main.kill()
  }
})

listening('--port wins over PORT', async () => {
  const main = new MainProcess(['--port', '0'], { PORT: '70000' })
  try {
    await getHello(await main.listening())
  } finally {
    await main.kill()
  }
})

listening('--host 127.0.0.1 listens there and says so', async () => {
  const main = new MainProcess(['--host', '127.0.0.1', '--port', '0'])
  try {
    const port = await main.listening('127.0.0.1')
    await getHello(port, '127.0.0.1')
  } finally {
    await main.kill()
  }
})

listening('a limit flag takes effect: --max-body 5 makes a 6-byte body a 413', async () => {
  const main = new MainProcess(['--port', '0', '--max-body', '5'])
  try {
    const client = await RawClient.connect(await main.listening())
    try {
      client.write('POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\n\r\nabcdef')
      assert.is((await client.nextOne()).status, 413)
    } finally {
      client.destroy()
    }
  } finally {
    await main.kill()
  }
})

listening.run()

// ---- shutting down

const shutdown = suite('shutting down on SIGINT and SIGTERM')

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  shutdown(`${signal} makes the process exit with code 0`, async () => {
    const main = new MainProcess(['--port', '0'])
    try {
      await getHello(await main.listening())
      main.signal(signal)
      const exit = await main.exitWithin()
      assert.equal(exit, { code: 0, signal: null }, main.stderr)
      assert.match(main.stdout, new RegExp(`${signal}: closing`))
    } finally {
      await main.kill()
    }
  })

  shutdown(`${signal} closes an idle keep-alive connection and exits 0`, async () => {
    const main = new MainProcess(['--port', '0'])
    try {
      const client = await RawClient.connect(await main.listening())
      try {
        client.write(requestBytes('GET', '/hello'))
        const response = await client.nextOne()
        assert.is(field(response, 'Connection'), undefined, 'the connection is kept')
        main.signal(signal)
        const rest = await client.untilClosed()
        assert.is(rest.length, 0, 'nothing more is sent on an idle connection')
        const exit = await main.exitWithin()
        assert.equal(exit, { code: 0, signal: null }, main.stderr)
      } finally {
        client.destroy()
      }
    } finally {
      await main.kill()
    }
  })

  shutdown(`${signal} while a request body is arriving: the response still arrives complete, then exit 0`, async () => {
    const main = new MainProcess(['--port', '0'])
    try {
      const client = await RawClient.connect(await main.listening())
      try {
        // The 100 Continue proves the server holds the request (its handler asked for the body).
        client.write('POST /echo HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n')
        const interim = await client.nextInterim()
        assert.is(interim.status, 100)
        client.write('hello')
        main.signal(signal)
        await main.line(new RegExp(`^${signal}: closing$`))
        client.write(' world')
        const response = await client.nextOne()
        assert.is(response.status, 200)
        assert.is(response.body.toString(), 'hello world')
        assert.is(field(response, 'Connection'), 'close', 'the server says it closes')
        await client.untilClosed()
        const exit = await main.exitWithin()
        assert.equal(exit, { code: 0, signal: null }, main.stderr)
      } finally {
        client.destroy()
      }
    } finally {
      await main.kill()
    }
  })
}

shutdown('SIGTERM while a large response is being written: it still arrives complete, then exit 0', async () => {
  const folder = mkdtempSync(join(tmpdir(), 'push-wire-main-'))
  const big = randomBytes(16 * 1024 * 1024)
  writeFileSync(join(folder, 'big.bin'), big)
  writeFileSync(join(folder, 'index.html'), 'index\n')
  const main = new MainProcess(['--port', '0', '--public', folder, '--shutdown-grace', '60000'])
  try {
    const client = await RawClient.connect(await main.listening())
    try {
      client.write(requestBytes('GET', '/big.bin'))
      await client.until('HTTP/1.1 200 OK')
      // Stop reading: the server's writes back up behind a full socket buffer.
      client.pauseReading()
      main.signal('SIGTERM')
      await main.line(/^SIGTERM: closing$/)
      client.resumeReading()
      const response = await client.nextOne(30_000)
      assert.is(response.status, 200)
      assert.is(field(response, 'Content-Length'), String(big.length))
      assert.ok(response.body.equals(big), 'every byte of the file')
      await client.untilClosed()
      const exit = await main.exitWithin()
      assert.equal(exit, { code: 0, signal: null }, main.stderr)
    } finally {
      client.destroy()
    }
  } finally {
    await main.kill()
    rmSync(folder, { recursive: true, force: true })
  }
})

shutdown.run()

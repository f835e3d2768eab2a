// A client on a raw node:net socket for talking HTTP byte by byte: it sends exactly the
// bytes a test gives it (nothing normalises a path or adds a field), reads responses out
// of what arrives as it arrives (wire.ts's ResponseReader), and notes when the server
// closes. Every wait has a generous deadline and fails with a message that says what it
// waited for and what had come; no test asserts on how long something took.

import { connect, type Socket } from 'node:net'
import { delay, WAIT_MS, within } from './wait.ts'
import { ResponseReader, type WireResponse } from './wire.ts'

export class RawClient {
  /** Every byte received, and the responses read out of them. */
  readonly reader = new ResponseReader()
  /** The server's FIN arrived: it will send nothing more. */
  ended = false
  /** The socket is closed (both ways, or reset). */
  closed = false
  error: NodeJS.ErrnoException | null = null
  private readonly watchers = new Set<() => void>()
  /** How many final responses next() has handed out, and interim ones nextInterim(). */
  private finalCursor = 0
  private interimCursor = 0
  /** Where the last response handed out ends in the bytes received. */
  private readUpTo = 0

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.reader.push(chunk)
      this.notify()
    })
    socket.on('end', () => {
      this.ended = true
      this.reader.end()
      this.notify()
    })
    socket.on('error', (error: NodeJS.ErrnoException) => {
      this.error = error
      this.notify()
    })
    socket.on('close', () => {
      this.closed = true
      this.notify()
    })
  }

  /** Connects; rejects if the connection is refused. */
  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    const connecting = new Promise<RawClient>((resolve, reject) => {
      const socket = connect({ port, host, noDelay: true })
      const client = new RawClient(socket)
      socket.once('error', reject)
      socket.once('connect', () => {
        socket.off('error', reject)
        resolve(client)
      })
    })
    return within(connecting, `a connection to ${host}:${port}`)
  }

  // ---- what came

  /** Every byte received so far. */
  get received(): Buffer {
    return this.reader.received
  }

  get receivedLength(): number {
    return this.reader.received.length
  }

  /** Every byte received so far as latin1 text (one character per byte). */
  get text(): string {
    return this.received.toString('latin1')
  }

  /** The final responses read so far (handed out by next() or not). */
  get responses(): readonly WireResponse[] {
    return this.reader.responses
  }

  /** The bytes received after the last response that next() or nextInterim() handed out. */
  get unread(): Buffer {
    return this.received.subarray(this.readUpTo)
  }

  // ---- sending

  /** Writes bytes (a string is latin1, one character per byte); false when the socket's buffer is full. */
  write(data: string | Buffer): boolean {
    return this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data)
  }

  /** Writes bytes and resolves once they are handed to the kernel. */
  send(data: string | Buffer): Promise<void> {
    const written = new Promise<void>((resolve, reject) => {
      this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data, (error) => (error ? reject(error) : resolve()))
    })
    return within(written, 'the bytes to be sent')
  }

  /**
   * Sends the bytes in pieces of `size` with a pause after each; stops early (without
   * error) once the server has closed the connection.
   */
  async sendSlowly(data: string | Buffer, size = 1, pauseMs = 2): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data
    for (let at = 0; at < bytes.length; at += size) {
      if (this.ended || this.closed || this.socket.writableEnded) return
      this.write(bytes.subarray(at, at + size))
      await delay(pauseMs)
    }
  }

  /** Half-closes: sends our FIN; we can still read. */
  end(): void {
    this.socket.end()
  }

  destroy(): void {
    this.socket.destroy()
  }

  /** Stops reading: what the server sends piles up in the kernel, then in the server. */
  pauseReading(): void {
    this.socket.pause()
  }

  resumeReading(): void {
    this.socket.resume()
  }

  /**
   * Declares which final responses (counted from 0) answer HEAD requests: they carry no
   * body. Responses are read as they arrive, so declare them before sending.
   */
  expectHead(...indexes: number[]): this {
    for (const index of indexes) this.reader.headResponses.add(index)
    return this
  }

  // ---- waiting

  /**
   * Resolves when `condition` holds, checked on every socket event. Rejects after `ms`,
   * on bytes that are not HTTP, or as soon as the socket closes with the condition
   * still false (unless `onClose` is 'wait').
   */
  waitFor(condition: () => boolean, what: string, ms = WAIT_MS, onClose: 'fail' | 'wait' = 'fail'): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        let failure: Error | null = null
        if (this.reader.error) {
          failure = new Error(`${what}: the server sent bytes that are not an HTTP response (${this.reader.error.message})`)
        } else if (condition()) {
          done()
          resolve()
          return
        } else if (onClose === 'fail' && this.closed) {
          failure = new Error(`${what}: the connection closed first; received ${this.describe()}`)
        }
        if (failure) {
          done()
          reject(failure)
        }
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`timed out after ${ms} ms waiting for ${what}; received ${this.describe()}`))
      }, ms)
      const done = () => {
        clearTimeout(timer)
        this.watchers.delete(check)
      }
      this.watchers.add(check)
      check()
    })
  }

  /** The next `count` final responses (after those handed out before); interim ones are left to nextInterim(). */
  async next(count = 1, ms = WAIT_MS): Promise<WireResponse[]> {
    const want = this.finalCursor + count
    await this.waitFor(() => this.reader.responses.length >= want, `${count} more response(s) after ${this.finalCursor}`, ms)
    const responses = this.reader.responses.slice(this.finalCursor, want)
    this.finalCursor = want
    if (count > 0) this.handedOut(responses[count - 1])
    return responses
  }

  /** The next final response. */
  async nextOne(ms = WAIT_MS): Promise<WireResponse> {
    return (await this.next(1, ms))[0]
  }

  /** The next interim (1xx) response, e.g. a 100 Continue. */
  async nextInterim(ms = WAIT_MS): Promise<WireResponse> {
    const index = this.interimCursor
    await this.waitFor(() => this.reader.interim.length > index, `interim response ${index}`, ms)
    this.interimCursor++
    const response = this.reader.interim[index]
    this.handedOut(response)
    return response
  }

  /** Waits until the bytes not yet read (see `unread`) contain `text` (latin1). */
  until(text: string, ms = WAIT_MS): Promise<void> {
    let from = this.readUpTo
    return this.waitFor(
      () => {
        const found = this.received.includes(text, from, 'latin1')
        // Next time, search only the new bytes (and what a match may straddle).
        from = Math.max(from, this.receivedLength - text.length + 1)
        return found
      },
      JSON.stringify(text),
      ms,
    )
  }

  /** Resolves when the server has closed its side (its FIN arrived, or the socket closed). */
  serverClosed(ms = WAIT_MS): Promise<void> {
    return this.waitFor(() => this.ended || this.closed, 'the server to close the connection', ms, 'wait')
  }

  /** Resolves when the socket is closed both ways. */
  fullyClosed(ms = WAIT_MS): Promise<void> {
    return this.waitFor(() => this.closed, 'the socket to close', ms, 'wait')
  }

  /** Once the server has closed the connection: the bytes not yet read (see `unread`). */
  async untilClosed(ms = WAIT_MS): Promise<Buffer> {
    await this.serverClosed(ms)
    return this.unread
  }

  private handedOut(response: WireResponse): void {
    this.readUpTo = Math.max(this.readUpTo, this.reader.endOf(response))
  }

  private notify(): void {
    for (const watcher of [...this.watchers]) watcher()
  }

  private describe(): string {
    const text = this.text
    const shown = text.length > 600 ? `${text.slice(0, 300)}...${text.slice(-300)}` : text
    const state = [this.ended && 'FIN', this.closed && 'closed', this.error?.code].filter(Boolean).join(', ')
    return `${text.length} bytes ${JSON.stringify(shown)}${state ? ` (${state})` : ''}`
  }
}

/** One request on a fresh connection: its response, then the connection is dropped. `head`: it is a HEAD request. */
export async function exchange(port: number, request: string | Buffer, options: { head?: boolean } = {}): Promise<WireResponse> {
  const client = await RawClient.connect(port)
  try {
    if (options.head) client.expectHead(0)
    client.write(request)
    return await client.nextOne()
  } finally {
    client.destroy()
  }
}

/** The bytes of a request with a Host field and these field lines. */
export function requestBytes(method: string, target: string, fields: string[] = []): string {
  return `${method} ${target} HTTP/1.1\r\nHost: test\r\n${fields.map((f) => `${f}\r\n`).join('')}\r\n`
}

/** Tries to connect; resolves with the error code if it fails, else 'connected' (and closes). */
export function tryConnect(port: number, host = '127.0.0.1'): Promise<string> {
  const attempt = new Promise<string>((resolve) => {
    const socket = connect({ port, host })
    socket.once('connect', () => {
      socket.destroy()
      resolve('connected')
    })
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message))
  })
  return within(attempt, `a connection attempt to ${host}:${port}`)
}

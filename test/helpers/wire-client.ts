// A raw TCP client for talking HTTP byte by byte: it writes exactly the bytes a test
// gives it, keeps every byte it receives, reads responses out of them as they arrive
// (response-reader.ts), and notes when the server closes. Every wait has a deadline.

import { connect, type Socket } from 'node:net'
import { ResponseReader } from './response-reader.ts'
import { delay, WAIT_MS } from './wait.ts'
import type { WireResponse } from './wire.ts'

export interface ClientOptions {
  /** Keep our side open after the server's FIN (default false: answer its FIN with ours, like most clients). */
  allowHalfOpen?: boolean
}

export class WireClient {
  readonly reader = new ResponseReader()
  /** The server's FIN arrived: it will send nothing more. */
  ended = false
  /** The socket is closed (both ways, or reset). */
  closed = false
  error: NodeJS.ErrnoException | null = null
  private chunks: Buffer[] = []
  private receivedBytes = 0
  private readonly watchers = new Set<() => void>()
  /** Responses already handed out by next(). */
  private cursor = 0

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk)
      this.receivedBytes += chunk.length
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
  static connect(port: number, host = '127.0.0.1', options: ClientOptions = {}): Promise<WireClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host, allowHalfOpen: options.allowHalfOpen ?? false, noDelay: true })
      const client = new WireClient(socket)
      const failed = (error: Error) => reject(error)
      socket.once('error', failed)
      socket.once('connect', () => {
        socket.off('error', failed)
        resolve(client)
      })
    })
  }

  /** Every byte received so far. */
  get received(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.receivedBytes)]
    return this.chunks[0] ?? Buffer.alloc(0)
  }

  get receivedLength(): number {
    return this.receivedBytes
  }

  /** Every byte received so far as latin1 text (one character per byte). */
  get text(): string {
    return this.received.toString('latin1')
  }

  /** The final responses read so far. */
  get responses(): readonly WireResponse[] {
    return this.reader.responses
  }

  /** Writes bytes (a string is latin1, one character per byte); false when the socket's buffer is full. */
  write(data: string | Buffer): boolean {
    return this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data)
  }

  /** Writes bytes and resolves once they are handed to the kernel. */
  send(data: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data, (error) => (error ? reject(error) : resolve()))
    })
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

  /** Declares which final responses (counted from 0) answer HEAD requests: they carry no body. */
  expectHead(...indexes: number[]): this {
    for (const index of indexes) this.reader.headResponses.add(index)
    return this
  }

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

  /** The next `count` final responses (after those handed out before). */
  async next(count = 1, ms = WAIT_MS): Promise<WireResponse[]> {
    const want = this.cursor + count
    await this.waitFor(() => this.reader.responses.length >= want, `${count} more response(s) after ${this.cursor}`, ms)
    const responses = this.reader.responses.slice(this.cursor, want)
    this.cursor = want
    return responses
  }

  /** The next final response. */
  async nextOne(ms = WAIT_MS): Promise<WireResponse> {
    return (await this.next(1, ms))[0]
  }

  /** Resolves when the server has closed its side (its FIN arrived, or the socket closed). */
  serverClosed(ms = WAIT_MS): Promise<void> {
    return this.waitFor(() => this.ended || this.closed, 'the server to close the connection', ms, 'wait')
  }

  /** Resolves when the socket is closed both ways. */
  fullyClosed(ms = WAIT_MS): Promise<void> {
    return this.waitFor(() => this.closed, 'the socket to close', ms, 'wait')
  }

  private notify(): void {
    for (const watcher of [...this.watchers]) watcher()
  }

  private describe(): string {
    const text = this.text
    const shown = text.length > 600 ? `${text.slice(0, 300)}...${text.slice(-300)}` : text
    const state = [this.ended && 'FIN', this.closed && 'closed', this.error?.code].filter(Boolean).join(', ')
    return `${this.receivedBytes} bytes ${JSON.stringify(shown)}${state ? ` (${state})` : ''}`
  }
}

/** Tries to connect; resolves with the error code if it fails, else 'connected' (and closes). */
export function tryConnect(port: number, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ port, host })
    socket.once('connect', () => {
      socket.destroy()
      resolve('connected')
    })
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message))
  })
}

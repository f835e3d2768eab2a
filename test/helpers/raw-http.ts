// A client on a raw node:net socket: it sends exactly the bytes it is given (nothing
// normalises the path or adds a field) and reads responses with test/helpers/wire.ts.
// Every wait has a generous deadline that fails the test with a message instead of hanging.

import { connect, type Socket } from 'node:net'
import { readResponse, type WireResponse } from './wire.ts'

/** Generous: a test waits for an event, never for a duration. */
export const RAW_WAIT_MS = 10_000

export class RawClient {
  private input: Buffer = Buffer.alloc(0)
  private ended = false
  private wake: (() => void) | null = null
  /** Resolves when the socket has closed. */
  readonly closed: Promise<void>

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.input = this.input.length === 0 ? chunk : Buffer.concat([this.input, chunk])
      this.notify()
    })
    const ended = () => {
      this.ended = true
      this.notify()
    }
    socket.on('end', ended)
    socket.on('error', ended) // ECONNRESET and the like: what arrived before it is still read
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        ended()
        resolve()
      }),
    )
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, host)
      socket.once('connect', () => {
        socket.off('error', reject)
        resolve(new RawClient(socket))
      })
      socket.once('error', reject)
    })
  }

  /** Sends bytes; strings are sent as latin1 (one char, one byte). */
  send(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data)
  }

  /** Whether the server has closed its side (or the socket failed). */
  get hasEnded(): boolean {
    return this.ended
  }

  /** The bytes received and not yet taken by a read. */
  get pending(): Buffer {
    return this.input
  }

  /** The next response (an interim 1xx too). `head`: it answers a HEAD request. */
  response(options: { head?: boolean; timeoutMs?: number } = {}): Promise<WireResponse> {
    return this.waitFor(
      () => {
        const result = readResponse(this.input, { head: options.head, ended: this.ended })
        if (result === null) return undefined
        this.input = this.input.subarray(result.used)
        return result.response
      },
      options.timeoutMs ?? RAW_WAIT_MS,
      'a complete response',
    )
  }

  /** Every byte not yet read, once the server has closed the connection. */
  untilClosed(timeoutMs = RAW_WAIT_MS): Promise<Buffer> {
    return this.waitFor(() => (this.ended ? this.input : undefined), timeoutMs, 'the end of the connection', true)
  }

  /** Waits until the bytes not yet read contain `text` (latin1). */
  async until(text: string, timeoutMs = RAW_WAIT_MS): Promise<void> {
    await this.waitFor(() => (this.input.includes(text, 0, 'latin1') ? true : undefined), timeoutMs, JSON.stringify(text))
  }

  destroy(): void {
    this.socket.destroy()
  }

  private notify(): void {
    const wake = this.wake
    this.wake = null
    wake?.()
  }

  private async waitFor<T>(take: () => T | undefined, timeoutMs: number, what: string, endIsFine = false): Promise<T> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const result = take()
      if (result !== undefined) return result
      const received = JSON.stringify(this.input.toString('latin1').slice(0, 300))
      if (this.ended && !endIsFine) throw new Error(`the connection ended before ${what}; received: ${received}`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no ${what} within ${timeoutMs} ms; received: ${received}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
    }
  }
}

/** One request on a fresh connection: its response, then the connection is dropped. */
export async function exchange(port: number, request: string | Buffer, options: { head?: boolean } = {}): Promise<WireResponse> {
  const client = await RawClient.connect(port)
  try {
    client.send(request)
    return await client.response(options)
  } finally {
    client.destroy()
  }
}

/** The bytes of a request with a Host field and these field lines. */
export function requestBytes(method: string, target: string, fields: string[] = []): string {
  return `${method} ${target} HTTP/1.1\r\nHost: test\r\n${fields.map((f) => `${f}\r\n`).join('')}\r\n`
}

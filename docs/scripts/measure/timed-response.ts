// One HTTP request on a raw socket, and when each part of the answer arrived: the head,
// every piece of the body (de-chunked, and gunzipped when the proxy compressed it), and
// the end: a clean last chunk, or the connection closed in the middle of the body (what a
// proxy's timeout does to a stream).

import { connect, type Socket } from 'node:net'
import { createGunzip, type Gunzip } from 'node:zlib'

export interface Arrival {
  /** ms since the request was sent. */
  at: number
  text: string
}

export class TimedResponse {
  readonly started = performance.now()
  /** When the response head arrived (ms since the request), or null. */
  headAt: number | null = null
  status = 0
  head = ''
  readonly arrivals: Arrival[] = []
  /** When the connection closed (ms), or null while open. */
  closedAt: number | null = null
  /** The body ended with chunked framing's last chunk (0 CRLF CRLF). */
  lastChunk = false
  private readonly socket: Socket
  private input: Buffer = Buffer.alloc(0)
  private chunked = false
  private gunzip: Gunzip | null = null
  private inChunk = 0
  private readonly watchers = new Set<() => void>()

  constructor(port: number, path: string, extraHead = '') {
    this.socket = connect({ port, host: '127.0.0.1', noDelay: true })
    this.socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${extraHead}\r\n`)
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk))
    this.socket.on('error', () => {})
    this.socket.on('close', () => {
      this.closedAt = this.now()
      this.notify()
    })
  }

  now(): number {
    return performance.now() - this.started
  }

  /** Everything of the body so far. */
  get text(): string {
    return this.arrivals.map((a) => a.text).join('')
  }

  /** When `text` had arrived, in ms since the request, or null. */
  arrivalOf(text: string): number | null {
    let sofar = ''
    for (const arrival of this.arrivals) {
      sofar += arrival.text
      if (sofar.includes(text)) return arrival.at
    }
    return null
  }

  /** Resolves when `condition` holds or after `ms`, whichever comes first. */
  until(condition: () => boolean, ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const check = () => {
        if (!condition()) return
        finish(true)
      }
      const timer = setTimeout(() => finish(false), ms)
      const finish = (met: boolean) => {
        clearTimeout(timer)
        this.watchers.delete(check)
        resolve(met)
      }
      this.watchers.add(check)
      check()
    })
  }

  close(): void {
    this.socket.destroy()
  }

  /** The raw socket, to write more (a WebSocket frame) after a 101. */
  write(data: Buffer): void {
    this.socket.write(data)
  }

  private notify(): void {
    for (const watcher of [...this.watchers]) watcher()
  }

  private onData(chunk: Buffer): void {
    this.input = Buffer.concat([this.input, chunk])
    if (this.headAt === null) {
      const end = this.input.indexOf('\r\n\r\n')
      if (end === -1) return
      this.headAt = this.now()
      this.head = this.input.subarray(0, end + 4).toString('latin1')
      this.status = Number(this.head.slice(9, 12))
      this.chunked = /\r\ntransfer-encoding:[^\r]*chunked/i.test(this.head)
      if (/\r\ncontent-encoding:[ \t]*gzip/i.test(this.head)) {
        this.gunzip = createGunzip()
        this.gunzip.on('data', (text: Buffer) => this.arrived(text.toString('utf8')))
        this.gunzip.on('error', () => {})
      }
      this.input = this.input.subarray(end + 4)
    }
    if (!this.chunked || this.status === 101) {
      this.body(this.input)
      this.input = Buffer.alloc(0)
      this.notify()
      return
    }
    for (;;) {
      if (this.inChunk > 0) {
        const take = Math.min(this.inChunk, this.input.length)
        if (take === 0) break
        this.body(this.input.subarray(0, take))
        this.input = this.input.subarray(take)
        this.inChunk -= take
        continue
      }
      // At a chunk-size line (after the CRLF that ends the previous chunk's data).
      if (this.input.subarray(0, 2).toString('latin1') === '\r\n') this.input = this.input.subarray(2)
      const lineEnd = this.input.indexOf('\r\n')
      if (lineEnd === -1) break
      const size = parseInt(this.input.subarray(0, lineEnd).toString('latin1'), 16)
      if (size === 0) {
        this.lastChunk = true
        this.input = Buffer.alloc(0)
        break
      }
      this.input = this.input.subarray(lineEnd + 2)
      this.inChunk = size
    }
    this.notify()
  }

  private body(bytes: Buffer): void {
    if (bytes.length === 0) return
    if (this.gunzip) this.gunzip.write(Buffer.from(bytes))
    else this.arrived(bytes.toString('latin1'))
  }

  private arrived(text: string): void {
    this.arrivals.push({ at: this.now(), text })
    this.notify()
  }
}

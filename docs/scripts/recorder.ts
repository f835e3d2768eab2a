// The transcript recorder: a scenario drives the real server over raw TCP and records what
// crosses the wire as logical messages (a request as sent, a response head, one chunk, one
// WebSocket frame, one SSE block), never as TCP happened to split the reads. That is what
// makes a transcript the same on every run.
//
//   const c = await t.connect()
//   c.send('GET /hello HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n')
//   await c.response()
//
// The lines are annotated by src/trace/annotate.ts, the same annotators the --trace flag and
// the wire client use, so a transcript in the course looks like what a learner sees live.

import { connect as tcpConnect, type Socket } from 'node:net'
import { encodeFrame, Opcode } from '../../src/ws/frame.ts'
import { annotateChunk, annotateHttpHead, annotateSseBlock, annotateWsFrame } from '../../src/trace/annotate.ts'

/** The masking key of RFC 6455 §5.7's examples: every transcript masks with it, so frames are the same on every run. */
export const SAMPLE_MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d])
/** The key of RFC 6455 §1.3's sample handshake. */
export const SAMPLE_KEY = 'dGhlIHNhbXBsZSBub25jZQ=='

const WAIT_MS = 5000

export interface ResponseHead {
  status: number
  headers: Map<string, string>
  chunked: boolean
  contentLength: number | null
}

export interface PublishOptions {
  shown?: string | null
}

/** Everything a scenario may use: the server's address, connections, out-of-band publishing, notes. */
export interface Transcript {
  /** The port the server really listens on (the transcript shows 8080, what `npm start` uses). */
  readonly port: number
  connect(): Promise<Connection>
  /**
   * Publishes through POST /publish on a connection of its own; recorded as a note, not as
   * bytes. `shown` replaces the data in the note (a 6 MiB message, a U+2028 that would break
   * the line); null leaves the note out.
   */
  publish(channel: string, data: string, event?: string, options?: PublishOptions): Promise<number>
  /** A line of commentary in the transcript, shown as `# text`. */
  note(text: string): void
  /** Waits, without recording anything (for timers: heartbeats, timeouts). */
  sleep(ms: number): Promise<void>
  /** Starts the server's shutdown, as SIGTERM does; resolves once it has closed. */
  shutdown(): Promise<void>
}

interface Entry {
  /** 0 for a note; else the connection it crossed. */
  connection: number
  text: string
}

export class Recorder implements Transcript {
  private readonly entries: Entry[] = []
  /** How many connections the scenario opened so far. */
  connections = 0
  private readonly open = new Set<Connection>()
  /** Connections whose bytes are not recorded right now (Connection.quietly). */
  readonly muted = new Set<number>()

  constructor(
    readonly port: number,
    /** Closes the server (the scenario's shutdown()). */
    private readonly closeServer: () => Promise<void> = async () => {},
  ) {}

  async connect(): Promise<Connection> {
    const socket = tcpConnect(this.port, '127.0.0.1')
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    })
    socket.setNoDelay(true)
    const connection = new Connection(socket, ++this.connections, this)
    this.open.add(connection)
    return connection
  }

  async publish(channel: string, data: string, event?: string, options: PublishOptions = {}): Promise<number> {
    const query = event === undefined ? '' : `?event=${event}`
    const body = Buffer.from(data)
    const socket = tcpConnect(this.port, '127.0.0.1')
    const reply = await new Promise<string>((resolve, reject) => {
      let text = ''
      socket.on('data', (bytes) => (text += bytes.toString('latin1')))
      socket.on('end', () => resolve(text))
      socket.on('error', reject)
      socket.write(
        `POST /publish/${channel}${query} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
      )
      socket.end(body)
    })
    const id = /\{"id":(\d+)\}/.exec(reply)
    if (!id) throw new Error(`publish to ${channel} failed: ${reply.split('\r\n')[0]}`)
    const shown = options.shown === undefined ? JSON.stringify(data) : options.shown
    if (shown !== null) this.note(`published to ${channel}${event ? ` (event ${event})` : ''}: ${shown} -> id ${id[1]}`)
    return Number(id[1])
  }

  note(text: string): void {
    this.entries.push({ connection: 0, text: `# ${text}` })
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms))
  }

  shutdown(): Promise<void> {
    return this.closeServer()
  }

  /** Records lines that crossed `connection`: `>` client to server, `<` server to client. */
  record(connection: number, direction: '>' | '<', lines: string[]): void {
    if (this.muted.has(connection)) return
    for (const line of lines) this.entries.push({ connection, text: `${direction} ${line}` })
  }

  /** The transcript; connection numbers prefix the lines only when the scenario opened more than one. */
  get lines(): string[] {
    const numbered = this.connections > 1
    return this.entries.map(({ connection, text }) => (numbered && connection > 0 ? `${connection}${text}` : text))
  }

  closeAll(): void {
    for (const connection of this.open) connection.destroy()
  }
}

/** One raw TCP connection to the server, with readers for each kind of logical message. */
export class Connection {
  private buffered: Buffer = Buffer.alloc(0)
  private ended = false
  /** Bytes this connection sent and received so far (for "what it costs" notes). */
  bytesSent = 0
  bytesReceived = 0
  private waiter: (() => void) | null = null

  constructor(
    private readonly socket: Socket,
    readonly number: number,
    private readonly recorder: Recorder,
  ) {
    socket.on('data', (bytes: Buffer) => {
      this.bytesReceived += bytes.length
      this.buffered = this.buffered.length === 0 ? bytes : Buffer.concat([this.buffered, bytes])
      this.wake()
    })
    socket.on('end', () => {
      this.ended = true
      this.wake()
    })
    socket.on('close', () => {
      this.ended = true
      this.wake()
    })
    socket.on('error', () => {})
  }

  /** Sends bytes; `as` says how to show them (an HTTP head and body by default). */
  send(bytes: string | Buffer, as: 'http' | 'raw' = 'http'): void {
    const buffer = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes
    this.socket.write(buffer)
    this.bytesSent += buffer.length
    if (as === 'raw') {
      this.recorder.record(this.number, '>', bodyLines(buffer))
      return
    }
    const end = buffer.indexOf('\r\n\r\n')
    const headEnd = end === -1 ? buffer.length : end + 4
    this.recorder.record(this.number, '>', annotateHttpHead(buffer.subarray(0, headEnd)))
    if (headEnd < buffer.length) this.recorder.record(this.number, '>', bodyLines(buffer.subarray(headEnd)))
  }

  /** Sends one masked client frame (masked with SAMPLE_MASK) and records it annotated. */
  sendFrame(opcode: number, payload: string | Buffer, options: { fin?: boolean; mask?: boolean } = {}): void {
    const data = typeof payload === 'string' ? Buffer.from(payload) : payload
    const frame = encodeFrame(opcode, data, { fin: options.fin ?? true, mask: options.mask === false ? undefined : SAMPLE_MASK })
    this.sendRawFrame(frame)
  }

  /** Sends frame bytes exactly as given (deliberate mistakes included) and records them annotated. */
  sendRawFrame(frame: Buffer): void {
    this.socket.write(frame)
    this.bytesSent += frame.length
    this.recorder.record(this.number, '>', annotateWsFrame(frame))
  }

  /** Reads and records one response head. */
  async head(): Promise<ResponseHead> {
    const end = await this.until(() => {
      const at = this.buffered.indexOf('\r\n\r\n')
      return at === -1 ? -1 : at + 4
    }, 'a response head')
    const bytes = this.take(end)
    this.recorder.record(this.number, '<', annotateHttpHead(bytes))
    return parseHead(bytes.toString('latin1'))
  }

  /** Reads and records a whole response: head, then a Content-Length body or every chunk up to the last. */
  async response(options: { head?: boolean } = {}): Promise<ResponseHead & { body: Buffer }> {
    const head = await this.head()
    if (options.head === true || head.status === 304 || head.status === 204 || (head.status >= 100 && head.status < 200)) {
      return { ...head, body: Buffer.alloc(0) }
    }
    if (head.chunked) {
      const parts: Buffer[] = []
      for (;;) {
        const chunk = await this.chunk()
        if (chunk.length === 0) break
        parts.push(chunk)
      }
      return { ...head, body: Buffer.concat(parts) }
    }
    const length = head.contentLength ?? 0
    await this.until(() => (this.buffered.length >= length ? length : -1), `a body of ${length} bytes`)
    const body = this.take(length)
    if (length > 0) this.recorder.record(this.number, '<', bodyLines(body))
    return { ...head, body }
  }

  /** Reads and records one chunk of a chunked body (RFC 9112 §7.1); returns its data, empty for the last chunk. */
  async chunk(): Promise<Buffer> {
    const { encoded, data } = await this.nextChunk('a chunk')
    this.recorder.record(this.number, '<', annotateChunk(encoded))
    return data
  }

  /** Reads and records one chunk holding one SSE block; shown as its fields rather than as chunk bytes. */
  async sseBlock(): Promise<string> {
    const { encoded, data } = await this.nextChunk('an SSE chunk')
    this.recorder.record(this.number, '<', data.length === 0 ? annotateChunk(encoded) : annotateSseBlock(data))
    return data.toString()
  }

  /** Takes one whole chunk (RFC 9112 §7.1): its bytes on the wire and its data. */
  private async nextChunk(what: string): Promise<{ encoded: Buffer; data: Buffer }> {
    const encoded = this.take(await this.until(() => chunkEnd(this.buffered), what))
    const sizeEnd = encoded.indexOf('\r\n')
    return { encoded, data: encoded.subarray(sizeEnd + 2, encoded.length - 2) }
  }

  /** Reads and records one server frame (RFC 6455 §5.2); returns its opcode and payload. */
  async frame(): Promise<{ opcode: number; fin: boolean; payload: Buffer }> {
    const end = await this.until(() => frameEnd(this.buffered), 'a WebSocket frame')
    const frame = this.take(end)
    this.recorder.record(this.number, '<', annotateWsFrame(frame))
    const second = frame[1] & 0x7f
    const offset = second < 126 ? 2 : second === 126 ? 4 : 10
    return { opcode: frame[0] & 0x0f, fin: (frame[0] & 0x80) !== 0, payload: frame.subarray(offset) }
  }

  /** Waits for the server to close the connection; records it, and any bytes left unread. */
  async closed(): Promise<void> {
    await this.until(() => (this.ended ? 0 : -1), 'the server to close the connection')
    if (this.buffered.length > 0) this.recorder.record(this.number, '<', [hexLine(this.take(this.buffered.length))])
    this.recorder.note(this.recorder.connections > 1 ? `the server closed connection ${this.number}` : 'the server closed the connection')
  }

  /** Runs `steps` without recording what crosses this connection (a handshake shown in an earlier transcript, say). */
  async quietly<T>(steps: () => Promise<T>): Promise<T> {
    this.recorder.muted.add(this.number)
    try {
      return await steps()
    } finally {
      this.recorder.muted.delete(this.number)
    }
  }

  /** Stops reading, as a slow client does: what the server sends waits in the kernel's buffers, then in the server's queue. */
  pause(): void {
    this.socket.pause()
  }

  resume(): void {
    this.socket.resume()
  }

  /**
   * Reads and drops, unrecorded, whole frames up to the first with opcode `until`, which is
   * left to read; returns how many were dropped. For a backlog whose length TCP decides.
   */
  async skipFramesUntil(until: number): Promise<number> {
    for (let skipped = 0; ; skipped++) {
      const end = await this.until(() => frameEnd(this.buffered), 'a WebSocket frame')
      if ((this.buffered[0] & 0x0f) === until) return skipped
      this.take(end)
    }
  }

  /** Reads and drops, unrecorded, the chunks before the last chunk, which is left to read; returns how many. */
  async skipChunksUntilLast(): Promise<number> {
    for (let skipped = 0; ; skipped++) {
      const end = await this.until(() => chunkEnd(this.buffered), 'a chunk')
      if (this.buffered[0] === 0x30 && this.buffered[1] === 0x0d) return skipped
      this.take(end)
    }
  }

  /** Closes our side. */
  end(): void {
    this.socket.end()
  }

  destroy(): void {
    this.socket.destroy()
  }

  /** Resolves with the value `ready` gives once it is not -1, re-checking on every read. */
  private async until(ready: () => number, what: string): Promise<number> {
    const deadline = Date.now() + WAIT_MS
    for (;;) {
      const at = ready()
      if (at !== -1) return at
      if (this.ended) throw new Error(`connection ${this.number} ended while waiting for ${what}`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no ${what} on connection ${this.number} within ${WAIT_MS} ms`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.waiter = () => {
          clearTimeout(timer)
          resolve()
        }
      })
    }
  }

  private wake(): void {
    const waiter = this.waiter
    this.waiter = null
    waiter?.()
  }

  private take(length: number): Buffer {
    const taken = this.buffered.subarray(0, length)
    this.buffered = this.buffered.subarray(length)
    return taken
  }
}

export { Opcode }

function parseHead(text: string): ResponseHead {
  const lines = text.split('\r\n')
  const status = Number(lines[0].split(' ')[1])
  const headers = new Map<string, string>()
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':')
    if (colon > 0) headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim())
  }
  const length = headers.get('content-length')
  return {
    status,
    headers,
    chunked: /chunked/i.test(headers.get('transfer-encoding') ?? ''),
    contentLength: length === undefined ? null : Number(length),
  }
}

/** Where a complete chunk ends in `bytes`, or -1 (the last chunk is `0\r\n\r\n`: no trailers here). */
function chunkEnd(bytes: Buffer): number {
  const sizeEnd = bytes.indexOf('\r\n')
  if (sizeEnd === -1) return -1
  const size = parseInt(bytes.subarray(0, sizeEnd).toString('latin1'), 16)
  const end = sizeEnd + 2 + size + 2
  return bytes.length >= end ? end : -1
}

/** Where a complete frame ends in `bytes`, or -1. */
function frameEnd(bytes: Buffer): number {
  if (bytes.length < 2) return -1
  const second = bytes[1] & 0x7f
  const masked = (bytes[1] & 0x80) !== 0 ? 4 : 0
  let offset = 2
  let length = second
  if (second === 126) {
    if (bytes.length < 4) return -1
    length = bytes.readUInt16BE(2)
    offset = 4
  } else if (second === 127) {
    if (bytes.length < 10) return -1
    length = Number(bytes.readBigUInt64BE(2))
    offset = 10
  }
  const end = offset + masked + length
  return bytes.length >= end ? end : -1
}

/** A body shown as text lines (CR and LF made visible) when it is printable UTF-8, else as hex. */
function bodyLines(body: Buffer): string[] {
  const text = body.toString()
  if (Buffer.from(text).equals(body) && !/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(text)) {
    return text
      .split('\n')
      .map((line, i, all) => line.replaceAll('\r', '␍') + (i < all.length - 1 ? '␊' : ''))
      .filter((line) => line !== '')
  }
  return [hexLine(body)]
}

function hexLine(bytes: Buffer): string {
  return Array.from(bytes.subarray(0, 64), (byte) => byte.toString(16).padStart(2, '0')).join(' ') + (bytes.length > 64 ? ` … (${bytes.length - 64} more bytes)` : '')
}

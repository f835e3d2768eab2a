// One subscriber of a channel per transport, on a raw node:net socket, that counts what it
// costs: every byte both ways (request and response heads, chunk framing, frame headers,
// everything TCP carried), every HTTP request it made, and apart from those the idle
// traffic (heartbeats, WebSocket ping and pong). It behaves as the classic browser client
// of its transport does:
//
//   poll      GET /poll/C?after=N every `pollIntervalMs` on a keep-alive connection
//   longpoll  GET /longpoll/C?after=N&timeout=S, again as soon as each answer arrives
//   stream    GET /stream/C?after=N: NDJSON lines in chunks
//   iframe    GET /iframe/C?after=N: <script>parent.push(...)</script> in chunks
//   sse       GET /sse/C?after=N: text/event-stream in chunks
//   ws        GET /ws/C?after=N + Upgrade: text frames; it answers every ping
//
// Its request heads carry only Host (a browser's carry several hundred bytes more).

import { randomBytes } from 'node:crypto'
import { connect, type Socket } from 'node:net'
import { encodeFrame, FrameDecoder, Opcode } from '../../../src/ws/frame.ts'

export const TRANSPORTS = ['poll', 'longpoll', 'stream', 'iframe', 'sse', 'ws'] as const
export type Transport = (typeof TRANSPORTS)[number]

export const TRANSPORT_NAMES: Record<Transport, string> = {
  poll: 'short polling',
  longpoll: 'long polling',
  stream: 'HTTP streaming',
  iframe: 'forever iframe',
  sse: 'SSE',
  ws: 'WebSocket',
}

export interface SubscriberOptions {
  port: number
  channel: string
  transport: Transport
  /** Put before the path, for a proxy's location (e.g. /x/name). */
  prefix?: string
  /** The cursor to start from (after=N). */
  after: number
  /** Short polling: the time between two polls, and when the first one goes (0 to interval). */
  pollIntervalMs?: number
  pollOffsetMs?: number
  /** Long polling: the timeout= parameter, in seconds. */
  longPollTimeoutS?: number
  /** Called for every message, in order of arrival. */
  onMessage(subscriber: Subscriber, id: number, data: string): void
}

/** Bytes and requests so far; a snapshot, so that a phase's cost is the difference of two. */
export interface Tally {
  bytesIn: number
  bytesOut: number
  requests: number
  heartbeats: number
  heartbeatBytes: number
  /** Complete responses received (the polls' answers; a stream's response never completes). */
  answers: number
  /** 204 answers to long polls and empty answers to short polls. */
  emptyAnswers: number
  emptyAnswerBytes: number
}

const HEAD_END = Buffer.from('\r\n\r\n')

export class Subscriber {
  /** The id of the newest message received. */
  lastId = 0
  /** When (performance.now()) the server or a proxy closed a streamed subscription, or null. */
  closedAt: number | null = null
  messages = 0
  /** Resolves once the subscription is in place (the head and the preamble received, or the first poll sent). */
  readonly ready: Promise<void>
  private markReady!: () => void
  private failReady!: (error: Error) => void
  private socket: Socket | null = null
  private closed = false
  private timer: NodeJS.Timeout | null = null
  private readonly tally: Tally = { bytesIn: 0, bytesOut: 0, requests: 0, answers: 0, heartbeats: 0, heartbeatBytes: 0, emptyAnswers: 0, emptyAnswerBytes: 0 }
  /** Bytes of sockets already closed. */
  private closedIn = 0
  private closedOut = 0
  // The response being read.
  private input: Buffer = Buffer.alloc(0)
  private head: { status: number; contentLength: number; chunked: boolean; close: boolean; size: number } | null = null
  private awaiting = false
  private wsDecoder: FrameDecoder | null = null
  private wsPieces: Buffer[] = []

  constructor(readonly options: SubscriberOptions) {
    this.ready = new Promise((resolve, reject) => {
      this.markReady = resolve
      this.failReady = reject
    })
    this.ready.catch(() => {}) // a failure is reported by whoever awaits it
    this.lastId = options.after
    this.open()
  }

  get transport(): Transport {
    return this.options.transport
  }

  /** What it has cost so far. */
  snapshot(): Tally {
    const live = this.socket
    return {
      ...this.tally,
      bytesIn: this.closedIn + (live ? live.bytesRead : 0),
      bytesOut: this.closedOut + (live ? live.bytesWritten : 0),
    }
  }

  close(): void {
    this.closed = true
    if (this.timer !== null) clearTimeout(this.timer)
    this.socket?.destroy()
  }

  // ---- the connection

  private open(): void {
    const socket = connect({ port: this.options.port, host: '127.0.0.1', noDelay: true })
    this.socket = socket
    this.input = Buffer.alloc(0)
    this.head = null
    this.wsDecoder = null
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('error', (error) => this.failReady(error))
    socket.on('close', () => {
      this.closedIn += socket.bytesRead
      this.closedOut += socket.bytesWritten
      if (this.socket === socket) this.socket = null
      if (this.closed) return
      // The server closed: a poll comes back on a new connection; a stream has ended.
      if (this.transport === 'poll' || this.transport === 'longpoll') {
        if (this.awaiting) {
          this.awaiting = false
          this.request()
        }
      } else {
        this.closedAt = performance.now()
        this.failReady(new Error(`${this.transport}: the server closed the stream`))
      }
    })
    if (this.transport === 'poll' || this.transport === 'longpoll') {
      socket.once('connect', () => {
        if (this.transport === 'poll') {
          this.timer = setTimeout(() => this.pollTick(), this.options.pollOffsetMs ?? 0)
        } else {
          this.request()
        }
        this.markReady()
      })
      return
    }
    this.request()
  }

  private path(): string {
    const { channel, transport, prefix = '' } = this.options
    switch (transport) {
      case 'poll':
        return `${prefix}/poll/${channel}?after=${this.lastId}`
      case 'longpoll':
        return `${prefix}/longpoll/${channel}?after=${this.lastId}&timeout=${this.options.longPollTimeoutS ?? 25}`
      default:
        return `${prefix}/${transport}/${channel}?after=${this.lastId}`
    }
  }

  private request(): void {
    if (this.closed) return
    if (this.socket === null || this.socket.destroyed) {
      this.awaiting = true
      this.open()
      return
    }
    let head = `GET ${this.path()} HTTP/1.1\r\nHost: 127.0.0.1:${this.options.port}\r\n`
    if (this.transport === 'ws') {
      head += `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n`
    }
    this.tally.requests++
    this.awaiting = true
    this.socket.write(`${head}\r\n`, 'latin1')
  }

  private pollTick(): void {
    if (this.closed) return
    // setInterval's way: the next poll goes at its time whatever this one does (one in flight at most).
    this.timer = setTimeout(() => this.pollTick(), this.options.pollIntervalMs ?? 1000)
    if (!this.awaiting) this.request()
  }

  // ---- reading

  private onData(chunk: Buffer): void {
    if (this.wsDecoder !== null) return this.onFrames(chunk)
    this.input = this.input.length === 0 ? chunk : Buffer.concat([this.input, chunk])
    for (;;) {
      if (this.head === null && !this.readHead()) return
      if (this.wsDecoder !== null) {
        const rest = this.input
        this.input = Buffer.alloc(0)
        if (rest.length > 0) this.onFrames(rest)
        return
      }
      const head = this.head!
      if (head.chunked) {
        if (!this.readChunk()) return
      } else {
        // A Content-Length body (the polls), or none (204, 304).
        if (this.input.length < head.contentLength) return
        const body = this.input.subarray(0, head.contentLength)
        this.input = this.input.subarray(head.contentLength)
        this.head = null
        this.onAnswer(head.status, body.toString('utf8'), head.size + head.contentLength, head.close)
      }
    }
  }

  /** Reads a response head; false when it is not all there yet. */
  private readHead(): boolean {
    const end = this.input.indexOf(HEAD_END)
    if (end === -1) return false
    const text = this.input.subarray(0, end).toString('latin1')
    this.input = this.input.subarray(end + 4)
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1])
    const field = (name: string) => new RegExp(`\r\n${name}:[ \t]*([^\r]*)`, 'i').exec(text)?.[1]
    this.head = {
      status,
      contentLength: Number(field('content-length') ?? 0),
      chunked: /chunked/i.test(field('transfer-encoding') ?? ''),
      close: /close/i.test(field('connection') ?? ''),
      size: end + 4,
    }
    if (this.transport === 'ws') {
      if (status !== 101) {
        this.failReady(new Error(`ws: the upgrade got ${status}`))
        return false
      }
      this.wsDecoder = new FrameDecoder({ expectMasked: false, allowRsv1: false, maxPayload: 1 << 24 })
      this.markReady()
    } else if (this.transport === 'stream') {
      this.markReady() // no preamble: the head is the whole set-up
    } else if ((this.transport === 'sse' || this.transport === 'iframe') && status !== 200) {
      this.failReady(new Error(`${this.transport}: got ${status}`))
    }
    return true
  }

  /** Reads one chunk (size line, data, CRLF); false when it is not all there yet. */
  private readChunk(): boolean {
    const lineEnd = this.input.indexOf('\r\n')
    if (lineEnd === -1) return false
    const size = parseInt(this.input.subarray(0, lineEnd).toString('latin1'), 16)
    const total = lineEnd + 2 + size + 2
    if (this.input.length < total) return false
    const data = this.input.subarray(lineEnd + 2, lineEnd + 2 + size).toString('utf8')
    this.input = this.input.subarray(total)
    if (size === 0) {
      this.head = null // the last chunk: the stream ended
      return true
    }
    this.onStreamText(data, total)
    return true
  }

  private onStreamText(text: string, wireBytes: number): void {
    const heartbeat = { stream: '\n', iframe: '<!-- -->\n', sse: ':\n\n' }[this.transport as 'stream' | 'iframe' | 'sse']
    if (text === heartbeat) {
      this.tally.heartbeats++
      this.tally.heartbeatBytes += wireBytes
      return
    }
    if (this.transport === 'stream') {
      for (const line of text.split('\n')) if (line !== '') this.onEnvelope(line)
    } else if (this.transport === 'iframe') {
      if (text.startsWith('<!doctype')) return this.markReady() // the padding
      // <script>parent.push({"id":1,"data":"..."})</script>: the envelope, with <>& as \u escapes (JSON.parse reads them).
      const match = /^<script>parent\.[\w$.]+\((.*)\)<\/script>\n$/s.exec(text)
      if (match) this.onEnvelope(match[1])
    } else {
      if (text.startsWith('retry:')) return this.markReady()
      const id = /(?:^|\n)id: (\d+)\n/.exec(text)
      const data = [...text.matchAll(/(?:^|\n)data: ([^\n]*)/g)].map((m) => m[1]).join('\n')
      if (id) this.onMessage(Number(id[1]), data)
    }
  }

  private onEnvelope(json: string): void {
    const envelope = JSON.parse(json) as { id?: number; data?: string; gap?: boolean }
    if (envelope.gap) throw new Error(`${this.transport}: a gap; the measurement lost messages`)
    this.onMessage(envelope.id!, envelope.data!)
  }

  private onMessage(id: number, data: string): void {
    this.lastId = id
    this.messages++
    this.options.onMessage(this, id, data)
  }

  /** A whole answer to a poll. */
  private onAnswer(status: number, body: string, wireBytes: number, close: boolean): void {
    this.awaiting = false
    this.tally.answers++
    let messages: { id: number; data: string }[] = []
    if (status === 200) {
      const answer = JSON.parse(body) as { messages: { id: number; data: string }[]; last: number; gap?: unknown }
      if (answer.gap) throw new Error(`${this.transport}: a gap; the measurement lost messages`)
      messages = answer.messages
    } else if (status !== 204 && status !== 304) {
      throw new Error(`${this.transport}: got ${status} ${body}`)
    }
    if (messages.length === 0) {
      this.tally.emptyAnswers++
      this.tally.emptyAnswerBytes += wireBytes + this.lastRequestBytes()
    }
    for (const message of messages) this.onMessage(message.id, message.data)
    if (close) {
      // Connection: close: the next request goes on a new connection (see 'close' above).
      this.awaiting = this.transport === 'longpoll'
      this.socket?.end()
      return
    }
    if (this.transport === 'longpoll') this.request()
  }

  /** The size of the request head this client sends, for counting what an empty answer cost both ways. */
  private lastRequestBytes(): number {
    return Buffer.byteLength(`GET ${this.path()} HTTP/1.1\r\nHost: 127.0.0.1:${this.options.port}\r\n\r\n`)
  }

  private onFrames(chunk: Buffer): void {
    const decoder = this.wsDecoder!
    decoder.feed(chunk)
    for (let event = decoder.next(); event.type !== 'need-data'; event = decoder.next()) {
      if (event.type === 'error') throw event.error
      if (event.opcode === Opcode.PING) {
        // A ping is 2 bytes of header and its payload; the pong, masked, 6 and the same payload.
        const pong = encodeFrame(Opcode.PONG, event.data, { mask: randomBytes(4) })
        this.socket?.write(pong)
        this.tally.heartbeats++
        this.tally.heartbeatBytes += 2 + event.data.length + pong.length
        continue
      }
      if (event.opcode === Opcode.CLOSE) {
        this.socket?.destroy()
        return
      }
      this.wsPieces.push(Buffer.from(event.data))
      if (event.last && event.fin) {
        const text = Buffer.concat(this.wsPieces).toString('utf8')
        this.wsPieces = []
        this.onEnvelope(text)
      }
    }
  }
}

/** The difference of two tallies: what happened in between. */
export function spent(before: Tally, after: Tally): Tally {
  return {
    bytesIn: after.bytesIn - before.bytesIn,
    bytesOut: after.bytesOut - before.bytesOut,
    requests: after.requests - before.requests,
    answers: after.answers - before.answers,
    heartbeats: after.heartbeats - before.heartbeats,
    heartbeatBytes: after.heartbeatBytes - before.heartbeatBytes,
    emptyAnswers: after.emptyAnswers - before.emptyAnswers,
    emptyAnswerBytes: after.emptyAnswerBytes - before.emptyAnswerBytes,
  }
}

// Subscribers for the push transports, the way a client of each one reads, for the tests
// that follow a channel for a long time (test/push/no-loss.test.ts, slow-client.test.ts):
//
//   /poll, /longpoll   a keep-alive connection, one request after the other, the JSON parsed
//                      once the whole body has come
//   /stream            NDJSON: one item per complete line
//   /iframe            one item per complete <script>parent.F(...)</script>
//   /sse               a text/event-stream parser: an event is dispatched by its empty line
//   /ws/{channel}      the `ws` package (RFC 6455, permessage-deflate as it offers it)
//
// The HTTP transports run on raw node:net sockets with an incremental response parser
// (head, then Content-Length, chunked or close-delimited body), so that bytes are handled
// as they arrive and a cut leaves exactly what had arrived. A Cutter destroys the socket
// after a random number of bytes, in the middle of a chunk, a line, an event or a frame:
// the client keeps only what it had fully received, and reconnects with the last id.
//
// Every wait has a generous deadline; no test asserts on how long something took.

import { connect, type Socket } from 'node:net'
import WebSocket, { type ClientOptions, type RawData } from 'ws'
import { WAIT_MS } from './wait.ts'

// ---- a seeded PRNG (mulberry32): the same seed, the same cuts and messages

export class Rng {
  private state: number

  constructor(seed: number) {
    this.state = seed >>> 0
  }

  /** A float in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0)
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1))
  }

  chance(p: number): boolean {
    return this.next() < p
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]
  }
}

// ---- what a subscriber receives

export interface Received {
  readonly id: number
  readonly data: string
  /** '' when the message has no event name. */
  readonly event: string
}

export type Item = ({ readonly kind: 'message' } & Received) | { readonly kind: 'gap'; readonly first: number }

export interface ItemSink {
  message(message: Received): void
  gap(first: number): void
}

/** One JSON element of /stream, /ws or /iframe: an envelope or a gap record. */
function deliverJson(value: unknown, sink: ItemSink): void {
  const record = value as { id?: unknown; data?: unknown; event?: unknown; gap?: unknown; first?: unknown }
  if (record.gap === true) {
    if (typeof record.first !== 'number') throw new Error(`a gap record without first: ${JSON.stringify(value)}`)
    sink.gap(record.first)
    return
  }
  if (typeof record.id !== 'number' || typeof record.data !== 'string') throw new Error(`not an envelope: ${JSON.stringify(value).slice(0, 200)}`)
  if (record.event !== undefined && typeof record.event !== 'string') throw new Error(`a bad event name: ${JSON.stringify(record.event)}`)
  sink.message({ id: record.id, data: record.data, event: record.event ?? '' })
}

/** The body of /poll and /longpoll: {"gap":{"first":M}?,"messages":[...],"last":N}. */
function deliverPollBody(text: string, sink: ItemSink): number {
  const body = JSON.parse(text) as { gap?: { first: number }; messages: unknown[]; last: number }
  if (!Array.isArray(body.messages) || typeof body.last !== 'number') throw new Error(`not a poll answer: ${text.slice(0, 200)}`)
  if (body.gap !== undefined) sink.gap(body.gap.first)
  for (const envelope of body.messages) deliverJson(envelope, sink)
  return body.messages.length
}

// ---- body parsers: bytes in as they come, items out once complete

export interface ContentParser {
  push(bytes: Buffer): void
  /** Bytes of an item not yet complete are held (a cut here lands inside an item). */
  readonly partial: boolean
}

/** Splits bytes into lines ending with LF; each complete line is handed over whole. */
class Lines {
  private pending: Buffer[] = []

  constructor(private readonly onLine: (line: Buffer) => void) {}

  get partial(): boolean {
    return this.pending.length > 0
  }

  push(bytes: Buffer): void {
    let start = 0
    for (;;) {
      const end = bytes.indexOf(10, start)
      if (end === -1) {
        if (start < bytes.length) this.pending.push(bytes.subarray(start))
        return
      }
      const piece = bytes.subarray(start, end)
      const line = this.pending.length === 0 ? piece : Buffer.concat([...this.pending, piece])
      this.pending = []
      start = end + 1
      this.onLine(line)
    }
  }
}

/** application/x-ndjson: one envelope (or gap record) per line; an empty line is a heartbeat. */
export class NdjsonParser implements ContentParser {
  heartbeats = 0
  private readonly lines: Lines

  constructor(sink: ItemSink) {
    this.lines = new Lines((line) => {
      if (line.length === 0) this.heartbeats++
      else deliverJson(JSON.parse(line.toString('utf8')), sink)
    })
  }

  get partial(): boolean {
    return this.lines.partial
  }

  push(bytes: Buffer): void {
    this.lines.push(bytes)
  }
}

/**
 * text/event-stream as the WHATWG parser reads it (LF line ends, as this server writes):
 * fields until an empty line, which dispatches the event; an event cut before its empty
 * line is never dispatched. A message event must carry its own id: field.
 */
export class SseParser implements ContentParser {
  retry: number | null = null
  comments = 0
  /** The last event ID buffer: what a browser sends back as Last-Event-ID. */
  lastEventId = ''
  private readonly lines: Lines
  private data: string[] | null = null
  private event = ''
  private id: string | null = null
  private fieldsSeen = false

  constructor(private readonly sink: ItemSink) {
    this.lines = new Lines((line) => this.line(line.toString('utf8')))
  }

  get partial(): boolean {
    return this.lines.partial || this.fieldsSeen
  }

  push(bytes: Buffer): void {
    this.lines.push(bytes)
  }

  private line(text: string): void {
    if (text.endsWith('\r')) text = text.slice(0, -1)
    if (text === '') return this.dispatch()
    if (text.startsWith(':')) {
      this.comments++
      return
    }
    this.fieldsSeen = true
    const colon = text.indexOf(':')
    const name = colon === -1 ? text : text.slice(0, colon)
    let value = colon === -1 ? '' : text.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    switch (name) {
      case 'data':
        ;(this.data ??= []).push(value)
        break
      case 'event':
        this.event = value
        break
      case 'id':
        if (!value.includes('\0')) {
          this.lastEventId = value
          this.id = value
        }
        break
      case 'retry':
        if (/^[0-9]+$/.test(value)) this.retry = Number(value)
        break
      default:
        throw new Error(`an unexpected SSE field ${JSON.stringify(name)}`)
    }
  }

  private dispatch(): void {
    const data = this.data
    const event = this.event
    const id = this.id
    this.data = null
    this.event = ''
    this.id = null
    this.fieldsSeen = false
    if (data === null) return
    const text = data.join('\n')
    if (event === 'gap') {
      if (id !== null) throw new Error('a gap event carries an id: field')
      this.sink.gap((JSON.parse(text) as { first: number }).first)
      return
    }
    if (id === null || !/^[0-9]+$/.test(id)) throw new Error(`an event without a numeric id: field: ${JSON.stringify(text.slice(0, 100))}`)
    this.sink.message({ id: Number(id), data: text, event })
  }
}

const SCRIPT_OPEN = Buffer.from('<script>')
const SCRIPT_CLOSE = Buffer.from('</script>')

/** The forever frame: one item per complete <script>parent.F(json)</script>; padding and comments between are skipped. */
export class IframeParser implements ContentParser {
  scripts = 0
  private held: Buffer = Buffer.alloc(0)
  private readonly call: RegExp

  constructor(
    private readonly sink: ItemSink,
    callback: string,
  ) {
    this.call = new RegExp(`^parent\\.${callback.replace(/[.$]/g, '\\$&')}\\(([^]*)\\)$`)
  }

  get partial(): boolean {
    return this.held.includes(SCRIPT_OPEN)
  }

  push(bytes: Buffer): void {
    let buffer = this.held.length === 0 ? bytes : Buffer.concat([this.held, bytes])
    for (;;) {
      const open = buffer.indexOf(SCRIPT_OPEN)
      if (open === -1) {
        // Keep what could be the start of a "<script>" cut in two.
        this.held = buffer.subarray(Math.max(0, buffer.length - SCRIPT_OPEN.length + 1))
        return
      }
      const close = buffer.indexOf(SCRIPT_CLOSE, open)
      if (close === -1) {
        this.held = buffer.subarray(open)
        return
      }
      const script = buffer.toString('utf8', open + SCRIPT_OPEN.length, close)
      const match = this.call.exec(script)
      if (match === null) throw new Error(`a script that is not a callback call: ${JSON.stringify(script.slice(0, 200))}`)
      this.scripts++
      deliverJson(JSON.parse(match[1]), this.sink)
      buffer = buffer.subarray(close + SCRIPT_CLOSE.length)
    }
  }
}

// ---- HTTP responses, read as they arrive

export interface ResponseHandlers {
  head(status: number, fields: Map<string, string>): void
  body(bytes: Buffer): void
  /** The response is complete: its length reached, its last chunk read, or (close-delimited) the connection ended. */
  end(): void
}

type ParserState = 'head' | 'length' | 'size' | 'data' | 'data-crlf' | 'trailer' | 'close'

/** Responses one after the other on one connection; body bytes are handed on as they come. */
export class HttpResponseParser {
  private buffer: Buffer = Buffer.alloc(0)
  private state: ParserState = 'head'
  private remaining = 0

  constructor(private readonly handlers: ResponseHandlers) {}

  /** Inside a response's body (a cut here leaves it incomplete). */
  get inBody(): boolean {
    return this.state !== 'head' || this.buffer.length > 0
  }

  push(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk])
    while (this.step());
  }

  /** The connection ended: a close-delimited body is complete. */
  finish(): void {
    if (this.state === 'close') {
      this.state = 'head'
      this.handlers.end()
    }
  }

  private step(): boolean {
    const buffer = this.buffer
    switch (this.state) {
      case 'head': {
        const end = buffer.indexOf('\r\n\r\n')
        if (end === -1) return false
        const lines = buffer.toString('latin1', 0, end).split('\r\n')
        const status = /^HTTP\/1\.[01] (\d{3}) /.exec(lines[0])
        if (status === null) throw new Error(`not a status line: ${JSON.stringify(lines[0])}`)
        const fields = new Map<string, string>()
        for (const line of lines.slice(1)) {
          const colon = line.indexOf(':')
          fields.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim())
        }
        this.buffer = buffer.subarray(end + 4)
        const code = Number(status[1])
        this.handlers.head(code, fields)
        if (code < 200 || code === 204 || code === 304) {
          this.handlers.end()
        } else if (fields.get('transfer-encoding')?.toLowerCase() === 'chunked') {
          this.state = 'size'
        } else if (fields.has('content-length')) {
          this.remaining = Number(fields.get('content-length'))
          if (this.remaining === 0) this.handlers.end()
          else this.state = 'length'
        } else {
          this.state = 'close'
        }
        return true
      }
      case 'length':
      case 'data': {
        if (buffer.length === 0) return false
        const n = Math.min(this.remaining, buffer.length)
        this.buffer = buffer.subarray(n)
        this.remaining -= n
        const inChunk = this.state === 'data'
        if (this.remaining === 0) this.state = inChunk ? 'data-crlf' : 'head'
        this.handlers.body(buffer.subarray(0, n))
        if (this.remaining === 0 && !inChunk) this.handlers.end()
        return true
      }
      case 'data-crlf':
        if (buffer.length < 2) return false
        if (buffer[0] !== 13 || buffer[1] !== 10) throw new Error('a chunk does not end with CRLF')
        this.buffer = buffer.subarray(2)
        this.state = 'size'
        return true
      case 'size': {
        const end = buffer.indexOf('\r\n')
        if (end === -1) return false
        const text = buffer.toString('latin1', 0, end)
        if (!/^[0-9a-fA-F]+$/.test(text)) throw new Error(`a bad chunk-size line ${JSON.stringify(text)}`)
        this.buffer = buffer.subarray(end + 2)
        const size = parseInt(text, 16)
        if (size === 0) {
          this.state = 'trailer'
        } else {
          this.remaining = size
          this.state = 'data'
        }
        return true
      }
      case 'trailer': {
        const end = buffer.indexOf('\r\n')
        if (end === -1) return false
        this.buffer = buffer.subarray(end + 2)
        if (end === 0) {
          this.state = 'head'
          this.handlers.end()
        }
        return true
      }
      case 'close':
        if (buffer.length === 0) return false
        this.buffer = Buffer.alloc(0)
        this.handlers.body(buffer)
        return true
    }
  }
}

// ---- cuts

/**
 * Decides where connections are cut: after a random number of bytes (counted across the
 * connections of a run), at most `maxCuts` times. Small budgets land in heads and first
 * items, large ones anywhere in a stream.
 */
export class Cutter {
  cuts = 0
  /** Cuts that left part of an item (a line, an event, a script, a poll body) unread. */
  midItem = 0
  /** Bytes seen by the clients (cut parts included). */
  bytes = 0
  private budget: number

  constructor(
    private readonly rng: Rng,
    readonly maxCuts: number,
    private readonly maxBudget: number,
  ) {
    this.budget = this.draw()
  }

  get exhausted(): boolean {
    return this.cuts >= this.maxCuts
  }

  /** The part of `chunk` the client gets, and whether the connection is cut after it. */
  take(chunk: Buffer): { keep: Buffer; cut: boolean } {
    this.bytes += chunk.length
    if (this.exhausted) return { keep: chunk, cut: false }
    if (chunk.length < this.budget) {
      this.budget -= chunk.length
      return { keep: chunk, cut: false }
    }
    const keep = chunk.subarray(0, this.budget)
    this.cuts++
    this.budget = this.draw()
    return { keep, cut: true }
  }

  /** A cut decided elsewhere (a parked long poll dropped). */
  extra(): void {
    this.cuts++
  }

  private draw(): number {
    return this.rng.chance(0.25) ? this.rng.int(1, 800) : this.rng.int(1, this.maxBudget)
  }
}

/**
 * Routes the socket's 'data' through `cutter`: when a cut falls inside a chunk, only the
 * bytes before it are seen, then `onCut` runs and the socket is destroyed. `observe` sees
 * every byte that gets through, once. Bytes a reader hands back with unshift() (the `ws`
 * client does, with what followed the 101 response) pass again without being counted.
 */
export function cutting(socket: Socket, cutter: Cutter, onCut: () => void = () => {}, observe?: (bytes: Buffer) => void): Socket {
  const emit = socket.emit.bind(socket) as (event: string | symbol, ...args: unknown[]) => boolean
  const unshift = socket.unshift.bind(socket)
  const handedBack = new Set<unknown>()
  let cut = false
  socket.unshift = ((chunk: Buffer, encoding?: BufferEncoding) => {
    handedBack.add(chunk)
    unshift(chunk, encoding)
  }) as typeof socket.unshift
  socket.emit = ((event: string | symbol, ...args: unknown[]): boolean => {
    if (event !== 'data') return emit(event, ...args)
    if (handedBack.delete(args[0])) return emit('data', args[0])
    if (cut) return false
    const decision = cutter.take(args[0] as Buffer)
    if (decision.keep.length > 0) observe?.(decision.keep)
    if (!decision.cut) return emit('data', decision.keep)
    cut = true
    if (decision.keep.length > 0) emit('data', decision.keep)
    onCut()
    socket.destroy()
    return true
  }) as typeof socket.emit
  return socket
}

/** Follows frame boundaries in what a WebSocket server sends (after the 101 head): is a frame half-received? */
class FrameBoundaries {
  private head: Buffer | null = Buffer.alloc(0)
  private header: number[] = []
  private remaining = 0

  get midFrame(): boolean {
    return this.head === null && (this.header.length > 0 || this.remaining > 0)
  }

  push(bytes: Buffer): void {
    if (this.head !== null) {
      const all = Buffer.concat([this.head, bytes])
      const end = all.indexOf('\r\n\r\n')
      if (end === -1) {
        this.head = all
        return
      }
      this.head = null
      bytes = all.subarray(end + 4)
    }
    let at = 0
    while (at < bytes.length) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, bytes.length - at)
        this.remaining -= n
        at += n
        continue
      }
      this.header.push(bytes[at++])
      const h = this.header
      if (h.length < 2) continue
      const len7 = h[1] & 0x7f
      const need = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (h[1] & 0x80 ? 4 : 0)
      if (h.length < need) continue
      this.remaining = len7 < 126 ? len7 : len7 === 126 ? (h[2] << 8) | h[3] : Number(Buffer.from(h.slice(2, 10)).readBigUInt64BE())
      this.header = []
    }
  }
}

// ---- one connection of a subscriber

export type TransportName = 'poll' | 'longpoll' | 'stream' | 'iframe' | 'sse' | 'ws'

export const TRANSPORTS: readonly TransportName[] = ['poll', 'longpoll', 'stream', 'iframe', 'sse', 'ws']

export interface SessionOptions {
  port: number
  channel: string
  /** The id of the last message fully received: the cursor to resume from. */
  cursor: () => number
  sink: ItemSink
  /** Checked after every item: true ends the session (the client closes). */
  done: () => boolean
  cutter?: Cutter | null
  /** Drops parked long polls now and then. */
  rng?: Rng
  /** Short poll: resolves when polling again may find something new. */
  idle?: () => Promise<void>
  /** The iframe's callback name. */
  callback?: string
  /** WebSocket: offer permessage-deflate (the `ws` default). */
  deflate?: boolean
}

function connectTo(port: number, cutter: Cutter | null | undefined, onCut: () => void, observe?: (bytes: Buffer) => void): Socket {
  const socket = connect({ port, host: '127.0.0.1', noDelay: true })
  return cutter ? cutting(socket, cutter, onCut, observe) : socket
}

function getRequest(target: string, fields: string[] = []): string {
  return `GET ${target} HTTP/1.1\r\nHost: test\r\n${fields.map((f) => `${f}\r\n`).join('')}\r\n`
}

/** A streamed response (/stream, /iframe, /sse) being read. */
export class StreamConnection {
  status = 0
  fields = new Map<string, string>()
  /** The body ended cleanly (the last chunk came). */
  complete = false
  /** The server closed its side (FIN). */
  ended = false
  closed = false
  failure: Error | null = null
  bytes = 0
  readonly whenClosed: Promise<void>
  private readonly parser: HttpResponseParser

  constructor(
    readonly socket: Socket,
    readonly content: ContentParser,
    target: string,
    fields: string[],
  ) {
    this.parser = new HttpResponseParser({
      head: (status, headFields) => {
        this.status = status
        this.fields = headFields
        if (status !== 200) this.fail(new Error(`GET ${target} was answered ${status}`))
      },
      body: (bytes) => this.content.push(bytes),
      end: () => (this.complete = true),
    })
    socket.on('data', (chunk: Buffer) => {
      this.bytes += chunk.length
      if (this.failure !== null) return
      try {
        this.parser.push(chunk)
      } catch (error) {
        this.fail(error as Error)
      }
    })
    socket.on('end', () => {
      this.ended = true
      this.parser.finish()
    })
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // No server: the reader must not go on reconnecting.
      if (error.code === 'ECONNREFUSED') this.failure ??= error
    })
    this.whenClosed = new Promise((resolve) => socket.on('close', resolve)).then(() => {
      this.closed = true
    })
    socket.write(getRequest(target, fields))
  }

  /** Part of an item has come and not the rest: a cut here lands inside it. */
  get midItem(): boolean {
    return this.content.partial
  }

  private fail(error: Error): void {
    this.failure ??= error
    this.socket.destroy()
  }
}

/** The target, fields and parser of a streamed transport's request from `cursor`. */
export function streamRequest(
  transport: 'stream' | 'iframe' | 'sse',
  channel: string,
  cursor: number | undefined,
  sink: ItemSink,
  callback = 'push',
): { target: string; fields: string[]; parser: ContentParser } {
  const after = cursor === undefined ? '' : `?after=${cursor}`
  switch (transport) {
    case 'stream':
      return { target: `/stream/${channel}${after}`, fields: [], parser: new NdjsonParser(sink) }
    case 'iframe':
      return {
        target: `/iframe/${channel}?callback=${callback}${cursor === undefined ? '' : `&after=${cursor}`}`,
        fields: [],
        parser: new IframeParser(sink, callback),
      }
    case 'sse':
      // As a browser does: the URL keeps its first cursor; Last-Event-ID carries the last id seen, and wins.
      return {
        target: `/sse/${channel}${cursor === undefined ? '' : '?after=0'}`,
        fields: cursor === undefined || cursor === 0 ? [] : [`Last-Event-ID: ${cursor}`],
        parser: new SseParser(sink),
      }
  }
}

/** Opens a streamed response (no cuts): for clients that stay, pause or are followed by the test. */
export function openStream(port: number, transport: 'stream' | 'iframe' | 'sse', channel: string, cursor: number | undefined, sink: ItemSink): StreamConnection {
  const { target, fields, parser } = streamRequest(transport, channel, cursor, sink)
  return new StreamConnection(connect({ port, host: '127.0.0.1', noDelay: true }), parser, target, fields)
}

/** One connection of a streamed transport: until it is cut, the server ends it, or the reader is done. */
async function streamSession(transport: 'stream' | 'iframe' | 'sse', options: SessionOptions): Promise<void> {
  let connection: StreamConnection | null = null
  const socket = connectTo(options.port, options.cutter, () => {
    if (connection?.midItem) options.cutter!.midItem++
  })
  const sink: ItemSink = {
    message: (message) => {
      options.sink.message(message)
      if (options.done()) socket.destroy()
    },
    gap: (first) => options.sink.gap(first),
  }
  const { target, fields, parser } = streamRequest(transport, options.channel, options.cursor(), sink, options.callback)
  connection = new StreamConnection(socket, parser, target, fields)
  await connection.whenClosed
  if (connection.failure) throw connection.failure
}

/** Polls on one keep-alive connection until it is cut or the reader is done. */
async function pollSession(long: boolean, options: SessionOptions): Promise<void> {
  let waiting: ((answer: { status: number; body: Buffer } | null) => void) | null = null
  let status = 0
  let chunks: Buffer[] = []
  let failure: Error | null = null
  let responseBytes = 0
  const parser = new HttpResponseParser({
    head: (code) => {
      status = code
      chunks = []
    },
    body: (bytes) => chunks.push(bytes),
    end: () => {
      const resolve = waiting
      waiting = null
      resolve?.({ status, body: Buffer.concat(chunks) })
    },
  })
  const socket = connectTo(options.port, options.cutter, () => {
    if (responseBytes > 0) options.cutter!.midItem++
  })
  socket.on('data', (chunk: Buffer) => {
    responseBytes += chunk.length
    try {
      parser.push(chunk)
    } catch (error) {
      failure ??= error as Error
      socket.destroy()
    }
  })
  socket.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'ECONNREFUSED') failure ??= error
  })
  socket.on('close', () => {
    const resolve = waiting
    waiting = null
    resolve?.(null)
  })
  try {
    for (;;) {
      if (socket.destroyed) return
      const after = options.cursor()
      const target = long ? `/longpoll/${options.channel}?after=${after}&timeout=10` : `/poll/${options.channel}?after=${after}`
      responseBytes = 0
      const answered = new Promise<{ status: number; body: Buffer } | null>((resolve) => (waiting = resolve))
      socket.write(getRequest(target))
      let dropTimer: NodeJS.Timeout | undefined
      if (long && options.rng && options.cutter && !options.cutter.exhausted && options.rng.chance(0.1)) {
        // Sometimes the client goes away while its poll is parked (or just answered).
        dropTimer = setTimeout(
          () => {
            if (responseBytes === 0 && !socket.destroyed) {
              options.cutter!.extra()
              socket.destroy()
            }
          },
          options.rng.int(0, 3),
        )
      }
      const answer = await answered
      clearTimeout(dropTimer)
      if (failure) throw failure
      if (answer === null) return // cut
      if (answer.status === 204) continue
      if (answer.status !== 200) throw new Error(`${target} was answered ${answer.status}: ${answer.body.toString()}`)
      const count = deliverPollBody(answer.body.toString('utf8'), options.sink)
      if (options.done()) return
      if (!long && count === 0) await options.idle?.()
    }
  } finally {
    socket.destroy()
  }
}

/** A `ws` client on /ws/{channel}, its socket routed through the cutter. */
export function openWs(options: SessionOptions & { after?: number }): { ws: WebSocket; closed: Promise<{ code: number; reason: string }>; failure: () => Error | null } {
  let failure: Error | null = null
  const after = options.after ?? options.cursor()
  const frames = new FrameBoundaries()
  const createConnection = () =>
    connectTo(
      options.port,
      options.cutter,
      () => {
        if (frames.midFrame) options.cutter!.midItem++
      },
      (bytes) => frames.push(bytes),
    )
  const clientOptions: ClientOptions = {
    perMessageDeflate: options.deflate ?? true,
    createConnection: createConnection as unknown as ClientOptions['createConnection'],
  }
  const ws = new WebSocket(`ws://127.0.0.1:${options.port}/ws/${options.channel}?after=${after}`, clientOptions)
  ws.on('message', (data: RawData, isBinary: boolean) => {
    if (failure !== null) return
    try {
      if (isBinary) throw new Error('a binary message on /ws/{channel}')
      const text = Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(data as Buffer[]).toString('utf8')
      deliverJson(JSON.parse(text), options.sink)
      if (options.done()) ws.terminate()
    } catch (error) {
      failure = error as Error
      ws.terminate()
    }
  })
  ws.on('error', (error: NodeJS.ErrnoException) => {
    // A cut in the handshake: 'close' follows. No server at all: the reader must not go on.
    if (error.code === 'ECONNREFUSED') failure ??= error
  })
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })))
  return { ws, closed, failure: () => failure }
}

async function wsSession(options: SessionOptions): Promise<void> {
  const { closed, failure } = openWs(options)
  await closed
  const error = failure()
  if (error) throw error
}

/** One connection of `transport`, from options.cursor(); resolves when it is over. */
export function session(transport: TransportName, options: SessionOptions): Promise<void> {
  switch (transport) {
    case 'poll':
      return pollSession(false, options)
    case 'longpoll':
      return pollSession(true, options)
    case 'ws':
      return wsSession(options)
    default:
      return streamSession(transport, options)
  }
}

// ---- a subscriber that comes back

/** Resolves on the next notify(): "something may have changed". */
export class Signal {
  private waiters: (() => void)[] = []

  wait(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve))
  }

  notify(): void {
    const waiters = this.waiters
    this.waiters = []
    for (const resolve of waiters) resolve()
  }
}

/**
 * Everything one client of `transport` received, across its connections: it reconnects
 * with the last id it fully received until it has what it wants.
 */
export class Reader {
  readonly items: Item[] = []
  lastId = 0
  connections = 0
  readonly changed = new Signal()

  constructor(
    readonly transport: TransportName,
    readonly port: number,
    readonly channel: string,
    /** What is kept of each message (the slow-client test checks 1 MiB messages and keeps none of them). */
    private readonly keep: (message: Received) => Received = (message) => message,
  ) {}

  readonly sink: ItemSink = {
    message: (message) => {
      this.items.push({ kind: 'message', ...this.keep(message) })
      this.lastId = message.id
      this.changed.notify()
    },
    gap: (first) => {
      this.items.push({ kind: 'gap', first })
      this.changed.notify()
    },
  }

  get messages(): Received[] {
    return this.items.filter((item): item is { kind: 'message' } & Received => item.kind === 'message')
  }

  get gaps(): number[] {
    return this.items.flatMap((item) => (item.kind === 'gap' ? [item.first] : []))
  }

  /** Connects, and again after every cut, until the last id received is `target`. */
  async readUntil(target: number, options: { cutter?: Cutter | null; rng?: Rng; idle?: () => Promise<void>; callback?: string; deflate?: boolean; ms?: number } = {}): Promise<void> {
    const deadline = Date.now() + (options.ms ?? 60_000)
    while (this.lastId < target) {
      if (Date.now() > deadline) throw new Error(`${this.transport}: reading up to ${target} took too long; last id ${this.lastId} after ${this.connections} connections`)
      this.connections++
      await withDeadline(
        session(this.transport, {
          port: this.port,
          channel: this.channel,
          cursor: () => this.lastId,
          sink: this.sink,
          done: () => this.lastId >= target,
          cutter: options.cutter,
          rng: options.rng,
          idle: options.idle,
          callback: options.callback,
          deflate: options.deflate,
        }),
        `${this.transport}: connection ${this.connections} (from id ${this.lastId}, reading up to ${target})`,
        Math.max(1000, deadline - Date.now()),
      )
    }
  }

  /** Resolves when `condition` holds, checked on every item received. */
  async waitFor(condition: () => boolean, what: string, ms = WAIT_MS): Promise<void> {
    const deadline = Date.now() + ms
    while (!condition()) {
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${what} (${this.transport}: last id ${this.lastId}, ${this.items.length} items)`)
      await withDeadline(this.changed.wait(), what, left).catch(() => {})
    }
  }
}

function withDeadline<T>(promise: Promise<T>, what: string, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

// The trace: what crosses the wire, as logical messages (a request head, a response
// head, a chunk, an SSE block, a WebSocket frame), annotated, per connection.
//
//   session files ──(if tracer.on)──▶ tracer ──▶ sinks: the stdout printer (--trace)
//                                                       the inspectors (GET /trace)
//
// Off by default. Every hook in the session files reads `if (tracer.on) tracer.x(...)`:
// with no sink that is one property check and nothing else, no allocation. Tracing is
// on while at least one sink is attached.
//
// Connections are known by the object that owns them (the HTTP Connection, the Response's
// sink, which is the same Connection) and by their socket (a WebSocket session after the
// upgrade, which keeps the HTTP connection's id). Each gets an id (#1, #2, ...) the first
// time it is traced, and each exchange a transport label from its request.
//
// Secrets are not traced: the value of Authorization headers and of token= query
// parameters are replaced by "[redacted]" (the publish token, CONTRACT.md).

import { Buffer } from 'node:buffer'
import type { Socket } from 'node:net'
import type { RequestHead } from '../http/parser.ts'
import { annotateBody, annotateChunk, annotateHttpHead, annotateSseBlock, annotateWsFrame, annotateWsFramePrefix } from './annotate.ts'
import { FrameSplitter } from './frames.ts'

export type Transport = 'http' | 'poll' | 'longpoll' | 'stream' | 'iframe' | 'sse' | 'ws'

/**
 * One logical message on the wire. `dir` is the server's view: 'in' from the client,
 * 'out' to it. `lines` are the annotator's output; `bytes` the message's size on the wire.
 */
export interface TraceEvent {
  conn: number
  transport: Transport
  dir: 'in' | 'out'
  kind: 'head' | 'body' | 'chunk' | 'sse' | 'frame'
  lines: string[]
  bytes: number
  /** Milliseconds since the epoch. */
  time: number
}

export interface TraceSink {
  event(event: TraceEvent): void
}

/** The path of the inspector's own stream: its exchanges are never traced. */
export const TRACE_PATH = '/trace'

const REDACTED = '[redacted]'

/** What the tracer knows of one connection. */
interface Traced {
  /** Given when its first event is emitted (0 until then), so that left-out exchanges use no number. */
  id: number
  transport: Transport
  /** The request of the current exchange; the transport and exclusion follow it. */
  head: RequestHead | null
  /** This exchange is the inspector's own stream: left out. */
  excluded: boolean
  /** Body bytes of the current request, counted as they arrive. */
  bodyBytes: number
  /** WebSocket bytes from the client, cut into frames; made at the first frame boundary. */
  incoming: FrameSplitter | null
}

export class Tracer {
  /** True while a sink is attached: the one check every hook makes. */
  on = false
  private readonly sinks = new Set<TraceSink>()
  private readonly known = new WeakMap<object, Traced>()
  private nextId = 1

  attach(sink: TraceSink): void {
    this.sinks.add(sink)
    this.on = true
  }

  detach(sink: TraceSink): void {
    this.sinks.delete(sink)
    this.on = this.sinks.size > 0
  }

  // ---- HTTP (src/http/connection.ts, src/http/response.ts)

  /** A request head, as parsed (field names lower-cased by the parser), with secrets redacted. */
  requestHead(owner: object, socket: Socket, head: RequestHead): void {
    const traced = this.connection(owner, head)
    // The WebSocket session that may take this socket over keeps the connection's id.
    this.known.set(socket, traced)
    traced.bodyBytes = 0
    if (traced.excluded) return
    const text = requestText(head)
    this.emit(traced, 'in', 'head', annotateHttpHead(text), Buffer.byteLength(text, 'latin1'))
  }

  /** Body bytes of the current request (counted; the event comes when the body ends). */
  requestBody(owner: object, bytes: number): void {
    const traced = this.known.get(owner)
    if (traced !== undefined) traced.bodyBytes += bytes
  }

  requestEnd(owner: object): void {
    const traced = this.known.get(owner)
    if (traced === undefined || traced.excluded || traced.bodyBytes === 0) return
    this.emit(traced, 'in', 'body', [`(${traced.bodyBytes} ${traced.bodyBytes === 1 ? 'byte' : 'bytes'} of request body)`], traced.bodyBytes)
    traced.bodyBytes = 0
  }

  /** A response head as written (a latin1 string); `body` is what was written with it, if anything. */
  responseHead(owner: object, request: RequestHead | null, head: string, body?: Buffer | string): void {
    const traced = this.connection(owner, request)
    if (traced.excluded) return
    this.emit(traced, 'out', 'head', annotateHttpHead(head), head.length)
    if (body !== undefined && body.length > 0) this.emitBody(traced, body)
  }

  /** A whole response written as one latin1 string (an error with no request, 100 Continue). */
  responseText(owner: object, request: RequestHead | null, text: string): void {
    const end = text.indexOf('\r\n\r\n')
    if (end < 0) return this.responseHead(owner, request, text)
    // The body of a latin1 string is its UTF-8 bytes, one character per byte.
    this.responseHead(owner, request, text.slice(0, end + 4), Buffer.from(text.slice(end + 4), 'latin1'))
  }

  /** A piece of a body that is not chunked (Content-Length written in pieces, or up to the close). */
  responseBody(owner: object, request: RequestHead, body: Buffer | string): void {
    const traced = this.connection(owner, request)
    if (!traced.excluded) this.emitBody(traced, body)
  }

  /** One encoded chunk (or the last chunk) of a chunked response. */
  chunk(owner: object, request: RequestHead, encoded: Buffer): void {
    const traced = this.connection(owner, request)
    if (traced.excluded) return
    if (traced.transport === 'sse') {
      const sse = sseChunkLines(encoded)
      if (sse !== null) return this.emit(traced, 'out', 'sse', sse, encoded.length)
    }
    this.emit(traced, 'out', 'chunk', annotateChunk(encoded), encoded.length)
  }

  // ---- WebSocket (src/ws/session.ts)

  /** The 101 response that opens a session. */
  wsHandshake(socket: Socket, response: string): void {
    const traced = this.socketConnection(socket)
    this.emit(traced, 'out', 'head', annotateHttpHead(response), response.length)
  }

  /**
   * Bytes from the client, as read. `atBoundary`: the session's decoder holds no part of
   * a frame, so a splitter started now starts on a frame (tracing may begin mid-session).
   */
  wsReceived(socket: Socket, chunk: Buffer, atBoundary: boolean): void {
    const traced = this.socketConnection(socket)
    if (traced.incoming === null) {
      if (!atBoundary) return
      traced.incoming = new FrameSplitter()
    }
    for (const frame of traced.incoming.push(chunk)) {
      this.emit(traced, 'in', 'frame', frame.whole ? annotateWsFrame(frame.prefix) : annotateWsFramePrefix(frame.prefix), frame.size)
    }
  }

  /** A whole frame sent. */
  wsSent(socket: Socket, frame: Buffer): void {
    this.emit(this.socketConnection(socket), 'out', 'frame', annotateWsFrame(frame), frame.length)
  }

  /** A large frame sent as its header and its payload, without copying the payload. */
  wsSentParts(socket: Socket, header: Buffer, payload: Buffer): void {
    const prefix = Buffer.concat([header, payload.subarray(0, 260)])
    this.emit(this.socketConnection(socket), 'out', 'frame', annotateWsFramePrefix(prefix), header.length + payload.length)
  }

  // ---- the connections

  /** The connection of `owner`, made on first sight; its transport follows the request. */
  private connection(owner: object, head: RequestHead | null): Traced {
    let traced = this.known.get(owner)
    if (traced === undefined) {
      traced = { id: 0, transport: 'http', head: null, excluded: false, bodyBytes: 0, incoming: null }
      this.known.set(owner, traced)
    }
    if (head !== null && head !== traced.head) {
      traced.head = head
      traced.transport = transportOf(head)
      traced.excluded = head.path === TRACE_PATH
    }
    return traced
  }

  private socketConnection(socket: Socket): Traced {
    const traced = this.connection(socket, null)
    traced.transport = 'ws'
    traced.excluded = false
    return traced
  }

  private emitBody(traced: Traced, body: Buffer | string): void {
    const bytes = typeof body === 'string' ? Buffer.byteLength(body) : body.length
    const lines = traced.transport === 'sse' ? annotateSseBlock(body) : annotateBody(body)
    this.emit(traced, 'out', traced.transport === 'sse' ? 'sse' : 'body', lines, bytes)
  }

  private emit(traced: Traced, dir: TraceEvent['dir'], kind: TraceEvent['kind'], lines: string[], bytes: number): void {
    if (traced.id === 0) traced.id = this.nextId++
    const event: TraceEvent = { conn: traced.id, transport: traced.transport, dir, kind, lines, bytes, time: Date.now() }
    for (const sink of this.sinks) {
      try {
        sink.event(event)
      } catch (error) {
        // A sink that fails must not take a connection down with it.
        console.error('push-wire: a trace sink failed:', error)
      }
    }
  }
}

/** The one tracer of the process. */
export const tracer = new Tracer()

/** The transport an exchange uses, from its request. */
export function transportOf(head: RequestHead): Transport {
  const path = head.path
  if (head.upgrade && (path.startsWith('/ws/') || path === '/echo')) return 'ws'
  if (path.startsWith('/poll/')) return 'poll'
  if (path.startsWith('/longpoll/')) return 'longpoll'
  if (path.startsWith('/stream/')) return 'stream'
  if (path.startsWith('/iframe/')) return 'iframe'
  if (path.startsWith('/sse/')) return 'sse'
  return 'http'
}

// ---- redaction

/** The request head as the parser gave it, with secrets replaced by [redacted]. */
export function requestText(head: RequestHead): string {
  let text = `${head.method} ${redactTarget(head.target)} HTTP/1.${head.versionMinor}\r\n`
  const fields = head.headers
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i]
    const secret = name === 'authorization' || name === 'proxy-authorization'
    text += `${name}: ${secret ? redactCredentials(fields[i + 1]) : fields[i + 1]}\r\n`
  }
  return text + '\r\n'
}

/** `Bearer abc` becomes `Bearer [redacted]`: the scheme stays, the credentials go (RFC 9110 §11.4). */
export function redactCredentials(value: string): string {
  const space = value.indexOf(' ')
  return space < 0 ? REDACTED : `${value.slice(0, space)} ${REDACTED}`
}

/** Every token= query parameter's value replaced. */
export function redactTarget(target: string): string {
  const query = target.indexOf('?')
  if (query < 0) return target
  return target.slice(0, query) + target.slice(query).replace(/([?&;]token=)[^&;#]*/gi, `$1${REDACTED}`)
}

// ---- SSE inside chunks

/** A chunk of an SSE response: its size line, the SSE block inside it annotated, its CRLF; null if not a data chunk. */
function sseChunkLines(encoded: Buffer): string[] | null {
  const lineEnd = encoded.indexOf('\r\n')
  if (lineEnd < 0) return null
  const size = parseInt(encoded.toString('latin1', 0, lineEnd), 16)
  if (!(size > 0) || encoded.length !== lineEnd + 2 + size + 2) return null
  const chunkLines = annotateChunk(encoded)
  const block = annotateSseBlock(encoded.subarray(lineEnd + 2, lineEnd + 2 + size))
  return [chunkLines[0], ...block.map((line) => `  ${line}`), chunkLines[chunkLines.length - 1]]
}

// ---- the stdout printer (--trace)

/**
 * Prints each event as a header line and its annotated lines, every line prefixed with
 * the connection, its transport and the direction in curl's way: `>` from the client,
 * `<` to it.
 *
 *   #1 http > head, 78 bytes
 *   #1 http >   GET /hello HTTP/1.1␍␊
 */
export class TracePrinter implements TraceSink {
  constructor(private readonly write: (text: string) => void = (text) => void process.stdout.write(text)) {}

  event(event: TraceEvent): void {
    this.write(formatEvent(event))
  }
}

export function formatEvent(event: TraceEvent): string {
  const prefix = `#${event.conn} ${event.transport} ${event.dir === 'in' ? '>' : '<'}`
  let text = `${prefix} ${event.kind}, ${event.bytes} byte${event.bytes === 1 ? '' : 's'}\n`
  for (const line of event.lines) text += `${prefix}   ${line}\n`
  return text
}

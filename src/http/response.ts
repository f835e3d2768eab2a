// The response writer: one Response per request, written to the connection in order.
//
//   HTTP/1.1 200 OK\r\n                       status line (always 1.1, RFC 9110 §6.2)
//   Date: Sat, 21 Nov 2026 18:48:00 GMT\r\n   every response (RFC 9110 §6.6.1)
//   Content-Type: text/plain\r\n              what the handler set
//   Content-Length: 11\r\n                    fixed body, or Transfer-Encoding: chunked
//   \r\n
//   hello world
//
// Framing is chosen here, not by handlers: end(body) with nothing written before sends
// Content-Length; write() first starts a chunked body (or, to an HTTP/1.0 client that
// cannot read chunks, a body delimited by closing the connection). HEAD, 1xx, 204 and
// 304 responses never carry a body (RFC 9110 §6.4.1).

import { Buffer } from 'node:buffer'
import { isToken } from './chars.ts'
import { encodeChunk, LAST_CHUNK } from './chunked.ts'
import type { HttpError } from './errors.ts'
import { NO_FIELDS, type RequestHead } from './parser.ts'
import { tracer } from '../trace/tracer.ts'

export const STATUS_TEXT: Record<number, string> = {
  100: 'Continue',
  101: 'Switching Protocols',
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  206: 'Partial Content',
  301: 'Moved Permanently',
  302: 'Found',
  304: 'Not Modified',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  408: 'Request Timeout',
  409: 'Conflict',
  410: 'Gone',
  411: 'Length Required',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  417: 'Expectation Failed',
  426: 'Upgrade Required',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
}

let currentDate = ''
/** The status line and Date field of each status answered in the current second. */
const headStarts = new Map<number, string>()

/**
 * The Date field's value (RFC 9110 §6.6.1): the current second as an IMF-fixdate. It is
 * formatted once and forgotten by a timer when that second ends, so a response reads a
 * variable instead of the clock. (A busy event loop runs the timer late: the value may then
 * lag by that much, which §6.6.1 allows; it asks for the time "as close as possible".)
 */
export function httpDate(): string {
  if (currentDate === '') {
    const now = Date.now()
    currentDate = formatHttpDate(now)
    setTimeout(forgetDate, 1000 - (now % 1000)).unref()
  }
  return currentDate
}

function forgetDate(): void {
  currentDate = ''
  headStarts.clear()
}

/**
 * "HTTP/1.1 200 OK\r\nDate: ...\r\n": how every response of this status begins during the
 * current second. Made once per second as one flat string (the latin1 round trip copies
 * it into one piece): joined with + it would stay a tree of six pieces, and writing a
 * response to the socket walks that tree again every time to copy it out.
 */
export function headStart(status: number): string {
  let start = headStarts.get(status)
  if (start === undefined) {
    const date = httpDate()
    start = Buffer.from(`HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Unknown'}\r\nDate: ${date}\r\n`, 'latin1').toString('latin1')
    headStarts.set(status, start)
  }
  return start
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

/**
 * A time (ms since 1970, UTC) as an IMF-fixdate (RFC 9110 §5.6.7): "Sun, 06 Nov 1994 08:49:37 GMT".
 *
 * Plain arithmetic rather than Date.prototype.toUTCString(): the first call of that one
 * pages in about 1 MB of Node's binary (its date formatting code), resident from then on.
 * The calendar is the proleptic Gregorian one, counted in 400-year eras of 146,097 days
 * (the days-to-civil algorithm of Howard Hinnant's "chrono-compatible low-level date
 * algorithms"), with years starting in March so that February's leap day comes last.
 */
export function formatHttpDate(time: number): string {
  const seconds = Math.floor(time / 1000)
  const days = Math.floor(seconds / 86_400)
  const secondOfDay = seconds - days * 86_400
  const shifted = days + 719_468 // days from 0000-03-01 to 1970-01-01
  const era = Math.floor(shifted / 146_097)
  const dayOfEra = shifted - era * 146_097
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365)
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100))
  const monthFromMarch = Math.floor((5 * dayOfYear + 2) / 153)
  const day = dayOfYear - Math.floor((153 * monthFromMarch + 2) / 5) + 1
  const month = monthFromMarch < 10 ? monthFromMarch + 2 : monthFromMarch - 10 // 0 = January
  const year = era * 400 + yearOfEra + (month < 2 ? 1 : 0)
  const weekday = (((days + 4) % 7) + 7) % 7 // 1970-01-01 was a Thursday
  return (
    `${WEEKDAYS[weekday]}, ${twoDigits(day)} ${MONTHS[month]} ${String(year).padStart(4, '0')} ` +
    `${twoDigits(Math.floor(secondOfDay / 3600))}:${twoDigits(Math.floor(secondOfDay / 60) % 60)}:${twoDigits(secondOfDay % 60)} GMT`
  )
}

function twoDigits(n: number): string {
  return n < 10 ? `0${n}` : String(n)
}

/**
 * A field value must not be able to end its line (response splitting): no CR, LF or NUL.
 * Values are written as latin1 bytes, so characters above U+00FF are refused too.
 */
function isSafeValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i)
    if (code === 0x0d || code === 0x0a || code === 0 || code > 0xff) return false
  }
  return true
}

/** What a Response writes to: the connection that owns the socket. */
export interface ResponseSink {
  /** Writes bytes after everything written before; false when the socket's buffer is full. */
  write(data: Buffer | string): boolean
  /** The response is complete; `keepAlive` says whether the connection goes on. */
  finished(response: Response): void
  /** True when the connection will close after this response whatever the request asked. */
  readonly closing: boolean
  /** Resolves when the socket can take more output (or is gone). */
  drained(): Promise<void>
  /** Holds this turn's writes to the socket until the turn ends (see write-batch.ts). */
  batchThisTurn(): void
  /** Bytes written to the socket and not yet sent. */
  readonly queuedBytes: number
}

type BodyMode = 'unsent' | 'fixed' | 'fixed-stream' | 'chunked' | 'until-close' | 'none'

export class Response {
  status = 200
  /** Header fields to send, flat: [Name, value, ...]; NO_FIELDS until the first is set. */
  private headerFields: string[] = NO_FIELDS
  headersSent = false
  ended = false
  /** Whether the connection stays open after this response; decided when the head is sent. */
  keepAlive: boolean
  private mode: BodyMode = 'unsent'
  /** Bytes still owed in 'fixed-stream' mode. */
  private owed = 0
  private readonly isHead: boolean
  private abortListeners: (() => void)[] | null = null
  aborted = false
  /**
   * The response waits for events with no end in sight (a parked long poll, a stream): a
   * client that half-closes its connection then is taken to have gone (see Connection).
   */
  waitsForEvents = false

  constructor(
    private readonly sink: ResponseSink,
    readonly request: RequestHead,
  ) {
    this.keepAlive = request.keepAlive
    this.isHead = request.method === 'HEAD'
  }

  /** Sets a header field, replacing any earlier one of the same name. */
  setHeader(name: string, value: string | number): this {
    this.removeHeader(name)
    return this.appendHeader(name, value)
  }

  /** Adds a field line, keeping earlier ones of the same name (for list fields such as Vary). */
  appendHeader(name: string, value: string | number): this {
    const text = typeof value === 'number' ? String(value) : value
    // A field name is a token (RFC 9110 §5.1).
    if (!isToken(name)) throw new TypeError(`invalid header name ${JSON.stringify(name)}`)
    if (!isSafeValue(text)) throw new TypeError(`header ${name} has CR, LF, NUL or a non-latin1 character in its value`)
    if (this.headerFields === NO_FIELDS) this.headerFields = [name, text]
    else this.headerFields.push(name, text)
    return this
  }

  /** The header fields set so far, flat: [Name, value, ...]. */
  get fields(): readonly string[] {
    return this.headerFields
  }

  removeHeader(name: string): this {
    const fields = this.headerFields
    for (let i = fields.length - 2; i >= 0; i -= 2) {
      if (fields[i].length === name.length && fields[i].toLowerCase() === name.toLowerCase()) fields.splice(i, 2)
    }
    return this
  }

  /** Asks for the connection to close after this response (adds Connection: close). */
  closeAfter(): this {
    this.keepAlive = false
    return this
  }

  /** Sends the head (and body, if any) of a complete response with a fixed length. */
  end(body?: Buffer | string): void {
    if (this.ended) return
    if (this.status < 200) throw new Error('a 1xx response is interim and cannot end an exchange')
    if (this.headersSent) {
      if (body !== undefined && (typeof body === 'string' ? body.length > 0 : body.length > 0)) this.write(body)
      this.finishStream()
      return
    }
    const bodyless = this.isBodyless()
    this.mode = bodyless ? 'none' : 'fixed'
    if (typeof body === 'string' && !bodyless && Buffer.byteLength(body) === body.length) {
      // An ASCII body: head and body go out as one latin1 string, one write.
      const head = this.serializeHead(`Content-Length: ${body.length}\r\n`)
      if (tracer.on) tracer.responseHead(this.sink, this.request, head, this.isHead ? undefined : body)
      this.sink.write(this.isHead ? head : head + body)
      this.ended = true
      this.sink.finished(this)
      return
    }
    const bytes = body === undefined ? EMPTY : typeof body === 'string' ? Buffer.from(body) : body
    const framing = bodyless ? '' : `Content-Length: ${bytes.length}\r\n`
    const head = this.serializeHead(framing)
    if (tracer.on) tracer.responseHead(this.sink, this.request, head, bodyless || this.isHead ? undefined : bytes)
    if (bodyless || this.isHead || bytes.length === 0) {
      this.sink.write(head)
    } else if (bytes.length <= COMBINE_LIMIT) {
      // One write, one syscall: head and small body in one Buffer.
      const out = Buffer.allocUnsafe(head.length + bytes.length)
      out.write(head, 0, 'latin1')
      bytes.copy(out, head.length)
      this.sink.write(out)
    } else {
      this.sink.write(head)
      this.sink.write(bytes)
    }
    this.ended = true
    this.sink.finished(this)
  }

  /** Sends a complete text response. */
  send(status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
    this.status = status
    this.setHeader('Content-Type', contentType)
    this.end(body)
  }

  json(status: number, value: unknown): void {
    this.send(status, JSON.stringify(value), 'application/json')
  }

  /** An error response whose body names the problem; the connection closes for 400-class framing errors. */
  error(error: HttpError): void {
    this.status = error.status
    for (let i = 0; i < error.fields.length; i += 2) this.setHeader(error.fields[i], error.fields[i + 1])
    this.setHeader('Content-Type', 'text/plain; charset=utf-8')
    this.end(`${error.status} ${STATUS_TEXT[error.status] ?? ''}: ${error.message}\n`)
  }

  /** Sends the head of a body of known length that will come in pieces through write(). */
  startBody(length: number): void {
    if (this.headersSent) throw new Error('the head was already sent')
    const bodyless = this.isBodyless()
    this.mode = bodyless ? 'none' : 'fixed-stream'
    this.owed = bodyless || this.isHead ? 0 : length
    const head = this.serializeHead(bodyless ? '' : `Content-Length: ${length}\r\n`)
    if (tracer.on) tracer.responseHead(this.sink, this.request, head)
    this.sink.write(head)
  }

  /** Resolves when the connection can take more output: call it when write() returned false. */
  drained(): Promise<void> {
    return this.sink.drained()
  }

  /** Writes made during this turn of the event loop leave together at its end (a burst: one writev). */
  batchThisTurn(): void {
    this.sink.batchThisTurn()
  }

  /** Bytes written on this connection and not yet sent (a slow client's backlog). */
  get queuedBytes(): number {
    return this.sink.queuedBytes
  }

  /** Sends the head of a streamed response now, before any body bytes. */
  flushHeaders(): void {
    if (this.headersSent) return
    if (this.isBodyless()) {
      this.mode = 'none'
    } else if (this.request.versionMinor === 0) {
      // RFC 9112 §6.3: HTTP/1.0 has no chunked coding; the end of the body is the close.
      this.mode = 'until-close'
      this.keepAlive = false
    } else {
      this.mode = 'chunked'
    }
    const head = this.serializeHead(this.mode === 'chunked' ? 'Transfer-Encoding: chunked\r\n' : '')
    if (tracer.on) tracer.responseHead(this.sink, this.request, head)
    this.sink.write(head)
  }

  /** Writes part of a streamed body. Returns false when the socket's buffer is full: wait for drain. */
  write(data: Buffer | string): boolean {
    if (this.ended) return false
    if (!this.headersSent) this.flushHeaders()
    if (data.length === 0 || this.isHead || this.mode === 'none') return true
    if (this.mode === 'chunked') {
      const chunk = encodeChunk(data)
      if (tracer.on) tracer.chunk(this.sink, this.request, chunk)
      return this.sink.write(chunk)
    }
    // The sink writes strings as latin1: a body string goes as its UTF-8 bytes.
    const bytes = typeof data === 'string' ? Buffer.from(data) : data
    if (this.mode === 'fixed-stream') {
      if (bytes.length > this.owed) throw new RangeError('more body bytes than the Content-Length sent')
      this.owed -= bytes.length
    }
    if (tracer.on) tracer.responseBody(this.sink, this.request, bytes)
    return this.sink.write(bytes)
  }

  /** Writes a chunk already framed by encodeChunk (encode once, write to many). */
  writeEncodedChunk(chunk: Buffer): boolean {
    if (this.ended) return false
    if (!this.headersSent) this.flushHeaders()
    if (this.isHead || this.mode === 'none') return true
    if (this.mode === 'chunked') {
      if (tracer.on) tracer.chunk(this.sink, this.request, chunk)
      return this.sink.write(chunk)
    }
    throw new Error('writeEncodedChunk needs a chunked response; check chunked before encoding')
  }

  /** Whether write() frames data as chunks (false for HTTP/1.0 clients and bodiless responses). */
  get chunked(): boolean {
    if (!this.headersSent) return !this.isBodyless() && this.request.versionMinor !== 0 && !this.isHead
    return this.mode === 'chunked' && !this.isHead
  }

  /** Called by the connection when the socket closes before the response ended. */
  abort(): void {
    if (this.ended || this.aborted) return
    this.aborted = true
    const listeners = this.abortListeners
    this.abortListeners = null
    if (listeners) for (const listener of listeners) listener()
  }

  /** Runs `listener` if the client goes away before this response ends (a parked long poll, a stream). */
  onAbort(listener: () => void): void {
    if (this.aborted) {
      listener()
      return
    }
    ;(this.abortListeners ??= []).push(listener)
  }

  private finishStream(): void {
    if (this.mode === 'chunked' && !this.isHead) {
      if (tracer.on) tracer.chunk(this.sink, this.request, LAST_CHUNK)
      this.sink.write(LAST_CHUNK)
    }
    // A body shorter than its Content-Length can only be told apart by closing.
    if (this.mode === 'fixed-stream' && this.owed > 0) this.keepAlive = false
    this.ended = true
    this.sink.finished(this)
  }

  private isBodyless(): boolean {
    const status = this.status
    return status < 200 || status === 204 || status === 304
  }

  private serializeHead(framing: string): string {
    if (this.sink.closing) this.keepAlive = false
    let head = headStart(this.status)
    const fields = this.headerFields
    for (let i = 0; i < fields.length; i += 2) head += `${fields[i]}: ${fields[i + 1]}\r\n`
    // RFC 9112 §9.3 and §9.6: say when we close; a 1.0 client must be told we stay open.
    if (!this.keepAlive) head += 'Connection: close\r\n'
    else if (this.request.versionMinor === 0) head += 'Connection: keep-alive\r\n'
    this.headersSent = true
    return head + framing + '\r\n'
  }
}

const EMPTY = Buffer.alloc(0)
/** Bodies up to this size are copied into the head's Buffer so the response is one write. */
const COMBINE_LIMIT = 16 * 1024

/** The interim response that asks a client to send the body it announced with Expect (RFC 9110 §15.2.1). */
export function continue100(): string {
  return `${headStart(100)}\r\n`
}

/**
 * A complete error response for a connection that has no request to answer (503 at the limit,
 * 408, a parse error), as a latin1 byte string: one character per byte, the way strings are
 * written to the socket.
 */
export function standaloneError(error: HttpError): string {
  // The message may hold non-ASCII (the "§" of an RFC citation): its UTF-8 bytes, one
  // character each, so that Content-Length counts the bytes sent (RFC 9110 §8.6).
  const body = Buffer.from(`${error.status} ${STATUS_TEXT[error.status] ?? ''}: ${error.message}\n`).toString('latin1')
  return (
    headStart(error.status) +
    `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`
  )
}

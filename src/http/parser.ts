// The HTTP/1.1 request parser (RFC 9112), pure and incremental.
//
// It never touches a socket or a timer. The connection feeds it Buffers of any size,
// down to one byte, and pulls events:
//
//     parser.feed(bytes)
//     for (let e = parser.next(); e.type !== 'need-data'; e = parser.next()) ...
//
//   head  -> body* -> end      one request; the head carries the framing decisions
//   need-data                  every byte so far is consumed; feed more
//   paused                     an Upgrade or CONNECT request ended: the bytes after it are
//                              not HTTP; call takeRemaining() to hand them off, or resume()
//   error                      a typed HttpError naming its status; the parser is dead
//
// It is a byte-level state machine (the states are named after what the parser waits
// for), so it fails as soon as a bad byte arrives, and a token split across feeds is
// kept as a partial string: byte-at-a-time input costs the same as whole input.

import { Buffer } from 'node:buffer'
import { carryOver } from '../bytes.ts'
import { FIELD_VALUE, HEX_VALUE, isOws, QDTEXT, TARGET, TOKEN } from './chars.ts'
import { HttpError } from './errors.ts'

const HTAB = 0x09
const LF = 0x0a
const CR = 0x0d
const SP = 0x20
const DQUOTE = 0x22
const COLON = 0x3a
const SEMICOLON = 0x3b
const EQUALS = 0x3d
const BACKSLASH = 0x5c

export interface ParserLimits {
  /** Bytes of the request line, CRLF included. Past it: 414 in the target, else 400. */
  maxRequestLineBytes: number
  /** Bytes of the header section (and, separately, of a trailer section). Past it: 431. */
  maxHeaderBytes: number
  /** Field lines in the header section (and in a trailer section). Past it: 431. */
  maxHeaderFields: number
  /** Bytes of one request body after de-chunking. Past it: 413. */
  maxBodyBytes: number
  /** RFC 9112 §3.2: an HTTP/1.1 request without Host is a 400. Off only to compare with parsers that leave this to the application. */
  requireHost: boolean
}

export const DEFAULT_PARSER_LIMITS: ParserLimits = {
  maxRequestLineBytes: 8 * 1024,
  maxHeaderBytes: 16 * 1024,
  maxHeaderFields: 100,
  maxBodyBytes: 1024 * 1024,
  requireHost: true,
}

/** The lengths of host, expect, upgrade, connection, content-length, transfer-encoding. */
const MEANINGFUL_LENGTHS = (1 << 4) | (1 << 6) | (1 << 7) | (1 << 10) | (1 << 14) | (1 << 17)

/** "HTTP", "/1.1" and "/1.0" as big-endian 32-bit numbers, for readVersion's fast path. */
const HTTP_ = 0x48545450
const SLASH_1_DOT_1 = 0x2f312e31
const SLASH_1_DOT_0 = 0x2f312e30

/** How much of the input is decoded to a string at once for cutting tokens (see latin1()). */
const TEXT_WINDOW = 4096

/** A chunk-size line, extensions included, longer than this is refused (unbounded extensions are a known DoS). */
const MAX_CHUNK_LINE_BYTES = 4096

export type TargetForm = 'origin' | 'absolute' | 'authority' | 'asterisk'

export interface RequestHead {
  readonly type: 'head'
  method: string
  /** The request-target exactly as sent. */
  target: string
  form: TargetForm
  /** The path of the target, still percent-encoded; '' for authority and asterisk forms. */
  path: string
  /** What follows '?' in the target, without it; '' when there is none. */
  query: string
  /** 0 for HTTP/1.0, 1 for HTTP/1.1 and any higher 1.x (RFC 9110 §2.5). */
  versionMinor: number
  /** Field lines in arrival order, flat: [lower-case name, value, ...]. Values have no leading or trailing OWS. */
  headers: string[]
  /** Body bytes declared by Content-Length; 0 when there is no body; -1 when chunked. */
  contentLength: number
  chunked: boolean
  /** Whether the connection may carry another request after this one (RFC 9112 §9.3). */
  keepAlive: boolean
  /** The bytes after this message are not HTTP: an Upgrade request (RFC 9110 §7.8) or CONNECT. */
  upgrade: boolean
  /** `Expect: 100-continue` on HTTP/1.1 (RFC 9110 §10.1.1). */
  expectContinue: boolean
}

export interface BodyChunk {
  readonly type: 'body'
  /** A view into the fed bytes: copy it to keep it past the next feed. */
  readonly data: Buffer
}

export interface MessageEnd {
  readonly type: 'end'
  /** Trailer fields of a chunked body, flat like RequestHead.headers. */
  readonly trailers: string[]
}

export interface ParseFailure {
  readonly type: 'error'
  readonly error: HttpError
}

export type ParserEvent =
  | RequestHead
  | BodyChunk
  | MessageEnd
  | ParseFailure
  | { readonly type: 'need-data' }
  | { readonly type: 'paused' }

const NEED_DATA = Object.freeze({ type: 'need-data' as const })
const PAUSED = Object.freeze({ type: 'paused' as const })
/**
 * A list of field lines before its first one (a request's, a trailer section's, a
 * response's): a new array is made for the first line, with room for exactly it. (An array
 * made empty and pushed to takes room for 19 entries at once, about 200 bytes of garbage
 * per message where 60 do.)
 */
export const NO_FIELDS = Object.freeze([]) as unknown as string[]
const END: MessageEnd = Object.freeze({ type: 'end' as const, trailers: NO_FIELDS })
const EMPTY = Buffer.alloc(0)

// The states, named after what the parser waits for. A const enum (numbers at run
// time) lets the engine dispatch next() through a jump table.
const enum State {
  // the request line
  RequestStart, // empty lines may come first (RFC 9112 §2.2)
  RequestStartLf,
  Method,
  Target,
  Version,
  RequestLineLf,
  // field lines: the header section, and the trailer section of a chunked body
  FieldStart,
  FieldName,
  ValueStart,
  FieldValue,
  FieldLineLf,
  SectionEndLf,
  // the body
  BodyLength,
  ChunkSize,
  ChunkExt,
  ChunkSizeLf,
  ChunkData,
  ChunkDataCr,
  ChunkDataLf,
  MessageEnd,
  // after a message
  Upgraded, // an Upgrade or CONNECT request ended; the rest is not HTTP
  Closed, // a message without keep-alive ended; nothing may follow
  Detached, // takeRemaining() gave the bytes away
  Failed,
}

// Where the chunk-ext grammar (RFC 9112 §7.1.1) is, between the size and CRLF:
//   chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
type ExtState =
  | 'after-size'
  | 'before-semicolon'
  | 'before-name'
  | 'name'
  | 'after-name'
  | 'before-value'
  | 'token-value'
  | 'quoted-value'
  | 'quoted-pair'
  | 'after-value'

export class RequestParser {
  private readonly limits: ParserLimits
  private state: State = State.RequestStart
  private input: Buffer = EMPTY
  private pos = 0
  /** The part of the current token that arrived in earlier feeds. */
  private partial = ''
  private failure: ParseFailure | null = null

  /** Bytes of the current section (request line, header or trailer section, chunk line), checked against its limit. */
  private sectionBytes = 0
  private sectionLimit: number
  private fieldCount = 0

  // The message being parsed.
  private method = ''
  private target = ''
  private versionIndex = 0
  private versionMinor = 0
  private headers: string[] = NO_FIELDS
  private trailers: string[] = NO_FIELDS
  private inTrailers = false
  private fieldName = ''
  private fieldValue = ''
  private contentLength = -1
  private hasTransferEncoding = false
  private chunked = false
  private unsupportedCoding = ''
  private hostCount = 0
  private connectionClose = false
  private connectionKeepAlive = false
  private connectionUpgrade = false
  private hasUpgradeField = false
  private expectContinue = false
  private unsupportedExpectation = false
  private keepAlive = true
  private upgrade = false
  private afterUpgrade: State = State.Closed

  // The body.
  private remaining = 0
  private bodyBytes = 0
  private chunkSize = 0
  private chunkDigits = 0
  private extState: ExtState = 'after-size'

  /** `limits` is kept, not copied: the connections of a listener share their options. */
  constructor(limits: ParserLimits = DEFAULT_PARSER_LIMITS) {
    this.limits = limits
    this.sectionLimit = limits.maxRequestLineBytes
  }

  /** Appends bytes. Bytes not yet consumed by next() are kept before them. */
  feed(chunk: Buffer): void {
    // A failed parser reads nothing more; a detached one gave its bytes away.
    if (this.state === State.Failed || this.state === State.Detached) return
    this.input = carryOver(this.input, this.pos, chunk)
    this.pos = 0
  }

  /** Bytes fed but not yet consumed. */
  get buffered(): number {
    return this.input.length - this.pos
  }

  /** True between messages, when no byte of a next request has arrived. */
  get idle(): boolean {
    return this.state === State.RequestStart && this.sectionBytes === 0
  }

  /**
   * End of input (the peer closed). Null when that is a clean place to stop (RFC 9112 §8:
   * a message cut short is incomplete); otherwise the error it amounts to.
   */
  finish(): HttpError | null {
    switch (this.state) {
      case State.RequestStart: // nothing, or only empty lines, since the last message
      case State.Closed:
      case State.Upgraded:
      case State.Detached:
        return null
      case State.Failed:
        return this.failure!.error
      default:
        return incomplete()
    }
  }

  /** After a paused Upgrade request the server declined: go on parsing HTTP. */
  resume(): void {
    if (this.state === State.Upgraded) this.state = this.afterUpgrade
  }

  /** After a paused Upgrade request: the bytes that followed it, for the new protocol. */
  takeRemaining(): Buffer {
    const rest = this.pos === this.input.length ? EMPTY : this.input.subarray(this.pos)
    this.input = EMPTY
    this.pos = 0
    this.state = State.Detached
    return rest
  }

  next(): ParserEvent {
    for (;;) {
      if (this.pos === this.input.length && this.pos !== 0) {
        // Everything fed is consumed: let go of it, so an idle connection holds no buffer.
        this.input = EMPTY
        this.pos = 0
        this.window = ''
        this.windowInput = EMPTY
      }
      let event: ParserEvent | undefined
      switch (this.state) {
        case State.RequestStart: event = this.requestStart(); break
        case State.RequestStartLf: event = this.requestStartLf(); break
        case State.Method: event = this.readMethod(); break
        case State.Target: event = this.readTarget(); break
        case State.Version: event = this.readVersion(); break
        case State.RequestLineLf: event = this.requestLineLf(); break
        case State.FieldStart: event = this.fieldStart(); break
        case State.FieldName: event = this.readFieldName(); break
        case State.ValueStart: event = this.valueStart(); break
        case State.FieldValue: event = this.readFieldValue(); break
        case State.FieldLineLf: event = this.fieldLineLf(); break
        case State.SectionEndLf: event = this.sectionEndLf(); break
        case State.BodyLength: event = this.readBody(State.MessageEnd); break
        case State.ChunkSize: event = this.readChunkSize(); break
        case State.ChunkExt: event = this.readChunkExt(); break
        case State.ChunkSizeLf: event = this.chunkSizeLf(); break
        case State.ChunkData: event = this.readBody(State.ChunkDataCr); break
        case State.ChunkDataCr: event = this.expectByte(CR, State.ChunkDataLf, 'CHUNK_DATA_NOT_TERMINATED', 'chunk data must be followed by CRLF'); break
        case State.ChunkDataLf: event = this.chunkDataLf(); break
        case State.MessageEnd: return this.messageEnd()
        case State.Upgraded: return PAUSED
        case State.Closed: return this.afterClose()
        case State.Detached: return NEED_DATA
        case State.Failed: return this.failure!
      }
      if (event !== undefined) return event
    }
  }

  // ---- the request line: method SP request-target SP HTTP-version CRLF (RFC 9112 §3)

  private requestStart(): ParserEvent | undefined {
    if (this.pos === this.input.length) return NEED_DATA
    const byte = this.input[this.pos]
    if (byte === CR) return this.step(this.pos + 1, State.RequestStartLf)
    if (byte === LF) return this.bareLf()
    if (TOKEN[byte] !== 1) return this.fail(400, 'INVALID_METHOD', 'the method must be a token (RFC 9110 §9.1)')
    this.state = State.Method
  }

  private requestStartLf(): ParserEvent | undefined {
    return this.expectByte(LF, State.RequestStart, 'BARE_CR', 'CR must be followed by LF')
  }

  private readMethod(): ParserEvent | undefined {
    const { input, pos } = this
    let i = pos
    while (i < input.length && TOKEN[input[i]] === 1) i++
    if (i === input.length) return this.keepPartial(i)
    if (input[i] !== SP) return this.failAt(i, 400, 'INVALID_METHOD', 'the method must be a token followed by one space (RFC 9112 §3)')
    this.method = (this.partial === '' && knownMethod(input, pos, i)) || this.takeToken(pos, i)
    return this.step(i + 1, State.Target)
  }

  private readTarget(): ParserEvent | undefined {
    const { input, pos } = this
    let i = pos
    while (i < input.length && TARGET[input[i]] === 1) i++
    if (i === input.length) return this.keepPartial(i)
    const failed = this.advance(i)
    if (failed) return failed
    const byte = input[i]
    if (byte !== SP) {
      if (byte === CR || byte === LF) return this.fail(400, 'MISSING_VERSION', 'the request line needs an HTTP version (HTTP/0.9 is not served)')
      return this.fail(400, 'INVALID_TARGET', 'the request-target must be visible ASCII; percent-encode other bytes (RFC 9112 §3.2)')
    }
    this.target = this.takeToken(pos, i)
    if (this.target === '') return this.fail(400, 'INVALID_TARGET', 'the request line has two spaces where the target should be')
    this.versionIndex = 0
    return this.step(i + 1, State.Version)
  }

  // HTTP-version = "HTTP/" DIGIT "." DIGIT, checked byte by byte as it arrives.
  private readVersion(): ParserEvent | undefined {
    const { input } = this
    let i = this.pos
    if (this.versionIndex === 0 && i + 9 <= input.length && input[i + 8] === CR && input.readUInt32BE(i) === HTTP_) {
      // The usual case whole in the input, "HTTP/1.1" or "HTTP/1.0" then CR: four bytes at a time.
      const rest = input.readUInt32BE(i + 4)
      if (rest === SLASH_1_DOT_1 || rest === SLASH_1_DOT_0) {
        this.versionMinor = rest === SLASH_1_DOT_1 ? 1 : 0
        return this.step(i + 9, State.RequestLineLf)
      }
    }
    for (; i < input.length; i++) {
      const byte = input[i]
      const at = this.versionIndex++
      if (at < 5) {
        if (byte !== 'HTTP/'.charCodeAt(at)) return this.failAt(i, 400, 'INVALID_VERSION', 'expected HTTP/1.1 or HTTP/1.0 after the target')
      } else if (at === 5) {
        if (byte < 0x30 || byte > 0x39) return this.failAt(i, 400, 'INVALID_VERSION', 'expected a digit in the HTTP version')
        if (byte !== 0x31) return this.failAt(i, 505, 'VERSION_NOT_SUPPORTED', 'only HTTP/1.x is served')
      } else if (at === 6) {
        if (byte !== 0x2e) return this.failAt(i, 400, 'INVALID_VERSION', 'expected "." in the HTTP version')
      } else if (at === 7) {
        if (byte < 0x30 || byte > 0x39) return this.failAt(i, 400, 'INVALID_VERSION', 'expected a digit in the HTTP version')
        // RFC 9110 §2.5: a higher minor version of 1.x is served as the highest we speak.
        this.versionMinor = byte === 0x30 ? 0 : 1
      } else {
        if (byte === CR) return this.step(i + 1, State.RequestLineLf)
        if (byte === LF) return this.advance(i) ?? this.bareLf()
        return this.failAt(i, 400, 'INVALID_VERSION', 'the request line must end right after the HTTP version')
      }
    }
    return this.advance(i) ?? NEED_DATA
  }

  private requestLineLf(): ParserEvent | undefined {
    const failed = this.expectByte(LF, State.FieldStart, 'BARE_CR', 'CR must be followed by LF')
    if (failed) return failed
    const formError = this.classifyTarget()
    if (formError) return formError
    this.startSection(this.limits.maxHeaderBytes)
  }

  // ---- field lines: field-name ":" OWS field-value OWS CRLF (RFC 9112 §5)

  private fieldStart(): ParserEvent | undefined {
    if (this.pos === this.input.length) return NEED_DATA
    const byte = this.input[this.pos]
    if (byte === CR) return this.step(this.pos + 1, State.SectionEndLf)
    if (TOKEN[byte] === 1) {
      this.state = State.FieldName
      return this.wholeFieldLine()
    }
    if (byte === SP || byte === HTAB) {
      // RFC 9112 §2.2 (before the first field) and §5.2 (obs-fold): both rejected here.
      return this.fieldCount === 0
        ? this.fail(400, 'WHITESPACE_BEFORE_FIELDS', 'whitespace between the request line and the first field line')
        : this.fail(400, 'OBS_FOLD', 'a field line starting with whitespace (obsolete line folding) is not accepted')
    }
    if (byte === LF) return this.bareLf()
    return this.fail(400, 'INVALID_FIELD_NAME', 'a field name must be a token (RFC 9110 §5.1)')
  }

  /**
   * The usual case, a valid field line whole in the input, in one call instead of four
   * states: name, colon, OWS, value, CRLF. Anything else (the line goes on in the next
   * feed, a byte that is not allowed) leaves the input untouched for the states, which
   * take it byte by byte and say what is wrong, so the verdict is theirs either way.
   */
  private wholeFieldLine(): ParserEvent | undefined {
    const { input, pos } = this
    const length = input.length
    let i = pos + 1
    while (i < length && TOKEN[input[i]] === 1) i++
    if (i === length || input[i] !== COLON) return
    const nameEnd = i++
    while (i < length && (input[i] === SP || input[i] === HTAB)) i++
    const valueStart = i
    while (i < length && FIELD_VALUE[input[i]] === 1) i++
    if (i + 1 >= length || input[i] !== CR || input[i + 1] !== LF) return
    const name = this.latin1(pos, nameEnd).toLowerCase()
    const value = valueStart === i ? '' : trimTrailingOws(this.latin1(valueStart, i))
    const failed = this.step(i + 2, State.FieldStart)
    if (failed) return failed
    this.fieldName = name
    this.fieldValue = value
    return this.countField()
  }

  private readFieldName(): ParserEvent | undefined {
    const { input, pos } = this
    let i = pos
    while (i < input.length && TOKEN[input[i]] === 1) i++
    if (i === input.length) return this.keepPartial(i)
    const byte = input[i]
    if (byte !== COLON) {
      if (byte === SP || byte === HTAB) {
        return this.failAt(i, 400, 'WHITESPACE_BEFORE_COLON', 'no whitespace is allowed between a field name and the colon (RFC 9112 §5.1)')
      }
      if (byte === CR || byte === LF) return this.failAt(i, 400, 'MISSING_COLON', 'a field line needs a colon after its name')
      return this.failAt(i, 400, 'INVALID_FIELD_NAME', 'a field name must be a token (RFC 9110 §5.1)')
    }
    this.fieldName = this.takeToken(pos, i).toLowerCase()
    return this.step(i + 1, State.ValueStart)
  }

  private valueStart(): ParserEvent | undefined {
    const { input } = this
    let i = this.pos
    while (i < input.length && (input[i] === SP || input[i] === HTAB)) i++
    if (i === input.length) return this.advance(i) ?? NEED_DATA
    return this.step(i, State.FieldValue)
  }

  private readFieldValue(): ParserEvent | undefined {
    const { input, pos } = this
    let i = pos
    while (i < input.length && FIELD_VALUE[input[i]] === 1) i++
    if (i === input.length) return this.keepPartial(i)
    const byte = input[i]
    if (byte !== CR) {
      if (byte === LF) return this.advance(i) ?? this.bareLf()
      return this.failAt(i, 400, 'INVALID_FIELD_VALUE', `control byte 0x${hex(byte)} in a field value (RFC 9110 §5.5)`)
    }
    this.fieldValue = trimTrailingOws(this.takeToken(pos, i))
    return this.step(i + 1, State.FieldLineLf)
  }

  private fieldLineLf(): ParserEvent | undefined {
    const failed = this.expectByte(LF, State.FieldStart, 'BARE_CR', 'CR must be followed by LF')
    if (failed) return failed
    return this.countField()
  }

  /** A field line has ended: it counts toward the limit, and goes to the head or the trailers. */
  private countField(): ParserEvent | undefined {
    const value = this.fieldValue
    if (++this.fieldCount > this.limits.maxHeaderFields) {
      return this.fail(431, 'TOO_MANY_FIELDS', `more than ${this.limits.maxHeaderFields} field lines`)
    }
    if (this.inTrailers) {
      if (this.trailers === NO_FIELDS) this.trailers = [this.fieldName, value]
      else this.trailers.push(this.fieldName, value)
      return
    }
    if (this.headers === NO_FIELDS) this.headers = [this.fieldName, value]
    else this.headers.push(this.fieldName, value)
    return this.applyField(this.fieldName, value)
  }

  private sectionEndLf(): ParserEvent | undefined {
    const failed = this.expectByte(LF, State.MessageEnd, 'BARE_CR', 'CR must be followed by LF')
    if (failed) return failed
    if (!this.inTrailers) return this.completeHead()
  }

  // ---- what the fields mean for framing and the connection

  private applyField(name: string, value: string): ParseFailure | undefined {
    // Most fields mean nothing here: skip them on their length alone.
    if (name.length > 17 || (MEANINGFUL_LENGTHS & (1 << name.length)) === 0) return
    switch (name) {
      case 'content-length': {
        // RFC 9110 §8.6: Content-Length = 1*DIGIT. Repeated lines with one value are
        // tolerated; different values, or Content-Length with Transfer-Encoding
        // (RFC 9112 §6.3), would let two parsers frame the message differently.
        const length = parseDecimal(value)
        if (length === -1) return this.fail(400, 'INVALID_CONTENT_LENGTH', 'Content-Length must be digits only')
        if (length === -2) return this.fail(400, 'CONTENT_LENGTH_OVERFLOW', 'Content-Length is too large to be a length')
        if (this.contentLength !== -1 && this.contentLength !== length) {
          return this.fail(400, 'CONFLICTING_CONTENT_LENGTH', 'two different Content-Length values')
        }
        this.contentLength = length
        if (this.hasTransferEncoding) return this.smuggling()
        return
      }
      case 'transfer-encoding': {
        // RFC 9112 §6.1: chunked must be the final coding and applied once; a coding we
        // do not implement is 501. RFC 9112 §6.1 also makes it a fault in HTTP/1.0.
        if (this.versionMinor === 0) return this.fail(400, 'TRANSFER_ENCODING_IN_HTTP_1_0', 'Transfer-Encoding is not defined for HTTP/1.0')
        this.hasTransferEncoding = true
        for (const element of value.split(',')) {
          const coding = codingName(element)
          if (coding === '') continue
          if (this.chunked) return this.fail(400, 'CHUNKED_NOT_LAST', 'chunked must be the last transfer coding, and only once')
          if (coding === 'chunked') this.chunked = true
          else if (this.unsupportedCoding === '') this.unsupportedCoding = coding
        }
        if (this.contentLength !== -1) return this.smuggling()
        return
      }
      case 'connection':
        for (const element of value.split(',')) {
          const option = trimOws(element).toLowerCase()
          if (option === 'close') this.connectionClose = true
          else if (option === 'keep-alive') this.connectionKeepAlive = true
          else if (option === 'upgrade') this.connectionUpgrade = true
        }
        return
      case 'host':
        // RFC 9112 §3.2: more than one Host, or an invalid one, is a 400.
        if (++this.hostCount > 1) return this.fail(400, 'DUPLICATE_HOST', 'more than one Host field')
        if (!isValidHost(value)) return this.fail(400, 'INVALID_HOST', 'the Host field is not a valid host[:port]')
        return
      case 'upgrade':
        this.hasUpgradeField = true
        return
      case 'expect':
        // RFC 9110 §10.1.1: 100-continue is the only expectation; HTTP/1.0 ignores it.
        if (this.versionMinor === 0) return
        if (value.toLowerCase() === '100-continue') this.expectContinue = true
        else this.unsupportedExpectation = true
        return
    }
  }

  private smuggling(): ParseFailure {
    return this.fail(400, 'CONTENT_LENGTH_WITH_TRANSFER_ENCODING', 'Content-Length and Transfer-Encoding together (request smuggling, RFC 9112 §6.3)')
  }

  private completeHead(): ParserEvent {
    const { limits } = this
    if (this.hasTransferEncoding) {
      // RFC 9112 §6.3: a request whose final coding is not chunked has no knowable length: 400, not 501.
      if (!this.chunked) {
        if (this.unsupportedCoding === '') return this.fail(400, 'INVALID_TRANSFER_ENCODING', 'Transfer-Encoding names no coding')
        return this.fail(400, 'CHUNKED_NOT_LAST', 'chunked must be the final transfer coding of a request (RFC 9112 §6.3)')
      }
      if (this.unsupportedCoding !== '') {
        return this.fail(501, 'UNSUPPORTED_TRANSFER_CODING', `transfer coding "${this.unsupportedCoding}" is not implemented; only chunked is`)
      }
    }
    if (limits.requireHost && this.versionMinor === 1 && this.hostCount === 0) {
      return this.fail(400, 'MISSING_HOST', 'an HTTP/1.1 request needs a Host field (RFC 9112 §3.2)')
    }
    if (this.unsupportedExpectation) return this.fail(417, 'UNSUPPORTED_EXPECTATION', 'the only expectation served is 100-continue')
    if (this.contentLength > limits.maxBodyBytes) {
      return this.fail(413, 'BODY_TOO_LARGE', `the body is larger than ${limits.maxBodyBytes} bytes`)
    }

    const isConnect = this.method === 'CONNECT'
    // RFC 9112 §9.3: 1.1 is persistent unless "close"; 1.0 only with "keep-alive".
    this.keepAlive = !this.connectionClose && (this.versionMinor === 1 || this.connectionKeepAlive)
    // RFC 9110 §7.8: Upgrade counts only with the "upgrade" connection option, and not in 1.0.
    this.upgrade = isConnect || (this.versionMinor === 1 && this.connectionUpgrade && this.hasUpgradeField)

    // RFC 9112 §6.3: chunked, else Content-Length, else no body. CONNECT's content has
    // no meaning (RFC 9110 §9.3.6): what follows its head belongs to the tunnel.
    const contentLength = isConnect ? 0 : this.chunked ? -1 : Math.max(this.contentLength, 0)
    if (contentLength === -1) {
      this.startChunk()
    } else if (contentLength > 0) {
      this.remaining = contentLength
      this.state = State.BodyLength
    } else {
      this.state = State.MessageEnd
    }

    const target = this.target
    const split = splitTarget(target, this.formOf(target))
    return {
      type: 'head',
      method: this.method,
      target,
      form: split.form,
      path: split.path,
      query: split.query,
      versionMinor: this.versionMinor,
      headers: this.headers === NO_FIELDS ? [] : this.headers,
      contentLength,
      chunked: contentLength === -1,
      keepAlive: this.keepAlive,
      upgrade: this.upgrade,
      expectContinue: this.expectContinue,
    }
  }

  // RFC 9112 §3.2: origin-form, absolute-form, authority-form (CONNECT only) and
  // asterisk-form (OPTIONS only). Checked when the request line ends.
  private classifyTarget(): ParseFailure | undefined {
    const { method, target } = this
    const form = this.formOf(target)
    if (method === 'CONNECT') {
      if (form !== 'authority') return this.fail(400, 'INVALID_TARGET', 'CONNECT takes host:port as its target (RFC 9112 §3.2.3)')
    } else if (form === 'asterisk') {
      if (method !== 'OPTIONS') return this.fail(400, 'INVALID_TARGET', '"*" is a target for OPTIONS only (RFC 9112 §3.2.4)')
    } else if (form !== 'origin' && form !== 'absolute') {
      return this.fail(400, 'INVALID_TARGET', 'the target must start with "/" or be an absolute http(s) URI (RFC 9112 §3.2)')
    }
  }

  private formOf(target: string): TargetForm | 'invalid' {
    const first = target.charCodeAt(0)
    if (first === 0x2f) return 'origin'
    if (target === '*') return 'asterisk'
    if (this.method === 'CONNECT') return isAuthority(target) ? 'authority' : 'invalid'
    return /^https?:\/\/[^/?#]/i.test(target) ? 'absolute' : 'invalid'
  }

  // ---- bodies

  private readBody(after: State): ParserEvent {
    const available = this.input.length - this.pos
    if (available === 0) return NEED_DATA
    const n = available < this.remaining ? available : this.remaining
    const data = this.input.subarray(this.pos, this.pos + n)
    this.pos += n
    this.remaining -= n
    if (this.remaining === 0) this.state = after
    return { type: 'body', data }
  }

  private startChunk(): void {
    this.chunkSize = 0
    this.chunkDigits = 0
    this.extState = 'after-size'
    this.startSection(MAX_CHUNK_LINE_BYTES)
    this.state = State.ChunkSize
  }

  // chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF      (RFC 9112 §7.1)
  private readChunkSize(): ParserEvent | undefined {
    const { input } = this
    const max = this.limits.maxBodyBytes
    let i = this.pos
    for (; i < input.length; i++) {
      const digit = HEX_VALUE[input[i]]
      if (digit < 0) break
      this.chunkSize = this.chunkSize * 16 + digit
      this.chunkDigits++
      if (this.bodyBytes + this.chunkSize > max) {
        return this.failAt(i, 413, 'BODY_TOO_LARGE', `the body is larger than ${max} bytes`)
      }
    }
    if (i === input.length) return this.advance(i) ?? NEED_DATA
    if (this.chunkDigits === 0) return this.fail(400, 'INVALID_CHUNK_SIZE', 'a chunk must start with its size in hex')
    return this.step(i, State.ChunkExt)
  }

  private readChunkExt(): ParserEvent | undefined {
    const { input } = this
    let i = this.pos
    let ext = this.extState
    for (; i < input.length; i++) {
      const byte = input[i]
      const isBws = byte === SP || byte === HTAB
      switch (ext) {
        case 'after-size':
        case 'after-value':
          if (byte === CR) return this.closeChunkLine(i)
          if (byte === SEMICOLON) ext = 'before-name'
          else if (isBws) ext = 'before-semicolon'
          else return this.chunkLineError(i, ext === 'after-size' ? 'INVALID_CHUNK_SIZE' : 'INVALID_CHUNK_EXTENSION')
          break
        case 'before-semicolon':
          if (byte === SEMICOLON) ext = 'before-name'
          else if (!isBws) return this.chunkLineError(i, 'INVALID_CHUNK_EXTENSION')
          break
        case 'before-name':
          if (TOKEN[byte] === 1) ext = 'name'
          else if (!isBws) return this.chunkLineError(i, 'INVALID_CHUNK_EXTENSION')
          break
        case 'name':
          if (TOKEN[byte] === 1) break
          if (byte === CR) return this.closeChunkLine(i)
          if (byte === SEMICOLON) ext = 'before-name'
          else if (byte === EQUALS) ext = 'before-value'
          else if (isBws) ext = 'after-name'
          else return this.chunkLineError(i, 'INVALID_CHUNK_EXTENSION')
          break
        case 'after-name':
          if (byte === SEMICOLON) ext = 'before-name'
          else if (byte === EQUALS) ext = 'before-value'
          else if (!isBws) return this.chunkLineError(i, 'INVALID_CHUNK_EXTENSION')
          break
        case 'before-value':
          if (byte === DQUOTE) ext = 'quoted-value'
          else if (TOKEN[byte] === 1) ext = 'token-value'
          else if (!isBws) return this.chunkLineError(i, 'INVALID_CHUNK_EXTENSION')
          break
        case 'token-value':
          if (TOKEN[byte] === 1) break
          if (byte === CR) return this.closeChunkLine(i)
          if (byte === SEMICOLON) ext = 'before-name'
          else if (isBws) ext = 'before-semicolon'
          else return this.chunkLineError(i, 'INVALID_CHUNK_EXTENSION')
          break
        case 'quoted-value':
          if (byte === DQUOTE) ext = 'after-value'
          else if (byte === BACKSLASH) ext = 'quoted-pair'
          else if (QDTEXT[byte] !== 1) return this.chunkLineError(i, 'INVALID_CHUNK_EXTENSION')
          break
        case 'quoted-pair':
          // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
          if (FIELD_VALUE[byte] !== 1) return this.chunkLineError(i, 'INVALID_CHUNK_EXTENSION')
          ext = 'quoted-value'
          break
      }
    }
    this.extState = ext
    return this.advance(i) ?? NEED_DATA
  }

  private closeChunkLine(crAt: number): ParserEvent | undefined {
    return this.step(crAt + 1, State.ChunkSizeLf)
  }

  private chunkLineError(i: number, code: string): ParseFailure {
    const tooLong = this.advance(i)
    if (tooLong) return tooLong
    const byte = this.input[i]
    if (byte === LF) return this.bareLf()
    if (byte === CR) return this.fail(400, code, 'the chunk line ends where more was expected')
    return this.fail(400, code, `unexpected byte 0x${hex(byte)} in a chunk-size line (RFC 9112 §7.1)`)
  }

  private chunkSizeLf(): ParserEvent | undefined {
    const failed = this.expectByte(LF, State.ChunkData, 'BARE_CR', 'CR must be followed by LF')
    if (failed) return failed
    if (this.chunkSize === 0) {
      // last-chunk: the trailer section follows, then CRLF (RFC 9112 §7.1.2).
      this.inTrailers = true
      this.fieldCount = 0
      this.startSection(this.limits.maxHeaderBytes)
      this.state = State.FieldStart
      return
    }
    this.bodyBytes += this.chunkSize
    this.remaining = this.chunkSize
    // The chunk-size line ends here: the CRLF after the data must not count toward its limit.
    this.startSection(MAX_CHUNK_LINE_BYTES)
  }

  private chunkDataLf(): ParserEvent | undefined {
    const failed = this.expectByte(LF, State.ChunkSize, 'CHUNK_DATA_NOT_TERMINATED', 'chunk data must be followed by CRLF')
    if (failed) return failed
    this.startChunk()
  }

  // ---- between messages

  private messageEnd(): ParserEvent {
    const trailers = this.trailers
    const event = trailers === NO_FIELDS ? END : { type: 'end' as const, trailers }
    // A declined CONNECT cannot go back to HTTP: the client may already be tunnelling.
    const following: State = this.keepAlive && this.method !== 'CONNECT' ? State.RequestStart : State.Closed
    this.afterUpgrade = following
    this.state = this.upgrade ? State.Upgraded : following
    this.resetMessage()
    return event
  }

  private afterClose(): ParserEvent {
    if (this.pos === this.input.length) return NEED_DATA
    // RFC 9112 §9.6: after "close" the server must not process further requests.
    return this.fail(400, 'DATA_AFTER_CLOSE', 'bytes after a request that closed the connection')
  }

  private resetMessage(): void {
    this.method = ''
    this.target = ''
    this.versionMinor = 0
    this.headers = NO_FIELDS
    this.trailers = NO_FIELDS
    this.inTrailers = false
    this.fieldCount = 0
    this.contentLength = -1
    this.hasTransferEncoding = false
    this.chunked = false
    this.unsupportedCoding = ''
    this.hostCount = 0
    this.connectionClose = false
    this.connectionKeepAlive = false
    this.connectionUpgrade = false
    this.hasUpgradeField = false
    this.expectContinue = false
    this.unsupportedExpectation = false
    this.bodyBytes = 0
    this.startSection(this.limits.maxRequestLineBytes)
  }

  // ---- small moves shared by the states

  /** Consumes up to i (exclusive) and moves to a state, checking the section's limit. */
  private step(i: number, next: State): ParseFailure | undefined {
    const failed = this.advance(i)
    if (failed) return failed
    this.state = next
  }

  private advance(i: number): ParseFailure | undefined {
    this.sectionBytes += i - this.pos
    this.pos = i
    if (this.sectionBytes > this.sectionLimit) return this.sectionTooLong()
  }

  private expectByte(byte: number, next: State, code: string, message: string): ParserEvent | undefined {
    if (this.pos === this.input.length) return NEED_DATA
    const got = this.input[this.pos]
    if (got === byte) return this.step(this.pos + 1, next)
    return got === LF ? this.bareLf() : this.fail(400, code, message)
  }

  /** The input ended inside a token: keep what we have of it and wait for more. */
  private keepPartial(end: number): ParserEvent {
    this.partial += this.latin1(this.pos, end)
    return this.advance(end) ?? NEED_DATA
  }

  /** The whole token ending at `end`: what arrived in earlier feeds plus input[start, end). */
  private takeToken(start: number, end: number): string {
    const token = this.partial + this.latin1(start, end)
    this.partial = ''
    return token
  }

  /**
   * input[start, end) as a latin1 string. The head is decoded once per feed, as one
   * string (a window of the input), and tokens are cut from it: one call into C++
   * per feed instead of one per token.
   */
  private latin1(start: number, end: number): string {
    const offset = this.windowStart
    if (this.windowInput !== this.input || start < offset || end > offset + this.window.length) {
      this.windowInput = this.input
      this.windowStart = start
      this.window = this.input.toString('latin1', start, Math.max(end, Math.min(this.input.length, start + TEXT_WINDOW)))
      return this.window.slice(0, end - start)
    }
    return this.window.slice(start - offset, end - offset)
  }

  private window = ''
  private windowInput: Buffer = EMPTY
  private windowStart = 0

  private startSection(limit: number): void {
    this.sectionBytes = 0
    this.sectionLimit = limit
  }

  private sectionTooLong(): ParseFailure {
    switch (this.state) {
      case State.Target:
      case State.Version:
      case State.RequestLineLf:
        // Past the target, the line is long because of the target, unless the method is longer.
        if (this.state === State.Target || this.target.length > this.method.length) {
          return this.fail(414, 'URI_TOO_LONG', `the request-target is longer than the ${this.limits.maxRequestLineBytes}-byte request line limit`)
        }
        return this.fail(400, 'REQUEST_LINE_TOO_LONG', `the request line is longer than ${this.limits.maxRequestLineBytes} bytes`)
      case State.RequestStart:
      case State.RequestStartLf:
      case State.Method:
        return this.fail(400, 'REQUEST_LINE_TOO_LONG', `the request line is longer than ${this.limits.maxRequestLineBytes} bytes`)
      case State.ChunkSize:
      case State.ChunkExt:
      case State.ChunkSizeLf:
        return this.fail(400, 'CHUNK_LINE_TOO_LONG', `a chunk-size line is longer than ${MAX_CHUNK_LINE_BYTES} bytes`)
      default:
        return this.fail(431, 'HEADERS_TOO_LARGE', `the ${this.inTrailers ? 'trailer' : 'header'} section is larger than ${this.limits.maxHeaderBytes} bytes`)
    }
  }

  private bareLf(): ParseFailure {
    return this.fail(400, 'BARE_LF', 'a line ended with LF alone: HTTP lines end with CRLF (with netcat use "nc -C"; with printf write \\r\\n)')
  }

  /**
   * Fails at input[i], a bad byte that ended a scan. The bytes scanned before it count
   * first: if they pass the section's limit, that is the error, as it is when they
   * arrive one by one (the verdict must not depend on how the input was split).
   */
  private failAt(i: number, status: number, code: string, message: string): ParseFailure {
    return this.advance(i) ?? this.fail(status, code, message)
  }

  private fail(status: number, code: string, message: string): ParseFailure {
    this.failure = { type: 'error', error: new HttpError(status, code, message) }
    this.state = State.Failed
    this.input = EMPTY
    this.pos = 0
    return this.failure
  }
}

// ---- helpers without state

/** The methods of RFC 9110 §9, and PATCH (RFC 5789). */
export const KNOWN_METHODS: readonly string[] = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']

/** The known methods, grouped by length. */
const METHODS_BY_LENGTH: string[][] = []
for (const method of KNOWN_METHODS) (METHODS_BY_LENGTH[method.length] ??= []).push(method)

/**
 * input[start, end) as one of the KNOWN_METHODS constants, or '' for another method. The
 * usual methods then cost no new string per request, and the router's lookups find
 * their hash already computed.
 */
function knownMethod(input: Buffer, start: number, end: number): string {
  const length = end - start
  const candidates = METHODS_BY_LENGTH[length]
  if (candidates === undefined) return ''
  for (const method of candidates) {
    let i = 0
    while (i < length && input[start + i] === method.charCodeAt(i)) i++
    if (i === length) return method
  }
  return ''
}

function incomplete(): HttpError {
  return new HttpError(400, 'INCOMPLETE_MESSAGE', 'the connection ended in the middle of a request')
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, '0')
}

function trimTrailingOws(value: string): string {
  let end = value.length
  while (end > 0 && isOws(value.charCodeAt(end - 1))) end--
  return end === value.length ? value : value.slice(0, end)
}

function trimOws(value: string): string {
  let start = 0
  while (start < value.length && isOws(value.charCodeAt(start))) start++
  return trimTrailingOws(value.slice(start))
}

/** A transfer-coding's name, lower-cased, without its parameters (RFC 9112 §7). */
function codingName(element: string): string {
  const semicolon = element.indexOf(';')
  return trimOws(semicolon === -1 ? element : element.slice(0, semicolon)).toLowerCase()
}

/** 1*DIGIT as a number; -1 when not digits, -2 when past 2^53. */
function parseDecimal(value: string): number {
  if (value.length === 0) return -1
  let n = 0
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i)
    if (code < 0x30 || code > 0x39) return -1
    n = n * 10 + (code - 0x30)
  }
  return n > Number.MAX_SAFE_INTEGER ? -2 : n
}

// Host = uri-host [ ":" port ] (RFC 9110 §7.2); uri-host is an IP-literal in brackets,
// or a reg-name of unreserved, pct-encoded and sub-delims characters. Empty is allowed.
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(?::[0-9]*)?$/
const REG_NAME_OR_PORT = new Uint8Array(128)
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=%:") REG_NAME_OR_PORT[c.charCodeAt(0)] = 1

function isValidHost(value: string): boolean {
  // The common case, a name or IPv4 address and an optional port, without the regular expression.
  let colon = -1
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i)
    if (code >= 128 || REG_NAME_OR_PORT[code] !== 1) return HOST.test(value)
    if (code === 0x3a) {
      if (colon !== -1) return HOST.test(value)
      colon = i
    } else if (colon !== -1 && (code < 0x30 || code > 0x39)) {
      return HOST.test(value)
    }
  }
  return true
}

// authority-form = uri-host ":" port (RFC 9112 §3.2.3)
const AUTHORITY = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+):[0-9]{1,5}$/

function isAuthority(target: string): boolean {
  return AUTHORITY.test(target)
}

function splitTarget(target: string, form: TargetForm | 'invalid'): { form: TargetForm; path: string; query: string } {
  if (form === 'authority' || form === 'asterisk') return { form, path: '', query: '' }
  let start = 0
  if (form === 'absolute') {
    // scheme "://" authority, then the path; an empty path means "/" (RFC 9110 §4.2.3).
    const authorityStart = target.indexOf('//') + 2
    let i = authorityStart
    while (i < target.length && target[i] !== '/' && target[i] !== '?' && target[i] !== '#') i++
    start = i
  }
  let end = target.length
  const hash = target.indexOf('#', start)
  if (hash !== -1) end = hash
  const question = target.indexOf('?', start)
  const pathEnd = question !== -1 && question < end ? question : end
  const path = target.slice(start, pathEnd) || '/'
  const query = pathEnd < end ? target.slice(pathEnd + 1, end) : ''
  return { form: form === 'absolute' ? 'absolute' : 'origin', path, query }
}

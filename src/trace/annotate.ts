// Annotators: one logical message of the wire (an HTTP head, a chunk, a WebSocket frame,
// an SSE block) in, lines of text that explain its bytes out. Pure: no I/O, no state. The
// trace (--trace, GET /trace), the wire client (tools/wire.ts) and the course's transcripts
// all print what these return, so the three always agree.
//
// Conventions of the output:
//   - CR and LF are made visible as ␍ and ␊, so a line shows how it really ends.
//   - Other bytes that are not printable ASCII are written \xNN (in a text payload,
//     valid UTF-8 is shown as text, JSON-escaped).
//   - A payload longer than 256 bytes shows its first 256 and `… (N more bytes)`.
//   - An explanation follows its bytes after two spaces.
//
// They never throw: a malformed or incomplete message is explained as far as it goes, and
// what is wrong with it is said, since showing mistakes is half of what they are for.

import { isUtf8 } from 'node:buffer'
import { isControl, Opcode, unmask } from '../ws/frame.ts'
import { Utf8Validator } from '../ws/utf8.ts'

/** Payload bytes shown before the rest is summarised. */
export const SHOWN_BYTES = 256

const CR = 0x0d
const LF = 0x0a

// ---- HTTP heads (RFC 9112 §2.1: start-line *( field-line CRLF ) CRLF)

/**
 * A request or response head, one output line per line of the head, each with its line
 * ending made visible, the last being the empty line `␍␊` that ends the head. Bytes
 * after the empty line (a body that came in the same buffer) are counted, not shown.
 */
export function annotateHttpHead(head: Buffer | string): string[] {
  const bytes = typeof head === 'string' ? Buffer.from(head, 'latin1') : head
  const lines: string[] = []
  let start = 0
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== LF) continue
    const line = bytes.subarray(start, i + 1)
    lines.push(visible(line))
    start = i + 1
    // The empty line (CRLF, or a bare LF) ends the head.
    if (line.length === 1 || (line.length === 2 && line[0] === CR)) break
  }
  if (start < bytes.length) {
    const rest = bytes.length - start
    const ended = lines.length > 0 && (lines[lines.length - 1] === '␍␊' || lines[lines.length - 1] === '␊')
    lines.push(ended ? `(${plural(rest, 'byte')} of body follow the head)` : `${visible(bytes.subarray(start))}  (the head goes on: no line end yet)`)
  }
  return lines
}

// ---- chunks (RFC 9112 §7.1)
//
//   chunk      = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//   last-chunk = 1*("0") [ chunk-ext ] CRLF, then the trailer section and a final CRLF

/**
 * One encoded chunk (or several, one after another): the size line with its size in
 * decimal, the data, the CRLF after it; the last chunk named as the end of the body.
 */
export function annotateChunk(encoded: Buffer): string[] {
  const lines: string[] = []
  let at = 0
  while (at < encoded.length) {
    const lineEnd = indexOfCrlf(encoded, at)
    if (lineEnd < 0) {
      lines.push(`${visible(encoded.subarray(at))}  (not a chunk: no CRLF after a chunk-size)`)
      return lines
    }
    const sizeLine = encoded.toString('latin1', at, lineEnd)
    const shownSize = `${visible(encoded.subarray(at, lineEnd + 2))}`
    const digits = /^[0-9a-fA-F]+/.exec(sizeLine)?.[0]
    if (digits === undefined) {
      lines.push(`${shownSize}  (not a chunk-size: hex digits expected)`)
      return lines
    }
    const extension = sizeLine.length > digits.length ? `, chunk-ext ${JSON.stringify(sizeLine.slice(digits.length))}` : ''
    const size = parseInt(digits, 16)
    at = lineEnd + 2
    if (size === 0) {
      lines.push(`${shownSize}  last-chunk: chunk-size 0 ends the body${extension}`)
      // The trailer section: field lines, then the empty line.
      for (;;) {
        const end = indexOfCrlf(encoded, at)
        if (end < 0) {
          if (at < encoded.length) lines.push(`${visible(encoded.subarray(at))}  (incomplete trailer section)`)
          return lines
        }
        const line = encoded.subarray(at, end + 2)
        at = end + 2
        if (line.length === 2) {
          lines.push('␍␊  end of the (empty) trailer section: the body is complete')
          break
        }
        lines.push(`${visible(line)}  trailer field`)
      }
      continue
    }
    lines.push(`${shownSize}  chunk-size 0x${digits} = ${plural(size, 'byte')}${extension}`)
    const available = Math.min(size, encoded.length - at)
    const data = encoded.subarray(at, at + available)
    const incomplete = available < size ? ` (incomplete: ${available} of ${size} bytes here)` : ''
    lines.push(`${shownText(data)}  chunk-data, ${plural(size, 'byte')}${incomplete}`)
    at += available
    if (available < size) return lines
    if (encoded[at] === CR && encoded[at + 1] === LF) {
      lines.push('␍␊  end of the chunk-data')
      at += 2
    } else {
      lines.push('(missing the CRLF after the chunk-data)')
      return lines
    }
  }
  return lines
}

// ---- WebSocket frames (RFC 6455 §5.2)

const OPCODE_NAMES: Record<number, string> = {
  [Opcode.CONTINUATION]: 'continuation',
  [Opcode.TEXT]: 'text',
  [Opcode.BINARY]: 'binary',
  [Opcode.CLOSE]: 'close',
  [Opcode.PING]: 'ping',
  [Opcode.PONG]: 'pong',
}

/** Close codes by name: RFC 6455 §7.4.1, and 1012-1014 from the IANA registry (RFC 6455 §11.7). */
const CLOSE_NAMES: Record<number, string> = {
  1000: 'Normal Closure',
  1001: 'Going Away',
  1002: 'Protocol Error',
  1003: 'Unsupported Data',
  1004: 'Reserved',
  1005: 'No Status Rcvd, reserved: must not be sent in a close frame',
  1006: 'Abnormal Closure, reserved: must not be sent in a close frame',
  1007: 'Invalid Frame Payload Data',
  1008: 'Policy Violation',
  1009: 'Message Too Big',
  1010: 'Mandatory Extension',
  1011: 'Internal Error',
  1012: 'Service Restart',
  1013: 'Try Again Later',
  1014: 'Bad Gateway',
  1015: 'TLS Handshake, reserved: must not be sent in a close frame',
}

/** What a close code means, by RFC 6455 §7.4.1 and its ranges (§7.4.2). */
export function closeCodeName(code: number): string {
  const name = CLOSE_NAMES[code]
  if (name !== undefined) return name
  if (code < 1000) return 'not a close code: 0-999 are not used (RFC 6455 §7.4.2)'
  if (code < 3000) return 'unassigned: 1000-2999 are reserved for the protocol (RFC 6455 §7.4.2)'
  if (code < 4000) return 'registered for libraries and frameworks (RFC 6455 §7.4.2)'
  if (code < 5000) return 'private use (RFC 6455 §7.4.2)'
  return 'not a close code: above 4999 (RFC 6455 §7.4.2)'
}

/**
 * One complete frame: its header bytes in hex, each header field, then the payload
 * unmasked (text as a JSON string, binary in hex, a close frame's code and reason).
 */
export function annotateWsFrame(frame: Buffer): string[] {
  return describeFrame(frame, false)
}

/**
 * The beginning of a frame whose payload was cut after its first bytes (the trace keeps
 * no more of a large frame than it shows): annotated like the whole frame, the missing
 * payload counted as `… (N more bytes)` rather than as an incomplete frame.
 */
export function annotateWsFramePrefix(prefix: Buffer): string[] {
  return describeFrame(prefix, true)
}

function describeFrame(frame: Buffer, cut: boolean): string[] {
  if (frame.length < 2) return [`${hexBytes(frame)}  (incomplete frame: a header is at least 2 bytes)`]
  const b0 = frame[0]
  const b1 = frame[1]
  const fin = (b0 & 0x80) !== 0
  const rsv1 = (b0 & 0x40) !== 0
  const rsv2 = (b0 & 0x20) !== 0
  const rsv3 = (b0 & 0x10) !== 0
  const opcode = b0 & 0x0f
  const masked = (b1 & 0x80) !== 0
  const length7 = b1 & 0x7f

  // RFC 6455 §5.2: 0-125 is the length; 126: a 16-bit length follows; 127: a 64-bit one.
  const extended = length7 === 126 ? 2 : length7 === 127 ? 8 : 0
  const headerLength = 2 + extended + (masked ? 4 : 0)
  if (frame.length < headerLength) {
    return [`${hexBytes(frame)}  (incomplete frame: its header is ${headerLength} bytes)`]
  }
  let length = length7
  let lengthForm = '7-bit form'
  if (extended === 2) {
    length = frame.readUInt16BE(2)
    lengthForm = `16-bit form: 126, then ${hexBytes(frame.subarray(2, 4))}`
  } else if (extended === 8) {
    length = frame.readUInt32BE(2) * 0x1_0000_0000 + frame.readUInt32BE(6)
    lengthForm = `64-bit form: 127, then ${hexBytes(frame.subarray(2, 10))}`
  }
  const key = masked ? frame.subarray(2 + extended, headerLength) : null

  const lines = [`${hexBytes(frame.subarray(0, headerLength))}  frame header, ${plural(headerLength, 'byte')}`]
  lines.push(`  FIN    ${bit(fin)}  ${fin ? 'the final frame of its message' : 'more frames of this message follow'}`)
  lines.push(`  RSV1   ${bit(rsv1)}  ${rsv1 ? 'compressed (permessage-deflate, RFC 7692 §6)' : 'not compressed'}`)
  lines.push(`  RSV2   ${bit(rsv2)}${rsv2 ? '  set, and no extension defines it: a protocol error (1002)' : ''}`)
  lines.push(`  RSV3   ${bit(rsv3)}${rsv3 ? '  set, and no extension defines it: a protocol error (1002)' : ''}`)
  lines.push(`  opcode 0x${opcode.toString(16).toUpperCase()}  ${opcodeName(opcode)}`)
  // RFC 6455 §5.1, §5.3: a client masks every frame; a server masks none.
  lines.push(`  MASK   ${bit(masked)}  ${masked ? 'masked: as every client-to-server frame must be' : 'not masked: right from a server; from a client, a protocol error (1002)'}`)
  let lengthLine = `  length ${length}  ${lengthForm}`
  // RFC 6455 §5.2: "the minimal number of bytes MUST be used to encode the length".
  if ((extended === 2 && length <= 125) || (extended === 8 && length <= 0xffff)) lengthLine += ' (not the shortest form)'
  if (extended === 8 && frame[2] >= 0x80) lengthLine += ' (top bit set: a protocol error)'
  lines.push(lengthLine)
  if (key !== null) lines.push(`  masking key ${hexBytes(key)}`)
  if (isControl(opcode) && (!fin || length > 125)) {
    // RFC 6455 §5.5: control frames carry 125 bytes or less and are not fragmented.
    lines.push('  (a control frame must be final and carry 125 bytes or less: a protocol error)')
  }

  const available = Math.min(length, frame.length - headerLength)
  let payload = frame.subarray(headerLength, headerLength + available)
  // A copy to unmask: the caller's bytes stay as they are.
  if (key !== null) {
    payload = Buffer.from(payload)
    unmask(payload, key, 0)
  }
  if (available < length && !cut) lines.push(`  (incomplete: ${available} of ${plural(length, 'payload byte')} here)`)
  lines.push(...payloadLines(opcode, fin, rsv1, payload, masked, length))
  const after = frame.length - headerLength - available
  if (after > 0) lines.push(`  (${plural(after, 'byte')} after this frame)`)
  return lines
}

function opcodeName(opcode: number): string {
  const name = OPCODE_NAMES[opcode]
  if (name !== undefined) return isControl(opcode) ? `${name} (a control frame)` : name
  // RFC 6455 §5.2: 0x3-0x7 are reserved for further non-control frames, 0xB-0xF for control frames.
  return isControl(opcode) ? 'reserved (control): a protocol error' : 'reserved (non-control): a protocol error'
}

/** `payload` holds the first bytes of a payload of `length` bytes (all of it, unless the frame was cut). */
function payloadLines(opcode: number, fin: boolean, rsv1: boolean, payload: Buffer, masked: boolean, length: number): string[] {
  const what = `  payload (${plural(length, 'byte')}${masked ? ', unmasked' : ''}${rsv1 ? ', compressed' : ''})`
  const missing = length - payload.length
  if (opcode === Opcode.CLOSE) return closeLines(payload)
  if (length === 0) return ['  payload (empty)']
  if (rsv1 || opcode === Opcode.BINARY) return [`${what} ${shownHex(payload, missing)}`]
  // RFC 6455 §8.1: text must be UTF-8. A fragment may end inside a character, and a cut
  // payload may too: a sequence left unfinished at the end is not counted against it, but a
  // byte that no UTF-8 text can hold is (the validator refuses a bad prefix at once).
  const mayEndInside = missing > 0 || !fin
  const validator = new Utf8Validator()
  const text = validator.write(payload) && (mayEndInside || validator.end())
  if (opcode === Opcode.TEXT && !text) {
    return [`${what} ${shownHex(payload, missing)}  not valid UTF-8 (RFC 6455 §8.1: the receiver fails the connection with 1007)`]
  }
  const complete = text ? completeUtf8(payload) : payload.length
  if (complete < payload.length && missing === 0) {
    // The character continues in the next frame: show its first bytes apart, not as U+FFFD.
    const rest = payload.subarray(complete)
    return [`${what} ${shownJson(payload.subarray(0, complete))} + ${hexBytes(rest)}  (the start of a character that the next frame completes)`]
  }
  // Text; and continuation, ping, pong and reserved opcodes carry any bytes: text when they read as UTF-8.
  return [`${what} ${text ? shownJson(payload, missing) : shownHex(payload, missing)}`]
}

/** Where an unfinished UTF-8 sequence at the end of `bytes` begins (bytes.length if none). */
function completeUtf8(bytes: Buffer): number {
  for (let back = bytes.length - 1; back >= 0 && back >= bytes.length - 3; back--) {
    const byte = bytes[back]
    if (byte < 0x80) break
    if (byte >= 0xc0) {
      const need = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2
      return bytes.length - back < need ? back : bytes.length
    }
  }
  return bytes.length
}

/** RFC 6455 §5.5.1: a close payload is empty, or a 2-byte code and a UTF-8 reason. */
function closeLines(payload: Buffer): string[] {
  if (payload.length === 0) return ['  payload (empty): no close code (the receiver reports 1005, No Status Rcvd)']
  if (payload.length === 1) return [`  payload ${hexBytes(payload)}  (a 1-byte close payload is a protocol error: a code takes 2 bytes)`]
  const code = payload.readUInt16BE(0)
  const lines = [`  close code ${code} (${closeCodeName(code)})`]
  const reason = payload.subarray(2)
  if (reason.length === 0) lines.push('  reason (none)')
  else if (isUtf8(reason)) lines.push(`  reason ${shownJson(reason)}`)
  else lines.push(`  reason ${shownHex(reason)}  not valid UTF-8`)
  return lines
}

// ---- Server-Sent Events (WHATWG HTML, "Server-sent events", §9.2.6 interpreting an event stream)

const SSE_FIELDS: Record<string, string> = {
  id: 'the event\'s id: a reconnecting browser sends it back as Last-Event-ID',
  event: 'the event type (without it: "message")',
  data: 'one line of the event\'s data',
  retry: 'the reconnection delay, in ms',
}

/**
 * One event block: every line with its field named, and the empty line that dispatches
 * the event. Lines may end with LF, CRLF or CR (all three are line ends in the format).
 */
export function annotateSseBlock(block: Buffer | string): string[] {
  const text = typeof block === 'string' ? block : block.toString('utf8')
  const lines: string[] = []
  let hasData = false
  let at = 0
  while (at < text.length) {
    let end = at
    while (end < text.length && text[end] !== '\n' && text[end] !== '\r') end++
    if (end === text.length) {
      lines.push(`${visibleText(text.slice(at))}  (no line end yet: the parser waits for one)`)
      break
    }
    const lineEnd = text[end] === '\r' && text[end + 1] === '\n' ? end + 2 : end + 1
    const line = text.slice(at, end)
    const shown = visibleText(text.slice(at, lineEnd))
    at = lineEnd
    if (line === '') {
      lines.push(`${shown}  empty line: ${hasData ? 'dispatches the event' : 'ends the block (no data: no event is dispatched)'}`)
      hasData = false
      continue
    }
    if (line[0] === ':') {
      lines.push(`${shown}  comment: ignored by the parser (a heartbeat keeps proxies and timeouts away)`)
      continue
    }
    // field ":" optional-space value; a line without a colon is a field with an empty value.
    const colon = line.indexOf(':')
    const name = colon < 0 ? line : line.slice(0, colon)
    const what = SSE_FIELDS[name]
    if (name === 'data') hasData = true
    if (what === undefined) lines.push(`${shown}  unknown field ${JSON.stringify(name)}: ignored`)
    else lines.push(`${shown}  field ${name}: ${what}`)
  }
  return lines
}

// ---- bodies (RFC 9112 §6: a body of Content-Length bytes, or up to the close)

/** A body, or a piece of one, not chunked: its text (cut at 256 bytes) and its size. */
export function annotateBody(body: Buffer | string): string[] {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body
  if (bytes.length === 0) return ['(empty body)']
  return [`${shownText(bytes)}  body, ${plural(bytes.length, 'byte')}`]
}

// ---- shared rendering

function bit(set: boolean): string {
  return set ? '1' : '0'
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

/** Bytes as space-separated lowercase hex pairs, e.g. `81 85 37 fa`. */
export function hexBytes(bytes: Uint8Array): string {
  let out = ''
  for (let i = 0; i < bytes.length; i++) out += (i === 0 ? '' : ' ') + bytes[i].toString(16).padStart(2, '0')
  return out
}

function moreBytes(rest: number): string {
  return rest > 0 ? ` … (${rest} more bytes)` : ''
}

/** Hex of the first 256 bytes; `missing` bytes that are not in `bytes` are counted as more. */
function shownHex(bytes: Buffer, missing = 0): string {
  const end = Math.min(bytes.length, SHOWN_BYTES)
  const more = moreBytes(bytes.length - end + missing)
  return end === 0 ? more.trimStart() : hexBytes(bytes.subarray(0, end)) + more
}

/** UTF-8 text as a JSON string; cut at 256 bytes without splitting a character. */
function shownJson(bytes: Buffer, missing = 0): string {
  let end = Math.min(bytes.length, SHOWN_BYTES)
  // Back up over continuation bytes (10xxxxxx) so the cut falls between characters.
  if (end < bytes.length || missing > 0) while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--
  return JSON.stringify(bytes.toString('utf8', 0, end)) + moreBytes(bytes.length - end + missing)
}

/** Bytes on one line: printable ASCII as it is, CR and LF as ␍ ␊, the rest \xNN. */
export function visible(bytes: Uint8Array): string {
  let out = ''
  for (let i = 0; i < bytes.length; i++) out += visibleByte(bytes[i])
  return out
}

function visibleByte(byte: number): string {
  if (byte === CR) return '␍'
  if (byte === LF) return '␊'
  if (byte >= 0x20 && byte < 0x7f) return String.fromCharCode(byte)
  return `\\x${byte.toString(16).padStart(2, '0')}`
}

/** Chunk data: UTF-8 text kept as text (line ends and controls made visible), else bytes; cut at 256 bytes. */
function shownText(bytes: Buffer): string {
  let end = Math.min(bytes.length, SHOWN_BYTES)
  if (end < bytes.length) while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--
  const head = bytes.subarray(0, end)
  const shown = isUtf8(head) ? visibleText(head.toString('utf8')) : visible(head)
  const rest = bytes.length - end
  return shown + (rest > 0 ? ` … (${rest} more bytes)` : '')
}

/** Text on one line: CR and LF as ␍ ␊, other control characters \xNN. */
function visibleText(text: string): string {
  let out = ''
  for (const char of text) {
    const code = char.codePointAt(0)!
    if (code === CR || code === LF || code < 0x20 || code === 0x7f) out += visibleByte(code)
    else out += char
  }
  return out
}

function indexOfCrlf(bytes: Buffer, from: number): number {
  for (let i = from; i + 1 < bytes.length; i++) if (bytes[i] === CR && bytes[i + 1] === LF) return i
  return -1
}

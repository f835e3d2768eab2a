// The opening handshake, server side (RFC 6455 §4.2), pure: a request head in, the
// 101 response or the HTTP error that refuses it out.
//
//   => GET /echo HTTP/1.1
//      Host: 127.0.0.1:8080
//      Upgrade: websocket                         (1) a token in a list, any case
//      Connection: Upgrade                        (2) a token in a list, any case
//      Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==   (3) base64 of 16 random bytes
//      Sec-WebSocket-Version: 13                  (4) anything else: 426
//   <= HTTP/1.1 101 Switching Protocols
//      Upgrade: websocket
//      Connection: Upgrade
//      Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=   base64(SHA-1(key + GUID))

import { Buffer } from 'node:buffer'
import { isOws, isToken } from '../http/chars.ts'
import { HttpError } from '../http/errors.ts'
import type { RequestHead } from '../http/parser.ts'
import { headStart } from '../http/response.ts'
import { negotiateDeflate, type DeflateConfig, type DeflateParams } from './deflate.ts'
import { sha1 } from './sha1.ts'

/** RFC 6455 §1.3: the GUID appended to the key before hashing. */
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'

/** Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 §4.2.2, step 5.4). SHA-1 is ours: see sha1.ts for why. */
export function acceptKey(key: string): string {
  // Header values hold the bytes as received, one character per byte (latin1).
  return sha1(Buffer.from(key + GUID, 'latin1')).toString('base64')
}

export interface HandshakeOptions {
  /** Subprotocols the route speaks. One of the client's is chosen only if it is here. */
  protocols: readonly string[]
  /** Origins allowed to connect; empty: every origin. Requests without Origin are always allowed. */
  allowedOrigins: readonly string[]
  /** permessage-deflate as this route offers it, or null to decline compression. */
  deflate: DeflateConfig | null
  /**
   * Where the answers to Sec-WebSocket-Extensions values are kept, by value, for these
   * options (the answers depend on `deflate`); without it each handshake works its offer
   * out. See REMEMBERED_VALUES.
   */
  extensionAnswers?: Map<string, ExtensionsAnswer>
}

/** What a Sec-WebSocket-Extensions value comes to: the deflate agreed, null (none), or false (it breaks the grammar: 400). */
export type ExtensionsAnswer = DeflateParams | null | false

export interface Handshake {
  readonly type: 'accepted'
  /** The complete 101 response to write before the first frame. */
  readonly response: string
  readonly protocol: string | null
  readonly deflate: DeflateParams | null
}

/** The fields every refusal of a WebSocket request carries (RFC 6455 §4.2.2, §4.4). */
export const UPGRADE_REQUIRED_FIELDS = ['Upgrade', 'websocket', 'Sec-WebSocket-Version', '13'] as const

/** 426 for a plain request to a WebSocket-only route. */
export function upgradeRequired(path: string): HttpError {
  return new HttpError(426, 'UPGRADE_REQUIRED', `GET ${path} speaks WebSocket only: send an Upgrade: websocket request`, UPGRADE_REQUIRED_FIELDS)
}

/** Whether the request tries to be a WebSocket handshake at all. */
export function isWebSocketRequest(head: RequestHead): boolean {
  const headers = head.headers
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]
    if (name === 'upgrade' ? hasToken(headers[i + 1], 'websocket') : name.startsWith('sec-websocket-')) return true
  }
  return false
}

/** A refusal of a WebSocket request: the status, and the fields every refusal carries. */
function refuse(status: number, code: string, message: string): HttpError {
  return new HttpError(status, code, message, UPGRADE_REQUIRED_FIELDS)
}

/** Checks a handshake request; the accepted handshake, or the HttpError that answers it. */
export function acceptHandshake(head: RequestHead, options: HandshakeOptions): Handshake | HttpError {
  if (!isWebSocketRequest(head)) return upgradeRequired(head.path)

  // RFC 6455 §4.2.1: a GET of HTTP/1.1 or higher, with Upgrade and Connection.
  if (head.method !== 'GET') return refuse(400, 'WS_NOT_GET', 'the WebSocket handshake is a GET request')
  if (head.versionMinor < 1) return refuse(400, 'WS_HTTP_1_0', 'the WebSocket handshake needs HTTP/1.1')

  // One pass over the field lines for what every handshake has; the fields few handshakes
  // carry (subprotocols, extensions) are gathered again below only when present.
  let upgrade = false
  let connectionUpgrade = false
  let versionCount = 0
  let version = ''
  let keyCount = 0
  let key = ''
  let origin: string | undefined
  let protocolsOffered = false
  let extensionsOffered = false
  const headers = head.headers
  for (let i = 0; i < headers.length; i += 2) {
    const value = headers[i + 1]
    switch (headers[i]) {
      case 'upgrade':
        if (!upgrade) upgrade = hasToken(value, 'websocket')
        break
      case 'connection':
        if (!connectionUpgrade) connectionUpgrade = hasToken(value, 'upgrade')
        break
      case 'sec-websocket-version':
        versionCount++
        version = value
        break
      case 'sec-websocket-key':
        keyCount++
        key = value
        break
      case 'origin':
        origin ??= value
        break
      case 'sec-websocket-protocol':
        protocolsOffered = true
        break
      case 'sec-websocket-extensions':
        extensionsOffered = true
        break
    }
  }
  if (!upgrade) return refuse(400, 'WS_NO_UPGRADE', 'the handshake needs "Upgrade: websocket"')
  if (!connectionUpgrade) return refuse(400, 'WS_NO_CONNECTION_UPGRADE', 'the handshake needs "Connection: Upgrade"')

  // RFC 6455 §4.2.2: a version the server does not speak is answered 426 with the versions it does.
  if (versionCount === 0) return refuse(400, 'WS_NO_VERSION', 'the handshake needs "Sec-WebSocket-Version: 13"')
  if (versionCount > 1 || version !== '13') {
    return refuse(426, 'WS_VERSION', `WebSocket version ${fieldValues(head, 'sec-websocket-version').join(', ')} is not spoken here; version 13 is`)
  }

  // The key: base64 of 16 bytes, exactly once.
  if (keyCount !== 1 || !/^[+/0-9A-Za-z]{22}==$/.test(key)) {
    return refuse(400, 'WS_BAD_KEY', 'Sec-WebSocket-Key must appear once and be the base64 of 16 bytes')
  }

  // Cross-site WebSocket hijacking: a browser always sends Origin; refuse the ones not allowed.
  if (origin !== undefined && options.allowedOrigins.length > 0 && !options.allowedOrigins.includes(origin)) {
    return new HttpError(403, 'WS_ORIGIN', `the origin ${origin} is not allowed to connect`)
  }

  // Subprotocols: the first the client lists that this route speaks; never one it does not.
  // 1#token: empty list elements are allowed (RFC 9110 §5.6.1), but one token at least.
  let protocol: string | null = null
  if (protocolsOffered) {
    const names = fieldValues(head, 'sec-websocket-protocol')
      .flatMap((value) => value.split(','))
      .map((element) => element.trim())
      .filter((name) => name !== '')
    if (names.length === 0) return refuse(400, 'WS_BAD_PROTOCOL', 'Sec-WebSocket-Protocol must be a list of tokens')
    for (const name of names) {
      if (!isToken(name)) return refuse(400, 'WS_BAD_PROTOCOL', 'Sec-WebSocket-Protocol must be a list of tokens')
      if (protocol === null && options.protocols.includes(name)) protocol = name
    }
  }

  let deflate: DeflateParams | null = null
  if (extensionsOffered) {
    const answer = extensionsAnswer(fieldValues(head, 'sec-websocket-extensions').join(', '), options)
    if (answer === false) return refuse(400, 'WS_BAD_EXTENSIONS', 'Sec-WebSocket-Extensions is not a valid extension list (RFC 6455 §9.1)')
    deflate = answer
  }

  let response =
    `${headStart(101)}Upgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Accept: ${acceptKey(key)}\r\n`
  if (protocol !== null) response += `Sec-WebSocket-Protocol: ${protocol}\r\n`
  if (deflate !== null) response += `Sec-WebSocket-Extensions: ${deflate.response}\r\n`
  return { type: 'accepted', response: response + '\r\n', protocol, deflate }
}

// Clients of one kind send the same offer on every handshake (browsers and the ws client:
// "permessage-deflate; client_max_window_bits"), so a route parses and negotiates each value
// once. What is kept is bounded: a client that sends a new value each time, or a long one,
// has it worked out each time and fills nothing.
const REMEMBERED_VALUES = 64
const REMEMBERED_LENGTH = 256

/** The answer to a Sec-WebSocket-Extensions value: the one kept for it, or worked out (and kept if there is room). */
function extensionsAnswer(value: string, options: HandshakeOptions): ExtensionsAnswer {
  const answers = options.extensionAnswers
  let answer = answers?.get(value)
  if (answer !== undefined) return answer
  const offers = parseExtensions(value)
  answer = offers === null ? false : options.deflate === null ? null : negotiateDeflate(offers, options.deflate)
  if (answers !== undefined && answers.size < REMEMBERED_VALUES && value.length <= REMEMBERED_LENGTH) answers.set(value, answer)
  return answer
}

// ---- Sec-WebSocket-Extensions (RFC 6455 §9.1)
//
//   extension-list  = 1#extension
//   extension       = extension-token *( ";" extension-param )
//   extension-param = token [ "=" ( token / quoted-string ) ]
//
// A quoted value must be a token once unquoted.

export interface ExtensionOffer {
  readonly name: string
  /** Parameters in order; a parameter without a value has the value true. */
  readonly params: readonly (readonly [string, string | true])[]
}

/** The offers in a Sec-WebSocket-Extensions value, or null if it breaks the grammar. */
export function parseExtensions(value: string): ExtensionOffer[] | null {
  const offers: ExtensionOffer[] = []
  for (const element of splitOutsideQuotes(value, ',')) {
    const parts = splitOutsideQuotes(element, ';').map((part) => part.trim())
    if (parts.length === 1 && parts[0] === '') continue // an empty list element (RFC 9110 §5.6.1)
    const [name, ...rawParams] = parts
    if (!isToken(name)) return null
    const params: [string, string | true][] = []
    for (const raw of rawParams) {
      const equals = raw.indexOf('=')
      const key = (equals === -1 ? raw : raw.slice(0, equals)).trim()
      if (!isToken(key)) return null
      if (equals === -1) {
        params.push([key, true])
        continue
      }
      let paramValue = raw.slice(equals + 1).trim()
      if (paramValue.startsWith('"')) {
        if (paramValue.length < 2 || !paramValue.endsWith('"')) return null
        paramValue = paramValue.slice(1, -1).replace(/\\(.)/g, '$1')
      }
      if (!isToken(paramValue)) return null
      params.push([key, paramValue])
    }
    offers.push({ name, params })
  }
  return offers
}

function splitOutsideQuotes(text: string, separator: string): string[] {
  const parts: string[] = []
  let start = 0
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (quoted) {
      if (c === '\\') i++
      else if (c === '"') quoted = false
    } else if (c === '"') {
      quoted = true
    } else if (c === separator) {
      parts.push(text.slice(start, i))
      start = i + 1
    }
  }
  parts.push(text.slice(start))
  return parts
}

/**
 * Whether a comma-separated list holds `token` (given in lower case), compared
 * case-insensitively and without the whitespace around elements. No strings are made.
 */
function hasToken(list: string, token: string): boolean {
  let start = 0
  while (start <= list.length) {
    let end = list.indexOf(',', start)
    if (end === -1) end = list.length
    let first = start
    let last = end
    while (first < last && isOws(list.charCodeAt(first))) first++
    while (last > first && isOws(list.charCodeAt(last - 1))) last--
    if (last - first === token.length && equalsLowerCase(list, first, token)) return true
    start = end + 1
  }
  return false
}

/** Whether text[at, at + lower.length) is `lower` with ASCII letters in any case. */
function equalsLowerCase(text: string, at: number, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    let code = text.charCodeAt(at + i)
    if (code >= 0x41 && code <= 0x5a) code += 0x20
    if (code !== lower.charCodeAt(i)) return false
  }
  return true
}

function fieldValues(head: RequestHead, name: string): string[] {
  const values: string[] = []
  const headers = head.headers
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) values.push(headers[i + 1])
  return values
}

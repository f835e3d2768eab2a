// npm run wire -- ws://127.0.0.1:8080/echo
//
// A terminal WebSocket client on node:net that shows every byte: its own opening
// handshake (RFC 6455 §4.1), checked against src/ws/handshake.ts's acceptKey(); then each
// line typed goes out as a masked text frame, and every frame in both directions is
// printed, annotated by src/trace/annotate.ts, in curl's way: `>` sent, `<` received,
// `*` what the client itself says. Commands send raw bytes and deliberate mistakes, so
// that a learner sees how the server reacts (--help lists them).
//
// With stdin piped, the lines are sent in order; when stdin ends the client waits a
// moment for the replies, starts the closing handshake and exits when it is done.

import { randomBytes } from 'node:crypto'
import { connect, type Socket } from 'node:net'
import { createInterface } from 'node:readline'
import { annotateHttpHead, annotateWsFrame, annotateWsFramePrefix, closeCodeName } from '../src/trace/annotate.ts'
import { FrameSplitter } from '../src/trace/frames.ts'
import { closePayload, encodeFrame, Opcode } from '../src/ws/frame.ts'
import { acceptKey } from '../src/ws/handshake.ts'

const HELP = `npm run wire -- [options] ws://HOST:PORT/PATH

A WebSocket client that prints every frame it sends (>) and receives (<), each bit
explained, and what it notices itself (*). Each line you type is sent as one masked
text frame. Pipe lines into it to run a script: it sends them in order, waits for the
replies, closes and exits.

commands (typed, or piped, one per line):
  TEXT                 a text frame with TEXT, masked, as a client must (RFC 6455 §5.3)
  /text TEXT           the same, for text that starts with /
  /binary TEXT         a binary frame holding TEXT's UTF-8 bytes
  /fragments A B C     one text message in fragments, a frame per word (FIN only on the last)
  /ping [TEXT]         a ping, with TEXT as its payload: the server answers with a pong
  /pong [TEXT]         an unsolicited pong (allowed; the server ignores it)
  /close [CODE [WHY]]  a close frame, with a code and reason if given (try 1005 or 999)
  /hex 81 85 ...       these bytes exactly, as they are (no masking added)
  /unmasked TEXT       a mistake: a text frame without a mask (the server closes: 1002)
  /badutf8             a mistake: a text frame whose payload c3 28 is not UTF-8 (1007)
  /help                this text
  /quit                close with 1000 and exit

options:
  --mask-key HEX       use this 4-byte masking key (8 hex digits) instead of random ones
  --origin ORIGIN      send an Origin header (as a browser would)
  --header "N: V"      send another header field (repeatable), e.g. "Authorization: Bearer T"
  --grace MS           with stdin piped: how long to wait for replies after the last line (default 1000)
  --help               this text

The server's own view of the same bytes: npm start -- --trace, or public/inspector.html.`

interface Options {
  url: URL
  maskKey: Buffer | null
  origin: string | null
  headers: string[]
  graceMs: number
}

function parseArgs(argv: string[]): Options | string {
  let url: URL | null = null
  const options = { maskKey: null as Buffer | null, origin: null as string | null, headers: [] as string[], graceMs: 1000 }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const value = () => {
      const next = argv[++i]
      if (next === undefined) throw new Error(`${arg} needs a value`)
      return next
    }
    try {
      if (arg === '--help' || arg === '-h') return HELP
      else if (arg === '--mask-key') {
        const hex = value().replace(/\s+/g, '')
        if (!/^[0-9a-fA-F]{8}$/.test(hex)) return 'error: --mask-key takes 8 hex digits, e.g. 37fa213d'
        options.maskKey = Buffer.from(hex, 'hex')
      } else if (arg === '--origin') options.origin = value()
      else if (arg === '--header') {
        const field = value()
        if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\r\n]*$/.test(field)) return `error: --header takes "Name: value", got ${JSON.stringify(field)}`
        options.headers.push(field)
      } else if (arg === '--grace') {
        const ms = Number(value())
        if (!Number.isSafeInteger(ms) || ms < 0) return 'error: --grace takes a number of milliseconds'
        options.graceMs = ms
      } else if (arg.startsWith('-')) return `error: unknown option ${arg} (see --help)`
      else if (url !== null) return 'error: one URL only (see --help)'
      else url = new URL(arg)
    } catch (error) {
      return `error: ${(error as Error).message}`
    }
  }
  if (url === null) return `error: a ws:// URL is needed\n\n${HELP}`
  if (url.protocol === 'wss:') return 'error: wss:// (TLS) is not spoken here: use ws://'
  if (url.protocol !== 'ws:') return `error: the URL must start with ws://, got ${url.protocol}//`
  return { url, ...options }
}

// ---- output

function print(prefix: '>' | '<' | '*', lines: string[]): void {
  let text = ''
  for (const line of lines) text += `${prefix} ${line}\n`
  process.stdout.write(text)
}

function say(text: string): void {
  print('*', [text])
}

// ---- the client

class WireClient {
  private readonly socket: Socket
  private readonly key = randomBytes(16).toString('base64')
  private head: Buffer = Buffer.alloc(0)
  private open = false
  private readonly incoming = new FrameSplitter()
  private closeSent = false
  private closeReceived = false
  private tcpClosed = false
  /** When stdin ended (piped): the time to close, pushed back by every frame that arrives. */
  private closeTimer: NodeJS.Timeout | null = null
  private inputEnded = false

  constructor(private readonly options: Options) {
    const { url } = options
    const port = Number(url.port || 80)
    const host = url.hostname.replace(/^\[|\]$/g, '')
    say(`connecting to ${host} port ${port}`)
    this.socket = connect({ host, port, noDelay: true })
    this.socket.on('connect', () => this.handshake())
    this.socket.on('data', (chunk: Buffer) => this.data(chunk))
    this.socket.on('end', () => {
      say('the server closed its side of the TCP connection')
      this.socket.end()
    })
    this.socket.on('error', (error: NodeJS.ErrnoException) => {
      say(`connection error: ${error.code ?? error.message}`)
    })
    this.socket.on('close', () => this.closed())
  }

  // RFC 6455 §4.1: the client's opening handshake.
  private handshake(): void {
    const { url } = this.options
    let request = `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
    request += `Sec-WebSocket-Key: ${this.key}\r\nSec-WebSocket-Version: 13\r\n`
    if (this.options.origin !== null) request += `Origin: ${this.options.origin}\r\n`
    for (const field of this.options.headers) request += `${field}\r\n`
    request += '\r\n'
    print('>', annotateHttpHead(request))
    this.socket.write(request, 'latin1')
  }

  private data(chunk: Buffer): void {
    if (this.open) return this.frames(chunk)
    this.head = Buffer.concat([this.head, chunk])
    const end = this.head.indexOf('\r\n\r\n')
    if (end < 0) return
    const head = this.head.subarray(0, end + 4)
    const rest = this.head.subarray(end + 4)
    print('<', annotateHttpHead(head))
    const failure = this.checkResponse(head.toString('latin1'))
    if (failure !== null) {
      if (rest.length > 0) print('<', rest.toString('utf8').split('\n').filter((line) => line !== ''))
      say(failure)
      process.exitCode = 1
      this.socket.destroy()
      return
    }
    this.open = true
    say('open: type a line to send it as a text frame (/help for commands)')
    this.startInput()
    if (rest.length > 0) this.frames(rest)
  }

  /** RFC 6455 §4.1: what the client must check in the server's answer; null when all is right. */
  private checkResponse(head: string): string | null {
    const status = /^HTTP\/1\.1 (\d{3})/.exec(head)
    if (status === null) return 'the answer is not an HTTP/1.1 response'
    if (status[1] !== '101') return `the server answered ${status[1]}, not 101 Switching Protocols: no WebSocket here`
    const field = (name: string) => new RegExp(`\\r\\n${name}:[ \\t]*([^\\r]*?)[ \\t]*\\r\\n`, 'i').exec(head)?.[1]
    if (!/^websocket$/i.test(field('Upgrade') ?? '')) return 'the 101 response has no "Upgrade: websocket"'
    if (!/(^|,)\s*upgrade\s*(,|$)/i.test(field('Connection') ?? '')) return 'the 101 response has no "Connection: Upgrade"'
    const expected = acceptKey(this.key)
    const accept = field('Sec-WebSocket-Accept')
    if (accept !== expected) return `Sec-WebSocket-Accept is ${JSON.stringify(accept)}, expected ${expected}: not a WebSocket server`
    say(`Sec-WebSocket-Accept is right: base64(SHA-1("${this.key}" + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))`)
    return null
  }

  private frames(chunk: Buffer): void {
    for (const frame of this.incoming.push(chunk)) {
      print('<', frame.whole ? annotateWsFrame(frame.prefix) : annotateWsFramePrefix(frame.prefix))
      this.react(frame.prefix)
    }
    if (this.closeTimer !== null) this.scheduleClose()
  }

  /** What a client must do about a server frame: answer pings (§5.5.2) and close frames (§5.5.1). */
  private react(frame: Buffer): void {
    const opcode = frame[0] & 0x0f
    const length7 = frame[1] & 0x7f
    const payload = frame.subarray(2) // control frames are short (7-bit length) and unmasked from a server
    if (opcode === Opcode.PING && length7 <= 125) {
      say('a ping: answering with a pong that carries the same payload (RFC 6455 §5.5.2)')
      this.send(Opcode.PONG, Buffer.from(payload))
    } else if (opcode === Opcode.CLOSE) {
      this.closeReceived = true
      const code = payload.length >= 2 ? payload.readUInt16BE(0) : null
      if (code !== null) say(`the server closes with ${code} (${closeCodeName(code)})`)
      if (!this.closeSent) {
        say('answering the close with a close frame (RFC 6455 §5.5.1)')
        this.sendClose(code, '')
      } else {
        say('the close handshake is complete; the server closes TCP first (RFC 6455 §7.1.1)')
      }
    }
  }

  // ---- sending

  private maskKey(): Buffer {
    return this.options.maskKey ?? randomBytes(4)
  }

  private send(opcode: number, payload: Buffer, fin = true): void {
    this.write(encodeFrame(opcode, payload, { fin, mask: this.maskKey() }))
  }

  private sendClose(code: number | null, reason: string): void {
    this.closeSent = true
    this.send(Opcode.CLOSE, code === null ? Buffer.alloc(0) : closePayload(code, reason))
  }

  private write(bytes: Buffer): void {
    if (this.tcpClosed || this.socket.destroyed || this.socket.writableEnded) {
      say('not sent: the connection is closed')
      return
    }
    print('>', annotateWsFrame(bytes))
    this.socket.write(bytes)
  }

  command(line: string): void {
    if (!line.startsWith('/')) return this.send(Opcode.TEXT, Buffer.from(line))
    const space = line.indexOf(' ')
    const name = space < 0 ? line : line.slice(0, space)
    const arg = space < 0 ? '' : line.slice(space + 1)
    switch (name) {
      case '/text':
        return this.send(Opcode.TEXT, Buffer.from(arg))
      case '/binary':
        return this.send(Opcode.BINARY, Buffer.from(arg))
      case '/fragments': {
        const words = arg.split(/\s+/).filter((word) => word !== '')
        if (words.length === 0) return say('/fragments needs words: each becomes a frame')
        words.forEach((word, i) => this.send(i === 0 ? Opcode.TEXT : Opcode.CONTINUATION, Buffer.from(word), i === words.length - 1))
        return
      }
      case '/ping':
        return this.send(Opcode.PING, Buffer.from(arg))
      case '/pong':
        return this.send(Opcode.PONG, Buffer.from(arg))
      case '/close':
      case '/quit': {
        const match = /^\s*(\d+)?(?:\s+(.*))?$/.exec(name === '/quit' ? '1000' : arg)
        if (match === null) return say('/close takes a number and an optional reason, e.g. /close 1000 bye')
        const code = match[1] === undefined ? null : Number(match[1])
        if (code !== null && code > 0xffff) return say('a close code is 2 bytes: at most 65535')
        const reason = match[2] ?? ''
        if (Buffer.byteLength(reason) > 123) return say('a close reason is at most 123 bytes (RFC 6455 §5.5)')
        if (code === null && reason !== '') return say('a reason needs a code before it')
        return this.sendClose(code, reason)
      }
      case '/hex': {
        const digits = arg.replace(/\s+/g, '')
        if (!/^([0-9a-fA-F]{2})+$/.test(digits)) return say('/hex takes pairs of hex digits, e.g. /hex 81 85 37 fa 21 3d 7f 9f 4d 51 58')
        const bytes = Buffer.from(digits, 'hex')
        if ((bytes[0] & 0x0f) === Opcode.CLOSE) this.closeSent = true
        return this.write(bytes)
      }
      case '/unmasked':
        say('a mistake on purpose: a client must mask every frame (RFC 6455 §5.1)')
        return this.write(encodeFrame(Opcode.TEXT, Buffer.from(arg)))
      case '/badutf8':
        say('a mistake on purpose: c3 28 is not UTF-8 (c3 needs a continuation byte 80-bf)')
        return this.send(Opcode.TEXT, Buffer.from([0xc3, 0x28]))
      case '/help':
        return print('*', HELP.split('\n'))
      default:
        say(`unknown command ${name} (/help lists them; /text ${name}... sends it as text)`)
    }
  }

  // ---- input and the end

  private startInput(): void {
    const input = createInterface({ input: process.stdin, terminal: false })
    input.on('line', (line) => this.command(line))
    input.on('close', () => {
      this.inputEnded = true
      if (this.tcpClosed) return
      this.scheduleClose()
    })
    if (process.stdin.isTTY) process.on('SIGINT', () => this.finish())
  }

  /** After stdin ended: close once no frame has come for the grace period. */
  private scheduleClose(): void {
    if (!this.inputEnded) return
    if (this.closeTimer !== null) clearTimeout(this.closeTimer)
    this.closeTimer = setTimeout(() => this.finish(), this.options.graceMs)
  }

  /** Start the closing handshake (if nobody has), and give it a few seconds. */
  private finish(): void {
    if (this.closeTimer !== null) clearTimeout(this.closeTimer)
    this.closeTimer = null
    if (this.tcpClosed) return
    if (!this.closeSent && !this.closeReceived) {
      say('input ended: closing with 1000')
      this.sendClose(1000, '')
    }
    setTimeout(() => {
      say('the server did not close the connection in 5 s: closing it')
      this.socket.destroy()
    }, 5000).unref()
  }

  private closed(): void {
    this.tcpClosed = true
    if (this.closeTimer !== null) clearTimeout(this.closeTimer)
    if (this.open) say(this.closeReceived ? 'closed' : 'closed without a close frame (the code a browser reports: 1006)')
    if (!this.open || !this.closeReceived) process.exitCode ||= 1
    process.stdin.destroy()
    process.exit()
  }
}

const parsed = parseArgs(process.argv.slice(2))
if (typeof parsed === 'string') {
  const isHelp = parsed === HELP
  ;(isHelp ? process.stdout : process.stderr).write(`${parsed}\n`)
  process.exit(isHelp ? 0 : 2)
}
new WireClient(parsed)

// A WebSocket client on a raw node:net socket, for tests that speak the protocol byte by
// byte: it sends the upgrade request with exactly the fields a test gives it (and, in the
// same write, any bytes that should follow it), then sends raw bytes or masked frames built
// with the codec's own encodeFrame({ mask }), and reads what the server sends with the
// codec's FrameDecoder({ expectMasked: false }) into whole frames as they arrive.
//
//   await withWsServer({ wsMaxMessageBytes: 1024 }, async (server) => {
//     const ws = await server.open()
//     ws.sendFrame(Opcode.TEXT, Buffer.from('hi'))
//     const echo = await ws.nextFrame()
//     const close = await ws.nextClose()
//     await ws.serverEnded()
//   })
//
// Every wait has a generous deadline and fails with a message that says what it waited
// for and what had come; no test asserts on how long something took.

import { randomBytes } from 'node:crypto'
import { connect, type Socket } from 'node:net'
import { constants, createDeflateRaw, createInflateRaw, type DeflateRaw, type InflateRaw } from 'node:zlib'
import type { ServerOptions } from '../../src/options.ts'
import { encodeFrame, FrameDecoder, Opcode, type EncodeOptions } from '../../src/ws/frame.ts'
import { withServer, type LiveServer } from './server.ts'
import { WAIT_MS, within } from './wait.ts'

/** The key of RFC 6455 §1.3's example; any base64 of 16 bytes will do. */
export const SAMPLE_KEY = 'dGhlIHNhbXBsZSBub25jZQ=='

/** A fixed masking key, so that the masked bytes a test writes out are known. */
export const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d])

const OPCODE_NAMES: Record<number, string> = { 0: 'continuation', 1: 'text', 2: 'binary', 8: 'close', 9: 'ping', 10: 'pong' }

/** One frame the server sent, reassembled from the decoder's pieces. */
export interface ServerFrame {
  readonly fin: boolean
  readonly rsv1: boolean
  readonly opcode: number
  readonly payload: Buffer
  /** Bytes of the header on the wire (2, 4 or 10: the length encoding the server chose). */
  readonly headerLength: number
}

/** A whole data message: its frames put together (control frames are not allowed between them). */
export interface ServerMessage {
  readonly opcode: number
  /** RSV1 of the first frame: the payload is compressed. */
  readonly compressed: boolean
  readonly payload: Buffer
  readonly frames: readonly ServerFrame[]
}

export interface CloseInfo {
  /** null when the Close frame had no payload. */
  readonly code: number | null
  readonly reason: string
  readonly payload: Buffer
}

/** The bytes of a client frame: masked (with MASK unless told otherwise); `mask: null` sends it unmasked. */
export function clientFrame(opcode: number, payload: Uint8Array | string = Buffer.alloc(0), options: Omit<EncodeOptions, 'mask'> & { mask?: Uint8Array | null } = {}): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload
  const { mask = MASK, ...rest } = options
  return encodeFrame(opcode, data, mask === null ? rest : { ...rest, mask })
}

/** The payload of a Close frame: a code and a reason given as bytes or text. */
export function closeBody(code: number, reason: Uint8Array | string = ''): Buffer {
  const text = Buffer.from(reason)
  const payload = Buffer.alloc(2 + text.length)
  payload.writeUInt16BE(code, 0)
  payload.set(text, 2)
  return payload
}

/** The bytes of an upgrade request for `path`, with these extra field lines. */
export function upgradeRequest(path = '/echo', fields: readonly string[] = []): string {
  return (
    `GET ${path} HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${SAMPLE_KEY}\r\nSec-WebSocket-Version: 13\r\n${fields.map((f) => `${f}\r\n`).join('')}\r\n`
  )
}

export interface OpenOptions {
  /** The request target (default /echo). */
  path?: string
  /** Field lines added to the upgrade request, e.g. 'Sec-WebSocket-Extensions: permessage-deflate'. */
  fields?: readonly string[]
  /** Bytes sent in the same write as the request (frames the server must find after the head). */
  after?: Buffer
  /** Keep our side open when the server's FIN arrives (by default the socket ends too, as node's does). */
  allowHalfOpen?: boolean
}

export class WsRawClient {
  /** The status line and fields of the handshake response, latin1. */
  responseHead = ''
  status = 0
  /** Every frame received, in order; nextFrame() hands them out one by one. */
  readonly frames: ServerFrame[] = []
  /** The bytes received after the handshake response, kept up to RAW_LIMIT (see rawTruncated). */
  private rawChunks: Buffer[] = []
  private rawLength = 0
  rawTruncated = false
  /** The server's FIN arrived. */
  ended = false
  /** The socket is closed (both ways, or reset). */
  closed = false
  error: NodeJS.ErrnoException | null = null
  /** A frame the server sent broke RFC 6455 (e.g. it was masked). */
  decodeError: Error | null = null

  private headBuffer: Buffer | null = Buffer.alloc(0)
  private readonly decoder = new FrameDecoder({ expectMasked: false, allowRsv1: true, maxPayload: Number.MAX_SAFE_INTEGER })
  private pieces: Buffer[] = []
  /** Offsets in the stream of bytes after the handshake: total fed, and where the current frame began. */
  private fed = 0
  private frameStart = 0
  private headerLength = 0
  private cursor = 0
  private readonly watchers = new Set<() => void>()

  private constructor(readonly socket: Socket) {
    socket.on('data', this.onData)
    socket.on('end', () => {
      this.ended = true
      this.notify()
    })
    socket.on('error', (error: NodeJS.ErrnoException) => {
      this.error = error
      this.notify()
    })
    socket.on('close', () => {
      this.closed = true
      this.notify()
    })
  }

  /** Connects and writes the upgrade request (and `after`) in one write; does not wait for the answer. */
  static connect(port: number, options: OpenOptions = {}): Promise<WsRawClient> {
    const connecting = new Promise<WsRawClient>((resolve, reject) => {
      const socket = connect({ port, host: '127.0.0.1', noDelay: true, allowHalfOpen: options.allowHalfOpen ?? false })
      const client = new WsRawClient(socket)
      socket.once('error', reject)
      socket.once('connect', () => {
        socket.off('error', reject)
        const request = Buffer.from(upgradeRequest(options.path, options.fields), 'latin1')
        socket.write(options.after ? Buffer.concat([request, options.after]) : request)
        resolve(client)
      })
    })
    return within(connecting, `a connection to 127.0.0.1:${port}`)
  }

  /** Connects, does the handshake and waits for its response; fails unless it is 101. */
  static async open(port: number, options: OpenOptions = {}): Promise<WsRawClient> {
    const client = await WsRawClient.connect(port, options)
    try {
      await client.handshake()
    } catch (error) {
      client.destroy()
      throw error
    }
    return client
  }

  /** Waits for the handshake response; fails unless it is 101 Switching Protocols. */
  async handshake(): Promise<void> {
    await this.waitFor(() => this.status !== 0, 'the handshake response')
    if (this.status !== 101) throw new Error(`the handshake was refused:\n${this.responseHead}`)
  }

  /** The value of a field of the handshake response, by case-insensitive name. */
  header(name: string): string | undefined {
    const lower = name.toLowerCase()
    for (const line of this.responseHead.split('\r\n').slice(1)) {
      const colon = line.indexOf(':')
      if (colon > 0 && line.slice(0, colon).toLowerCase() === lower) return line.slice(colon + 1).trim()
    }
    return undefined
  }

  /** The bytes received after the handshake response (all of them unless rawTruncated). */
  get raw(): Buffer {
    if (this.rawChunks.length > 1) this.rawChunks = [Buffer.concat(this.rawChunks)]
    return this.rawChunks[0] ?? Buffer.alloc(0)
  }

  // ---- sending

  /** Writes raw bytes; false when the socket's buffer is full. */
  write(bytes: Buffer): boolean {
    return this.socket.write(bytes)
  }

  /** Writes raw bytes and resolves once they are handed to the kernel. */
  send(bytes: Buffer): Promise<void> {
    const written = new Promise<void>((resolve, reject) => {
      this.socket.write(bytes, (error) => (error ? reject(error) : resolve()))
    })
    return within(written, 'the bytes to be sent')
  }

  /** Writes one frame, masked with MASK unless told otherwise. */
  sendFrame(opcode: number, payload: Uint8Array | string = Buffer.alloc(0), options: Omit<EncodeOptions, 'mask'> & { mask?: Uint8Array | null } = {}): boolean {
    return this.write(clientFrame(opcode, payload, options))
  }

  /** Writes one frame masked with a fresh random key, as a real client does. */
  sendRandomMasked(opcode: number, payload: Uint8Array | string, options: Omit<EncodeOptions, 'mask'> = {}): boolean {
    return this.write(clientFrame(opcode, payload, { ...options, mask: randomBytes(4) }))
  }

  pauseReading(): void {
    this.socket.pause()
  }

  resumeReading(): void {
    this.socket.resume()
  }

  /** Sends our FIN. */
  end(): void {
    this.socket.end()
  }

  destroy(): void {
    this.socket.destroy()
  }

  // ---- waiting

  /** The next frame not yet handed out. */
  async nextFrame(what = 'a frame', ms = WAIT_MS): Promise<ServerFrame> {
    const index = this.cursor
    await this.waitFor(() => this.frames.length > index, what, ms)
    this.cursor = index + 1
    return this.frames[index]
  }

  /** The next data message: a first frame and its continuations; fails on a control frame among them. */
  async nextMessage(what = 'a message', ms = WAIT_MS): Promise<ServerMessage> {
    const frames: ServerFrame[] = []
    for (;;) {
      const frame = await this.nextFrame(what, ms)
      if (frame.opcode >= 8) throw new Error(`${what}: a ${describeFrame(frame)} came where a data frame was expected`)
      if (frames.length === 0 && frame.opcode === Opcode.CONTINUATION) throw new Error(`${what}: a message began with a continuation frame`)
      if (frames.length > 0 && frame.opcode !== Opcode.CONTINUATION) throw new Error(`${what}: a ${describeFrame(frame)} came inside a fragmented message`)
      frames.push(frame)
      if (frame.fin) break
    }
    const payload = frames.length === 1 ? frames[0].payload : Buffer.concat(frames.map((f) => f.payload))
    return { opcode: frames[0].opcode, compressed: frames[0].rsv1, payload, frames }
  }

  /** The next frame, which must be a Close. */
  async nextClose(what = 'a Close frame', ms = WAIT_MS): Promise<CloseInfo> {
    const frame = await this.nextFrame(what, ms)
    if (frame.opcode !== Opcode.CLOSE) throw new Error(`${what}: a ${describeFrame(frame)} came instead`)
    return parseClose(frame.payload)
  }

  /** Skips every other frame until a Close; returns it and the frames skipped. */
  async untilClose(what = 'a Close frame', ms = WAIT_MS): Promise<CloseInfo & { skipped: ServerFrame[] }> {
    const skipped: ServerFrame[] = []
    for (;;) {
      const frame = await this.nextFrame(what, ms)
      if (frame.opcode === Opcode.CLOSE) return { ...parseClose(frame.payload), skipped }
      skipped.push(frame)
    }
  }

  /** Resolves when the server has closed its side: its FIN arrived (or the socket closed). */
  serverEnded(ms = WAIT_MS): Promise<void> {
    return this.waitFor(() => this.ended || this.closed, 'the server to close the TCP connection', ms, 'wait')
  }

  /** Resolves when the socket is closed both ways. */
  socketClosed(ms = WAIT_MS): Promise<void> {
    return this.waitFor(() => this.closed, 'the socket to close', ms, 'wait')
  }

  /** Frames received and not handed out yet. */
  get pending(): readonly ServerFrame[] {
    return this.frames.slice(this.cursor)
  }

  /**
   * Resolves when `condition` holds, checked on every socket event. Rejects after `ms`, on
   * bytes that are not WebSocket frames, or once the socket has closed with the condition
   * still false (unless `onClose` is 'wait').
   */
  waitFor(condition: () => boolean, what: string, ms = WAIT_MS, onClose: 'fail' | 'wait' = 'fail'): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        let failure: Error | null = null
        if (condition()) {
          done()
          resolve()
          return
        }
        if (this.decodeError) failure = new Error(`${what}: the server sent a bad frame (${this.decodeError.message}); ${this.describe()}`)
        else if (onClose === 'fail' && this.closed) failure = new Error(`${what}: the connection closed first; ${this.describe()}`)
        if (failure) {
          done()
          reject(failure)
        }
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`timed out after ${ms} ms waiting for ${what}; ${this.describe()}`))
      }, ms)
      const done = () => {
        clearTimeout(timer)
        this.watchers.delete(check)
      }
      this.watchers.add(check)
      check()
    })
  }

  /** What has come so far, for failure messages. */
  describe(): string {
    const shown = this.frames.slice(-8).map(describeFrame).join(', ')
    const state = [this.ended && 'FIN', this.closed && 'closed', this.error?.code].filter(Boolean).join(', ')
    const head = this.status === 0 ? `no handshake response (${this.headBuffer?.length ?? 0} bytes of it)` : `status ${this.status}`
    return `${head}; ${this.frames.length} frame(s) received${shown ? `, the last: ${shown}` : ''}${state ? ` (${state})` : ''}`
  }

  // ---- reading

  private readonly onData = (chunk: Buffer): void => {
    if (this.headBuffer !== null) {
      const head = Buffer.concat([this.headBuffer, chunk])
      const end = head.indexOf('\r\n\r\n')
      if (end === -1) {
        this.headBuffer = head
        this.notify()
        return
      }
      this.headBuffer = null
      this.responseHead = head.toString('latin1', 0, end)
      this.status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(this.responseHead)?.[1] ?? -1)
      chunk = head.subarray(end + 4)
      if (this.status !== 101) {
        this.notify()
        return
      }
    }
    if (chunk.length > 0 && this.decodeError === null) this.readFrames(chunk)
    this.notify()
  }

  private readFrames(chunk: Buffer): void {
    if (!this.rawTruncated) {
      if (this.rawLength + chunk.length <= RAW_LIMIT) {
        this.rawChunks.push(Buffer.from(chunk))
        this.rawLength += chunk.length
      } else {
        this.rawTruncated = true
      }
    }
    this.fed += chunk.length
    this.decoder.feed(chunk)
    for (;;) {
      const event = this.decoder.next()
      if (event.type === 'need-data') return
      if (event.type === 'error') {
        this.decodeError = event.error
        return
      }
      const consumed = this.fed - this.decoder.buffered
      if (event.first) this.headerLength = consumed - event.data.length - this.frameStart
      if (event.data.length > 0) this.pieces.push(event.data)
      if (!event.last) continue
      const payload = this.pieces.length === 1 ? Buffer.from(this.pieces[0]) : Buffer.concat(this.pieces)
      this.pieces = []
      this.frames.push({ fin: event.fin, rsv1: event.rsv1, opcode: event.opcode, payload, headerLength: this.headerLength })
      this.frameStart = consumed
    }
  }

  private notify(): void {
    for (const watcher of [...this.watchers]) watcher()
  }
}

/** How many bytes after the handshake `raw` keeps. */
const RAW_LIMIT = 4 * 1024 * 1024

export function parseClose(payload: Buffer): CloseInfo {
  if (payload.length < 2) return { code: null, reason: '', payload }
  return { code: payload.readUInt16BE(0), reason: payload.toString('utf8', 2), payload }
}

export function describeFrame(frame: ServerFrame): string {
  const name = OPCODE_NAMES[frame.opcode] ?? `opcode ${frame.opcode}`
  const flags = `${frame.fin ? '' : ' (not FIN)'}${frame.rsv1 ? ' (RSV1)' : ''}`
  if (frame.opcode === Opcode.CLOSE) {
    const close = parseClose(frame.payload)
    return `close ${close.code ?? '(no code)'}${close.reason ? ` "${close.reason}"` : ''}`
  }
  const shown = frame.payload.length <= 32 ? ` ${JSON.stringify(frame.payload.toString('latin1'))}` : ''
  return `${name}${flags} of ${frame.payload.length} bytes${shown}`
}

// ---- permessage-deflate, client side (RFC 7692 §7.2): one zlib stream per direction,
// kept across messages (context takeover) until reset.

const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff])

/** Compresses messages the way a client does: raw DEFLATE, sync-flushed, the trailer removed. */
export class ClientDeflater {
  private readonly stream: DeflateRaw = createDeflateRaw({ windowBits: 15 })

  compress(message: Buffer): Promise<Buffer> {
    const stream = this.stream
    const done = new Promise<Buffer>((resolve, reject) => {
      const parts: Buffer[] = []
      const onData = (chunk: Buffer) => parts.push(chunk)
      stream.on('data', onData)
      stream.once('error', reject)
      stream.write(message)
      stream.flush(constants.Z_SYNC_FLUSH, () => {
        stream.off('data', onData)
        stream.off('error', reject)
        const output = Buffer.concat(parts)
        if (!output.subarray(-4).equals(TRAILER)) reject(new Error('a sync flush did not end with 00 00 ff ff'))
        else resolve(output.subarray(0, output.length - 4))
      })
    })
    return within(done, 'zlib to compress a message')
  }

  close(): void {
    this.stream.close()
  }
}

/** Inflates the server's compressed messages with one window kept across them. */
export class ClientInflater {
  private readonly stream: InflateRaw = createInflateRaw({ windowBits: 15 })

  inflate(payload: Buffer): Promise<Buffer> {
    const stream = this.stream
    const done = new Promise<Buffer>((resolve, reject) => {
      const parts: Buffer[] = []
      const onData = (chunk: Buffer) => parts.push(chunk)
      stream.on('data', onData)
      stream.once('error', reject)
      stream.write(Buffer.concat([payload, TRAILER]))
      stream.flush(constants.Z_SYNC_FLUSH, () => {
        stream.off('data', onData)
        stream.off('error', reject)
        resolve(Buffer.concat(parts))
      })
    })
    return within(done, 'zlib to inflate a message')
  }

  close(): void {
    this.stream.close()
  }
}

// ---- a server for WebSocket tests

export interface WsLiveServer extends LiveServer {
  /** Connects to the server and does the handshake; the client is destroyed when the test ends. */
  open(options?: OpenOptions): Promise<WsRawClient>
  /** Connects and sends the request (and `options.after`) without waiting for the answer. */
  connectWs(options?: OpenOptions): Promise<WsRawClient>
}

/** withServer() with WebSocket clients that are destroyed when `run` ends. */
export function withWsServer(overrides: Partial<ServerOptions>, run: (server: WsLiveServer) => Promise<void>): Promise<void> {
  return withServer(overrides, async (server) => {
    const clients = new Set<WsRawClient>()
    const track = (client: WsRawClient) => {
      clients.add(client)
      return client
    }
    const live: WsLiveServer = {
      ...server,
      open: async (options) => track(await WsRawClient.open(server.port, options)),
      connectWs: async (options) => track(await WsRawClient.connect(server.port, options)),
    }
    try {
      await run(live)
    } finally {
      for (const client of clients) client.destroy()
    }
  })
}

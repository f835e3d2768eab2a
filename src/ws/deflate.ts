// permessage-deflate (RFC 7692): the negotiation, and compressing and decompressing
// whole messages over node:zlib.
//
// On the wire a compressed message is raw DEFLATE data with RSV1 set on its first
// frame; each message ends with an empty stored block ("00 00 ff ff") that the sender
// removes and the receiver puts back (RFC 7692 §7.2.1, §7.2.2). With context takeover
// the LZ77 window carries over from one message to the next; without it each message
// stands alone, which is what lets a broadcast be compressed once for every subscriber.
//
// zlib runs on libuv's small thread pool: at most MAX_ZLIB_JOBS run at once, the rest
// wait in order. The jobs of one compressor or decompressor run one after another.

import { Buffer } from 'node:buffer'
import { constants, createDeflateRaw, createInflateRaw, type DeflateRaw, type InflateRaw } from 'node:zlib'
import { CloseCode, WsError } from './errors.ts'
import type { ExtensionOffer } from './handshake.ts'

export interface DeflateConfig {
  /**
   * Say server_no_context_takeover even when the client does not ask: every message is
   * compressed on its own. Broadcast routes set it so one compressed frame serves all.
   */
  serverNoContextTakeover: boolean
  /** The largest LZ77 window (2^bits bytes) the server compresses with: 9 to 15. */
  serverMaxWindowBits: number
  /** Messages smaller than this many bytes are sent uncompressed. */
  threshold: number
  /** zlib compression level, 0-9. */
  level: number
}

export const DEFAULT_DEFLATE: DeflateConfig = {
  serverNoContextTakeover: false,
  serverMaxWindowBits: 15,
  threshold: 1024,
  level: 6,
}

/** What was agreed for one connection. */
export interface DeflateParams {
  readonly serverNoContextTakeover: boolean
  readonly clientNoContextTakeover: boolean
  readonly serverMaxWindowBits: number
  /** The extension as the 101 response states it. */
  readonly response: string
}

/** The first permessage-deflate offer we can accept, as agreed; null declines them all. */
export function negotiateDeflate(offers: readonly ExtensionOffer[], config: DeflateConfig): DeflateParams | null {
  for (const offer of offers) {
    if (offer.name !== 'permessage-deflate') continue
    const params = acceptOffer(offer, config)
    if (params !== null) return params
  }
  return null
}

// RFC 7692 §7: an offer is declined if it has an unknown parameter, a parameter twice,
// or an invalid value; the next offer is then tried.
function acceptOffer(offer: ExtensionOffer, config: DeflateConfig): DeflateParams | null {
  let serverNoContextTakeover = config.serverNoContextTakeover
  let clientNoContextTakeover = false
  let serverBits: number | null = null
  let clientBits: number | true | null = null
  const seen = new Set<string>()
  for (const [name, value] of offer.params) {
    if (seen.has(name)) return null
    seen.add(name)
    switch (name) {
      case 'server_no_context_takeover':
        if (value !== true) return null
        serverNoContextTakeover = true
        break
      case 'client_no_context_takeover':
        if (value !== true) return null
        clientNoContextTakeover = true
        break
      case 'server_max_window_bits':
        serverBits = value === true ? null : windowBits(value)
        if (serverBits === null) return null
        break
      case 'client_max_window_bits':
        clientBits = value === true ? true : windowBits(value)
        if (clientBits === null) return null
        break
      default:
        return null
    }
  }
  // zlib makes no raw DEFLATE stream with a 256-byte window (it silently uses 512), so
  // a client that can only take 8 bits is declined rather than sent what it cannot read.
  if (serverBits !== null && serverBits < 9) return null
  const bits = Math.min(config.serverMaxWindowBits, serverBits ?? 15)

  let response = 'permessage-deflate'
  if (serverNoContextTakeover) response += '; server_no_context_takeover'
  if (clientNoContextTakeover) response += '; client_no_context_takeover'
  // §7.1.2.1: the server may state its window even when not asked.
  if (serverBits !== null || bits < 15) response += `; server_max_window_bits=${bits}`
  // §7.1.2.2: only when offered; the client's own limit is echoed (our inflater takes any window).
  if (typeof clientBits === 'number') response += `; client_max_window_bits=${clientBits}`
  return { serverNoContextTakeover, clientNoContextTakeover, serverMaxWindowBits: bits, response }
}

/** "8" to "15", decimal without leading zeros (RFC 7692 §7.1.2.1); else null. */
function windowBits(value: string): number | null {
  return /^(?:[89]|1[0-5])$/.test(value) ? Number(value) : null
}

// ---- the zlib side

/** The empty stored block that ends every compressed message (RFC 7692 §7.2.1). */
const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff])

/** zlib jobs running at once, across every connection. */
export const MAX_ZLIB_JOBS = 8
let running = 0
const waiting: (() => void)[] = []

/** Runs `job` when one of the MAX_ZLIB_JOBS places is free; places are given in order. */
function withZlibPlace<T>(job: () => Promise<T>): Promise<T> {
  const run = (): Promise<T> => {
    running++
    return job().finally(() => {
      running--
      waiting.shift()?.()
    })
  }
  if (running < MAX_ZLIB_JOBS) return run()
  return new Promise<void>((resolve) => waiting.push(resolve)).then(run)
}

/**
 * Runs `job` on one zlib stream once the job before it on that stream has settled, then in
 * a zlib place. Two jobs in flight on one stream would each collect the other's output
 * (every 'data' listener sees every chunk), and a release() after one would close the
 * stream under the other.
 */
function inTurn<T>(previous: Promise<unknown>, job: () => Promise<T>): Promise<T> {
  const settled = previous.then(
    () => undefined,
    () => undefined,
  )
  return settled.then(() => withZlibPlace(job))
}

/**
 * A zlib stream with an error listener of its own for its whole life: an error that comes
 * when no job is listening (after close(), say) must not become an uncaught exception.
 */
function guarded<T extends DeflateRaw | InflateRaw>(stream: T): T {
  stream.on('error', ignore)
  return stream
}

function ignore(): void {}

/** Compresses messages for one sender. The zlib stream is made on first use. */
export class MessageCompressor {
  private stream: DeflateRaw | null = null
  /** The last job asked for: one stream takes one message at a time (see inTurn). */
  private previous: Promise<unknown> = Promise.resolve()
  private closed = false

  constructor(
    private readonly windowBits: number,
    private readonly noContextTakeover: boolean,
    private readonly level = DEFAULT_DEFLATE.level,
  ) {}

  /** The compressed payload of a whole message, its trailer removed. */
  compress(message: Buffer): Promise<Buffer> {
    const job = inTurn(this.previous, () => this.run(message))
    this.previous = job
    return job
  }

  private run(message: Buffer): Promise<Buffer> {
    if (this.closed) return Promise.reject(new Error('the compressor is closed'))
    const stream = (this.stream ??= guarded(createDeflateRaw({ level: this.level, windowBits: this.windowBits, memLevel: 8 })))
    return new Promise((resolve, reject) => {
      const parts: Buffer[] = []
      const onData = (chunk: Buffer) => parts.push(chunk)
      stream.on('data', onData)
      stream.once('error', reject)
      stream.write(message)
      stream.flush(constants.Z_SYNC_FLUSH, () => {
        stream.off('data', onData)
        stream.off('error', reject)
        // close() during the job: the stream is gone, and must not be touched again.
        if (this.stream !== stream) return reject(new Error('the compressor was closed'))
        // One part is the usual case (zlib's output chunk is 16 KiB): no copy for it.
        const output = parts.length === 1 ? parts[0] : Buffer.concat(parts)
        // Without context takeover the next message starts from an empty window: reset the
        // stream rather than make a new one (making one costs far more than a reset).
        if (this.noContextTakeover) stream.reset()
        resolve(output.subarray(0, output.length - TRAILER.length))
      })
    })
  }

  /** The connection is gone: frees the zlib stream; jobs still waiting are refused. */
  close(): void {
    this.closed = true
    this.stream?.close()
    this.stream = null
  }
}

/** Decompresses messages from one peer, refusing any that inflate past `maxBytes`. */
export class MessageDecompressor {
  private stream: InflateRaw | null = null
  /** The last job asked for: one stream takes one message at a time (see inTurn). */
  private previous: Promise<unknown> = Promise.resolve()
  private closed = false

  constructor(
    private readonly maxBytes: number,
    private readonly noContextTakeover: boolean,
  ) {}

  /** The message a compressed payload holds. Rejects with 1009 as soon as it grows past the limit. */
  decompress(payload: Buffer): Promise<Buffer> {
    const job = inTurn(this.previous, () => this.run(payload))
    this.previous = job
    return job
  }

  private run(payload: Buffer): Promise<Buffer> {
    if (this.closed) return Promise.reject(new Error('the decompressor is closed'))
    // The window must be as large as the sender's: 15 bits takes every window a client may use.
    const stream = (this.stream ??= guarded(createInflateRaw({ windowBits: 15 })))
    return new Promise((resolve, reject) => {
      const parts: Buffer[] = []
      let total = 0
      let failure: Error | null = null
      const onData = (chunk: Buffer) => {
        total += chunk.length
        if (total > this.maxBytes) {
          // Stop here: the rest of a decompression bomb is never produced.
          failure = new WsError(CloseCode.MESSAGE_TOO_BIG, 'INFLATED_TOO_BIG', `the message inflates to more than ${this.maxBytes} bytes`)
          stream.off('data', onData)
          stream.reset()
          return
        }
        parts.push(chunk)
      }
      const onError = (error: Error) => {
        failure ??= new WsError(CloseCode.INVALID_PAYLOAD, 'BAD_DEFLATE_DATA', `the compressed message is not valid DEFLATE data: ${error.message}`)
        this.discardStream()
        reject(failure)
      }
      stream.on('data', onData)
      stream.once('error', onError)
      stream.write(payload)
      stream.write(TRAILER)
      stream.flush(() => {
        stream.off('data', onData)
        stream.off('error', onError)
        // close() during the job: the stream is gone, and must not be touched again.
        if (this.stream !== stream) return reject(failure ?? new Error('the decompressor was closed'))
        if (failure !== null) {
          this.discardStream()
          reject(failure)
          return
        }
        // A message may end with a final block (RFC 7692 §7.2.3.3): that DEFLATE stream is
        // over, and the next message is a new one. Otherwise, without context takeover,
        // the window is emptied for the next message.
        if (stream.readableEnded) this.discardStream()
        else if (this.noContextTakeover) stream.reset()
        resolve(parts.length === 1 ? parts[0] : Buffer.concat(parts, total))
      })
    })
  }

  /** The connection is gone: frees the zlib stream; jobs still waiting are refused. */
  close(): void {
    this.closed = true
    this.discardStream()
  }

  /** Drops the current stream; the next message gets a fresh one. */
  private discardStream(): void {
    this.stream?.close()
    this.stream = null
  }
}

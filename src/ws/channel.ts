// GET /ws/{channel}?after=N: a channel over WebSocket. The server sends each message as a
// text frame holding its envelope; each text frame the client sends is published to the
// channel. A binary frame is refused with 1003; publishing without the publish token
// (when one is set) with 1008.
//
// Encode once, write many: a message's frame is made once for every subscriber. With
// permessage-deflate, the channel's endpoint agrees on server_no_context_takeover with
// every client, so each message is compressed on its own, once, and the same compressed
// frame serves every client that agreed on the same window.

import { Buffer } from 'node:buffer'
import { encodeFrame, Opcode } from './frame.ts'
import { MessageCompressor } from './deflate.ts'
import type { Channel, Feed, Message, Outlet, Subscription } from '../hub/hub.ts'
import type { WsSession, SessionHandler } from './session.ts'
import { CloseCode } from './errors.ts'

/** A message's frames: plain, and compressed when first asked for. */
export interface ChannelFrames {
  readonly plain: Buffer
  /** Bytes of the envelope (the plain frame's payload): its size decides whether to compress. */
  readonly payloadBytes: number
  compressed: Promise<Buffer> | null
}

/** Every broadcast compression runs here: one zlib stream, each message on its own. */
const broadcastCompressor = new MessageCompressor(15, true)

export class ChannelFeed implements Feed<ChannelFrames> {
  private readonly cache = new WeakMap<Message, ChannelFrames>()

  encode(message: Message): ChannelFrames {
    let frames = this.cache.get(message)
    if (frames === undefined) {
      frames = framesOf(message.envelope)
      this.cache.set(message, frames)
    }
    return frames
  }

  encodeGap(first: number): ChannelFrames {
    return framesOf(`{"gap":true,"first":${first}}`)
  }
}

function framesOf(text: string): ChannelFrames {
  const plain = encodeFrame(Opcode.TEXT, Buffer.from(text))
  return { plain, payloadBytes: Buffer.byteLength(text), compressed: null }
}

function compressedFrame(frames: ChannelFrames): Promise<Buffer> {
  const payload = frames.plain.subarray(frames.plain.length - frames.payloadBytes)
  return (frames.compressed ??= broadcastCompressor.compress(payload).then((data) => encodeFrame(Opcode.TEXT, data, { rsv1: true })))
}

export const CHANNEL_FEED = new ChannelFeed()

/** One client's session, as the hub writes to it. */
class SessionOutlet implements Outlet<ChannelFrames> {
  /** Whether the shared compressed frames fit this client: it agreed on no context takeover and a full window. */
  private readonly compress: boolean

  constructor(
    private readonly session: WsSession,
    private readonly threshold: number,
  ) {
    const deflate = session.deflate
    this.compress = deflate !== null && deflate.serverNoContextTakeover && deflate.serverMaxWindowBits === 15
  }

  write(frames: ChannelFrames): boolean {
    this.session.batchThisTurn()
    if (this.compress && frames.payloadBytes >= this.threshold) return this.session.sendEncoded(compressedFrame(frames), frames.payloadBytes)
    return this.session.sendEncoded(frames.plain)
  }

  drained(): Promise<void> {
    return this.session.drained()
  }

  get queuedBytes(): number {
    return this.session.bufferedAmount
  }

  cutOff(): void {
    this.session.close(CloseCode.POLICY_VIOLATION, 'too slow: resume with ?after= and the last id')
  }
}

export interface ChannelSessionOptions {
  channel: Channel
  after: number | undefined
  /** Whether this client may publish (the publish token was on its upgrade request, or none is set). */
  mayPublish: boolean
  /** Messages smaller than this go uncompressed. */
  deflateThreshold: number
}

/** The session handler of one /ws/{channel} client. */
export function channelSession(options: ChannelSessionOptions): SessionHandler {
  let subscription: Subscription<ChannelFrames> | null = null
  return {
    onOpen(session) {
      subscription = options.channel.subscribe(CHANNEL_FEED, new SessionOutlet(session, options.deflateThreshold), options.after)
    },
    onMessage(session, data, isBinary) {
      if (isBinary) return session.close(CloseCode.UNSUPPORTED_DATA, 'send text: a message is UTF-8 text')
      if (!options.mayPublish) return session.close(CloseCode.POLICY_VIOLATION, 'publishing needs the publish token')
      options.channel.publish(data.toString('utf8'))
    },
    onClose() {
      subscription?.close()
      subscription = null
      options.channel.releaseIfEmpty()
    },
  }
}

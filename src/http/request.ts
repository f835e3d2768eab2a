// What a route handler sees of a request: the parsed head, the route's parameters,
// and the body, which arrives after the head and is held (up to the parser's body
// limit) until the handler reads it or the response ends.

import { Buffer } from 'node:buffer'
import type { Socket } from 'node:net'
import type { HttpError } from './errors.ts'
import type { RequestHead } from './parser.ts'

/** Takes over the socket after an Upgrade request: `rest` holds the bytes already read past it. */
export type Takeover = (socket: Socket, rest: Buffer) => void

/** The connection, as the request needs it. */
export interface RequestOwner {
  /** The handler wants the body: a client waiting on Expect: 100-continue is told to send it. */
  bodyWanted(request: IncomingRequest): void
  /** The handler will take the socket once this Upgrade (or CONNECT) request has ended. */
  takeOver(request: IncomingRequest, takeover: Takeover): void
  /** The peer's IP address (undefined once the socket is gone). */
  readonly remoteAddress?: string
}

const NO_PARAMS: Readonly<Record<string, string>> = Object.freeze({})

export class IncomingRequest {
  /** Values of the route's :parameters, percent-decoded. */
  params: Readonly<Record<string, string>> = NO_PARAMS
  /** The body's pieces so far; null until one arrives (most requests have none). */
  private parts: Buffer[] | null = null
  private received = 0
  private complete = false
  private discarding = false
  private failure: HttpError | null = null
  private reader: { resolve: (body: Buffer) => void; reject: (error: HttpError) => void } | null = null
  private searchParams: URLSearchParams | null = null

  constructor(
    readonly head: RequestHead,
    private readonly owner: RequestOwner,
  ) {
    this.complete = head.contentLength === 0
  }

  get method(): string {
    return this.head.method
  }

  /** The first value of a header field, by lower-case name. */
  header(name: string): string | undefined {
    const headers = this.head.headers
    for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) return headers[i + 1]
    return undefined
  }

  /** The client's IP address, as the socket saw it (e.g. "127.0.0.1", "::1"). */
  get remoteAddress(): string | undefined {
    return this.owner.remoteAddress
  }

  get query(): URLSearchParams {
    return (this.searchParams ??= new URLSearchParams(this.head.query))
  }

  /** The whole body. Rejects with the parser's error (400, 413, 408) if the body is bad or late. */
  readBody(): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure)
    if (this.complete) return Promise.resolve(this.takeBody())
    if (this.reader) throw new Error('readBody() called twice')
    this.owner.bodyWanted(this)
    return new Promise((resolve, reject) => {
      this.reader = { resolve, reject }
    })
  }

  /** For Upgrade and CONNECT requests: take the socket when the request has ended. */
  takeOver(takeover: Takeover): void {
    if (!this.head.upgrade) throw new Error('only an Upgrade or CONNECT request can take over its connection')
    this.owner.takeOver(this, takeover)
  }

  get bodyComplete(): boolean {
    return this.complete
  }

  // ---- called by the connection

  pushBody(chunk: Buffer): void {
    if (this.discarding) return
    ;(this.parts ??= []).push(chunk)
    this.received += chunk.length
  }

  endBody(): void {
    this.complete = true
    const reader = this.reader
    if (reader) {
      this.reader = null
      reader.resolve(this.takeBody())
    }
  }

  failBody(error: HttpError): void {
    this.failure = error
    this.parts = null
    const reader = this.reader
    if (reader) {
      this.reader = null
      reader.reject(error)
    }
  }

  /** The response ended: what is still to come of the body is dropped as it arrives. */
  discardBody(): void {
    this.discarding = true
    this.parts = null
  }

  private takeBody(): Buffer {
    const parts = this.parts
    this.parts = null
    if (parts === null) return Buffer.alloc(0)
    return parts.length === 1 ? parts[0] : Buffer.concat(parts, this.received)
  }
}

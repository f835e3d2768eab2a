// The listening socket: accepts connections up to a limit, runs one clock for every
// connection's timeouts, and shuts down in order.
//
// - Past the connection limit a new client gets 503 and is closed; the limit sits below
//   the process's open-file limit so that accept() itself does not fail.
// - If accept() fails anyway (EMFILE, ENFILE), libuv closes the pending connections
//   itself (it frees a descriptor kept in reserve to accept and close them): those
//   clients see their connection closed, and serving goes on. Only if that fails too
//   does the server emit 'error', which is logged.
// - One sweep timer, not a timer per connection: each socket's owner (an HTTP connection,
//   a WebSocket session) keeps its deadlines as numbers, and the sweep ticks every owner,
//   which acts on the ones that have passed.
// - One list of connections: the open sockets. Each has one owner at a time (see
//   socket-owner.ts); the sweep and the shutdown reach the owners through their sockets.
//   It is a plain array, 8 bytes a socket (a Set takes 20 to 40), and a socket is in it
//   until it has closed, whoever owns it by then: closed sockets are dropped when the sweep
//   passes them, or when the count is asked for (the connection limit, shutdown).

import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import { now } from '../clock.ts'
import { Connection, type ConnectionOptions, type RequestHandler } from './connection.ts'
import { HttpError } from './errors.ts'
import { standaloneError } from './response.ts'
import { ownerOf } from './socket-owner.ts'

export interface ListenerOptions extends ConnectionOptions {
  /** Open sockets (HTTP and upgraded) past which new clients get 503. */
  maxConnections: number
}

/** Something that must say goodbye on shutdown (an upgraded session, a stream). */
export type ShutdownHook = () => void

export class HttpListener {
  readonly server: Server
  /** Every open socket, HTTP or upgraded, and those closed since the last sweep. */
  private readonly sockets: Socket[] = []
  private readonly shutdownHooks = new Set<ShutdownHook>()
  private sweepTimer: NodeJS.Timeout | null = null
  /** How often the sweep runs: a quarter of the shortest timeout it serves, between 10 ms and 1 s. */
  private sweepMs: number
  private lastAcceptError = -Infinity
  /** When the accept path last counted the sockets at the limit (see atLimit). */
  private countedAt = -Infinity
  private closing = false

  constructor(
    private readonly handler: RequestHandler,
    readonly options: ListenerOptions,
  ) {
    // allowHalfOpen: a client that sends its requests and then FIN still gets its responses.
    this.server = createServer({ allowHalfOpen: true, noDelay: true }, this.accept)
    this.server.on('error', this.onServerError)
    this.sweepMs = sweepPeriod(Math.min(options.headerTimeoutMs, options.bodyTimeoutMs, options.idleTimeoutMs))
  }

  /** Another protocol's owners have a timeout this short: the sweep runs often enough for it too. */
  sweepFor(timeoutMs: number): void {
    const period = sweepPeriod(timeoutMs)
    if (period >= this.sweepMs || this.closing) return
    this.sweepMs = period
    if (this.sweepTimer !== null) this.startSweep()
  }

  /** Open sockets, HTTP or upgraded. */
  get connectionCount(): number {
    return this.dropClosed()
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const failed = (error: Error) => reject(error)
      this.server.once('error', failed)
      this.server.listen(port, host, () => {
        this.server.off('error', failed)
        this.startSweep()
        resolve(this.server.address() as AddressInfo)
      })
    })
  }

  /** Registers a goodbye to run on shutdown; returns its removal. */
  onShutdown(hook: ShutdownHook): () => void {
    this.shutdownHooks.add(hook)
    return () => this.shutdownHooks.delete(hook)
  }

  /**
   * Stops accepting, lets every connection finish its current response and say its
   * protocol's goodbye, and destroys what is left after `graceMs`.
   */
  async close(graceMs = 3000): Promise<void> {
    if (this.closing) return
    this.closing = true
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()))
    for (const hook of [...this.shutdownHooks]) hook()
    for (const socket of [...this.sockets]) if (!socket.closed) ownerOf(socket)?.shutdown()
    const deadline = Date.now() + graceMs
    while (this.dropClosed() > 0 && Date.now() < deadline) await delay(20)
    for (const socket of this.sockets) socket.destroy()
    this.sockets.length = 0
    if (this.sweepTimer) clearInterval(this.sweepTimer)
    this.sweepTimer = null
    await stopped
  }

  private readonly accept = (socket: Socket): void => {
    if (this.closing) {
      socket.on('error', ignore)
      socket.destroy()
      return
    }
    if (this.atLimit()) {
      refuse(socket, new HttpError(503, 'TOO_MANY_CONNECTIONS', 'the server is at its connection limit; try again later'))
      return
    }
    // Counted until the socket closes, whoever owns it by then (HTTP or an upgraded protocol).
    this.sockets.push(socket)
    // The connection makes itself the socket's owner: the socket is how it is found again.
    new Connection(socket, this.handler, this.options)
  }

  private readonly onServerError = (error: NodeJS.ErrnoException): void => {
    if (!this.server.listening) return // listen() reports it
    // EMFILE / ENFILE on accept that libuv could not absorb: the pending client was dropped; say so at most once a second.
    const time = now()
    if (time - this.lastAcceptError > 1000) {
      this.lastAcceptError = time
      console.error(`push-wire: accept failed (${error.code ?? error.message}); serving the open connections goes on`)
    }
  }

  private startSweep(): void {
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer)
    this.sweepTimer = setInterval(this.sweep, this.sweepMs)
    this.sweepTimer.unref()
  }

  /**
   * Whether the open sockets have reached the limit. The array may still hold sockets closed
   * since the last sweep, so at the limit it is counted again, dropping those; but at most
   * every RECOUNT_MS: a flood of clients at the limit must not cost a scan of every socket each.
   */
  private atLimit(): boolean {
    const max = this.options.maxConnections
    if (this.sockets.length < max) return false
    const time = now()
    if (time - this.countedAt < RECOUNT_MS) return true
    this.countedAt = time
    return this.dropClosed() >= max
  }

  /** Drops the sockets that have closed, keeping the order of the others; returns how many are left. */
  private dropClosed(): number {
    const sockets = this.sockets
    let kept = 0
    for (let i = 0; i < sockets.length; i++) if (!sockets[i].closed) sockets[kept++] = sockets[i]
    sockets.length = kept
    return kept
  }

  /**
   * Drops the closed sockets, then ticks the owner of every open one. An index, not for-of:
   * the sweep runs once a second, too seldom for V8 to optimize it early, and unoptimized,
   * for-of makes an iterator result object per socket: about 320 KB a second at 10,000
   * connections, garbage that an otherwise idle server would collect every few seconds.
   */
  private readonly sweep = (): void => {
    const time = now()
    const sockets = this.sockets
    this.dropClosed()
    for (let i = 0; i < sockets.length; i++) ownerOf(sockets[i])?.tick(time)
  }
}

/** How stale the count at the connection limit may be (see atLimit). */
const RECOUNT_MS = 10

/** A quarter of a timeout, between 10 ms and 1 s: deadlines are met within that. */
function sweepPeriod(timeoutMs: number): number {
  return Math.max(10, Math.min(1000, Math.floor(timeoutMs / 4)))
}

/** Answers a client we will not serve, and closes without a reset (see Connection). */
function refuse(socket: Socket, error: HttpError): void {
  socket.on('error', ignore)
  socket.end(standaloneError(error), 'latin1')
  socket.resume()
  socket.setTimeout(2000, () => socket.destroy())
}

function ignore(): void {}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

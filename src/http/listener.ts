// The listening socket: accepts connections up to a limit, runs one clock for every
// connection's timeouts, and shuts down in order.
//
// - Past the connection limit a new client gets 503 and is closed; the limit sits below
//   the process's open-file limit so that accept() itself does not fail.
// - If accept() fails anyway (EMFILE, ENFILE), libuv closes the pending connections
//   itself (it frees a descriptor kept in reserve to accept and close them): those
//   clients see their connection closed, and serving goes on. Only if that fails too
//   does the server emit 'error', which is logged.
// - One sweep timer, not a timer per connection: each connection keeps its deadline as
//   a number and the sweep closes the ones that passed it.

import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import { now } from '../clock.ts'
import { Connection, type ConnectionOptions, type RequestHandler } from './connection.ts'
import { HttpError } from './errors.ts'
import { standaloneError } from './response.ts'
import { watchSocket, type SocketWatcher } from './socket-owner.ts'

export interface ListenerOptions extends ConnectionOptions {
  /** Open sockets (HTTP and upgraded) past which new clients get 503. */
  maxConnections: number
}

/** Something that must say goodbye on shutdown (an upgraded session, a stream). */
export type ShutdownHook = () => void

export class HttpListener implements SocketWatcher {
  readonly server: Server
  private readonly connections = new Set<Connection>()
  private readonly sockets = new Set<Socket>()
  private readonly shutdownHooks = new Set<ShutdownHook>()
  private sweepTimer: NodeJS.Timeout | null = null
  private lastAcceptError = -Infinity
  private closing = false

  constructor(
    private readonly handler: RequestHandler,
    readonly options: ListenerOptions,
  ) {
    // allowHalfOpen: a client that sends its requests and then FIN still gets its responses.
    this.server = createServer({ allowHalfOpen: true, noDelay: true }, this.accept)
    this.server.on('error', this.onServerError)
  }

  get connectionCount(): number {
    return this.sockets.size
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
    for (const connection of [...this.connections]) connection.shutdown()
    const deadline = Date.now() + graceMs
    while (this.sockets.size > 0 && Date.now() < deadline) await delay(20)
    for (const socket of this.sockets) socket.destroy()
    if (this.sweepTimer) clearInterval(this.sweepTimer)
    await stopped
  }

  private readonly accept = (socket: Socket): void => {
    if (this.closing) {
      socket.on('error', ignore)
      socket.destroy()
      return
    }
    if (this.sockets.size >= this.options.maxConnections) {
      refuse(socket, new HttpError(503, 'TOO_MANY_CONNECTIONS', 'the server is at its connection limit; try again later'))
      return
    }
    // Counted until the socket closes, whoever owns it by then (HTTP or an upgraded protocol).
    this.sockets.add(socket)
    watchSocket(socket, this)
    const connection = new Connection(socket, this.handler, this.options, this.forget)
    this.connections.add(connection)
  }

  /** A socket closed (SocketWatcher). */
  socketClosed(socket: Socket): void {
    this.sockets.delete(socket)
  }

  /** A connection closed or handed its socket to another protocol. */
  private readonly forget = (connection: Connection): void => {
    this.connections.delete(connection)
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
    const { headerTimeoutMs, bodyTimeoutMs, idleTimeoutMs } = this.options
    // A quarter of the shortest timeout, between 10 ms and 1 s: deadlines are met within that.
    const every = Math.max(10, Math.min(1000, Math.floor(Math.min(headerTimeoutMs, bodyTimeoutMs, idleTimeoutMs) / 4)))
    this.sweepTimer = setInterval(() => {
      const time = now()
      for (const connection of this.connections) {
        if (connection.deadlineAt !== 0 && connection.deadlineAt <= time) connection.expire(time)
      }
    }, every)
    this.sweepTimer.unref()
  }
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

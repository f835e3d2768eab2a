// A TCP relay between a proxy and the server that changes nothing and watches two things:
// how many connections the proxy opened to the server, and the head of each request and
// response that crossed it (what the proxy really sent upstream: HTTP/1.0 or 1.1, which
// Connection field; how the server framed its answer).

import { connect, createServer, type Server } from 'node:net'

export interface RelayedConnection {
  /** Each request head the proxy sent on this connection. */
  requests: string[]
  /** Each response head the server sent back. */
  responses: string[]
}

export class Relay {
  readonly connections: RelayedConnection[] = []
  private readonly server: Server
  port = 0

  private constructor(targetPort: number) {
    this.server = createServer((downstream) => {
      const seen: RelayedConnection = { requests: [], responses: [] }
      this.connections.push(seen)
      const upstream = connect({ port: targetPort, host: '127.0.0.1', noDelay: true })
      downstream.setNoDelay(true)
      downstream.on('data', (chunk: Buffer) => {
        collectHeads(chunk, seen.requests, /^[A-Z]+ \S+ HTTP\/1\.\d\r\n/)
        upstream.write(chunk)
      })
      upstream.on('data', (chunk: Buffer) => {
        collectHeads(chunk, seen.responses, /^HTTP\/1\.\d \d{3}/)
        downstream.write(chunk)
      })
      downstream.on('end', () => upstream.end())
      upstream.on('end', () => downstream.end())
      downstream.on('error', () => upstream.destroy())
      upstream.on('error', () => downstream.destroy())
      downstream.on('close', () => upstream.destroy())
      upstream.on('close', () => downstream.destroy())
    })
  }

  static async start(targetPort: number): Promise<Relay> {
    const relay = new Relay(targetPort)
    await new Promise<void>((resolve) => relay.server.listen(0, '127.0.0.1', resolve))
    relay.port = (relay.server.address() as { port: number }).port
    return relay
  }

  /** Forgets what it saw so far (one experiment after another). */
  reset(): void {
    this.connections.length = 0
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()))
  }
}

/** Heads that begin a read (good enough for a relay on loopback: a head arrives in one read). */
function collectHeads(chunk: Buffer, into: string[], start: RegExp): void {
  const text = chunk.toString('latin1')
  if (!start.test(text)) return
  const end = text.indexOf('\r\n\r\n')
  into.push(end === -1 ? text : text.slice(0, end + 2))
}

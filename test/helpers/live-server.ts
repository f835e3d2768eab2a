// The real server (server.ts's startServer) for one test, with raw clients that are
// cleaned up after it, and a view of the server's side of each TCP connection.
//
//   await withServer({ maxConnections: 3 }, async (server) => {
//     const client = await server.connect()
//     client.write('GET /hello HTTP/1.1\r\nHost: x\r\n\r\n')
//     const response = await client.nextOne()
//   })

import type { Socket } from 'node:net'
import type { ServerOptions } from '../../src/options.ts'
import { startServer, type RunningServer } from './server.ts'
import { within } from './wait.ts'
import { WireClient, type ClientOptions } from './wire-client.ts'

export interface LiveServer extends RunningServer {
  /** The server's side of every TCP connection it accepted, in order (those refused at the limit too). */
  readonly accepted: Socket[]
  /** Opens a raw client to the server; it is destroyed when the test ends. */
  connect(options?: ClientOptions): Promise<WireClient>
}

/** Runs `run` against a fresh server on an ephemeral port; always closes clients and server. */
export async function withServer(overrides: Partial<ServerOptions>, run: (server: LiveServer) => Promise<void>): Promise<void> {
  const server = await startServer(overrides)
  const accepted: Socket[] = []
  server.listener.server.on('connection', (socket: Socket) => accepted.push(socket))
  const clients = new Set<WireClient>()
  const live: LiveServer = {
    ...server,
    accepted,
    async connect(options) {
      const client = await WireClient.connect(server.port, '127.0.0.1', options)
      clients.add(client)
      return client
    },
  }
  try {
    await run(live)
  } finally {
    for (const client of clients) client.destroy()
    await within(server.close(), 'the listener to close')
  }
}

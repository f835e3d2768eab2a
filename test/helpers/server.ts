// The real server on an ephemeral port, for integration tests: startServer() for a suite
// that shares one server, withServer() for one test with a server of its own, raw clients
// that are cleaned up after it, and a view of the server's side of each TCP connection.
//
//   await withServer({ maxConnections: 3 }, async (server) => {
//     const client = await server.connect()
//     client.write('GET /hello HTTP/1.1\r\nHost: x\r\n\r\n')
//     const response = await client.nextOne()
//   })

import type { AddressInfo, Socket } from 'node:net'
import { defaultOptions, type ServerOptions } from '../../src/options.ts'
import { createPushServer, type PushServer } from '../../src/server.ts'
import { RawClient } from './raw-client.ts'
import { within } from './wait.ts'

export interface RunningServer extends PushServer {
  readonly port: number
  /** http://127.0.0.1:PORT */
  readonly origin: string
  close(): Promise<void>
}

/** createPushServer with defaultOptions() and `overrides`, listening on 127.0.0.1, port 0. */
export async function startServer(overrides: Partial<ServerOptions> = {}): Promise<RunningServer> {
  const options = { ...defaultOptions(), ...overrides, host: '127.0.0.1', port: 0 }
  const server = createPushServer(options)
  const address: AddressInfo = await server.listener.listen(0, '127.0.0.1')
  return {
    ...server,
    port: address.port,
    origin: `http://127.0.0.1:${address.port}`,
    close: () => server.listener.close(200),
  }
}

export interface LiveServer extends RunningServer {
  /** The server's side of every TCP connection it accepted, in order (those refused at the limit too). */
  readonly accepted: Socket[]
  /** Opens a raw client to the server; it is destroyed when the test ends. */
  connect(): Promise<RawClient>
}

/** Runs `run` against a fresh server on an ephemeral port; always closes clients and server. */
export async function withServer(overrides: Partial<ServerOptions>, run: (server: LiveServer) => Promise<void>): Promise<void> {
  const server = await startServer(overrides)
  const accepted: Socket[] = []
  server.listener.server.on('connection', (socket: Socket) => accepted.push(socket))
  const clients = new Set<RawClient>()
  const live: LiveServer = {
    ...server,
    accepted,
    async connect() {
      const client = await RawClient.connect(server.port)
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

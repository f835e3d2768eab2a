// The real server on an ephemeral port, for integration tests.

import type { AddressInfo } from 'node:net'
import { defaultOptions, type ServerOptions } from '../../src/options.ts'
import { createPushServer, type PushServer } from '../../src/server.ts'

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

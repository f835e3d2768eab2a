// The command line: parse options, listen, print the address, and shut down cleanly
// on SIGINT and SIGTERM.

import { parseCommandLine } from './options.ts'
import { createPushServer, type PushServer } from './server.ts'
import { TracePrinter, tracer } from './trace/tracer.ts'

const command = parseCommandLine(process.argv.slice(2))
if (command.kind === 'help') {
  console.log(command.text)
  process.exit(0)
}
if (command.kind === 'error') {
  console.error(`push-wire: ${command.message} (see --help)`)
  process.exit(2)
}

const { options } = command
let server: PushServer
try {
  server = createPushServer(options)
} catch (error) {
  console.error(`push-wire: ${(error as Error).message}`)
  process.exit(2)
}
const { listener } = server
try {
  const address = await listener.listen(options.port, options.host)
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  console.log(`listening on http://${host}:${address.port}`)
  if (options.trace) {
    console.log('tracing: every message on the wire is printed below (> from a client, < to it)')
    tracer.attach(new TracePrinter())
  }
} catch (error) {
  console.error(`push-wire: cannot listen on ${options.host}:${options.port}: ${(error as Error).message}`)
  process.exit(1)
}

let stopping = false
function stop(signal: string): void {
  if (stopping) {
    // A second Ctrl-C: the user does not want to wait for the connections.
    console.log(`${signal} again: exiting now`)
    process.exit(1)
  }
  stopping = true
  console.log(`${signal}: closing`)
  listener.close(options.shutdownGraceMs).then(
    () => process.exit(0),
    (error) => {
      console.error('push-wire: shutdown failed:', error)
      process.exit(1)
    },
  )
}
process.on('SIGINT', () => stop('SIGINT'))
process.on('SIGTERM', () => stop('SIGTERM'))

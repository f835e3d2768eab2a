// push-wire as the measured chapters run it: the same server as `npm start` (the same
// command line, the same createPushServer), in a process of its own, which also answers
// one question over the IPC channel its parent opened: how much memory it holds.
//
//   node --expose-gc --import tsx docs/scripts/measure/server-child.ts [server flags]
//
// It prints "listening on http://HOST:PORT" like src/main.ts. On the message "memory" it
// collects garbage twice (with --expose-gc) and answers with process.memoryUsage(). It
// exits on SIGTERM, and when its parent goes away.

import { parseCommandLine } from '../../../src/options.ts'
import { createPushServer } from '../../../src/server.ts'

const command = parseCommandLine(process.argv.slice(2))
if (command.kind !== 'run') {
  console.error(command.kind === 'help' ? command.text : command.message)
  process.exit(2)
}
const { options } = command
const { listener } = createPushServer(options)
const address = await listener.listen(options.port, options.host)
console.log(`listening on http://${address.address}:${address.port}`)

const gc = (globalThis as { gc?: () => void }).gc
process.on('message', (message) => {
  if (message !== 'memory') return
  gc?.()
  gc?.()
  const usage = process.memoryUsage()
  process.send?.({ rss: usage.rss, heapUsed: usage.heapUsed, external: usage.external, arrayBuffers: usage.arrayBuffers, gc: gc !== undefined })
})
process.on('disconnect', () => process.exit(0))
process.on('SIGTERM', () => void listener.close(500).then(() => process.exit(0)))

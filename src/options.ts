// Every limit and setting in one object, with the defaults of CONTRACT.md, and the
// command line that sets them.

import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { ListenerOptions } from './http/listener.ts'

export interface ServerOptions extends ListenerOptions {
  host: string
  port: number
  /** The folder of static files (the demo pages). */
  publicDir: string
  /** How long shutdown waits for connections to finish before destroying them. */
  shutdownGraceMs: number
  /** Largest WebSocket message on /echo, after reassembly and inflation. */
  wsMaxMessageBytes: number
  /** Bytes queued for one slow client, beyond the message being written, before it is cut off. */
  maxBufferedBytes: number
  wsPingIntervalMs: number
  wsPongTimeoutMs: number
  wsCloseTimeoutMs: number
  /** Offer permessage-deflate to WebSocket clients. */
  deflate: boolean
  /** Messages smaller than this go uncompressed. */
  deflateThreshold: number
  /** Origins allowed for WebSocket upgrades and CORS; empty: every origin. */
  allowedOrigins: string[]
  /** Messages a channel keeps for clients that resume. */
  historyMessages: number
  /** Bytes of message data a channel keeps. */
  historyBytes: number
  /** Live channels; a new one past it is refused with 503. */
  maxChannels: number
  /** Silence after which an SSE, stream or iframe response gets a heartbeat. */
  heartbeatMs: number
  /** The reconnection delay SSE clients are told (retry:). */
  sseRetryMs: number
  /** The token publishing needs (Authorization: Bearer), or null for none. */
  publishToken: string | null
  /** Print every message on the wire, annotated, to stdout (src/trace/). */
  trace: boolean
}

/** The process's soft limit on open files (Linux: /proc/self/limits), or null if unknown. */
export function openFileLimit(): number | null {
  try {
    const limits = readFileSync('/proc/self/limits', 'latin1')
    const match = /^Max open files\s+(\d+)/m.exec(limits)
    return match ? Number(match[1]) : null
  } catch {
    return null
  }
}

export function defaultOptions(): ServerOptions {
  const files = openFileLimit()
  return {
    host: '127.0.0.1',
    port: 8080,
    publicDir: fileURLToPath(new URL('../public', import.meta.url)),
    shutdownGraceMs: 3000,
    // CONTRACT.md: the open-file limit less 500, kept for files, logs and the listener.
    maxConnections: files !== null ? Math.max(files - 500, 1) : 10_000,
    maxRequestLineBytes: 8 * 1024,
    maxHeaderBytes: 16 * 1024,
    maxHeaderFields: 100,
    maxBodyBytes: 1024 * 1024,
    requireHost: true,
    headerTimeoutMs: 10_000,
    bodyTimeoutMs: 30_000,
    idleTimeoutMs: 60_000,
    maxPendingInputBytes: 64 * 1024,
    wsMaxMessageBytes: 16 * 1024 * 1024,
    maxBufferedBytes: 4 * 1024 * 1024,
    wsPingIntervalMs: 30_000,
    wsPongTimeoutMs: 10_000,
    wsCloseTimeoutMs: 5000,
    deflate: true,
    deflateThreshold: 1024,
    allowedOrigins: [],
    historyMessages: 1000,
    historyBytes: 8 * 1024 * 1024,
    maxChannels: 10_000,
    heartbeatMs: 15_000,
    sseRetryMs: 3000,
    publishToken: null,
    trace: false,
  }
}

/** Flags that set a numeric option: flag name, option key, what it is. */
const NUMERIC_FLAGS: [string, keyof ServerOptions, string][] = [
  ['max-connections', 'maxConnections', 'open sockets before new clients get 503'],
  ['max-request-line', 'maxRequestLineBytes', 'bytes of the request line (414 / 400 past it)'],
  ['max-header-bytes', 'maxHeaderBytes', 'bytes of the header section (431 past it)'],
  ['max-header-fields', 'maxHeaderFields', 'header field lines (431 past it)'],
  ['max-body', 'maxBodyBytes', 'bytes of a request body (413 past it)'],
  ['header-timeout', 'headerTimeoutMs', 'ms to send a complete request head (408 past it)'],
  ['body-timeout', 'bodyTimeoutMs', 'ms to send a request body (408 past it)'],
  ['idle-timeout', 'idleTimeoutMs', 'ms an idle keep-alive connection stays open'],
  ['shutdown-grace', 'shutdownGraceMs', 'ms shutdown waits before dropping connections'],
  ['ws-max-message', 'wsMaxMessageBytes', 'bytes of a WebSocket message on /echo (close 1009 past it)'],
  ['max-buffered', 'maxBufferedBytes', 'bytes queued for a slow client before it is cut off (close 1008)'],
  ['ws-ping-interval', 'wsPingIntervalMs', 'ms of silence before the server pings a WebSocket client'],
  ['ws-pong-timeout', 'wsPongTimeoutMs', 'ms a ping waits for its pong before the client is dropped'],
  ['ws-close-timeout', 'wsCloseTimeoutMs', 'ms the server waits for the close handshake'],
  ['deflate-threshold', 'deflateThreshold', 'bytes below which WebSocket messages go uncompressed'],
  ['history-messages', 'historyMessages', 'messages a channel keeps for clients that resume'],
  ['history-bytes', 'historyBytes', 'bytes of message data a channel keeps'],
  ['max-channels', 'maxChannels', 'live channels (503 for a new one past it)'],
  ['heartbeat', 'heartbeatMs', 'ms of silence before an SSE, stream or iframe heartbeat'],
  ['sse-retry', 'sseRetryMs', 'ms SSE clients wait before reconnecting (retry:)'],
]

export function helpText(defaults = defaultOptions()): string {
  const lines = [
    'push-wire: a server-push server on raw node:net',
    '',
    'usage: npm start -- [options]      (or: npx tsx src/main.ts [options])',
    '',
    `  --host HOST              address to listen on (default ${defaults.host})`,
    `  --port PORT              port; 0 picks a free one (default ${defaults.port}, or $PORT)`,
    `  --public DIR             folder of static files (default public/)`,
    `  --allow-origin O[,O...]  origins allowed for WebSocket and CORS (default: every origin)`,
    `  --no-deflate             do not offer permessage-deflate to WebSocket clients`,
    `  --publish-token T        publishing needs "Authorization: Bearer T" (default: none)`,
    `  --trace                  print what crosses the wire, annotated, per connection (> from a client, < to it)`,
  ]
  for (const [flag, key, what] of NUMERIC_FLAGS) {
    lines.push(`  --${`${flag} N`.padEnd(22)} ${what} (default ${defaults[key]})`)
  }
  lines.push('  --help                   this text')
  lines.push('')
  lines.push('SIGINT (Ctrl-C) or SIGTERM closes the listener and the connections and exits 0;')
  lines.push('a second one exits at once.')
  return lines.join('\n')
}

export type CommandLine = { kind: 'run'; options: ServerOptions } | { kind: 'help'; text: string } | { kind: 'error'; message: string }

export function parseCommandLine(argv: string[], env: NodeJS.ProcessEnv = process.env): CommandLine {
  const options = defaultOptions()
  const spec: Record<string, { type: 'string' | 'boolean' }> = {
    host: { type: 'string' },
    port: { type: 'string' },
    public: { type: 'string' },
    'allow-origin': { type: 'string' },
    'no-deflate': { type: 'boolean' },
    'publish-token': { type: 'string' },
    trace: { type: 'boolean' },
    help: { type: 'boolean' },
  }
  for (const [flag] of NUMERIC_FLAGS) spec[flag] = { type: 'string' }
  let values: Record<string, string | boolean | undefined>
  try {
    values = parseArgs({ args: argv, options: spec, strict: true, allowPositionals: false }).values
  } catch (error) {
    return { kind: 'error', message: (error as Error).message }
  }
  if (values.help) return { kind: 'help', text: helpText(options) }

  if (typeof values.host === 'string') {
    // An empty host would make node listen on every interface: say which one instead.
    if (values.host === '') return { kind: 'error', message: 'the host must not be empty (0.0.0.0 or :: listens on every interface)' }
    options.host = values.host
  }
  if (typeof values.public === 'string') options.publicDir = values.public
  if (values['no-deflate'] === true) options.deflate = false
  if (values.trace === true) options.trace = true
  if (typeof values['publish-token'] === 'string') {
    if (!/^[\x21-\x7e]{8,}$/.test(values['publish-token'])) return { kind: 'error', message: '--publish-token takes 8 or more visible ASCII characters' }
    options.publishToken = values['publish-token']
  }
  if (typeof values['allow-origin'] === 'string') {
    const origins = values['allow-origin'].split(',').map((origin) => origin.trim()).filter((origin) => origin !== '')
    const bad = origins.find((origin) => !/^https?:\/\/[^/\s]+$/.test(origin))
    if (bad !== undefined) return { kind: 'error', message: `--allow-origin takes origins like http://example.com:8080, got ${JSON.stringify(bad)}` }
    options.allowedOrigins = origins
  }
  // An empty PORT counts as unset; an empty --port is an error like any other non-number.
  const port = typeof values.port === 'string' ? values.port : env.PORT || undefined
  if (port !== undefined) {
    // Decimal digits only: Number() would also take " 80", "0x50" and "1e3".
    if (!/^[0-9]{1,5}$/.test(port) || Number(port) > 65535) return { kind: 'error', message: `the port must be 0-65535, got ${JSON.stringify(port)}` }
    options.port = Number(port)
  }
  for (const [flag, key] of NUMERIC_FLAGS) {
    const raw = values[flag]
    if (typeof raw !== 'string') continue
    const n = Number(raw)
    if (!Number.isSafeInteger(n) || n < 1) return { kind: 'error', message: `--${flag} takes a positive integer, got ${JSON.stringify(raw)}` }
    ;(options as unknown as Record<string, number>)[key] = n
  }
  return { kind: 'run', options }
}

// Child processes of the measured chapters: the server (src/main.ts as `npm start` runs it,
// or server-child.ts when its memory is measured), each started on a free port and read for
// its "listening on" line; and the machine the numbers come from.

import { spawn, type ChildProcess } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'

export const REPO = fileURLToPath(new URL('../../../', import.meta.url))

export interface ServerProcess {
  readonly child: ChildProcess
  readonly port: number
  /** http://127.0.0.1:PORT */
  readonly origin: string
  /** What the server printed on stderr so far. */
  stderr(): string
  /** Memory after a full GC, as the server reads it (server-child.ts only). */
  memory(): Promise<MemoryReading>
  stop(): Promise<void>
}

export interface MemoryReading {
  rss: number
  heapUsed: number
  external: number
  arrayBuffers: number
  gc: boolean
}

export interface StartOptions {
  /** Server flags after --port 0 (e.g. ['--heartbeat', '1000']). */
  flags?: string[]
  /** Run docs/scripts/measure/server-child.ts with --expose-gc and an IPC channel, to read its memory. */
  measured?: boolean
}

/** Starts the server on 127.0.0.1, port 0, and resolves once it listens. */
export function startServer(options: StartOptions = {}): Promise<ServerProcess> {
  const flags = ['--host', '127.0.0.1', '--port', '0', ...(options.flags ?? [])]
  const measured = options.measured === true
  const argv = measured
    ? ['--expose-gc', '--import', 'tsx', 'docs/scripts/measure/server-child.ts', ...flags]
    : ['--import', 'tsx', 'src/main.ts', ...flags]
  const child = spawn(process.execPath, argv, { cwd: REPO, stdio: measured ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text))
  return new Promise((resolve, reject) => {
    let seen = ''
    const failed = (code: number | null) => reject(new Error(`the server exited (${code}) before listening: ${stderr || seen}`))
    child.once('exit', failed)
    child.stdout!.setEncoding('utf8').on('data', function listening(text: string) {
      seen += text
      const match = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(seen)
      if (!match) return
      child.stdout!.off('data', listening)
      child.stdout!.resume()
      child.off('exit', failed)
      const port = Number(match[1])
      resolve({
        child,
        port,
        origin: `http://127.0.0.1:${port}`,
        stderr: () => stderr,
        memory: () => askMemory(child),
        stop: () => stopChild(child),
      })
    })
  })
}

function askMemory(child: ChildProcess): Promise<MemoryReading> {
  if (!child.send) return Promise.reject(new Error('this server was not started with measured: true'))
  return new Promise((resolve) => {
    child.once('message', (reading) => resolve(reading as MemoryReading))
    child.send!('memory')
  })
}

/** SIGTERM, then SIGKILL if it lingers; resolves when the child has exited. */
export function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    const killer = setTimeout(() => child.kill('SIGKILL'), graceMs)
    child.once('exit', () => {
      clearTimeout(killer)
      resolve()
    })
    child.kill('SIGTERM')
  })
}

/** The machine the numbers come from, said the way the chapters print it. */
export function machine(): { date: string; nproc: number; node: string; platform: string } {
  return { date: new Date().toISOString().slice(0, 10), nproc: availableParallelism(), node: process.version, platform: `${process.platform} ${process.arch}` }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

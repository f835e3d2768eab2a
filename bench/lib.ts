// Shared pieces of the benchmarks: start a server process and read its port, read a
// process's CPU time, run wrk and parse what it prints, and summarize rounds.

import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'

export interface ServerProcess {
  readonly name: string
  readonly child: ChildProcess
  readonly url: string
  stop(): Promise<void>
}

/** CPU to pin servers to, and CPU to pin the load generator to, when there are two or more. */
export const PIN = availableParallelism() >= 2 && hasCommand('taskset') ? { server: '0', client: '1' } : null

export function hasCommand(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0
}

/** Installs a Debian package when its command is missing (the benchmark's own set-up). */
export function ensureCommand(command: string, debianPackage: string): void {
  if (hasCommand(command)) return
  console.log(`${command} is missing: installing the Debian package ${debianPackage}`)
  const sudo = process.getuid?.() === 0 ? [] : ['sudo']
  const run = (args: string[]) => spawnSync(sudo.length ? 'sudo' : args[0], sudo.length ? args : args.slice(1), { stdio: 'inherit' })
  run(['apt-get', 'update'])
  run(['apt-get', 'install', '-y', debianPackage])
  if (!hasCommand(command)) throw new Error(`could not install ${debianPackage}; install it and run again`)
}

/** Starts `node args...` (pinned to the server CPU when possible) and waits for its "listening on" line. */
export function startServer(name: string, args: string[]): Promise<ServerProcess> {
  const command = PIN ? 'taskset' : process.execPath
  const argv = PIN ? ['-c', PIN.server, process.execPath, ...args] : args
  const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'inherit'] })
  return new Promise((resolve, reject) => {
    let seen = ''
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code} before listening`)))
    child.stdout!.on('data', (chunk: Buffer) => {
      seen += chunk.toString()
      const match = /listening on (http:\/\/[^\s]+)/.exec(seen)
      if (!match) return
      child.stdout!.removeAllListeners('data')
      child.stdout!.resume()
      child.removeAllListeners('exit')
      resolve({
        name,
        child,
        url: match[1],
        stop: () =>
          new Promise((done) => {
            if (child.exitCode !== null) return done()
            child.once('exit', () => done())
            child.kill('SIGTERM')
          }),
      })
    })
  })
}

const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100

/** User + system CPU seconds a process has used so far (Linux /proc). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND
}

export interface WrkResult {
  requestsPerSecond: number
  requests: number
  p50Ms: number
  p99Ms: number
  errors: number
}

function toMs(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(text)
  if (!match) return NaN
  const value = Number(match[1])
  return match[2] === 'us' ? value / 1000 : match[2] === 'ms' ? value : match[2] === 's' ? value * 1000 : value * 60_000
}

/** Runs wrk (pinned to the client CPU when possible) and parses its summary. */
export function wrk(url: string, connections: number, seconds: number, extra: string[] = []): WrkResult {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', ...extra.slice(0, extra.indexOf('--') === -1 ? extra.length : extra.indexOf('--')), url]
  const scriptArgs = extra.indexOf('--') === -1 ? [] : extra.slice(extra.indexOf('--'))
  const command = PIN ? 'taskset' : 'wrk'
  const argv = PIN ? ['-c', PIN.client, 'wrk', ...args, ...scriptArgs] : [...args, ...scriptArgs]
  const out = execFileSync(command, argv, { encoding: 'utf8' })
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out)
  const total = /(\d+) requests in/.exec(out)
  const p50 = /^\s+50%\s+(\S+)/m.exec(out)
  const p99 = /^\s+99%\s+(\S+)/m.exec(out)
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out)
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out)
  if (!rps || !total || !p99 || !p50) throw new Error(`could not read wrk's output:\n${out}`)
  return {
    requestsPerSecond: Number(rps[1]),
    requests: Number(total[1]),
    p50Ms: toMs(p50[1]),
    p99Ms: toMs(p99[1]),
    errors: (errors ? errors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0) + (non2xx ? Number(non2xx[1]) : 0),
  }
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

export function format(value: number, digits = 0): string {
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

/** Prints rows as a Markdown table. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`
  return [line(header), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.map(line)].join('\n')
}

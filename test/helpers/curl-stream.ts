// curl as a client of a streamed response that does not end by itself: curl runs as a
// child process, its output is read as it comes, and the test ends the stream from the
// server's side (then curl exits on its own). Only the child this helper started is
// ever killed, by its own handle, and only if it outlives the test.

import { spawn } from 'node:child_process'
import { findOnPath } from './commands.ts'
import { WAIT_MS, within } from './wait.ts'

export const curlPath = findOnPath('curl')

export interface CurlRun {
  /** What curl printed so far. */
  readonly stdout: () => Buffer
  readonly stderr: () => string
  /** Resolves with the exit code when curl exits. */
  readonly exited: Promise<number | null>
  /** Waits until curl's output contains `text`. */
  waitOutput(text: string, ms?: number): Promise<void>
  /** Kills curl if it is still running. */
  stop(): void
}

/** Starts curl with `args` (after --silent --show-error --max-time 30). */
export function startCurl(args: string[]): CurlRun {
  if (curlPath === null) throw new Error('curl is not installed')
  const child = spawn(curlPath, ['--silent', '--show-error', '--max-time', '30', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  const out: Buffer[] = []
  let err = ''
  let done = false
  const watchers = new Set<() => void>()
  const notify = () => {
    for (const watcher of [...watchers]) watcher()
  }
  child.stdout.on('data', (chunk: Buffer) => {
    out.push(chunk)
    notify()
  })
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('latin1')))
  const exited = new Promise<number | null>((resolve) =>
    child.on('close', (code) => {
      done = true
      notify()
      resolve(code)
    }),
  )
  const stdout = () => Buffer.concat(out)
  return {
    stdout,
    stderr: () => err,
    exited,
    waitOutput(text: string, ms = WAIT_MS) {
      const reached = new Promise<void>((resolve, reject) => {
        const check = () => {
          if (stdout().includes(text)) {
            watchers.delete(check)
            resolve()
          } else if (done) {
            watchers.delete(check)
            reject(new Error(`curl exited before printing ${JSON.stringify(text)}; it printed ${JSON.stringify(stdout().toString('latin1'))}; stderr ${err}`))
          }
        }
        watchers.add(check)
        check()
      })
      return within(reached, `curl to print ${JSON.stringify(text)}`, ms)
    },
    stop() {
      if (!done) child.kill()
    },
  }
}

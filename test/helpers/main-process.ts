// The command line as a user runs it: `node --import tsx src/main.ts ARGS` in a child
// process, with what it prints collected, its exit awaited, and a kill that is always safe
// to call (tests call it in a finally).

import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const REPO = fileURLToPath(new URL('../..', import.meta.url))
/** Generous: starting tsx on a loaded CI machine takes a while. */
export const CHILD_WAIT_MS = 20_000

export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
}

export class MainProcess {
  readonly child: ChildProcess
  stdout = ''
  stderr = ''
  /** Resolves when the process has exited and its output has been read. */
  readonly exited: Promise<Exit>
  private wake: (() => void) | null = null
  private exit: Exit | null = null

  constructor(args: string[], env: Record<string, string | undefined> = {}) {
    const childEnv: NodeJS.ProcessEnv = { ...process.env }
    delete childEnv.PORT // only what the test gives
    for (const [name, value] of Object.entries(env)) {
      if (value === undefined) delete childEnv[name]
      else childEnv[name] = value
    }
    this.child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { cwd: REPO, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] })
    this.child.stdout!.setEncoding('utf8').on('data', (text: string) => {
      this.stdout += text
      this.notify()
    })
    this.child.stderr!.setEncoding('utf8').on('data', (text: string) => {
      this.stderr += text
      this.notify()
    })
    this.exited = new Promise((resolve) => {
      this.child.once('close', (code, signal) => {
        this.exit = { code, signal }
        this.notify()
        resolve(this.exit)
      })
    })
  }

  /** Waits for a line of stdout that matches `pattern`, and returns its match. */
  async line(pattern: RegExp, timeoutMs = CHILD_WAIT_MS): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      for (const line of this.stdout.split('\n')) {
        const match = pattern.exec(line)
        if (match) return match
      }
      if (this.exit) throw new Error(`exited (${JSON.stringify(this.exit)}) before printing ${pattern}; stdout ${JSON.stringify(this.stdout)}, stderr ${JSON.stringify(this.stderr)}`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no line ${pattern} within ${timeoutMs} ms; stdout ${JSON.stringify(this.stdout)}, stderr ${JSON.stringify(this.stderr)}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
    }
  }

  /** Waits for `listening on http://HOST:PORT` and returns the port. */
  async listening(host = '127.0.0.1'): Promise<number> {
    const escaped = host.replace(/[.[\]]/g, '\\$&')
    const match = await this.line(new RegExp(`^listening on http://${escaped}:(\\d+)$`))
    return Number(match[1])
  }

  /** The exit, or an error naming what the process printed if it does not come in time. */
  async exitWithin(timeoutMs = CHILD_WAIT_MS): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`did not exit within ${timeoutMs} ms; stdout ${JSON.stringify(this.stdout)}, stderr ${JSON.stringify(this.stderr)}`)), timeoutMs)
    })
    try {
      return await Promise.race([this.exited, timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal)
  }

  /** Kills the process if it is still running (SIGKILL), and waits for it. */
  async kill(): Promise<void> {
    if (this.exit === null && this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL')
    await this.exited
  }

  private notify(): void {
    const wake = this.wake
    this.wake = null
    wake?.()
  }
}

/** Runs main.ts with `args` to its exit (for flags that make it exit at once). */
export async function runMain(args: string[], env: Record<string, string | undefined> = {}): Promise<Exit & { stdout: string; stderr: string }> {
  const main = new MainProcess(args, env)
  try {
    const exit = await main.exitWithin()
    return { ...exit, stdout: main.stdout, stderr: main.stderr }
  } finally {
    await main.kill()
  }
}

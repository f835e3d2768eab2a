// External programs as test peers: finding them, and running them without a shell.

import { execFile } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'

/** The full path of an executable on PATH, or null. */
export function findOnPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue
    const candidate = join(dir, name)
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // not here
    }
  }
  return null
}

export interface Ran {
  /** The exit code (null when killed by a signal). */
  code: number | null
  stdout: Buffer
  stderr: string
}

/** Runs `file` with `args` (no shell), and resolves with what it printed however it exits. */
export function run(file: string, args: string[], timeoutMs = 30_000): Promise<Ran> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024, timeout: timeoutMs }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number' && error.code !== undefined && error.code !== null) {
        reject(error) // could not start it at all (ENOENT, EACCES)
        return
      }
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0
      resolve({ code, stdout, stderr: stderr.toString('latin1') })
    })
  })
}

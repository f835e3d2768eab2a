// Waiting in tests: every wait has a deadline, so a test that would hang fails instead,
// with a message that says what it was waiting for. Deadlines are generous; no test
// asserts on how long something took.

/** The default deadline of a wait: long enough for a loaded CI machine. */
export const WAIT_MS = 10_000

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** `promise`, or a rejection naming `what` if it has not settled within `ms`. */
export function within<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** Polls `condition` every `everyMs` until it holds; rejects naming `what` after `ms`. */
export async function until(condition: () => boolean, what: string, ms = WAIT_MS, everyMs = 10): Promise<void> {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await delay(everyMs)
  }
}

/**
 * Waits until `sample()` has returned the same value `times` polls in a row (a quiet state,
 * e.g. a byte counter that stopped moving), and returns it.
 */
export async function settled<T>(sample: () => T, what: string, times = 5, everyMs = 50, ms = WAIT_MS): Promise<T> {
  const deadline = Date.now() + ms
  let last = sample()
  let same = 0
  while (same < times) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what} to settle`)
    await delay(everyMs)
    const now = sample()
    if (now === last) same++
    else same = 0
    last = now
  }
  return last
}

/** A promise with its resolve function outside (a gate a test opens). */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => (resolve = r))
  return { promise, resolve }
}

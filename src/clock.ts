// The clock that deadlines are kept in: milliseconds since the process started, on the
// monotonic clock. The values are small integers, which V8 stores in an object's field
// directly (a Date.now() value would take a heap number per field, on every connection),
// and they do not jump when the wall clock is set.
//
// performance is imported, not read from globalThis: in Node the global is a getter, and
// this runs on every request.

import { performance } from 'node:perf_hooks'

export function now(): number {
  return Math.floor(performance.now())
}

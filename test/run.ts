// Runs every uvu suite under test/ (files named *.test.ts) in one process, in path order.
// `npm test -- parser` runs only the files whose path contains "parser".
// A watchdog fails the run instead of letting a stuck test hang CI.

import { readdirSync, statSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('.', import.meta.url))
const filters = process.argv.slice(2)

function collect(dir: string): string[] {
  const files: string[] = []
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name)
    if (name === 'fixtures' || name === 'helpers') continue
    if (statSync(path).isDirectory()) files.push(...collect(path))
    else if (name.endsWith('.test.ts')) files.push(path)
  }
  return files
}

const files = collect(root).filter((file) => filters.length === 0 || filters.some((f) => relative(root, file).includes(f)))
const suites = files.map((file) => ({ name: relative(root, file), file: resolve(file) }))

const watchdogMinutes = Number(process.env.TEST_WATCHDOG_MINUTES ?? 15)
const watchdog = setTimeout(() => {
  console.error(`\nthe test run did not finish in ${watchdogMinutes} minutes: failing it`)
  process.exit(1)
}, watchdogMinutes * 60_000)
watchdog.unref()

const { run } = await import('uvu/run')
await run(suites, { bail: false })

// `npm run docs:transcripts`: runs the real server and rewrites every generated transcript in
// the chapters. `npm run docs:transcripts -- --check` changes nothing and fails when a
// chapter no longer matches what the server says (the test suite runs that check).
//
// In a chapter, a transcript is a fenced block right after a marker naming its scenario:
//
//   <!-- transcript: hello -->
//   ```text
//   (generated: do not edit by hand)
//   ```
//
// Scenarios live in docs/scripts/scenarios/*.ts, each module exporting `scenarios`, a record of
// name -> Scenario. Every scenario gets a fresh server (ids start at 1, no channels), so the
// same run gives the same bytes. Only what truly varies is normalized: the Date header, the
// port (shown as 8080, what `npm start` uses), ETag and Last-Modified of static files.

import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { defaultOptions, type ServerOptions } from '../../src/options.ts'
import { createPushServer } from '../../src/server.ts'
import { Recorder, type Transcript } from './recorder.ts'

export type Scenario = ((t: Transcript) => Promise<void>) | { options: Partial<ServerOptions>; run: (t: Transcript) => Promise<void> }

export const DOCS_DIR = fileURLToPath(new URL('..', import.meta.url))
const SCENARIOS_DIR = fileURLToPath(new URL('scenarios', import.meta.url))
const MARKER = /<!-- transcript: ([\w.-]+) -->\n```text\n[\s\S]*?```/g

export interface ChapterResult {
  file: string
  before: string
  after: string
}

export async function loadScenarios(): Promise<Map<string, Scenario>> {
  const all = new Map<string, Scenario>()
  for (const name of readdirSync(SCENARIOS_DIR).sort()) {
    if (!name.endsWith('.ts')) continue
    const module = (await import(pathToFileURL(join(SCENARIOS_DIR, name)).href)) as { scenarios: Record<string, Scenario> }
    for (const [key, scenario] of Object.entries(module.scenarios)) {
      if (all.has(key)) throw new Error(`scenario ${key} is defined twice (${name})`)
      all.set(key, scenario)
    }
  }
  return all
}

/** Runs one scenario against a fresh server and gives the transcript's lines, normalized. */
export async function runScenario(scenario: Scenario): Promise<string[]> {
  const run = typeof scenario === 'function' ? scenario : scenario.run
  const overrides = typeof scenario === 'function' ? {} : scenario.options
  const options = { ...defaultOptions(), shutdownGraceMs: 200, ...overrides, host: '127.0.0.1', port: 0 }
  const server = createPushServer(options)
  const { port } = await server.listener.listen(0, '127.0.0.1')
  const recorder = new Recorder(port, () => server.listener.close(options.shutdownGraceMs))
  try {
    await run(recorder)
  } finally {
    recorder.closeAll()
    await server.listener.close(200)
  }
  return recorder.lines.map((line) => normalize(line, port))
}

function normalize(line: string, port: number): string {
  return line
    .replaceAll(`:${port}`, ':8080')
    .replace(/(Date: )[^␍]+/, '$1<date>')
    .replace(/((?:ETag|If-None-Match): )([^␍]+)/i, (_line, name: string, value: string) => name + normalizeTags(value))
    .replace(/(Last-Modified: )[^␍]+/i, '$1<last-modified>')
}

/**
 * The ETags of /poll (src/comet/poll.ts) are "LIFE.newest.cursor.oldest": only LIFE, the
 * server's start time, varies, so only it is hidden. Any other tag is <etag>.
 */
const POLL_ETAG = /^"[0-9a-z]+(\.\d+\.(?:\d+|-)\.\d+)"$/

function normalizeTags(value: string): string {
  const poll = POLL_ETAG.exec(value)
  return poll ? `"<life>${poll[1]}"` : '<etag>'
}

/** Every chapter with transcripts, before and after regeneration. */
export async function regenerate(only?: string[]): Promise<ChapterResult[]> {
  const scenarios = await loadScenarios()
  const results: ChapterResult[] = []
  const chapters = readdirSync(DOCS_DIR).filter((name) => name.endsWith('.md')).sort()
  for (const name of chapters) {
    const file = join(DOCS_DIR, name)
    if (only && !only.some((filter) => name.includes(filter))) continue
    const before = readFileSync(file, 'utf8')
    const names = [...before.matchAll(MARKER)].map((match) => match[1])
    if (names.length === 0) continue
    const generated = new Map<string, string>()
    for (const key of names) {
      const scenario = scenarios.get(key)
      if (!scenario) throw new Error(`${name}: no scenario named ${key} in docs/scripts/scenarios/`)
      generated.set(key, (await runScenario(scenario)).join('\n'))
    }
    const after = before.replace(MARKER, (_block, key: string) => `<!-- transcript: ${key} -->\n\`\`\`text\n${generated.get(key)}\n\`\`\``)
    results.push({ file, before, after })
  }
  return results
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const check = process.argv.includes('--check')
  const only = process.argv.slice(2).filter((arg) => !arg.startsWith('--'))
  const results = await regenerate(only.length > 0 ? only : undefined)
  let stale = 0
  for (const { file, before, after } of results) {
    if (before === after) continue
    stale++
    if (check) console.error(`${file}: a transcript no longer matches the server (run npm run docs:transcripts)`)
    else writeFileSync(file, after)
  }
  const total = results.length
  if (check) {
    console.log(`${total - stale} of ${total} chapters match the server`)
    process.exitCode = stale === 0 ? 0 : 1
  } else {
    console.log(`${stale} of ${total} chapters rewritten`)
  }
}

// Every transcript in the course is regenerated from the real server and must match the
// chapter as committed: a chapter that no longer tells the truth fails here.
// (npm run docs:transcripts rewrites them after a deliberate change.)

import { relative } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { DOCS_DIR, loadScenarios, regenerate } from '../../docs/scripts/transcripts.ts'

// One regeneration serves both tests: each scenario runs a server of its own.
const regenerated = regenerate()

test('every chapter transcript matches what the server says now', async () => {
  const results = await regenerated
  assert.ok(results.length > 0, 'no chapter holds a transcript')
  for (const { file, before, after } of results) {
    if (before === after) continue
    const old = before.split('\n')
    const now = after.split('\n')
    const line = old.findIndex((text, i) => text !== now[i])
    assert.unreachable(`${relative(DOCS_DIR, file)} line ${line + 1} is stale:\n  chapter: ${old[line]}\n  server:  ${now[line]}\n(run npm run docs:transcripts)`)
  }
})

test('every scenario is used by a chapter', async () => {
  const scenarios = await loadScenarios()
  const results = await regenerated
  const used = new Set(results.flatMap(({ after }) => [...after.matchAll(/<!-- transcript: ([\w.-]+) -->/g)].map((match) => match[1])))
  const unused = [...scenarios.keys()].filter((name) => !used.has(name))
  assert.equal(unused, [], `scenarios no chapter shows: ${unused.join(', ')}`)
})

test.run()

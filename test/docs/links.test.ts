// Every local link and image in the course (and in the README) points at a file that exists:
// a chapter renamed or a screenshot not regenerated fails here, not in a reader's browser.

import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from 'uvu'
import * as assert from 'uvu/assert'

const root = fileURLToPath(new URL('../../', import.meta.url))
const docs = join(root, 'docs')
const files = [join(root, 'README.md'), ...readdirSync(docs).filter((name) => name.endsWith('.md')).map((name) => join(docs, name))]

/** Markdown links and images: `](target)`, without fenced code blocks (they hold transcripts, not links). */
function localTargets(text: string): string[] {
  const prose = text.replace(/```[\s\S]*?```/g, '')
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((match) => match[1].split('#')[0])
    .filter((target) => target !== '' && !/^[a-z]+:/i.test(target))
}

test('every local link and image of the docs and the README exists', () => {
  let checked = 0
  for (const file of files) {
    for (const target of localTargets(readFileSync(file, 'utf8'))) {
      checked++
      const path = join(dirname(file), decodeURIComponent(target))
      assert.ok(existsSync(path), `${relative(root, file)} links to ${target}, which does not exist`)
    }
  }
  assert.ok(checked > 20, `only ${checked} local links found: is the pattern still right?`)
})

test('the map in docs/README.md lists every chapter', () => {
  const map = readFileSync(join(docs, 'README.md'), 'utf8')
  const chapters = readdirSync(docs).filter((name) => /^\d\d-.*\.md$/.test(name))
  assert.is(chapters.length, 11)
  for (const chapter of chapters) assert.ok(map.includes(`](${chapter})`), `docs/README.md does not link to ${chapter}`)
})

test.run()

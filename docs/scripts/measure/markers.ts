// Generated parts of a chapter live between two HTML comments, which Markdown does not show:
//
//   <!-- costs:begin -->
//   ...rewritten by a script...
//   <!-- costs:end -->
//
// Everything outside the markers is written by hand and left as it is.

import { readFileSync, writeFileSync } from 'node:fs'

/** Replaces what lies between `<!-- NAME:begin -->` and `<!-- NAME:end -->` in a Markdown text. */
export function replaceBetween(text: string, name: string, content: string): string {
  const begin = `<!-- ${name}:begin -->`
  const end = `<!-- ${name}:end -->`
  const from = text.indexOf(begin)
  const to = text.indexOf(end, from)
  if (from === -1 || to === -1) throw new Error(`the markers ${begin} ... ${end} are missing`)
  return `${text.slice(0, from + begin.length)}\n${content.trim()}\n${text.slice(to)}`
}

/** Rewrites the marked parts of a file; returns the names it found no markers for. */
export function rewriteMarked(file: string, parts: Record<string, string>): string[] {
  let text = readFileSync(file, 'utf8')
  const missing: string[] = []
  for (const [name, content] of Object.entries(parts)) {
    try {
      text = replaceBetween(text, name, content)
    } catch {
      missing.push(name)
    }
  }
  writeFileSync(file, text)
  return missing
}

/** A Markdown table. */
export function markdownTable(header: string[], rows: string[][], align: ('l' | 'r')[] = []): string {
  const rule = header.map((_, i) => (align[i] === 'r' ? '---:' : '---'))
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`
  return [line(header), line(rule), ...rows.map(line)].join('\n')
}

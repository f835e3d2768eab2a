// A folder of static files for tests, made fresh in the temp folder:
//
//   <base>/outside.txt               a secret no request may reach
//   <base>/outside-dir/secret.txt
//   <base>/public/                   the folder served
//     index.html  hello.txt  style.css  app.js  data.json  pixel.png  notes.XYZ  UPPER.TXT
//     .hidden                        a dotfile
//     big.bin                        1 MiB of random bytes (streamed, not read whole)
//     sub/index.html                 a folder with an index
//     link-inside.txt  -> hello.txt             a symlink that stays inside
//     link-outside.txt -> ../outside.txt        a symlink to a file outside
//     link-outside-dir -> ../outside-dir        a symlink to a folder outside

import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const SECRET = 'OUTSIDE-SECRET-7f3a9c'

export interface StaticTree {
  base: string
  publicDir: string
  files: Record<string, Buffer>
  remove(): void
}

export function makeStaticTree(): StaticTree {
  const base = mkdtempSync(join(tmpdir(), 'push-wire-static-'))
  const publicDir = join(base, 'public')
  mkdirSync(publicDir)
  mkdirSync(join(publicDir, 'sub'))
  mkdirSync(join(base, 'outside-dir'))
  writeFileSync(join(base, 'outside.txt'), `${SECRET} file\n`)
  writeFileSync(join(base, 'outside-dir', 'secret.txt'), `${SECRET} dir\n`)
  const files: Record<string, Buffer> = {
    'index.html': Buffer.from('<!doctype html><title>root index</title>\n'),
    'hello.txt': Buffer.from('hello from a file\n'),
    'style.css': Buffer.from('body { color: black }\n'),
    'app.js': Buffer.from('console.log("app")\n'),
    'data.json': Buffer.from('{"ok":true}\n'),
    'pixel.png': Buffer.from('89504e470d0a1a0a', 'hex'),
    'notes.XYZ': Buffer.from('an unknown extension\n'),
    'UPPER.TXT': Buffer.from('an upper-case extension\n'),
    '.hidden': Buffer.from('a dotfile\n'),
    'big.bin': randomBytes(1024 * 1024),
    'sub/index.html': Buffer.from('<!doctype html><title>sub index</title>\n'),
  }
  for (const [name, content] of Object.entries(files)) writeFileSync(join(publicDir, name), content)
  symlinkSync('hello.txt', join(publicDir, 'link-inside.txt'))
  symlinkSync(join('..', 'outside.txt'), join(publicDir, 'link-outside.txt'))
  symlinkSync(join('..', 'outside-dir'), join(publicDir, 'link-outside-dir'))
  return { base, publicDir, files, remove: () => rmSync(base, { recursive: true, force: true }) }
}

// Static files from one folder (the demo pages in public/).
//
// No way out of the folder: the path is decoded segment by segment, and a segment that
// is "..", ".", a dotfile, or that decodes to a slash, backslash or NUL is refused
// before the file system is asked; then the real path (symlinks resolved) must still
// be inside the folder's real path.
//
// Caching (RFC 9110 §8.8, §13): a strong ETag from size and mtime, Last-Modified,
// and 304 Not Modified for If-None-Match (which wins) or If-Modified-Since.

import { createReadStream, realpathSync } from 'node:fs'
import { readFile, realpath, stat } from 'node:fs/promises'
import { extname, join, sep } from 'node:path'
import { HttpError } from './errors.ts'
import type { IncomingRequest } from './request.ts'
import { formatHttpDate, type Response } from './response.ts'
import type { RouteHandler } from './router.ts'
import { splitPath } from './router.ts'

export const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
}

/** Files up to this size are read whole; larger ones are streamed with backpressure. */
const READ_WHOLE_LIMIT = 256 * 1024

export function serveStatic(folder: string): RouteHandler {
  let root: string
  try {
    root = realpathSync(folder)
  } catch {
    throw new Error(`the folder of static files ${JSON.stringify(folder)} does not exist`)
  }
  return (req, res) => serveFile(root, req, res)
}

async function serveFile(root: string, req: IncomingRequest, res: Response): Promise<void> {
  const { method, path } = req.head
  const segments = splitPath(path)
  // A malformed path is a malformed request: 400, and the connection closes (CONTRACT.md).
  if (segments === null) return res.closeAfter().error(new HttpError(400, 'INVALID_PATH', 'the path has an invalid percent-encoding'))
  for (const segment of segments) {
    if (segment.includes('\0')) return res.closeAfter().error(new HttpError(400, 'INVALID_PATH', 'the path holds a NUL byte'))
    if (segment.startsWith('.') || segment.includes('/') || segment.includes('\\')) return notFound(res, path)
  }
  const wantsDirectory = segments[segments.length - 1] === ''
  if (wantsDirectory) segments[segments.length - 1] = 'index.html'

  let file: string
  let info: Awaited<ReturnType<typeof stat>>
  try {
    file = await realpath(join(root, ...segments))
    if (!file.startsWith(root + sep)) return notFound(res, path) // a symlink pointing outside
    info = await stat(file)
  } catch {
    return notFound(res, path)
  }
  if (!info.isFile() && !info.isDirectory()) return notFound(res, path)
  if (method !== 'GET' && method !== 'HEAD') {
    if (method === 'OPTIONS') {
      res.status = 204
      res.setHeader('Allow', 'GET, HEAD, OPTIONS')
      return res.end()
    }
    res.setHeader('Allow', 'GET, HEAD, OPTIONS')
    return res.error(new HttpError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on a static file; allowed: GET, HEAD, OPTIONS`))
  }
  if (info.isDirectory()) {
    // "/docs" is the folder "/docs/": send the client there so relative links work.
    // One leading slash only: "//docs/" would be a network-path reference to the host
    // "docs" (RFC 3986 §4.2), an open redirect.
    res.status = 301
    res.setHeader('Location', `/${path.replace(/^\/+/, '')}/${req.head.query ? `?${req.head.query}` : ''}`)
    return res.end()
  }

  const etag = `"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`
  const lastModified = new Date(Math.floor(info.mtimeMs / 1000) * 1000)
  // The fields describe the file; they are set only once it is certain to be sent (a read
  // that fails becomes a 500 that must not carry them).
  const describe = () => {
    res.setHeader('ETag', etag)
    res.setHeader('Last-Modified', formatHttpDate(lastModified.getTime()))
    // RFC 9110 §15.4.5: a 304 carries the Cache-Control a 200 would have carried.
    res.setHeader('Cache-Control', 'no-cache')
  }
  if (notModified(req, etag, lastModified)) {
    describe()
    res.status = 304
    return res.end()
  }
  const contentType = CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream'
  if (method === 'HEAD' || info.size > READ_WHOLE_LIMIT) {
    describe()
    res.setHeader('Content-Type', contentType)
    res.startBody(info.size)
    if (method === 'HEAD') return res.end()
  } else {
    const body = await readFile(file)
    describe()
    res.setHeader('Content-Type', contentType)
    return res.end(body)
  }

  const stream = createReadStream(file, { highWaterMark: 64 * 1024 })
  res.onAbort(() => stream.destroy())
  try {
    for await (const chunk of stream) {
      if (!res.write(chunk as Buffer)) await res.drained()
      if (res.aborted) break
    }
  } catch {
    // The file could not be read to the end, or the client went away: the short
    // body makes the response close the connection, which the client can see.
  } finally {
    stream.destroy()
  }
  res.end()
}

function notFound(res: Response, path: string): void {
  res.error(new HttpError(404, 'NOT_FOUND', `nothing is served at ${path}`))
}

/** RFC 9110 §13.2.2: If-None-Match first; If-Modified-Since only without it. */
function notModified(req: IncomingRequest, etag: string, lastModified: Date): boolean {
  const ifNoneMatch = req.header('if-none-match')
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch.trim() === '*') return true
    // Weak comparison (RFC 9110 §8.8.3.2): W/ prefixes are ignored.
    return ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag)
  }
  const ifModifiedSince = req.header('if-modified-since')
  if (ifModifiedSince !== undefined) {
    const since = Date.parse(ifModifiedSince)
    return !Number.isNaN(since) && lastModified.getTime() <= since
  }
  return false
}

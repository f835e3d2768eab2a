// GET /iframe/{channel}?callback=F: the forever frame. A hidden <iframe> loads a page that
// never ends; each message arrives as a <script> that calls a function of the parent page:
//
//   <!doctype html> ... (1 KiB of padding first: browsers render, and so run scripts,
//                        only once enough of a document has arrived)
//   <script>parent.push({"id":1,"data":"hello"})</script>
//   <!-- -->                                   a heartbeat comment when idle
//
// The envelope is JSON written into a script: "<", ">" and "&" are escaped as \u003c,
// \u003e and \u0026, so that no message can close the script ("</script>") or open a
// comment ("<!--"), and U+2028 / U+2029, which older engines refuse inside a string.

import type { CorsPolicy } from '../http/cors.ts'
import { HttpError } from '../http/errors.ts'
import type { RouteHandler } from '../http/router.ts'
import type { Hub } from '../hub/hub.ts'
import { feedsFor, streamedRoute, type Streams, type TextFeed } from './streaming.ts'

/** The callback: a JavaScript name, or names joined by dots (CONTRACT.md). */
const CALLBACK = /^[A-Za-z_$][A-Za-z0-9_$.]*$/

const PADDING =
  '<!doctype html>\n<html><head><meta charset="utf-8"><title>push-wire forever frame</title></head><body>\n' +
  `<!-- padding, so that the browser starts rendering at once:${' '.repeat(1024)}-->\n`

const HEARTBEAT = '<!-- -->\n'

/** JSON that is safe inside <script> in HTML. */
export function scriptSafeJson(json: string): string {
  return json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

function formatFor(callback: string) {
  return {
    message: (message: { envelope: string }) => `<script>parent.${callback}(${scriptSafeJson(message.envelope)})</script>\n`,
    gap: (first: number) => `<script>parent.${callback}({"gap":true,"first":${first}})</script>\n`,
  }
}

// One pair of feeds per callback name, so each message is encoded once per name. The
// names come from clients: only so many are kept; past that, a request gets feeds of
// its own (correct, only not shared).
const MAX_SHARED_CALLBACKS = 64
const feedsByCallback = new Map<string, { chunked: TextFeed; raw: TextFeed }>()

function feeds(callback: string): { chunked: TextFeed; raw: TextFeed } {
  let pair = feedsByCallback.get(callback)
  if (pair === undefined) {
    pair = feedsFor(formatFor(callback))
    if (feedsByCallback.size < MAX_SHARED_CALLBACKS) feedsByCallback.set(callback, pair)
  }
  return pair
}

export function iframeRoute(hub: Hub, streams: Streams, cors: CorsPolicy): RouteHandler {
  return streamedRoute(hub, streams, cors, {
    contentType: 'text/html; charset=utf-8',
    cacheControl: 'no-store',
    feeds(req) {
      const callback = req.query.get('callback') ?? 'push'
      if (!CALLBACK.test(callback) || callback.length > 128) {
        throw new HttpError(400, 'BAD_CALLBACK', 'callback must be a JavaScript name: [A-Za-z_$][A-Za-z0-9_$.]*')
      }
      return feeds(callback)
    },
    heartbeat: HEARTBEAT,
    preamble: PADDING,
  })
}

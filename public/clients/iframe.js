// The forever iframe: a hidden <iframe> loads an HTML page that never ends. Each message
// arrives as a <script> that the browser runs as soon as it has it, calling a function of
// this page (the parent):
//
//   GET /iframe/demo?callback=iframePush&after=8
//     <!doctype html> ... 1 KiB of padding (browsers run scripts only once some of a
//                         document has arrived)
//     <script>parent.iframePush({"id":9,"data":"hello"})</script>
//     <!-- -->            a heartbeat comment when idle
//
// Done right:
// - The frame's document keeps every script it ever received: after a budget of bytes we
//   replace the frame with a new one that starts after the newest id.
// - The frame's load event means its document ended cleanly (the server closed the response).
//   A connection that breaks mid-document fires nothing: Chromium leaves the document
//   "loading" for ever. So the page also watches the document grow: every script, and the
//   heartbeat comment the server sends after 15 s of silence, adds a node to it; a document
//   that stops growing for longer than a few heartbeats (silenceMs) is dead. Either way:
//   a new frame with the cursor, after a backoff.
// - parent.F() works only when the frame and this page have the same origin: the frame is
//   always loaded from this page's own origin.

import { backoffDelay, chunkBytes, utf8Bytes } from '../demo.js'

/** What the server sends before any message: the padding, about 1.2 KiB (src/comet/iframe.ts). */
const PADDING_BYTES = 1189

export function subscribeIframe({ channel, tally, callback = 'iframePush', budgetBytes = 256 * 1024, silenceMs = 45_000, hiddenHeadBytes = 0 }) {
  let closed = false
  let frame = null
  let bytes = 0
  let failures = 0
  let retryTimer = 0
  let nodes = -1
  let grewAt = 0

  // The function the frame's scripts call. A name the server accepts: [A-Za-z_$][A-Za-z0-9_$.]*
  window[callback] = (envelope) => {
    const size = chunkBytes(utf8Bytes(`<script>parent.${callback}(${JSON.stringify(envelope)})</script>\n`))
    bytes += size
    tally.countBytes(size)
    if (tally.state !== 'open') opened()
    tally.deliver(envelope)
    if (bytes > budgetBytes) {
      tally.reconnecting(`the frame holds ${bytes} bytes (the budget is ${budgetBytes})`, 0)
      connect()
    }
  }

  function opened() {
    failures = 0
    tally.setState('open')
  }

  function connect() {
    frame?.remove() // a removed frame stops loading: it calls us no more
    tally.setState('connecting')
    tally.countRequest()
    tally.countBytes(hiddenHeadBytes + chunkBytes(PADDING_BYTES))
    bytes = 0
    nodes = -1
    grewAt = Date.now()
    frame = document.createElement('iframe')
    frame.hidden = true
    frame.title = 'forever frame'
    frame.src = `/iframe/${channel}?callback=${callback}&after=${tally.lastId}`
    frame.onload = onDocumentEnded
    document.body.append(frame)
    whenCommitted(frame)
  }

  // The frame shows no headers; its document being ours (not about:blank) means the server answered.
  function whenCommitted(watched) {
    const check = () => {
      if (watched !== frame || closed || tally.state === 'open') return
      let url = ''
      try {
        url = watched.contentDocument?.URL ?? ''
      } catch {}
      if (url.includes('/iframe/')) opened()
      else setTimeout(check, 50)
    }
    check()
  }

  function onDocumentEnded() {
    retry('the frame\'s document ended')
  }

  function retry(why) {
    if (closed) return
    const delay = backoffDelay(failures++)
    tally.reconnecting(why, delay)
    frame.onload = null
    frame.remove()
    retryTimer = setTimeout(connect, delay)
  }

  // The watchdog: the open frame's document must grow now and then (a script or a heartbeat).
  const watchdog = setInterval(() => {
    if (closed || tally.state !== 'open' || !frame.isConnected) return
    const count = frame.contentDocument?.body?.childNodes.length ?? 0
    if (count !== nodes) {
      nodes = count
      grewAt = Date.now()
    } else if (Date.now() - grewAt > silenceMs) {
      retry(`the frame's document did not grow for ${silenceMs} ms`)
    }
  }, Math.min(1000, silenceMs / 4))

  // A frame added before this page's load event holds that event (and the browser's busy
  // spinner) for as long as it streams, which is for ever: start it once the page has loaded.
  if (document.readyState === 'complete') connect()
  else window.addEventListener('load', () => closed || connect(), { once: true })
  return {
    close() {
      closed = true
      clearTimeout(retryTimer)
      clearInterval(watchdog)
      frame?.remove()
      tally.setState('closed')
    },
  }
}

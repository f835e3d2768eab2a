// WebSocket: one connection, both ways. The server sends each message of the channel as a
// text frame holding its envelope; each text frame we send is published to the channel.
//
//   GET /ws/demo?after=8  Upgrade: websocket   ->  101 Switching Protocols
//   <- {"id":9,"data":"hello"}                     a text frame per message
//   -> hi there                                    published: everyone, us too, gets
//   <- {"id":10,"data":"hi there"}                 it back with its id
//
// Done right:
// - The server pings an idle connection every 30 s; the browser answers with a pong by
//   itself, and JavaScript sees neither. So a page cannot see a dead connection by pings;
//   it sees `close` when the TCP connection ends, and nothing at all when the network
//   silently vanished. To notice that, the page needs something to arrive regularly: with
//   heartbeatMs set, we send {"t":...,"heartbeat":true} when the channel has been quiet,
//   and if nothing comes back in time, we call the connection dead. (It is published like
//   any message, so every subscriber sees it: fine for a demo, a real protocol would have
//   the server answer privately.)
// - On close: reconnect with exponential backoff and jitter, and ?after= the newest id, so
//   what was published meanwhile arrives once, in order.

import { backoffDelay, utf8Bytes } from '../demo.js'

/** ws: or wss: URL of `path` on `base` (an http(s) origin, or '' for this page's). */
function wsUrl(base, path) {
  const origin = base || location.origin
  return origin.replace(/^http/, 'ws') + path
}

/** Bytes of a server-to-client frame: 2 bytes, the extended length, the payload (unmasked). */
function frameBytes(payload) {
  return 2 + (payload < 126 ? 0 : payload < 65536 ? 2 : 8) + payload
}

/** The 101 answer, as this server writes it (the accept key is always 28 characters). */
function handshakeBytes(extensions) {
  let head = 'HTTP/1.1 101 Switching Protocols\r\nDate: Sat, 21 Nov 2026 00:00:00 GMT\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
  head += `Sec-WebSocket-Accept: ${'x'.repeat(28)}\r\n`
  if (extensions) head += `Sec-WebSocket-Extensions: ${extensions}\r\n`
  return head.length + 2
}

export function subscribeWs({ base = '', channel, tally, heartbeatMs = 0 }) {
  let socket = null
  let closed = false
  let failures = 0
  let retryTimer = 0
  let lastHeard = Date.now()
  let heartbeatSentAt = 0

  function connect() {
    tally.countRequest()
    tally.setState('connecting')
    socket = new WebSocket(wsUrl(base, `/ws/${channel}?after=${tally.lastId}`))
    socket.onopen = () => {
      failures = 0
      lastHeard = Date.now()
      heartbeatSentAt = 0
      tally.countBytes(handshakeBytes(socket.extensions))
      tally.setState('open', socket.extensions ? `extensions: ${socket.extensions}` : undefined)
    }
    socket.onmessage = (event) => {
      lastHeard = Date.now()
      heartbeatSentAt = 0
      tally.countBytes(frameBytes(utf8Bytes(event.data)))
      tally.deliver(JSON.parse(event.data))
    }
    socket.onclose = (event) => {
      if (closed) return
      const delay = backoffDelay(failures++)
      tally.reconnecting(`closed with ${event.code}${event.reason ? ` "${event.reason}"` : ''}`, delay)
      retryTimer = setTimeout(connect, delay)
    }
    // An error is always followed by close, which reconnects.
  }

  /** The heartbeat: when quiet, send one; when it does not come back in time, the connection is dead. */
  function checkAlive() {
    if (socket?.readyState !== WebSocket.OPEN) return
    const now = Date.now()
    if (heartbeatSentAt !== 0 && now - heartbeatSentAt > heartbeatMs) {
      // Dead. close() would wait for a close handshake that cannot come: drop this socket and start over.
      const dead = socket
      dead.onclose = dead.onmessage = null
      dead.close()
      tally.reconnecting(`no answer to the heartbeat in ${heartbeatMs} ms`, 0)
      connect()
    } else if (heartbeatSentAt === 0 && now - lastHeard > heartbeatMs) {
      heartbeatSentAt = now
      socket.send(JSON.stringify({ t: now, heartbeat: true }))
    }
  }
  const heartbeatTimer = heartbeatMs > 0 ? setInterval(checkAlive, Math.min(1000, heartbeatMs / 4)) : 0

  connect()
  return {
    /** Sends a text frame: the server publishes it to the channel. */
    send(text) {
      if (socket?.readyState !== WebSocket.OPEN) return false
      socket.send(text)
      return true
    },
    close() {
      closed = true
      clearTimeout(retryTimer)
      clearInterval(heartbeatTimer)
      socket?.close(1000)
      tally.setState('closed')
    },
  }
}

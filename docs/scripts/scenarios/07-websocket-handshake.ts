// Transcripts of docs/07-websocket-handshake.md: the opening handshake (RFC 6455 §4).

import { Opcode, SAMPLE_KEY } from '../recorder.ts'
import type { Scenario } from '../transcripts.ts'

const HOST = 'Host: 127.0.0.1:8080\r\n'

/** An upgrade request for `path`; `fields` replace or add to the four that make it one. */
function upgrade(path: string, fields: { version?: string; key?: string; extra?: string } = {}): string {
  const { version = '13', key = SAMPLE_KEY, extra = '' } = fields
  return (
    `GET ${path} HTTP/1.1\r\n${HOST}Upgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: ${version}\r\n${extra}\r\n`
  )
}

export const scenarios: Record<string, Scenario> = {
  /** The smallest handshake, with the RFC's sample key, and one message each way to show the switch. */
  'ws-handshake': async (t) => {
    const c = await t.connect()
    c.send(upgrade('/echo'))
    await c.head()
    const [up, down] = [c.bytesSent, c.bytesReceived]
    t.note(`the handshake: ${up} bytes up, ${down} bytes down, once per connection`)
    t.note('from here on, the bytes are WebSocket frames, not HTTP')
    c.sendFrame(Opcode.TEXT, 'Hello')
    await c.frame()
    t.note(`"Hello": ${c.bytesSent - up} bytes up, ${c.bytesReceived - down} bytes down`)
  },

  /** What a browser sends: Origin, and an offer of permessage-deflate. */
  'ws-handshake-browser': async (t) => {
    const c = await t.connect()
    c.send(
      upgrade('/ws/news', {
        extra: 'Origin: http://127.0.0.1:8080\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n',
      }),
    )
    await c.head()
  },

  /** Every refusal, each on its own connection. */
  'ws-handshake-refusals': async (t) => {
    const cases: [string, string][] = [
      ['a version this server does not speak', upgrade('/echo', { version: '8' })],
      ['a plain GET of a WebSocket-only route', `GET /ws/news HTTP/1.1\r\n${HOST}\r\n`],
      ['a key that is not the base64 of 16 bytes', upgrade('/echo', { key: 'hello' })],
      ['no route at that path', upgrade('/nowhere')],
      ['a route that does not speak WebSocket: the Upgrade is ignored (RFC 9110 §7.8 allows it)', upgrade('/hello')],
    ]
    for (const [what, request] of cases) {
      t.note(what)
      const c = await t.connect()
      c.send(request)
      const response = await c.response()
      if (response.headers.get('connection') === 'close') await c.closed()
      else c.destroy()
    }
  },

  /** With --allow-origin: an allowed Origin is switched, another is refused with 403; no Origin at all (curl) is allowed. */
  'ws-handshake-origin': {
    options: { allowedOrigins: ['http://127.0.0.1:8080'] },
    run: async (t) => {
      const allowed = await t.connect()
      allowed.send(upgrade('/ws/news', { extra: 'Origin: http://127.0.0.1:8080\r\n' }))
      await allowed.head()
      const refused = await t.connect()
      refused.send(upgrade('/ws/news', { extra: 'Origin: http://evil.example\r\n' }))
      await refused.response()
    },
  },

  /** Subprotocols: the client offers two; this server speaks none, so the 101 names none. */
  'ws-subprotocol': async (t) => {
    const c = await t.connect()
    c.send(upgrade('/echo', { extra: 'Sec-WebSocket-Protocol: chat, superchat\r\n' }))
    await c.head()
  },

  /** permessage-deflate (RFC 7692): the same browser offer on /echo and on /ws/{channel}, and an offer with a window. */
  'ws-deflate-negotiation': async (t) => {
    const offers: [string, string][] = [
      ['/echo', 'permessage-deflate; client_max_window_bits'],
      ['/ws/news', 'permessage-deflate; client_max_window_bits'],
      ['/echo', 'permessage-deflate; server_max_window_bits=10, permessage-deflate'],
      ['/echo', 'permessage-deflate; server_max_window_bits=8, x-webkit-deflate-frame'],
    ]
    for (const [path, offer] of offers) {
      const c = await t.connect()
      c.send(upgrade(path, { extra: `Sec-WebSocket-Extensions: ${offer}\r\n` }))
      await c.head()
    }
  },
}

// Publishing for a scenario, like Transcript.publish, when the data should not be shown as it
// is: t.publish notes the data as JSON, which would put a 6 MiB message in the chapter, or a
// U+2028 LINE SEPARATOR that breaks the transcript's line. Here the note shows `shown`.

import { connect } from 'node:net'
import type { Transcript } from './recorder.ts'

/** Publishes `data` to `channel` through POST /publish (unrecorded) and notes it as `shown`; returns its id. */
export async function publishShown(t: Transcript, channel: string, data: string, shown: string): Promise<number> {
  const body = Buffer.from(data)
  const socket = connect(t.port, '127.0.0.1')
  const reply = await new Promise<string>((resolve, reject) => {
    let text = ''
    socket.on('data', (bytes) => (text += bytes.toString('latin1')))
    socket.on('end', () => resolve(text))
    socket.on('error', reject)
    socket.write(`POST /publish/${channel} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`)
    socket.end(body)
  })
  const id = /\{"id":(\d+)\}/.exec(reply)
  if (!id) throw new Error(`publish to ${channel} failed: ${reply.split('\r\n')[0]}`)
  t.note(`published to ${channel}: ${shown} -> id ${id[1]}`)
  return Number(id[1])
}

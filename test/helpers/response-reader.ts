// Reads responses out of a connection's bytes as they arrive, with wire.ts's strict
// readResponse: push() each chunk; complete responses appear in `responses` (final) and
// `interim` (1xx). It waits for a whole body before parsing again, so a stream of large
// responses costs linear time. After a 101 the bytes belong to another protocol: they
// collect in `tail`.

import { readResponse, type WireResponse } from './wire.ts'

const EMPTY = Buffer.alloc(0)
const HEAD_END = Buffer.from('\r\n\r\n')

export class ResponseReader {
  /** Final responses (status >= 200, and a 101), in order. */
  readonly responses: WireResponse[] = []
  /** Interim responses (100, 102, 103), in order. */
  readonly interim: WireResponse[] = []
  /** Indexes into `responses` of the answers to HEAD requests: they have no body. */
  readonly headResponses = new Set<number>()
  /** Bytes that no HTTP/1.1 response could be: the reader stops there. */
  error: Error | null = null
  /** A 101 arrived: what follows is `tail`. */
  upgraded = false
  tail: Buffer = EMPTY
  private pending: Buffer[] = []
  private pendingBytes = 0
  /** No response can be complete before this many bytes are pending. */
  private need = 1
  private ended = false

  /** Bytes received and not part of a complete response (after a 101: the tail). */
  get rest(): Buffer {
    return this.upgraded ? this.tail : this.joined()
  }

  push(chunk: Buffer): void {
    if (this.error) return
    if (this.upgraded) {
      this.tail = Buffer.concat([this.tail, chunk])
      return
    }
    this.pending.push(chunk)
    this.pendingBytes += chunk.length
    if (this.pendingBytes >= this.need) this.parse()
  }

  /** The connection closed: a body delimited by the close is now complete. */
  end(): void {
    this.ended = true
    if (!this.error && !this.upgraded && this.pendingBytes > 0) this.parse()
  }

  private joined(): Buffer {
    if (this.pending.length > 1) this.pending = [Buffer.concat(this.pending, this.pendingBytes)]
    return this.pending[0] ?? EMPTY
  }

  private parse(): void {
    const data = this.joined()
    let offset = 0
    this.need = 1
    try {
      while (offset < data.length) {
        const input = data.subarray(offset)
        const result = readResponse(input, { head: this.headResponses.has(this.responses.length), ended: this.ended })
        if (result === null) {
          this.need = minimumLength(input)
          break
        }
        const { response, used } = result
        // wire.ts splits the head on CRLF; a client must also refuse a stray CR or LF in it.
        if (/\r(?!\n)|(?<!\r)\n/.test(response.head.slice(0, -4).replaceAll('\r\n', ''))) {
          throw new Error(`a bare CR or LF in a response head: ${JSON.stringify(response.head)}`)
        }
        offset += used
        if (response.status < 200 && response.status !== 101) {
          this.interim.push(response)
          continue
        }
        this.responses.push(response)
        if (response.status === 101) {
          this.upgraded = true
          this.tail = Buffer.from(data.subarray(offset))
          offset = data.length
        }
      }
    } catch (error) {
      this.error = error as Error
    }
    const rest = data.subarray(offset)
    this.pending = rest.length > 0 ? [rest] : []
    this.pendingBytes = rest.length
  }
}

/** The fewest bytes that could hold the complete response starting `input`. */
function minimumLength(input: Buffer): number {
  const headEnd = input.indexOf(HEAD_END)
  if (headEnd === -1) return input.length + 1
  const length = /\r\ncontent-length:[ \t]*(\d+)/i.exec(input.toString('latin1', 0, headEnd))
  return length ? Math.max(headEnd + 4 + Number(length[1]), input.length + 1) : input.length + 1
}

/** Every response in `data` (bytes of a whole conversation), read at once. */
export function readConversation(data: Buffer, options: { headResponses?: number[]; closed?: boolean } = {}): ResponseReader {
  const reader = new ResponseReader()
  for (const index of options.headResponses ?? []) reader.headResponses.add(index)
  reader.push(data)
  if (options.closed) reader.end()
  return reader
}

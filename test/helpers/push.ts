// Helpers for the push routes' integration tests (test/push/routes-*.test.ts): publishing
// and one-shot requests over raw sockets, and a reader for a streamed response that is
// still open (a chunked body that has not ended), which sees each chunk as it was framed.
//
//   const feed = await openStream(server.port, '/stream/news?after=0')
//   await feed.waitChunks(2)
//   assert.equal(feed.chunkTexts(), ['{"id":1,"data":"a"}\n', '{"id":2,"data":"b"}\n'])
//
// Every wait has a generous deadline (RawClient's); no test asserts on how long something took.

import { RawClient, exchange, requestBytes } from './raw-client.ts'
import { field, type WireResponse } from './wire.ts'

/** POST /publish/{channel}: the response; `event` adds ?event=, `fields` extra field lines. */
export function publish(port: number, channel: string, body: string | Buffer, options: { event?: string; fields?: string[] } = {}): Promise<WireResponse> {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body
  const query = options.event === undefined ? '' : `?event=${encodeURIComponent(options.event)}`
  const head = requestBytes('POST', `/publish/${channel}${query}`, [`Content-Length: ${bytes.length}`, ...(options.fields ?? [])])
  return exchange(port, Buffer.concat([Buffer.from(head, 'latin1'), bytes]))
}

/** Publishes and checks the answer is 200 {"id":N}; returns N. */
export async function published(port: number, channel: string, body: string | Buffer, options: { event?: string; fields?: string[] } = {}): Promise<number> {
  const response = await publish(port, channel, body, options)
  if (response.status !== 200) throw new Error(`publishing to ${channel} was answered ${response.status}: ${response.body.toString()}`)
  const match = /^\{"id":(\d+)\}$/.exec(response.body.toString())
  if (!match) throw new Error(`publishing to ${channel} was answered ${JSON.stringify(response.body.toString())}`)
  return Number(match[1])
}

/** One GET (or another method) on a fresh connection: its response. */
export function request(port: number, target: string, fields: string[] = [], method = 'GET'): Promise<WireResponse> {
  return exchange(port, requestBytes(method, target, fields), { head: method === 'HEAD' })
}

/** The body as UTF-8 text. */
export function text(response: WireResponse): string {
  return response.body.toString('utf8')
}

export interface StreamHead {
  status: number
  fields: [string, string][]
  /** The head's text, status line to the empty line. */
  raw: string
}

export interface ParsedChunks {
  /** Every complete chunk's data, in order (the last chunk not included). */
  chunks: Buffer[]
  /** The last chunk (0, CRLF, CRLF) has come: the body ended cleanly. */
  ended: boolean
}

/** Reads the chunk framing of `bytes` (a chunked body from its start), as far as it is complete; throws on bad framing. */
export function parseChunks(bytes: Buffer): ParsedChunks {
  const chunks: Buffer[] = []
  let at = 0
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', at, 'latin1')
    if (lineEnd === -1) return { chunks, ended: false }
    const sizeText = bytes.toString('latin1', at, lineEnd)
    if (!/^[0-9a-fA-F]+$/.test(sizeText)) throw new Error(`bad chunk size line ${JSON.stringify(sizeText)} at byte ${at}`)
    const size = parseInt(sizeText, 16)
    if (size === 0) {
      if (bytes.length < lineEnd + 4) return { chunks, ended: false }
      if (bytes.toString('latin1', lineEnd + 2, lineEnd + 4) !== '\r\n') throw new Error('the last chunk is not followed by an empty line')
      if (bytes.length > lineEnd + 4) throw new Error(`bytes after the last chunk: ${JSON.stringify(bytes.toString('latin1', lineEnd + 4))}`)
      return { chunks, ended: true }
    }
    const dataStart = lineEnd + 2
    if (bytes.length < dataStart + size + 2) return { chunks, ended: false }
    if (bytes.toString('latin1', dataStart + size, dataStart + size + 2) !== '\r\n') throw new Error(`chunk at byte ${at} does not end with CRLF`)
    chunks.push(bytes.subarray(dataStart, dataStart + size))
    at = dataStart + size + 2
  }
}

/** A streamed response read as it arrives: its head, then its chunks (or its raw body, unchunked). */
export class OpenStream {
  constructor(readonly client: RawClient) {}

  /** Where the head ends in the bytes received, or -1. */
  private get headEnd(): number {
    const end = this.client.received.indexOf('\r\n\r\n', 0, 'latin1')
    return end === -1 ? -1 : end + 4
  }

  /** Waits for the head and returns it. */
  async head(): Promise<StreamHead> {
    await this.client.waitFor(() => this.headEnd !== -1, 'the head of the streamed response')
    const raw = this.client.received.toString('latin1', 0, this.headEnd)
    const lines = raw.slice(0, -4).split('\r\n')
    const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(lines[0])?.[1] ?? -1)
    const fields = lines.slice(1).map((line): [string, string] => {
      const colon = line.indexOf(':')
      return [line.slice(0, colon), line.slice(colon + 1).trim()]
    })
    return { status, fields, raw }
  }

  /** The bytes after the head (chunk framing included). */
  get body(): Buffer {
    const end = this.headEnd
    return end === -1 ? Buffer.alloc(0) : this.client.received.subarray(end)
  }

  get parsed(): ParsedChunks {
    return parseChunks(this.body)
  }

  /** The data of every complete chunk as UTF-8 text. */
  chunkTexts(): string[] {
    return this.parsed.chunks.map((chunk) => chunk.toString('utf8'))
  }

  /** Every chunk's data joined, as UTF-8 text. */
  get data(): string {
    return Buffer.concat(this.parsed.chunks).toString('utf8')
  }

  waitChunks(count: number, what = `${count} chunk(s)`): Promise<void> {
    return this.client.waitFor(() => this.parsed.chunks.length >= count, what)
  }

  /** Waits until the chunks' data contains `needle`. */
  waitData(needle: string): Promise<void> {
    return this.client.waitFor(() => this.data.includes(needle), JSON.stringify(needle))
  }

  /** Waits for the last chunk; fails if the connection closes first. */
  waitEnd(): Promise<void> {
    return this.client.waitFor(() => this.parsed.ended, 'the last chunk (0 CRLF CRLF)')
  }

  destroy(): void {
    this.client.destroy()
  }
}

/** Opens a connection, sends GET `target` with `fields`, and returns the stream reader (the head may not have come yet). */
export async function openStream(port: number, target: string, fields: string[] = []): Promise<OpenStream> {
  const client = await RawClient.connect(port)
  client.write(requestBytes('GET', target, fields))
  return new OpenStream(client)
}

/** The value of a field of a streamed response's head, by case-insensitive name. */
export function headField(head: StreamHead, name: string): string | undefined {
  return field({ fields: head.fields } as WireResponse, name)
}

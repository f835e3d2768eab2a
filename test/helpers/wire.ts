// Reads HTTP/1.1 responses out of raw bytes, the way a strict client would, so that tests
// can look at exactly what the server sent: the status line, the fields in order, and a
// body framed by Content-Length, chunks, or the close (RFC 9112 §6.3).
//
// ResponseReader takes a connection's bytes as they arrive and reads each one once: it
// remembers where it stopped (in a head, a body, a chunk), so a long stream of large or
// finely chunked responses costs time linear in its bytes. readAllResponses() reads bytes
// that are already complete, e.g. what a fake sink recorded.

export interface WireResponse {
  /** 'HTTP/1.1' */
  version: string
  status: number
  reason: string
  /** Field lines in order, names as sent. */
  fields: [name: string, value: string][]
  /** The body after de-chunking. */
  body: Buffer
  /** How the body was framed. */
  framing: 'none' | 'length' | 'chunked' | 'close'
  /** The head exactly as sent (status line to the empty line, inclusive), latin1. */
  head: string
  /** Every byte of this response. */
  raw: Buffer
}

/** The value of a field by case-insensitive name (undefined when absent). */
export function field(response: WireResponse, name: string): string | undefined {
  const lower = name.toLowerCase()
  return response.fields.find(([n]) => n.toLowerCase() === lower)?.[1]
}

/** Every value of a field by case-insensitive name. */
export function fieldAll(response: WireResponse, name: string): string[] {
  const lower = name.toLowerCase()
  return response.fields.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v)
}

const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)'
const MONTH = '(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)'
/** IMF-fixdate (RFC 9110 §5.6.7): `Sun, 06 Nov 1994 08:49:37 GMT`. */
export const IMF_FIXDATE = new RegExp(`^${DAY}, \\d{2} ${MONTH} \\d{4} \\d{2}:\\d{2}:\\d{2} GMT$`)

const EMPTY = Buffer.alloc(0)
const CRLF = Buffer.from('\r\n')
const HEAD_END = Buffer.from('\r\n\r\n')

/** Where the reader is in the response it is reading. */
type Phase =
  | { kind: 'head' } // looking for the empty line that ends the head
  | { kind: 'length'; end: number } // in a Content-Length body that ends at `end`
  | { kind: 'chunk-size' } // at a chunk-size line
  | { kind: 'chunk-data'; end: number } // in a chunk's data, which ends at `end` (then CRLF)
  | { kind: 'close' } // in a body that ends with the connection
  | { kind: 'upgraded' } // after a 101: the bytes are another protocol's

/**
 * The responses in a connection's bytes: push() each chunk as it arrives, end() at the
 * server's FIN. Complete responses appear in `responses` (final ones, and a 101) and
 * `interim` (1xx). Bytes no HTTP/1.1 response could be set `error`, and reading stops.
 */
export class ResponseReader {
  /** Final responses (status >= 200, and a 101), in order. */
  readonly responses: WireResponse[] = []
  /** Interim responses (100, 102, 103), in order. */
  readonly interim: WireResponse[] = []
  /** Indexes into `responses` of the answers to HEAD requests: they end with their head. */
  readonly headResponses = new Set<number>()
  error: Error | null = null

  /** Every byte pushed, in a buffer that doubles when full, so appending stays linear. */
  private data = Buffer.alloc(16 * 1024)
  private length = 0
  private ended = false
  private phase: Phase = { kind: 'head' }
  /** Where the response being read starts, and where reading it goes on. */
  private start = 0
  private at = 0
  private current: WireResponse | null = null
  private chunks: Buffer[] = []
  private readonly ends = new Map<WireResponse, number>()

  /** `everyHead`: every response answers a HEAD request. */
  constructor(private readonly everyHead = false) {}

  /** Every byte pushed so far. */
  get received(): Buffer {
    return this.data.subarray(0, this.length)
  }

  /** Bytes received and not part of a complete response (after a 101: the tail). */
  get rest(): Buffer {
    return this.data.subarray(this.start, this.length)
  }

  get upgraded(): boolean {
    return this.phase.kind === 'upgraded'
  }

  /** After a 101: every byte that followed it. */
  get tail(): Buffer {
    return this.upgraded ? this.rest : EMPTY
  }

  /** Where `response` (one of this reader's) ends in `received`. */
  endOf(response: WireResponse): number {
    const end = this.ends.get(response)
    if (end === undefined) throw new Error('not a response of this reader')
    return end
  }

  push(chunk: Buffer): void {
    if (this.length + chunk.length > this.data.length) {
      // A new buffer, never a move within the old one: bodies already read point into it.
      const grown = Buffer.alloc(Math.max(this.data.length * 2, this.length + chunk.length))
      this.data.copy(grown, 0, 0, this.length)
      this.data = grown
    }
    chunk.copy(this.data, this.length)
    this.length += chunk.length
    this.read()
  }

  /** The connection closed: a body delimited by the close is now complete. */
  end(): void {
    this.ended = true
    this.read()
  }

  private read(): void {
    if (this.error) return
    try {
      while (this.step());
    } catch (error) {
      this.error = error as Error
    }
  }

  /** Reads on from `at` as far as one piece (a head, a chunk, a body); false when it needs more bytes. */
  private step(): boolean {
    const phase = this.phase
    switch (phase.kind) {
      case 'head':
        return this.readHead()
      case 'length':
        return this.length >= phase.end && this.finish(phase.end)
      case 'chunk-size':
        return this.readChunkSize()
      case 'chunk-data':
        if (this.length < phase.end + 2) return false
        if (!this.data.subarray(phase.end, phase.end + 2).equals(CRLF)) throw new Error('a chunk does not end with CRLF')
        this.chunks.push(this.data.subarray(this.at, phase.end))
        this.at = phase.end + 2
        this.phase = { kind: 'chunk-size' }
        return true
      case 'close':
        return this.ended && this.finish(this.length)
      case 'upgraded':
        return false
    }
  }

  private readHead(): boolean {
    const headEnd = this.received.indexOf(HEAD_END, this.at)
    if (headEnd === -1) {
      // Next time, search only the new bytes (and the 3 the empty line may straddle).
      this.at = Math.max(this.start, this.length - 3)
      return false
    }
    const bodyStart = headEnd + 4
    const response = parseHead(this.data.toString('latin1', this.start, bodyStart))
    this.current = response
    this.at = bodyStart
    const status = response.status
    const answersHead = this.everyHead || this.headResponses.has(this.responses.length)
    // RFC 9112 §6.3: HEAD, 1xx, 204 and 304 responses end with their head.
    if (answersHead || status < 200 || status === 204 || status === 304) return this.finish(bodyStart)
    const transferEncoding = field(response, 'transfer-encoding')
    if (transferEncoding !== undefined) {
      if (transferEncoding.toLowerCase() !== 'chunked') throw new Error(`unexpected Transfer-Encoding ${transferEncoding}`)
      response.framing = 'chunked'
      this.phase = { kind: 'chunk-size' }
      return true
    }
    const contentLength = field(response, 'content-length')
    if (contentLength !== undefined) {
      if (!/^[0-9]+$/.test(contentLength)) throw new Error(`bad Content-Length ${contentLength}`)
      response.framing = 'length'
      this.phase = { kind: 'length', end: bodyStart + Number(contentLength) }
      return true
    }
    response.framing = 'close'
    this.phase = { kind: 'close' }
    return true
  }

  private readChunkSize(): boolean {
    const lineEnd = this.received.indexOf(CRLF, this.at)
    if (lineEnd === -1) return false
    const sizeText = this.data.toString('latin1', this.at, lineEnd)
    if (!/^[0-9a-f]+$/.test(sizeText)) throw new Error(`bad chunk size line ${JSON.stringify(sizeText)}`)
    const size = parseInt(sizeText, 16)
    if (size > 0) {
      this.at = lineEnd + 2
      this.phase = { kind: 'chunk-data', end: this.at + size }
      return true
    }
    // The last chunk and an empty trailer section: "0\r\n\r\n".
    if (this.length < lineEnd + 4) return false
    if (!this.data.subarray(lineEnd + 2, lineEnd + 4).equals(CRLF)) throw new Error('trailers are not expected')
    return this.finish(lineEnd + 4)
  }

  /** The response being read ends at `end`: it takes its place, and the next one starts there. */
  private finish(end: number): true {
    const response = this.current!
    response.raw = Buffer.from(this.data.subarray(this.start, end))
    response.body = response.framing === 'chunked' ? Buffer.concat(this.chunks) : response.raw.subarray(response.head.length)
    this.ends.set(response, end)
    this.current = null
    this.chunks = []
    this.start = this.at = end
    this.phase = { kind: 'head' }
    if (response.status < 200 && response.status !== 101) {
      this.interim.push(response)
    } else {
      this.responses.push(response)
      if (response.status === 101) this.phase = { kind: 'upgraded' }
    }
    return true
  }
}

/** A head (status line to the empty line) as a response without a body yet; throws on what a strict client refuses. */
function parseHead(head: string): WireResponse {
  const lines = head.slice(0, -4).split('\r\n')
  // Split on CRLF, a line still holding a CR or LF had a bare one: not HTTP/1.1.
  if (lines.some((line) => /[\r\n]/.test(line))) throw new Error(`a bare CR or LF in a response head: ${JSON.stringify(head)}`)
  const statusLine = /^(HTTP\/\d\.\d) (\d{3}) (.*)$/.exec(lines[0])
  if (!statusLine) throw new Error(`not a status line: ${JSON.stringify(lines[0])}`)
  const fields: [string, string][] = []
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':')
    if (colon <= 0) throw new Error(`not a field line: ${JSON.stringify(line)}`)
    fields.push([line.slice(0, colon), line.slice(colon + 1).trim()])
  }
  return { version: statusLine[1], status: Number(statusLine[2]), reason: statusLine[3], fields, body: EMPTY, framing: 'none', head, raw: EMPTY }
}

/**
 * The final responses in `input`, which must hold complete responses and nothing else
 * (the input has ended: a body may run to its end). `head`: they answer HEAD requests.
 */
export function readAllResponses(input: Buffer, options: { head?: boolean } = {}): WireResponse[] {
  const reader = new ResponseReader(options.head)
  reader.push(input)
  reader.end()
  if (reader.error) throw reader.error
  if (reader.rest.length > 0) throw new Error(`an incomplete response: ${JSON.stringify(reader.rest.toString('latin1').slice(0, 200))}`)
  return reader.responses
}

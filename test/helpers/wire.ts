// Reads HTTP/1.1 responses out of raw bytes, the way a strict client would, so that tests
// can look at exactly what the server sent: the status line, the fields in order, and a
// body framed by Content-Length, chunks, or the close (RFC 9112 §6.3).

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

export interface ReadOptions {
  /** The request was HEAD: no body whatever the fields say. */
  head?: boolean
  /** The input has ended (the connection closed): a close-delimited body is complete. */
  ended?: boolean
}

/**
 * One response from the start of `input`: the response and the bytes it used, or null
 * when more bytes are needed. Throws on bytes no HTTP/1.1 response could be.
 */
export function readResponse(input: Buffer, options: ReadOptions = {}): { response: WireResponse; used: number } | null {
  const headEnd = input.indexOf('\r\n\r\n')
  if (headEnd === -1) return null
  const head = input.subarray(0, headEnd + 4).toString('latin1')
  const lines = head.slice(0, -4).split('\r\n')
  const statusLine = /^(HTTP\/\d\.\d) (\d{3}) (.*)$/.exec(lines[0])
  if (!statusLine) throw new Error(`not a status line: ${JSON.stringify(lines[0])}`)
  const fields: [string, string][] = []
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':')
    if (colon <= 0) throw new Error(`not a field line: ${JSON.stringify(line)}`)
    fields.push([line.slice(0, colon), line.slice(colon + 1).trim()])
  }
  const response: WireResponse = {
    version: statusLine[1],
    status: Number(statusLine[2]),
    reason: statusLine[3],
    fields,
    body: Buffer.alloc(0),
    framing: 'none',
    head,
    raw: Buffer.alloc(0),
  }
  const start = headEnd + 4
  const status = response.status
  const done = (end: number) => {
    response.raw = Buffer.from(input.subarray(0, end))
    return { response, used: end }
  }
  // RFC 9112 §6.3: HEAD, 1xx, 204 and 304 responses end with their head.
  if (options.head || status < 200 || status === 204 || status === 304) return done(start)
  const transferEncoding = field(response, 'transfer-encoding')
  if (transferEncoding !== undefined) {
    if (transferEncoding.toLowerCase() !== 'chunked') throw new Error(`unexpected Transfer-Encoding ${transferEncoding}`)
    response.framing = 'chunked'
    const chunks: Buffer[] = []
    let at = start
    for (;;) {
      const lineEnd = input.indexOf('\r\n', at)
      if (lineEnd === -1) return null
      const sizeText = input.subarray(at, lineEnd).toString('latin1')
      if (!/^[0-9a-f]+$/.test(sizeText)) throw new Error(`bad chunk size line ${JSON.stringify(sizeText)}`)
      const size = parseInt(sizeText, 16)
      if (size === 0) {
        // An empty trailer section: the last chunk is "0\r\n\r\n".
        if (input.length < lineEnd + 4) return null
        if (input.subarray(lineEnd + 2, lineEnd + 4).toString('latin1') !== '\r\n') throw new Error('trailers are not expected')
        response.body = Buffer.concat(chunks)
        return done(lineEnd + 4)
      }
      const dataEnd = lineEnd + 2 + size
      if (input.length < dataEnd + 2) return null
      if (input.subarray(dataEnd, dataEnd + 2).toString('latin1') !== '\r\n') throw new Error('a chunk does not end with CRLF')
      chunks.push(input.subarray(lineEnd + 2, dataEnd))
      at = dataEnd + 2
    }
  }
  const contentLength = field(response, 'content-length')
  if (contentLength !== undefined) {
    if (!/^[0-9]+$/.test(contentLength)) throw new Error(`bad Content-Length ${contentLength}`)
    const length = Number(contentLength)
    if (input.length < start + length) return null
    response.framing = 'length'
    response.body = Buffer.from(input.subarray(start, start + length))
    return done(start + length)
  }
  if (!options.ended) return null
  response.framing = 'close'
  response.body = Buffer.from(input.subarray(start))
  return done(input.length)
}

/** Every response in `input`, which must hold complete responses and nothing else. */
export function readAllResponses(input: Buffer, options: ReadOptions = {}): WireResponse[] {
  const responses: WireResponse[] = []
  let rest = input
  while (rest.length > 0) {
    const result = readResponse(rest, { ...options, ended: true })
    if (result === null) throw new Error(`an incomplete response: ${JSON.stringify(rest.toString('latin1').slice(0, 200))}`)
    responses.push(result.response)
    rest = rest.subarray(result.used)
  }
  return responses
}

const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)'
const MONTH = '(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)'
/** IMF-fixdate (RFC 9110 §5.6.7): `Sun, 06 Nov 1994 08:49:37 GMT`. */
export const IMF_FIXDATE = new RegExp(`^${DAY}, \\d{2} ${MONTH} \\d{4} \\d{2}:\\d{2}:\\d{2} GMT$`)

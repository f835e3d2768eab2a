// Runs bytes through a RequestParser and records what came out, the way a test
// wants to compare it: whole messages, the error, and where the parser stopped.

import { RequestParser, type ParserLimits, type RequestHead } from '../../src/http/parser.ts'
import type { HttpError } from '../../src/http/errors.ts'

export interface ParsedMessage {
  head: RequestHead
  body: Buffer
  trailers: string[]
  complete: boolean
}

export interface ParseRun {
  messages: ParsedMessage[]
  error: HttpError | null
  /** 'need-data' when the input ran out, 'paused' after an Upgrade/CONNECT, 'error'. */
  stop: 'need-data' | 'paused' | 'error'
  /** The bytes after a paused Upgrade/CONNECT request. */
  rest: Buffer
  parser: RequestParser
}

/** Feeds `input` in pieces of `pieceSize` bytes (Infinity: whole), pulling events after each. */
export function drive(input: Buffer, pieceSize = Infinity, limits: Partial<ParserLimits> = {}): ParseRun {
  const parser = new RequestParser(limits)
  const messages: ParsedMessage[] = []
  let bodyParts: Buffer[] = []
  let current: ParsedMessage | null = null
  const step = pieceSize === Infinity ? Math.max(input.length, 1) : pieceSize
  for (let offset = 0; offset < input.length || offset === 0; offset += step) {
    parser.feed(input.subarray(offset, offset + step))
    for (;;) {
      const event = parser.next()
      if (event.type === 'need-data') break
      if (event.type === 'head') {
        current = { head: event, body: Buffer.alloc(0), trailers: [], complete: false }
        bodyParts = []
        messages.push(current)
      } else if (event.type === 'body') {
        bodyParts.push(Buffer.from(event.data))
        current!.body = Buffer.concat(bodyParts)
      } else if (event.type === 'end') {
        current!.trailers = event.trailers
        current!.complete = true
        current = null
      } else if (event.type === 'paused') {
        const rest = Buffer.concat([parser.takeRemaining(), input.subarray(offset + step)])
        return { messages, error: null, stop: 'paused', rest, parser }
      } else {
        return { messages, error: event.error, stop: 'error', rest: Buffer.alloc(0), parser }
      }
    }
    if (input.length === 0) break
  }
  return { messages, error: null, stop: 'need-data', rest: Buffer.alloc(0), parser }
}

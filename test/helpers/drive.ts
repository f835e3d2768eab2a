// Runs bytes through a RequestParser and records what came out, the way a test
// wants to compare it: whole messages, the error, and where the parser stopped.

import { DEFAULT_PARSER_LIMITS, RequestParser, type ParserLimits, type RequestHead } from '../../src/http/parser.ts'
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
  const parser = new RequestParser({ ...DEFAULT_PARSER_LIMITS, ...limits })
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

// ---- a traced run: any piece sizes, and what the parser did with its buffer

export interface TraceOptions {
  /** The size of every piece (Infinity: the input whole), or a function giving the size of piece n. */
  pieces?: number | ((n: number) => number)
  limits?: Partial<ParserLimits>
  /** At 'paused': hand the following bytes off with takeRemaining() (the default), or resume() and go on parsing HTTP. */
  onPaused?: 'take' | 'resume'
  /** Stop, with `runaway` set, after this many next() calls. */
  maxNextCalls?: number
}

export interface TracedRun extends ParseRun {
  /** Calls of next(). */
  nextCalls: number
  /** The largest parser.buffered right after a feed. */
  maxBufferedAfterFeed: number
  /** The largest parser.buffered when next() said need-data: 0 when the parser consumed every byte it was given. */
  maxBufferedAtNeedData: number
  /** Times the parser said 'paused'. */
  pauses: number
  /** Bytes fed when the run stopped. */
  fed: number
  /** next() was called maxNextCalls times without the input running out. */
  runaway: boolean
  /** What feed() or next() threw: a parser must never throw. */
  thrown: unknown
  /** Events out of order: a body or end without a head, a head inside a message. */
  violations: string[]
}

/** Like drive(), with pieces of any sizes, a choice at 'paused', and a record of how the parser behaved. */
export function driveTraced(input: Buffer, options: TraceOptions = {}): TracedRun {
  const { pieces = Infinity, limits = {}, onPaused = 'take', maxNextCalls = Infinity } = options
  const parser = new RequestParser({ ...DEFAULT_PARSER_LIMITS, ...limits })
  const run: TracedRun = {
    messages: [],
    error: null,
    stop: 'need-data',
    rest: Buffer.alloc(0),
    parser,
    nextCalls: 0,
    maxBufferedAfterFeed: 0,
    maxBufferedAtNeedData: 0,
    pauses: 0,
    fed: 0,
    runaway: false,
    thrown: undefined,
    violations: [],
  }
  let current: ParsedMessage | null = null
  let bodyParts: Buffer[] = []
  let piece = 0
  try {
    do {
      const wanted = typeof pieces === 'function' ? pieces(piece++) : pieces
      const size = wanted === Infinity ? input.length : Math.max(1, Math.floor(wanted))
      const end = Math.min(input.length, run.fed + size)
      parser.feed(input.subarray(run.fed, end))
      run.fed = end
      run.maxBufferedAfterFeed = Math.max(run.maxBufferedAfterFeed, parser.buffered)
      for (;;) {
        if (run.nextCalls >= maxNextCalls) {
          run.runaway = true
          return run
        }
        run.nextCalls++
        const event = parser.next()
        if (event.type === 'need-data') {
          run.maxBufferedAtNeedData = Math.max(run.maxBufferedAtNeedData, parser.buffered)
          break
        }
        if (event.type === 'head') {
          if (current !== null) run.violations.push(`a head inside message ${run.messages.length}`)
          current = { head: event, body: Buffer.alloc(0), trailers: [], complete: false }
          bodyParts = []
          run.messages.push(current)
        } else if (event.type === 'body') {
          if (current === null) {
            run.violations.push('a body event outside a message')
            continue
          }
          bodyParts.push(Buffer.from(event.data))
          current.body = Buffer.concat(bodyParts)
        } else if (event.type === 'end') {
          if (current === null) {
            run.violations.push('an end event outside a message')
            continue
          }
          current.trailers = event.trailers
          current.complete = true
          current = null
        } else if (event.type === 'paused') {
          run.pauses++
          if (onPaused === 'resume') {
            parser.resume()
            continue
          }
          run.stop = 'paused'
          run.rest = Buffer.concat([parser.takeRemaining(), input.subarray(run.fed)])
          return run
        } else {
          run.stop = 'error'
          run.error = event.error
          return run
        }
      }
    } while (run.fed < input.length)
  } catch (thrown) {
    run.thrown = thrown
  }
  return run
}

/** What a run amounts to, as plain data, for comparing two runs of the same input. */
export function summarize(run: ParseRun): unknown {
  const end = run.stop === 'error' ? run.error : run.parser.finish()
  return {
    stop: run.stop,
    error: run.error && { status: run.error.status, code: run.error.code, message: run.error.message },
    finish: end && end.code,
    messages: run.messages.map((m) => ({
      head: { ...m.head, headers: [...m.head.headers] },
      body: m.body.toString('latin1'),
      trailers: [...m.trailers],
      complete: m.complete,
    })),
    rest: run.rest.toString('latin1'),
  }
}

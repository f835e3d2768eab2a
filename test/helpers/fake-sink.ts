// A ResponseSink that records what a Response writes, for testing the writer without a
// socket. Strings are taken as latin1, one char one byte, as the connection writes them.

import { Response, type ResponseSink } from '../../src/http/response.ts'
import type { RequestHead } from '../../src/http/parser.ts'
import { drive } from './drive.ts'

export class FakeSink implements ResponseSink {
  /** Every write, in order, as bytes. */
  readonly writes: Buffer[] = []
  /** The responses that said they were finished, in order. */
  readonly finishedResponses: Response[] = []
  closing = false
  /** What write() returns (false: the socket's buffer is full). */
  accepting = true
  drainedCalls = 0
  /** What the socket would hold unsent. */
  queuedBytes = 0
  batchCalls = 0

  batchThisTurn(): void {
    this.batchCalls++
  }

  write(data: Buffer | string): boolean {
    this.writes.push(typeof data === 'string' ? Buffer.from(data, 'latin1') : Buffer.from(data))
    return this.accepting
  }

  finished(response: Response): void {
    this.finishedResponses.push(response)
  }

  drained(): Promise<void> {
    this.drainedCalls++
    return Promise.resolve()
  }

  /** Everything written, as one Buffer. */
  get bytes(): Buffer {
    return Buffer.concat(this.writes)
  }

  /** Everything written, as latin1 text. */
  get text(): string {
    return this.bytes.toString('latin1')
  }
}

/** The head of a request, parsed by the project's own parser from latin1 bytes. */
export function parseHead(request: string): RequestHead {
  const run = drive(Buffer.from(request, 'latin1'))
  if (run.error) throw run.error
  if (run.messages.length !== 1) throw new Error(`expected one request head in ${JSON.stringify(request)}`)
  return run.messages[0].head
}

/** A Response to `request` (latin1 bytes of a request head) writing to a FakeSink. */
export function fakeResponse(request = 'GET / HTTP/1.1\r\nHost: h\r\n\r\n'): { res: Response; sink: FakeSink; head: RequestHead } {
  const sink = new FakeSink()
  const head = parseHead(request)
  return { res: new Response(sink, head), sink, head }
}

// Publishes messages with POST /publish/{channel} on one keep-alive raw socket, and
// remembers when each one left, so that a subscriber can tell how long it took to arrive.
// Every message's data starts with "message NNNNNN" (its sequence number) and is padded to
// a fixed size with "x".

import { connect, type Socket } from 'node:net'

const HEAD_END = Buffer.from('\r\n\r\n')

export class Publisher {
  /** When message `seq` was written to the socket (performance.now()). */
  readonly sentAt: number[] = []
  private input: Buffer = Buffer.alloc(0)
  private readonly waiting: ((status: number) => void)[] = []

  private constructor(
    private readonly socket: Socket,
    private readonly port: number,
    private readonly payloadBytes: number,
  ) {
    socket.on('data', (chunk: Buffer) => {
      this.input = Buffer.concat([this.input, chunk])
      for (;;) {
        const end = this.input.indexOf(HEAD_END)
        if (end === -1) return
        const head = this.input.subarray(0, end).toString('latin1')
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0)
        if (this.input.length < end + 4 + length) return
        this.input = this.input.subarray(end + 4 + length)
        this.waiting.shift()?.(Number(head.slice(9, 12)))
      }
    })
  }

  static open(port: number, payloadBytes: number): Promise<Publisher> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host: '127.0.0.1', noDelay: true })
      socket.once('error', reject)
      socket.once('connect', () => resolve(new Publisher(socket, port, payloadBytes)))
    })
  }

  /** The data of message `seq`. */
  data(seq: number): string {
    const text = `message ${String(seq).padStart(6, '0')} `
    return text + 'x'.repeat(Math.max(0, this.payloadBytes - text.length))
  }

  /** Publishes message `seq` to `channel`; resolves with the status once answered. */
  publish(channel: string, seq: number): Promise<number> {
    const body = this.data(seq)
    const answered = new Promise<number>((resolve) => this.waiting.push(resolve))
    this.sentAt[seq] = performance.now()
    this.socket.write(`POST /publish/${channel} HTTP/1.1\r\nHost: 127.0.0.1:${this.port}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
    return answered
  }

  /** The sequence number in a message's data. */
  static seqOf(data: string): number {
    return Number(/^message (\d{6})/.exec(data)?.[1] ?? NaN)
  }

  close(): void {
    this.socket.destroy()
  }
}

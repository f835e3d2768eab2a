// The write batch: a turn's writes to a socket leave together at the end of the turn, and a
// large held batch leaves as soon as someone counts the socket's queue. The sockets here
// count cork() and uncork(): what is checked is when the batch lets each one go, which no
// timing could show reliably.

import type { Socket } from 'node:net'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { batchThisTurn, queuedBytes } from '../../src/http/write-batch.ts'

class CountingSocket {
  corks = 0
  destroyed = false
  writableLength = 0
  cork(): void {
    this.corks++
  }
  uncork(): void {
    if (this.corks > 0) this.corks--
  }
  get held(): boolean {
    return this.corks > 0
  }
}

function sockets(n: number): CountingSocket[] {
  return Array.from({ length: n }, () => new CountingSocket())
}

const asSocket = (socket: CountingSocket) => socket as unknown as Socket
const endOfTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

test('a turn\'s writes to a socket are held together and leave at the end of the turn', async () => {
  await endOfTurn()
  const all = sockets(300)
  for (const socket of all) batchThisTurn(asSocket(socket))
  for (const socket of all) batchThisTurn(asSocket(socket))
  assert.is(all.filter((s) => s.corks === 1).length, 300, 'each socket corked once, however often it is written')
  await endOfTurn()
  assert.is(all.filter((s) => s.held).length, 0)
})

test('queuedBytes lets a large held batch go before counting; a small one stays for the end of the turn', async () => {
  await endOfTurn()
  const [large, small] = sockets(2)
  batchThisTurn(asSocket(large))
  batchThisTurn(asSocket(small))
  large.writableLength = 1024 * 1024
  small.writableLength = 1000
  assert.is(queuedBytes(asSocket(large)), 1024 * 1024)
  assert.not.ok(large.held, 'released')
  assert.is(queuedBytes(asSocket(small)), 1000)
  assert.ok(small.held, 'still held')
  await endOfTurn()
  assert.not.ok(small.held)
  assert.is(large.corks, 0, 'the end of the turn does not uncork a released socket twice')
})

test.run()

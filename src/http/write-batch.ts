// Writes to a socket during one turn of the event loop leave together. The socket is
// corked at its first write of the turn and uncorked after the turn's I/O callbacks
// (setImmediate), so that a burst of messages, published by several requests read in the
// same turn, reaches each subscriber in one writev rather than in a write per message.
// A write returns as before; only the syscall moves to the end of the turn.

import type { Socket } from 'node:net'

const CORKED = Symbol('push-wire.corked-for-turn')
type BatchedSocket = Socket & { [CORKED]?: boolean }

const corked: BatchedSocket[] = []
let flushScheduled = false

/** Holds the socket's writes until the end of this turn of the event loop. */
export function batchThisTurn(socket: Socket): void {
  const batched = socket as BatchedSocket
  if (batched[CORKED] === true) return
  batched[CORKED] = true
  socket.cork()
  corked.push(batched)
  if (!flushScheduled) {
    flushScheduled = true
    setImmediate(flushAll)
  }
}

function flushAll(): void {
  flushScheduled = false
  // A socket corked while flushing (a drain callback writing again) waits for the next turn.
  const sockets = corked.splice(0, corked.length)
  for (const socket of sockets) {
    socket[CORKED] = false
    if (!socket.destroyed) socket.uncork()
  }
}

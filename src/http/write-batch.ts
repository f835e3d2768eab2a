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

/** Held writes past this size leave at once when someone counts the socket's queue. */
const RELEASE_BYTES = 64 * 1024

/**
 * The socket's queued bytes, after letting a large batch held for this turn go to the
 * kernel: bytes held only to share a writev are not a slow client's backlog, and a client
 * that reads should not be cut off because several large messages were published in one turn.
 */
export function queuedBytes(socket: Socket): number {
  const batched = socket as BatchedSocket
  if (batched[CORKED] === true && socket.writableLength > RELEASE_BYTES) {
    batched[CORKED] = false
    socket.uncork()
  }
  return socket.writableLength
}

function flushAll(): void {
  flushScheduled = false
  // A socket corked while flushing (a drain callback writing again) waits for the next turn.
  const sockets = corked.splice(0, corked.length)
  for (const socket of sockets) {
    // Released early by queuedBytes(): already uncorked.
    if (socket[CORKED] !== true) continue
    socket[CORKED] = false
    if (!socket.destroyed) socket.uncork()
  }
}

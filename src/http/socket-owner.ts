// The socket's event listeners, shared by every connection.
//
// A socket has one owner at a time: the HTTP connection, then (after an upgrade) the
// WebSocket session. Instead of five closures per connection, the listeners below are the
// same functions for every socket, and find the owner on the socket itself. An idle
// connection then costs no function objects, and handing a socket over is detaching one
// owner and attaching the next.
//
// The 'close' listener stays on through hand-offs: it does nothing between two owners.
// The listener that accepted the socket keeps it in its list until it has closed,
// whoever owns it by then; that list is the server's only list of connections: its one
// sweep finds each socket's owner here to tick its timers, and its shutdown tells each
// owner to say goodbye.

import type { Socket } from 'node:net'

/** What owns a socket: the events it handles. */
export interface SocketOwner {
  socketData(chunk: Buffer): void
  /**
   * The peer sent FIN. An owner without it gets no 'end' listener (one array fewer per
   * socket); it must set the socket's allowHalfOpen to false, so that Node ends our side.
   */
  socketEnd?(): void
  socketError(error: Error): void
  socketClose(): void
  /** The socket's write buffer emptied. */
  socketDrain(): void
  /** The listener's sweep, every few milliseconds: acts on a deadline passed by `time` (../clock.ts). */
  tick(time: number): void
  /** The server is stopping: finish what is under way, say the protocol's goodbye, close. */
  shutdown(): void
}

// One property on the socket, no more: each one a socket carries costs every connection a
// word, and thousands of them are idle at a time.
const OWNER = Symbol('push-wire.owner')

type OwnedSocket = Socket & { [OWNER]?: SocketOwner }

function onData(this: OwnedSocket, chunk: Buffer): void {
  this[OWNER]?.socketData(chunk)
}
function onEnd(this: OwnedSocket): void {
  this[OWNER]?.socketEnd?.()
}
function onError(this: OwnedSocket, error: Error): void {
  this[OWNER]?.socketError(error)
}
function onClose(this: OwnedSocket): void {
  this[OWNER]?.socketClose()
}
function onDrain(this: OwnedSocket): void {
  this[OWNER]?.socketDrain()
}

/** Adds the shared 'close' listener once: it stays through hand-offs. */
function hearClose(socket: Socket): void {
  if (socket.listenerCount('close', onClose) === 0) socket.on('close', onClose)
}

/** What handles the socket's events now; undefined between two owners. */
export function ownerOf(socket: Socket): SocketOwner | undefined {
  return (socket as OwnedSocket)[OWNER]
}

/** Makes `owner` the one that handles the socket's events. */
export function attachOwner(socket: Socket, owner: SocketOwner): void {
  const owned = socket as OwnedSocket
  if (owned[OWNER] === undefined) {
    socket.on('data', onData)
    if (owner.socketEnd !== undefined) socket.on('end', onEnd)
    socket.on('error', onError)
    socket.on('drain', onDrain)
    hearClose(owned)
  }
  owned[OWNER] = owner
}

/**
 * Leaves the socket paused and without our data, end, error and drain listeners, for a
 * new owner to take. (The shared 'close' listener stays: it does nothing without an owner.)
 */
export function detachOwner(socket: Socket): void {
  socket.pause()
  socket.off('data', onData)
  socket.off('end', onEnd)
  socket.off('error', onError)
  socket.off('drain', onDrain)
  ;(socket as OwnedSocket)[OWNER] = undefined
}

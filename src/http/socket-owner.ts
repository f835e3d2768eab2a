// The socket's event listeners, shared by every connection.
//
// A socket has one owner at a time: the HTTP connection, then (after an upgrade) the
// WebSocket session. Instead of five closures per connection, the five listeners below
// are the same functions for every socket, and find the owner on the socket itself.
// An idle connection then costs no function objects, and handing a socket over is
// detaching one owner and attaching the next.

import type { Socket } from 'node:net'

/** What owns a socket: the five events it handles. */
export interface SocketOwner {
  socketData(chunk: Buffer): void
  /** The peer sent FIN. */
  socketEnd(): void
  socketError(error: Error): void
  socketClose(): void
  /** The socket's write buffer emptied. */
  socketDrain(): void
}

const OWNER = Symbol('push-wire.owner')

type OwnedSocket = Socket & { [OWNER]?: SocketOwner }

function onData(this: OwnedSocket, chunk: Buffer): void {
  this[OWNER]?.socketData(chunk)
}
function onEnd(this: OwnedSocket): void {
  this[OWNER]?.socketEnd()
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

/** Makes `owner` the one that handles the socket's events. */
export function attachOwner(socket: Socket, owner: SocketOwner): void {
  const owned = socket as OwnedSocket
  if (owned[OWNER] === undefined) {
    socket.on('data', onData)
    socket.on('end', onEnd)
    socket.on('error', onError)
    socket.on('close', onClose)
    socket.on('drain', onDrain)
  }
  owned[OWNER] = owner
}

/** Leaves the socket with none of our listeners, for a new owner to take (it is paused first). */
export function detachOwner(socket: Socket): void {
  socket.pause()
  socket.off('data', onData)
  socket.off('end', onEnd)
  socket.off('error', onError)
  socket.off('close', onClose)
  socket.off('drain', onDrain)
  ;(socket as OwnedSocket)[OWNER] = undefined
}

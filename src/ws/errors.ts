// A WebSocket protocol error carries the close code it becomes on the wire
// (RFC 6455 §7.4.1) and a stable code that tests and the course can name. The codecs
// return it; the session sends the close frame and closes the connection.

export class WsError extends Error {
  constructor(
    readonly closeCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
    this.name = 'WsError'
  }
}

/** Close codes of RFC 6455 §7.4.1 that this server sends. */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  /** Reserved: means "no code was in the close frame"; never sent on the wire. */
  NO_STATUS: 1005,
  /** Reserved: means "closed without a close frame"; never sent on the wire. */
  ABNORMAL: 1006,
  INVALID_PAYLOAD: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
} as const

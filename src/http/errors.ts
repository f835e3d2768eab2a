// An HTTP protocol error carries the status it becomes on the wire (RFC 9110 §15)
// and a stable code that tests, logs and the course can name.
// Codecs throw or return it; the connection turns it into a response and closes.

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Header fields the error response must carry, flat: [Name, value, ...] (e.g. 426's Upgrade). */
    readonly fields: readonly string[] = [],
  ) {
    super(message)
    this.name = 'HttpError'
  }
}

// The text/event-stream format (WHATWG HTML, "Server-sent events"), server side, pure.
//
//   retry: 3000            the client's reconnection delay, in ms
//
//   id: 7                  the browser sends it back as Last-Event-ID when it reconnects
//   event: price           the event type; without it the event is a "message"
//   data: first line       one data: line per line of the message: the parser joins
//   data: second line      them with "\n" (one data: field holding a line break would
//                          end the field there, and the rest would be lost)
//                          an empty line dispatches the event
//   :                      a comment: ignored by the parser, keeps proxies from timing out

export interface EventFields {
  id?: number
  /** The event type: a name without CR or LF. */
  event?: string
  data: string
}

/** One event. A message's lines may end with \n, \r\n or \r: each becomes a data: line. */
export function encodeEvent(fields: EventFields): string {
  let text = ''
  if (fields.id !== undefined) text += `id: ${fields.id}\n`
  if (fields.event !== undefined && fields.event !== '') text += `event: ${fields.event}\n`
  for (const line of fields.data.split(LINE_BREAK)) text += `data: ${line}\n`
  return text + '\n'
}

const LINE_BREAK = /\r\n|\r|\n/

/** The reconnection delay field, on its own. */
export function encodeRetry(ms: number): string {
  return `retry: ${Math.floor(ms)}\n\n`
}

/** A comment, for heartbeats. */
export function encodeComment(text = ''): string {
  return `:${text === '' ? '' : ` ${text.replace(LINE_BREAK_ALL, ' ')}`}\n\n`
}

const LINE_BREAK_ALL = /\r\n|\r|\n/g

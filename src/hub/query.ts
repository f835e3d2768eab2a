// The query parameters the push routes share, checked the same way everywhere.

import { HttpError } from '../http/errors.ts'
import type { IncomingRequest } from '../http/request.ts'
import { HubError, type Channel, type Hub } from './hub.ts'

/** `after=N`: a non-negative integer, or undefined when absent. Anything else is a 400. */
export function afterParameter(req: IncomingRequest): number | undefined {
  const raw = req.query.get('after')
  if (raw === null) return undefined
  return cursor(raw, 'after')
}

/** A message id as a cursor: decimal digits, at most 2^53 - 1. */
export function cursor(raw: string, what: string): number {
  if (!/^[0-9]{1,16}$/.test(raw) || Number(raw) > Number.MAX_SAFE_INTEGER) {
    throw new HttpError(400, 'BAD_CURSOR', `${what} must be a message id (a non-negative integer), got ${JSON.stringify(raw)}`)
  }
  return Number(raw)
}

/** The route's channel, made if need be; its problems become the HTTP errors of CONTRACT.md (404, 503). */
export function channelOf(hub: Hub, req: IncomingRequest): Channel {
  try {
    return hub.channel(req.params.channel)
  } catch (error) {
    if (error instanceof HubError) throw new HttpError(error.status, error.code, error.message)
    throw error
  }
}

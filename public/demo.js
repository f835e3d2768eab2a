// What every demo page shares: the bookkeeping that proves nothing was lost or repeated
// (Tally), the cursor to start from, the reconnection delay, and the page furniture
// (channel field, state, counters, publish box, messages, event log).
//
// The transports themselves live in clients/*.js, one file each, so that each page and
// compare.html run the very same code.

/** The page's query: ?channel=NAME&after=N and the options of each page. */
export const params = new URLSearchParams(location.search)

/** A channel name is 1-64 characters of A-Z a-z 0-9 _ . - (CONTRACT.md). */
const CHANNEL_NAME = /^[A-Za-z0-9_.-]{1,64}$/

export function channelName() {
  const name = params.get('channel') ?? 'demo'
  return CHANNEL_NAME.test(name) ? name : 'demo'
}

/** A number from the query, or `fallback`. */
export function numberParam(name, fallback) {
  const value = Number(params.get(name))
  return params.has(name) && Number.isFinite(value) && value >= 0 ? value : fallback
}

/**
 * The id to start after. ?after=N in the page's address wins (after=0 replays the history the
 * channel keeps). Otherwise we ask /poll for the channel's newest id: "from now on", but as a
 * number, so that even the first connection has a cursor and a drop before the first message
 * loses nothing.
 */
export async function startCursor(base, channel) {
  if (params.has('after')) return numberParam('after', 0)
  for (let attempt = 0; ; attempt++) {
    try {
      const response = await fetch(`${base}/poll/${channel}`, { cache: 'no-store' })
      if (response.ok) return (await response.json()).last
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, backoffDelay(attempt)))
  }
}

/**
 * How long to wait before reconnection attempt number `attempt` (0, 1, 2...): exponential
 * backoff with full jitter, a random time between 0 and min(cap, base * 2^attempt), so that
 * a thousand clients dropped at once do not all come back in the same millisecond.
 */
export function backoffDelay(attempt, baseMs = 500, capMs = 15_000) {
  return Math.round(Math.random() * Math.min(capMs, baseMs * 2 ** attempt))
}

/** Bytes of a string in UTF-8. */
const encoder = new TextEncoder()
export function utf8Bytes(text) {
  return encoder.encode(text).length
}

/**
 * Bytes of an HTTP/1.1 response head, from the fields the page can see: the status line,
 * "Name: value" CRLF per field, and the empty line. A cross-origin page sees only the
 * CORS-safelisted fields, so there this undercounts.
 */
export function headBytes(response) {
  let size = `HTTP/1.1 ${response.status} ${response.statusText}\r\n\r\n`.length
  for (const [name, value] of response.headers) size += name.length + 2 + utf8Bytes(value) + 2
  return size
}

/** Bytes of one chunk of a chunked body holding `size` bytes: size in hex, CRLF, data, CRLF. */
export function chunkBytes(size) {
  return size.toString(16).length + 2 + size + 2
}

/**
 * One subscriber's account of a channel: the cursor (the newest id received), every id in
 * order of arrival, and what went wrong. The clients call deliver() for every envelope they
 * get, gap records included; deliver() drops an id not greater than the cursor (a repeat
 * after a reconnect) and counts it, so a page can prove it never showed one twice.
 */
export class Tally {
  constructor(name) {
    this.name = name
    /** idle, connecting, open, retrying, closed */
    this.state = 'idle'
    this.lastId = 0
    /** The id the next message should carry: lastId + 1, or a gap's first. */
    this.expected = 1
    this.received = []
    /** The most recent envelopes, newest last (for display). */
    this.messages = []
    this.duplicates = 0
    /** Ids that never came and no gap record explained. */
    this.missing = 0
    this.gaps = []
    this.reconnects = 0
    this.requests = 0
    this.bytes = 0
    /** Milliseconds from publish to receipt, for messages whose data is {"t":Date.now(),...}. */
    this.latencies = []
    /** Short polling only: answers that were 304 Not Modified. */
    this.notModified = null
    this.events = []
    this.listeners = new Set()
  }

  /** Starts the account after id `after`. */
  startAfter(after) {
    this.lastId = after
    this.expected = after + 1
    this.log(`start after id ${after}`)
  }

  setState(state, why) {
    if (state === this.state && why === undefined) return
    this.state = state
    this.log(why === undefined ? state : `${state}: ${why}`)
  }

  /** Counts one HTTP request (or WebSocket handshake) the transport made. */
  countRequest() {
    this.requests++
    this.changed()
  }

  /** Counts bytes that came over the wire. */
  countBytes(bytes) {
    this.bytes += bytes
    this.changed()
  }

  /** Counts a reconnection, and says why. */
  reconnecting(why, delayMs) {
    this.reconnects++
    this.setState('retrying', `${why}; reconnecting in ${delayMs} ms with after=${this.lastId}`)
  }

  /**
   * One envelope {"id":N,"data":"..."[,"event":"E"]} or gap record {"gap":true,"first":M}.
   * Returns true when it is a new message.
   */
  deliver(envelope) {
    if (envelope.gap === true) return this.gap(envelope.first), false
    const id = envelope.id
    if (id <= this.lastId) {
      this.duplicates++
      this.log(`dropped id ${id}: a repeat (the cursor is ${this.lastId})`)
      return false
    }
    if (id > this.expected) {
      this.missing += id - this.expected
      this.log(`ids ${this.expected}-${id - 1} never arrived`)
    }
    this.lastId = id
    this.expected = id + 1
    this.received.push(id)
    const latency = latencyOf(envelope.data)
    if (latency !== null) this.latencies.push(latency)
    this.messages.push({ ...envelope, latency, at: new Date() })
    if (this.messages.length > 200) this.messages.shift()
    this.changed()
    return true
  }

  /**
   * The server goes on from `first`: the messages before it are no longer kept, or our cursor
   * comes from another life of the server (it restarted, and its ids began again at 1). Either
   * way the cursor is now first - 1, or the new life's messages would be taken for repeats.
   */
  gap(first) {
    this.gaps.push(first)
    const anotherLife = first <= this.lastId
    this.lastId = first - 1
    this.expected = first
    this.messages.push({ gap: true, first, at: new Date() })
    this.log(
      anotherLife
        ? `gap: the server's ids began again (it restarted); going on from id ${first}`
        : `gap: the channel no longer keeps the messages before id ${first}`,
    )
    this.changed()
  }

  log(text) {
    this.events.push({ at: new Date(), text })
    if (this.events.length > 100) this.events.shift()
    this.changed()
  }

  onChange(listener) {
    this.listeners.add(listener)
  }

  changed() {
    for (const listener of this.listeners) listener(this)
  }
}

/** The latency of a message whose data is JSON with "t": the publisher's Date.now(). */
function latencyOf(data) {
  if (typeof data !== 'string' || !data.startsWith('{"t":')) return null
  try {
    const t = JSON.parse(data).t
    return typeof t === 'number' ? Date.now() - t : null
  } catch {
    return null
  }
}

/** POST /publish/{channel}[?event=E]: resolves to the new message's id. */
export async function publish(channel, data, event = '') {
  const query = event ? `?event=${encodeURIComponent(event)}` : ''
  const response = await fetch(`/publish/${channel}${query}`, { method: 'POST', body: data })
  const text = await response.text()
  if (!response.ok) throw new Error(`${response.status}: ${text}`)
  return JSON.parse(text).id
}

// ---------------------------------------------------------------------------------------
// The page furniture. mountDemo(tally) fills <div id="demo"></div> with:
//   the channel form, the state and counters, the publish box, the messages, the event log.

/** A new element: el('td', { class: 'id' }, 'text', child...). */
export function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag)
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value)
  element.append(...children)
  return element
}

const time = (date) => date.toTimeString().slice(0, 8) + '.' + String(date.getMilliseconds()).padStart(3, '0')

/**
 * Builds the demo's controls in #demo for one tally, keeps them up to date, and exposes the
 * tally as window.demo (the browser tests read it). Returns the publish form, to which a page
 * may add buttons of its own.
 */
export function mountDemo(tally, channel) {
  window.demo = tally
  const root = document.getElementById('demo')

  const channelInput = el('input', { name: 'channel', value: channel, pattern: CHANNEL_NAME.source, size: '16', 'aria-label': 'channel' })
  const channelForm = el('form', { class: 'row' }, el('label', {}, 'channel ', channelInput), el('button', {}, 'switch'))
  // A new channel is a fresh start: the page reloads with ?channel= (keeping its other options).
  channelForm.onsubmit = (event) => {
    event.preventDefault()
    params.set('channel', channelInput.value)
    params.delete('after')
    location.search = params.toString()
  }

  const state = el('span', { class: 'state', id: 'state' })
  const counters = el('span', { class: 'counters' })
  const status = el('p', { class: 'row status' }, 'state ', state, counters)

  const dataInput = el('input', { name: 'data', value: 'hello', size: '28', 'aria-label': 'message' })
  const eventInput = el('input', { name: 'event', placeholder: 'event (optional)', size: '12', 'aria-label': 'event name' })
  const answer = el('span', { class: 'answer' })
  const publishForm = el('form', { class: 'row', id: 'publish' }, el('label', {}, 'message ', dataInput), eventInput, el('button', {}, 'POST /publish'), answer)
  publishForm.onsubmit = async (event) => {
    event.preventDefault()
    try {
      const id = await publish(channel, dataInput.value, eventInput.value.trim())
      answer.textContent = `published as id ${id}`
    } catch (error) {
      answer.textContent = `refused: ${error.message}`
    }
  }

  const rows = el('tbody')
  const table = el('table', { class: 'messages' }, el('thead', {}, el('tr', {}, el('th', {}, 'id'), el('th', {}, 'event'), el('th', {}, 'data'), el('th', {}, 'received'))), rows)
  const log = el('ol', { class: 'log' })

  root.append(channelForm, status, publishForm, el('h2', {}, 'Messages'), table, el('h2', {}, 'Connection log'), log)

  let scheduled = false
  const render = () => {
    scheduled = false
    state.textContent = tally.state
    state.dataset.state = tally.state
    counters.textContent =
      ` · received ${tally.received.length} · last id ${tally.lastId} · reconnects ${tally.reconnects}` +
      ` · requests ${tally.requests}${tally.notModified === null ? '' : ` (${tally.notModified} were 304)`}` +
      ` · duplicates dropped ${tally.duplicates} · missing ${tally.missing}`
    rows.replaceChildren(
      ...tally.messages
        .slice(-50)
        .reverse()
        .map((m) =>
          m.gap
            ? el('tr', { class: 'gap' }, el('td', { colspan: '4' }, `gap: messages before id ${m.first} are no longer kept`))
            : el('tr', {}, el('td', { class: 'id' }, String(m.id)), el('td', {}, m.event ?? ''), el('td', { class: 'data' }, m.data), el('td', { class: 'time' }, time(m.at))),
        ),
    )
    log.replaceChildren(...tally.events.slice(-12).reverse().map((e) => el('li', {}, el('span', { class: 'time' }, time(e.at)), ' ', e.text)))
  }
  tally.onChange(() => {
    if (!scheduled) (scheduled = true), requestAnimationFrame(render)
  })
  render()
  return publishForm
}

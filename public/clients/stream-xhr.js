// HTTP streaming with XMLHttpRequest, as it was done before fetch() could stream: while the
// response is still coming (readyState 3, LOADING), responseText already holds what arrived
// so far; read the part after what we read last time.
//
//   GET /stream/demo?after=8   ->  {"id":9,"data":"hello"}\n {"id":10,...}\n ...
//
// Done right:
// - responseText keeps everything the response ever delivered: a connection that lives for
//   hours holds every message of those hours in memory, and each read copies it. So after a
//   budget of characters we end the request ourselves and open a new one with after= the
//   newest id: nothing is lost, nothing repeated, and the memory is given back.
// - Lines are cut at "\n"; the unfinished tail waits for the next progress event.
// - An error or an end (loadend) reconnects with backoff, and with the cursor; so does
//   silence longer than a few heartbeats (a dead connection that reported nothing).
// - Chromium moves to readyState 2 (HEADERS_RECEIVED) only when the first bytes of the body
//   arrive, so a quiet stream shows "connecting" until its first message or heartbeat.

import { backoffDelay, chunkBytes, utf8Bytes } from '../demo.js'

export function subscribeStreamXhr({ base = '', channel, tally, budgetChars = 256 * 1024, silenceMs = 45_000 }) {
  let closed = false
  let xhr = null
  let failures = 0
  let retryTimer = 0
  let seen = 0
  let buffer = ''
  let lastHeard = Date.now()
  let silent = false

  // Heartbeats (an empty line after 15 s of silence) keep a live stream talking; a silent one is dead.
  const watchdog = setInterval(() => {
    if (xhr !== null && xhr.readyState !== XMLHttpRequest.DONE && Date.now() - lastHeard > silenceMs) {
      silent = true
      xhr.abort() // loadend follows, which reconnects
    }
  }, 1000)

  function connect() {
    tally.setState('connecting')
    tally.countRequest()
    seen = 0
    buffer = ''
    lastHeard = Date.now()
    silent = false
    xhr = new XMLHttpRequest()
    xhr.open('GET', `${base}/stream/${channel}?after=${tally.lastId}`)
    xhr.onreadystatechange = onReadyStateChange
    xhr.onprogress = read // Chrome fires readystatechange for each piece as well; read() takes only what is new
    xhr.onloadend = onLoadEnd
    xhr.send()
  }

  function onReadyStateChange() {
    if (xhr.readyState === XMLHttpRequest.HEADERS_RECEIVED && xhr.status === 200) {
      const head = `HTTP/1.1 ${xhr.status} ${xhr.statusText}\r\n${xhr.getAllResponseHeaders()}\r\n`
      tally.countBytes(utf8Bytes(head))
      tally.setState('open')
      failures = 0
    }
    if (xhr.readyState === XMLHttpRequest.LOADING) read()
  }

  function read() {
    const text = xhr.responseText
    if (text.length > seen) lastHeard = Date.now()
    buffer += text.slice(seen)
    seen = text.length
    let newline
    while ((newline = buffer.indexOf('\n')) !== -1) {
      const line = buffer.slice(0, newline)
      buffer = buffer.slice(newline + 1)
      tally.countBytes(chunkBytes(utf8Bytes(line) + 1))
      if (line !== '') tally.deliver(JSON.parse(line))
    }
    if (seen > budgetChars && xhr.readyState === XMLHttpRequest.LOADING) {
      // Our own decision, not a failure: a new request at once, from the newest id.
      const old = xhr
      old.onloadend = old.onreadystatechange = old.onprogress = null
      old.abort()
      tally.reconnecting(`responseText reached ${seen} characters (the budget is ${budgetChars})`, 0)
      connect()
    }
  }

  function onLoadEnd() {
    if (closed) return
    read()
    const why = silent ? `silent for ${silenceMs} ms` : xhr.status === 0 ? 'the connection failed' : xhr.status === 200 ? 'the server ended the stream' : `GET /stream answered ${xhr.status}`
    const delay = backoffDelay(failures++)
    tally.reconnecting(why, delay)
    retryTimer = setTimeout(connect, delay)
  }

  connect()
  return {
    close() {
      closed = true
      clearTimeout(retryTimer)
      clearInterval(watchdog)
      xhr?.abort()
      tally.setState('closed')
    },
  }
}

// The request parser against every strict request case of llhttp's own test corpus
// (test/fixtures/llhttp, see its README for the format). Each case runs three ways:
// whole, one byte at a time, and with the bytes of a next request trailing.
//
// What is compared: the verdict (complete / error / waits for more / upgrade), and for
// every message the method, target, version, header and trailer fields, and body.
// llhttp's error codes, offsets and callback order are its own and are not compared.
//
// llhttp leaves Host to the application, so the comparison runs with requireHost off;
// a separate test checks that with it on, exactly the HTTP/1.1 cases without Host fail.

import { readFileSync } from 'node:fs'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { drive, type ParseRun } from '../helpers/drive.ts'

interface ExpectedMessage {
  method: string
  url: string
  version: string
  headers: [string, string][]
  body: string
  complete: boolean
  headersComplete?: unknown
}

interface Case {
  id: string
  name: string
  kind: string
  lenient: boolean
  type: string
  meta: { type: string; pause?: string; skipBody?: boolean; noScan?: boolean }
  inputBase64: string
  expectedLog: string[]
  summary: {
    outcome: 'complete' | 'error' | 'incomplete' | 'upgrade' | 'h2-upgrade'
    messagesCompleted: number
    finish: 0 | 2 | null
    messages: ExpectedMessage[]
  }
}

const corpus = JSON.parse(readFileSync(new URL('../fixtures/llhttp/cases.json', import.meta.url), 'utf8')) as { cases: Case[] }

// Cases not run: llhttp API behaviour with no counterpart in a pull parser.
const SKIPPED: Record<string, string> = {
  'request/content-length.md:447':
    'skipBody: the callback tells llhttp to ignore a declared body (its hint for responses to HEAD); a request parser always reads the body it is told about',
}

// Cases where this parser is stricter or differs on purpose. Each one still runs, and
// asserts our own verdict: a status and a code.
const OUR_VERDICT: Record<string, { status: number; code: string } | 'accepted'> = {
  // RFC 9110 §9.1: a method is any token; unknown ones are the router's 501, not a parse error.
  'request/invalid.md:69': 'accepted', // ANNOUNCE with HTTP/1.0 (llhttp knows ANNOUNCE as an RTSP method)
  'request/invalid.md:359': 'accepted', // MKCOLA
  // Not HTTP: ICE and RTSP protocol names are refused as an invalid HTTP version.
  'request/method.md:375': { status: 400, code: 'INVALID_VERSION' }, // SOURCE ... ICE/1.0
  'request/method.md:405': { status: 400, code: 'INVALID_VERSION' }, // OPTIONS ... RTSP/1.0
  'request/method.md:433': { status: 400, code: 'INVALID_VERSION' }, // ANNOUNCE ... RTSP/1.0
  // RFC 9112 §3.2.4: the asterisk-form is for OPTIONS only. This also refuses the HTTP/2
  // connection preface (PRI * HTTP/2.0 arrives as "PRI * HTTP/1.1"-shaped bytes here).
  'request/method.md:138': { status: 400, code: 'INVALID_TARGET' }, // M-SEARCH * (SSDP, a UDP protocol)
  'request/method.md:461': { status: 400, code: 'INVALID_TARGET' }, // PRI * HTTP/1.1
  // HTTP/0.9 ("GET /" with no version) is not served.
  'request/sample.md:317': { status: 400, code: 'MISSING_VERSION' },
  // RFC 9112 §6.1: a transfer coding we do not implement is 501; only chunked is implemented,
  // and passing deflate-coded bytes on as the body would be wrong.
  'request/transfer-encoding.md:754': { status: 501, code: 'UNSUPPORTED_TRANSFER_CODING' }, // deflate, chunked
  'request/transfer-encoding.md:796': { status: 501, code: 'UNSUPPORTED_TRANSFER_CODING' }, // deflate / chunked on two lines
}

const TRAILING = Buffer.from('GET /trailing HTTP/1.1\r\nHost: next.example\r\n\r\n', 'latin1')

const strictCases = corpus.cases.filter((c) => c.kind === 'request' && !c.lenient)

type Verdict = 'complete' | 'error' | 'incomplete' | 'upgrade'

function verdictOf(run: ParseRun): Verdict {
  if (run.stop === 'error') return 'error'
  if (run.stop === 'paused') return 'upgrade'
  return run.parser.finish() === null ? 'complete' : 'incomplete'
}

/** Where the upgraded protocol's bytes start, from llhttp's log (the offset of its pause "error" 22). */
function upgradeOffset(c: Case): number {
  const line = c.expectedLog.find((l) => / error code=22 /.test(l))
  assert.ok(line, `${c.id}: an upgrade case names its offset`)
  return Number(/^off=(\d+)/.exec(line!)![1])
}

function assertMessagesMatch(c: Case, run: ParseRun, how: string): void {
  // Expected messages whose head was complete; a partial head has no counterpart.
  // After an error, only the messages completed before it.
  const expected = c.summary.messages
    .filter((m) => m.complete || m.headersComplete)
    .slice(0, c.summary.outcome === 'error' ? c.summary.messagesCompleted : undefined)
  for (let i = 0; i < expected.length; i++) {
    const want = expected[i]
    const got = run.messages[i]
    const where = `${c.id} (${c.name}) ${how}, message ${i + 1}`
    assert.ok(got, `${where}: missing`)
    assert.is(got.head.method, want.method, `${where}: method`)
    assert.is(got.head.target, want.url, `${where}: target`)
    assert.is(`1.${got.head.versionMinor}`, want.version === '1.0' ? '1.0' : '1.1', `${where}: version`)
    const fields: [string, string][] = []
    const flat = [...got.head.headers, ...got.trailers]
    for (let f = 0; f < flat.length; f += 2) fields.push([flat[f], flat[f + 1]])
    // The corpus holds decoded UTF-8 strings; field values are bytes, read as latin1 here.
    const wantFields = want.headers.map(([n, v]) => [n.toLowerCase(), latin1(v).replace(/[ \t]+$/, '')] as [string, string])
    assert.equal(fields, wantFields, `${where}: fields`)
    assert.is(got.body.toString('latin1'), latin1(want.body), `${where}: body`)
    assert.is(got.complete, want.complete, `${where}: complete`)
  }
}

function latin1(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1')
}

function checkAgreed(c: Case, input: Buffer, pieceSize: number, how: string): void {
  const run = drive(input, pieceSize, { requireHost: false })
  const expected: Verdict = c.summary.outcome === 'h2-upgrade' ? 'upgrade' : c.summary.outcome
  const completed = run.messages.filter((m) => m.complete).length
  assert.is(verdictOf(run), expected, `${c.id} (${c.name}) ${how}: verdict${run.error ? ` (${run.error.code}: ${run.error.message})` : ''}`)
  assert.is(completed, c.summary.messagesCompleted, `${c.id} ${how}: messages completed`)
  assertMessagesMatch(c, run, how)
  if (expected === 'upgrade') {
    assert.is(run.rest.toString('latin1'), input.subarray(upgradeOffset(c)).toString('latin1'), `${c.id} ${how}: bytes after the upgrade`)
  }
  if (c.summary.finish !== null) {
    assert.is(run.parser.finish() === null ? 0 : 2, c.summary.finish, `${c.id} ${how}: clean end of input`)
  }
}

function checkTrailing(c: Case, input: Buffer, pieceSize: number): void {
  const how = pieceSize === 1 ? 'byte by byte, with a next request trailing' : 'whole, with a next request trailing'
  const run = drive(Buffer.concat([input, TRAILING]), pieceSize, { requireHost: false })
  const completed = c.summary.messagesCompleted
  switch (c.summary.outcome) {
    case 'complete': {
      assertMessagesMatch(c, run, how)
      const last = run.messages[completed - 1]
      if (last.head.keepAlive) {
        // The next request is parsed as its own message and nothing of it leaks into the previous one.
        assert.is(run.messages.length, completed + 1, `${c.id} ${how}: the trailing request is parsed`)
        assert.is(run.messages[completed].head.target, '/trailing')
        assert.ok(run.messages[completed].complete)
      } else {
        assert.is(run.error?.code, 'DATA_AFTER_CLOSE', `${c.id} ${how}: bytes after a closing request are refused`)
      }
      break
    }
    case 'error':
      assert.is(run.stop, 'error', `${c.id} ${how}: still an error`)
      assert.is(run.messages.filter((m) => m.complete).length, completed)
      break
    case 'upgrade':
    case 'h2-upgrade':
      assert.is(run.stop, 'paused', `${c.id} ${how}: still an upgrade`)
      assert.is(run.rest.toString('latin1'), Buffer.concat([input.subarray(upgradeOffset(c)), TRAILING]).toString('latin1'))
      break
    case 'incomplete':
      // The trailing bytes would rightly continue the unfinished message: nothing to compare.
      break
  }
}

function checkOurs(c: Case, input: Buffer, pieceSize: number, how: string): void {
  const verdict = OUR_VERDICT[c.id]
  const run = drive(input, pieceSize, { requireHost: false })
  if (verdict === 'accepted') {
    assert.ok(run.messages.length >= 1 && run.messages[0].complete, `${c.id} ${how}: accepted`)
    assert.is(run.messages[0].head.method, input.toString('latin1', 0, input.indexOf(' ')))
  } else {
    assert.is(run.stop, 'error', `${c.id} ${how}: refused`)
    assert.is(run.error!.status, verdict.status, `${c.id} ${how}: status`)
    assert.is(run.error!.code, verdict.code, `${c.id} ${how}: code`)
  }
}

const test = suite('llhttp request corpus')

test('the corpus holds the strict request cases its README counts', () => {
  // 120 strict `request` cases, 13 pause cases, 1 skipBody case, 3 `request-finish` cases.
  assert.is(strictCases.length, 137)
})

for (const c of strictCases) {
  if (c.id in SKIPPED) continue
  const input = Buffer.from(c.inputBase64, 'base64')
  const label = `${c.id} ${c.name}`
  if (c.id in OUR_VERDICT) {
    test(`${label}: our own verdict, whole and byte by byte`, () => {
      checkOurs(c, input, Infinity, 'whole')
      checkOurs(c, input, 1, 'byte by byte')
    })
    continue
  }
  test(`${label}: same verdict and messages as llhttp`, () => {
    checkAgreed(c, input, Infinity, 'whole')
    checkAgreed(c, input, 1, 'byte by byte')
    checkTrailing(c, input, Infinity)
    checkTrailing(c, input, 1)
  })
}

test('with Host required, exactly the accepted HTTP/1.1 cases that lack Host are refused with 400', () => {
  let refused = 0
  for (const c of strictCases) {
    if (c.id in SKIPPED || c.id in OUR_VERDICT) continue
    const input = Buffer.from(c.inputBase64, 'base64')
    const lenient = drive(input, Infinity, { requireHost: false })
    const strict = drive(input, Infinity)
    const first = lenient.messages[0]
    if (!first || lenient.stop === 'error') continue
    const hasHost = first.head.headers.some((_, i) => i % 2 === 0 && first.head.headers[i] === 'host')
    if (first.head.versionMinor === 1 && !hasHost) {
      assert.is(strict.error?.code, 'MISSING_HOST', `${c.id}: refused without Host`)
      assert.is(strict.error?.status, 400)
      refused++
    } else {
      assert.is(strict.messages.length >= 1 && strict.messages[0].complete, first.complete, `${c.id}: same as without the Host check`)
    }
  }
  assert.ok(refused > 0)
})

test.run()

export const corpusCounts = {
  total: strictCases.length,
  skipped: Object.keys(SKIPPED).length,
  ownVerdict: Object.keys(OUR_VERDICT).length,
}

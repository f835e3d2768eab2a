// The incremental UTF-8 validator against RFC 3629 and the Autobahn|Testsuite vectors
// (test/fixtures/autobahn-utf8, see its README).
//
// Every input runs whole, split in two at every byte boundary, and one byte at a time.
// Fail fast (RFC 6455 §8.1): the validator must say false on exactly the piece that holds
// the first byte at which the input stops being a prefix of some valid UTF-8 text, never
// on an earlier piece and never on a later one; a text cut inside a sequence passes
// every write() and fails only at end(). Where that first byte is comes from a small
// reference checker below, written from the RFC 3629 §4 table, not from the code under test.
//
// Inputs are hex.

import { readFileSync } from 'node:fs'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { Utf8Validator, isValidUtf8 } from '../../src/ws/utf8.ts'

interface Vector {
  case: string
  group: string
  valid: boolean
  pythonStrictDecodeValid: boolean
  hex: string
}

const vectors = JSON.parse(readFileSync(new URL('../fixtures/autobahn-utf8/utf8-vectors.json', import.meta.url), 'utf8')) as Vector[]

/** Bytes from hex digits; spaces are ignored. */
function hex(digits: string): Buffer {
  return Buffer.from(digits.replace(/\s+/g, ''), 'hex')
}

// ---- the reference: RFC 3629 §4, one byte at a time
//
//   UTF8-1 = %x00-7F
//   UTF8-2 = %xC2-DF UTF8-tail
//   UTF8-3 = %xE0 %xA0-BF UTF8-tail / %xE1-EC 2( UTF8-tail ) /
//            %xED %x80-9F UTF8-tail / %xEE-EF 2( UTF8-tail )
//   UTF8-4 = %xF0 %x90-BF 2( UTF8-tail ) / %xF1-F3 3( UTF8-tail ) /
//            %xF4 %x80-8F 2( UTF8-tail )
//   UTF8-tail = %x80-BF

type Reference =
  /** The byte at `at` is the first that no valid text can have there. */
  | { verdict: 'invalid'; at: number }
  /** Every byte could start a valid text, but the last sequence is unfinished. */
  | { verdict: 'truncated' }
  | { verdict: 'valid' }

function reference(bytes: Uint8Array): Reference {
  let owed = 0
  let low = 0x80
  let high = 0xbf
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]
    if (owed > 0) {
      if (b < low || b > high) return { verdict: 'invalid', at: i }
      owed--
      low = 0x80
      high = 0xbf
    } else if (b <= 0x7f) {
      // UTF8-1
    } else if (b >= 0xc2 && b <= 0xdf) {
      owed = 1
    } else if (b === 0xe0) {
      owed = 2
      low = 0xa0
    } else if ((b >= 0xe1 && b <= 0xec) || b === 0xee || b === 0xef) {
      owed = 2
    } else if (b === 0xed) {
      owed = 2
      high = 0x9f
    } else if (b === 0xf0) {
      owed = 3
      low = 0x90
    } else if (b >= 0xf1 && b <= 0xf3) {
      owed = 3
    } else if (b === 0xf4) {
      owed = 3
      high = 0x8f
    } else {
      return { verdict: 'invalid', at: i } // 80-C1, F5-FF never lead
    }
  }
  return owed === 0 ? { verdict: 'valid' } : { verdict: 'truncated' }
}

// ---- running the validator over pieces

/** Where the pieces start, after 0: each cut is the index of a piece's first byte. */
function pieces(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const bounds = [0, ...cuts, bytes.length]
  const out: Buffer[] = []
  for (let i = 0; i + 1 < bounds.length; i++) out.push(Buffer.from(bytes.subarray(bounds[i], bounds[i + 1])))
  return out
}

/** Feeds the pieces; the index of the piece write() refused (feeding stops there), else what end() said. */
function run(parts: readonly Buffer[], validator = new Utf8Validator()): { refusedPiece: number } | { end: boolean } {
  for (let i = 0; i < parts.length; i++) if (!validator.write(parts[i])) return { refusedPiece: i }
  return { end: validator.end() }
}

/** Checks one split of `bytes` against the reference: the right verdict on the right piece. */
function checkSplit(bytes: Buffer, cuts: readonly number[], where: string): void {
  const parts = pieces(bytes, cuts)
  const got = run(parts)
  const want = reference(bytes)
  const how = `${where}, pieces at [0${cuts.map((c) => ',' + c).join('')}]`
  if (want.verdict === 'invalid') {
    // The piece holding byte `want.at`: the last piece starting at or before it.
    let piece = 0
    for (let i = 0; i < cuts.length; i++) if (cuts[i] <= want.at) piece = i + 1
    assert.equal(got, { refusedPiece: piece }, `${how}: refused on the piece holding byte ${want.at}`)
  } else {
    assert.equal(got, { end: want.verdict === 'valid' }, `${how}: every piece accepted, end() ${want.verdict === 'valid'}`)
  }
}

/** Whole, split in two at every boundary, and one byte at a time. */
function checkAllSplits(bytes: Buffer, where: string): void {
  checkSplit(bytes, [], `${where} whole`)
  for (let cut = 1; cut < bytes.length; cut++) checkSplit(bytes, [cut], `${where} in two`)
  checkSplit(
    bytes,
    Array.from({ length: Math.max(bytes.length - 1, 0) }, (_, i) => i + 1),
    `${where} byte by byte`,
  )
}

/** A deterministic PRNG (mulberry32), so a failure names a seed that reproduces it. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

// ---- the Autobahn corpus

const corpus = suite('utf8: the Autobahn corpus')

corpus('the corpus holds 132 vectors, 63 valid, and the reference agrees with every verdict', () => {
  assert.is(vectors.length, 132)
  assert.is(vectors.filter((v) => v.valid).length, 63)
  for (const v of vectors) {
    assert.is(v.valid, v.pythonStrictDecodeValid, `${v.case}: the README says both verdicts agree`)
    assert.is(reference(hex(v.hex)).verdict === 'valid', v.valid, `${v.case}: the reference checker agrees with Autobahn`)
  }
})

for (const v of vectors) {
  corpus(`${v.case} (${v.valid ? 'valid' : 'invalid'}) gets its verdict whole, in two at every byte, and byte by byte`, () => {
    const bytes = hex(v.hex)
    const whole = run([bytes])
    assert.is('end' in whole && whole.end, v.valid, `${v.case}: whole`)
    assert.is(isValidUtf8(bytes), v.valid, `${v.case}: isValidUtf8`)
    checkAllSplits(bytes, v.case)
  })
}

corpus('every invalid vector is refused on the piece holding its first impossible byte, in every split into three', () => {
  let checked = 0
  for (const v of vectors) {
    if (v.valid) continue
    const bytes = hex(v.hex)
    for (let a = 1; a < bytes.length; a++) {
      for (let b = a + 1; b < bytes.length; b++) {
        checkSplit(bytes, [a, b], v.case)
        checked++
      }
    }
  }
  assert.ok(checked > 3000)
})

// ---- cases by hand

const hand = suite('utf8: by hand')

const INVALID: [name: string, hex: string, firstBad: number][] = [
  ['an overlong 2-byte NUL, C0 80', 'c0 80', 0],
  ['an overlong 2-byte C1 BF', 'c1 bf', 0],
  ['an overlong 3-byte NUL, E0 80 80', 'e0 80 80', 1],
  ['an overlong 3-byte U+07FF, E0 9F BF', 'e0 9f bf', 1],
  ['an overlong 4-byte NUL, F0 80 80 80', 'f0 80 80 80', 1],
  ['an overlong 4-byte U+FFFF, F0 8F BF BF', 'f0 8f bf bf', 1],
  ['the first high surrogate, ED A0 80', 'ed a0 80', 1],
  ['the last low surrogate, ED BF BF', 'ed bf bf', 1],
  ['a surrogate pair written as two 3-byte forms', 'ed a0 80 ed b0 80', 1],
  ['U+110000, F4 90 80 80', 'f4 90 80 80', 1],
  ['the largest 4-byte form, F7 BF BF BF', 'f7 bf bf bf', 0],
  ['a lone continuation byte', '41 80 42', 1],
  ['a 2-byte lead followed by ASCII', '41 c3 41', 2],
  ['a 3-byte lead cut short by ASCII', 'e2 82 41', 2],
  ['a 4-byte lead cut short by a new lead', 'f0 9f 98 f0 9f 98 80', 3],
  ['a continuation byte too many', 'c3 a9 a9', 2],
]
for (const lead of [0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff]) {
  const b = lead.toString(16)
  INVALID.push([`the lead byte ${b.toUpperCase()}, which RFC 3629 forbids`, `41 ${b} 80 80 80`, 1])
}

for (const [name, digits, firstBad] of INVALID) {
  hand(`${name} is refused at byte ${firstBad}, whole and in every split`, () => {
    const bytes = hex(digits)
    assert.equal(reference(bytes), { verdict: 'invalid', at: firstBad }, 'the table in this test is right')
    assert.not.ok(isValidUtf8(bytes))
    checkAllSplits(bytes, name)
  })
}

const BOUNDARIES: [name: string, hex: string][] = [
  ['U+0000', '00'],
  ['U+007F, the last 1-byte code point', '7f'],
  ['U+0080, the first 2-byte code point', 'c2 80'],
  ['U+07FF, the last 2-byte code point', 'df bf'],
  ['U+0800, the first 3-byte code point', 'e0 a0 80'],
  ['U+D7FF, just below the surrogates', 'ed 9f bf'],
  ['U+E000, just above the surrogates', 'ee 80 80'],
  ['U+FFFF, the last 3-byte code point', 'ef bf bf'],
  ['U+10000, the first 4-byte code point', 'f0 90 80 80'],
  ['U+10FFFF, the last code point', 'f4 8f bf bf'],
]
for (const [name, digits] of BOUNDARIES) {
  hand(`${name} (${digits}) is valid alone and between ASCII, in every split`, () => {
    const alone = hex(digits)
    const framed = hex(`41 ${digits} 42`)
    assert.ok(isValidUtf8(alone))
    assert.ok(isValidUtf8(framed))
    checkAllSplits(alone, name)
    checkAllSplits(framed, name)
  })
}

hand('each boundary code point cut short is accepted by write() and refused by end()', () => {
  for (const [name, digits] of BOUNDARIES) {
    const bytes = hex(digits)
    for (let n = 1; n < bytes.length; n++) {
      const cut = bytes.subarray(0, n)
      assert.equal(run([cut]), { end: false }, `${name}: its first ${n} bytes`)
      assert.equal(run([...cut].map((b) => Buffer.from([b]))), { end: false }, `${name}: its first ${n} bytes, byte by byte`)
      assert.not.ok(isValidUtf8(cut))
    }
  }
})

hand('end() makes the validator ready for the next text, after a complete one and after a cut one', () => {
  const v = new Utf8Validator()
  assert.ok(v.write(hex('e2 82')))
  assert.not.ok(v.end(), 'the euro sign cut after 2 bytes')
  // A fresh text: AC would be a continuation of the old sequence, and must now be refused.
  assert.not.ok(v.write(hex('ac')), 'the state of the cut text is gone')
  v.reset()
  assert.ok(v.write(hex('e2 82 ac')))
  assert.ok(v.end())
  assert.ok(v.write(hex('f0 9f')))
  v.reset()
  assert.ok(v.write(hex('41')))
  assert.ok(v.end(), 'reset() drops an unfinished sequence')
})

hand('an empty piece changes nothing, inside a sequence and between texts', () => {
  const v = new Utf8Validator()
  assert.ok(v.write(hex('')))
  assert.ok(v.write(hex('f0')))
  assert.ok(v.write(hex('')))
  assert.ok(v.write(hex('9f 98')))
  assert.ok(v.write(hex('')))
  assert.ok(v.write(hex('80')))
  assert.ok(v.end())
  assert.ok(isValidUtf8(hex('')))
  assert.ok(new Utf8Validator().end(), 'the empty text is valid')
})

hand('the first byte after a sequence finished across pieces is checked in the same piece', () => {
  // The piece finishes the sequence, then holds an invalid byte: refused on that piece.
  assert.equal(run([hex('f0 9f'), hex('98 80 ff')]), { refusedPiece: 1 })
  assert.equal(run([hex('f0 9f'), hex('98 80 c3')]), { end: false })
  assert.equal(run([hex('f0 9f'), hex('98 80 c3'), hex('a9')]), { end: true })
  // A second continuation byte over the top of a sequence finished in the piece before.
  assert.equal(run([hex('c3'), hex('a9 a9')]), { refusedPiece: 1 })
})

// ---- long texts: the short path (64 bytes or less) and node's isUtf8 path

const long = suite('utf8: long texts in pieces')

const ASCII = Buffer.from('The quick brown fox jumps over the lazy dog. '.repeat(100), 'latin1')
const MIXED = Buffer.from('ascii é ß € 𝄞 😀 中文 ελληνικά, '.repeat(100), 'utf8')

function splitEvery(bytes: Buffer, size: number): Buffer[] {
  const out: Buffer[] = []
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size))
  return out
}

long('long ASCII and long multi-byte text are valid in pieces of every size from 1 to 200 bytes', () => {
  assert.ok(ASCII.length > 4000 && MIXED.length > 4000)
  for (const text of [ASCII, MIXED]) {
    for (let size = 1; size <= 200; size++) {
      assert.equal(run(splitEvery(text, size)), { end: true }, `pieces of ${size} bytes`)
    }
    assert.ok(isValidUtf8(text))
  }
})

long('a multi-byte text cut one byte short is refused only by end(), with pieces below and over 64 bytes', () => {
  const cut = MIXED.subarray(0, MIXED.indexOf(hex('f0 9f 98 80')) + 3) // inside the first 😀
  assert.equal(reference(cut), { verdict: 'truncated' })
  for (const size of [1, 3, 63, 64, 65, 100, 1000, cut.length]) {
    assert.equal(run(splitEvery(cut, size)), { end: false }, `pieces of ${size} bytes`)
  }
})

long('one invalid byte in a long text is refused on its piece, wherever it is and whatever the piece size', () => {
  const random = prng(6455)
  for (let trial = 0; trial < 150; trial++) {
    const base = trial % 2 === 0 ? ASCII : MIXED
    const bytes = Buffer.from(base.subarray(0, 200 + Math.floor(random() * 800)))
    // Overwrite one byte with one that cannot be there (or that breaks its sequence).
    const at = Math.floor(random() * bytes.length)
    bytes[at] = [0x80, 0xbf, 0xc0, 0xc1, 0xf5, 0xff, 0x41, 0xe0][Math.floor(random() * 8)]
    const size = [1, 7, 64, 65, 129, 500][trial % 6]
    const cuts: number[] = []
    for (let c = size; c < bytes.length; c += size) cuts.push(c)
    checkSplit(bytes, cuts, `trial ${trial} (byte ${at} = ${bytes[at].toString(16)}, pieces of ${size})`)
  }
})

long('random byte strings made of sequence fragments agree with the reference in random splits', () => {
  // Fragments of valid and invalid sequences, so most strings stay plausible for a while.
  const fragments = [
    '41', '7f', 'c2 80', 'df bf', 'e0 a0 80', 'ed 9f bf', 'ef bf bf', 'f0 90 80 80', 'f4 8f bf bf',
    'c2', 'e1 80', 'f1 80 80', '80', 'bf', 'c0', 'e0 80', 'ed a0', 'f4 90', 'f5', 'ff',
  ].map(hex)
  const random = prng(3629)
  for (let trial = 0; trial < 3000; trial++) {
    const parts: Buffer[] = []
    const count = 1 + Math.floor(random() * (trial % 10 === 0 ? 60 : 8))
    for (let i = 0; i < count; i++) {
      // Mostly valid material, so the first bad byte lands anywhere.
      const index = random() < 0.85 ? Math.floor(random() * 9) : Math.floor(random() * fragments.length)
      parts.push(fragments[index])
    }
    const bytes = Buffer.concat(parts)
    const cuts: number[] = []
    for (let c = 1; c < bytes.length; c++) if (random() < 0.3) cuts.push(c)
    checkSplit(bytes, cuts, `trial ${trial} (${bytes.toString('hex')})`)
    assert.is(isValidUtf8(bytes), reference(bytes).verdict === 'valid', `trial ${trial}: isValidUtf8`)
  }
})

long('isValidUtf8 judges whole buffers of every length around the 64-byte short path', () => {
  for (let n = 0; n <= 130; n++) {
    const ascii = Buffer.alloc(n, 0x61)
    assert.ok(isValidUtf8(ascii), `${n} ASCII bytes`)
    if (n === 0) continue
    const last = Buffer.from(ascii)
    last[n - 1] = 0x80
    assert.not.ok(isValidUtf8(last), `${n} bytes ending with a lone continuation byte`)
    const first = Buffer.from(ascii)
    first[0] = 0xff
    assert.not.ok(isValidUtf8(first), `${n} bytes starting with FF`)
    const cut = Buffer.concat([ascii.subarray(1), hex('e2')])
    assert.not.ok(isValidUtf8(cut), `${n} bytes ending with a cut sequence`)
  }
  assert.ok(isValidUtf8(MIXED))
  assert.ok(isValidUtf8(hex('f0 9f 98 80'.repeat(50))))
  assert.not.ok(isValidUtf8(hex('41'.repeat(100) + 'ed a0 80')))
})

corpus.run()
hand.run()
long.run()

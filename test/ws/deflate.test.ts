// permessage-deflate (RFC 7692): the negotiation of §7 as offer strings in and response
// strings out, and the message compressor and decompressor over node:zlib: round trips,
// context takeover, the trailer of §7.2.1, interop with zlib used directly, a
// decompression bomb, bad data, and many jobs at once through the bounded queue.

import { randomBytes } from 'node:crypto'
import { InflateRaw, constants, createDeflateRaw, createInflateRaw, deflateRawSync, inflateRawSync } from 'node:zlib'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { WsError } from '../../src/ws/errors.ts'
import { DEFAULT_DEFLATE, MessageCompressor, MessageDecompressor, negotiateDeflate, type DeflateConfig } from '../../src/ws/deflate.ts'
import { parseExtensions } from '../../src/ws/handshake.ts'

/** Bytes from hex digits; spaces are ignored. */
function hex(digits: string): Buffer {
  return Buffer.from(digits.replace(/\s+/g, ''), 'hex')
}

const TRAILER = hex('00 00 ff ff')
const { Z_SYNC_FLUSH } = constants

/** The response to a Sec-WebSocket-Extensions value, or null when permessage-deflate is declined. */
function negotiate(offer: string, config: Partial<DeflateConfig> = {}): string | null {
  const offers = parseExtensions(offer)
  assert.ok(offers, `the offer parses: ${offer}`)
  return negotiateDeflate(offers!, { ...DEFAULT_DEFLATE, ...config })?.response ?? null
}

// ---- negotiation (RFC 7692 §7)

const negotiation = suite('deflate: negotiation')

negotiation('a bare permessage-deflate is accepted as is', () => {
  assert.is(negotiate('permessage-deflate'), 'permessage-deflate')
  const params = negotiateDeflate(parseExtensions('permessage-deflate')!, DEFAULT_DEFLATE)
  assert.equal(params, { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, response: 'permessage-deflate' })
})

negotiation('other extensions are not permessage-deflate: nothing offered, nothing agreed', () => {
  assert.is(negotiate('x-webkit-deflate-frame'), null)
  assert.is(negotiate('permessage-deflate-x'), null)
  assert.is(negotiate('Permessage-Deflate'), null, 'extension names are compared as they are registered')
  assert.is(negotiateDeflate([], DEFAULT_DEFLATE), null)
})

negotiation('client_max_window_bits without a value is accepted and not echoed (§7.1.2.2)', () => {
  assert.is(negotiate('permessage-deflate; client_max_window_bits'), 'permessage-deflate')
})

negotiation('client_max_window_bits=8 to 15 is accepted and echoed', () => {
  for (let bits = 8; bits <= 15; bits++) {
    assert.is(negotiate(`permessage-deflate; client_max_window_bits=${bits}`), `permessage-deflate; client_max_window_bits=${bits}`)
  }
  assert.is(negotiate('permessage-deflate; client_max_window_bits="10"'), 'permessage-deflate; client_max_window_bits=10', 'a quoted value')
})

negotiation('server_max_window_bits=9 to 15 is answered with the smaller of it and the configured window', () => {
  for (let bits = 9; bits <= 15; bits++) {
    assert.is(negotiate(`permessage-deflate; server_max_window_bits=${bits}`), `permessage-deflate; server_max_window_bits=${bits}`)
    assert.is(
      negotiate(`permessage-deflate; server_max_window_bits=${bits}`, { serverMaxWindowBits: 12 }),
      `permessage-deflate; server_max_window_bits=${Math.min(bits, 12)}`,
    )
    const params = negotiateDeflate(parseExtensions(`permessage-deflate; server_max_window_bits=${bits}`)!, { ...DEFAULT_DEFLATE, serverMaxWindowBits: 12 })
    assert.is(params?.serverMaxWindowBits, Math.min(bits, 12))
  }
})

negotiation('a configured window under 15 is stated even when the client did not ask (§7.1.2.1)', () => {
  assert.is(negotiate('permessage-deflate', { serverMaxWindowBits: 10 }), 'permessage-deflate; server_max_window_bits=10')
  assert.is(negotiate('permessage-deflate', { serverMaxWindowBits: 15 }), 'permessage-deflate')
})

negotiation('server_max_window_bits=8 is declined: zlib cannot make a 256-byte window', () => {
  assert.is(negotiate('permessage-deflate; server_max_window_bits=8'), null)
  assert.is(
    negotiate('permessage-deflate; server_max_window_bits=8, permessage-deflate; server_max_window_bits=9'),
    'permessage-deflate; server_max_window_bits=9',
    'the next offer is tried',
  )
})

negotiation('an invalid offer is declined and the next offer is tried', () => {
  const invalid = [
    'server_max_window_bits=16',
    'server_max_window_bits=7',
    'server_max_window_bits=0',
    'server_max_window_bits=09',
    'server_max_window_bits=010',
    'server_max_window_bits=+9',
    'server_max_window_bits=1e1',
    'server_max_window_bits',
    'client_max_window_bits=16',
    'client_max_window_bits=7',
    'client_max_window_bits=09',
    'client_max_window_bits=abc',
    'server_no_context_takeover=1',
    'server_no_context_takeover=true',
    'client_no_context_takeover=1',
    'mystery_parameter',
    'mystery_parameter=1',
    'server_no_context_takeover; server_no_context_takeover',
    'client_no_context_takeover; client_no_context_takeover',
    'server_max_window_bits=10; server_max_window_bits=10',
    'client_max_window_bits; client_max_window_bits=10',
  ]
  for (const params of invalid) {
    assert.is(negotiate(`permessage-deflate; ${params}`), null, params)
    assert.is(
      negotiate(`permessage-deflate; ${params}, permessage-deflate; client_no_context_takeover`),
      'permessage-deflate; client_no_context_takeover',
      `${params}, then a valid offer`,
    )
  }
})

negotiation('server_no_context_takeover is agreed when asked, and stated when configured even if not asked', () => {
  assert.is(negotiate('permessage-deflate; server_no_context_takeover'), 'permessage-deflate; server_no_context_takeover')
  assert.is(negotiate('permessage-deflate', { serverNoContextTakeover: true }), 'permessage-deflate; server_no_context_takeover')
  const params = negotiateDeflate(parseExtensions('permessage-deflate')!, { ...DEFAULT_DEFLATE, serverNoContextTakeover: true })
  assert.is(params?.serverNoContextTakeover, true)
})

negotiation('client_no_context_takeover is echoed', () => {
  assert.is(negotiate('permessage-deflate; client_no_context_takeover'), 'permessage-deflate; client_no_context_takeover')
  const params = negotiateDeflate(parseExtensions('permessage-deflate; client_no_context_takeover')!, DEFAULT_DEFLATE)
  assert.equal([params?.clientNoContextTakeover, params?.serverNoContextTakeover], [true, false])
})

negotiation('the exact response for every parameter at once, in a fixed order', () => {
  assert.is(
    negotiate('permessage-deflate; client_max_window_bits=12; server_max_window_bits=10; client_no_context_takeover; server_no_context_takeover'),
    'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12',
  )
  // What Chrome and Firefox send.
  assert.is(negotiate('permessage-deflate; client_max_window_bits'), 'permessage-deflate')
  assert.is(
    negotiate('permessage-deflate; client_max_window_bits', { serverNoContextTakeover: true, serverMaxWindowBits: 11 }),
    'permessage-deflate; server_no_context_takeover; server_max_window_bits=11',
  )
})

negotiation('the first acceptable offer wins over later ones', () => {
  assert.is(
    negotiate('permessage-deflate; server_max_window_bits=10, permessage-deflate; server_max_window_bits=12'),
    'permessage-deflate; server_max_window_bits=10',
  )
  assert.is(negotiate('x-foo, permessage-deflate; client_no_context_takeover, permessage-deflate'), 'permessage-deflate; client_no_context_takeover')
})

// ---- compressing and decompressing

const codec = suite('deflate: compressor and decompressor')

const TEXT_1K = Buffer.from('The quick brown fox jumps over the lazy dog. '.repeat(23).slice(0, 1024))
const MiB = 1024 * 1024

function compressible(size: number): Buffer {
  const out = Buffer.alloc(size)
  const words = ['alpha ', 'beta ', 'gamma ', 'delta ', 'epsilon ', 'zeta ', 'eta ', 'theta ']
  let state = 1
  for (let i = 0; i < size; ) {
    state = (state * 1103515245 + 12345) & 0x7fffffff
    i += out.write(words[(state >>> 16) % words.length], i)
  }
  return out
}

const MESSAGES: [string, Buffer][] = [
  ['empty', Buffer.alloc(0)],
  ['1 byte', hex('41')],
  ['1 KiB of text', TEXT_1K],
  ['1 MiB of random bytes', randomBytes(MiB)],
  ['4 MiB of compressible text', compressible(4 * MiB)],
]

codec('round trips, with and without context takeover, and the trailer is removed', async () => {
  for (const noContextTakeover of [false, true]) {
    const compressor = new MessageCompressor(15, noContextTakeover)
    const decompressor = new MessageDecompressor(8 * MiB, noContextTakeover)
    for (const [name, message] of MESSAGES) {
      const where = `${name}, ${noContextTakeover ? 'no ' : ''}context takeover`
      const compressed = await compressor.compress(message)
      assert.not.ok(compressed.subarray(-4).equals(TRAILER), `${where}: does not end with 00 00 ff ff`)
      const back = await decompressor.decompress(compressed)
      assert.ok(back.equals(message), `${where}: the same bytes back`)
    }
    compressor.close()
    decompressor.close()
  }
})

codec('the empty message compresses to the single byte 00 (RFC 7692 §7.2.3.6)', async () => {
  const compressor = new MessageCompressor(15, true)
  assert.is((await compressor.compress(Buffer.alloc(0))).toString('hex'), '00')
  assert.is((await new MessageDecompressor(10, true).decompress(hex('00'))).length, 0)
})

codec('"Hello" is the RFC 7692 §7.2.3.1 bytes, and they decompress to "Hello"', async () => {
  const decompressor = new MessageDecompressor(1024, false)
  assert.is((await decompressor.decompress(hex('f2 48 cd c9 c9 07 00'))).toString(), 'Hello')
  // §7.2.3.2: the same message again, with the window of the first: a back-reference.
  assert.is((await decompressor.decompress(hex('f2 00 11 00 00'))).toString(), 'Hello')
  const compressor = new MessageCompressor(15, false)
  assert.is((await compressor.compress(Buffer.from('Hello'))).toString('hex'), 'f248cdc9c90700')
})

codec('with context takeover the second identical message is much smaller; without, it is the same size', async () => {
  const message = compressible(4096)
  const takeover = new MessageCompressor(15, false)
  const first = await takeover.compress(message)
  const second = await takeover.compress(message)
  assert.ok(second.length * 5 < first.length, `takeover: ${second.length} bytes after ${first.length}`)
  const decompressor = new MessageDecompressor(MiB, false)
  assert.ok((await decompressor.decompress(first)).equals(message))
  assert.ok((await decompressor.decompress(second)).equals(message), 'the second needs the window of the first')

  const alone = new MessageCompressor(15, true)
  const a = await alone.compress(message)
  const b = await alone.compress(message)
  assert.is(b.toString('hex'), a.toString('hex'), 'no takeover: each message compressed as if it were the first')
  assert.is(a.length, first.length)
  // Each stands alone: a fresh decompressor reads the second.
  assert.ok((await new MessageDecompressor(MiB, true).decompress(b)).equals(message))
})

codec('several messages in a row come back in order, in both modes', async () => {
  for (const noContextTakeover of [false, true]) {
    const compressor = new MessageCompressor(15, noContextTakeover)
    const decompressor = new MessageDecompressor(MiB, noContextTakeover)
    for (let i = 0; i < 20; i++) {
      const message = Buffer.from(`message ${i}: ${'abc'.repeat(i * 10)}`)
      const back = await decompressor.decompress(await compressor.compress(message))
      assert.is(back.toString(), message.toString())
    }
  }
})

codec('a smaller window and a low level still round trip', async () => {
  const message = compressible(200_000)
  for (const bits of [9, 10, 12]) {
    for (const level of [0, 1, 9]) {
      const compressed = await new MessageCompressor(bits, false, level).compress(message)
      assert.ok((await new MessageDecompressor(MiB, false).decompress(compressed)).equals(message), `${bits} bits, level ${level}`)
      // The window actually used is no larger than stated: an inflater with just that window reads it.
      const inflated = inflateRawSync(Buffer.concat([compressed, TRAILER]), { windowBits: bits, finishFlush: Z_SYNC_FLUSH })
      assert.ok(inflated.equals(message), `${bits} bits, level ${level}: zlib with a ${bits}-bit window`)
    }
  }
})

// ---- interop with zlib used directly

const interop = suite('deflate: interop with node:zlib')

interop('inflateRawSync of compressed + 00 00 ff ff gives the message', async () => {
  const compressor = new MessageCompressor(15, true)
  for (const [name, message] of MESSAGES) {
    const compressed = await compressor.compress(message)
    assert.ok(inflateRawSync(Buffer.concat([compressed, TRAILER]), { finishFlush: Z_SYNC_FLUSH }).equals(message), name)
  }
})

interop('data made with deflateRawSync, its trailer removed, decompresses', async () => {
  for (const [name, message] of MESSAGES) {
    // A sync flush ends the data with the empty stored block; the sender removes it.
    const made = deflateRawSync(message, { finishFlush: Z_SYNC_FLUSH })
    assert.is(made.subarray(-4).toString('hex'), '0000ffff', `${name}: zlib ends a sync flush with the trailer`)
    const payload = made.subarray(0, -4)
    assert.ok((await new MessageDecompressor(8 * MiB, true).decompress(payload)).equals(message), name)
  }
})

interop('a message that ends the DEFLATE stream (BFINAL) decompresses too (RFC 7692 §7.2.3.3)', async () => {
  // deflateRawSync finishes the stream: a final block; the receiver's trailer comes after it.
  const made = deflateRawSync(TEXT_1K)
  assert.ok((await new MessageDecompressor(MiB, true).decompress(made)).equals(TEXT_1K))
})

interop('after a message that ended its DEFLATE stream, the next messages decompress on a fresh stream (context takeover on)', async () => {
  const decompressor = new MessageDecompressor(MiB, false)
  const hello = Buffer.from('Hello')
  const world = Buffer.from('World')
  assert.ok((await decompressor.decompress(deflateRawSync(hello))).equals(hello), 'the final-block message')
  assert.ok((await decompressor.decompress(deflateRawSync(world, { finishFlush: Z_SYNC_FLUSH }).subarray(0, -4))).equals(world), 'the next one')
  assert.ok((await decompressor.decompress(deflateRawSync(hello))).equals(hello), 'and another final-block message')
})

interop('closing a compressor or decompressor while a job runs rejects the job and leaves the process standing', async () => {
  // zlib asserts (an uncaught exception) if a closed stream is reset: the job must see the close.
  const big = Buffer.alloc(4 * MiB, 'abcdefgh')
  for (const noContextTakeover of [true, false]) {
    const decompressor = new MessageDecompressor(64 * MiB, noContextTakeover)
    const inflating = decompressor.decompress(deflateRawSync(big, { finishFlush: Z_SYNC_FLUSH }).subarray(0, -4))
    setImmediate(() => decompressor.close())
    assert.match(await inflating.then(() => 'resolved', (error: Error) => error.message), /closed/)
    const compressor = new MessageCompressor(15, noContextTakeover)
    const deflating = compressor.compress(big)
    setImmediate(() => compressor.close())
    assert.match(await deflating.then(() => 'resolved', (error: Error) => error.message), /closed/)
  }
})

interop('a closed compressor or decompressor refuses the jobs still waiting, and makes no new zlib stream', async () => {
  const compressor = new MessageCompressor(15, false)
  const decompressor = new MessageDecompressor(MiB, false)
  const first = compressor.compress(TEXT_1K)
  const second = compressor.compress(TEXT_1K)
  compressor.close()
  const outcomes = await Promise.allSettled([first, second])
  assert.ok(outcomes.some((o) => o.status === 'rejected'), 'a job after close() is refused')
  decompressor.close()
  let refused = false
  await decompressor.decompress(deflateRawSync(TEXT_1K)).catch(() => (refused = true))
  assert.ok(refused, 'the decompressor refuses after close()')
})

// ---- what the decompressor refuses

const refusing = suite('deflate: the decompressor refuses')

/** Counts the bytes every InflateRaw pushes out while `body` runs (zlib's own output, before any listener). */
async function countingInflated<T>(body: () => Promise<T>): Promise<{ result: T | Error; inflated: number }> {
  const original = InflateRaw.prototype.push
  let inflated = 0
  InflateRaw.prototype.push = function (this: InflateRaw, chunk: unknown, encoding?: BufferEncoding) {
    if (Buffer.isBuffer(chunk)) inflated += chunk.length
    return original.call(this, chunk, encoding)
  }
  try {
    return { result: await body().catch((error: Error) => error), inflated }
  } finally {
    InflateRaw.prototype.push = original
  }
}

/** `mebibytes` MiB of zeros as one compressed message (trailer removed), made without holding them all. */
async function zerosBomb(mebibytes: number): Promise<Buffer> {
  const deflate = createDeflateRaw({ level: 9 })
  const parts: Buffer[] = []
  deflate.on('data', (chunk: Buffer) => parts.push(chunk))
  const zeros = Buffer.alloc(MiB)
  for (let i = 0; i < mebibytes; i++) deflate.write(zeros)
  await new Promise<void>((resolve) => deflate.flush(Z_SYNC_FLUSH, () => resolve()))
  deflate.close()
  const made = Buffer.concat(parts)
  assert.is(made.subarray(-4).toString('hex'), '0000ffff')
  return made.subarray(0, -4)
}

/** How many bytes a compressed message inflates to, counted chunk by chunk and never held. */
async function inflatedLength(payload: Buffer): Promise<number> {
  const inflate = createInflateRaw()
  let length = 0
  inflate.on('data', (chunk: Buffer) => (length += chunk.length))
  inflate.write(payload)
  inflate.write(TRAILER)
  await new Promise<void>((resolve) => inflate.flush(Z_SYNC_FLUSH, () => resolve()))
  inflate.close()
  return length
}

refusing('a decompression bomb is refused with 1009 INFLATED_TOO_BIG before most of it is inflated', async () => {
  const bomb = await zerosBomb(64)
  assert.ok(bomb.length < 128 * 1024, `64 MiB of zeros is ${bomb.length} bytes compressed`)
  const before = process.memoryUsage().rss + process.memoryUsage().arrayBuffers
  const decompressor = new MessageDecompressor(MiB, false)
  const { result, inflated } = await countingInflated(() => decompressor.decompress(bomb))
  assert.instance(result, WsError)
  const error = result as WsError
  assert.equal([error.closeCode, error.code], [1009, 'INFLATED_TOO_BIG'])
  assert.ok(inflated > MiB, `the limit was reached (${inflated} bytes)`)
  assert.ok(inflated < 4 * MiB, `zlib stopped soon after the limit: ${inflated} bytes, not 64 MiB`)
  const after = process.memoryUsage().rss + process.memoryUsage().arrayBuffers
  assert.ok(after - before < 32 * MiB, `memory grew by ${after - before} bytes`)
  // The bomb is what it says: zlib on its own, counting and dropping, inflates it to 64 MiB.
  assert.is(await inflatedLength(bomb), 64 * MiB)
})

refusing('a message of exactly maxBytes is accepted; one byte more is refused', async () => {
  const message = compressible(100_000)
  const compressed = await new MessageCompressor(15, true).compress(message)
  assert.ok((await new MessageDecompressor(100_000, true).decompress(compressed)).equals(message))
  const error = await new MessageDecompressor(99_999, true).decompress(compressed).catch((e: unknown) => e)
  assert.instance(error, WsError)
  assert.is((error as WsError).code, 'INFLATED_TOO_BIG')
})

refusing('the decompressor works again after refusing a bomb', async () => {
  const decompressor = new MessageDecompressor(MiB, false)
  const bomb = await zerosBomb(8)
  await decompressor.decompress(bomb).then(
    () => assert.unreachable('the bomb was inflated'),
    (e: WsError) => assert.is(e.code, 'INFLATED_TOO_BIG'),
  )
  const message = await new MessageCompressor(15, false).compress(TEXT_1K)
  assert.ok((await decompressor.decompress(message)).equals(TEXT_1K))
})

refusing('data that is not DEFLATE is refused with 1007 BAD_DEFLATE_DATA, and the decompressor recovers', async () => {
  const decompressor = new MessageDecompressor(MiB, false)
  for (const garbage of [hex('ff ff ff ff'), hex('07 00'), Buffer.from('this is not deflate data at all')]) {
    const error = await decompressor.decompress(garbage).catch((e: unknown) => e)
    assert.instance(error, WsError, garbage.toString('hex'))
    assert.equal([(error as WsError).closeCode, (error as WsError).code], [1007, 'BAD_DEFLATE_DATA'])
  }
  assert.is((await decompressor.decompress(hex('f2 48 cd c9 c9 07 00'))).toString(), 'Hello')
})

// ---- many jobs at once

const queue = suite('deflate: the zlib job queue')

queue('200 compressions at once across 50 compressors all finish, each compressor’s in order', async () => {
  // Four messages in a row to each compressor, then the next: more than the 8 places at once
  // on one compressor, and jobs of several compressors waiting between each other's.
  const compressors = Array.from({ length: 50 }, (_, i) => new MessageCompressor(15, i % 2 === 0))
  const owner = (j: number) => Math.floor(j / 4)
  const messages = Array.from({ length: 200 }, (_, j) => Buffer.from(`message ${j} for compressor ${owner(j)}: ${'payload '.repeat(50 + j)}`))
  const results = await Promise.all(messages.map((message, j) => compressors[owner(j)].compress(message)))
  // Decompress each compressor's messages in the order they were sent, as its peer would.
  for (let c = 0; c < 50; c++) {
    const decompressor = new MessageDecompressor(MiB, c % 2 === 0)
    for (let j = 4 * c; j < 4 * c + 4; j++) {
      const back = await decompressor.decompress(results[j])
      assert.is(back.toString(), messages[j].toString(), `compressor ${c}, message ${j}`)
    }
  }
  for (const compressor of compressors) compressor.close()
})

queue('two messages compressed at once by one compressor are two separate messages', async () => {
  for (const noContextTakeover of [false, true]) {
    const compressor = new MessageCompressor(15, noContextTakeover)
    const [a, b, c] = await Promise.all(['first message', 'second message', 'third message'].map((m) => compressor.compress(Buffer.from(m))))
    const decompressor = new MessageDecompressor(MiB, noContextTakeover)
    assert.equal(
      [(await decompressor.decompress(a)).toString(), (await decompressor.decompress(b)).toString(), (await decompressor.decompress(c)).toString()],
      ['first message', 'second message', 'third message'],
      noContextTakeover ? 'no context takeover' : 'context takeover',
    )
  }
})

queue('200 decompressions at once across 50 decompressors, four in a row to each, all finish with the right messages', async () => {
  const message = (j: number) => `decompress ${j}: ${'text '.repeat(100 + j)}`
  const payloads = await Promise.all(Array.from({ length: 200 }, (_, j) => new MessageCompressor(15, true).compress(Buffer.from(message(j)))))
  const decompressors = Array.from({ length: 50 }, () => new MessageDecompressor(MiB, true))
  const results = await Promise.all(payloads.map((payload, j) => decompressors[Math.floor(j / 4)].decompress(payload)))
  results.forEach((result, j) => assert.is(result.toString(), message(j), `message ${j}`))
})

queue('a failing job frees its place: 20 bad payloads then good ones all settle', async () => {
  const good = await new MessageCompressor(15, true).compress(TEXT_1K)
  const jobs = Array.from({ length: 40 }, (_, j) => new MessageDecompressor(MiB, true).decompress(j < 20 ? hex('ff ff ff ff') : good))
  const settled = await Promise.allSettled(jobs)
  assert.is(settled.filter((s) => s.status === 'rejected').length, 20)
  settled.slice(20).forEach((s, j) => assert.ok(s.status === 'fulfilled' && s.value.equals(TEXT_1K), `good job ${j}`))
})

negotiation.run()
codec.run()
interop.run()
refusing.run()
queue.run()

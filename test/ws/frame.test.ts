// The frame codec against RFC 6455 §5: the encoder's exact bytes, and the decoder fed
// whole, one byte at a time, and split at every boundary, with the same frames out.
//
// Inputs and outputs are hex; spaces in hex are ignored. The masked examples use the
// key of RFC 6455 §5.7, 37 fa 21 3d.

import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { WsError } from '../../src/ws/errors.ts'
import {
  FrameDecoder,
  Opcode,
  closePayload,
  encodeFrame,
  frameHeader,
  isControl,
  unmask,
  type DecoderOptions,
} from '../../src/ws/frame.ts'

/** Bytes from hex digits; spaces are ignored. */
function hex(digits: string): Buffer {
  return Buffer.from(digits.replace(/\s+/g, ''), 'hex')
}

const KEY = hex('37 fa 21 3d')
const SERVER: DecoderOptions = { expectMasked: true, allowRsv1: false, maxPayload: 16 * 1024 * 1024 }
const CLIENT: DecoderOptions = { expectMasked: false, allowRsv1: false, maxPayload: 16 * 1024 * 1024 }

/** The same bytes, so XOR by hand in a test does not touch the original. */
function xorReference(data: Uint8Array, key: Uint8Array, offset: number): Buffer {
  return Buffer.from(data.map((b, i) => b ^ key[(offset + i) & 3]))
}

// ---- the decoder driver

/** A frame as it came out: its header fields, its payload put together, and how it came. */
interface Frame {
  fin: boolean
  rsv1: boolean
  opcode: number
  length: number
  payload: string
  /** How many pieces the payload came in. */
  pieces: number
}

interface Decoded {
  frames: Frame[]
  error: { closeCode: number; code: string } | null
}

/**
 * Feeds the pieces (copies: the decoder unmasks in place), pulling events after each,
 * and checks the piece flags as it goes: first on the first piece of a frame only, last
 * on its last only, every piece of a frame with the same header fields, the pieces
 * adding up to the declared length.
 */
function decode(parts: readonly Buffer[], options: DecoderOptions = SERVER): Decoded {
  const decoder = new FrameDecoder(options)
  const frames: Frame[] = []
  let current: (Frame & { data: Buffer[] }) | null = null
  let error: Decoded['error'] = null
  for (const part of parts) {
    decoder.feed(Buffer.from(part))
    for (;;) {
      const event = decoder.next()
      if (event.type === 'need-data') break
      if (event.type === 'error') {
        assert.instance(event.error, WsError)
        error = { closeCode: event.error.closeCode, code: event.error.code }
        return { frames, error }
      }
      if (event.first) {
        assert.is(current, null, 'a first piece only after the last piece of the frame before')
        current = { fin: event.fin, rsv1: event.rsv1, opcode: event.opcode, length: event.length, payload: '', pieces: 0, data: [] }
      }
      assert.ok(current, 'a piece without a first piece before it')
      assert.equal(
        [event.fin, event.rsv1, event.opcode, event.length],
        [current!.fin, current!.rsv1, current!.opcode, current!.length],
        'every piece of a frame carries its header',
      )
      if (!event.last) assert.ok(event.data.length > 0, 'no empty piece but the only piece of an empty frame')
      current!.data.push(Buffer.from(event.data))
      current!.pieces++
      if (event.last) {
        const { data, ...frame } = current!
        const payload = Buffer.concat(data)
        assert.is(payload.length, frame.length, 'the pieces add up to the declared length')
        frames.push({ ...frame, payload: payload.toString('hex') })
        current = null
      }
    }
  }
  assert.is(current, null, 'the input ended inside a frame')
  return { frames, error }
}

/** `bytes` in pieces starting at each cut. */
function split(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const bounds = [0, ...cuts, bytes.length]
  return bounds.slice(0, -1).map((start, i) => bytes.subarray(start, bounds[i + 1]))
}

function byteByByte(bytes: Buffer): Buffer[] {
  return [...bytes].map((b) => Buffer.from([b]))
}

/** Frames without the piece count, which depends on how the bytes were fed. */
function shape(decoded: Decoded): unknown {
  return { frames: decoded.frames.map(({ pieces, ...frame }) => frame), error: decoded.error }
}

/** Whole, byte by byte, and split in two at every boundary: the same frames and error each time. */
function decodeEveryWay(bytes: Buffer, options: DecoderOptions = SERVER): Decoded {
  const whole = decode([bytes], options)
  assert.equal(shape(decode(byteByByte(bytes), options)), shape(whole), 'byte by byte, the same as whole')
  for (let cut = 1; cut < bytes.length; cut++) {
    assert.equal(shape(decode(split(bytes, [cut]), options)), shape(whole), `split at ${cut}, the same as whole`)
  }
  return whole
}

const frame = (opcode: number, payload: string, more: Partial<Frame> = {}): Omit<Frame, 'pieces'> => ({
  fin: true,
  rsv1: false,
  opcode,
  length: payload.replace(/\s+/g, '').length / 2,
  payload: payload.replace(/\s+/g, ''),
  ...more,
})

const HELLO = '48 65 6c 6c 6f'

// ---- the encoder

const encoder = suite('frame: the encoder')

encoder('every length boundary gets the shortest length encoding (RFC 6455 §5.2)', () => {
  const cases: [number, string][] = [
    [0, '82 00'],
    [1, '82 01'],
    [125, '82 7d'],
    [126, '82 7e 00 7e'],
    [127, '82 7e 00 7f'],
    [65535, '82 7e ff ff'],
    [65536, '82 7f 00 00 00 00 00 01 00 00'],
  ]
  for (const [length, header] of cases) {
    assert.is(frameHeader(Opcode.BINARY, length).toString('hex'), hex(header).toString('hex'), `frameHeader, ${length} bytes`)
    const payload = Buffer.alloc(length, 0xab)
    const encoded = encodeFrame(Opcode.BINARY, payload)
    assert.is(encoded.subarray(0, hex(header).length).toString('hex'), hex(header).toString('hex'), `encodeFrame header, ${length} bytes`)
    assert.is(encoded.length, hex(header).length + length, `encodeFrame size, ${length} bytes`)
    assert.ok(encoded.subarray(hex(header).length).equals(payload), `encodeFrame payload, ${length} bytes`)
  }
})

encoder('lengths of 2^32 and more fill both halves of the 64-bit length', () => {
  assert.is(frameHeader(Opcode.BINARY, 2 ** 32).toString('hex'), '827f0000000100000000')
  assert.is(frameHeader(Opcode.BINARY, 2 ** 32 + 5).toString('hex'), '827f0000000100000005')
  assert.is(frameHeader(Opcode.BINARY, 0x12_3456_789a).toString('hex'), '827f000000123456789a')
  assert.is(frameHeader(Opcode.BINARY, Number.MAX_SAFE_INTEGER).toString('hex'), '827f001fffffffffffff')
  assert.is(frameHeader(Opcode.BINARY, 2 ** 32 + 5, { mask: KEY }).toString('hex'), '82ff000000010000000537fa213d')
})

encoder('FIN, RSV1 and the opcode make the first byte', () => {
  const cases: [number, { fin?: boolean; rsv1?: boolean }, string][] = [
    [Opcode.CONTINUATION, {}, '80'],
    [Opcode.TEXT, {}, '81'],
    [Opcode.BINARY, {}, '82'],
    [Opcode.CLOSE, {}, '88'],
    [Opcode.PING, {}, '89'],
    [Opcode.PONG, {}, '8a'],
    [Opcode.TEXT, { fin: false }, '01'],
    [Opcode.CONTINUATION, { fin: false }, '00'],
    [Opcode.TEXT, { rsv1: true }, 'c1'],
    [Opcode.BINARY, { fin: false, rsv1: true }, '42'],
  ]
  for (const [opcode, options, first] of cases) {
    assert.is(frameHeader(opcode, 3, options).toString('hex'), `${first}03`, `opcode ${opcode} ${JSON.stringify(options)}`)
    assert.is(encodeFrame(opcode, hex('01 02 03'), options).toString('hex'), `${first}03010203`)
  }
})

encoder('server frames are never masked: the MASK bit is clear and no key follows', () => {
  for (const length of [0, 5, 125, 126, 65536]) {
    const encoded = encodeFrame(Opcode.TEXT, Buffer.alloc(length, 0x61))
    assert.is(encoded[1] & 0x80, 0, `${length} bytes`)
    assert.is(encoded.length, length + (length <= 125 ? 2 : length <= 0xffff ? 4 : 10))
  }
})

encoder('the RFC 6455 §5.7 examples, byte for byte', () => {
  const hello = Buffer.from('Hello')
  assert.is(encodeFrame(Opcode.TEXT, hello).toString('hex'), hex('81 05 48 65 6c 6c 6f').toString('hex'), 'unmasked text')
  assert.is(encodeFrame(Opcode.TEXT, hello, { mask: KEY }).toString('hex'), hex('81 85 37 fa 21 3d 7f 9f 4d 51 58').toString('hex'), 'masked text')
  assert.is(encodeFrame(Opcode.TEXT, Buffer.from('Hel'), { fin: false }).toString('hex'), hex('01 03 48 65 6c').toString('hex'), 'first fragment')
  assert.is(encodeFrame(Opcode.CONTINUATION, Buffer.from('lo')).toString('hex'), hex('80 02 6c 6f').toString('hex'), 'last fragment')
  assert.is(encodeFrame(Opcode.PING, hello).toString('hex'), hex('89 05 48 65 6c 6c 6f').toString('hex'), 'unmasked ping')
  assert.is(encodeFrame(Opcode.PONG, hello, { mask: KEY }).toString('hex'), hex('8a 85 37 fa 21 3d 7f 9f 4d 51 58').toString('hex'), 'masked pong')
  assert.is(frameHeader(Opcode.BINARY, 256).toString('hex'), hex('82 7e 01 00').toString('hex'), '256 bytes of binary')
  assert.is(frameHeader(Opcode.BINARY, 65536).toString('hex'), hex('82 7f 00 00 00 00 00 01 00 00').toString('hex'), '64 KiB of binary')
})

encoder('encodeFrame masks a copy of the payload, never the caller’s bytes', () => {
  const payload = Buffer.from('Hello')
  encodeFrame(Opcode.TEXT, payload, { mask: KEY })
  assert.is(payload.toString(), 'Hello')
  const long = Buffer.alloc(300, 0x55)
  const encoded = encodeFrame(Opcode.BINARY, long, { mask: KEY })
  assert.is(encoded.subarray(0, 8).toString('hex'), '82fe012c37fa213d')
  assert.ok(encoded.subarray(8).equals(xorReference(long, KEY, 0)))
  assert.ok(long.equals(Buffer.alloc(300, 0x55)))
})

encoder('closePayload is the code in two bytes and the reason in UTF-8', () => {
  assert.is(closePayload(1000).toString('hex'), '03e8')
  assert.is(closePayload(1001, 'bye').toString('hex'), '03e9627965')
  assert.is(closePayload(4999, 'é€').toString('hex'), '1387c3a9e282ac')
  assert.is(closePayload(1011, 'x'.repeat(123)).length, 125, 'a reason of 123 bytes fits a control frame')
  assert.throws(() => closePayload(1000, 'x'.repeat(124)), (e: unknown) => e instanceof RangeError)
  // Counted in bytes, not characters: 62 × é is 124 bytes.
  assert.is(closePayload(1000, 'é'.repeat(61)).length, 124)
  assert.throws(() => closePayload(1000, 'é'.repeat(62)), (e: unknown) => e instanceof RangeError)
})

encoder('isControl is true exactly for opcodes 8 to 15', () => {
  for (let opcode = 0; opcode < 16; opcode++) assert.is(isControl(opcode), opcode >= 8, `opcode ${opcode}`)
})

// ---- unmasking

const masking = suite('frame: unmask')

masking('unmask XORs with the key from every offset, for every length up to 13', () => {
  const key = hex('01 02 04 08')
  for (let offset = 0; offset < 4; offset++) {
    for (let length = 0; length <= 13; length++) {
      const data = Buffer.from(Array.from({ length }, (_, i) => (i * 37 + 11) & 0xff))
      const want = xorReference(data, key, offset)
      const got = Buffer.from(data)
      unmask(got, key, offset)
      assert.is(got.toString('hex'), want.toString('hex'), `offset ${offset}, ${length} bytes`)
    }
  }
  const once = hex('7f 9f 4d 51 58')
  unmask(once, KEY, 0)
  assert.is(once.toString(), 'Hello')
  const fromTwo = hex('9f 4d 51 58') // the masked "ello": starts at key byte 1
  unmask(fromTwo, KEY, 1)
  assert.is(fromTwo.toString(), 'ello')
  const offsetFive = hex('4d 51 58')
  unmask(offsetFive, KEY, 6) // offsets wrap modulo 4: 6 is 2
  assert.is(offsetFive.toString(), 'llo')
})

masking('keys with the top bit set in any byte unmask the same (the decoder keeps a key as a signed 32-bit number)', () => {
  for (const key of [hex('ff 80 01 fe'), hex('80 00 00 00'), hex('00 00 00 80'), hex('de ad be ef')]) {
    for (let offset = 0; offset < 8; offset++) {
      const data = Buffer.from(Array.from({ length: 11 }, (_, i) => (i * 53 + 7) & 0xff))
      const want = xorReference(data, key, offset)
      unmask(data, key, offset)
      assert.is(data.toString('hex'), want.toString('hex'), `key ${key.toString('hex')}, offset ${offset}`)
    }
    // Through the decoder, byte by byte: the key is read across four feeds, the payload across many.
    const payload = 'a payload long enough to be fed in many pieces'
    const frames = Buffer.concat([encodeFrame(Opcode.TEXT, Buffer.from(payload), { mask: key }), encodeFrame(Opcode.PING, Buffer.from('ping!'), { mask: key })])
    const decoded = decode(byteByByte(frames))
    assert.is(decoded.error, null)
    assert.equal(decoded.frames.map((frame) => Buffer.from(frame.payload, 'hex').toString()), [payload, 'ping!'], `key ${key.toString('hex')}`)
  }
})

masking('unmasking a payload in pieces equals unmasking it whole, split at every point', () => {
  const payload = Buffer.from('The quick brown fox jumps over the lazy dog')
  const masked = xorReference(payload, KEY, 0)
  for (let a = 0; a <= masked.length; a++) {
    for (let b = a; b <= masked.length; b++) {
      const data = Buffer.from(masked)
      unmask(data.subarray(0, a), KEY, 0)
      unmask(data.subarray(a, b), KEY, a)
      unmask(data.subarray(b), KEY, b)
      assert.is(data.toString(), payload.toString(), `pieces at ${a} and ${b}`)
    }
  }
})

// ---- the decoder: what comes out

const decoding = suite('frame: the decoder')

decoding('the RFC 6455 §5.7 masked examples decode the same whole, byte by byte and split anywhere', () => {
  assert.equal(shape(decodeEveryWay(hex('81 85 37 fa 21 3d 7f 9f 4d 51 58'))), { frames: [frame(Opcode.TEXT, HELLO)], error: null })
  assert.equal(shape(decodeEveryWay(hex('8a 85 37 fa 21 3d 7f 9f 4d 51 58'))), { frames: [frame(Opcode.PONG, HELLO)], error: null })
})

decoding('the RFC 6455 §5.7 unmasked examples decode the same every way on the client side', () => {
  const cases: [string, string, Omit<Frame, 'pieces'>[]][] = [
    ['a single-frame unmasked text message', '81 05 48 65 6c 6c 6f', [frame(Opcode.TEXT, HELLO)]],
    ['a fragmented unmasked text message', '01 03 48 65 6c 80 02 6c 6f', [frame(Opcode.TEXT, '48 65 6c', { fin: false }), frame(Opcode.CONTINUATION, '6c 6f')]],
    ['an unmasked ping', '89 05 48 65 6c 6c 6f', [frame(Opcode.PING, HELLO)]],
  ]
  for (const [name, input, frames] of cases) {
    assert.equal(shape(decodeEveryWay(hex(input), CLIENT)), { frames, error: null }, name)
  }
})

decoding('the unmasked examples masked by a client decode the same every way on the server side', () => {
  const bytes = Buffer.concat([
    encodeFrame(Opcode.TEXT, Buffer.from('Hel'), { fin: false, mask: KEY }),
    encodeFrame(Opcode.PING, Buffer.from('Hello'), { mask: KEY }),
    encodeFrame(Opcode.CONTINUATION, Buffer.from('lo'), { mask: KEY }),
  ])
  assert.is(bytes.toString('hex'), hex('01 83 37 fa 21 3d 7f 9f 4d  89 85 37 fa 21 3d 7f 9f 4d 51 58  80 82 37 fa 21 3d 5b 95').toString('hex'))
  assert.equal(shape(decodeEveryWay(bytes)), {
    frames: [frame(Opcode.TEXT, '48 65 6c', { fin: false }), frame(Opcode.PING, HELLO), frame(Opcode.CONTINUATION, '6c 6f')],
    error: null,
  })
})

decoding('the 256-byte and 64 KiB binary examples decode with their 16- and 64-bit lengths', () => {
  const small = Buffer.from(Array.from({ length: 256 }, (_, i) => i))
  const input256 = Buffer.concat([hex('82 7e 01 00'), small])
  assert.equal(shape(decodeEveryWay(input256, CLIENT)), { frames: [frame(Opcode.BINARY, small.toString('hex'))], error: null })

  const big = Buffer.alloc(65536)
  for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff
  const input64k = Buffer.concat([hex('82 7f 00 00 00 00 00 01 00 00'), big])
  const whole = decode([input64k], CLIENT)
  assert.equal(shape(whole), { frames: [frame(Opcode.BINARY, big.toString('hex'))], error: null })
  assert.is(whole.frames[0].pieces, 1, 'a payload all there comes out as one piece')
  // Masked by a client, in pieces of 1000 bytes.
  const masked = encodeFrame(Opcode.BINARY, big, { mask: KEY })
  assert.is(masked.subarray(0, 14).toString('hex'), '82ff000000000001000037fa213d')
  const pieces = split(masked, Array.from({ length: Math.floor(masked.length / 1000) }, (_, i) => (i + 1) * 1000))
  const inPieces = decode(pieces)
  assert.equal(shape(inPieces), shape(whole))
  assert.is(inPieces.frames[0].pieces, 66, 'one piece per feed that holds payload bytes')
})

decoding('a masked frame fed in two at every point unmasks right from every mask offset', () => {
  const payload = Buffer.from('0123456789abc')
  const bytes = encodeFrame(Opcode.BINARY, payload, { mask: KEY })
  for (let cut = 6; cut < bytes.length; cut++) {
    for (let second = cut + 1; second <= bytes.length; second++) {
      const got = decode(split(bytes, second < bytes.length ? [cut, second] : [cut]))
      assert.is(Buffer.from(got.frames[0].payload, 'hex').toString(), payload.toString(), `pieces at ${cut} and ${second}`)
    }
  }
})

decoding('a frame fed in pieces comes out in pieces: first and last flags right, data adding up to the payload', () => {
  const payload = Buffer.from('abcdefghij')
  const bytes = encodeFrame(Opcode.TEXT, payload, { mask: KEY })
  const decoder = new FrameDecoder(SERVER)
  const seen: [boolean, boolean, string][] = []
  for (const part of split(bytes, [3, 8, 9, 12, 13])) {
    decoder.feed(Buffer.from(part))
    for (let event = decoder.next(); event.type !== 'need-data'; event = decoder.next()) {
      assert.is(event.type, 'frame')
      if (event.type === 'frame') seen.push([event.first, event.last, event.data.toString()])
    }
  }
  // Header (2) + key (4) = 6 bytes: the pieces fed start at 0, 3, 8, 9, 12, 13.
  assert.equal(seen, [
    [true, false, 'ab'],
    [false, false, 'c'],
    [false, false, 'def'],
    [false, false, 'g'],
    [false, true, 'hij'],
  ])
})

decoding('an empty data frame and an empty control frame come out as one piece, first and last', () => {
  for (const opcode of [Opcode.TEXT, Opcode.BINARY, Opcode.CONTINUATION, Opcode.PING, Opcode.PONG, Opcode.CLOSE]) {
    const bytes = encodeFrame(opcode, Buffer.alloc(0), { mask: KEY, fin: true })
    assert.is(bytes.toString('hex'), `${(0x80 | opcode).toString(16)}8037fa213d`)
    const got = decodeEveryWay(bytes)
    assert.equal(shape(got), { frames: [frame(opcode, '')], error: null })
    assert.is(got.frames[0].pieces, 1)
  }
})

decoding('control frames come out whole even when fed one byte at a time, between the pieces of a data frame', () => {
  const close = closePayload(1000, 'x'.repeat(123))
  const bytes = Buffer.concat([
    encodeFrame(Opcode.BINARY, Buffer.from('abcdef'), { fin: false, mask: KEY }),
    encodeFrame(Opcode.PING, Buffer.alloc(125, 0x70), { mask: KEY }),
    encodeFrame(Opcode.CONTINUATION, Buffer.from('gh'), { mask: KEY }),
    encodeFrame(Opcode.CLOSE, close, { mask: KEY }),
  ])
  const got = decode(byteByByte(bytes))
  assert.equal(shape(got), {
    frames: [
      frame(Opcode.BINARY, Buffer.from('abcdef').toString('hex'), { fin: false }),
      frame(Opcode.PING, '70'.repeat(125)),
      frame(Opcode.CONTINUATION, Buffer.from('gh').toString('hex')),
      frame(Opcode.CLOSE, close.toString('hex')),
    ],
    error: null,
  })
  assert.equal(got.frames.map((f) => f.pieces), [6, 1, 2, 1], 'data frames byte by byte, control frames whole')
})

decoding('RSV1 on the first frame of a data message comes out when deflate is allowed', () => {
  const options = { ...SERVER, allowRsv1: true }
  const bytes = Buffer.concat([
    encodeFrame(Opcode.TEXT, hex('f2 48 cd'), { rsv1: true, fin: false, mask: KEY }),
    encodeFrame(Opcode.CONTINUATION, hex('c9 c9 07 00'), { mask: KEY }),
    encodeFrame(Opcode.BINARY, hex('00'), { rsv1: true, mask: KEY }),
  ])
  assert.equal(shape(decodeEveryWay(bytes, options)), {
    frames: [
      frame(Opcode.TEXT, 'f2 48 cd', { fin: false, rsv1: true }),
      frame(Opcode.CONTINUATION, 'c9 c9 07 00'),
      frame(Opcode.BINARY, '00', { rsv1: true }),
    ],
    error: null,
  })
})

decoding('allowRsv1 can be switched on after the decoder is made (once deflate is negotiated)', () => {
  const decoder = new FrameDecoder(SERVER)
  decoder.allowRsv1 = true
  decoder.feed(encodeFrame(Opcode.TEXT, hex('00'), { rsv1: true, mask: KEY }))
  const event = decoder.next()
  assert.is(event.type, 'frame')
  assert.ok(event.type === 'frame' && event.rsv1)
})

decoding('an idle decoder reused for another connection reads with the new limits; a busy one refuses to be reused', () => {
  const decoder = new FrameDecoder({ ...SERVER, allowRsv1: true, maxPayload: 1000 })
  decoder.feed(encodeFrame(Opcode.TEXT, hex('00'), { rsv1: true, mask: KEY }).subarray(0, 3))
  assert.is(decoder.next().type, 'need-data')
  assert.not.ok(decoder.idle, 'half a header is held')
  assert.throws(() => decoder.reuse(false, 10), /idle/)
  decoder.feed(encodeFrame(Opcode.TEXT, hex('00'), { rsv1: true, mask: KEY }).subarray(3))
  assert.is(decoder.next().type, 'frame')
  assert.is(decoder.next().type, 'need-data')
  assert.ok(decoder.idle)

  decoder.reuse(false, 10)
  decoder.feed(encodeFrame(Opcode.BINARY, Buffer.alloc(10), { mask: KEY }))
  const atLimit = decoder.next()
  assert.ok(atLimit.type === 'frame' && atLimit.length === 10, 'a frame at the new limit is read')
  assert.is(decoder.next().type, 'need-data')
  decoder.feed(encodeFrame(Opcode.BINARY, Buffer.alloc(11), { mask: KEY }))
  const over = decoder.next()
  assert.ok(over.type === 'error' && over.error.closeCode === 1009, 'a frame over the new limit: 1009')

  const plain = new FrameDecoder({ ...SERVER, allowRsv1: true })
  plain.reuse(false, SERVER.maxPayload)
  plain.feed(encodeFrame(Opcode.TEXT, hex('00'), { rsv1: true, mask: KEY }))
  const rsv1 = plain.next()
  assert.ok(rsv1.type === 'error' && rsv1.error.closeCode === 1002 && rsv1.error.code === 'RSV1_SET', 'RSV1 is refused once compression is off')
})

decoding('a payload of exactly maxPayload bytes is read; the 16-bit and 64-bit lengths at the limit too', () => {
  for (const max of [125, 126, 65535, 65536]) {
    const bytes = encodeFrame(Opcode.BINARY, Buffer.alloc(max, 1), { mask: KEY })
    const got = decode([bytes], { ...SERVER, maxPayload: max })
    assert.is(got.error, null, `${max} bytes against a limit of ${max}`)
    assert.is(got.frames[0].length, max)
  }
})

decoding('the decoder lets go of its input once everything fed is consumed', () => {
  const decoder = new FrameDecoder(SERVER)
  const bytes = encodeFrame(Opcode.TEXT, Buffer.from('Hello'), { mask: KEY })
  decoder.feed(Buffer.from(bytes.subarray(0, 4)))
  assert.is(decoder.next().type, 'need-data')
  assert.is(decoder.buffered, 0, 'the header bytes are gathered, not kept in the input')
  decoder.feed(Buffer.from(bytes.subarray(4)))
  assert.is(decoder.buffered, 7)
  assert.is(decoder.next().type, 'frame')
  assert.is(decoder.next().type, 'need-data')
  assert.is(decoder.buffered, 0)
})

// ---- the decoder: what it refuses

const refusing = suite('frame: the decoder refuses')

interface Refusal {
  name: string
  input: string
  closeCode: number
  code: string
  options?: Partial<DecoderOptions>
}

const REFUSALS: Refusal[] = [
  { name: 'an unmasked frame from a client', input: '81 05 48 65 6c 6c 6f', closeCode: 1002, code: 'UNMASKED_FRAME' },
  { name: 'an unmasked ping from a client', input: '89 00', closeCode: 1002, code: 'UNMASKED_FRAME' },
  { name: 'RSV1 without deflate', input: 'c1 85 37 fa 21 3d 7f 9f 4d 51 58', closeCode: 1002, code: 'RSV1_SET' },
  { name: 'RSV1 on a continuation frame, with deflate', input: '01 80 37 fa 21 3d  c0 80 37 fa 21 3d', closeCode: 1002, code: 'RSV1_SET', options: { allowRsv1: true } },
  { name: 'RSV1 on a ping, with deflate', input: 'c9 80 37 fa 21 3d', closeCode: 1002, code: 'RSV1_SET', options: { allowRsv1: true } },
  { name: 'RSV1 on a close, with deflate', input: 'c8 80 37 fa 21 3d', closeCode: 1002, code: 'RSV1_SET', options: { allowRsv1: true } },
  { name: 'RSV2', input: 'a1 80 37 fa 21 3d', closeCode: 1002, code: 'RSV_SET' },
  { name: 'RSV3', input: '91 80 37 fa 21 3d', closeCode: 1002, code: 'RSV_SET' },
  { name: 'RSV2 with deflate', input: 'a1 80 37 fa 21 3d', closeCode: 1002, code: 'RSV_SET', options: { allowRsv1: true } },
  { name: 'all three RSV bits', input: 'f1 80 37 fa 21 3d', closeCode: 1002, code: 'RSV_SET', options: { allowRsv1: true } },
  { name: 'a ping of 126 bytes (a 16-bit length)', input: '89 fe 00 7e', closeCode: 1002, code: 'CONTROL_TOO_LONG' },
  { name: 'a close with a 64-bit length', input: '88 ff 00 00 00 00 00 00 00 05', closeCode: 1002, code: 'CONTROL_TOO_LONG' },
  { name: 'a pong with a 16-bit length of 5', input: '8a fe 00 05', closeCode: 1002, code: 'CONTROL_TOO_LONG' },
  { name: 'a fragmented ping (FIN clear)', input: '09 80 37 fa 21 3d', closeCode: 1002, code: 'FRAGMENTED_CONTROL' },
  { name: 'a fragmented close (FIN clear)', input: '08 80 37 fa 21 3d', closeCode: 1002, code: 'FRAGMENTED_CONTROL' },
  { name: 'a 64-bit length with its top bit set', input: '82 ff 80 00 00 00 00 00 00 00', closeCode: 1002, code: 'LENGTH_TOP_BIT' },
  { name: 'a 64-bit length of 2^64 - 1', input: '82 ff ff ff ff ff ff ff ff ff', closeCode: 1002, code: 'LENGTH_TOP_BIT' },
  { name: 'a 7-bit length over maxPayload', input: '82 8b', closeCode: 1009, code: 'FRAME_TOO_BIG', options: { maxPayload: 10 } },
  { name: 'a 16-bit length over maxPayload', input: '82 fe 03 e9', closeCode: 1009, code: 'FRAME_TOO_BIG', options: { maxPayload: 1000 } },
  { name: 'a 64-bit length over maxPayload', input: '82 ff 00 00 00 00 00 01 00 01', closeCode: 1009, code: 'FRAME_TOO_BIG', options: { maxPayload: 65536 } },
  { name: 'a frame after a good frame', input: '81 82 37 fa 21 3d 7f 9f  81 05', closeCode: 1002, code: 'UNMASKED_FRAME' },
]
for (const opcode of [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]) {
  const b0 = (0x80 | opcode).toString(16)
  REFUSALS.push({ name: `reserved opcode ${opcode}`, input: `${b0} 80 37 fa 21 3d`, closeCode: 1002, code: 'RESERVED_OPCODE' })
  const withRsv1 = (0xc0 | opcode).toString(16)
  REFUSALS.push({ name: `reserved opcode ${opcode} with RSV1 and deflate`, input: `${withRsv1} 80 37 fa 21 3d`, closeCode: 1002, code: 'RESERVED_OPCODE', options: { allowRsv1: true } })
}

for (const r of REFUSALS) {
  refusing(`${r.name}: ${r.closeCode} ${r.code}, whole, byte by byte and split anywhere`, () => {
    const got = decodeEveryWay(hex(r.input), { ...SERVER, ...r.options })
    assert.equal(got.error, { closeCode: r.closeCode, code: r.code })
  })
}

refusing('a client-side decoder refuses a masked frame from the server with 1002 MASKED_FRAME', () => {
  for (const input of ['81 85 37 fa 21 3d 7f 9f 4d 51 58', '8a 85 37 fa 21 3d 7f 9f 4d 51 58', '88 80 00 00 00 00']) {
    assert.equal(decodeEveryWay(hex(input), CLIENT).error, { closeCode: 1002, code: 'MASKED_FRAME' }, input)
  }
})

/** Feeds the bytes one at a time; the index of the byte after which next() said error, and the decoder. */
function errorAt(input: Buffer, options: DecoderOptions): { at: number; decoder: FrameDecoder; error: WsError } {
  const decoder = new FrameDecoder(options)
  for (let i = 0; i < input.length; i++) {
    decoder.feed(Buffer.from([input[i]]))
    const event = decoder.next()
    if (event.type === 'error') return { at: i, decoder, error: event.error }
    assert.is(event.type, 'need-data', `byte ${i}: only a header so far`)
    assert.ok(decoder.buffered <= 1, `byte ${i}: nothing but the byte just fed is held`)
  }
  throw new Error('no error')
}

refusing('a frame declaring 1 GiB is refused with 1009 on its last length byte, before any payload or key', () => {
  const header = hex('82 ff 00 00 00 00 40 00 00 00')
  const { at, decoder, error } = errorAt(header, { ...SERVER, maxPayload: 64 * 1024 * 1024 })
  assert.is(at, 9)
  assert.is(error.closeCode, 1009)
  assert.is(error.code, 'FRAME_TOO_BIG')
  assert.is(decoder.buffered, 0)
})

refusing('a frame declaring 2^53 - 1 bytes is refused with 1009 on its last length byte', () => {
  const header = hex('82 ff 00 1f ff ff ff ff ff ff')
  const { at, decoder, error } = errorAt(header, SERVER)
  assert.is(at, 9)
  assert.equal([error.closeCode, error.code], [1009, 'FRAME_TOO_BIG'])
  assert.is(decoder.buffered, 0)
  // Whole, with a key and payload bytes after it: the same error, and none of it kept.
  const decoder2 = new FrameDecoder(SERVER)
  decoder2.feed(Buffer.concat([header, KEY, Buffer.alloc(1000)]))
  const event = decoder2.next()
  assert.ok(event.type === 'error' && event.error.code === 'FRAME_TOO_BIG')
  assert.is(decoder2.buffered, 0)
})

refusing('a 16-bit length over the limit is refused on its last length byte', () => {
  const { at, error } = errorAt(hex('82 fe 04 00'), { ...SERVER, maxPayload: 1023 })
  assert.is(at, 3)
  assert.equal([error.closeCode, error.code], [1009, 'FRAME_TOO_BIG'])
})

refusing('after an error the decoder stays failed: the same error again, and later feeds are ignored', () => {
  const decoder = new FrameDecoder(SERVER)
  decoder.feed(hex('81 05 48 65 6c 6c 6f'))
  const first = decoder.next()
  assert.ok(first.type === 'error' && first.error.code === 'UNMASKED_FRAME')
  decoder.feed(encodeFrame(Opcode.TEXT, Buffer.from('Hello'), { mask: KEY }))
  assert.is(decoder.buffered, 0, 'the bytes fed after the error are not kept')
  const again = decoder.next()
  assert.is(again, first, 'the same failure')
  assert.is(decoder.next(), first)
})

encoder.run()
masking.run()
decoding.run()
refusing.run()

// SHA-1 as the handshake computes it (src/ws/sha1.ts): the FIPS 180-4 example vectors,
// then every length around the padding boundaries against node:crypto's OpenSSL.

import { createHash, randomBytes } from 'node:crypto'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { sha1 } from '../../src/ws/sha1.ts'

const Sha1 = suite('sha1')

Sha1('the FIPS 180-4 examples (one block, two blocks) and the empty message', () => {
  assert.is(sha1(Buffer.from('abc')).toString('hex'), 'a9993e364706816aba3e25717850c26c9cd0d89d')
  assert.is(
    sha1(Buffer.from('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')).toString('hex'),
    '84983e441c3bd26ebaae4aa1f95129e5e54670f1',
  )
  assert.is(sha1(Buffer.alloc(0)).toString('hex'), 'da39a3ee5e6b4b0d3255bfef95601890afd80709')
})

Sha1('a million "a"s: lengths past 2^23 bits', () => {
  assert.is(sha1(Buffer.alloc(1_000_000, 'a')).toString('hex'), '34aa973cd4c4daa4f61eeb2bdbad27316534016f')
})

Sha1('every length from 0 to 200 bytes (padding falls in the same or the next block) agrees with OpenSSL', () => {
  for (let length = 0; length <= 200; length++) {
    const message = randomBytes(length)
    assert.is(sha1(message).toString('hex'), createHash('sha1').update(message).digest('hex'), `length ${length}`)
  }
})

Sha1('bytes with the top bit set are bytes, not signed numbers', () => {
  const message = Buffer.alloc(130, 0xff)
  assert.is(sha1(message).toString('hex'), createHash('sha1').update(message).digest('hex'))
})

Sha1.run()

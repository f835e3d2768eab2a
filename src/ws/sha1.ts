// SHA-1 (FIPS 180-4 §6.1; RFC 3174 has the same algorithm with C code), pure, for the
// one place WebSocket needs it: Sec-WebSocket-Accept = base64(SHA-1(key + GUID)).
//
// Why not node:crypto's createHash? Each call makes an OpenSSL context in native memory
// that lives until the garbage collector frees the Hash object. Made once per handshake,
// thousands at a time, those short-lived native blocks sit between the sockets' long-lived
// ones and stay in the process's memory as holes: measured at about 300 bytes per idle
// connection (bench:ws's memory figure). Hashing 60 bytes in JavaScript allocates nothing
// outside the JavaScript heap, and costs about a microsecond.
//
// SHA-1 is broken for collision resistance; here it is only the RFC's fixed way to prove
// that the server read the handshake, not a security measure.

import { Buffer } from 'node:buffer'

/** The message schedule, reused: no allocation per hash. */
const W = new Int32Array(80)

/** The 20-byte SHA-1 digest of `message`. */
export function sha1(message: Uint8Array): Buffer {
  let h0 = 0x67452301
  let h1 = 0xefcdab89 | 0
  let h2 = 0x98badcfe | 0
  let h3 = 0x10325476
  let h4 = 0xc3d2e1f0 | 0
  const length = message.length
  // Padding (§5.1.1): a 1 bit, zeros, then the length in bits as 64 bits, to a multiple of 64 bytes.
  const blocks = ((length + 8) >>> 6) + 1
  for (let block = 0; block < blocks; block++) {
    const start = block * 64
    for (let i = 0; i < 16; i++) {
      let word = 0
      for (let j = 0; j < 4; j++) {
        const at = start + i * 4 + j
        word = (word << 8) | (at < length ? message[at] : at === length ? 0x80 : 0)
      }
      W[i] = word
    }
    if (block === blocks - 1) {
      W[14] = Math.floor(length / 0x20000000) // the bit length's high 32 bits
      W[15] = length << 3
    }
    for (let t = 16; t < 80; t++) {
      const x = W[t - 3] ^ W[t - 8] ^ W[t - 14] ^ W[t - 16]
      W[t] = (x << 1) | (x >>> 31)
    }
    let a = h0
    let b = h1
    let c = h2
    let d = h3
    let e = h4
    for (let t = 0; t < 80; t++) {
      let f: number
      let k: number
      if (t < 20) {
        f = (b & c) | (~b & d)
        k = 0x5a827999
      } else if (t < 40) {
        f = b ^ c ^ d
        k = 0x6ed9eba1
      } else if (t < 60) {
        f = (b & c) | (b & d) | (c & d)
        k = 0x8f1bbcdc | 0
      } else {
        f = b ^ c ^ d
        k = 0xca62c1d6 | 0
      }
      const next = (((a << 5) | (a >>> 27)) + f + e + k + W[t]) | 0
      e = d
      d = c
      c = (b << 30) | (b >>> 2)
      b = a
      a = next
    }
    h0 = (h0 + a) | 0
    h1 = (h1 + b) | 0
    h2 = (h2 + c) | 0
    h3 = (h3 + d) | 0
    h4 = (h4 + e) | 0
  }
  const digest = Buffer.allocUnsafe(20)
  digest.writeInt32BE(h0, 0)
  digest.writeInt32BE(h1, 4)
  digest.writeInt32BE(h2, 8)
  digest.writeInt32BE(h3, 12)
  digest.writeInt32BE(h4, 16)
  return digest
}

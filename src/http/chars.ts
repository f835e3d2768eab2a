// Byte classes of RFC 9110 §5.6 and RFC 9112, as 256-entry lookup tables so that
// the parser's inner loops do one array read per byte, and the checks of whole strings
// built on them.

function table(accepts: (byte: number) => boolean): Uint8Array {
  const t = new Uint8Array(256)
  for (let b = 0; b < 256; b++) t[b] = accepts(b) ? 1 : 0
  return t
}

const isAlpha = (b: number) => (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)
const isDigit = (b: number) => b >= 0x30 && b <= 0x39

// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
//         "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA          (RFC 9110 §5.6.2)
export const TOKEN = table((b) => isAlpha(b) || isDigit(b) || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(b)))

/** Whether a string is a token: one tchar at least, nothing else (field names, methods, parameters). */
export function isToken(text: string): boolean {
  if (text.length === 0) return false
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code > 0xff || TOKEN[code] !== 1) return false
  }
  return true
}

/** OWS, the optional whitespace around field values and list elements: SP / HTAB (RFC 9110 §5.6.3). */
export function isOws(code: number): boolean {
  return code === 0x20 || code === 0x09
}

// The request-target is ASCII without spaces or controls (RFC 9112 §3.2). We accept
// every VCHAR, as llhttp and node:http do (quotes and "|" appear in real traffic);
// bytes >= 0x80 (raw UTF-8) are refused: they must be percent-encoded.
export const TARGET = table((b) => b >= 0x21 && b <= 0x7e)

// field-value = *field-content; field-vchar = VCHAR / obs-text; SP and HTAB inside.
// Everything else below 0x20, and DEL, is a control and is refused (RFC 9110 §5.5).
export const FIELD_VALUE = table((b) => b === 0x09 || (b >= 0x20 && b !== 0x7f))

// qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text      (RFC 9110 §5.6.4)
export const QDTEXT = table((b) => b === 0x09 || b === 0x20 || b === 0x21 || (b >= 0x23 && b <= 0x5b) || (b >= 0x5d && b !== 0x7f))

// The value of one hexadecimal digit, or -1.
export const HEX_VALUE = new Int8Array(256).fill(-1)
for (let d = 0; d < 10; d++) HEX_VALUE[0x30 + d] = d
for (let d = 0; d < 6; d++) HEX_VALUE[0x41 + d] = HEX_VALUE[0x61 + d] = 10 + d

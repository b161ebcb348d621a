/**
 * JSON as Go's `encoding/json` writes it, for values Go decoded into `interface{}`: what the real
 * sidecar stores when it saves a state value (it decodes the request's `value`, then marshals it
 * again). Object keys come out sorted, `<`, `>` and `&` are escaped, numbers are float64 written the
 * way Go writes them (which, for float64, is the way JavaScript writes numbers), and strings keep
 * their quotes. Not a general JSON library: just enough to make the test sidecar store what Dapr stores.
 */

const HEX = '0123456789abcdef'

const goString = (s: string): string => {
  let out = '"'
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        out += s.slice(i, i + 2)
        i++
      } else {
        out += '\\ufffd' // Go replaces invalid UTF-16 (a lone surrogate) with U+FFFD
      }
      continue
    }
    if (c >= 0xdc00 && c <= 0xdfff) {
      out += '\\ufffd'
      continue
    }
    switch (c) {
      case 0x22:
        out += '\\"'
        continue
      case 0x5c:
        out += '\\\\'
        continue
      case 0x0a:
        out += '\\n'
        continue
      case 0x0d:
        out += '\\r'
        continue
      case 0x09:
        out += '\\t'
        continue
      case 0x08:
        out += '\\b'
        continue
      case 0x0c:
        out += '\\f'
        continue
    }
    if (c < 0x20 || c === 0x3c || c === 0x3e || c === 0x26 || c === 0x2028 || c === 0x2029) {
      out += `\\u${HEX[(c >> 12) & 15]}${HEX[(c >> 8) & 15]}${HEX[(c >> 4) & 15]}${HEX[c & 15]}`
    } else {
      out += s.charAt(i)
    }
  }
  return `${out}"`
}

const goNumber = (n: number): string => (Object.is(n, -0) ? '-0' : String(n))

/** Compares as Go compares strings: by UTF-8 bytes, which is code point order. */
const byCodePoint = (a: string, b: string): number => {
  const x = Buffer.from(a, 'utf8')
  const y = Buffer.from(b, 'utf8')
  return Buffer.compare(x, y)
}

/** `json.Marshal` of a value that `json.Unmarshal` put in an `interface{}`. */
export const goMarshal = (value: unknown): string => {
  if (value === null) return 'null'
  switch (typeof value) {
    case 'string':
      return goString(value)
    case 'number':
      return goNumber(value)
    case 'boolean':
      return value ? 'true' : 'false'
    case 'object':
      if (Array.isArray(value)) return `[${value.map(goMarshal).join(',')}]`
      return `{${Object.keys(value)
        .sort(byCodePoint)
        .map((key) => `${goString(key)}:${goMarshal((value as Record<string, unknown>)[key])}`)
        .join(',')}}`
    default:
      return 'null'
  }
}

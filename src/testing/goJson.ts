/**
 * JSON as Dapr's state components write it. `goMarshal` is Go's `encoding/json`, which the in-memory
 * component uses; `jsoniterMarshal` is json-iterator's `ConfigFastest`, which the Redis component uses.
 *
 * `goMarshal`: JSON as Go's `encoding/json` writes it, for values Go decoded into `interface{}`: what the real
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

/** A marshaller of decoded JSON values from a string writer, a number writer and a member order. */
const marshaller = (
  writeString: (s: string) => string,
  writeNumber: (n: number) => string,
  order: (keys: Array<string>) => Array<string>,
): ((value: unknown) => string) => {
  const marshal = (value: unknown): string => {
    if (value === null) return 'null'
    switch (typeof value) {
      case 'string':
        return writeString(value)
      case 'number':
        return writeNumber(value)
      case 'boolean':
        return value ? 'true' : 'false'
      case 'object':
        if (Array.isArray(value)) return `[${value.map(marshal).join(',')}]`
        return `{${order(Object.keys(value))
          .map((key) => `${writeString(key)}:${marshal((value as Record<string, unknown>)[key])}`)
          .join(',')}}`
      default:
        return 'null'
    }
  }
  return marshal
}

/** `json.Marshal` of a value that `json.Unmarshal` put in an `interface{}`. */
export const goMarshal = marshaller(goString, goNumber, (keys) => keys.sort(byCodePoint))

/** json-iterator's string writer without HTML escaping: only `"`, `\\` and control characters. */
const jsoniterString = (s: string): string => {
  let out = '"'
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0xd800 && c <= 0xdbff && s.charCodeAt(i + 1) >= 0xdc00 && s.charCodeAt(i + 1) <= 0xdfff) {
      out += s.slice(i, i + 2)
      i++
    } else if (c >= 0xd800 && c <= 0xdfff) {
      out += '\\ufffd'
    } else if (c === 0x22) {
      out += '\\"'
    } else if (c === 0x5c) {
      out += '\\\\'
    } else if (c === 0x0a) {
      out += '\\n'
    } else if (c === 0x0d) {
      out += '\\r'
    } else if (c === 0x09) {
      out += '\\t'
    } else if (c < 0x20) {
      out += `\\u00${HEX[c >> 4]}${HEX[c & 15]}`
    } else {
      out += s.charAt(i)
    }
  }
  return `${out}"`
}

/**
 * json-iterator's lossy float writer (`MarshalFloatWith6Digits`): up to 0x4ffffff, six decimals at
 * most, trailing zeros cut (so `1e-7` is written `0` and `-0` is `0`); above, Go's shortest form.
 */
const jsoniterNumber = (n: number): string => {
  const sign = n < 0 ? '-' : ''
  const abs = Math.abs(n)
  if (abs > 0x4ffffff) return sign + String(abs) // JavaScript's shortest form is Go's for these
  const scaled = Math.floor(abs * 1e6 + 0.5)
  const whole = Math.floor(scaled / 1e6)
  const fraction = scaled % 1e6
  if (fraction === 0) return `${sign}${whole}`
  return `${sign}${whole}.${String(fraction).padStart(6, '0').replace(/0+$/, '')}`
}

/**
 * `ConfigFastest.Marshal` of a value Go decoded into `interface{}`. Object keys come out in Go's map
 * order, which is random by design; insertion order is one of the orders Go may produce.
 */
export const jsoniterMarshal = marshaller(jsoniterString, jsoniterNumber, (keys) => keys)

/**
 * Go's `json.Decoder.Decode` of a request body, for its error texts: `EOF` for an empty body,
 * `unexpected EOF` for one cut short (as the body-size limit cuts it), otherwise a syntax error.
 */
export const goDecode = (text: string): { readonly value: unknown } | { readonly error: string } => {
  if (text.trim() === '') return { error: 'EOF' }
  try {
    return { value: JSON.parse(text) as unknown }
  } catch (error) {
    const message = (error as Error).message
    const position = /position (\d+)/.exec(message)
    const at = position === null ? text.length : Number(position[1])
    if (/end of JSON input/.test(message) || at >= text.trimEnd().length) return { error: 'unexpected EOF' }
    return { error: `invalid character '${text.charAt(at)}' looking for beginning of value` }
  }
}

/** How Go's JSON errors name the type of a decoded value. */
export const goTypeName = (value: unknown): string =>
  value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value === 'boolean' ? 'bool' : typeof value === 'object' ? 'object' : typeof value

/**
 * Python's `json.dumps(value, sort_keys=True)` (ensure_ascii, default separators), reproduced byte
 * for byte for the values both languages share, plus a collision-free encoding of the values only
 * JavaScript has. It exists for one purpose: the hash input of a cache key.
 *
 * Shared values: `null`, booleans, strings, numbers (whole numbers in the safe-integer range are
 * Python ints; every other number, `-0` included, is a Python float in `repr` form, so `-0` keys as
 * Python's `-0.0`), arrays and plain objects.
 * JavaScript-only values become one-key objects whose key starts with NUL (`{"\u0000Date": ...}`);
 * an object key that itself starts with NUL gets one more, so no plain object can look like a tag.
 *
 * It never throws: what cannot be keyed is reported as a message with the path where it was found.
 */

import { describeInstance, kindOf } from './kinds.js'

export type Encoded = { readonly ok: true; readonly json: string } | { readonly ok: false; readonly message: string }

const HEX = '0123456789abcdef'

/** A Python-escaped JSON string literal (`ensure_ascii=True`). */
export const pythonString = (s: string): string => {
  let out = '"'
  let start = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0x20 && c <= 0x7e && c !== 0x22 && c !== 0x5c) continue
    out += s.slice(start, i)
    start = i + 1
    switch (c) {
      case 0x22:
        out += '\\"'
        break
      case 0x5c:
        out += '\\\\'
        break
      case 0x0a:
        out += '\\n'
        break
      case 0x0d:
        out += '\\r'
        break
      case 0x09:
        out += '\\t'
        break
      case 0x08:
        out += '\\b'
        break
      case 0x0c:
        out += '\\f'
        break
      default:
        out += `\\u${HEX[(c >> 12) & 15]}${HEX[(c >> 8) & 15]}${HEX[(c >> 4) & 15]}${HEX[c & 15]}`
    }
  }
  return `${out}${s.slice(start)}"`
}

/** Python's `repr(float)`: shortest round-trip digits, fixed notation for 1e-4 <= |x| < 1e16. */
export const pythonFloat = (x: number): string => {
  if (Number.isNaN(x)) return 'NaN'
  if (x === Number.POSITIVE_INFINITY) return 'Infinity'
  if (x === Number.NEGATIVE_INFINITY) return '-Infinity'
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0'
  const sign = x < 0 ? '-' : ''
  const [mantissa = '', exponent = '0'] = Math.abs(x).toExponential().split('e')
  const digits = mantissa.replace('.', '')
  const decpt = Number(exponent) + 1 // value = 0.digits x 10^decpt
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) return `${sign}0.${'0'.repeat(-decpt)}${digits}`
    if (decpt >= digits.length) return `${sign}${digits}${'0'.repeat(decpt - digits.length)}.0`
    return `${sign}${digits.slice(0, decpt)}.${digits.slice(decpt)}`
  }
  const e = decpt - 1
  const shown = digits.length === 1 ? digits : `${digits[0] ?? ''}.${digits.slice(1)}`
  return `${sign}${shown}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`
}

const pythonNumber = (x: number): string =>
  Number.isInteger(x) && Math.abs(x) <= Number.MAX_SAFE_INTEGER && !Object.is(x, -0) ? String(x) : pythonFloat(x)

/** Compares strings by Unicode code point, as Python sorts `str`. */
export const byCodePoint = (a: string, b: string): number => {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i) ?? 0
    const y = b.codePointAt(i) ?? 0
    if (x !== y) return x - y
    if (x > 0xffff) i++
  }
  return a.length - b.length
}

const tag = (name: string, json: string): string => `{${pythonString(`\u0000${name}`)}: ${json}}`


class Unkeyable {
  constructor(readonly message: string) {}
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')

const encode = (value: unknown, path: string, seen: Set<object>): string => {
  switch (typeof value) {
    case 'string':
      return pythonString(value)
    case 'number':
      return pythonNumber(value)
    case 'boolean':
      return value ? 'true' : 'false'
    case 'undefined':
      return tag('undefined', '0')
    case 'bigint':
      return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
        ? tag('BigInt', pythonString(value.toString()))
        : value.toString()
    case 'symbol':
      throw new Unkeyable(`${path}: cannot key a symbol`)
    case 'function':
      throw new Unkeyable(`${path}: cannot key a function`)
  }
  if (value === null) return 'null'
  const object = value as object
  if (seen.has(object)) throw new Unkeyable(`${path}: cannot key a circular structure`)
  seen.add(object)
  try {
    return encodeObject(object, path, seen)
  } finally {
    seen.delete(object)
  }
}

const encodeObject = (value: object, path: string, seen: Set<object>): string => {
  const kind = Array.isArray(value) ? 'Array' : kindOf(value)
  if (kind === 'Array') {
    const items = value as ReadonlyArray<unknown>
    const parts: Array<string> = []
    for (let i = 0; i < items.length; i++) parts.push(encode(items[i], `${path}[${i}]`, seen))
    return `[${parts.join(', ')}]`
  }
  if (kind === 'Date') {
    const date = value as Date
    return tag('Date', Number.isNaN(date.getTime()) ? 'null' : pythonString(date.toISOString()))
  }
  if (kind === 'Uint8Array' || Buffer.isBuffer(value)) return tag('Uint8Array', pythonString(hex(value as Uint8Array)))
  if (kind === 'Map') {
    const entries = Array.from(value as Map<unknown, unknown>, ([k, v], i) => [encode(k, `${path}.<map key ${i}>`, seen), v] as const)
      .sort((a, b) => byCodePoint(a[0], b[0]))
      .map(([k, v]) => `[${k}, ${encode(v, `${path}.<map value ${k}>`, seen)}]`)
    return tag('Map', `[${entries.join(', ')}]`)
  }
  if (kind === 'Set') {
    const elements = Array.from(value as Set<unknown>, (v, i) => encode(v, `${path}.<set element ${i}>`, seen)).sort(byCodePoint)
    return tag('Set', `[${elements.join(', ')}]`)
  }
  if (kind !== 'Object') {
    const toJSON = (value as { toJSON?: unknown }).toJSON
    if (typeof toJSON === 'function') return encode(toJSON.call(value) as unknown, path, seen)
    throw new Unkeyable(`${path}: cannot key ${describeInstance(value)} (give it a toJSON method, or pass plain data)`)
  }
  if (Object.getOwnPropertySymbols(value).some((s) => Object.prototype.propertyIsEnumerable.call(value, s))) {
    throw new Unkeyable(`${path}: cannot key an object with symbol keys`)
  }
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    return encode((value as { toJSON: () => unknown }).toJSON(), path, seen)
  }
  const keys = Object.keys(value).sort(byCodePoint)
  const parts = keys.map((key) => {
    const written = key.startsWith('\u0000') ? `\u0000${key}` : key
    return `${pythonString(written)}: ${encode((value as Record<string, unknown>)[key], `${path}.${key}`, seen)}`
  })
  return `{${parts.join(', ')}}`
}

/** The Python `json.dumps({"args": args, "kwargs": {}}, sort_keys=True)` of a call's arguments. */
export const encodeArgs = (args: ReadonlyArray<unknown>): Encoded => {
  try {
    const parts: Array<string> = []
    const seen = new Set<object>()
    for (let i = 0; i < args.length; i++) parts.push(encode(args[i], `argument ${i}`, seen))
    return { ok: true, json: `{"args": [${parts.join(', ')}], "kwargs": {}}` }
  } catch (error) {
    if (error instanceof Unkeyable) return { ok: false, message: error.message }
    return { ok: false, message: `cannot key the arguments: ${error instanceof Error ? error.message : String(error)}` }
  }
}

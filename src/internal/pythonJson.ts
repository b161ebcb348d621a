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

import * as CE from '../CacheError.js'
import { describeInstance, kindOf } from './kinds.js'
import { bigIntTooLong } from './shape.js'

export type Encoded = { readonly ok: true; readonly json: string } | { readonly ok: false; readonly message: string }

const HEX = '0123456789abcdef'

/** A Python-escaped JSON string literal (`ensure_ascii=True`). */
export const pythonString = (s: string): string => {
  // The common case, printable ASCII without a quote or a backslash, is written as is.
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return escapedString(s)
  }
  return `"${s}"`
}

const escapedString = (s: string): string => {
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
  const abs = Math.abs(x)
  if (abs >= 1e-4 && abs < 1e16) {
    // Both languages write the shortest round-trip digits in fixed notation here; Python adds ".0".
    const fixed = String(x)
    return fixed.includes('.') ? fixed : `${fixed}.0`
  }
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

/**
 * Where the encoder is, as the steps taken from the arguments: kept as a stack and turned into text
 * only for an error message, so that encoding allocates no path strings.
 */
type Path = Array<string | number>

const render = (path: Path): string =>
  path.reduce<string>((text, step, index) => (index === 0 ? `argument ${String(step)}` : typeof step === 'number' ? `${text}[${step}]` : `${text}.${step}`), '')

const unkeyable = (path: Path, what: string): never => {
  throw new Unkeyable(`${render(path)}: ${what}`)
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')

/** Whether a string has a UTF-16 surrogate, where code unit order and code point order differ. */
const SURROGATE = /[\ud800-\udfff]/

/**
 * An object's shape: its keys in Python's order (code points: the default sort when no key has a
 * surrogate). Objects of one shape come again and again (rows in a list): a key builder remembers it.
 */
const shapeOf = (keys: Array<string>, shapes: Shapes | undefined): Shape => {
  // The shape of the previous object first (rows of a list come one after another), then one looked
  // up by the first key and the count; either is confirmed key by key (Object.keys gives its strings
  // in creation order, so an object of the same shape gives the same list).
  const last = shapes?.last
  if (last !== undefined && sameKeys(last.original, keys)) return last
  const id = shapes === undefined || keys.length === 0 ? '' : `${keys.length}\u0000${keys[0] as string}`
  const known = shapes?.byKeys.get(id)
  if (known !== undefined && sameKeys(known.original, keys)) {
    if (shapes !== undefined) shapes.last = known
    return known
  }
  const original = keys.slice()
  const sorted = keys.some((key) => SURROGATE.test(key)) ? keys.sort(byCodePoint) : keys.sort()
  // What is written before each value: the separator and the key, escaped once per shape.
  const heads = sorted.map((key, i) => `${i === 0 ? '{' : ', '}${pythonString(key.charCodeAt(0) === 0 ? `\u0000${key}` : key)}: `)
  const shape = { original, keys: sorted, heads }
  if (shapes !== undefined) {
    if (shapes.byKeys.size >= 256) shapes.byKeys.clear()
    shapes.byKeys.set(id, shape)
    shapes.last = shape
  }
  return shape
}

const sameKeys = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** The keys of an object in Python's order, and the text written before each value. */
interface Shape {
  /** The keys as `Object.keys` gave them, to confirm a remembered shape. */
  readonly original: ReadonlyArray<string>
  readonly keys: ReadonlyArray<string>
  readonly heads: ReadonlyArray<string>
}

/** Shapes remembered by their key count and first key (bounded), and the last one used: a key builder's. */
export interface Shapes {
  readonly byKeys: Map<string, Shape>
  last: Shape | undefined
}

/** An empty memo of shapes. */
export const shapesMemo = (): Shapes => ({ byKeys: new Map(), last: undefined })

/** What one encoding carries down: the objects on the way (careful pass only) and the shapes memo. */
interface Walk {
  readonly path: Path
  readonly seen: Set<object> | undefined
  readonly shapes: Shapes | undefined
}

/** Past this depth the fast pass stops: the value is encoded again with cycle checks (see `encodeArgs`). */
const FAST_DEPTH = 200

class TooDeep {}

/**
 * `seen` is undefined in the fast pass, which tracks no objects: a cycle there only shows as a depth
 * past `FAST_DEPTH`, and the careful pass (with `seen`) then finds it and says where it is.
 */
const encode = (value: unknown, walk: Walk): string => {
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
      if (value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)) return tag('BigInt', pythonString(value.toString()))
      // Printing a huge one in decimal takes time that grows with its square: past what a value may hold, refused.
      if (bigIntTooLong(value) !== undefined) return unkeyable(walk.path, 'cannot key a BigInt of more than 10,000 digits')
      return value.toString()
    case 'symbol':
      return unkeyable(walk.path, 'cannot key a symbol')
    case 'function':
      return unkeyable(walk.path, 'cannot key a function')
  }
  if (value === null) return 'null'
  const object = value as object
  const { seen } = walk
  if (seen === undefined) {
    if (walk.path.length > FAST_DEPTH) throw new TooDeep()
    return encodeObject(object, walk)
  }
  if (seen.has(object)) unkeyable(walk.path, 'cannot key a circular structure')
  seen.add(object)
  try {
    return encodeObject(object, walk)
  } finally {
    seen.delete(object)
  }
}

const encodeArray = (items: ReadonlyArray<unknown>, walk: Walk): string => {
  let out = '['
  for (let i = 0; i < items.length; i++) {
    walk.path.push(i)
    const item = items[i]
    // A hole: `length` can promise billions of them in an array of no size, and no Python list has one.
    if (item === undefined && !(i in items)) unkeyable(walk.path, 'cannot key a sparse array (it has holes)')
    out += i === 0 ? encode(item, walk) : `, ${encode(item, walk)}`
    walk.path.pop()
  }
  return `${out}]`
}

const encodePlain = (value: object, walk: Walk): string => {
  const symbols = Object.getOwnPropertySymbols(value)
  if (symbols.length > 0 && symbols.some((s) => Object.prototype.propertyIsEnumerable.call(value, s))) {
    unkeyable(walk.path, 'cannot key an object with symbol keys')
  }
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    return encode((value as { toJSON: () => unknown }).toJSON(), walk)
  }
  const { keys, heads } = shapeOf(Object.keys(value), walk.shapes)
  if (keys.length === 0) return '{}'
  let out = ''
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string
    walk.path.push(key)
    out += (heads[i] as string) + encode((value as Record<string, unknown>)[key], walk)
    walk.path.pop()
  }
  return `${out}}`
}

const encodeObject = (value: object, walk: Walk): string => {
  // The common cases first, without looking further: an array, a plain object of this realm.
  if (Array.isArray(value)) return encodeArray(value, walk)
  if (Object.getPrototypeOf(value) === Object.prototype) return encodePlain(value, walk)
  const kind = kindOf(value)
  if (kind === 'Array') return encodeArray(value as ReadonlyArray<unknown>, walk)
  if (kind === 'Object') return encodePlain(value, walk)
  if (kind === 'Date') {
    const date = value as Date
    return tag('Date', Number.isNaN(date.getTime()) ? 'null' : pythonString(date.toISOString()))
  }
  if (kind === 'Uint8Array' || Buffer.isBuffer(value)) return tag('Uint8Array', pythonString(hex(value as Uint8Array)))
  if (kind === 'Map') {
    const entries = Array.from(value as Map<unknown, unknown>, ([k, v], i) => {
      walk.path.push(`<map key ${i}>`)
      const encodedKey = encode(k, walk)
      walk.path.pop()
      return [encodedKey, v] as const
    })
      .sort((a, b) => byCodePoint(a[0], b[0]))
      .map(([k, v]) => {
        walk.path.push(`<map value ${k}>`)
        const encodedValue = encode(v, walk)
        walk.path.pop()
        return `[${k}, ${encodedValue}]`
      })
    return tag('Map', `[${entries.join(', ')}]`)
  }
  if (kind === 'Set') {
    const elements = Array.from(value as Set<unknown>, (v, i) => {
      walk.path.push(`<set element ${i}>`)
      const encoded = encode(v, walk)
      walk.path.pop()
      return encoded
    }).sort(byCodePoint)
    return tag('Set', `[${elements.join(', ')}]`)
  }
  const toJSON = (value as { toJSON?: unknown }).toJSON
  if (typeof toJSON === 'function') return encode(toJSON.call(value) as unknown, walk)
  return unkeyable(walk.path, `cannot key ${describeInstance(value)} (give it a toJSON method, or pass plain data)`)
}

/**
 * The Python `json.dumps({"args": args, "kwargs": {}}, sort_keys=True)` of a call's arguments.
 * `shapes`, when given, remembers the key order of objects by their keys (a key builder owns one).
 */
export const encodeArgs = (args: ReadonlyArray<unknown>, shapes?: Shapes): Encoded => {
  try {
    return { ok: true, json: encodeList(args, { path: [], seen: undefined, shapes }) }
  } catch (error) {
    // Too deep for the fast pass (or a toJSON that returns itself): the careful pass says why.
    return CE.isInstance(error, TooDeep) || CE.isInstance(error, RangeError) ? encodeArgsCarefully(args) : failure(error)
  }
}

const failure = (error: unknown): Encoded =>
  CE.isInstance(error, Unkeyable)
    ? { ok: false, message: error.message }
    : { ok: false, message: `cannot key the arguments: ${CE.messageOf(error)}` }

const encodeList = (args: ReadonlyArray<unknown>, walk: Walk): string => `{"args": ${encodeArray(args, walk)}, "kwargs": {}}`

/** The careful pass, for arguments nested deeper than the fast one goes: every object checked for cycles. */
const encodeArgsCarefully = (args: ReadonlyArray<unknown>): Encoded => {
  try {
    return { ok: true, json: encodeList(args, { path: [], seen: new Set<object>(), shapes: undefined }) }
  } catch (error) {
    return failure(error)
  }
}

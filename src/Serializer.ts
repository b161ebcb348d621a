/**
 * How values become bytes and back.
 *
 * The default is MessagePack, byte-for-byte the Python library's for the types both languages share
 * (null, booleans, integers, floats, `-0` as Python's `-0.0`, strings, bytes, arrays, plain objects).
 * Beyond those, `undefined`, `Date`, `BigInt`, `Map` and `Set` come back with their types, through
 * MessagePack extension types. A value that would come back different (a class instance, a Buffer,
 * a function, a circular structure) is a `SerializationError` naming where it is: the result is
 * returned to the caller and not cached, never silently reshaped.
 *
 * `jsonSerializer` is the readable alternative for plain JSON data. User serializers may throw;
 * `toSafe` turns their throws into values.
 *
 * @since 0.1.0
 */
import { Decoder, Encoder, ExtData, ExtensionCodec } from '@msgpack/msgpack'
import * as E from 'fp-ts/lib/Either.js'
import type { CacheError } from './CacheError.js'
import * as CE from './CacheError.js'
import { toError } from './errors.js'
import { describeInstance, kindOf } from './internal/kinds.js'
import { MAX_BIGINT_DIGITS, bigIntTooLong, jsonRefusal, msgpackRefusal } from './internal/shape.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/**
 * @category model
 * @since 0.1.0
 */
export interface Serializer {
  /**
   * The bytes of `value`; may throw (a `SerializationError` for that call: the value is not stored).
   * The bytes are the caller's to keep: a new array each call, never one the serializer writes into
   * again (an in-process store may hold them as they are).
   */
  serialize(value: unknown): Uint8Array
  /** The value in `bytes`; may throw (the entry is recomputed and overwritten). */
  deserialize(bytes: Uint8Array): unknown
}

/**
 * A serializer that also answers without throwing.
 *
 * @category model
 * @since 0.1.0
 */
export interface SafeSerializer extends Serializer {
  /** `serialize` as a value: `Left` a `SerializationError` instead of a throw. */
  trySerialize(value: unknown): E.Either<CacheError, Uint8Array>
  /** `deserialize` as a value: `Left` a `SerializationError` instead of a throw. */
  tryDeserialize(bytes: Uint8Array): E.Either<CacheError, unknown>
}

/**
 * The MessagePack extension type numbers this library writes.
 *
 * @category model
 * @since 0.1.0
 */
export const extensionTypes = {
  /** Standard MessagePack timestamp, written by the library itself for `Date`. */
  Date: -1,
  undefined: 0,
  BigInt: 1,
  Map: 2,
  Set: 3,
  /** Read only: -0 was written this way before 0.2.0; it is now written as a float64, as Python does. */
  NegativeZero: 4,
} as const

// -------------------------------------------------------------------------------------
// internal
// -------------------------------------------------------------------------------------

const MAX_DEPTH = 100

/** Stored bytes that nest deeper than a written value may, or hold what is too costly to decode: refused before decoding. */
const unreadable = (why: string | undefined): void => {
  if (why !== undefined) throw new Refused(`cannot read the stored value: ${why} (a value this library writes never does)`)
}

class Refused {
  constructor(readonly message: string) {}
}


const where = (path: string): string => (path === '' ? 'the value' : `the value at ${path}`)

const refuse = (path: string, what: string, supported: string): never => {
  throw new Refused(`cannot cache ${where(path)}: ${what} (${supported})`)
}


const checkPlainKeys = (value: object, path: string, supported: string): ReadonlyArray<string> => {
  if (Object.getOwnPropertySymbols(value).some((s) => Object.prototype.propertyIsEnumerable.call(value, s))) {
    refuse(path, 'an object with symbol keys', supported)
  }
  const keys = Object.keys(value)
  for (const key of keys) wellFormed(key, `${path}.<key>`, supported)
  if (keys.includes('__proto__')) refuse(path, 'an object with an own "__proto__" key', supported)
  return keys
}

/**
 * `@msgpack/msgpack` writes -0 as the integer 0 (it is a safe integer), losing the sign; Python
 * writes `-0.0` as a float64. This makes the encoder write -0 the way Python does, so the value is
 * shared with Python and reads back as -0 in both. It reaches into the encoder's number writer,
 * which the package does not declare public; `test/Serializer.test.ts` pins the bytes.
 */
const pythonNegativeZero = (encoder: Encoder<undefined>): void => {
  const internals = encoder as unknown as { encodeNumber: (n: number) => void; encodeNumberAsFloat: (n: number) => void }
  const encodeNumber = internals.encodeNumber.bind(encoder)
  const encodeFloat = internals.encodeNumberAsFloat.bind(encoder)
  internals.encodeNumber = (n) => (Object.is(n, -0) ? encodeFloat(n) : encodeNumber(n))
}

/** From this many UTF-16 units on, a string's UTF-8 length is counted by Node (shorter: no gain). */
const LONG_STRING = 1024

/**
 * `@msgpack/msgpack` counts a string's UTF-8 bytes in JavaScript before writing it: 3 ms of a 1 MB
 * string's miss. For long strings this writer does the encoder's own steps (header, then the bytes
 * by `TextEncoder`) with Node's native count. The two counts agree on well-formed strings, the only
 * ones it writes: one with a lone surrogate is refused here too, not only by `prepare`. It reaches
 * into the encoder as `pythonNegativeZero` does; `test/Serializer.test.ts` holds its bytes to the
 * package's.
 */
const nativeUtf8Count = (encoder: Encoder<undefined>): void => {
  const internals = encoder as unknown as {
    encodeString: (text: string) => void
    ensureBufferSizeToWrite: (size: number) => void
    writeStringHeader: (byteLength: number) => void
    bytes: Uint8Array
    pos: number
  }
  const encodeString = internals.encodeString.bind(encoder)
  internals.encodeString = (text) => {
    // `prepare` checked each string it read; a getter read once more by the encoder may answer
    // another one, which would be written as bytes that are not UTF-8.
    if (!(text as unknown as { isWellFormed: () => boolean }).isWellFormed()) {
      throw new Refused('cannot cache the value: a string with a lone surrogate (it has no UTF-8 form) appeared while it was written (a getter that answered differently when read again)')
    }
    if (text.length < LONG_STRING) {
      encodeString(text)
      return
    }
    const byteLength = Buffer.byteLength(text, 'utf8')
    internals.ensureBufferSizeToWrite(5 + byteLength)
    internals.writeStringHeader(byteLength)
    utf8.encodeInto(text, internals.bytes.subarray(internals.pos, internals.pos + byteLength))
    internals.pos += byteLength
  }
}

/**
 * A string with a lone surrogate has no UTF-8 form: the encoder would write bytes that are not UTF-8
 * (Python could not read them) and a JSON text would carry U+FFFD. Refused instead, with its path.
 */
const wellFormed = (text: string, path: string, supported: string): string => {
  if (!(text as unknown as { isWellFormed: () => boolean }).isWellFormed()) refuse(path, 'a string with a lone surrogate (it has no UTF-8 form)', supported)
  return text
}

const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder('utf-8', { fatal: true })

const MSGPACK_SUPPORTED = 'only null, booleans, numbers, bigints, strings, Uint8Array, Date, Map, Set, undefined, arrays and plain objects round-trip'

/**
 * Checks a value for MessagePack and returns it ready to encode: the value itself when nothing needs
 * an extension the encoder cannot pick by itself, else a copy with `ExtData` in those places.
 */
const preparer = (encoder: Encoder) => {
  const prepare = (value: unknown, path: string, ancestors: Set<object>, depth: number): unknown => {
    switch (typeof value) {
      case 'string':
        return wellFormed(value, path, MSGPACK_SUPPORTED)
      case 'boolean':
        return value
      case 'number':
        return value // -0 included: the encoder writes it as Python does (see `pythonNegativeZero`)
      case 'undefined':
        return new ExtData(extensionTypes.undefined, new Uint8Array(0))
      case 'bigint': {
        const digits = bigIntTooLong(value)
        if (digits !== undefined) refuse(path, `a BigInt of ${digits} digits, more than ${MAX_BIGINT_DIGITS}`, MSGPACK_SUPPORTED)
        return new ExtData(extensionTypes.BigInt, utf8.encode(value.toString()))
      }
      case 'symbol':
        return refuse(path, 'a symbol', MSGPACK_SUPPORTED)
      case 'function':
        return refuse(path, 'a function', MSGPACK_SUPPORTED)
    }
    if (value === null) return null
    if (depth >= MAX_DEPTH) refuse(path, `nesting deeper than ${MAX_DEPTH} levels`, MSGPACK_SUPPORTED)
    const object = value as object
    if (ancestors.has(object)) refuse(path, 'a circular reference', MSGPACK_SUPPORTED)
    ancestors.add(object)
    try {
      return prepareObject(object, path, ancestors, depth)
    } finally {
      ancestors.delete(object)
    }
  }

  const prepareObject = (value: object, path: string, ancestors: Set<object>, depth: number): unknown => {
    const kind = kindOf(value)
    if (kind === 'Array') {
      const items = value as ReadonlyArray<unknown>
      let copy: Array<unknown> | undefined
      for (let i = 0; i < items.length; i++) {
        const item = items[i]
        // A hole would come back as an own `undefined`: not the value the function gave.
        if (item === undefined && !(i in items)) refuse(`${path}[${i}]`, 'a hole in a sparse array', MSGPACK_SUPPORTED)
        const prepared = prepare(item, `${path}[${i}]`, ancestors, depth + 1)
        if (prepared !== item && copy === undefined) copy = items.slice(0, i)
        copy?.push(prepared)
      }
      return copy ?? value
    }
    if (kind === 'Date') {
      if (Number.isNaN((value as Date).getTime())) refuse(path, 'an invalid Date', MSGPACK_SUPPORTED)
      return value
    }
    if (kind === 'Uint8Array') return value
    if (kind === 'Map') {
      const flat: Array<unknown> = []
      let index = 0
      for (const [k, v] of value as Map<unknown, unknown>) {
        flat.push(prepare(k, `${path}.<map key ${index}>`, ancestors, depth + 1))
        flat.push(prepare(v, `${path}.<map value ${index}>`, ancestors, depth + 1))
        index++
      }
      return new ExtData(extensionTypes.Map, encoder.encode(flat))
    }
    if (kind === 'Set') {
      const items = Array.from(value as Set<unknown>, (item, index) => prepare(item, `${path}.<set element ${index}>`, ancestors, depth + 1))
      return new ExtData(extensionTypes.Set, encoder.encode(items))
    }
    if (kind !== 'Object') {
      const what = ArrayBuffer.isView(value) || value instanceof ArrayBuffer ? `${describeInstance(value)} (it would come back as a Uint8Array or not at all)` : describeInstance(value)
      refuse(path, what, MSGPACK_SUPPORTED)
    }
    const keys = checkPlainKeys(value, path, MSGPACK_SUPPORTED)
    let copy: Record<string, unknown> | undefined
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string
      const item = (value as Record<string, unknown>)[key]
      const prepared = prepare(item, `${path}.${key}`, ancestors, depth + 1)
      if (prepared !== item && copy === undefined) {
        copy = {}
        for (let j = 0; j < i; j++) copy[keys[j] as string] = (value as Record<string, unknown>)[keys[j] as string]
      }
      if (copy !== undefined) copy[key] = prepared
    }
    return copy ?? value
  }

  return (value: unknown): unknown => prepare(value, '', new Set(), 0)
}

const caught = (operation: 'serialize' | 'deserialize', cause: unknown): E.Either<CacheError, never> => {
  const refused = CE.isInstance(cause, Refused)
  const message = refused ? cause.message : `cannot ${operation}: ${CE.messageOf(cause)}`
  return E.left(CE.serializationError(operation, message, refused ? undefined : { cause }))
}

/** How a serializer does its work, throwing when it cannot. */
interface Codec {
  encode(value: unknown): Uint8Array
  decode(bytes: Uint8Array): unknown
}

/**
 * A codec whose throws are values, with the throwing forms beside them. Every serializer made here is
 * one: a class, so that the engine's code calls the same functions whichever serializer it is given
 * (see `internal/sync.ts` for why that matters).
 */
class Safe implements SafeSerializer {
  constructor(private readonly codec: Codec) {}

  trySerialize(value: unknown): E.Either<CacheError, Uint8Array> {
    try {
      return E.right(this.codec.encode(value))
    } catch (cause) {
      return caught('serialize', cause)
    }
  }

  tryDeserialize(bytes: Uint8Array): E.Either<CacheError, unknown> {
    try {
      return E.right(this.codec.decode(bytes))
    } catch (cause) {
      return caught('deserialize', cause)
    }
  }

  serialize(value: unknown): Uint8Array {
    const bytes = this.trySerialize(value)
    if (E.isLeft(bytes)) throw toError(bytes.left)
    return bytes.right
  }

  deserialize(bytes: Uint8Array): unknown {
    const value = this.tryDeserialize(bytes)
    if (E.isLeft(value)) throw toError(value.left)
    return value.right
  }
}

// -------------------------------------------------------------------------------------
// instances
// -------------------------------------------------------------------------------------

let sharedDecodingCodec: ExtensionCodec | undefined

/**
 * The extension types a MessagePack value may hold, and a refusal for every other one: made once, on
 * first use, and shared by every `msgpackSerializer` (it holds no state; each serializer has its own
 * decoder). Registering all 256 types took most of the time of wrapping a function.
 */
const decodingCodec = (): ExtensionCodec => {
  if (sharedDecodingCodec !== undefined) return sharedDecodingCodec
  const codec = new ExtensionCodec()
  // Decodes the array inside a Map or Set extension (a decoder used again while it decodes works on a copy of itself).
  const inner = new Decoder({ extensionCodec: codec })
  const none = (): null => null
  const decodeArray = (data: Uint8Array, what: string): Array<unknown> => {
    const items = inner.decode(data)
    if (!Array.isArray(items)) throw new Error(`a ${what} extension does not hold an array`)
    return items
  }
  codec.register({ type: extensionTypes.undefined, encode: none, decode: () => undefined })
  codec.register({
    type: extensionTypes.BigInt,
    encode: none,
    decode: (data) => {
      if (data.length > MAX_BIGINT_DIGITS + 1) unreadable(`a BigInt of more than ${MAX_BIGINT_DIGITS} digits`)
      const text = fromUtf8.decode(data)
      // Decimal digits and a sign only, as the writer writes (BigInt() would also take "0x1f", "" or " 1 ").
      if (!/^-?(?:0|[1-9][0-9]{0,9999})$/.test(text)) unreadable('a BigInt that is not the decimal text the writer writes')
      return BigInt(text)
    },
  })
  codec.register({
    type: extensionTypes.Map,
    encode: none,
    decode: (data) => {
      const flat = decodeArray(data, 'Map')
      if (flat.length % 2 !== 0) throw new Error('a Map extension holds an odd number of items, not key-value pairs')
      const map = new Map<unknown, unknown>()
      for (let i = 0; i + 1 < flat.length; i += 2) map.set(flat[i], flat[i + 1])
      return map
    },
  })
  codec.register({ type: extensionTypes.Set, encode: none, decode: (data) => new Set(decodeArray(data, 'Set')) })
  codec.register({ type: extensionTypes.NegativeZero, encode: none, decode: () => -0 })
  // Any other extension type was written by another serializer: refuse it rather than hand out ExtData.
  const unknownType = (type: number) => () => {
    throw new Error(`unknown MessagePack extension type ${type}`)
  }
  for (let type = -128; type <= 127; type++) {
    if (type !== extensionTypes.Date && !Object.values(extensionTypes).includes(type as 0)) {
      codec.register({ type, encode: none, decode: unknownType(type) })
    }
  }
  sharedDecodingCodec = codec
  return codec
}

/**
 * The default serializer: MessagePack, compatible with the Python library.
 *
 * @category instances
 * @since 0.1.0
 */
export const msgpackSerializer = (): SafeSerializer => {
  return msgpack()
}

const msgpack = (): Safe => {
  // The encoder needs no custom extensions: `prepare` hands it ExtData for those already, and a codec
  // with hundreds of refusing decoders would be tried, in vain, on every object it writes.
  // Its own depth limit is left above `prepare`'s, which decides (and counts as the reader does).
  const encoder = new Encoder<undefined>({ extensionCodec: new ExtensionCodec<undefined>(), maxDepth: MAX_DEPTH + 1 })
  pythonNegativeZero(encoder)
  nativeUtf8Count(encoder)
  return new Safe(new Msgpack(encoder, preparer(encoder), new Decoder({ extensionCodec: decodingCodec() })))
}

class Msgpack implements Codec {
  constructor(
    private readonly encoder: Encoder<undefined>,
    private readonly prepare: (value: unknown) => unknown,
    private readonly decoder: Decoder,
  ) {}

  encode(value: unknown): Uint8Array {
    return this.encoder.encode(this.prepare(value))
  }

  decode(bytes: Uint8Array): unknown {
    // Nesting past MAX_DEPTH takes more than MAX_DEPTH bytes: smaller values need no look.
    if (bytes.length > MAX_DEPTH) unreadable(msgpackRefusal(bytes, MAX_DEPTH))
    return this.decoder.decode(bytes)
  }
}

const noProto = (key: string, value: unknown): unknown => {
  if (key === '__proto__') throw new Refused('cannot read the stored value: an object with an own "__proto__" key (a value this library writes never has one)')
  return value
}

const JSON_SUPPORTED = 'only null, booleans, finite numbers, strings, arrays and plain objects round-trip through JSON'

const checkJson = (value: unknown, path: string, ancestors: Set<object>, depth = 0): void => {
  switch (typeof value) {
    case 'string':
      wellFormed(value, path, JSON_SUPPORTED)
      return
    case 'boolean':
      return
    case 'number':
      if (!Number.isFinite(value) || Object.is(value, -0)) refuse(path, String(Object.is(value, -0) ? '-0' : value), JSON_SUPPORTED)
      return
    case 'object':
      break
    default:
      refuse(path, typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`, JSON_SUPPORTED)
  }
  if (typeof value !== 'object' || value === null) return
  if (depth >= MAX_DEPTH) refuse(path, `nesting deeper than ${MAX_DEPTH} levels`, JSON_SUPPORTED)
  if (ancestors.has(value)) refuse(path, 'a circular reference', JSON_SUPPORTED)
  ancestors.add(value)
  const kind = kindOf(value)
  if (kind === 'Array') {
    const items = value as ReadonlyArray<unknown>
    for (let i = 0; i < items.length; i++) checkJson(items[i], `${path}[${i}]`, ancestors, depth + 1)
  } else {
    if (kind !== 'Object') refuse(path, describeInstance(value), JSON_SUPPORTED)
    for (const key of checkPlainKeys(value, path, JSON_SUPPORTED)) {
      checkJson((value as Record<string, unknown>)[key], `${path}.${key}`, ancestors, depth + 1)
    }
  }
  ancestors.delete(value)
}

/**
 * UTF-8 JSON: readable in the store, for plain JSON data only.
 *
 * @category instances
 * @since 0.1.0
 */
export const jsonSerializer = (): SafeSerializer => {
  return new Safe(new Json())
}

class Json implements Codec {
  encode(value: unknown): Uint8Array {
    checkJson(value, '', new Set())
    return utf8.encode(JSON.stringify(value))
  }

  decode(bytes: Uint8Array): unknown {
    const text = fromUtf8.decode(bytes)
    if (text.length > MAX_DEPTH) unreadable(jsonRefusal(text, MAX_DEPTH))
    // An own "__proto__" key (which the writer refuses) is refused here too, as MessagePack's reader
    // does: one spelled with escapes included.
    return text.includes('__proto__') || text.includes('\\u') ? JSON.parse(text, noProto) : (JSON.parse(text) as unknown)
  }
}

// -------------------------------------------------------------------------------------
// combinators
// -------------------------------------------------------------------------------------

/**
 * A user serializer made safe: its throws become `SerializationError` values, and `serialize` must
 * return a `Uint8Array`. A serializer that is already safe is returned as it is.
 *
 * @category combinators
 * @since 0.1.0
 */
export const toSafe = (serializer: Serializer): SafeSerializer => {
  if (typeof (serializer as Partial<SafeSerializer>).trySerialize === 'function' && typeof (serializer as Partial<SafeSerializer>).tryDeserialize === 'function') {
    return serializer as SafeSerializer
  }
  return new Safe(new Users(serializer))
}

const isThenableValue = (value: unknown): boolean => {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return false
  return typeof (value as { then?: unknown }).then === 'function'
}

/** A user's serializer, called as the object it is; `serialize` must give a `Uint8Array`. */
class Users implements Codec {
  constructor(private readonly serializer: Serializer) {}

  encode(value: unknown): Uint8Array {
    const bytes = this.serializer.serialize(value)
    if (!CE.isInstance(bytes, Uint8Array)) throw new Error(`the serializer returned ${CE.describe(bytes)}, not a Uint8Array`)
    return bytes
  }

  decode(bytes: Uint8Array): unknown {
    const value = this.serializer.deserialize(bytes)
    // A value is given back as it is: a promise (or any thenable) would be awaited by the caller's
    // `await`, and one that never settles would hang every hit.
    if (isThenableValue(value)) throw new Error('the serializer returned a promise (or a thenable), not a value: deserialize must be synchronous')
    return value
  }
}

import { readFileSync } from 'node:fs'
import path from 'node:path'
import { encode } from '@msgpack/msgpack'
import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import { expectTypeOf } from 'expect-type'
import type { CacheError } from '../src/CacheError.js'
import { CacheSerializationError } from '../src/errors.js'
import type { SafeSerializer, Serializer } from '../src/Serializer.js'
import { extensionTypes, jsonSerializer, msgpackSerializer, toSafe } from '../src/Serializer.js'

interface ValueVector {
  readonly value: unknown
  readonly wire: string
  readonly msgpack_hex: string
}
const vectors = (
  JSON.parse(readFileSync(path.join(__dirname, 'fixtures', 'python-vectors.json'), 'utf8')) as { values: ReadonlyArray<ValueVector> }
).values

/** The vectors write a byte string as {"$bytes_hex": "..."}. */
const revive = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(revive)
  if (typeof value === 'object' && value !== null) {
    const hex = (value as { $bytes_hex?: unknown }).$bytes_hex
    if (typeof hex === 'string') return new Uint8Array(Buffer.from(hex, 'hex'))
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, revive(v)]))
  }
  return value
}

const msgpack = msgpackSerializer()
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex')
const serialized = (serializer: SafeSerializer, value: unknown): Uint8Array => {
  const bytes = serializer.trySerialize(value)
  if (E.isLeft(bytes)) throw new Error(bytes.left.message)
  return bytes.right
}
const refusal = (serializer: SafeSerializer, value: unknown): CacheError => {
  const bytes = serializer.trySerialize(value)
  if (E.isRight(bytes)) throw new Error('expected a refusal')
  return bytes.left
}
const roundTrip = (serializer: SafeSerializer, value: unknown): unknown => {
  const back = serializer.tryDeserialize(serialized(serializer, value))
  if (E.isLeft(back)) throw new Error(back.left.message)
  return back.right
}

describe('MessagePack, as the Python library writes it', () => {
  it.each(vectors.map((vector) => [vector.msgpack_hex.slice(0, 24), vector] as const))('%s', (_hex, vector) => {
    const value = revive(vector.value)
    const bytes = serialized(msgpack, value)
    expect(hex(bytes)).toBe(vector.msgpack_hex)
    expect(msgpack.tryDeserialize(Buffer.from(vector.msgpack_hex, 'hex'))).toEqual(E.right(value))
    expect(JSON.stringify(Buffer.from(bytes).toString('base64'))).toBe(vector.wire)
    expect(hex(Buffer.from(JSON.parse(vector.wire) as string, 'base64'))).toBe(vector.msgpack_hex)
  })
})

describe('beyond the Python types', () => {
  it.each([
    ['undefined', undefined],
    ['undefined in an array', [1, undefined, 3]],
    ['undefined as a property', { a: undefined, b: 1 }],
    ['a Date', new Date('2024-05-06T07:08:09.123Z')],
    ['a small BigInt', 42n],
    ['a huge BigInt', -(2n ** 200n)],
    ['a Map with any keys', new Map<unknown, unknown>([[1, 'one'], ['1', 1], [null, [undefined]]])],
    ['a Set', new Set([1, 'a', null])],
    ['-0', -0],
    ['NaN and infinities', [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]],
    ['nested', { when: new Date(0), tags: new Set(['x']), index: new Map([['k', { n: 1n, gone: undefined }]]) }],
    ['Maps and Sets three deep', new Set([new Map<unknown, unknown>([['m', new Map([[1, new Set([2n, -0])]])]]), 'x'])],
  ])('%s round-trips with its type', (_what, value) => {
    const back = roundTrip(msgpack, value)
    expect(back).toStrictEqual(value)
    if (Object.is(value, -0)) expect(Object.is(back, -0)).toBe(true)
  })

  it('two MessagePack serializers, sharing their table of extension types, decode each other\'s values', () => {
    const other = msgpackSerializer()
    const value = new Map<unknown, unknown>([['s', new Set([1n, undefined])]])
    expect(other.deserialize(msgpack.serialize(value))).toStrictEqual(value)
    expect(msgpack.deserialize(other.serialize(value))).toStrictEqual(value)
  })

  it('numbers the extension types as documented', () => {
    expect(extensionTypes).toEqual({ Date: -1, undefined: 0, BigInt: 1, Map: 2, Set: 3, NegativeZero: 4 })
    expect(hex(serialized(msgpack, undefined))).toBe('c70000') // ext 8: no data, type 0
  })

  it("writes -0 as Python's msgpack writes -0.0 (a float64), and still reads the older extension", () => {
    expect(hex(serialized(msgpack, -0))).toBe('cb8000000000000000')
    expect(hex(serialized(msgpack, [0, -0]))).toBe('9200cb8000000000000000')
    expect(Object.is(msgpack.deserialize(Buffer.from('c70004', 'hex')), -0)).toBe(true)
  })

  it("writes long strings byte for byte as the MessagePack package does (a native UTF-8 count)", () => {
    // Lengths on both sides of 1024 units and of MessagePack's str 8/16/32 headers, any code points.
    const text = fc.oneof(fc.string({ unit: 'grapheme', minLength: 900, maxLength: 1200 }), fc.string({ unit: 'binary', minLength: 20_000, maxLength: 70_000 }))
    fc.assert(
      fc.property(fc.array(text, { minLength: 1, maxLength: 3 }), (texts) => {
        const value = { texts, first: texts[0] }
        expect(hex(serialized(msgpack, value))).toBe(Buffer.from(encode(value)).toString('hex'))
      }),
      { numRuns: 40 },
    )
  })

  it('refuses a lone surrogate that a getter answers only when the encoder reads it again', () => {
    let reads = 0
    const value = {
      get text(): string {
        reads++
        return reads === 1 ? 'fine' : 'x\ud800'
      },
    }
    const written = msgpack.trySerialize(value)
    expect(E.isLeft(written) && written.left).toMatchObject({ _tag: 'SerializationError', message: expect.stringMatching(/lone surrogate/) as unknown })
    expect(reads).toBe(2)
  })

  it('does not copy a value that needs no extension', () => {
    const value = { a: [1, 2, { b: 'c' }] }
    expect(hex(serialized(msgpack, value))).toBe(hex(serialized(msgpack, structuredClone(value))))
  })

  it('shared references are fine', () => {
    const shared = { x: 1 }
    expect(roundTrip(msgpack, [shared, shared])).toStrictEqual([{ x: 1 }, { x: 1 }])
  })
})

describe('what would come back different is refused, naming where it is', () => {
  class User {
    constructor(readonly id: number) {}
  }
  const circular: Record<string, unknown> = {}
  circular['me'] = circular
  let deep: unknown = 1
  for (let i = 0; i < 150; i++) deep = [deep]

  it.each([
    ['a class instance', { items: [1, 2, { owner: new User(1) }] }, /the value at \.items\[2\]\.owner: an instance of User/],
    ['a Buffer', Buffer.from('x'), /the value: an instance of Buffer \(it would come back as a Uint8Array/],
    ['another typed array', new Float64Array(1), /Float64Array/],
    ['a function', { f: () => 1 }, /\.f: a function/],
    ['a symbol', [Symbol('s')], /\[0\]: a symbol/],
    ['symbol keys', { [Symbol('k')]: 1 }, /symbol keys/],
    ['an own __proto__ key', JSON.parse('{"__proto__": 1}') as unknown, /__proto__/],
    ['a circular reference', circular, /\.me: a circular reference/],
    ['an invalid Date', new Date(Number.NaN), /an invalid Date/],
    ['nesting too deep', deep, /nesting deeper than 100/],
    ['a lone surrogate', { name: 'ab\ud800' }, /\.name: a string with a lone surrogate/],
    ['a lone surrogate in a key', { ['\udc00']: 1 }, /<key>: a string with a lone surrogate/],
  ])('%s', (_what, value, message) => {
    const error = refusal(msgpack, value)
    expect(error).toMatchObject({ _tag: 'SerializationError', code: 'E_CACHE_SERIALIZATION', operation: 'serialize' })
    expect(error.message).toMatch(message)
    expect(() => msgpack.serialize(value)).toThrow(CacheSerializationError)
  })
})

describe('bytes that are not a value', () => {
  it.each([
    ['truncated', '92a1'],
    ['never-used byte', 'c1'],
    ['extra bytes', 'c0c0'],
    ['an unknown extension type', 'd40900'],
    ['a BigInt extension that is not a number', 'c7030178797a'],
    ['empty', ''],
  ])('%s is a deserialize error', (_what, bytes) => {
    const result = msgpack.tryDeserialize(Buffer.from(bytes, 'hex'))
    expect(E.isLeft(result) && result.left).toMatchObject({ _tag: 'SerializationError', operation: 'deserialize' })
  })
})

describe('law: round trip', () => {
  const supported: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small' },
      fc.constant(null),
      fc.constant(undefined),
      fc.boolean(),
      fc.integer(),
      fc.double(),
      fc.constant(-0),
      fc.string(),
      fc.bigInt(),
      fc.date({ noInvalidDate: true }),
      fc.uint8Array({ maxLength: 8 }),
      fc.array(tie('value'), { maxLength: 4 }),
      fc.dictionary(
        fc.string().filter((key) => key !== '__proto__'),
        tie('value'),
        { maxKeys: 4, noNullPrototype: true },
      ),
      fc.array(fc.tuple(tie('value'), tie('value')), { maxLength: 3 }).map((entries) => new Map(entries)),
      fc.array(tie('value'), { maxLength: 3 }).map((items) => new Set(items)),
    ),
  })).value

  it('deserialize(serialize(v)) is v, with the same types', () => {
    fc.assert(
      fc.property(supported, (value) => {
        expect(roundTrip(msgpack, value)).toStrictEqual(value)
      }),
      { numRuns: 300 },
    )
  })
})

describe('jsonSerializer', () => {
  const json = jsonSerializer()

  it('round-trips JSON data, readable as UTF-8', () => {
    const value = { a: [1, 'x', null, true], b: { 'é': 1.5 } }
    expect(roundTrip(json, value)).toStrictEqual(value)
    expect(Buffer.from(serialized(json, value)).toString('utf8')).toBe(JSON.stringify(value))
  })

  it.each([
    [undefined, /undefined/],
    [{ a: undefined }, /\.a: undefined/],
    [[Number.NaN], /NaN/],
    [-0, /-0/],
    [new Date(0), /an instance of Date/],
    [new Map(), /an instance of Map/],
    [1n, /a bigint/],
    ['\ud800', /lone surrogate/],
  ])('refuses %p', (value, message) => {
    expect(refusal(json, value).message).toMatch(message)
  })
})

describe('toSafe', () => {
  it('turns a throwing user serializer into values, and checks what serialize returns', () => {
    const broken: Serializer = {
      serialize: () => {
        throw new Error('nope')
      },
      deserialize: () => {
        throw new Error('nope')
      },
    }
    const safe = toSafe(broken)
    expect(E.isLeft(safe.trySerialize(1))).toBe(true)
    expect(E.isLeft(safe.tryDeserialize(new Uint8Array()))).toBe(true)
    const wrongType = toSafe({ serialize: () => 'text' as unknown as Uint8Array, deserialize: () => null })
    const result = wrongType.trySerialize(1)
    expect(E.isLeft(result) && result.left.message).toMatch(/not a Uint8Array/)
  })

  it('returns a safe serializer as it is', () => {
    expect(toSafe(msgpack)).toBe(msgpack)
  })

  it('types', () => {
    expectTypeOf(msgpackSerializer).returns.toEqualTypeOf<SafeSerializer>()
    expectTypeOf(msgpack.trySerialize).returns.toEqualTypeOf<E.Either<CacheError, Uint8Array>>()
    expectTypeOf<SafeSerializer>().toMatchTypeOf<Serializer>()
  })
})

import { readFileSync } from 'node:fs'
import path from 'node:path'
import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import { expectTypeOf } from 'expect-type'
import type { CacheError } from '../src/CacheError.js'
import { CacheKeyError, CacheOptionsError } from '../src/errors.js'
import { byCodePoint, pythonFloat, pythonString } from '../src/internal/pythonJson.js'
import type { DefaultKeyBuilder } from '../src/Key.js'
import { checkKey, checkKeyPart, defaultKeyBuilder, functionName, hash, hashInput, makeKey } from '../src/Key.js'

const fixture = <T>(name: string): T => JSON.parse(readFileSync(path.join(__dirname, 'fixtures', name), 'utf8')) as T

const vectors = fixture<{ keys: ReadonlyArray<{ prefix: string; name: string; args: ReadonlyArray<unknown>; key: string }> }>(
  'python-vectors.json',
)
const samples = fixture<{
  floats: ReadonlyArray<{ value: number; json: string }>
  strings: ReadonlyArray<{ value: string; json: string }>
  objects: ReadonlyArray<{ value: unknown; json: string }>
}>('python-json-samples.json')

const input = (...args: ReadonlyArray<unknown>): string => {
  const result = hashInput(args)
  if (E.isLeft(result)) throw new Error(result.left.message)
  return result.right
}
const failure = (...args: ReadonlyArray<unknown>): CacheError => {
  const result = hashInput(args)
  if (E.isRight(result)) throw new Error(`expected a key error, got ${result.right}`)
  return result.left
}

describe('keys built by the Python library', () => {
  it.each(vectors.keys.map((vector) => [vector.key, vector] as const))('%s', (_key, vector) => {
    expect(makeKey(vector.prefix, vector.name, vector.args)).toEqual(E.right(vector.key))
  })
})

describe('Python json.dumps, reproduced', () => {
  it.each(samples.floats.map((sample) => [sample.json, sample.value] as const))('float %s', (json, value) => {
    expect(pythonFloat(value)).toBe(json)
    if (!Number.isSafeInteger(value)) expect(input(value)).toBe(`{"args": [${json}], "kwargs": {}}`)
  })

  it.each(samples.strings.map((sample) => [sample.json, sample.value] as const))('string %s', (json, value) => {
    expect(pythonString(value)).toBe(json)
  })

  it.each(samples.objects.map((sample) => [sample.json, sample.value] as const))('object %s', (json, value) => {
    expect(input(value)).toBe(`{"args": [${json}], "kwargs": {}}`)
  })

  it('writes whole numbers in the safe range as Python ints, others as floats', () => {
    expect(input(0, -0, 42, -7, Number.MAX_SAFE_INTEGER)).toBe('{"args": [0, -0.0, 42, -7, 9007199254740991], "kwargs": {}}')
    const builder = defaultKeyBuilder()
    const zero = builder.buildKey('f', [0])
    expect(builder.buildKey('f', [-0])).not.toBe(zero) // remembered keys keep them apart too
    expect(builder.buildKey('f', [0])).toBe(zero)
    expect(input(2 ** 53, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY)).toBe(
      '{"args": [9007199254740992.0, NaN, Infinity, -Infinity], "kwargs": {}}',
    )
  })

  it('sorts object keys by code point, as Python sorts str', () => {
    expect(['\uffff', '😀', 'a'].sort(byCodePoint)).toEqual(['a', '\uffff', '😀'])
    expect(input({ '\uffff': 1, '😀': 2 })).toBe('{"args": [{"\\uffff": 1, "\\ud83d\\ude00": 2}], "kwargs": {}}')
  })

  it('hashes the UTF-8 of the input with SHA-256, 16 hex digits', () => {
    expect(hash('{"args": [], "kwargs": {}}')).toBe('ddcb0ace97c57048')
  })
})

describe('JavaScript-only arguments', () => {
  it('have a documented encoding', () => {
    expect(input(undefined)).toBe('{"args": [{"\\u0000undefined": 0}], "kwargs": {}}')
    expect(input(new Date('2024-01-02T03:04:05.678Z'))).toBe('{"args": [{"\\u0000Date": "2024-01-02T03:04:05.678Z"}], "kwargs": {}}')
    expect(input(new Date(Number.NaN))).toBe('{"args": [{"\\u0000Date": null}], "kwargs": {}}')
    expect(input(Uint8Array.of(0, 1, 255))).toBe('{"args": [{"\\u0000Uint8Array": "0001ff"}], "kwargs": {}}')
    expect(input(Buffer.from([0, 1, 255]))).toBe(input(Uint8Array.of(0, 1, 255)))
    expect(input(1n)).toBe('{"args": [{"\\u0000BigInt": "1"}], "kwargs": {}}')
    expect(input(2n ** 64n)).toBe('{"args": [18446744073709551616], "kwargs": {}}')
    expect(input(new Map([['b', 1], ['a', 2]]))).toBe('{"args": [{"\\u0000Map": [["a", 2], ["b", 1]]}], "kwargs": {}}')
    expect(input(new Set([3, 1, 2]))).toBe('{"args": [{"\\u0000Set": [1, 2, 3]}], "kwargs": {}}')
    expect(input({ a: undefined })).toBe('{"args": [{"a": {"\\u0000undefined": 0}}], "kwargs": {}}')
  })

  it('do not depend on the insertion order of a Map or a Set', () => {
    expect(input(new Map([[1, 'x'], [2, 'y']]))).toBe(input(new Map([[2, 'y'], [1, 'x']])))
    expect(input(new Set(['a', 'b']))).toBe(input(new Set(['b', 'a'])))
  })

  it('use toJSON where a class offers one', () => {
    class Money {
      constructor(readonly cents: number) {}
      toJSON() {
        return { cents: this.cents }
      }
    }
    expect(input(new Money(5))).toBe(input({ cents: 5 }))
  })

  it('cannot be imitated by a plain object: keys starting with NUL are escaped', () => {
    expect(input({ '\u0000Date': '2024-01-02T03:04:05.678Z' })).not.toBe(input(new Date('2024-01-02T03:04:05.678Z')))
    expect(input({ '\u0000undefined': 0 })).not.toBe(input(undefined))
  })
})

describe('what cannot be keyed', () => {
  class User {
    constructor(readonly id: number) {}
  }
  const circular: Record<string, unknown> = { a: 1 }
  circular['self'] = circular

  it.each([
    ['a function', [() => 1], /argument 0: cannot key a function/],
    ['a symbol', [1, Symbol('s')], /argument 1: cannot key a symbol/],
    ['a class instance, with its path', [{ user: { owner: new User(1) } }], /argument 0\.user\.owner: cannot key an instance of User/],
    ['a circular structure', [circular], /argument 0\.self: cannot key a circular structure/],
    ['another typed array', [new Float32Array(2)], /cannot key an instance of Float32Array/],
    ['symbol keys', [{ [Symbol('k')]: 1 }], /symbol keys/],
    ['a WeakMap', [new WeakMap()], /cannot key an instance of WeakMap/],
  ])('%s is a KeyError naming where it is', (_what, args, message) => {
    const error = failure(...args)
    expect(error).toMatchObject({ _tag: 'KeyError', code: 'E_CACHE_KEY' })
    expect(error.message).toMatch(message)
  })

  it('shared, non-circular references are fine', () => {
    const shared = { x: 1 }
    expect(input({ a: shared, b: shared })).toBe('{"args": [{"a": {"x": 1}, "b": {"x": 1}}], "kwargs": {}}')
  })
})

describe('laws', () => {
  const keyable: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small' },
      fc.constant(null),
      fc.constant(undefined),
      fc.boolean(),
      fc.integer(),
      fc.double(),
      fc.string(),
      fc.bigInt(),
      fc.date(),
      fc.uint8Array({ maxLength: 4 }),
      fc.array(tie('value'), { maxLength: 4 }),
      fc.dictionary(fc.string(), tie('value'), { maxKeys: 4 }),
    ),
  })).value

  it('the same arguments give the same key, whatever the order of object keys', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), keyable, { maxKeys: 6 }), (object) => {
        const reversed = Object.fromEntries(Object.entries(object).reverse())
        expect(input(object)).toBe(input(reversed))
        expect(makeKey('p', 'n', [object])).toEqual(makeKey('p', 'n', [structuredClone(object)]))
      }),
    )
  })

  it('a key builder, remembering shapes from call to call, keys every call as a builder that remembers nothing', () => {
    // Rows of a few shapes that share their key count and first key, in any order and any mix: the
    // remembered shape (the last one, or one found by count and first key) must be checked, not trusted.
    const row = fc.oneof(
      fc.record({ a: keyable, b: keyable }),
      fc.record({ a: keyable, c: keyable }),
      fc.record({ a: keyable, b: keyable, c: keyable }),
      fc.tuple(keyable, keyable).map(([x, y]) => ({ b: x, a: y })),
      fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd'), keyable, { maxKeys: 4 }),
    )
    const builder = defaultKeyBuilder('p')
    fc.assert(
      fc.property(fc.array(fc.array(row, { maxLength: 5 }), { minLength: 1, maxLength: 4 }), (calls) => {
        for (const rows of calls) expect(builder.tryBuildKey('n', [rows])).toEqual(makeKey('p', 'n', [rows]))
      }),
    )
  })

  it('a key builder keys a lone safe integer, whose text it writes as bytes, as the encoder does', () => {
    // Every length of digits, with and without a sign, and the ends of the safe range.
    const builder = defaultKeyBuilder('p')
    const edges = [0, -1, 9, 10, -10, 2 ** 31, -(2 ** 31), 2 ** 53 - 1, -(2 ** 53 - 1), 10 ** 15, -(10 ** 15)]
    for (const n of edges) expect(builder.tryBuildKey('n', [n])).toEqual(makeKey('p', 'n', [n]))
    fc.assert(
      fc.property(fc.oneof(fc.maxSafeInteger(), fc.integer()), (n) => {
        expect(builder.tryBuildKey('n', [n])).toEqual(makeKey('p', 'n', [n]))
      }),
    )
  })

  it('different argument lists give different hash inputs', () => {
    fc.assert(
      fc.property(fc.array(keyable, { maxLength: 3 }), fc.array(keyable, { maxLength: 3 }), (a, b) => {
        fc.pre(!sameArguments(a, b))
        expect(input(...a)).not.toBe(input(...b))
      }),
    )
  })

  it.each([
    [[1], ['1']],
    [[[1, 2]], [[[1, 2]]]],
    [[1], [1n]],
    [[null], [undefined]],
    [[{}], [new Map()]],
    [[[]], [new Set()]],
    [[1, 2], [[1, 2]]],
    [[], [undefined]],
    [['a'], [Uint8Array.of(97)]],
    [[true], [1]],
  ])('%p and %p differ', (a, b) => {
    expect(input(...a)).not.toBe(input(...b))
  })
})

/** Structural equality that tells apart exactly what the key must tell apart. */
const sameArguments = (a: unknown, b: unknown): boolean => {
  if (typeof a !== typeof b) return false
  if (typeof a === 'number' && typeof b === 'number') {
    if (Number.isNaN(a) && Number.isNaN(b)) return true
    return Object.is(a, b) // -0 keys as Python's -0.0, apart from 0
  }
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return a === b
  if (a instanceof Date || b instanceof Date) {
    return a instanceof Date && b instanceof Date && (a.getTime() === b.getTime() || (Number.isNaN(a.getTime()) && Number.isNaN(b.getTime())))
  }
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return a instanceof Uint8Array && b instanceof Uint8Array && Buffer.from(a).equals(Buffer.from(b))
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((item, i) => sameArguments(item, b[i]))
  }
  const keysA = Object.keys(a).sort()
  const keysB = Object.keys(b).sort()
  return (
    keysA.length === keysB.length &&
    keysA.every((key, i) => key === keysB[i] && sameArguments((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]))
  )
}

describe('validation and builders', () => {
  it('checkKeyPart refuses empty names and ||', () => {
    expect(checkKeyPart('name', 'ok')).toEqual(E.right('ok'))
    for (const bad of ['', 'a||b', 42, undefined]) {
      const result = checkKeyPart('keyPrefix', bad)
      expect(E.isLeft(result) && result.left).toMatchObject({ _tag: 'InvalidOptions', option: 'keyPrefix' })
    }
  })

  it('checkKey refuses what a custom builder must not return', () => {
    expect(checkKey('a:b')).toEqual(E.right('a:b'))
    for (const bad of ['', 'x||y', 7, null]) expect(E.isLeft(checkKey(bad))).toBe(true)
  })

  it('the default builder builds, throws CacheKeyError, and checks its prefix', () => {
    const builder = defaultKeyBuilder('v2')
    expect(builder.buildKey('billing.invoice_total', [[1, 2, 3], { currency: 'EUR', cents: 1999 }])).toBe(
      'v2:billing.invoice_total:0cda048cb4b27987',
    )
    expect(() => builder.buildKey('n', [() => 1])).toThrow(CacheKeyError)
    expect(() => defaultKeyBuilder('a||b')).toThrow(CacheOptionsError)
    // Remembered keys belong to their name, and match what is built afresh.
    const memo = defaultKeyBuilder()
    expect([memo.buildKey('f', [123]), memo.buildKey('g', [123]), memo.buildKey('f', [123]), memo.buildKey('f', ['123'])]).toEqual([
      E.getOrElse(() => '')(makeKey('cache', 'f', [123])),
      E.getOrElse(() => '')(makeKey('cache', 'g', [123])),
      E.getOrElse(() => '')(makeKey('cache', 'f', [123])),
      E.getOrElse(() => '')(makeKey('cache', 'f', ['123'])),
    ])
    expect(defaultKeyBuilder().prefix).toBe('cache')
  })

  it('functionName is the name, or undefined for an anonymous function', () => {
    function named() {
      return 1
    }
    expect(functionName(named)).toBe('named')
    expect(functionName([() => 1][0] ?? named)).toBeUndefined()
  })

  it('types', () => {
    expectTypeOf(makeKey).returns.toEqualTypeOf<E.Either<CacheError, string>>()
    expectTypeOf(defaultKeyBuilder).returns.toEqualTypeOf<DefaultKeyBuilder>()
    expectTypeOf(hashInput).parameters.toEqualTypeOf<[args: ReadonlyArray<unknown>]>()
  })
})

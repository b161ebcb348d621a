/**
 * The fuzz suite of issue 22 (fast-check, seeded, bounded in time): hostile arguments, key options
 * and stored bytes, on the memory store and the test sidecar, with each in-process tier mode. The
 * property everywhere: a call resolves to the function's own result or its own error (or a valid
 * hit), within a bounded time, and nothing is written that the writer would refuse.
 */
import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import * as O from 'fp-ts/lib/Option.js'
import { cacheable } from '../src/cacheable.js'
import type { CacheableOptions } from '../src/cacheable.js'
import { CacheOptionsError } from '../src/errors.js'
import { makeKey } from '../src/Key.js'
import { jsonSerializer, msgpackSerializer } from '../src/Serializer.js'
import type { SafeSerializer } from '../src/Serializer.js'
import { daprStore } from '../src/stores/DaprStore.js'
import { memoryStore } from '../src/stores/MemoryStore.js'
import type { Store } from '../src/Store.js'
import type { TestSidecar } from '../src/testing/index.js'
import { startTestSidecar } from '../src/testing/index.js'

const silent = { warn: () => undefined }
/** Longer than any call here may take: one that does not settle within it fails the property. */
const BOUND_MS = 3_000

let sidecar: TestSidecar
let remote: Store & { close: () => Promise<void> }
beforeAll(async () => {
  sidecar = await startTestSidecar()
  remote = daprStore({ daprUrl: sidecar.url, env: {}, breaker: false, timeoutMs: 1_000 })
})
afterAll(async () => {
  await remote.close()
  await sidecar.close()
})

const backends: ReadonlyArray<readonly [string, () => Store]> = [
  ['memory store', () => memoryStore()],
  ['test sidecar', () => remote],
]
const tiers: ReadonlyArray<CacheableOptions['l1']> = [undefined, { values: 'copy' }, { values: 'frozen' }]
const configurations = backends.flatMap(([store, make]) => tiers.map((l1) => [`${store}, tier ${l1 === undefined ? 'off' : (l1 as { values: string }).values}`, make, l1] as const))

/** Settles `promise` as an Either, or fails when it takes longer than BOUND_MS. */
const bounded = async <A>(promise: Promise<A>): Promise<E.Either<unknown, A>> => {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`a call took longer than ${BOUND_MS} ms`)), BOUND_MS)
  })
  try {
    return await Promise.race([promise.then(E.right, E.left), late])
  } finally {
    clearTimeout(timer)
  }
}

// -------------------------------------------------------------------------------------
// hostile values
// -------------------------------------------------------------------------------------

const throwingGetter = fc.constant(null).map(() =>
  Object.defineProperty({}, 'boom', {
    enumerable: true,
    get: () => {
      throw new Error('a getter that throws')
    },
  }),
)
const cycle = fc.constant(null).map(() => {
  const node: Record<string, unknown> = { a: 1 }
  node['self'] = node
  return node
})
const hostile = fc.oneof(
  fc.anything({
    withBigInt: true,
    withDate: true,
    withMap: true,
    withSet: true,
    withTypedArray: true,
    withSparseArray: true,
    withNullPrototype: true,
    withBoxedValues: true,
    stringUnit: 'binary',
    maxDepth: 3,
  }),
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.constant(-0),
  fc.bigInt({ min: -(10n ** 12_000n), max: 10n ** 12_000n }),
  fc.constant(Symbol('s')),
  fc.constant(() => 1),
  throwingGetter,
  cycle,
)

/** The function under test: gives back what it is told, or throws its own error; remembers each answer. */
const source = () => {
  const answers: Array<unknown> = []
  const ownErrors: Array<unknown> = []
  const fn = async (outcome: { readonly value: unknown; readonly fail: boolean }, ..._args: ReadonlyArray<unknown>): Promise<unknown> => {
    if (outcome.fail) {
      const error = new Error('the function’s own error')
      ownErrors.push(error)
      throw error
    }
    answers.push(outcome.value)
    return outcome.value
  }
  return { fn, answers, ownErrors }
}

/** Whether `result` is something the function answered, or one of its own errors. */
const isOwn = (result: E.Either<unknown, unknown>, answers: ReadonlyArray<unknown>, ownErrors: ReadonlyArray<unknown>): boolean =>
  E.isLeft(result) ? ownErrors.includes(result.left) : answers.some((answer) => Object.is(answer, result.right) || sameData(answer, result.right))

/** Equal as data (a hit is a copy); values that cannot be compared by Jest's rules count as unequal. */
const sameData = (a: unknown, b: unknown): boolean => {
  try {
    expect(b).toEqual(a)
    return true
  } catch {
    return false
  }
}

let run = 0

describe.each(configurations)('fuzz: %s', (_, makeStore, l1) => {
  it('arbitrary arguments and answers: each call gives the function’s own result or error, within a bound', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(hostile, { maxLength: 3 }), hostile, fc.boolean(), async (args, value, fail) => {
        const { fn, answers, ownErrors } = source()
        const cached = cacheable({ store: makeStore(), name: `fuzz.args.${run++}`, logger: silent, ...(l1 === undefined ? {} : { l1 }) })(fn)
        for (let round = 0; round < 2; round++) {
          const result = await bounded(cached({ value, fail }, ...args))
          expect(isOwn(result, answers, ownErrors)).toBe(true)
        }
        await bounded(cached.invalidate({ value, fail }, ...args).catch(() => undefined))
      }),
      { seed: 2201, numRuns: 150, interruptAfterTimeLimit: 8_000 },
    )
  }, 30_000)

  it('arbitrary stored bytes: a valid hit, or the function’s own result, and only readable bytes written', async () => {
    const msgpack = msgpackSerializer()
    const json = jsonSerializer()
    await fc.assert(
      fc.asyncProperty(storedBytes, fc.boolean(), async (bytes, useJson) => {
        const serializer: SafeSerializer = useJson ? json : msgpack
        const store = makeStore()
        const name = `fuzz.bytes.${run++}`
        const key = makeKey('cache', name, [{ value: 7, fail: false }])
        if (E.isLeft(key)) throw new Error('the key of plain data')
        await store.set(key.right, bytes, 60)()
        const { fn, answers, ownErrors } = source()
        const cached = cacheable({ store, name, serializer, logger: silent, ...(l1 === undefined ? {} : { l1 }) })(fn)
        const stored = serializer.tryDeserialize(bytes)
        for (let round = 0; round < 2; round++) {
          const result = await bounded(cached({ value: 7, fail: false }))
          const validHit = E.isRight(stored) && E.isRight(result) && sameData(stored.right, result.right)
          expect(validHit || isOwn(result, answers, ownErrors)).toBe(true)
        }
        // Whatever the key holds now is what was there (a valid hit) or bytes this serializer reads.
        const now = await store.get(key.right)()
        if (E.isRight(now) && O.isSome(now.right) && !sameBytes(now.right.value, bytes)) {
          expect(E.isRight(serializer.tryDeserialize(now.right.value))).toBe(true)
        }
      }),
      { seed: 2202, numRuns: 200, interruptAfterTimeLimit: 8_000 },
    )
  }, 30_000)
})

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((byte, i) => byte === b[i])

// -------------------------------------------------------------------------------------
// hostile bytes
// -------------------------------------------------------------------------------------

const msgpackOf = (value: unknown): Uint8Array => {
  const bytes = msgpackSerializer().trySerialize(value)
  return E.isRight(bytes) ? bytes.right : new Uint8Array([0xc0])
}

/** Random, truncated, deep, lying and otherwise adversarial MessagePack and JSON. */
const storedBytes: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ maxLength: 64 }),
  // A valid value, cut short or with bytes after it.
  fc.tuple(fc.jsonValue({ maxDepth: 3 }), fc.nat(), fc.uint8Array({ maxLength: 4 })).map(([value, cut, extra]) => {
    const whole = msgpackOf(value)
    return cut % 3 === 0 ? whole.slice(0, cut % (whole.length + 1)) : cut % 3 === 1 ? new Uint8Array([...whole, ...extra]) : whole
  }),
  // Nesting far deeper than a writer writes: arrays, maps, and Map extensions inside each other.
  fc.tuple(fc.integer({ min: 90, max: 6_000 }), fc.constantFrom(0x91, 0x81)).map(([depth, header]) =>
    new Uint8Array([...new Array<number>(depth).fill(header).flatMap((byte) => (byte === 0x81 ? [0x81, 0xa1, 0x6b] : [byte])), 0x01]),
  ),
  // Huge declared lengths: strings, binaries, arrays and maps of 4 GiB in a few bytes.
  fc.constantFrom(0xdb, 0xc6, 0xdd, 0xdf, 0xc9).chain((type) =>
    fc.uint8Array({ minLength: 0, maxLength: 200 }).map((rest) => new Uint8Array([type, 0xff, 0xff, 0xff, 0xff, ...(type === 0xc9 ? [1] : []), ...rest])),
  ),
  // A BigInt extension with too many digits, and extension types no writer here uses.
  fc.integer({ min: 1, max: 40_000 }).map((digits) => new Uint8Array([0xc9, ...u32(digits), 1, ...new Uint8Array(digits).fill(0x39)])),
  fc.integer({ min: -128, max: 127 }).map((type) => new Uint8Array([0xd4, type & 0xff, 0])),
  // JSON: valid, deep, with an own __proto__ (plain or escaped), cut short.
  fc.jsonValue({ maxDepth: 3 }).map((value) => new TextEncoder().encode(JSON.stringify(value))),
  fc.integer({ min: 90, max: 6_000 }).map((depth) => new TextEncoder().encode(`${'['.repeat(depth)}1${']'.repeat(depth)}`)),
  fc.constantFrom('{"__proto__":{"polluted":true}}', '{"\\u005f_proto__":{"polluted":true}}', '{"a":[1,2', '"\\ud800"').map((text) => new TextEncoder().encode(text)),
)

function u32(n: number): Array<number> {
  return [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]
}

describe('fuzz: arbitrary key options', () => {
  it('either refused at wrap time with a CacheOptionsError, or every call gives the function’s own result', async () => {
    const keyString = fc.oneof(fc.string({ unit: 'binary', maxLength: 6 }), fc.constantFrom('a:b', 'a||b', '', ':', '\ud800', 'ok'))
    await fc.assert(
      fc.asyncProperty(
        fc.record({ keyPrefix: keyString, name: keyString }, { requiredKeys: [] }),
        fc.option(fc.oneof(fc.anything(), keyString), { nil: undefined }),
        fc.constantFrom(...backends),
        async (keyOptions, customKey, [, makeStore]) => {
          const { fn, answers, ownErrors } = source()
          let cached: ReturnType<typeof cacheable> extends (fn: never) => infer R ? R : never
          try {
            // A key of this run's own (a string key gets a suffix), so that no earlier run's entry is a hit.
            const own = typeof customKey === 'string' ? `${customKey}.${run++}` : customKey
            const keyBuilder = customKey === undefined ? undefined : { buildKey: () => own as string }
            cached = cacheable({ store: makeStore(), logger: silent, ...keyOptions, ...(keyOptions.name === undefined ? { name: `fuzz.keys.${run++}` } : {}), ...(keyBuilder === undefined ? {} : { keyBuilder }) })(fn) as typeof cached
          } catch (error) {
            expect(error).toBeInstanceOf(CacheOptionsError)
            return
          }
          const result = await bounded((cached as (outcome: { value: unknown; fail: boolean }) => Promise<unknown>)({ value: run++, fail: false }))
          expect(isOwn(result, answers, ownErrors)).toBe(true)
        },
      ),
      { seed: 2203, numRuns: 400, interruptAfterTimeLimit: 8_000 },
    )
  }, 30_000)
})

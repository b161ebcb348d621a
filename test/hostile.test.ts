/**
 * Issue 22: the defects a hostile probe found, each as a plain test. A cached call never fails for a
 * cache reason; bad options fail at wrap time with a typed error that echoes no secret.
 */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import { cache } from '../src/Cached.js'
import { cacheable } from '../src/cacheable.js'
import { CacheKeyError, CacheOptionsError } from '../src/errors.js'
import { copyValue } from '../src/internal/copy.js'
import { InMemoryMetrics } from '../src/Metrics.js'
import { probeStore } from './helpers.js'
import { withKey } from '../src/Pipeline.js'
import { jsonSerializer, msgpackSerializer } from '../src/Serializer.js'
import { daprStore } from '../src/stores/DaprStore.js'
import { memoryStore } from '../src/stores/MemoryStore.js'
import type { Store } from '../src/Store.js'
import type { TestSidecar } from '../src/testing/index.js'
import { startTestSidecar } from '../src/testing/index.js'

const LONE = '\uD800'
const silent = { warn: () => undefined }

let sidecar: TestSidecar
const stores: Array<{ close: () => Promise<void> }> = []
beforeAll(async () => {
  sidecar = await startTestSidecar()
})
afterAll(async () => {
  await Promise.all(stores.map((store) => store.close()))
  await sidecar.close()
})

const remote = (): Store => {
  const store = daprStore({ daprUrl: sidecar.url, env: {}, breaker: false })
  stores.push(store)
  return store
}

const backends: ReadonlyArray<readonly [string, () => Store]> = [
  ['the memory store', memoryStore],
  ['the test sidecar', remote],
]

describe('a lone UTF-16 surrogate in a key (1)', () => {
  it('is refused in keyPrefix, name and storeName at wrap time, with a typed error', () => {
    expect(() => cacheable({ store: memoryStore(), keyPrefix: `a${LONE}` })).toThrow(CacheOptionsError)
    expect(() => cacheable({ store: memoryStore(), name: `f${LONE}` })).toThrow(/`name`/)
    expect(() => withKey(`f${LONE}`)).toThrow(CacheOptionsError)
    expect(() => daprStore({ storeName: LONE, env: {} })).toThrow(/`storeName`/)
  })

  it('in the function’s own name is refused when it is wrapped', () => {
    const fn = async (n: number) => n
    Object.defineProperty(fn, 'name', { value: `load${LONE}` })
    expect(() => cacheable({ store: memoryStore() })(fn)).toThrow(CacheOptionsError)
  })

  it.each(backends)('from a custom key builder: the call runs uncached, on %s, and invalidate says why', async (_, store) => {
    const metrics = new InMemoryMetrics()
    let calls = 0
    const get = cacheable({ store: store(), name: 'surrogates', metrics, logger: silent, keyBuilder: { buildKey: (_name, args) => `k${String(args[0])}${LONE}` } })(
      async (n: number) => (calls++, n * 2),
    )
    expect(await get(1)).toBe(2)
    expect(await get(1)).toBe(2)
    expect(calls).toBe(2)
    expect(metrics.getStats().errorsByCode).toEqual({ E_CACHE_KEY: 2 })
    await expect(get.invalidate(1)).rejects.toBeInstanceOf(CacheKeyError)
  })

  it('reaches the Dapr store only as a KeyError value, never a throw', async () => {
    const store = remote()
    const read = await store.get(`k${LONE}`)()
    expect(E.isLeft(read) && read.left._tag).toBe('KeyError')
    const written = await store.set(`k${LONE}`, new Uint8Array([1]), 60)()
    expect(E.isLeft(written) && written.left._tag).toBe('KeyError')
  })
})

describe('stored values deeper or costlier than a written one (2)', () => {
  const nested = (depth: number): unknown => {
    let value: unknown = 1
    for (let i = 0; i < depth; i++) value = [value]
    return value
  }

  it.each(['frozen', 'copy'] as const)('a value nested 5,000 deep is unreadable: recomputed and warned about (tier %s)', async (values) => {
    const store = probeStore(memoryStore())
    const metrics = new InMemoryMetrics()
    const get = cacheable({ store, name: 'deep', metrics, logger: silent, l1: { values } })(async (n: number) => ({ n }))
    await get(1)
    await store.set(store.keys.set[0] as string, new Uint8Array([...new Array<number>(5_000).fill(0x91), 1]), 60)() // 5,000 arrays of one item
    // Another replica, whose tier is empty, reads it.
    const other = cacheable({ store, name: 'deep', metrics, logger: silent, l1: { values } })(async (n: number) => ({ n }))
    expect(await other(1)).toEqual({ n: 1 })
    expect(metrics.getStats().errorsByCode).toMatchObject({ E_CACHE_SERIALIZATION: 1 })
  })

  it('the reader accepts exactly the depths the writer writes', () => {
    const serializer = msgpackSerializer()
    const deepest = nested(100) // 100 levels of arrays
    expect(serializer.deserialize(serializer.serialize(deepest))).toEqual(deepest)
    expect(E.isLeft(serializer.trySerialize(nested(101)))).toBe(true)
    expect(E.isLeft(serializer.tryDeserialize(new Uint8Array([...new Array<number>(101).fill(0x91), 1])))).toBe(true)
    const json = jsonSerializer()
    expect(json.deserialize(json.serialize(deepest))).toEqual(deepest)
    expect(E.isLeft(json.trySerialize(nested(101)))).toBe(true)
    expect(E.isLeft(json.tryDeserialize(new TextEncoder().encode(JSON.stringify(nested(101)))))).toBe(true)
  })

  it('a Map or Set counts as one level, as the writer counts it', () => {
    const serializer = msgpackSerializer()
    let value: unknown = 1
    for (let i = 0; i < 100; i++) value = i % 2 === 0 ? new Map([['k', value]]) : new Set([value])
    expect(serializer.deserialize(serializer.serialize(value))).toEqual(value)
    expect(E.isLeft(serializer.trySerialize(new Set([value])))).toBe(true)
  })

  it('a BigInt of more than 10,000 digits is neither written nor read', () => {
    const serializer = msgpackSerializer()
    const big = 10n ** 10_000n // 10,001 digits
    expect(E.isLeft(serializer.trySerialize(big))).toBe(true)
    expect(serializer.deserialize(serializer.serialize(big / 10n))).toBe(big / 10n)
    expect(serializer.deserialize(serializer.serialize(-(big / 10n)))).toBe(-(big / 10n))
    // Bytes another writer made: the extension with a million digits is refused before parsing.
    const digits = new TextEncoder().encode('9'.repeat(1_000_000))
    const bytes = new Uint8Array([0xc9, ...[0, 0x0f, 0x42, 0x40], 1, ...digits])
    const read = serializer.tryDeserialize(bytes)
    expect(E.isLeft(read) && read.left.message).toMatch(/BigInt of more than 10000 digits/)
  })

  it('a container that declares more items than its bytes could hold is refused before anything is made', () => {
    const serializer = msgpackSerializer()
    const lying = new Uint8Array(200).fill(0xc0)
    lying.set([0xdd, 0xff, 0xff, 0xff, 0xff], 0) // an array of 4 billion items, in 195 bytes
    const read = serializer.tryDeserialize(lying)
    expect(E.isLeft(read) && read.left.message).toMatch(/4294967295 items in 195 bytes/)
  })
})

describe('a colon in a name (3)', () => {
  it('is refused at wrap time: `a:b` + `c` and `a` + `b:c` would share every key', () => {
    expect(() => cacheable({ store: memoryStore(), keyPrefix: 'a', name: 'b:c' })).toThrow(/`name`.*":"/)
    expect(() => withKey('b:c')).toThrow(CacheOptionsError)
    expect(() => cacheable({ store: memoryStore(), keyPrefix: 'a:b', name: 'c' })).not.toThrow()
  })

  it('in a method’s own name: the calls run uncached, the class still constructs', async () => {
    const metrics = new InMemoryMetrics()
    let calls = 0
    class Users {
      @cacheable({ store: memoryStore(), metrics, logger: silent })
      async ['get:user'](id: number): Promise<number> {
        calls++
        return id
      }
    }
    const users = new Users()
    expect(await users['get:user'](1)).toBe(1)
    expect(await users['get:user'](1)).toBe(1)
    expect(calls).toBe(2)
    expect(metrics.getStats().errorsByCode).toEqual({ E_CACHE_KEY: 2 })
  })
})

describe('secrets are never echoed (4, 5)', () => {
  it.each([
    ['http://user:SECRET@host:3500', 'daprUrl'],
    ['http://SECRET@host', 'daprUrl'],
    ['user:SECRET@host:3500', 'daprUrl'],
    ['http://host:3500/?token=SECRET', 'daprUrl'],
  ])('a daprUrl %s is refused without its credentials', (daprUrl, option) => {
    let message = ''
    try {
      daprStore({ daprUrl, env: {} })
    } catch (error) {
      expect(error).toBeInstanceOf(CacheOptionsError)
      message = (error as Error).message
    }
    expect(message).toContain(`\`${option}\``)
    expect(message).not.toContain('SECRET')
  })

  it('DAPR_HTTP_ENDPOINT with credentials is refused without them too', () => {
    expect(() => daprStore({ env: { DAPR_HTTP_ENDPOINT: 'https://me:SECRET@sidecar:3500' } })).toThrow(/DAPR_HTTP_ENDPOINT/)
    expect(() => daprStore({ env: { DAPR_HTTP_ENDPOINT: 'https://me:SECRET@sidecar:3500' } })).not.toThrow(/SECRET/)
  })

  it.each([
    ['a NUL', 'SEC\u0000RET'],
    ['a line break', 'SEC\nRET'],
    ['a character beyond Latin-1', 'SEC€RET'],
  ])('a token with %s is refused at construction, not echoed', (_, token) => {
    expect(() => daprStore({ apiToken: token, env: {} })).toThrow(CacheOptionsError)
    expect(() => daprStore({ apiToken: token, env: {} })).not.toThrow(/SEC/)
    expect(() => daprStore({ env: { DAPR_API_TOKEN: token } })).toThrow(/`DAPR_API_TOKEN`/)
  })

  it('a token of visible Latin-1 characters is sent as it is', async () => {
    const guarded = await startTestSidecar({ apiToken: 'tok én\t1' })
    const store = daprStore({ daprUrl: guarded.url, apiToken: 'tok én\t1', env: {}, breaker: false })
    expect(await store.set('k', new Uint8Array([1]), 60)()).toEqual(E.right(undefined))
    await store.close()
    await guarded.close()
  })
})

describe('an own "__proto__" key (6)', () => {
  it.each([
    ['no tier', undefined],
    ['a copying tier', { values: 'copy' as const }],
    ['a freezing tier', { values: 'frozen' as const }],
  ])('a stored JSON object with one is unreadable on every path (%s): recomputed, never a prototype from data', async (_, l1) => {
    const store = probeStore(memoryStore())
    const metrics = new InMemoryMetrics()
    const options = { store, name: 'proto', metrics, logger: silent, serializer: jsonSerializer(), ...(l1 === undefined ? {} : { l1 }) }
    const get = cacheable(options)(async (n: number) => ({ n }))
    await get(1)
    await store.set(store.keys.set[0] as string, new TextEncoder().encode('{"__proto__":{"polluted":true},"n":1}'), 60)()
    const fresh = cacheable(options)(async (n: number) => ({ n }))
    const value = (await fresh(1)) as Record<string, unknown>
    expect(value).toEqual({ n: 1 })
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype)
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined()
    expect(metrics.getStats().errorsByCode).toMatchObject({ E_CACHE_SERIALIZATION: 1 })
  })

  it('one spelled with escapes is refused too', () => {
    const read = jsonSerializer().tryDeserialize(new TextEncoder().encode('{"\\u005f_proto__":{"polluted":true}}'))
    expect(E.isLeft(read)).toBe(true)
  })

  it('the tier’s copy keeps one as an own key, never as the prototype', () => {
    const parsed = JSON.parse('{"__proto__":{"polluted":true},"n":1}') as object
    const copied = copyValue(parsed)?.value as Record<string, unknown>
    expect(Object.getPrototypeOf(copied)).toBe(Object.prototype)
    expect(Object.keys(copied)).toEqual(['__proto__', 'n'])
    expect(copied['polluted']).toBeUndefined()
  })

  it('a cycle or a value deeper than any serializer reads is not copied (served, not kept)', () => {
    const cycle: Record<string, unknown> = {}
    cycle['self'] = cycle
    expect(copyValue(cycle)).toBeUndefined()
    let deep: unknown = 1
    for (let i = 0; i < 10_000; i++) deep = { deep }
    expect(copyValue(deep)).toBeUndefined()
  })
})

describe('the test sidecar on IPv6 (7)', () => {
  it('gives a URL with the address in brackets, which a store can use', async () => {
    const six = await startTestSidecar({ host: '::1' })
    expect(six.url).toMatch(/^http:\/\/\[::1\]:\d+$/)
    const store = daprStore({ daprUrl: six.url, env: {}, breaker: false })
    const get = pipe(async (n: number) => n, cache(store), withKey('six'))
    expect(await get(3)()).toEqual(E.right(3))
    expect(six.state('cache').entries()).toHaveLength(1)
    await store.close()
    await six.close()
  })
})

describe('what a second hostile probe found', () => {
  const quiet = () => ({ metrics: new InMemoryMetrics(), logger: silent })

  it('a sparse array of 2^32-1 holes is a KeyError at once, not gigabytes of key', async () => {
    const { metrics, logger } = quiet()
    const count = cacheable({ store: memoryStore(), name: 'sparse', metrics, logger })(async (list: ReadonlyArray<unknown>) => list.length)
    const holes: Array<unknown> = []
    holes.length = 2 ** 32 - 1
    expect(await count(holes)).toBe(2 ** 32 - 1)
    await expect(count.invalidate(holes)).rejects.toBeInstanceOf(CacheKeyError)
    expect(metrics.getStats().errorsByCode).toEqual({ E_CACHE_KEY: 2 })
  })

  it('a BigInt argument of millions of digits is a KeyError, as the serializers refuse it', async () => {
    const { metrics, logger } = quiet()
    const id = cacheable({ store: memoryStore(), name: 'bigArg', metrics, logger })(async (n: bigint) => n > 0n)
    expect(await id(1n << 4_000_000n)).toBe(true)
    expect(await id(10n ** 9_999n)).toBe(true) // 10,000 digits: keyed
    expect(metrics.getStats().errorsByCode).toEqual({ E_CACHE_KEY: 1 })
  })

  const hostile = () =>
    new Proxy(
      {},
      {
        get: () => {
          throw new Error('trap')
        },
        getPrototypeOf: () => {
          throw new Error('trap')
        },
      },
    )

  it('a key builder, a serializer or a store that throws a Proxy that throws on every trap: the call runs uncached', async () => {
    const { metrics, logger } = quiet()
    const keyed = cacheable({ store: memoryStore(), name: 'trap', metrics, logger, keyBuilder: { buildKey: () => { throw hostile() } } })(async (n: number) => n)
    expect(await keyed(1)).toBe(1)
    const serialized = cacheable({
      store: memoryStore(),
      name: 'trap',
      metrics,
      logger,
      serializer: { serialize: () => { throw hostile() }, deserialize: () => { throw hostile() } },
    })(async (n: number) => n)
    expect(await serialized(2)).toBe(2)
    const failing: Store = { name: 'trap', get: () => () => { throw hostile() }, set: () => () => { throw hostile() }, delete: () => () => { throw hostile() } }
    const stored = cacheable({ store: failing, name: 'trap', metrics, logger })(async (n: number) => n)
    expect(await stored(3)).toBe(3)
    expect(metrics.getStats().errors).toBeGreaterThanOrEqual(3)
  })

  it.each([
    ['a Left of null', E.left(null)],
    ['a Right of a string', E.right('bytes?')],
    ['undefined', undefined],
    ['a Proxy that throws', hostile()],
  ])('a store of the user’s own that answers %s: the call runs uncached', async (_, answer) => {
    const { metrics, logger } = quiet()
    const odd = { name: 'odd', get: () => () => Promise.resolve(answer), set: () => () => Promise.resolve(answer), delete: () => () => Promise.resolve(answer) } as unknown as Store
    const get = cacheable({ store: odd, name: 'odd', metrics, logger })(async (n: number) => n + 1)
    expect(await get(1)).toBe(2)
    expect(metrics.getStats().errorsByCode).toMatchObject({ E_CACHE_CONNECTION: 1 })
  })

  it('a serializer whose deserialize gives a thenable: unreadable, never a call that hangs', async () => {
    const { metrics, logger } = quiet()
    const store = memoryStore()
    const serializer = { serialize: (value: unknown) => new TextEncoder().encode(JSON.stringify(value)), deserialize: () => ({ then: () => undefined }) }
    const get = cacheable({ store, name: 'thenable', metrics, logger, serializer })(async (n: number) => ({ n }))
    expect(await get(1)).toEqual({ n: 1 })
    expect(await get(1)).toEqual({ n: 1 }) // the stored entry cannot be read back: computed again
    expect(metrics.getStats().errorsByCode).toMatchObject({ E_CACHE_SERIALIZATION: 1 })
  })

  it('a static and an instance method of one name, or two symbols of one description, never share keys', async () => {
    const { metrics, logger } = quiet()
    const store = memoryStore()
    const first = Symbol('id')
    const second = Symbol('id')
    class K {
      @cacheable({ store, metrics, logger })
      static async id(x: number): Promise<string> {
        return `static ${x}`
      }

      @cacheable({ store, metrics, logger })
      async id(x: number): Promise<string> {
        return `instance ${x}`
      }

      @cacheable({ store, metrics, logger })
      async [first](x: number): Promise<string> {
        return `first ${x}`
      }

      @cacheable({ store, metrics, logger })
      async [second](x: number): Promise<string> {
        return `second ${x}`
      }
    }
    const k = new K()
    expect(await K.id(1)).toBe('static 1')
    expect(await k.id(1)).toBe('instance 1')
    expect(await K.id(1)).toBe('static 1')
    expect(await k[first](1)).toBe('first 1')
    expect(await k[second](1)).toBe('second 1')
    expect(await k[first](1)).toBe('first 1')
    // The second of each pair to be named runs uncached, and says why.
    expect(metrics.getStats().errorsByCode).toEqual({ E_CACHE_KEY: 2 })
  })

  it.each([
    ['timeouts.hardMs', { timeouts: { hardMs: 2 ** 31 } }],
    ['lease.pollMs', { lease: { pollMs: 2 ** 31 } }],
    ['failSafe.maxStaleSeconds', { failSafe: { maxStaleSeconds: 2 ** 53 - 1 } }],
    ['ttlSeconds', { ttlSeconds: 2 ** 31 }],
  ])('%s past what a timer or a Dapr store takes is refused when wrapping', (option, options) => {
    expect(() => cacheable({ store: memoryStore(), ...options } as never)).toThrow(new RegExp(`\`${option.replace('.', '\\.')}\``))
  })

  it('an option given to the wrong function is refused without showing its value', () => {
    for (const options of [{ daprUrl: 'http://admin:hunter2@dapr:3500' }, { apiToken: 'tok-hunter2' }, { l1: { apiToken: 'tok-hunter2' } }]) {
      let error: unknown
      try {
        cacheable({ store: memoryStore(), ...options } as never)
      } catch (caught) {
        error = caught
      }
      expect(error).toBeInstanceOf(CacheOptionsError)
      expect((error as Error).message).not.toContain('hunter2')
      expect(JSON.stringify((error as CacheOptionsError).failure)).not.toContain('hunter2')
    }
  })

  it('daprStore refuses an unknown option (a typo) and a daprUrl that is not a string', () => {
    expect(() => daprStore({ daprurl: 'http://10.0.0.5:3500', env: {} } as never)).toThrow(/`daprurl`: expected a known option/)
    expect(() => daprStore({ daprUrl: 123, env: {} } as never)).toThrow(CacheOptionsError)
    expect(() => daprStore({ daprUrl: new URL('http://127.0.0.1:3500'), env: {} } as never)).toThrow(CacheOptionsError)
    expect(() => daprStore({ timeoutMs: 2 ** 31, env: {} })).toThrow(/`timeoutMs`/)
  })

  it('Set extensions nested in each other 100,000 deep are refused before decoding, never by a stack overflow', () => {
    const depth = 100_000
    const bytes = new Uint8Array(depth * 6 + 1)
    for (let i = 0; i < depth; i++) {
      const left = (depth - i - 1) * 6 + 1 // the bytes after this header
      bytes.set([0xc9, (left >>> 24) & 0xff, (left >>> 16) & 0xff, (left >>> 8) & 0xff, left & 0xff, 3], i * 6)
    }
    bytes[depth * 6] = 0xc0
    const read = msgpackSerializer().tryDeserialize(bytes)
    expect(E.isLeft(read) && read.left.message).toMatch(/a Map or Set extension that does not hold an array/)
  })

  it('a sparse array is not written (it would come back with own undefineds): the caller still gets it', async () => {
    const serializer = msgpackSerializer()
    // eslint-disable-next-line no-sparse-arrays
    const sparse = [1, , 3]
    expect(E.isLeft(serializer.trySerialize(sparse))).toBe(true)
    expect(serializer.deserialize(serializer.serialize([1, undefined, 3]))).toEqual([1, undefined, 3])
    const { metrics, logger } = quiet()
    const get = cacheable({ store: memoryStore(), name: 'sparseValue', metrics, logger })(async () => sparse)
    expect(await get()).toBe(sparse)
    expect(metrics.getStats()).toMatchObject({ writes: 0, errorsByCode: { E_CACHE_SERIALIZATION: 1 } })
  })

  it('reads back only what the writer writes: decimal BigInt text, Maps of pairs', () => {
    const serializer = msgpackSerializer()
    const ext = (type: number, payload: ReadonlyArray<number>) => new Uint8Array([0xc7, payload.length, type, ...payload])
    const text = (s: string) => Array.from(new TextEncoder().encode(s))
    expect(E.isLeft(serializer.tryDeserialize(ext(1, text('0x1f'))))).toBe(true)
    expect(E.isLeft(serializer.tryDeserialize(ext(1, [])))).toBe(true)
    expect(serializer.deserialize(ext(1, text('-31')))).toBe(-31n)
    expect(E.isLeft(serializer.tryDeserialize(ext(2, [0x93, 1, 2, 3])))).toBe(true)
    expect(serializer.deserialize(ext(2, [0x92, 1, 2]))).toEqual(new Map([[1, 2]]))
  })
})

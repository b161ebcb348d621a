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

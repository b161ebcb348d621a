import { CacheableOptionsCodec, cacheable, invalidate } from '../src/cacheable.js'
import * as CE from '../src/CacheError.js'
import { CacheConnectionError, CacheFunctionTimeoutError, CacheOptionsError } from '../src/errors.js'
import { memoryStore } from '../src/stores/MemoryStore.js'
import { manualClock } from '../src/Clock.js'
import { InMemoryMetrics } from '../src/Metrics.js'
import { startTestSidecar } from '../src/testing/index.js'
import type { TestSidecar } from '../src/testing/index.js'
import type { Deferred, ProbeStore } from './helpers.js'
import { brokenStore, collectingLogger, deferred, probeStore, until } from './helpers.js'

describe('cacheable(options)(fn)', () => {
  it('computes once, then reads the stored value until invalidated', async () => {
    const store = probeStore(memoryStore())
    let calls = 0
    const getUser = cacheable({ store, ttlSeconds: 60 })(async function getUser(id: number) {
      calls++
      return { id, name: `user ${id}` }
    })
    expect(await getUser(1)).toEqual({ id: 1, name: 'user 1' })
    expect(await getUser(1)).toEqual({ id: 1, name: 'user 1' })
    expect(calls).toBe(1)
    await getUser.invalidate(1)
    expect(await getUser(1)).toEqual({ id: 1, name: 'user 1' })
    expect(calls).toBe(2)
    expect(store.keys.set[0]).toMatch(/^cache:getUser:[0-9a-f]{16}$/)
  })

  it('wraps a sync function: the wrapper returns a Promise of its value', async () => {
    const square = cacheable({ store: memoryStore() })(function square(n: number) {
      return n * n
    })
    const result = square(4)
    expect(result).toBeInstanceOf(Promise)
    expect(await result).toBe(16)
  })

  it('rejects with exactly what the function threw, sync or async, and never caches it', async () => {
    const store = probeStore(memoryStore())
    const failure = new RangeError('bad id')
    let calls = 0
    const sync = cacheable({ store })(function syncFails(_: number): number {
      calls++
      throw failure
    })
    const async = cacheable({ store })(async function asyncFails(_: number): Promise<number> {
      calls++
      throw failure
    })
    await expect(sync(1)).rejects.toBe(failure)
    await expect(sync(1)).rejects.toBe(failure)
    await expect(async(1)).rejects.toBe(failure)
    expect(calls).toBe(3)
    expect(store.counts.set).toBe(0)
  })

  it('never fails a call for a cache reason: the store down, the value is still returned and counted', async () => {
    const metrics = new InMemoryMetrics()
    const logger = collectingLogger()
    const add = cacheable({ store: brokenStore(), metrics, logger })(async function add(a: number, b: number) {
      return a + b
    })
    for (let index = 0; index < 50; index++) expect(await add(index, 1)).toBe(index + 1)
    expect(metrics.getStats()).toMatchObject({ errors: 50, errorsByCode: { E_CACHE_CONNECTION: 50 } })
    expect(logger.lines).toHaveLength(1) // rate-limited: one warning per code per minute
    expect(logger.lines[0]).toMatch(/E_CACHE_CONNECTION/)
  })

  it('invalidate rejects with a CacheError when the store cannot delete', async () => {
    const f = cacheable({ store: brokenStore(), logger: collectingLogger() })(async function f(n: number) {
      return n
    })
    await expect(f.invalidate(1)).rejects.toBeInstanceOf(CacheConnectionError)
  })

  it('computes once for a concurrent burst', async () => {
    const store = probeStore(memoryStore())
    const gate = deferred()
    let calls = 0
    const slow = cacheable({ store })(async function slow(n: number) {
      calls++
      await gate.promise
      return n
    })
    const burst = Array.from({ length: 100 }, () => slow(1))
    gate.resolve()
    expect(await Promise.all(burst)).toEqual(Array(100).fill(1))
    expect({ calls, reads: store.counts.get, writes: store.counts.set }).toEqual({ calls: 1, reads: 1, writes: 1 })
  })

  it('hands the calls that share one computation one promise, and a later call its own', async () => {
    const gate = deferred()
    const failure = new RangeError('source down')
    let fail = false
    const slow = cacheable({ store: memoryStore() })(async function shared(n: number) {
      await gate.promise
      if (fail) throw failure
      return { n }
    })
    const [first, second, other] = [slow(1), slow(1), slow(2)]
    expect(second).toBe(first)
    expect(other).not.toBe(first)
    gate.resolve()
    expect(await first).toBe(await second)
    const later = slow(1)
    expect(later).not.toBe(first)
    expect(await later).toEqual({ n: 1 })
    // A failure reaches every caller that shared the computation, as itself.
    fail = true
    const [a, b] = [slow(3), slow(3)]
    expect(b).toBe(a)
    await expect(a).rejects.toBe(failure)
    await expect(b).rejects.toBe(failure)
  })

  it.each([
    ['no option', {}],
    ['the lease', { lease: true }],
    ['generations', { generations: true }],
    ['the lease, the tier and background writes', { lease: true, l1: true, backgroundWrites: true }],
  ] as const)('a function that invalidates its own key while it computes neither waits forever nor stores that value (%s)', async (_, options) => {
    let computations = 0
    const counted: ((id: number) => Promise<number>) & { invalidate: (id: number) => Promise<void> } = cacheable({ store: memoryStore(), name: 'self', ...options })(
      async (id: number) => {
        computations++
        if (computations === 1) await counted.invalidate(id)
        return computations
      },
    )
    expect(await counted(1)).toBe(1) // its caller asked before the invalidation: it gets the value
    expect(await counted(1)).toBe(2) // but it was not kept
    expect(await counted(1)).toBe(2)
  })

  describe('backgroundWrites', () => {
    const heldWrites = () => {
      const store = probeStore(memoryStore())
      const write = deferred()
      store.holdUntil.set = write.promise
      return { store, write }
    }
    const turns = async (count: number) => {
      for (let turn = 0; turn < count; turn++) await new Promise((resolve) => setImmediate(resolve))
    }
    /** A priced function with background writes over `store`, counting its computations. */
    const pricedWithBackgroundWrites = (store: ProbeStore) => {
      let calls = 0
      const price = cacheable({ store, backgroundWrites: true })(async function price(sku: string) {
        calls++
        await Promise.resolve()
        return { sku, cents: 100 * calls }
      })
      return { price, calls: () => calls }
    }
    /** Whether `call` has answered a few turns after the write it started was held; then lets the write land. */
    const answersBeforeItsWrite = async (call: () => Promise<unknown>, store: ProbeStore, write: Deferred<void>): Promise<boolean> => {
      let answered = false
      const answer = call().then(() => {
        answered = true
      })
      await until(() => store.counts.set === 1)
      await turns(5)
      const early = answered
      write.resolve()
      await answer
      return early
    }

    it('off (the default): a miss answers once its write has landed', async () => {
      const { store, write } = heldWrites()
      const price = cacheable({ store })(async function price(sku: string) {
        return { sku }
      })
      expect(await answersBeforeItsWrite(() => price('a'), store, write)).toBe(false)
    })

    it('on: a miss answers as soon as the value is computed, and the key stays in flight until its write has landed', async () => {
      const { store, write } = heldWrites()
      const { price, calls } = pricedWithBackgroundWrites(store)
      // The write is held: the caller has its value all the same.
      expect(await price('a')).toEqual({ sku: 'a', cents: 100 })
      expect(store.counts.set).toBe(1)
      expect(price.pending()).toBe(1)
      // A call meanwhile joins the flight: no second computation, no read.
      expect(await price('a')).toEqual({ sku: 'a', cents: 100 })
      expect({ calls: calls(), reads: store.counts.get }).toEqual({ calls: 1, reads: 1 })
      write.resolve()
      await until(() => price.pending() === 0)
      delete store.holdUntil.set
      // Landed: the next call is a hit.
      expect(await price('a')).toEqual({ sku: 'a', cents: 100 })
      expect({ calls: calls(), reads: store.counts.get }).toEqual({ calls: 1, reads: 2 })
    })

    it('on: an invalidation waits for the write it overtook, which is dropped once it lands', async () => {
      const { store, write } = heldWrites()
      const { price, calls } = pricedWithBackgroundWrites(store)
      expect(await price('a')).toEqual({ sku: 'a', cents: 100 })
      let invalidated = false
      const invalidation = price.invalidate('a').then(() => {
        invalidated = true
      })
      await turns(5)
      expect(invalidated).toBe(false)
      expect(price.pending()).toBe(1) // out of the flight, the write is still under way
      write.resolve()
      await invalidation
      expect(price.pending()).toBe(0)
      expect(store.counts.delete).toBe(2) // the invalidation's delete, then the overtaken write's
      delete store.holdUntil.set
      expect(await price('a')).toEqual({ sku: 'a', cents: 200 })
      expect(calls()).toBe(2)
    })

    it('on: a write that fails after its call has returned is counted and warned about', async () => {
      const { store, write } = heldWrites()
      const metrics = new InMemoryMetrics()
      const logger = collectingLogger()
      const price = cacheable({ store, backgroundWrites: true, metrics, logger })(async function price(sku: string) {
        return { sku }
      })
      expect(await price('a')).toEqual({ sku: 'a' })
      store.failWith.set = CE.connectionError('the write failed')
      write.resolve()
      await until(() => price.pending() === 0)
      expect(metrics.getStats()).toMatchObject({ misses: 1, writes: 0, errors: 1, errorsByCode: { E_CACHE_CONNECTION: 1 } })
      expect(logger.lines).toEqual([expect.stringMatching(/E_CACHE_CONNECTION/)])
    })

    it('on, with a lease: a miss still waits for its write, the lease held until the value is in the store', async () => {
      const inner = memoryStore()
      const probe = probeStore(inner)
      const write = deferred()
      probe.holdUntil.set = write.promise
      const create = inner.create
      if (create === undefined) throw new Error('the memory store takes leases')
      const store = { ...probe, create }
      const price = cacheable({ store, lease: true, backgroundWrites: true })(async function price(sku: string) {
        return { sku }
      })
      expect(await answersBeforeItsWrite(() => price('a'), probe, write)).toBe(false)
      delete probe.holdUntil.set
      expect(await price('a')).toEqual({ sku: 'a' }) // a hit: written once, computed once
      expect(probe.counts.set).toBe(1)
    })

    it('refuses a value that is not a boolean, naming it', () => {
      const wrap = () => cacheable({ store: memoryStore(), backgroundWrites: 'yes' as unknown as boolean })(async function f() {})
      expect(wrap).toThrow(CacheOptionsError)
      expect(wrap).toThrow(/backgroundWrites/)
    })
  })

  it('passes `this` through and keeps the name and arity', async () => {
    const store = memoryStore()
    const wrapped = cacheable({ store })(function scaled(this: { factor: number }, n: number) {
      return this.factor * n
    })
    expect(wrapped.name).toBe('scaled')
    expect(wrapped.length).toBe(1)
    expect(await wrapped.call({ factor: 3 }, 2)).toBe(6)
  })

  it('shares entries with another wrapper of the same name, and honours keyPrefix and name', async () => {
    const store = probeStore(memoryStore())
    const first = cacheable({ store, name: 'myapp.services.get_user' })(async (id: number) => ({ id, from: 'first' }))
    const second = cacheable({ store, name: 'myapp.services.get_user' })(async (id: number) => ({ id, from: 'second' }))
    await first(123)
    expect(await second(123)).toEqual({ id: 123, from: 'first' })
    expect(store.keys.set).toEqual(['cache:myapp.services.get_user:2e35095596df2383'])
    const prefixed = cacheable({ store, keyPrefix: 'v2', name: 'n' })(async (id: number) => id)
    await prefixed(1)
    expect(store.keys.set[1]).toMatch(/^v2:n:/)
  })

  describe('options are checked when the function is wrapped', () => {
    const fn = async function f(n: number) {
      return n
    }
    const store = memoryStore()
    it.each([
      [{ store, ttlSeconds: 0 }, 'ttlSeconds'],
      [{ store, ttlSeconds: -1 }, 'ttlSeconds'],
      [{ store, ttlSeconds: 1.5 }, 'ttlSeconds'],
      [{ store, ttlSeconds: '60' as unknown as number }, 'ttlSeconds'],
      [{ store, keyPrefix: 'a||b' }, 'keyPrefix'],
      [{ store, keyPrefix: '' }, 'keyPrefix'],
      [{ store, name: '' }, 'name'],
      [{ store, storeName: 'x||y' }, 'storeName'],
      [{ store, keyBuilder: { build: () => 'k' } as never }, 'keyBuilder'],
      [{ store, serializer: { serialize: () => new Uint8Array() } as never }, 'serializer'],
      [{ store, metrics: { recordHit: () => undefined } as never }, 'metrics'],
      [{ store, logger: {} as never }, 'logger'],
      [{ store: {} as never }, 'store'],
      [{ store, ttl: 60 }, 'ttl'],
    ])('%p is refused, naming `%s`', (options, option) => {
      expect(() => cacheable(options)(fn)).toThrow(CacheOptionsError)
      try {
        cacheable(options)(fn)
      } catch (error) {
        expect((error as CacheOptionsError).option).toBe(option)
        expect((error as Error).message).toContain(`\`${option}\``)
      }
    })

    it('one codec describes the options: it refuses what cacheable refuses, and accepts what it accepts', () => {
      const candidates: ReadonlyArray<unknown> = [
        { store, ttlSeconds: 0 },
        { store, keyPrefix: 'a||b' },
        { store, l1: { values: 'shared' } },
        { store, lease: { maxWaitMs: 0 } },
        { store, metrics: [{}] },
        { store, tracer: 'yes' },
        { store, generations: 'yes' },
        { store, generations: true, lease: true },
        { store, ttlSeconds: 60, l1: true, lease: { leaseSeconds: 5 }, tracer: false, metrics: [] },
        { store },
      ]
      for (const options of candidates) {
        const accepted = CacheableOptionsCodec.is(options)
        expect(accepted ? 'accepted' : 'refused').toBe((() => {
          try {
            cacheable(options as never)(fn)
            return 'accepted'
          } catch {
            return 'refused'
          }
        })())
      }
    })

    it('an unknown option is named, with the likely one', () => {
      expect(() => cacheable({ store, ttl: 60 } as never)(fn)).toThrow(
        'invalid option `ttl`: expected a known option (did you mean `ttlSeconds`?); the options are store, storeName, ttlSeconds',
      )
    })

    it('an anonymous function without a name is refused', () => {
      expect(() => cacheable({ store })([async (n: number) => n][0] ?? (async (n: number) => n))).toThrow(/`name`/)
    })
  })
})

describe('@cacheable(options) on methods', () => {
  const store = probeStore(memoryStore())
  let loads = 0

  class UserService {
    constructor(readonly label: string) {}

    @cacheable({ store, ttlSeconds: 60 })
    async getUser(id: number): Promise<{ id: number; by: string }> {
      loads++
      return { id, by: this.label }
    }

    @cacheable({ store })
    static async version(major: number): Promise<string> {
      return `v${major}`
    }
  }

  class AdminService extends UserService {}

  beforeEach(() => {
    loads = 0
  })

  it('shares entries across instances, keyed by Class.method without `this`', async () => {
    const a = new UserService('a')
    const b = new UserService('b')
    expect(await a.getUser(1)).toEqual({ id: 1, by: 'a' })
    expect(await b.getUser(1)).toEqual({ id: 1, by: 'a' })
    expect(loads).toBe(1)
    expect(store.keys.set).toContainEqual(expect.stringMatching(/^cache:UserService\.getUser:[0-9a-f]{16}$/))
  })

  it('an inherited method keeps its defining class in the key', async () => {
    await new AdminService('admin').getUser(2)
    expect(store.keys.get).toContainEqual(expect.stringMatching(/^cache:UserService\.getUser:/))
    expect(store.keys.get.some((key) => key.startsWith('cache:AdminService'))).toBe(false)
  })

  it('works on static methods', async () => {
    expect(await UserService.version(2)).toBe('v2')
    expect(store.keys.set).toContainEqual(expect.stringMatching(/^cache:UserService\.version:/))
  })

  it('invalidates through the helper', async () => {
    const service = new UserService('c')
    await service.getUser(3)
    await invalidate(service.getUser, 3)
    await service.getUser(3)
    expect(loads).toBe(2)
  })

  it('the helper refuses a function that is not cached', async () => {
    await expect(invalidate(async (n: number) => n, 1)).rejects.toBeInstanceOf(CacheOptionsError)
  })
})

describe('@cacheable with fail-safe and a hard timeout on a method', () => {
  it('serves the stale value for a method that fails, and rejects a slow one with CacheFunctionTimeoutError', async () => {
    const clock = manualClock(0)
    const store = memoryStore({ clock })
    let failing = false
    let slow = false

    class Quotes {
      @cacheable({ store, clock, ttlSeconds: 1, failSafe: true, timeouts: { hardMs: 30 }, logger: { warn: () => undefined } })
      async quote(symbol: string): Promise<number> {
        if (failing) throw new Error('the feed is down')
        if (slow) await new Promise((resolve) => setTimeout(resolve, 200))
        return symbol.length
      }
    }

    const quotes = new Quotes()
    expect(await quotes.quote('ACME')).toBe(4)
    clock.advance(1000)
    failing = true
    expect(await quotes.quote('ACME')).toBe(4) // stale
    failing = false
    slow = true
    await expect(quotes.quote('NEW')).rejects.toBeInstanceOf(CacheFunctionTimeoutError)
    await new Promise((resolve) => setTimeout(resolve, 250))
    expect(await quotes.quote('NEW')).toBe(3) // written when it landed
  })
})

describe('cacheable(fn) with the defaults', () => {
  let sidecar: TestSidecar
  const saved = process.env['DAPR_HTTP_ENDPOINT']
  beforeAll(async () => {
    sidecar = await startTestSidecar({ stores: ['cache', 'prices'] })
    process.env['DAPR_HTTP_ENDPOINT'] = sidecar.url
  })
  afterAll(async () => {
    if (saved === undefined) delete process.env['DAPR_HTTP_ENDPOINT']
    else process.env['DAPR_HTTP_ENDPOINT'] = saved
    await sidecar.close()
  })

  it('caches in the Dapr store "cache" at the sidecar the environment names', async () => {
    let calls = 0
    const double = cacheable(async function double(n: number) {
      calls++
      return n * 2
    })
    expect(await double(21)).toBe(42)
    expect(await double(21)).toBe(42)
    expect(calls).toBe(1)
    expect(sidecar.state('cache').entries().map(([key]) => key)).toEqual([expect.stringMatching(/^cache:double:[0-9a-f]{16}$/)])
  })

  it('uses storeName for the default store, and refuses storeName next to a store', async () => {
    const price = cacheable({ storeName: 'prices' })(async function price(sku: string) {
      return sku.length
    })
    await price('abc')
    expect(sidecar.state('prices').entries()).toHaveLength(1)
    expect(() => cacheable({ store: memoryStore(), storeName: 'prices' })(price)).toThrow(/`storeName`/)
  })

  it('refuses a bad sidecar address from the environment when wrapping', () => {
    process.env['DAPR_HTTP_ENDPOINT'] = 'not a url'
    try {
      expect(() => cacheable(async function f(n: number) {
        return n
      })).toThrow(/DAPR_HTTP_ENDPOINT/)
    } finally {
      process.env['DAPR_HTTP_ENDPOINT'] = sidecar.url
    }
  })

  it('keeps CacheError values apart from facade classes', () => {
    expect(CE.isCacheError(new CacheConnectionError(CE.connectionError('x')))).toBe(false)
  })
})

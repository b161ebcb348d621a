/**
 * The cache never breaks, slows or corrupts the call it wraps: the fault suite over real HTTP
 * against the test sidecar's fault injection, the breaker under a hanging sidecar, and a soak with
 * faults switched on and off at random. For every fault: the result equals the uncached result, the
 * error is counted with the right code, and nothing is left in flight.
 */
import v8 from 'node:v8'
import vm from 'node:vm'
import * as t from 'io-ts'
import fc from 'fast-check'
import { manualClock } from '../src/Clock.js'
import { cacheable } from '../src/cacheable.js'
import { daprStore } from '../src/stores/DaprStore.js'
import { memoryStore } from '../src/stores/MemoryStore.js'
import type { Store } from '../src/Store.js'
import { CacheError } from '../src/errors.js'
import { InMemoryMetrics } from '../src/Metrics.js'
import { cache } from '../src/Cached.js'
import { orElseUncached, withDecoder, withDedup, withKey, withMetrics } from '../src/Pipeline.js'
import { startTestSidecar } from '../src/testing/index.js'
import type { FaultOptions, TestSidecar } from '../src/testing/index.js'
import { collectingLogger, recordingMetrics } from './helpers.js'
import { pipe } from 'fp-ts/lib/function.js'

const uncached = (id: number) => ({ id, square: id * id, label: `item ${id}` })

describe('the fault suite', () => {
  let sidecar: TestSidecar
  beforeAll(async () => {
    sidecar = await startTestSidecar({ stores: ['cache'], apiToken: 'right-token' })
  })
  afterAll(async () => {
    await sidecar.close()
  })
  beforeEach(() => {
    sidecar.clearFaults()
    sidecar.clearRequests()
    sidecar.state('cache').clear()
  })

  const cases: ReadonlyArray<readonly [string, FaultOptions | 'refused' | 'not-found' | 'unauthorized' | 'wrong-shape', string]> = [
    ['connection refused', 'refused', 'E_CACHE_CONNECTION'],
    ['reset mid-response', { route: 'get', kind: 'reset' }, 'E_CACHE_CONNECTION'],
    ['hang', { route: 'get', kind: 'hang' }, 'E_CACHE_TIMEOUT'],
    ['slow beyond the timeout', { route: 'get', kind: 'delay', delayMs: 300 }, 'E_CACHE_TIMEOUT'],
    ['500 ERR_STATE_GET', { route: 'get', kind: 'status', status: 500, errorCode: 'ERR_STATE_GET' }, 'E_CACHE_STORE_REJECTED'],
    ['500 ERR_STATE_SAVE', { route: 'save', kind: 'status', status: 500, errorCode: 'ERR_STATE_SAVE' }, 'E_CACHE_STORE_REJECTED'],
    ['400 ERR_STATE_STORE_NOT_FOUND', 'not-found', 'E_CACHE_STORE_REJECTED'],
    ['401', 'unauthorized', 'E_CACHE_STORE_REJECTED'],
    ['a garbage body', { route: 'get', kind: 'garbage' }, 'E_CACHE_SERIALIZATION'],
    ['a value of the wrong shape', 'wrong-shape', 'E_CACHE_VALIDATION'],
  ]

  it.each(cases)('%s: the uncached result, the right error code, nothing in flight', async (_name, fault, code) => {
    const store = daprStore({
      daprUrl: sidecar.url,
      env: {},
      apiToken: fault === 'unauthorized' ? 'wrong-token' : 'right-token',
      storeName: fault === 'not-found' ? 'missing-store' : 'cache',
      timeoutMs: 100,
      // The faults are put on single-key reads; batched reads' faults are in test/stores/batch.test.ts.
      batch: false,
    })
    const metrics = new InMemoryMetrics()
    const Item = t.type({ id: t.number, square: t.number, label: t.string })
    const getItem = pipe(
      async (id: number) => uncached(id),
      cache(store),
      withKey('items.get'),
      withDecoder(Item),
      withDedup(),
      withMetrics(metrics),
      orElseUncached({ logger: collectingLogger() }),
    )
    try {
      if (fault === 'refused') await sidecar.refuseConnections()
      else if (fault === 'wrong-shape') {
        await getItem(1)() // a good entry, then overwritten with another shape by "another deploy"
        const [key] = sidecar.state('cache').entries().map(([entryKey]) => entryKey)
        const other = pipe(async (id: number) => ({ id, name: 'old shape' }), cache(store), withKey('items.get'))
        await other.invalidate(1)()
        await other(1)()
        expect(sidecar.state('cache').get(key ?? '')).toBeDefined()
        metrics.reset()
      } else if (typeof fault === 'object') sidecar.fault(fault)

      const results = await Promise.all([1, 2, 3, 1].map((id) => getItem(id)()))
      expect(results).toEqual([1, 2, 3, 1].map((id) => ({ _tag: 'Right', right: uncached(id) })))
      expect(metrics.getStats().errorsByCode[code]).toBeGreaterThanOrEqual(1)
      expect(Object.keys(metrics.getStats().errorsByCode)).toEqual([code])
      expect(getItem.pending()).toBe(0)
    } finally {
      await sidecar.acceptConnections()
      await store.close()
    }
  })

  it('a value over maxValueBytes (by default what fits the 4 MiB body limit) is not even sent: counted, and the result returned', async () => {
    const store = daprStore({ daprUrl: sidecar.url, env: {}, apiToken: 'right-token' })
    const metrics = new InMemoryMetrics()
    try {
      const big = cacheable({ store, metrics, logger: collectingLogger() })(async function big(n: number) {
        return 'x'.repeat(n)
      })
      expect((await big(5 * 1024 * 1024)).length).toBe(5 * 1024 * 1024)
      expect(metrics.getStats().errorsByCode).toEqual({ E_CACHE_VALUE_TOO_LARGE: 1 })
      expect(sidecar.requests.map((request) => request.route)).toEqual(['get'])
    } finally {
      await store.close()
    }
  })

  it('the token goes only to the sidecar, and into no error message or log line', async () => {
    const token = 'right-token'
    const store = daprStore({ daprUrl: sidecar.url, env: {}, apiToken: token })
    const logger = collectingLogger()
    const metrics = recordingMetrics()
    try {
      const f = cacheable({ store, logger, metrics })(async function f(n: number) {
        return n
      })
      sidecar.fault({ kind: 'status', status: 500 })
      await f(1)
      sidecar.clearFaults()
      await sidecar.refuseConnections()
      await f(2)
      await sidecar.acceptConnections()
      await sidecar.refuseConnections()
      const failed = await store.delete('k')()
      await sidecar.acceptConnections()
      const messages = [
        ...logger.lines,
        ...metrics.recorded.errors.map(([, error]) => `${error.message} ${String(error.cause)}`),
        failed._tag === 'Left' ? failed.left.message : '',
      ]
      expect(metrics.recorded.errors.length).toBeGreaterThanOrEqual(2)
      expect(messages.join('\n')).not.toContain(token)
      expect(sidecar.requests.every((request) => request.headers['dapr-api-token'] === token)).toBe(true)
    } finally {
      await store.close()
    }
  })
})

describe('a store of the user\'s that throws instead of answering', () => {
  // The Store contract says every failure is a Left; a store written by a user may break it. The
  // call still gets the function's result, and the failure is counted as trouble with the store.
  const broken = (methods: ReadonlyArray<keyof Store>, how: 'throws' | 'rejects'): Store => {
    const inner: Store = memoryStore()
    const failure = new Error('the user store broke')
    const failing = (): never => {
      throw failure
    }
    const rejecting = () => () => Promise.reject(failure)
    const answer = (method: keyof Store) => {
      if (method === 'readNow' || method === 'writeNow' || how === 'throws') return failing
      return method === 'supportsCreate' ? () => Promise.reject(failure) : rejecting
    }
    const patch = Object.fromEntries(methods.map((method) => [method, answer(method)]))
    return { ...inner, name: 'users-own', ...patch }
  }

  it.each([
    ['get throws', ['get', 'readNow'], 'throws'],
    ['get rejects', ['get', 'readNow'], 'rejects'],
    ['set throws', ['set', 'writeNow'], 'throws'],
    ['set rejects', ['set', 'writeNow'], 'rejects'],
    ['readNow and writeNow throw', ['readNow', 'writeNow'], 'throws'],
  ] as const)('%s: the call returns the function\'s result, and the failure is counted', async (_case, methods, how) => {
    const metrics = recordingMetrics()
    let runs = 0
    const f = cacheable({ store: broken(methods, how), metrics, logger: collectingLogger(), name: 'broken' })(async (id: number) => {
      runs++
      return uncached(id)
    })
    expect(await f(3)).toEqual(uncached(3))
    expect(await f(3)).toEqual(uncached(3))
    expect(runs).toBe(2)
    expect(metrics.recorded.errors.length).toBeGreaterThan(0)
    for (const [, error] of metrics.recorded.errors) {
      expect(error).toMatchObject({ _tag: 'ConnectionError', code: 'E_CACHE_CONNECTION' })
      expect(error.message).toMatch(/the store "users-own" threw from \w+ instead of answering with a Left: .*the user store broke/)
    }
    expect(f.pending()).toBe(0)
  })

  it('invalidate rejects with a CacheError, not with what the store threw', async () => {
    const f = cacheable({ store: broken(['delete'], 'throws'), logger: collectingLogger(), name: 'broken' })(async (id: number) => uncached(id))
    const failed = await f.invalidate(3).catch((error: unknown) => error)
    expect(failed).toBeInstanceOf(CacheError)
    expect(failed).toMatchObject({ code: 'E_CACHE_CONNECTION' })
  })

  it('a store that cannot say whether it supports create holds no lease, and the calls still run', async () => {
    const logger = collectingLogger()
    const f = cacheable({ store: broken(['supportsCreate'], 'rejects'), logger, lease: true, name: 'broken' })(async (id: number) => uncached(id))
    expect(await f(4)).toEqual(uncached(4))
    expect(await f(4)).toEqual(uncached(4))
    expect(logger.lines.join('\n')).toMatch(/cannot hold leases/)
  })
})

describe('the breaker, with the sidecar hanging', () => {
  it('the first calls cost one timeout each, then the cache is skipped without a request', async () => {
    const clock = manualClock(0)
    const sidecar = await startTestSidecar()
    const store = daprStore({ daprUrl: sidecar.url, env: {}, timeoutMs: 50, breaker: { failureThreshold: 3, cooldownMs: 10_000, clock } })
    const metrics = new InMemoryMetrics()
    try {
      const f = cacheable({ store, metrics, logger: collectingLogger() })(async function f(n: number) {
        return n * 2
      })
      sidecar.fault({ kind: 'hang' })
      for (let i = 0; i < 3; i++) expect(await f(i)).toBe(i * 2)
      expect(store.breaker.state()).toBe('open')
      expect(sidecar.requests).toHaveLength(3)
      for (let i = 0; i < 100; i++) expect(await f(i)).toBe(i * 2)
      expect(sidecar.requests).toHaveLength(3) // no request while open
      expect(metrics.getStats().errorsByCode).toEqual({ E_CACHE_TIMEOUT: 3, E_CACHE_CIRCUIT_OPEN: 100 })

      sidecar.clearFaults()
      clock.advance(10_000)
      expect(await f(7)).toBe(14) // the probe: the sidecar answers, the breaker closes
      expect(store.breaker.state()).toBe('closed')
      expect(await f(7)).toBe(14)
      expect(metrics.getStats().hits).toBe(1)
    } finally {
      await store.close()
      await sidecar.close()
    }
  })
})

describe('soak', () => {
  it('thousands of concurrent calls over hundreds of keys while faults come and go: every result right, nothing left, memory flat', async () => {
    const sidecar = await startTestSidecar()
    const store = daprStore({ daprUrl: sidecar.url, env: {}, timeoutMs: 40, breaker: { failureThreshold: 20, cooldownMs: 50 } })
    const metrics = new InMemoryMetrics({ maxKeys: 100 })
    const f = cacheable({ store, metrics, ttlSeconds: 60, logger: collectingLogger() })(async function soaked(id: number) {
      await new Promise((resolve) => setImmediate(resolve))
      return uncached(id)
    })
    const faults: ReadonlyArray<FaultOptions> = [
      { kind: 'status', status: 500 },
      { kind: 'status', route: 'save', status: 500 },
      { kind: 'reset', route: 'get' },
      { kind: 'hang', route: 'get' },
      { kind: 'delay', delayMs: 60 },
      { kind: 'garbage', route: 'get' },
    ]
    v8.setFlagsFromString('--expose-gc')
    const gc = vm.runInNewContext('gc') as () => void
    const random = fc.sample(fc.tuple(fc.integer({ min: 0, max: 299 }), fc.integer({ min: 0, max: faults.length })), { numRuns: 5_000, seed: 42 })

    const round = async (offset: number): Promise<void> => {
      for (let batch = 0; batch < 5; batch++) {
        sidecar.clearFaults()
        const choice = random[offset + batch * 1000]?.[1] ?? faults.length
        const fault = faults[choice]
        if (fault !== undefined) sidecar.fault(fault)
        const ids = random.slice(offset + batch * 1000, offset + batch * 1000 + 1000).map(([id]) => id)
        const results = await Promise.all(ids.map((id) => f(id)))
        expect(results).toEqual(ids.map(uncached))
        expect(f.pending()).toBe(0)
      }
      sidecar.clearFaults()
    }

    try {
      await round(0) // warm up: JIT, pools, metrics' per-key table
      gc()
      const before = process.memoryUsage().heapUsed
      await round(0)
      await round(0)
      gc()
      const grown = process.memoryUsage().heapUsed - before
      expect(grown).toBeLessThan(8 * 1024 * 1024)
      expect(metrics.getStats().totalOperations + metrics.getStats().errors).toBeGreaterThan(0)
    } finally {
      await store.close()
      await sidecar.close()
    }
  }, 60_000)
})

/**
 * The lease across replicas, with replicas simulated in one process (each its own `cacheable` and its
 * own `daprStore`, so nothing is shared but the sidecar), on the test sidecar's in-memory, Redis and
 * PostgreSQL flavours (each answers a refused first-write its own way: 409, a sticky 500, a 500):
 * one computation for a stampede, a holder that never finishes replaced after its lease, invalidation
 * that wins over randomized interleavings, and a store that cannot hold leases. The same with real
 * processes is in test/replicas.test.ts, and on real daprd in test/dapr/replicas.test.ts.
 */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import { cacheable } from '../src/cacheable.js'
import { daprStore } from '../src/stores/DaprStore.js'
import { CacheOptionsError } from '../src/errors.js'
import { defaultKeyBuilder } from '../src/Key.js'
import type { LeaseOptions } from '../src/Lease.js'
import { generationKey, leaseKey, withLease } from '../src/Lease.js'
import { memoryStore } from '../src/stores/MemoryStore.js'
import { InMemoryMetrics } from '../src/Metrics.js'
import { cache } from '../src/Cached.js'
import { orElseUncached, withKey } from '../src/Pipeline.js'
import { msgpackSerializer } from '../src/Serializer.js'
import type { Store } from '../src/Store.js'
import type { TestSidecar } from '../src/testing/index.js'
import { startTestSidecar } from '../src/testing/index.js'
import { collectingLogger, eventually } from './helpers.js'

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
const NAME = 'replicas.value'
const keyOf = (id: number): string => defaultKeyBuilder().buildKey(NAME, [id])

describe.each(['in-memory', 'redis', 'postgres'] as const)('the lease on the test sidecar (%s flavour)', (flavour) => {
  let sidecar: TestSidecar
  const stores: Array<ReturnType<typeof daprStore>> = []
  beforeAll(async () => {
    sidecar = await startTestSidecar({ flavour })
  })
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()))
    sidecar.state('cache').clear()
    sidecar.clearRequests()
  })
  afterAll(async () => {
    await sidecar.close()
  })

  /** A replica: its own store, its own pipeline, one shared count of computations. */
  const replica = (computations: { count: number }, options: { fnMs: number; lease?: true | LeaseOptions; fn?: (id: number) => Promise<unknown> }) => {
    const store = daprStore({ daprUrl: sidecar.url, env: {}, breaker: false })
    stores.push(store)
    const metrics = new InMemoryMetrics()
    const fn =
      options.fn ??
      (async (id: number) => {
        const n = ++computations.count
        await sleep(options.fnMs)
        return { id, computation: n }
      })
    const cached = cacheable({ store, name: NAME, metrics, lease: options.lease ?? { pollMs: 10, maxPollMs: 40 }, logger: collectingLogger() })(fn)
    return { cached, metrics, store }
  }

  it('6 replicas x 50 concurrent callers on one cold key: exactly one computation, one value for all', async () => {
    const computations = { count: 0 }
    const replicas = Array.from({ length: 6 }, () => replica(computations, { fnMs: 150 }))
    const started = Date.now()
    const results = await Promise.all(replicas.flatMap(({ cached }) => Array.from({ length: 50 }, () => cached(1))))
    const elapsed = Date.now() - started
    expect(computations.count).toBe(1)
    expect(new Set(results.map((result) => JSON.stringify(result))).size).toBe(1)
    expect(elapsed).toBeLessThan(150 * 1.5 + 40 + 1_500) // the function, one poll, and slack for a loaded machine (the bench measures it)
    expect(replicas.map(({ cached }) => cached.pending())).toEqual([0, 0, 0, 0, 0, 0])
    // One lease request per replica per round, not per caller: 50 callers joined each replica's flight.
    const leaseRequests = sidecar.requests.filter((request) => request.route === 'save' && request.body.includes('first-write'))
    expect(leaseRequests.length).toBeLessThan(6 * 12)
    // The lease is given back, and its key never holds a value.
    expect(sidecar.state('cache').get(leaseKey(keyOf(1)))).toBeUndefined()
  })

  it('a holder that never finishes is replaced once its lease expires, within maxWaitMs', async () => {
    const computations = { count: 0 }
    let stuck = true
    const never = new Promise<never>(() => undefined)
    const holder = replica(computations, {
      fnMs: 0,
      lease: { leaseSeconds: 1, pollMs: 10, maxPollMs: 50 },
      fn: async (id: number) => {
        computations.count++
        if (stuck) await never
        return { id }
      },
    })
    void holder.cached(2) // takes the lease and hangs
    await eventually(() => computations.count === 1) // it holds the lease: its function has begun
    stuck = false
    const others = Array.from({ length: 3 }, () => replica(computations, { fnMs: 50, lease: { leaseSeconds: 1, maxWaitMs: 3_000, pollMs: 10, maxPollMs: 50 } }))
    const started = Date.now()
    const results = await Promise.all(others.flatMap(({ cached }) => Array.from({ length: 10 }, () => cached(2))))
    const waited = Date.now() - started
    expect(computations.count).toBe(2) // the stuck one, and one replacement
    expect(new Set(results.map((result) => JSON.stringify(result))).size).toBe(1)
    expect(waited).toBeGreaterThanOrEqual(900) // it waited for the lease to expire...
    expect(waited).toBeLessThan(3_000 + 50 + 500) // ...and never past maxWaitMs plus one function time
    expect(others.map(({ cached }) => cached.pending())).toEqual([0, 0, 0])
  })

  it('waits at most maxWaitMs for a holder, then computes itself', async () => {
    const computations = { count: 0 }
    const slow = replica(computations, { fnMs: 1_000, lease: { leaseSeconds: 10, pollMs: 10, maxPollMs: 50 } })
    const slowCall = slow.cached(3)
    await eventually(() => computations.count === 1) // it holds the lease: its function has begun
    const impatient = replica(computations, { fnMs: 10, lease: { maxWaitMs: 200, pollMs: 10, maxPollMs: 50 } })
    const started = Date.now()
    await impatient.cached(3)
    expect(Date.now() - started).toBeLessThan(200 + 10 + 1_000) // maxWaitMs, the function, slack for a loaded machine
    expect(computations.count).toBe(2)
    await slowCall
  })

  it('an invalidation on one replica wins over a computation under way on another (randomized interleavings)', async () => {
    const serializer = msgpackSerializer()
    let overlapping = 0 // rounds in which the computation began before the invalidation
    for (let round = 0; round < 25; round++) {
      const id = 100 + round
      const events: { invalidateStartedAt?: number; computeStartedAt?: number } = {}
      const computer = replica({ count: 0 }, {
        fnMs: 0,
        fn: async (n: number) => {
          const startedAt = Date.now()
          events.computeStartedAt = startedAt
          await sleep(Math.floor(Math.random() * 40))
          return { n, startedAt }
        },
      })
      const invalidator = replica({ count: 0 }, { fnMs: 0 })
      const computing = computer.cached(id)
      await sleep(Math.floor(Math.random() * 50))
      events.invalidateStartedAt = Date.now()
      await invalidator.cached.invalidate(id)
      await computing
      if ((events.computeStartedAt ?? Infinity) < events.invalidateStartedAt) overlapping++
      const stored = sidecar.state('cache').get(keyOf(id))
      if (stored !== undefined) {
        const value = serializer.deserialize(Buffer.from(JSON.parse(stored) as string, 'base64')) as { startedAt: number }
        // Whatever is left was computed after the invalidation began, never before it.
        expect(value.startedAt).toBeGreaterThanOrEqual(events.invalidateStartedAt)
      }
    }
    expect(overlapping).toBeGreaterThan(3) // the interesting interleaving happened, more than once
  })

  it('keeps the value key byte for byte what Python reads, and leases and generations in their own keys', async () => {
    const computations = { count: 0 }
    const one = replica(computations, { fnMs: 0 })
    await one.cached(4)
    await one.cached.invalidate(4)
    await one.cached(4)
    const keys = sidecar.state('cache').entries().map(([key]) => key).sort()
    expect(keys).toEqual([keyOf(4), generationKey(keyOf(4))].sort())
    expect(sidecar.state('cache').get(keyOf(4))).toMatch(/^"[A-Za-z0-9+/]+=*"$/)
    const saves = sidecar.requests.filter((request) => request.route === 'save').map((request) => JSON.parse(request.body) as Array<{ key: string; options?: unknown }>)
    for (const [item] of saves) {
      if (item?.options !== undefined) expect(item.key).toBe(leaseKey(keyOf(4))) // first-write only ever on the lease key
    }
  })
})

describe('the lease on stores that cannot hold one', () => {
  it('gives per-process single flight and says so once in the log', async () => {
    const plain: Store = (({ name, get, set, delete: del }) => ({ name, get, set, delete: del }))(memoryStore())
    const logger = collectingLogger()
    let calls = 0
    const cached = cacheable({ store: plain, lease: true, logger, name: 'no.lease' })(async (id: number) => {
      calls++
      await sleep(20)
      return id
    })
    await Promise.all(Array.from({ length: 20 }, () => cached(1)))
    await Promise.all(Array.from({ length: 20 }, () => cached(2)))
    expect(calls).toBe(2)
    expect(logger.lines.filter((line) => line.includes('cannot hold leases'))).toHaveLength(1)
  })

  it("asks the Dapr sidecar's metadata once: a component without ETAG gets per-process single flight, said once", async () => {
    const sidecar = await startTestSidecar()
    const store = daprStore({ daprUrl: sidecar.url, env: {} })
    try {
      sidecar.fault({ route: 'metadata', kind: 'garbage', body: '{"components":[{"name":"cache","type":"state.somestore","capabilities":["TTL"]}]}' })
      const logger = collectingLogger()
      let calls = 0
      const cached = cacheable({ store, lease: true, logger, name: 'no.etag' })(async (id: number) => {
        calls++
        await sleep(20)
        return id
      })
      await Promise.all(Array.from({ length: 10 }, () => cached(1)))
      await Promise.all(Array.from({ length: 10 }, () => cached(2)))
      expect(calls).toBe(2)
      expect(logger.lines.filter((line) => line.includes('cannot hold leases'))).toHaveLength(1)
      expect(sidecar.requests.filter((request) => request.route === 'metadata')).toHaveLength(1)
      expect(sidecar.requests.some((request) => request.body.includes('first-write'))).toBe(false)
    } finally {
      await store.close()
      await sidecar.close()
    }
  })

  it('works on the memory store too (replicas in one process)', async () => {
    const shared = memoryStore()
    let calls = 0
    const make = () =>
      pipe(
        async (id: number) => {
          calls++
          await sleep(30)
          return id
        },
        cache(shared),
        withKey('memory.lease'),
        withLease({ pollMs: 5 }),
        orElseUncached(),
      )
    const [a, b] = [make(), make()]
    const results = await Promise.all([a(1)(), b(1)(), a(1)(), b(1)()])
    expect(results).toEqual([E.right(1), E.right(1), E.right(1), E.right(1)])
    expect(calls).toBe(1)
  })

  it.each([
    [{ maxWaitMs: -1 }, /`lease\.maxWaitMs`: expected a positive integer/],
    [{ leaseSecond: 5 }, /`lease\.leaseSecond`: expected a known field \(did you mean `leaseSeconds`\?\)/],
    [{ logger: 'console' }, /`lease\.logger`/],
  ])('refuses %p at wrap time, naming the option', (options, message) => {
    expect(() => withLease(options as LeaseOptions)).toThrow(CacheOptionsError)
    expect(() => cacheable({ store: memoryStore(), lease: options as LeaseOptions })).toThrow(message)
  })
})

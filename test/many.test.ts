/**
 * `many` on both faces: one bulk read for all the keys, the misses computed once each (single flight,
 * lease), one bulk save for the values, each call's own result in the order asked. Over the memory
 * store for the semantics, over the test sidecar for the requests that go out, and with two
 * replicas under the lease asking for the same keys in opposite orders (which must not wait on each
 * other's bulk save).
 */
import * as E from 'fp-ts/lib/Either.js'
import * as O from 'fp-ts/lib/Option.js'
import { pipe } from 'fp-ts/lib/function.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { expectTypeOf } from 'expect-type'
import { cacheable } from '../src/cacheable.js'
import type { CacheError } from '../src/CacheError.js'
import { cache } from '../src/Cached.js'
import { CacheOptionsError } from '../src/errors.js'
import { defaultKeyBuilder } from '../src/Key.js'
import { withLease } from '../src/Lease.js'
import { InMemoryMetrics } from '../src/Metrics.js'
import { orElseUncached, withDedup, withKey, withMetrics, withTtl } from '../src/Pipeline.js'
import { daprStore } from '../src/stores/DaprStore.js'
import { memoryStore } from '../src/stores/MemoryStore.js'
import type { TestSidecar } from '../src/testing/index.js'
import { startTestSidecar } from '../src/testing/index.js'
import { collectingLogger } from './helpers.js'

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

describe('many, over the memory store', () => {
  it('answers each call in the order asked, computes each distinct key once, and serves them all from the cache after', async () => {
    const computed: Array<number> = []
    const square = pipe(
      (n: number) => {
        computed.push(n)
        return TE.right(n * n)
      },
      cache(memoryStore()),
      withKey('math.square'),
    )
    const first = await square.many([[3], [1], [3], [2]])()
    expect(first).toEqual([E.right(9), E.right(1), E.right(9), E.right(4)])
    expect(computed.sort()).toEqual([1, 2, 3])
    const second = await square.many([[2], [1], [3], [4]])()
    expect(second).toEqual([E.right(4), E.right(1), E.right(9), E.right(16)])
    expect(computed.sort()).toEqual([1, 2, 3, 4])
    expect(await square.many([])()).toEqual([])
  })

  it('gives each call its own failure: the others are answered and cached, the failure is not', async () => {
    let runs = 0
    const parse = pipe(
      (text: string) => {
        runs++
        return text === 'bad' ? TE.left('not a number' as const) : TE.right(Number(text))
      },
      cache(memoryStore()),
      withKey('text.parse'),
    )
    const results = await parse.many([['1'], ['bad'], ['2']])()
    expect(results).toEqual([E.right(1), E.left('not a number'), E.right(2)])
    expect(runs).toBe(3)
    await parse.many([['1'], ['bad'], ['2']])()
    expect(runs).toBe(4) // only the failure ran again
    expectTypeOf(results).toEqualTypeOf<ReadonlyArray<E.Either<'not a number' | CacheError, number>>>()
  })

  it('joins a computation already in flight for a key (single flight), and counts hits and misses as single calls do', async () => {
    const metrics = new InMemoryMetrics()
    let runs = 0
    const slow = pipe(
      async (n: number) => {
        runs++
        await sleep(20)
        return n + 1
      },
      cache(memoryStore()),
      withKey('slow.inc'),
      withDedup(),
      withMetrics(metrics),
      orElseUncached({ logger: collectingLogger() }),
    )
    const single = slow(1)()
    const [many] = await Promise.all([slow.many([[1], [2]])(), single])
    expect(many).toEqual([E.right(2), E.right(3)])
    expect(runs).toBe(2)
    await slow.many([[1], [2]])()
    expect(metrics.getStats()).toMatchObject({ hits: 2, misses: 2, coalesced: 1 })
  })

  it('a TTL function that throws is its own call’s cache failure: never a rejection, the others read and answered, no key left in flight', async () => {
    const store = memoryStore()
    // An entry that cannot be decoded: its lookup reads through the batch, not synchronously.
    await store.set(defaultKeyBuilder().buildKey('throwing.ttl', [1]), Uint8Array.of(0xc1), 60)()
    const logger = collectingLogger()
    const f = pipe(
      (n: number) => TE.right(n),
      cache(store),
      withKey('throwing.ttl'),
      withTtl((value: number) => {
        if (value === 2) throw new TypeError('no TTL for 2')
        return 60
      }),
      withDedup(),
    )
    // Strict: the throw is the call's InvalidOptions; best effort: its value, not stored.
    const strict = await f.many([[2], [3]])()
    expect(strict[0]).toMatchObject(E.left({ _tag: 'InvalidOptions', option: 'ttlSeconds' }))
    expect(strict[1]).toEqual(E.right(3))
    const lenient = pipe(f, orElseUncached({ logger }))
    await expect(lenient.many([[1], [2], [3]])()).resolves.toEqual([E.right(1), E.right(2), E.right(3)])
    expect(logger.lines.join('\n')).toContain('TypeError: no TTL for 2')
    expect(await Promise.race([f(1)(), sleep(1_000).then(() => 'stuck')])).toEqual(E.right(1))
    expect(f.pending()).toBe(0)
    expect(await store.get(defaultKeyBuilder().buildKey('throwing.ttl', [2]))()).toEqual(E.right(O.none))
  })

  it('throws a CacheOptionsError naming the argument list that is not one, before anything runs', () => {
    const id = pipe((n: number) => TE.right(n), cache(memoryStore()), withKey('id'))
    expect(() => id.many(7 as never)).toThrow(CacheOptionsError)
    expect(() => id.many([[1], 2] as never)).toThrow(/`many: argsList\[1\]`: expected an array of the arguments of one call/)
  })
})

describe('many, on the Promise facade', () => {
  it('resolves to the values in order, or rejects with the first failure in that order once all are done; manySettled gives each', async () => {
    const store = memoryStore()
    const runs: Array<number> = []
    const get = cacheable({ store, name: 'facade.get' })(async (id: number) => {
      runs.push(id)
      await sleep(id === 2 ? 20 : 1)
      if (id < 0) throw new RangeError(`no item ${id}`)
      return { id }
    })
    await expect(get.many([[1], [2]])).resolves.toEqual([{ id: 1 }, { id: 2 }])
    await expect(get.many([[2], [-1], [-2], [3]])).rejects.toThrow('no item -1')
    expect(runs.sort((x, y) => x - y)).toEqual([-2, -1, 1, 2, 3])
    const settled = await get.manySettled([[3], [-5]])
    expect(settled).toEqual([
      { status: 'fulfilled', value: { id: 3 } },
      { status: 'rejected', reason: new RangeError('no item -5') },
    ])
    await expect(get.many({} as never)).rejects.toThrow(CacheOptionsError)
    expectTypeOf(get.many).returns.toEqualTypeOf<Promise<Array<{ id: number }>>>()
    expectTypeOf(get.many).parameter(0).toEqualTypeOf<ReadonlyArray<[id: number]>>()
  })
})

describe('many, over the test sidecar', () => {
  let sidecar: TestSidecar
  const stores: Array<ReturnType<typeof daprStore>> = []
  beforeAll(async () => {
    sidecar = await startTestSidecar()
  })
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()))
    sidecar.state('cache').clear()
    sidecar.clearFaults()
    sidecar.clearRequests()
  })
  afterAll(async () => {
    await sidecar.close()
  })

  const storeFor = (options: Parameters<typeof daprStore>[0] = {}) => {
    const store = daprStore({ daprUrl: sidecar.url, env: {}, breaker: false, ...options })
    stores.push(store)
    return store
  }

  it.each([true, false])('reads 150 keys in bulk and saves the misses in bulk (batched reads of the store: %s)', async (batch) => {
    const metrics = new InMemoryMetrics()
    const store = storeFor({ batch, metrics })
    const value = cacheable({ store, name: 'bulk.value' })(async (id: number) => {
      await sleep(1)
      return { id, squared: id * id }
    })
    const ids = Array.from({ length: 150 }, (_, i) => i)
    // A third of them cached already.
    await value.many(ids.filter((id) => id % 3 === 0).map((id) => [id] as [number]))
    sidecar.clearRequests()
    metrics.reset()
    const answers = await value.many(ids.map((id) => [id] as [number]))
    expect(answers).toEqual(ids.map((id) => ({ id, squared: id * id })))
    const routes = sidecar.requests.map((request) => request.route)
    // 150 keys: bulk reads of at most 100 keys; 100 values in one save request at most.
    expect(routes.filter((route) => route === 'bulk')).toHaveLength(2)
    expect(routes.filter((route) => route === 'get')).toHaveLength(0)
    const saves = sidecar.requests.filter((request) => request.route === 'save')
    expect(saves).toHaveLength(1)
    expect((JSON.parse(saves[0]?.body ?? '[]') as ReadonlyArray<unknown>).length).toBe(100)
    expect(metrics.getStats()).toMatchObject({ batches: 2, batchedKeys: 150, batchSizes: { '64': 1, '128': 1 } })
    sidecar.clearRequests()
    await expect(value.many(ids.map((id) => [id] as [number]))).resolves.toHaveLength(150)
    expect(sidecar.requests.map((request) => request.route)).toEqual(['bulk', 'bulk'])
  })

  it('reads a value and its companion entry in the same bulk read (refresh ahead), and saves both in the same request', async () => {
    const store = storeFor()
    const value = cacheable({ store, name: 'bulk.refreshed', refreshAhead: true })(async (id: number) => id * 2)
    await expect(value.many([[1], [2], [3]])).resolves.toEqual([2, 4, 6])
    const bulk = sidecar.requests.filter((request) => request.route === 'bulk')
    expect(bulk).toHaveLength(1)
    expect((JSON.parse(bulk[0]?.body ?? '{}') as { keys: Array<string> }).keys).toHaveLength(6)
    const saves = sidecar.requests.filter((request) => request.route === 'save')
    expect(saves).toHaveLength(1)
    expect((JSON.parse(saves[0]?.body ?? '[]') as ReadonlyArray<unknown>).length).toBe(6)
  })

  it('a failed bulk save: each value is still answered (best effort), and the failure counted once per value', async () => {
    const metrics = new InMemoryMetrics()
    const store = storeFor()
    const value = cacheable({ store, name: 'bulk.unsaved', metrics, logger: collectingLogger() })(async (id: number) => id + 100)
    sidecar.fault({ route: 'save', kind: 'status', status: 500 })
    await expect(value.many([[1], [2], [3]])).resolves.toEqual([101, 102, 103])
    expect(metrics.getStats()).toMatchObject({ misses: 3, writes: 0, errors: 3 })
    expect(sidecar.state('cache').entries()).toEqual([])
  })

  it('a slow computation does not hold back the save of the values computed before it (a write waits a few ms at most)', async () => {
    const store = storeFor()
    const slowDone = { done: false }
    const value = cacheable({ store, name: 'bulk.uneven' })(async (id: number) => {
      if (id === 0) {
        await sleep(400)
        slowDone.done = true
      }
      return id
    })
    const all = value.many([[0], [1], [2]])
    const reader = storeFor({ batch: false })
    // Wait until the fast values are there: long before the slow one is computed.
    const keys = [1, 2].map((id) => defaultKeyBuilder().buildKey('bulk.uneven', [id]))
    for (let tries = 0; tries < 100; tries++) {
      const found = await Promise.all(keys.map((key) => reader.get(key)()))
      if (found.every((read) => E.isRight(read) && read.right._tag === 'Some')) break
      await sleep(10)
    }
    expect(slowDone.done).toBe(false)
    expect(sidecar.requests.filter((request) => request.route === 'save')).toHaveLength(1)
    await expect(all).resolves.toEqual([0, 1, 2])
    expect(sidecar.requests.filter((request) => request.route === 'save')).toHaveLength(2)
  })

  it('one value the store refuses (too large) costs only its own write: the bulk save is sent again value by value', async () => {
    const metrics = new InMemoryMetrics()
    const store = storeFor({ maxValueBytes: 200 })
    const value = cacheable({ store, name: 'bulk.oneTooLarge', metrics, logger: collectingLogger() })(async (id: number) => (id === 0 ? 'x'.repeat(500) : `v${id}`))
    await expect(value.many([[0], [1], [2], [3]])).resolves.toHaveLength(4)
    expect(sidecar.state('cache').entries()).toHaveLength(3)
    expect(metrics.getStats()).toMatchObject({ writes: 3, errors: 1, errorsByCode: { E_CACHE_VALUE_TOO_LARGE: 1 } })
  })

  it('one failed chunk of the bulk read is an error of its own keys: the other chunks are served', async () => {
    const store = storeFor()
    let runs = 0
    const value = cacheable({ store, name: 'bulk.oneChunk', logger: collectingLogger() })(async (id: number) => {
      runs++
      return id
    })
    const ids = Array.from({ length: 150 }, (_, i) => [i] as [number])
    await value.many(ids)
    runs = 0
    sidecar.fault({ route: 'bulk', kind: 'status', status: 500, times: 1 })
    await expect(value.many(ids)).resolves.toEqual(ids.map(([id]) => id))
    expect(runs === 100 || runs === 50).toBe(true)
  })

  it('two replicas under the lease asking for the same keys in opposite orders: each key computed once, no one waits out a lease', async () => {
    const computations = new Map<number, number>()
    const logger = collectingLogger()
    const replica = () =>
      pipe(
        async (id: number) => {
          computations.set(id, (computations.get(id) ?? 0) + 1)
          await sleep(15 * ((id % 3) + 1))
          return id * 10
        },
        cache(storeFor()),
        withKey('bulk.leased'),
        withDedup(),
        withLease({ pollMs: 10, maxPollMs: 20, maxWaitMs: 20_000 }),
        orElseUncached({ logger }),
      )
    const ids = Array.from({ length: 12 }, (_, i) => i)
    const [one, two] = [replica(), replica()]
    const started = Date.now()
    const [a, b] = await Promise.all([one.many(ids.map((id) => [id] as [number]))(), two.many([...ids].reverse().map((id) => [id] as [number]))()])
    const tookMs = Date.now() - started
    expect(a).toEqual(ids.map((id) => E.right(id * 10)))
    expect(b).toEqual([...ids].reverse().map((id) => E.right(id * 10)))
    expect(logger.lines).toEqual([])
    expect(Object.fromEntries(computations)).toEqual(Object.fromEntries(ids.map((id) => [id, 1])))
    expect(computations.size).toBe(12)
    // Waiting out a lease would take maxWaitMs (20 s): the jest timeout would end the test first.
    expect(tookMs).toBeLessThan(15_000)
  })
})

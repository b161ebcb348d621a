/**
 * Batched reads and `many` on real daprd, with the in-memory and the Redis state components: the
 * reads of one turn in bulk reads of at most `maxKeys` keys, each caller its own key's answer (a key
 * asked twice, a key absent, an entry too large for the reader); `many` through both faces, the lease
 * across two replicas asking for the same keys in opposite orders, refresh ahead's companion entries
 * read in the same bulk read. The wire itself (the bulk endpoint's answers) is held to the test
 * sidecar by the differential suite.
 */
import * as E from 'fp-ts/lib/Either.js'
import * as O from 'fp-ts/lib/Option.js'
import { pipe } from 'fp-ts/lib/function.js'
import { cacheable } from '../../src/cacheable.js'
import { cache } from '../../src/Cached.js'
import { withLease } from '../../src/Lease.js'
import { InMemoryMetrics } from '../../src/Metrics.js'
import { orElseUncached, withDedup, withKey } from '../../src/Pipeline.js'
import { daprStore } from '../../src/stores/DaprStore.js'
import type { Daprd } from '../../src/testing/index.js'
import { startDaprd } from '../../src/testing/index.js'
import { collectingLogger } from '../helpers.js'
import { flavours, sleep } from './helpers.js'

describe.each(flavours)('batched reads and many on real daprd (%s)', (flavour) => {
  let daprd: Daprd
  const stores: Array<ReturnType<typeof daprStore>> = []
  beforeAll(async () => {
    daprd = await startDaprd({ flavour, pubsubs: [] })
  })
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()))
  })
  afterAll(async () => {
    await daprd.close()
  })

  const storeFor = (options: Parameters<typeof daprStore>[0] = {}) => {
    const store = daprStore({ daprUrl: daprd.url, env: {}, breaker: false, ...options })
    stores.push(store)
    return store
  }
  const text = (read: E.Either<{ readonly _tag: string }, O.Option<Uint8Array>>): string | undefined =>
    E.isLeft(read) ? read.left._tag : O.isSome(read.right) ? Buffer.from(read.right.value).toString() : undefined

  it('reads 300 keys asked for in one turn in three bulk reads of 100; each caller gets its own key, a key asked twice both', async () => {
    const metrics = new InMemoryMetrics()
    const store = storeFor({ metrics })
    const run = `r${Date.now()}`
    const keys = Array.from({ length: 300 }, (_, i) => `${run}-${i}`)
    await store.setMany?.(keys.filter((_, i) => i % 2 === 0).map((key) => ({ key, value: Buffer.from(`v:${key}`), ttlSeconds: 60 })))()
    metrics.reset()
    // Key 10 asked twice in the first batch (a batch holds distinct keys).
    const asked = [...keys.slice(0, 11), keys[10] as string, ...keys.slice(11)]
    const reads = await Promise.all(asked.map((key) => store.get(key)()))
    expect(reads.map(text)).toEqual(asked.map((key) => (Number(key.split('-')[1]) % 2 === 0 ? `v:${key}` : undefined)))
    expect(metrics.getStats()).toMatchObject({ batches: 3, batchedKeys: 300, batchSizes: { '128': 3 } })
  })

  it('an entry too large for the reader is that key’s ValueTooLarge; the other keys of its batch are read', async () => {
    const writer = storeFor()
    const reader = storeFor({ maxValueBytes: 1000 })
    const run = `t${Date.now()}`
    await writer.set(`${run}-big`, new Uint8Array(1500).fill(3), 60)()
    await writer.set(`${run}-small`, Buffer.from('fine'), 60)()
    const reads = await Promise.all([`${run}-big`, `${run}-small`, `${run}-absent`, `${run}-absent2`].map((key) => reader.get(key)()))
    expect(reads.map(text)).toEqual(['ValueTooLarge', 'fine', undefined, undefined])
  })

  it('many on the facade: one bulk read, each miss computed once, one bulk save; then every key a hit from one bulk read', async () => {
    const metrics = new InMemoryMetrics()
    const store = storeFor({ metrics })
    const computed: Array<number> = []
    const square = cacheable({ store, name: `batching.square${Date.now()}` })(async (n: number) => {
      computed.push(n)
      await sleep(n % 5)
      return n * n
    })
    const ns = Array.from({ length: 80 }, (_, i) => i)
    await expect(square.many([...ns, 3, 3].map((n) => [n] as [number]))).resolves.toEqual([...ns, 3, 3].map((n) => n * n))
    expect(computed.sort((a, b) => a - b)).toEqual(ns)
    expect(metrics.getStats()).toMatchObject({ batches: 1, batchedKeys: 80 })
    metrics.reset()
    await expect(square.many(ns.map((n) => [n] as [number]))).resolves.toEqual(ns.map((n) => n * n))
    expect(computed).toHaveLength(80)
    expect(metrics.getStats()).toMatchObject({ batches: 1, batchedKeys: 80 })
  })

  it('many with refresh ahead reads each value and its companion entry in the same bulk read', async () => {
    const metrics = new InMemoryMetrics()
    const store = storeFor({ metrics })
    const double = cacheable({ store, name: `batching.double${Date.now()}`, refreshAhead: true })(async (n: number) => n * 2)
    await expect(double.many([[1], [2], [3]])).resolves.toEqual([2, 4, 6])
    expect(metrics.getStats()).toMatchObject({ batches: 1, batchedKeys: 6 })
    metrics.reset()
    await expect(double.many([[1], [2], [3]])).resolves.toEqual([2, 4, 6])
    expect(metrics.getStats()).toMatchObject({ batches: 1, batchedKeys: 6 })
  })

  it('two replicas under the lease asking for 30 keys in opposite orders: each computed once, nothing waits out a lease', async () => {
    const computations = new Map<number, number>()
    const logger = collectingLogger()
    const name = `batching.leased${Date.now()}`
    const replica = () =>
      pipe(
        async (id: number) => {
          computations.set(id, (computations.get(id) ?? 0) + 1)
          await sleep(10 * ((id % 3) + 1))
          return `value ${id}`
        },
        cache(storeFor()),
        withKey(name),
        withDedup(),
        withLease({ pollMs: 10, maxPollMs: 40, maxWaitMs: 50_000 }),
        orElseUncached({ logger }),
      )
    const ids = Array.from({ length: 30 }, (_, i) => i)
    const [one, two] = [replica(), replica()]
    const started = Date.now()
    const [a, b] = await Promise.all([one.many(ids.map((id) => [id] as [number]))(), two.many([...ids].reverse().map((id) => [id] as [number]))()])
    expect(a).toEqual(ids.map((id) => E.right(`value ${id}`)))
    expect(b).toEqual([...ids].reverse().map((id) => E.right(`value ${id}`)))
    expect(logger.lines).toEqual([])
    expect(Object.fromEntries(computations)).toEqual(Object.fromEntries(ids.map((id) => [id, 1])))
    // Waiting out a lease would take maxWaitMs (50 s).
    expect(Date.now() - started).toBeLessThan(30_000)
  })
})

/**
 * The in-process tier: what it serves, for how long, copied or frozen, what it refuses, and that an
 * invalidation wins over a read in flight. Through both faces, on the memory store and over HTTP.
 */
import { pipe } from 'fp-ts/lib/function.js'
import * as E from 'fp-ts/lib/Either.js'
import { expectTypeOf } from 'expect-type'
import { manualClock } from '../../src/Clock.js'
import { cacheable } from '../../src/cacheable.js'
import { daprStore } from '../../src/stores/DaprStore.js'
import { CacheOptionsError } from '../../src/errors.js'
import type { L1Options } from '../../src/stores/L1.js'
import { l1, withL1 } from '../../src/stores/L1.js'
import { memoryStore } from '../../src/stores/MemoryStore.js'
import { InMemoryMetrics } from '../../src/Metrics.js'
import { cache } from '../../src/Cached.js'
import { orElseUncached, withDedup, withKey, withMetrics } from '../../src/Pipeline.js'
import { startTestSidecar } from '../../src/testing/index.js'
import { deferred, probeStore } from '../helpers.js'

const row = (id: number) => ({ id, name: `row ${id}`, tags: ['a', 'b'], nested: { n: id } })

describe('l1 (the tier itself)', () => {
  it('serves a copy per hit by default, so callers cannot change what the next one gets', () => {
    const tier = l1()
    tier.fill('k', row(1), 10, 60, tier.ticket())
    const first = tier.get('k')?.value as ReturnType<typeof row>
    first.tags.push('mutated')
    expect(tier.get('k')?.value).toEqual(row(1))
    expect(tier.get('k')?.value).not.toBe(tier.get('k')?.value)
  })

  it('serves one deeply frozen value with values: frozen', () => {
    const tier = l1({ values: 'frozen' })
    const value = row(2)
    tier.fill('k', value, 10, 60, tier.ticket())
    const served = tier.get('k')?.value as ReturnType<typeof row>
    expect(served).toBe(value)
    expect(served).toBe(tier.get('k')?.value)
    expect(Object.isFrozen(served) && Object.isFrozen(served.tags) && Object.isFrozen(served.nested)).toBe(true)
  })

  it('copies instead of freezing a value holding a Date, Map, Set or typed array', () => {
    const tier = l1({ values: 'frozen' })
    const value = { when: new Date(0), ids: new Set([1]) }
    tier.fill('k', value, 10, 60, tier.ticket())
    const served = tier.get('k')?.value as typeof value
    expect(Object.isFrozen(value)).toBe(false)
    expect(served).toEqual(value)
    expect(served).not.toBe(tier.get('k')?.value)
  })

  it('keeps an entry for min(ttlSeconds, the entry TTL), to the millisecond of its clock', () => {
    const clock = manualClock(0)
    const tier = l1({ ttlSeconds: 5, clock })
    tier.fill('long', 1, 1, 60, tier.ticket())
    tier.fill('short', 2, 1, 2, tier.ticket())
    clock.advance(1_999)
    expect([tier.get('long')?.value, tier.get('short')?.value]).toEqual([1, 2])
    clock.advance(1)
    expect([tier.get('long')?.value, tier.get('short')?.value]).toEqual([1, undefined])
    clock.advance(3_000)
    expect(tier.get('long')).toBeUndefined()
  })

  it('is bounded by entries and by bytes, keeping recently read entries', () => {
    const tier = l1({ maxEntries: 3, maxBytes: 100 })
    for (const key of ['a', 'b', 'c']) tier.fill(key, key, 10, 60, tier.ticket())
    tier.fill('d', 'd', 10, 60, tier.ticket()) // every entry had its chance once: the oldest goes
    expect(['a', 'b', 'c', 'd'].filter((key) => tier.get(key) !== undefined)).toEqual(['b', 'c', 'd'])
    tier.get('c')
    tier.fill('e', 'e', 10, 60, tier.ticket())
    expect(tier.get('c')).toBeDefined() // read since: kept
    tier.fill('big', 'x', 90, 60, tier.ticket())
    expect(tier.size()).toBeLessThanOrEqual(2)
    tier.fill('too-big', 'x', 101, 60, tier.ticket())
    expect(tier.get('too-big')).toBeUndefined()
  })

  it('drops a fill from a read that began before an invalidation, and keeps none for a second (of real time) after it', async () => {
    const clock = manualClock(0) // held still: the second is real time, as the network's delays are
    const tier = l1({ clock })
    const before = tier.ticket()
    tier.invalidate('k')
    tier.fill('k', 'stale', 1, 60, before)
    expect(tier.get('k')).toBeUndefined()
    // A value another replica sent before the invalidation may still be in the store for a moment.
    tier.fill('k', 'in the window', 1, 60, tier.ticket())
    expect(tier.get('k')).toBeUndefined()
    await new Promise((resolve) => setTimeout(resolve, 1_010))
    tier.fill('k', 'fresh', 1, 60, tier.ticket())
    expect(tier.get('k')?.value).toBe('fresh')
  })

  it.each([
    [{ ttlSeconds: 0 }, /`l1\.ttlSeconds`: expected a positive integer number of seconds, at most 2147483647 \(what Dapr state stores take\), got 0/],
    [{ maxEntries: 1.5 }, /`l1\.maxEntries`/],
    [{ values: 'shared' }, /`l1\.values`: expected 'copy' or 'frozen'/],
    [{ ttl: 5 }, /`l1\.ttl`: expected a known field \(did you mean `ttlSeconds`\?\)/],
    [false, /`l1`/],
    ['yes', /`l1`/],
  ])('refuses %p when the step is made, naming the option', (options, message) => {
    expect(() => withL1(options as L1Options)).toThrow(CacheOptionsError)
    expect(() => withL1(options as L1Options)).toThrow(message)
    expect(() => cacheable({ store: memoryStore(), l1: options as L1Options })).toThrow(message)
  })
})

describe('withL1 in a pipeline', () => {
  it('serves hot hits from memory: one store read for many calls, counted as l1 hits', async () => {
    const store = probeStore(memoryStore())
    const metrics = new InMemoryMetrics()
    let calls = 0
    const getRow = pipe(
      async (id: number) => {
        calls++
        return row(id)
      },
      cache(store),
      withKey('rows.get'),
      withL1({ values: 'frozen' }),
      withMetrics(metrics),
      orElseUncached(),
    )
    expectTypeOf(getRow).returns.returns.resolves.toEqualTypeOf<E.Either<unknown, ReturnType<typeof row>>>()
    for (let i = 0; i < 100; i++) expect(await getRow(1)()).toEqual(E.right(row(1)))
    expect(calls).toBe(1)
    expect(store.counts).toEqual({ get: 1, set: 1, delete: 0 })
    expect(metrics.getStats()).toMatchObject({ hits: 99, l1Hits: 99, misses: 1, writes: 1 })
  })

  it('fills from a store hit too, and invalidate clears the local entry at once', async () => {
    const backing = memoryStore()
    const writer = pipe(async (id: number) => row(id), cache(backing), withKey('rows.get'), orElseUncached())
    await writer(7)()
    const store = probeStore(backing)
    let calls = 0
    const reader = pipe(
      async (id: number) => {
        calls++
        return row(id)
      },
      cache(store),
      withKey('rows.get'),
      withL1(),
      orElseUncached(),
    )
    await reader(7)()
    await reader(7)()
    expect([calls, store.counts.get]).toEqual([0, 1])
    await reader.invalidate(7)()
    await reader(7)()
    expect([calls, store.counts.get]).toEqual([1, 2])
  })

  it('does not keep a value whose read began before an invalidation', async () => {
    const store = probeStore(memoryStore())
    const getRow = pipe(async (id: number) => row(id), cache(store), withKey('rows.get'), withDedup(), withL1(), orElseUncached())
    await getRow(3)()
    await getRow.invalidate(3)()
    const held = deferred()
    store.holdUntil.get = held.promise
    const reading = getRow(3)()
    await new Promise((resolve) => setImmediate(resolve))
    await getRow.invalidate(3)() // while the read is on its way
    held.resolve()
    await reading
    delete store.holdUntil.get
    const before = store.counts.get
    await getRow(3)()
    expect(store.counts.get).toBe(before + 1) // the tier did not keep what that read found
  })
})

describe('cacheable({ l1 })', () => {
  it('10,000 hits on one key after the first load make exactly one GET at the sidecar', async () => {
    const sidecar = await startTestSidecar()
    const store = daprStore({ daprUrl: sidecar.url, env: {} })
    try {
      const getRow = cacheable({ store, l1: { values: 'frozen' }, name: 'rows.get' })(async (id: number) => row(id))
      await getRow(1)
      for (let i = 0; i < 10_000; i++) await getRow(1)
      expect(sidecar.requests.map((request) => request.route)).toEqual(['get', 'save'])
      const other = cacheable({ store, l1: true, name: 'rows.get' })(async (id: number) => ({ ...row(id), name: 'recomputed' }))
      for (let i = 0; i < 10_000; i++) expect(await other(1)).toEqual(row(1))
      expect(sidecar.requests.filter((request) => request.route === 'get')).toHaveLength(2)
    } finally {
      await store.close()
      await sidecar.close()
    }
  })

  it("gives each caller its own copy with values: 'copy'", async () => {
    const getRow = cacheable({ store: memoryStore(), l1: true })(async function getRow(id: number) {
      return row(id)
    })
    await getRow(1)
    const mine = await getRow(1)
    mine.tags.push('changed')
    expect(await getRow(1)).toEqual(row(1))
  })
})

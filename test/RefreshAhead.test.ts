/**
 * Refresh ahead: the rules (threshold, XFetch) on entries of known age, and the background refresh
 * through the pipeline face on the memory store: one refresh per key, in `pending()` until it lands,
 * never a stale write after an invalidation, and the options.
 */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { manualClock } from '../src/Clock.js'
import { cacheable } from '../src/cacheable.js'
import { cache } from '../src/Cached.js'
import { orElseUncached, withClock, withDedup, withKey, withTtl } from '../src/Pipeline.js'
import { withLease } from '../src/Lease.js'
import { refreshAhead, withRefreshAhead } from '../src/RefreshAhead.js'
import { memoryStore } from '../src/stores/MemoryStore.js'
import type { Store } from '../src/Store.js'
import { settled } from './freshnessScenarios.js'
import { deferred } from './helpers.js'

const entry = { writtenAt: 0, ttlSeconds: 100, computeMs: 200, bytes: undefined }

describe('refresh ahead rules', () => {
  it('threshold: due from that fraction of the TTL on', () => {
    const rule = refreshAhead({ threshold: 0.8 })
    expect(rule.due(entry, 79_999)).toBe(false)
    expect(rule.due(entry, 80_000)).toBe(true)
  })

  it('XFetch: never due far from the expiry, likelier as it nears, always due at it', () => {
    let draw = 0.5
    const rule = refreshAhead({ beta: 1 }, () => draw)
    // -200 ms * ln(0.5) = 139 ms ahead of the expiry.
    expect(rule.due(entry, 100_000 - 140)).toBe(false)
    expect(rule.due(entry, 100_000 - 138)).toBe(true)
    draw = 0 // the luckiest draw: ln(1) = 0, due only at the expiry itself
    expect(rule.due(entry, 99_999)).toBe(false)
    expect(rule.due(entry, 100_000)).toBe(true)
    // Over many draws, the share of refreshes grows as the expiry nears.
    const xfetch = refreshAhead({ beta: 1 })
    const share = (remainingMs: number) => Array.from({ length: 4000 }, () => xfetch.due(entry, 100_000 - remainingMs)).filter(Boolean).length / 4000
    expect(share(2000)).toBeLessThan(share(200))
    expect(share(200)).toBeLessThan(share(20))
  })

  it('refuses options that are not one rule or the other, naming them', () => {
    expect(() => withRefreshAhead({ threshold: 1 })).toThrow('invalid option `refreshAhead.threshold`')
    expect(() => withRefreshAhead({ threshold: 0.5, beta: 1 })).toThrow('invalid option `refreshAhead.beta`: expected no beta when threshold is given')
    expect(() => withRefreshAhead({})).toThrow('refreshAhead.threshold')
    expect(() => cacheable({ store: memoryStore(), refreshAhead: { beta: 0 } })).toThrow('refreshAhead.beta')
  })
})

describe('withRefreshAhead', () => {
  const subject = () => {
    const clock = manualClock(0)
    const store = memoryStore({ clock })
    const source = { version: 0, gate: Promise.resolve() }
    const f = pipe(
      (_: string) => async () => {
        const version = ++source.version
        await source.gate
        return E.right(version)
      },
      cache(store),
      withKey('ra.pipeline'),
      withTtl(10),
      withDedup(),
      withClock(clock),
      withRefreshAhead({ threshold: 0.5 }),
      orElseUncached({ onError: () => undefined }),
    )
    return { clock, store, source, f }
  }

  it('returns the cached value at once and starts one refresh, shown in pending() until it lands', async () => {
    const { clock, source, f } = subject()
    expect(await f('k')()).toEqual(E.right(1))
    clock.advance(5000)
    const gate = deferred()
    source.gate = gate.promise
    expect(await f('k')()).toEqual(E.right(1))
    expect(await f('k')()).toEqual(E.right(1))
    expect(f.pending()).toBe(1)
    expect(source.version).toBe(2) // one refresh, not one per hit
    gate.resolve()
    await settled(f)
    expect(await f('k')()).toEqual(E.right(2))
  })

  it('does not write a refresh that an invalidation overtook, and a later miss does not join it', async () => {
    const { clock, store, source, f } = subject()
    await f('k')()
    clock.advance(6000)
    const gate = deferred()
    source.gate = gate.promise
    await f('k')() // starts the refresh (version 2)
    await f.invalidate('k')()
    source.gate = Promise.resolve()
    expect(await f('k')()).toEqual(E.right(3)) // computed anew, not the refresh's value
    gate.resolve()
    await settled(f)
    expect(await f('k')()).toEqual(E.right(3))
    expect(store.usage().entries).toBe(2)
  })

  it('leaves a value without a companion entry alone (its age is unknown)', async () => {
    const clock = manualClock(0)
    const store = memoryStore({ clock })
    let calls = 0
    const plain = pipe((_: number) => TE.right(++calls), cache(store), withKey('ra.plain'), orElseUncached())
    await plain(1)()
    const refreshing = pipe((_: number) => TE.right(++calls), cache(store), withKey('ra.plain'), withClock(clock), withRefreshAhead({ threshold: 0.1 }), orElseUncached())
    clock.advance(3000_000)
    expect(await refreshing(1)()).toEqual(E.right(1))
    await settled(refreshing)
    expect(calls).toBe(1)
  })

  /** One replica of `name` over `store`: ten seconds, a lease, refreshed from half its TTL. */
  const leased = (store: Store, clock: ReturnType<typeof manualClock>, name: string, f: (id: string) => TE.TaskEither<never, number>) =>
    pipe(
      f,
      cache(store),
      withKey(name),
      withTtl(10),
      withClock(clock),
      withLease({ pollMs: 1 }),
      withRefreshAhead({ threshold: 0.5 }),
      orElseUncached({ onError: () => undefined }),
    )

  it('with a lease, one replica refreshes a key: the others find the lease taken and leave it', async () => {
    const clock = manualClock(0)
    const store = memoryStore({ clock }) // shared, as one Dapr store is by every replica
    const gate = deferred()
    let calls = 0
    const replica = () =>
      leased(store, clock, 'ra.replicas', (_: string) => async () => {
        calls++
        if (calls > 1) await gate.promise
        return E.right(calls)
      })
    const replicas = [replica(), replica(), replica()]
    expect(await replicas[0]?.('k')()).toEqual(E.right(1))
    clock.advance(6000)
    for (const r of replicas) expect(await r('k')()).toEqual(E.right(1))
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(calls).toBe(2) // one refresh among the three replicas
    gate.resolve()
    for (const r of replicas) await settled(r)
    for (const r of replicas) expect(await r('k')()).toEqual(E.right(2))
  })

  /** Two replicas with a lease on one store; B's lease requests wait for `late`. */
  const lateLease = () => {
    const clock = manualClock(0)
    const shared = memoryStore({ clock })
    const source = { calls: 0 }
    const late = deferred()
    const { create } = shared
    if (create === undefined) throw new Error('the memory store takes leases')
    const slow: Store = { ...shared, name: 'slow', create: (key, value, ttl) => async () => (await late.promise, create(key, value, ttl)()) }
    const replica = (store: Store) => leased(store, clock, 'ra.late', (_: string) => TE.right(++source.calls))
    return { clock, source, late, a: replica(shared), b: replica(slow) }
  }

  it('with a lease, a replica that takes the lease after another refreshed the key and gave it back does not refresh it again', async () => {
    const { clock, source, late, a, b } = lateLease()
    expect(await a('k')()).toEqual(E.right(1))
    clock.advance(6000)
    expect(await b('k')()).toEqual(E.right(1)) // due: B's refresh waits for its lease
    expect(await a('k')()).toEqual(E.right(1)) // due: A takes the lease and refreshes
    await settled(a)
    expect(source.calls).toBe(2)
    late.resolve()
    await settled(b)
    expect(source.calls).toBe(2) // B found the companion entry rewritten since its hit: nothing to do
    expect(await b('k')()).toEqual(E.right(2))
  })

  it('with a lease, a key invalidated before its lease came is left alone; one expired meanwhile is refreshed', async () => {
    const invalidated = lateLease()
    await invalidated.a('k')()
    invalidated.clock.advance(6000)
    await invalidated.b('k')() // due: B's refresh waits for its lease
    await invalidated.a.invalidate('k')()
    invalidated.late.resolve()
    await settled(invalidated.b)
    expect(invalidated.source.calls).toBe(1) // the next call computes it

    const expired = lateLease()
    await expired.a('k')()
    expired.clock.advance(6000)
    await expired.b('k')()
    expired.clock.advance(5000) // past the value's expiry before B has its lease
    expired.late.resolve()
    await settled(expired.b)
    expect(expired.source.calls).toBe(2) // refreshed: the next call hits
    expect(await expired.a('k')()).toEqual(E.right(2))
    expect(expired.source.calls).toBe(2)
  })

  it('leaves no unhandled rejection behind when a store of the user\'s throws where it must answer', async () => {
    const clock = manualClock(0)
    const inner = memoryStore({ clock })
    const throwing: Store = { ...inner, supportsCreate: () => Promise.reject(new Error('broken store')) }
    let calls = 0
    const f = pipe(
      (_: string) => TE.right(++calls),
      cache(throwing),
      withKey('ra.broken'),
      withTtl(10),
      withClock(clock),
      withRefreshAhead({ threshold: 0.5 }),
      orElseUncached({ onError: () => undefined }),
    )
    expect(await f('k')()).toEqual(E.right(1)) // no lease: nothing asks supportsCreate yet
    const leased = pipe(
      (_: string) => TE.right(++calls),
      cache(throwing),
      withKey('ra.broken'),
      withTtl(10),
      withClock(clock),
      withLease({ logger: { warn: () => undefined } }),
      withRefreshAhead({ threshold: 0.5 }),
      orElseUncached({ onError: () => undefined }),
    )
    clock.advance(6000)
    expect(await leased('k')()).toEqual(E.right(1)) // the hit; its refresh goes on in the background
    await settled(leased)
    await new Promise((resolve) => setImmediate(resolve))
    // A store that cannot say whether it supports `create` holds no lease: the refresh ran without one.
    expect(calls).toBe(2)
    expect(await leased('k')()).toEqual(E.right(2))
  })
})

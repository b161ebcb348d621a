/**
 * Issue 21, race 1: reads issued while an invalidation is deleting the entry (after it cleared the
 * in-process tier and the single flight, before the store's delete is done) found the old value
 * still in the store. They must not put it back where a call made after the invalidation resolved
 * finds it: the in-process tier, or a flight that call joins. Made exact by a store whose reads see
 * the data at once and answer when a gate opens, and whose deletes wait for a gate.
 */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { cache } from '../../src/Cached.js'
import { cacheable } from '../../src/cacheable.js'
import { orElseUncached, withDedup, withKey } from '../../src/Pipeline.js'
import { withLease } from '../../src/Lease.js'
import { withL1 } from '../../src/stores/L1.js'
import { memoryStore } from '../../src/stores/MemoryStore.js'
import type { Store } from '../../src/Store.js'
import { deferred } from '../helpers.js'

/** A store whose deletes wait for `deleting`, and whose reads, while `answering` is set, read at once and answer when it opens. */
const gatedStore = () => {
  const inner = memoryStore()
  const gates: { deleting: Promise<void> | undefined; answering: Promise<void> | undefined; setting: Promise<void> | undefined } = {
    deleting: undefined,
    answering: undefined,
    setting: undefined,
  }
  const sets: Array<string> = []
  const store: Store = {
    name: 'gated',
    get:
      (key) =>
      async () => {
        const found = await inner.get(key)()
        if (gates.answering !== undefined) await gates.answering
        return found
      },
    set:
      (key, value, ttl) =>
      async () => {
        sets.push(key)
        if (gates.setting !== undefined) await gates.setting
        return inner.set(key, value, ttl)()
      },
    delete:
      (key) =>
      async () => {
        if (gates.deleting !== undefined) await gates.deleting
        return inner.delete(key)()
      },
  }
  return { store, gates, sets }
}

const source = () => {
  let version = 1
  return {
    load: (id: number): TE.TaskEither<never, string> => TE.right(`v${version} of ${id}`),
    bump: () => {
      version++
    },
  }
}

describe('an invalidation wins against reads made while it deletes the entry (race 1)', () => {
  it('the in-process tier is not refilled by a read that found the value before the delete', async () => {
    const { store, gates } = gatedStore()
    const data = source()
    const get = pipe(data.load, cache(store), withKey('race.tier'), withL1({ ttlSeconds: 60 }), withDedup(), orElseUncached({ onError: () => undefined }))
    expect(await get(1)()).toEqual(E.right('v1 of 1'))
    data.bump()
    const deleting = deferred()
    gates.deleting = deleting.promise
    const invalidated = get.invalidate(1)()
    // Issued while the delete is under way: it may get the old value, which is still in the store.
    expect(await get(1)()).toEqual(E.right('v1 of 1'))
    deleting.resolve()
    expect(await invalidated).toEqual(E.right(undefined))
    expect(await get(1)()).toEqual(E.right('v2 of 1'))
  })

  it('a call made after the invalidation resolved does not join a read that began before the delete', async () => {
    const { store, gates } = gatedStore()
    const data = source()
    const get = pipe(data.load, cache(store), withKey('race.flight'), withDedup(), orElseUncached({ onError: () => undefined }))
    expect(await get(1)()).toEqual(E.right('v1 of 1'))
    data.bump()
    const deleting = deferred()
    const answering = deferred()
    gates.deleting = deleting.promise
    const invalidated = get.invalidate(1)()
    gates.answering = answering.promise
    const early = get(1)() // reads the old value now, answers later: in flight across the delete
    deleting.resolve()
    expect(await invalidated).toEqual(E.right(undefined))
    gates.answering = undefined
    const late = get(1)()
    answering.resolve()
    expect(await early).toEqual(E.right('v1 of 1'))
    expect(await late).toEqual(E.right('v2 of 1'))
  })

  it('holds for cacheable, with its tier', async () => {
    const { store, gates } = gatedStore()
    let version = 1
    const get = cacheable({ store, name: 'race.facade', l1: { ttlSeconds: 60 }, logger: { warn: () => undefined } })(async (id: number) => `v${version} of ${id}`)
    expect(await get(1)).toBe('v1 of 1')
    version++
    const deleting = deferred()
    gates.deleting = deleting.promise
    const invalidated = get.invalidate(1)
    expect(await get(1)).toBe('v1 of 1')
    deleting.resolve()
    await invalidated
    expect(await get(1)).toBe('v2 of 1')
  })
})

describe('an invalidation on one replica wins against a load in flight on another (race 2, with the lease)', () => {
  it('a call that joins the other replica’s load after the invalidation resolved gets a value computed after it', async () => {
    const store = memoryStore()
    let version = 1
    const started = deferred()
    const gate = deferred()
    let computations = 0
    const load = async (id: number): Promise<string> => {
      computations++
      const seen = version
      if (computations === 1) {
        started.resolve()
        await gate.promise // the first load read the source before the change, and answers late
      }
      return `v${seen} of ${id}`
    }
    const replica = () => pipe(load, cache(store), withKey('race.lease'), withDedup(), withLease({ pollMs: 5 }), orElseUncached({ onError: () => undefined }))
    const a = replica()
    const b = replica()
    const leader = b(1)() // B's load, in flight with the old source
    await started.promise
    version++
    expect(await a.invalidate(1)()).toEqual(E.right(undefined))
    const joined = b(1)() // issued after the invalidation resolved: joins B's flight
    gate.resolve()
    expect(await joined).toEqual(E.right('v2 of 1'))
    // The leader asked before the invalidation: it may get either, and here gets the newer one too.
    expect(await leader).toEqual(E.right('v2 of 1'))
    expect(await a(1)()).toEqual(E.right('v2 of 1'))
    expect(computations).toBe(2)
  })
})

describe('a load overtaken by invalidations again and again', () => {
  it('is computed again a bounded number of times, then answers without storing', async () => {
    const store = memoryStore()
    let computations = 0
    let invalidateOnA: () => Promise<unknown> = () => Promise.resolve()
    const load = async (id: number): Promise<string> => {
      computations++
      await invalidateOnA() // another replica invalidates the key while every computation is under way
      return `computation ${computations} of ${id}`
    }
    const replica = () => pipe(load, cache(store), withKey('race.storm'), withDedup(), withLease({ pollMs: 5 }), orElseUncached({ onError: () => undefined }))
    const a = replica()
    const b = replica()
    invalidateOnA = () => a.invalidate(1)()
    expect(await b(1)()).toEqual(E.right('computation 4 of 1'))
    expect(computations).toBe(4) // the first, and three more
    invalidateOnA = () => Promise.resolve()
    expect(await b(1)()).toEqual(E.right('computation 5 of 1')) // nothing overtaken was stored
  })
})

describe('an invalidation waits for a write of its replica that began before it (found by the scheduled suite)', () => {
  it('does not resolve while that write can still land, so a read made after it never finds the old value', async () => {
    const { store, gates, sets } = gatedStore()
    const data = source()
    const get = pipe(data.load, cache(store), withKey('race.write'), withDedup(), orElseUncached({ onError: () => undefined }))
    const writing = deferred()
    gates.setting = writing.promise
    const first = get(1)() // a miss: loads v1, and its write waits
    while (sets.length === 0) await Promise.resolve()
    data.bump()
    const invalidated = get.invalidate(1)()
    const dropping = deferred()
    gates.deleting = dropping.promise // the delete of the write once it has landed waits too
    writing.resolve()
    const state = await Promise.race([invalidated.then(() => 'resolved'), new Promise((resolve) => setTimeout(() => resolve('waiting'), 20))])
    expect(state).toBe('waiting')
    dropping.resolve()
    expect(await invalidated).toEqual(E.right(undefined))
    expect(await get(1)()).toEqual(E.right('v2 of 1'))
    expect(await first).toEqual(E.right('v1 of 1'))
  })
})

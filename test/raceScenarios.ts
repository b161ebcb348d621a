/**
 * The races of issue 21, each made exact, as one set of scenarios run on every backend: the memory
 * store, the test sidecar (both flavours) and real daprd with Redis. Each scenario gates the store
 * it is given (`gated`): reads that see the data at once and answer when a gate opens, writes and
 * deletes that take effect when theirs opens, so that an interleaving that took a slow network to
 * happen happens every time.
 *
 * - Race 1: reads issued while an invalidation deletes the entry (after it cleared the tier and the
 *   single flight) found the old value; they must not put it back where a later call finds it.
 * - Race 2 (with the lease): a call that joins another replica's load after an invalidation resolved
 *   must not get that load's value, computed before it.
 * - Race 3 (without the lease): another replica's load, under way when the invalidation was called,
 *   writes its old value after the delete. With generations (`withGenerations`) it is dropped and
 *   computed again; without them it stays, which is the window the docs state.
 * - A write of the invalidating replica that began before the invalidation must not land after it:
 *   the invalidation waits for it (found by the scheduled suite, `test/races/scheduled.test.ts`).
 */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { cache } from '../src/Cached.js'
import { cacheable } from '../src/cacheable.js'
import { orElseUncached, withDedup, withKey } from '../src/Pipeline.js'
import { withGenerations } from '../src/Generations.js'
import { withLease } from '../src/Lease.js'
import { withL1 } from '../src/stores/L1.js'
import type { Store } from '../src/Store.js'
import { deferred } from './helpers.js'

/** A backend to run the scenarios on: a fresh store each time (the scenarios' keys are their own). */
export type RaceBackend = () => Promise<{ readonly store: Store; readonly teardown: () => Promise<void> }>

/** `inner` gated: deletes wait for `deleting`, writes for `setting`, and reads, while `answering` is set, read at once and answer when it opens. */
const gated = (inner: Store) => {
  const gates: { deleting: Promise<void> | undefined; answering: Promise<void> | undefined; setting: Promise<void> | undefined } = {
    deleting: undefined,
    answering: undefined,
    setting: undefined,
  }
  const sets: Array<string> = []
  // Reads that have seen the data (their answer may still wait for `answering`).
  const seen: Array<string> = []
  const store: Store = {
    name: 'gated',
    get:
      (key) =>
      async () => {
        const found = await inner.get(key)()
        seen.push(key)
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
  return { store, gates, sets, seen }
}

/** Lets the event loop turn until `done` says so (bounded): for what happens over a network. */
const until = async (done: () => boolean): Promise<void> => {
  for (let i = 0; i < 5000 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 1))
  expect(done()).toBe(true)
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

/**
 * Runs every race scenario on `backend`. `open` makes one store for one scenario and remembers to close it.
 */
export const describeRaces = (label: string, backend: RaceBackend): void => {
  describe(`invalidation wins (${label})`, () => {
    // Names of this run's own, so that a store kept between runs (real daprd's Redis) holds nothing of another's.
    const run = `r${Date.now().toString(36)}`
    const opened: Array<() => Promise<void>> = []
    const open = async (): Promise<Store> => {
      const { store, teardown } = await backend()
      opened.push(teardown)
      return store
    }
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((teardown) => teardown()))
    })

  describe('an invalidation wins against reads made while it deletes the entry (race 1)', () => {
    it('the in-process tier is not refilled by a read that found the value before the delete', async () => {
      const { store, gates } = gated(await open())
      const data = source()
      const get = pipe(data.load, cache(store), withKey(`${run}.race.tier`), withL1({ ttlSeconds: 60 }), withDedup(), orElseUncached({ onError: () => undefined }))
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
      const { store, gates, seen } = gated(await open())
      const data = source()
      const get = pipe(data.load, cache(store), withKey(`${run}.race.flight`), withDedup(), orElseUncached({ onError: () => undefined }))
      expect(await get(1)()).toEqual(E.right('v1 of 1'))
      data.bump()
      const deleting = deferred()
      const answering = deferred()
      gates.deleting = deleting.promise
      const invalidated = get.invalidate(1)()
      gates.answering = answering.promise
      const reads = seen.length
      const early = get(1)() // reads the old value now, answers later: in flight across the delete
      await until(() => seen.length > reads)
      deleting.resolve()
      expect(await invalidated).toEqual(E.right(undefined))
      gates.answering = undefined
      const late = get(1)()
      answering.resolve()
      expect(await early).toEqual(E.right('v1 of 1'))
      expect(await late).toEqual(E.right('v2 of 1'))
    })

    it('holds for cacheable, with its tier', async () => {
      const { store, gates } = gated(await open())
      let version = 1
      const get = cacheable({ store, name: `${run}.race.facade`, l1: { ttlSeconds: 60 }, logger: { warn: () => undefined } })(async (id: number) => `v${version} of ${id}`)
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

  /** A replica's face: a pipeline's or `cacheable`'s, as promises of the value. */
  type Replica = { readonly get: (id: number) => Promise<string>; readonly invalidate: (id: number) => Promise<unknown> }
  type Load = (id: number) => Promise<string>

  /**
   * Replica B loads with the old source and answers late; A invalidates meanwhile; a call on B is
   * issued after that resolved (it joins B's load). What each got, and what A reads afterwards.
   */
  const overtake = async (replica: (load: Load, store: Store) => Replica) => {
    const store = await open()
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
    const a = replica(load, store)
    const b = replica(load, store)
    const leader = b.get(1)
    await started.promise
    version++
    await a.invalidate(1)
    const joined = b.get(1)
    gate.resolve()
    return { joined: await joined, leader: await leader, after: await a.get(1), computations }
  }

  /** A pipeline replica with the single flight, and the lease, generations or neither. */
  const pipeline =
    (name: string, coherence: 'lease' | 'generations' | 'neither') =>
    (load: Load, store: Store): Replica => {
      const base = pipe(load, cache(store), withKey(`${run}.race.${name}`), withDedup())
      const coherent = coherence === 'lease' ? withLease({ pollMs: 5 })(base) : coherence === 'generations' ? withGenerations()(base) : base
      const cached = orElseUncached({ onError: () => undefined })(coherent)
      const value = async (id: number) => E.getOrElse((): string => 'failed')(await cached(id)())
      return { get: value, invalidate: (id) => cached.invalidate(id)() }
    }

  describe('an invalidation on one replica wins against a load in flight on another (race 2, with the lease)', () => {
    it('a call that joins the other replica’s load after the invalidation resolved gets a value computed after it', async () => {
      // The leader asked before the invalidation: it may get either, and here gets the newer one too.
      expect(await overtake(pipeline('lease', 'lease'))).toEqual({ joined: 'v2 of 1', leader: 'v2 of 1', after: 'v2 of 1', computations: 2 })
    })
  })

  describe('an invalidation on one replica wins against a load in flight on another, without the lease (race 3)', () => {
    it('with generations, the load’s old value is dropped and computed again: no replica reads it afterwards', async () => {
      expect(await overtake(pipeline('generations', 'generations'))).toEqual({ joined: 'v2 of 1', leader: 'v2 of 1', after: 'v2 of 1', computations: 2 })
    })

    it('holds for cacheable({ generations: true })', async () => {
      const replica = (load: Load, store: Store): Replica => {
        const get = cacheable({ store, name: `${run}.race.facade.generations`, generations: true })(load)
        return { get, invalidate: (id) => get.invalidate(id) }
      }
      expect(await overtake(replica)).toEqual({ joined: 'v2 of 1', leader: 'v2 of 1', after: 'v2 of 1', computations: 2 })
    })

    it('without them, the old value lands after the delete and every replica reads it (the window docs/replicas.md states)', async () => {
      expect(await overtake(pipeline('plain', 'neither'))).toEqual({ joined: 'v1 of 1', leader: 'v1 of 1', after: 'v1 of 1', computations: 1 })
    })
  })

  describe('a load overtaken by invalidations again and again', () => {
    it('is computed again a bounded number of times, then answers without storing', async () => {
      const store = await open()
      let computations = 0
      let invalidateOnA: () => Promise<unknown> = () => Promise.resolve()
      const load = async (id: number): Promise<string> => {
        computations++
        await invalidateOnA() // another replica invalidates the key while every computation is under way
        return `computation ${computations} of ${id}`
      }
      const replica = () => pipe(load, cache(store), withKey(`${run}.race.storm`), withDedup(), withLease({ pollMs: 5 }), orElseUncached({ onError: () => undefined }))
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
      const { store, gates, sets } = gated(await open())
      const data = source()
      const get = pipe(data.load, cache(store), withKey(`${run}.race.write`), withDedup(), orElseUncached({ onError: () => undefined }))
      const writing = deferred()
      gates.setting = writing.promise
      const first = get(1)() // a miss: loads v1, and its write waits
      await until(() => sets.length > 0)
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
  })
}

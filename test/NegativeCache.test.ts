import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import * as O from 'fp-ts/lib/Option.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base'
import type { Cached } from '../src/Cached.js'
import { aroundCompute, cache } from '../src/Cached.js'
import { cacheable } from '../src/cacheable.js'
import * as CE from '../src/CacheError.js'
import { CacheOptionsError } from '../src/errors.js'
import { manualClock } from '../src/Clock.js'
import { InMemoryMetrics } from '../src/Metrics.js'
import { negativeKey, withNegativeCache } from '../src/NegativeCache.js'
import { withGenerations } from '../src/Generations.js'
import { withLease } from '../src/Lease.js'
import { orElseUncached, withDedup, withKey, withMetrics, withTracing } from '../src/Pipeline.js'
import { withTimeouts } from '../src/Timeouts.js'
import { withL1 } from '../src/stores/L1.js'
import { memoryStore } from '../src/stores/MemoryStore.js'
import type { Store } from '../src/Store.js'
import { deferred, probeStore } from './helpers.js'

interface User {
  readonly id: number
}
interface NotFound {
  readonly _tag: 'NotFound'
  readonly id: number
}
interface Unavailable {
  readonly _tag: 'Unavailable'
}

const setup = () => {
  const store = probeStore(memoryStore())
  const metrics = new InMemoryMetrics()
  let calls = 0
  let present = new Set<number>()
  const loadUser = (id: number): TE.TaskEither<NotFound | Unavailable, User> => {
    calls++
    if (id === 0) return TE.left({ _tag: 'Unavailable' })
    return present.has(id) ? TE.right({ id }) : TE.left({ _tag: 'NotFound', id })
  }
  const getUser = pipe(
    loadUser,
    cache(store),
    withKey('users.get'),
    withNegativeCache({ ttlSeconds: 5, when: (error) => error._tag === 'NotFound' }),
    withMetrics(metrics),
    orElseUncached({ onError: () => undefined }),
  )
  return { store, metrics, getUser, calls: () => calls, add: (id: number) => (present = new Set([...present, id])) }
}

describe('withNegativeCache', () => {
  it('remembers a chosen Left and returns the same Left without running the function', async () => {
    const { store, metrics, getUser, calls } = setup()
    expect(await getUser(7)()).toEqual(E.left({ _tag: 'NotFound', id: 7 }))
    expect(await getUser(7)()).toEqual(E.left({ _tag: 'NotFound', id: 7 }))
    expect(calls()).toBe(1)
    // A negative hit is a hit of its own kind: only the first call, which ran the function, is a miss.
    expect(metrics.getStats()).toMatchObject({ negativeHits: 1, misses: 1, hits: 0, writes: 0 })
    // The value key holds nothing: a reader that knows nothing of negative entries sees a miss.
    const valueKey = store.keys.get[0] as string
    expect(await store.get(valueKey)()).toEqual(E.right(O.none))
    expect(store.keys.set).toEqual([negativeKey(valueKey)])
  })

  it('keeps no failure it was not told to, and no value: a recovered user is a plain cached value', async () => {
    const { getUser, calls, add } = setup()
    expect(await getUser(0)()).toEqual(E.left({ _tag: 'Unavailable' }))
    expect(await getUser(0)()).toEqual(E.left({ _tag: 'Unavailable' }))
    expect(calls()).toBe(2)
    add(3)
    expect(await getUser(3)()).toEqual(E.right({ id: 3 }))
    expect(await getUser(3)()).toEqual(E.right({ id: 3 }))
    expect(calls()).toBe(3)
  })

  it('never keeps what the function threw or rejected with, even when `when` would choose it', async () => {
    let calls = 0
    const store = probeStore(memoryStore())
    const throwing = (id: number): TE.TaskEither<NotFound, User> => {
      calls++
      if (id > 0) throw { _tag: 'NotFound', id }
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a rejection that is not an Error, on purpose
      return () => Promise.reject({ _tag: 'NotFound', id })
    }
    const getUser = pipe(throwing, cache(store), withKey('users.throwing'), withNegativeCache({ when: (error) => error._tag === 'NotFound' }))
    await getUser(1)()
    await getUser(1)()
    await getUser(-1)()
    await getUser(-1)()
    expect(calls).toBe(4)
    expect(store.counts.set).toBe(0)
  })

  it('expires with its own TTL', async () => {
    const clock = manualClock()
    let calls = 0
    const getUser = pipe(
      (id: number): TE.TaskEither<NotFound, User> => (calls++, TE.left({ _tag: 'NotFound', id })),
      cache(memoryStore({ clock })),
      withKey('users.ttl'),
      withNegativeCache({ ttlSeconds: 5, when: () => true }),
    )
    await getUser(1)()
    clock.advance(4_900)
    await getUser(1)()
    expect(calls).toBe(1)
    clock.advance(200)
    await getUser(1)()
    expect(calls).toBe(2)
  })

  it('is deleted by invalidate', async () => {
    const { store, getUser, calls, add } = setup()
    await getUser(9)()
    const valueKey = store.keys.get[0] as string
    expect(store.keys.set).toEqual([negativeKey(valueKey)])
    add(9)
    await getUser.invalidate(9)()
    expect(store.keys.delete).toEqual(expect.arrayContaining([valueKey, negativeKey(valueKey)]))
    expect(await getUser(9)()).toEqual(E.right({ id: 9 }))
    expect(calls()).toBe(2)
  })

  it('shares one computation among concurrent misses, in any order with the in-process tier and the single flight', async () => {
    let calls = 0
    const loadUser = (id: number): TE.TaskEither<NotFound, User> => () => {
      calls++
      return new Promise((resolve) => setTimeout(() => resolve(E.left({ _tag: 'NotFound', id })), 5))
    }
    const getUser = pipe(loadUser, withNegativeFirst, withL1(), withDedup())
    const results = await Promise.all(Array.from({ length: 20 }, () => getUser(1)()))
    expect(new Set(results.map((result) => JSON.stringify(result)))).toEqual(new Set([JSON.stringify(E.left({ _tag: 'NotFound', id: 1 }))]))
    expect(calls).toBe(1)
  })

  it('a store in trouble never fails the call: the function runs, and the error is recorded', async () => {
    const store = probeStore(memoryStore())
    const metrics = new InMemoryMetrics()
    const getUser = pipe(
      (id: number): TE.TaskEither<NotFound, User> => TE.left({ _tag: 'NotFound', id }),
      cache(store),
      withKey('users.trouble'),
      withMetrics(metrics),
      withNegativeCache({ when: () => true }),
      orElseUncached({ onError: () => undefined }),
    )
    store.failWith = { get: CE.connectionError('refused'), set: CE.connectionError('refused') }
    expect(await getUser(1)()).toEqual(E.left({ _tag: 'NotFound', id: 1 }))
    // The value's read failed, so the call runs uncached: it neither reads the negative entry (the
    // store's trouble costs it once, not twice) nor stores anything.
    expect(metrics.getStats().errorsByCode).toEqual({ E_CACHE_CONNECTION: 1 })
    expect(store.keys.get).toHaveLength(1)
    expect(store.keys.get.filter((key) => key.endsWith(':neg'))).toEqual([])
    expect(store.keys.set).toEqual([])
  })

  it('an entry it cannot read is recorded and the function runs', async () => {
    const store = probeStore(memoryStore())
    let calls = 0
    const getUser = pipe(
      (id: number): TE.TaskEither<NotFound, User> => (calls++, TE.left({ _tag: 'NotFound', id })),
      cache(store),
      withKey('users.corrupt'),
      withNegativeCache({ when: () => true }),
    )
    await getUser(1)()
    const entry = store.keys.set[0] as string
    await store.set(entry, new Uint8Array([0xc1]), 60)()
    expect(await getUser(1)()).toEqual(E.left({ _tag: 'NotFound', id: 1 }))
    expect(calls).toBe(2)
  })

  it('refuses options without `when`, or with a TTL that is not a positive integer', () => {
    expect(() => withNegativeCache({} as never)).toThrow(/`negativeCache.when`/)
    expect(() => withNegativeCache({ when: () => true, ttlSeconds: 0 })).toThrow(CacheOptionsError)
  })
})

describe('withNegativeCache: a negative hit is a hit of its own kind', () => {
  const tracer = new BasicTracerProvider().getTracer('test')
  // Each path the engine takes to a miss: the memory store read in the same tick, a store read
  // asynchronously, under a lease, traced, with timeouts, and behind the in-process tier.
  type Failure = NotFound | CE.CacheError | CE.FunctionTimeout
  type Path = (self: Cached<[number], Failure, User>) => Cached<[number], Failure, User>
  const same: Path = (self) => self
  const paths: ReadonlyArray<readonly [string, () => Store, Path]> = [
    ['a synchronous read', memoryStore, same],
    ['an asynchronous read', () => probeStore(memoryStore()), same],
    ['a lease', memoryStore, (self) => pipe(self, withLease({ leaseSeconds: 5 }))],
    ['tracing', () => probeStore(memoryStore()), (self) => pipe(self, withTracing(tracer))],
    ['timeouts', memoryStore, (self) => pipe(self, withTimeouts({ hardMs: 1_000 }))],
    ['the in-process tier and the single flight', () => probeStore(memoryStore()), (self) => pipe(self, withL1(), withDedup())],
  ]

  it.each(paths)('counts no miss for it, over %s', async (_, store, path) => {
    const metrics = new InMemoryMetrics()
    let calls = 0
    const getUser = pipe(
      (id: number): TE.TaskEither<Failure, User> => (calls++, TE.left({ _tag: 'NotFound', id })),
      cache(store()),
      withKey('users.kinds'),
      path,
      withMetrics(metrics),
      withNegativeCache({ when: (error) => error._tag === 'NotFound' }),
    )
    for (let round = 0; round < 4; round++) expect(await getUser(1)()).toEqual(E.left({ _tag: 'NotFound', id: 1 }))
    expect(calls).toBe(1)
    // Each call is counted once, by its kind: one miss that ran the function, then negative hits.
    expect(metrics.getStats()).toMatchObject({ misses: 1, negativeHits: 3, hits: 0 })
  })

  it('counts a miss for a call whose negative entry was gone, and a hit for a value', async () => {
    const { metrics, getUser, add } = setup()
    await getUser(2)()
    add(2)
    await getUser.invalidate(2)()
    await getUser(2)()
    await getUser(2)()
    expect(metrics.getStats()).toMatchObject({ misses: 2, negativeHits: 0, hits: 1 })
  })

  it('lets a wrapper of its own answer as a hit of its kind with ownHit', async () => {
    const metrics = new InMemoryMetrics()
    const answered = new Map<string, User>([])
    const getUser = pipe(
      (id: number): TE.TaskEither<NotFound, User> => TE.right({ id }),
      cache(memoryStore()),
      withKey('users.own'),
      withMetrics(metrics),
      aroundCompute('fromDirectory', (next) => (computation) => {
        const known = answered.get(String(computation.args[0]))
        if (known === undefined) return next(computation)
        computation.ownHit()
        return E.right(known)
      }),
    )
    answered.set('1', { id: 1 })
    await getUser(1)() // answered by the wrapper, then stored: no miss
    await getUser(2)() // computed: a miss
    await getUser(1)() // a hit of the stored value
    expect(metrics.getStats()).toMatchObject({ misses: 1, hits: 1, writes: 2 })
  })
})

const withNegativeFirst = (loadUser: (id: number) => TE.TaskEither<NotFound, User>) =>
  pipe(loadUser, cache(memoryStore()), withKey('users.concurrent'), withNegativeCache({ when: (error) => error._tag === 'NotFound' }))

describe('cacheable({ negativeCache })', () => {
  class NotFoundError extends Error {
    constructor(readonly id: number) {
      super(`no user ${id}`)
      this.name = 'NotFoundError'
    }
  }

  it('throws a remembered error again without running the function, with its name, message and fields', async () => {
    let calls = 0
    const store = memoryStore()
    const getUser = cacheable({ store, name: 'users.get', negativeCache: { ttlSeconds: 5, when: (error) => error instanceof NotFoundError } })(
      async (id: number): Promise<User> => {
        calls++
        await Promise.resolve()
        throw id > 0 ? new NotFoundError(id) : new Error('database down')
      },
    )
    await expect(getUser(4)).rejects.toBeInstanceOf(NotFoundError)
    const again = await getUser(4).catch((error: unknown) => error)
    expect(again).toBeInstanceOf(Error)
    expect(again).toMatchObject({ name: 'NotFoundError', message: 'no user 4', id: 4 })
    expect(calls).toBe(1)
    await expect(getUser(-1)).rejects.toThrow('database down')
    await expect(getUser(-1)).rejects.toThrow('database down')
    expect(calls).toBe(3)
  })

  it('refuses a negativeCache option without `when` at wrap time', () => {
    expect(() => cacheable({ store: memoryStore(), negativeCache: {} })).toThrow(/`negativeCache.when`/)
  })
})

describe('withNegativeCache and invalidate', () => {
  it('does not keep a failure computed before an invalidation that came while it was computed', async () => {
    const store = probeStore(memoryStore())
    let exists = false
    const gate = deferred()
    let calls = 0
    const getUser = pipe(
      (id: number): TE.TaskEither<NotFound, User> =>
        () => {
          calls++
          const seen = exists // the source is read now, and answers later
          return gate.promise.then(() => (seen ? E.right({ id }) : E.left({ _tag: 'NotFound', id })))
        },
      cache(store),
      withKey('users.created'),
      withDedup(),
      withNegativeCache({ when: (error) => error._tag === 'NotFound' }),
    )
    const before = getUser(5)()
    while (calls === 0) await Promise.resolve()
    exists = true // the row is created, then the cache invalidated, while the first load is under way
    expect(await getUser.invalidate(5)()).toEqual(E.right(undefined))
    gate.resolve()
    expect(await before).toEqual(E.left({ _tag: 'NotFound', id: 5 }))
    expect(await getUser(5)()).toEqual(E.right({ id: 5 }))
    expect(store.keys.set.filter((key) => key.endsWith(':neg'))).toEqual([])
  })

  it.each([
    ['with generations', true],
    ['without them (the window docs/replicas.md states for values)', false],
  ] as const)('a replica’s failure computed before another replica’s invalidation: %s', async (_, coherent) => {
    const store = memoryStore()
    let exists = false
    const gate = deferred()
    let calls = 0
    const replica = () => {
      const base = pipe(
        (id: number): TE.TaskEither<NotFound, User> =>
          () => {
            calls++
            const seen = exists
            return (calls === 1 ? gate.promise : Promise.resolve()).then(() => (seen ? E.right({ id }) : E.left({ _tag: 'NotFound', id })))
          },
        cache(store),
        withKey('users.replicas'),
        withDedup(),
      )
      return withNegativeCache<NotFound | CE.CacheError>({ when: (error) => error._tag === 'NotFound' })(coherent ? withGenerations()(base) : base)
    }
    const a = replica()
    const b = replica()
    const loading = b(6)() // B reads the source before the row exists, and answers late
    while (calls === 0) await new Promise((resolve) => setImmediate(resolve))
    exists = true
    expect(await a.invalidate(6)()).toEqual(E.right(undefined))
    gate.resolve()
    await loading
    // With generations, B's NotFound is not kept once A's invalidation came: A finds the row.
    expect(await a(6)()).toEqual(coherent ? E.right({ id: 6 }) : E.left({ _tag: 'NotFound', id: 6 }))
  })
})

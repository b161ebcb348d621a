import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import * as t from 'io-ts'
import type { CacheError } from '../src/CacheError.js'
import * as CE from '../src/CacheError.js'
import { CacheOptionsError } from '../src/errors.js'
import type { MemoryStore } from '../src/stores/MemoryStore.js'
import { memoryStore } from '../src/stores/MemoryStore.js'
import type { Store } from '../src/Store.js'
import { InMemoryMetrics } from '../src/Metrics.js'
import { cache, step } from '../src/Cached.js'
import { orElseUncached, withBackgroundWrites, withDecoder, withDedup, withKey, withMetrics, withSerializer, withTtl } from '../src/Pipeline.js'
import { msgpackSerializer } from '../src/Serializer.js'
import { manualClock } from '../src/Clock.js'
import { brokenStore, deferred, probeStore, recordingMetrics, until } from './helpers.js'

interface User {
  readonly id: number
  readonly name: string
}
interface NotFound {
  readonly _tag: 'NotFound'
  readonly id: number
}

const quiet = orElseUncached({ onError: () => undefined })

const setup = () => {
  const store = probeStore(memoryStore())
  const metrics = new InMemoryMetrics()
  let calls = 0
  const loadUser = (id: number): TE.TaskEither<NotFound, User> => {
    calls++
    return id > 0 ? TE.right({ id, name: `user ${id}` }) : TE.left({ _tag: 'NotFound', id })
  }
  const getUser = pipe(loadUser, cache(store), withKey('users.get'), withTtl(60), withMetrics(metrics), quiet)
  return { store, metrics, getUser, calls: () => calls }
}

describe('cache pipeline', () => {
  it('computes and writes on a miss, then reads the stored value', async () => {
    const { store, metrics, getUser, calls } = setup()
    expect(await getUser(1)()).toEqual(E.right({ id: 1, name: 'user 1' }))
    expect(await getUser(1)()).toEqual(E.right({ id: 1, name: 'user 1' }))
    expect(calls()).toBe(1)
    expect(store.counts).toEqual({ get: 2, set: 1, delete: 0 })
    expect(store.keys.set[0]).toMatch(/^cache:users\.get:[0-9a-f]{16}$/)
    expect(metrics.getStats()).toMatchObject({ hits: 1, misses: 1, writes: 1, errors: 0 })
  })

  it('passes the function error through unchanged and never caches it', async () => {
    const { store, getUser, calls } = setup()
    expect(await getUser(-1)()).toEqual(E.left({ _tag: 'NotFound', id: -1 }))
    expect(await getUser(-1)()).toEqual(E.left({ _tag: 'NotFound', id: -1 }))
    expect(calls()).toBe(2)
    expect(store.counts.set).toBe(0)
  })

  it('keys different arguments apart', async () => {
    const { getUser, calls } = setup()
    await getUser(1)()
    await getUser(2)()
    await getUser(1)()
    expect(calls()).toBe(2)
  })

  it('builds the Python library key for the same name and arguments', async () => {
    const store = probeStore(memoryStore())
    const getUser = pipe((id: number) => TE.right(id), cache(store), withKey('myapp.services.get_user'))
    await getUser(123)()
    expect(store.keys.set).toEqual(['cache:myapp.services.get_user:2e35095596df2383'])
  })

  it('withKey keeps a key builder or prefix another step chose, wherever it stands', async () => {
    const store = probeStore(memoryStore())
    const builder = step('builder', () => ({ keyBuilder: { buildKey: (name: string, args: ReadonlyArray<unknown>) => `custom|${name}|${String(args[0])}` } }))
    const prefix = step('prefix', () => ({ prefix: 'acme.cache' }))
    for (const [i, fn] of [
      pipe((id: number) => TE.right(id), cache(store), withKey('users.get'), builder),
      pipe((id: number) => TE.right(id), cache(store), builder, withKey('users.get')),
    ].entries()) {
      await fn(i)()
    }
    await pipe((id: number) => TE.right(id), cache(store), withKey('users.get'), prefix)(2)()
    await pipe((id: number) => TE.right(id), cache(store), prefix, withKey('users.get'))(3)()
    expect(store.keys.set.slice(0, 2)).toEqual(['custom|users.get|0', 'custom|users.get|1'])
    expect(store.keys.set.slice(2).map((key) => key.split(':').slice(0, 2).join(':'))).toEqual(['acme.cache:users.get', 'acme.cache:users.get'])
  })

  it('invalidate drops one entry', async () => {
    const { getUser, calls } = setup()
    await getUser(1)()
    await getUser(2)()
    expect(await getUser.invalidate(1)()).toEqual(E.right(undefined))
    await getUser(1)()
    await getUser(2)()
    expect(calls()).toBe(3)
  })

  it('lifts Promise-returning, plain and throwing functions', async () => {
    const store = memoryStore()
    const asyncDouble = pipe(async (n: number) => n * 2, cache(store), withKey('async.double'))
    const plainTriple = pipe((n: number) => n * 3, cache(store), withKey('plain.triple'))
    const failure = new Error('nope')
    const throwing = pipe(
      (_: number): number => {
        throw failure
      },
      cache(store),
      withKey('plain.throwing'),
    )
    const rejecting = pipe((_: number) => Promise.reject<number>(failure), cache(store), withKey('async.rejecting'))
    expect(await asyncDouble(2)()).toEqual(E.right(4))
    expect(await plainTriple(2)()).toEqual(E.right(6))
    expect(await throwing(1)()).toEqual(E.left(failure))
    expect(await rejecting(1)()).toEqual(E.left(failure))
  })

  it('passes `this` through to the function', async () => {
    const store = memoryStore()
    const counter = {
      base: 10,
      add: pipe(
        function (this: { base: number }, n: number) {
          return this.base + n
        },
        cache(store),
        withKey('counter.add'),
      ),
    }
    expect(await counter.add(5)()).toEqual(E.right(15))
  })

  describe('strict, without orElseUncached', () => {
    it('returns cache failures as CacheError values', async () => {
      const down = CE.connectionError('connection refused')
      const getUser = pipe((id: number) => TE.right<NotFound, number>(id), cache(brokenStore(down)), withKey('u'))
      const result = await getUser(1)()
      expect(result).toEqual(E.left({ ...down, key: expect.stringMatching(/^cache:u:/) as unknown }))
    })

    it('returns a key failure for an argument that cannot be keyed', async () => {
      const f = pipe((g: () => void) => TE.right(typeof g), cache(memoryStore()), withKey('f'))
      const result = await f(() => undefined)()
      expect(E.isLeft(result) && CE.isCacheError(result.left) && result.left._tag).toBe('KeyError')
    })
  })

  describe('orElseUncached', () => {
    it('runs the function uncached when the store fails, counting each failure', async () => {
      const metrics = recordingMetrics()
      let calls = 0
      const f = pipe(
        (n: number) => {
          calls++
          return TE.right<never, number>(n + 1)
        },
        cache(brokenStore()),
        withKey('f'),
        withMetrics(metrics),
        quiet,
      )
      expect(await f(1)()).toEqual(E.right(2))
      expect(await f(1)()).toEqual(E.right(2))
      expect(calls).toBe(2)
      expect(metrics.recorded.errors.map(([, error]) => error.code)).toEqual(['E_CACHE_CONNECTION', 'E_CACHE_CONNECTION'])
      expect(metrics.recorded.misses).toEqual([]) // a failed read is an error, not a miss
    })

    it('returns the computed value when only the write fails', async () => {
      const store = probeStore(memoryStore())
      store.failWith.set = CE.storeRejected(500, 'fail to save', { errorCode: 'ERR_STATE_SAVE' })
      const metrics = recordingMetrics()
      let calls = 0
      const f = pipe(
        (n: number) => {
          calls++
          return TE.right<never, number>(n)
        },
        cache(store),
        withKey('f'),
        withMetrics(metrics),
        quiet,
      )
      expect(await f(7)()).toEqual(E.right(7))
      expect(calls).toBe(1)
      expect(metrics.recorded.misses).toHaveLength(1)
      expect(metrics.recorded.writes).toHaveLength(0)
      expect(metrics.recorded.errors.map(([, error]) => error.code)).toEqual(['E_CACHE_STORE_REJECTED'])
    })

    it('runs uncached when an argument cannot be keyed, and reports it', async () => {
      const reported: Array<CacheError> = []
      const store = probeStore(memoryStore())
      const f = pipe(
        (value: unknown) => TE.right(String(typeof value)),
        cache(store),
        withKey('f'),
        orElseUncached({ onError: (_key, error) => reported.push(error) }),
      )
      expect(await f(Symbol('s'))()).toEqual(E.right('symbol'))
      expect(reported.map((error) => error._tag)).toEqual(['KeyError'])
      expect(store.counts).toEqual({ get: 0, set: 0, delete: 0 })
    })

    it('runs uncached and writes nothing when the value cannot be serialized', async () => {
      class Point {
        constructor(readonly x: number) {}
      }
      const store = probeStore(memoryStore())
      const metrics = recordingMetrics()
      const f = pipe((x: number) => TE.right(new Point(x)), cache(store), withKey('points'), withMetrics(metrics), quiet)
      const result = await f(1)()
      expect(E.isRight(result) && result.right).toBeInstanceOf(Point)
      expect(store.counts.set).toBe(0)
      expect(metrics.recorded.errors.map(([, error]) => error._tag)).toEqual(['SerializationError'])
    })

    it('recomputes and overwrites an entry it cannot decode', async () => {
      const store = probeStore(memoryStore())
      const metrics = recordingMetrics()
      const f = pipe((n: number) => TE.right(n), cache(store), withKey('corrupt'), withMetrics(metrics), quiet)
      await f(1)()
      const key = store.keys.set[0] ?? ''
      await store.set(key, Uint8Array.of(0xc1), 60)() // 0xc1 is never valid MessagePack
      expect(await f(1)()).toEqual(E.right(1))
      expect(await f(1)()).toEqual(E.right(1))
      expect(metrics.recorded.errors.map(([, error]) => error._tag)).toEqual(['SerializationError'])
      expect(metrics.recorded.hits).toHaveLength(1)
      expect(store.counts.set).toBe(3) // the first write, the corruption, the overwrite
    })

    it('law: with a store that always fails, every result equals the uncached result and every failure is counted', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(fc.integer(), fc.string()), { minLength: 1, maxLength: 20 }),
          fc.constantFrom<CacheError>(
            CE.connectionError('refused'),
            CE.timeoutError(10, 'slow'),
            CE.storeRejected(500, 'boom', { errorCode: 'ERR_STATE_GET' }),
          ),
          async (calls, failure) => {
            const metrics = new InMemoryMetrics()
            const uncached = (n: number, s: string) => (n % 3 === 0 ? E.left(`odd ${s}`) : E.right(`${n}:${s}`))
            const f = pipe(
              (n: number, s: string) => TE.fromEither(uncached(n, s)),
              cache(brokenStore(failure)),
              withKey('law'),
              withDedup(),
              withMetrics(metrics),
              quiet,
            )
            for (const [n, s] of calls) expect(await f(n, s)()).toEqual(uncached(n, s))
            expect(metrics.getStats()).toMatchObject({ errors: calls.length, hits: 0, misses: 0, writes: 0 })
            expect(metrics.getStats().errorsByCode).toEqual({ [failure.code]: calls.length })
          },
        ),
      )
    })

    it('does not recover invalidate: its failure is returned', async () => {
      const f = pipe((n: number) => TE.right(n), cache(brokenStore()), withKey('f'), quiet)
      const result = await f.invalidate(1)()
      expect(E.isLeft(result) && result.left.code).toBe('E_CACHE_CONNECTION')
    })
  })

  describe('withBackgroundWrites', () => {
    it('answers when the value is computed under orElseUncached, and only once it is written when strict (which returns the write failure)', async () => {
      for (const strict of [false, true]) {
        const store = probeStore(memoryStore())
        const write = deferred()
        store.holdUntil.set = write.promise
        const f = strict
          ? pipe((id: number) => TE.right<never, number>(id), cache(store), withKey('strict'), withDedup(), withBackgroundWrites())
          : pipe((id: number) => TE.right<never, number>(id), cache(store), withKey('lenient'), withDedup(), withBackgroundWrites(), quiet)
        let answered = false
        const call = f(1)().then((result) => {
          answered = true
          return result
        })
        await until(() => store.counts.set === 1)
        for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve))
        expect(answered).toBe(!strict)
        store.failWith.set = CE.connectionError('the write failed')
        write.resolve()
        expect(await call).toEqual(strict ? E.left(expect.objectContaining({ _tag: 'ConnectionError' })) : E.right(1))
        await until(() => f.pending() === 0)
      }
    })
  })

  describe('withDedup', () => {
    it('1,000 concurrent cold calls of one key: 1 read, 1 call, 1 write, every caller gets the value', async () => {
      const store = probeStore(memoryStore())
      const metrics = new InMemoryMetrics()
      let calls = 0
      const gate = deferred()
      const f = pipe(
        (id: number) => async () => {
          calls++
          await gate.promise
          return E.right({ id, at: 'computed' })
        },
        cache(store),
        withKey('burst'),
        withDedup(),
        withMetrics(metrics),
        quiet,
      )
      const results = Array.from({ length: 1000 }, () => f(1)())
      gate.resolve()
      const settled = await Promise.all(results)
      expect(settled).toEqual(Array(1000).fill(E.right({ id: 1, at: 'computed' })))
      expect({ calls, reads: store.counts.get, writes: store.counts.set }).toEqual({ calls: 1, reads: 1, writes: 1 })
      expect(metrics.getStats()).toMatchObject({ misses: 1, writes: 1, coalesced: 999 })
    })

    it('with a store that reads synchronously (the memory store), a burst is still one miss, one call, one write', async () => {
      const store = memoryStore()
      expect(store.readNow).toBeDefined()
      const metrics = new InMemoryMetrics()
      let calls = 0
      const f = pipe(
        async (id: number) => {
          calls++
          await new Promise((resolve) => setImmediate(resolve))
          return id
        },
        cache(store),
        withKey('burst.now'),
        withDedup(),
        withMetrics(metrics),
        quiet,
      )
      expect(await Promise.all(Array.from({ length: 1000 }, () => f(1)()))).toEqual(Array(1000).fill(E.right(1)))
      expect(calls).toBe(1)
      expect(metrics.getStats()).toMatchObject({ misses: 1, writes: 1, coalesced: 999, hits: 0 })
      expect(await f(1)()).toEqual(E.right(1))
      expect(metrics.getStats()).toMatchObject({ hits: 1, totalOperations: 2 })
      expect(f.pending()).toBe(0)
    })

    it("calls a memory store's synchronous functions as they are when the pipeline is built, replaced or copied", async () => {
      // The engine reaches the memory store's own reads and writes without its functions; a store
      // whose function was replaced, or a copy that overrides one, must be called through its own.
      const counted = (store: MemoryStore) => {
        const calls = { readNow: 0, writeNow: 0 }
        const { readNow, writeNow } = store
        return {
          calls,
          readNow: (key: string) => (calls.readNow++, readNow(key)),
          writeNow: (key: string, value: Uint8Array, ttlSeconds: number) => (calls.writeNow++, writeNow(key, value, ttlSeconds)),
        }
      }
      const replaced = memoryStore()
      const onReplaced = counted(replaced)
      Object.assign(replaced, { readNow: onReplaced.readNow, writeNow: onReplaced.writeNow })
      const original = memoryStore()
      const onCopy = counted(original)
      const copy: Store = { ...original, readNow: onCopy.readNow, writeNow: onCopy.writeNow }
      for (const [store, calls] of [[replaced, onReplaced.calls], [copy, onCopy.calls]] as const) {
        const f = pipe((n: number) => TE.right(n), cache(store), withKey('replaced'), quiet)
        expect([await f(1)(), await f(1)()]).toEqual([E.right(1), E.right(1)])
        expect(calls).toEqual({ readNow: 2, writeNow: 1 })
      }
    })

    it('shares the same failure with every caller and forgets it', async () => {
      const store = probeStore(memoryStore())
      let calls = 0
      const failure = { _tag: 'Boom' as const }
      const f = pipe(
        (_: number) => {
          calls++
          return TE.left(failure)
        },
        cache(store),
        withKey('fails'),
        withDedup(),
        quiet,
      )
      const results = await Promise.all(Array.from({ length: 50 }, () => f(1)()))
      expect(results.every((result) => E.isLeft(result) && result.left === failure)).toBe(true)
      expect(calls).toBe(1)
      await f(1)()
      expect(calls).toBe(2)
      expect(store.counts.set).toBe(0)
    })

    it('a caller arriving after the computation but before the write lands does not compute again', async () => {
      const store = probeStore(memoryStore())
      const writeGate = deferred()
      store.holdUntil.set = writeGate.promise
      let calls = 0
      const f = pipe(
        (n: number) => {
          calls++
          return TE.right(n)
        },
        cache(store),
        withKey('late'),
        withDedup(),
        quiet,
      )
      const first = f(1)()
      while (store.counts.set === 0) await new Promise((resolve) => setImmediate(resolve))
      const late = f(1)() // the value is computed; its write is still in flight
      writeGate.resolve()
      expect(await Promise.all([first, late])).toEqual([E.right(1), E.right(1)])
      expect({ calls, reads: store.counts.get, writes: store.counts.set }).toEqual({ calls: 1, reads: 1, writes: 1 })
    })

    it('keys computed once per key under a random burst over several keys', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 200 }), async (ids) => {
          const store = probeStore(memoryStore())
          const calls = new Map<number, number>()
          const f = pipe(
            (id: number) => async () => {
              calls.set(id, (calls.get(id) ?? 0) + 1)
              await new Promise((resolve) => setImmediate(resolve))
              return E.right(id * 10)
            },
            cache(store),
            withKey('many'),
            withDedup(),
            quiet,
          )
          expect(await Promise.all(ids.map((id) => f(id)()))).toEqual(ids.map((id) => E.right(id * 10)))
          for (const id of new Set(ids)) expect(calls.get(id)).toBe(1)
          expect(store.counts.set).toBe(new Set(ids).size)
        }),
      )
    })
  })

  describe('invalidation during a computation', () => {
    const tick = () => new Promise((resolve) => setImmediate(resolve))

    it('is not undone by the write of a computation that began before it', async () => {
      const store = probeStore(memoryStore())
      const gate = deferred()
      let version = 1
      let started = 0
      const f = pipe(
        (_: number) => async () => {
          started++
          const seen = version
          await gate.promise
          return E.right(seen)
        },
        cache(store),
        withKey('fenced'),
        withDedup(),
        quiet,
      )
      const inFlight = f(1)()
      while (started === 0) await tick()
      version = 2
      expect(await f.invalidate(1)()).toEqual(E.right(undefined))
      const after = f(1)() // does not join the stale computation
      gate.resolve()
      expect(await inFlight).toEqual(E.right(1))
      expect(await after).toEqual(E.right(2))
      expect(await f(1)()).toEqual(E.right(2))
      expect(store.counts.set).toBe(1)
    })

    it('wins even when the stale write is already on its way to the store', async () => {
      const store = probeStore(memoryStore())
      const writeGate = deferred()
      store.holdUntil.set = writeGate.promise
      let version = 1
      const f = pipe((_: number) => TE.right(version), cache(store), withKey('fenced-write'), withDedup(), quiet)
      const inFlight = f(1)()
      while (store.counts.set === 0) await tick()
      version = 2
      // The invalidation waits for the write that began before it: it lands, and is deleted.
      const invalidated = f.invalidate(1)()
      writeGate.resolve()
      expect(await invalidated).toEqual(E.right(undefined))
      expect(await inFlight).toEqual(E.right(1))
      delete store.holdUntil.set
      expect(await f(1)()).toEqual(E.right(2))
    })
  })

  describe('a synchronous miss over an in-process store', () => {
    it('is computed and written in the tick of the call, with nothing left in flight', async () => {
      const store = memoryStore()
      let calls = 0
      const f = pipe(
        (n: number) => {
          calls++
          return n * 2
        },
        cache(store),
        withKey('now'),
        withDedup(),
        quiet,
      )
      const pending = f(21)()
      // Before anything is awaited: computed, stored, and not in flight.
      expect(calls).toBe(1)
      expect(store.usage().entries).toBe(1)
      expect(f.pending()).toBe(0)
      expect(await pending).toEqual(E.right(42))
      expect(await f(21)()).toEqual(E.right(42))
      expect(calls).toBe(1)
    })

    it('still takes the asynchronous path for an asynchronous function, and joins its flight', async () => {
      const store = memoryStore()
      const gate = deferred<number>()
      let calls = 0
      const f = pipe(
        (_: number) => {
          calls++
          return gate.promise
        },
        cache(store),
        withKey('later'),
        withDedup(),
        quiet,
      )
      const first = f(1)()
      const second = f(1)()
      expect(f.pending()).toBe(1)
      gate.resolve(7)
      expect(await Promise.all([first, second])).toEqual([E.right(7), E.right(7)])
      expect(calls).toBe(1)
      expect(store.usage().entries).toBe(1)
    })
  })

  describe('invalidations under constant load', () => {
    it('never let a computation that began before them write, even past the bound on what is remembered', async () => {
      const store = memoryStore()
      const gate = deferred()
      let started = 0
      const f = pipe(
        (n: number) => async () => {
          started++
          await gate.promise
          return E.right(n)
        },
        cache(store),
        withKey('bounded-fence'),
        withDedup(),
        quiet,
      )
      const long = f(0)()
      while (started === 0) await new Promise((resolve) => setImmediate(resolve))
      // The one that matters, then more invalidations of other keys than the fence remembers.
      await f.invalidate(0)()
      for (let n = 1; n <= 10_050; n++) await f.invalidate(n)()
      gate.resolve()
      expect(await long).toEqual(E.right(0))
      expect(store.usage().entries).toBe(0)
      // A computation that begins afterwards writes as usual.
      expect(await f(0)()).toEqual(E.right(0))
      expect(store.usage().entries).toBe(1)
    })
  })

  describe('withTtl', () => {
    it('lets a value expire after its TTL', async () => {
      const clock = manualClock()
      const store = memoryStore({ clock })
      let calls = 0
      const f = pipe(
        (n: number) => {
          calls++
          return TE.right(n)
        },
        cache(store),
        withKey('ttl'),
        withTtl(5),
      )
      await f(1)()
      clock.advance(4_999)
      await f(1)()
      expect(calls).toBe(1)
      clock.advance(1)
      await f(1)()
      expect(calls).toBe(2)
    })

    it('takes a TTL computed from the value', async () => {
      const clock = manualClock()
      const store = memoryStore({ clock })
      let calls = 0
      const f = pipe(
        (n: number) => {
          calls++
          return TE.right<never, ReadonlyArray<number>>(n === 0 ? [] : [n])
        },
        cache(store),
        withKey('ttl-fn'),
        withTtl((items: ReadonlyArray<number>) => (items.length === 0 ? 1 : 100)),
      )
      await f(0)()
      await f(1)()
      clock.advance(1_000)
      await f(0)()
      await f(1)()
      expect(calls).toBe(3)
    })

    it('refuses a TTL that is not a positive integer when the step is made', () => {
      for (const ttl of [0, -5, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
        expect(() => withTtl(ttl)).toThrow(CacheOptionsError)
      }
      expect(() => withTtl(0)).toThrow('invalid option `ttlSeconds`: expected a positive integer number of seconds, at most 2147483647 (what Dapr state stores take), got 0')
    })

    it('a TTL function returning garbage is a counted error, and the value is still returned', async () => {
      const metrics = recordingMetrics()
      const f = pipe((n: number) => TE.right(n), cache(memoryStore()), withKey('bad-ttl'), withTtl(() => -1), withMetrics(metrics), quiet)
      expect(await f(3)()).toEqual(E.right(3))
      expect(metrics.recorded.errors.map(([, error]) => error.code)).toEqual(['E_CACHE_INVALID_OPTIONS'])
    })
  })

  describe('withDecoder', () => {
    const UserCodec = t.type({ id: t.number, name: t.string })

    it('serves a value that matches, and recomputes and overwrites one of an old shape', async () => {
      const store = probeStore(memoryStore())
      const metrics = recordingMetrics()
      let calls = 0
      const old = pipe((id: number) => TE.right({ id, fullName: 'old shape' }), cache(store), withKey('users.get'))
      await old(1)()
      const current = pipe(
        (id: number) => {
          calls++
          return TE.right({ id, name: 'new shape' })
        },
        cache(store),
        withKey('users.get'),
        withDecoder(UserCodec),
        withMetrics(metrics),
        quiet,
      )
      expect(await current(1)()).toEqual(E.right({ id: 1, name: 'new shape' }))
      expect(await current(1)()).toEqual(E.right({ id: 1, name: 'new shape' }))
      expect(calls).toBe(1)
      expect(metrics.recorded.errors.map(([, error]) => error._tag)).toEqual(['ValidationError'])
      expect(metrics.recorded.hits).toHaveLength(1)
    })

    it('returns the validation failure when strict', async () => {
      const store = memoryStore()
      await pipe((id: number) => TE.right({ id }), cache(store), withKey('users.get'))(1)()
      const strict = pipe((id: number) => TE.right({ id, name: 'x' }), cache(store), withKey('users.get'), withDecoder(UserCodec))
      const result = await strict(1)()
      expect(E.isLeft(result) && CE.isCacheError(result.left) && result.left.message).toMatch(/does not match the decoder/)
    })
  })

  describe('withSerializer and withMetrics', () => {
    it('uses the given serializer, and records to every sink given', async () => {
      const store = probeStore(memoryStore())
      const first = new InMemoryMetrics()
      const second = new InMemoryMetrics()
      let serialized = 0
      const base = msgpackSerializer()
      const counting = {
        serialize: (value: unknown) => {
          serialized++
          return base.serialize(value)
        },
        deserialize: (bytes: Uint8Array) => base.deserialize(bytes),
      }
      const f = pipe((n: number) => TE.right(n), cache(store), withKey('s'), withSerializer(counting), withMetrics(first), withMetrics(second))
      await f(1)()
      await f(1)()
      expect(serialized).toBe(1)
      expect(first.getStats()).toMatchObject({ hits: 1, misses: 1, writes: 1 })
      expect(second.getStats()).toEqual(first.getStats())
    })

    it('a serializer that throws is a counted SerializationError, never a failed call', async () => {
      const metrics = recordingMetrics()
      const throwing = {
        serialize: (): Uint8Array => {
          throw new Error('cannot')
        },
        deserialize: (): unknown => null,
      }
      const f = pipe((n: number) => TE.right(n), cache(memoryStore()), withKey('s'), withSerializer(throwing), withMetrics(metrics), quiet)
      expect(await f(1)()).toEqual(E.right(1))
      expect(metrics.recorded.errors.map(([, error]) => error._tag)).toEqual(['SerializationError'])
    })
  })

  describe('withKey', () => {
    it('refuses a bad name or prefix when the step is made, naming the option', () => {
      expect(() => withKey('')).toThrow(/`name`/)
      expect(() => withKey('a||b')).toThrow(/`name`/)
      expect(() => withKey('ok', { prefix: 'p||q' })).toThrow(/`keyPrefix`/)
      expect(() => withKey('ok', { keyBuilder: {} as never })).toThrow(/`keyBuilder`/)
    })

    it('uses a custom key builder, and refuses a key with || before any request', async () => {
      const store = probeStore(memoryStore())
      const custom = pipe(
        (n: number) => TE.right(n),
        cache(store),
        withKey('custom', { keyBuilder: { buildKey: (name, args) => `mine/${name}/${args.join(',')}` } }),
      )
      await custom(1)()
      expect(store.keys.set).toEqual(['mine/custom/1'])
      const reserved = pipe((n: number) => TE.right(n), cache(store), withKey('x', { keyBuilder: { buildKey: () => 'a||b' } }))
      const result = await reserved(1)()
      expect(E.isLeft(result) && CE.isCacheError(result.left) && result.left._tag).toBe('KeyError')
      expect(store.counts.get).toBe(1)
    })

    it('uses the function name by default, and an anonymous function fails to key until named', async () => {
      const store = probeStore(memoryStore())
      function lookupThing(n: number) {
        return TE.right(n)
      }
      await pipe(lookupThing, cache(store))(1)()
      expect(store.keys.set[0]).toMatch(/^cache:lookupThing:/)
      const unnamed = cache(store)([(n: number) => TE.right(n)][0] as (n: number) => TE.TaskEither<never, number>)
      const result = await unnamed(1)()
      expect(E.isLeft(result) && CE.isCacheError(result.left) && result.left.message).toMatch(/no name/)
      expect(E.isRight(await pipe(unnamed, withKey('named'))(1)())).toBe(true)
    })
  })

  it('refuses to refine something that is not a cached function', () => {
    expect(() => withTtl(5)((() => TE.right(1)) as never)).toThrow(CacheOptionsError)
  })
})

describe('an invalidation and the writes before it', () => {
  it('waits for every write of the key that began before it, not only the last one', async () => {
    const inner = memoryStore()
    const gates: Array<ReturnType<typeof deferred<void>>> = []
    const store: Store = {
      name: 'ordered',
      get: (key) => inner.get(key),
      set: (key, value, ttl) => () => {
        if (gates.length >= 2) return inner.set(key, value, ttl)() // only the first two writes wait
        const gate = deferred()
        gates.push(gate)
        return gate.promise.then(() => inner.set(key, value, ttl)())
      },
      delete: (key) => inner.delete(key),
    }
    let version = 1
    const f = pipe((_: number) => TE.right(version), cache(store), withKey('two-writes'), quiet) // no single flight: two writes
    const first = f(1)()
    const second = f(1)()
    while (gates.length < 2) await new Promise((resolve) => setImmediate(resolve))
    version = 2
    const invalidated = f.invalidate(1)()
    gates[1]?.resolve() // the later write lands (and is deleted); the earlier one is still on its way
    const state = await Promise.race([invalidated.then(() => 'resolved'), new Promise((resolve) => setTimeout(() => resolve('waiting'), 20))])
    expect(state).toBe('waiting')
    gates[0]?.resolve()
    expect(await invalidated).toEqual(E.right(undefined))
    expect(await f(1)()).toEqual(E.right(2))
    await Promise.all([first, second])
  })
})

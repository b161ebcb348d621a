import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import * as O from 'fp-ts/lib/Option.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import type { Cached, Step } from '../src/Cached.js'
import { around, cache, fromPlan, plan, planOf, step } from '../src/Cached.js'
import * as CE from '../src/CacheError.js'
import { CacheOptionsError } from '../src/errors.js'
import { withFailSafe } from '../src/FailSafe.js'
import { withJitter } from '../src/Jitter.js'
import { withLease } from '../src/Lease.js'
import { orElse, orElseUncached, uncached, withBackgroundWrites, withClock, withDecoder, withDedup, withKey, withMetrics, withSerializer, withTracing, withTtl } from '../src/Pipeline.js'
import { withRefreshAhead } from '../src/RefreshAhead.js'
import { manualClock } from '../src/Clock.js'
import { InMemoryMetrics } from '../src/Metrics.js'
import { msgpackSerializer } from '../src/Serializer.js'
import type { Store } from '../src/Store.js'
import { withL1 } from '../src/stores/L1.js'
import { memoryStore } from '../src/stores/MemoryStore.js'
import { withTimeouts } from '../src/Timeouts.js'
import * as t from 'io-ts'
import { brokenStore, probeStore } from './helpers.js'

const double = (n: number): TE.TaskEither<never, number> => TE.right(n * 2)

/** A step of a user's own that wraps the store: every operation is written down. */
const logged = (lines: Array<string>): Step =>
  step('logged', (current) => {
    const inner = current.store
    const note =
      <A>(operation: string, key: string, task: TE.TaskEither<CE.CacheError, A>): TE.TaskEither<CE.CacheError, A> =>
      () => {
        lines.push(`${operation} ${key}`)
        return task()
      }
    const wrapped: Store = {
      name: `logged(${inner.name})`,
      get: (key) => note('get', key, inner.get(key)),
      set: (key, value, ttl) => note('set', key, inner.set(key, value, ttl)),
      delete: (key) => note('delete', key, inner.delete(key)),
    }
    return { store: wrapped }
  })

describe('step', () => {
  it('gets the plan so far and changes only the parts it returns', async () => {
    const store = probeStore(memoryStore())
    const seen: Array<string> = []
    const tenant = step('tenant', (current) => {
      seen.push(`${current.prefix}:${String(current.name)}:${String(current.ttlSeconds)}`)
      return { prefix: `acme-${current.prefix}` }
    })
    const doubled = pipe(double, cache(store), withKey('math.double'), withTtl(30), tenant)
    expect(seen).toEqual(['cache:math.double:30'])
    expect(await doubled(2)()).toEqual(E.right(4))
    expect(store.keys.set).toEqual([expect.stringMatching(/^acme-cache:math\.double:[0-9a-f]{16}$/)])
    expect(planOf(doubled).ttlSeconds).toBe(30)
  })

  it('composes in either order with the built-ins: a wrapped store sees the same calls before or after withL1 and withDedup', async () => {
    const run = async (order: 'before' | 'after') => {
      const lines: Array<string> = []
      const builtIns = (self: Cached<[n: number], CE.CacheError, number>) => pipe(self, withL1(), withDedup(), withTtl(60))
      const doubled =
        order === 'before'
          ? pipe(double, cache(memoryStore()), withKey('math.double'), logged(lines), builtIns)
          : pipe(double, cache(memoryStore()), withKey('math.double'), builtIns, logged(lines))
      await Promise.all([doubled(1)(), doubled(1)(), doubled(2)()])
      await doubled(1)() // the in-process tier answers: the store is not asked
      return lines.map((line) => line.replace(/:[0-9a-f]{16}$/, ''))
    }
    const before = await run('before')
    expect(before).toEqual(['get cache:math.double', 'get cache:math.double', 'set cache:math.double', 'set cache:math.double'])
    expect(await run('after')).toEqual(before)
  })

  it('may replace the function: a step that counts computations', async () => {
    let computed = 0
    const counted = step('counted', (current) => {
      const inner = current.fn
      return {
        fn: function (this: unknown, ...args: ReadonlyArray<never>) {
          computed++
          return Reflect.apply(inner, this, args)
        },
      }
    })
    const doubled = pipe(double, cache(memoryStore()), withKey('math.double'), counted)
    await doubled(3)()
    await doubled(3)()
    expect(computed).toBe(1)
  })

  it('is refused with an error that names it: no name, no function, a patch that is no object, a store that is none', () => {
    expect(() => step('', () => ({}))).toThrow(CacheOptionsError)
    expect(() => step('tenant', 'prefix' as never)).toThrow(/`tenant: patch`: expected a function/)
    const doubled = pipe(double, cache(memoryStore()), withKey('math.double'))
    expect(() => step('broken', () => null as never)(doubled)).toThrow(/`broken: patch`: expected an object/)
    expect(() => step('nowhere', () => ({ store: {} as Store }))(doubled)).toThrow(/`nowhere: store`: expected a Store/)
  })

  it('holds the parts it sets to the codecs of the built-ins options, and names itself and the part', () => {
    const doubled = pipe(double, cache(memoryStore()), withKey('math.double'))
    expect(() => step('badTtl', () => ({ ttlSeconds: -1 }))(doubled)).toThrow(/`badTtl: ttlSeconds`: expected a positive integer number of seconds/)
    expect(() => step('badName', () => ({ name: 'a||b' }))(doubled)).toThrow(/`badName: name`: expected a non-empty string without ":"/)
    expect(() => step('badJitter', () => ({ jitter: 5 }))(doubled)).toThrow(/`badJitter: jitter`/)
    expect(() => step('badMetrics', () => ({ metrics: null as never }))(doubled)).toThrow(/`badMetrics: metrics`: expected an array of CacheMetrics sinks/)
    expect(() => step('badTier', () => ({ l1: {} as never }))(doubled)).toThrow(/`badTier: l1`: expected an in-process tier/)
    expect(() => fromPlan(null as never)).toThrow(/`fromPlan`: expected a plan/)
  })

  it('applied to a function not made by cache(store), names itself', () => {
    const handMade = ((n: number) => double(n)) as unknown as Cached<[n: number], never, number>
    expect(() => step('tenant', () => ({}))(handMade)).toThrow(/`tenant: self`: expected a function made by `cache\(store\)`/)
    const wrapper = pipe(double, cache(memoryStore()), withKey('math.double'))
    const byHand = Object.assign((n: number) => wrapper(n), { invalidate: wrapper.invalidate, invalidateTag: wrapper.invalidateTag, pending: wrapper.pending, many: wrapper.many })
    expect(() => withTtl(5)(byHand)).toThrow(/`withTtl: self`/)
  })

  it('is what every built-in is written with: each names itself when applied to something else', () => {
    const notCached = (() => TE.right(1)) as unknown as Cached<[], never, number>
    const builtIns: ReadonlyArray<readonly [string, (self: Cached<[], never, number>) => unknown]> = [
      ['withKey', withKey('n')],
      ['withTtl', withTtl(5)],
      ['withDedup', withDedup()],
      ['withBackgroundWrites', withBackgroundWrites()],
      ['withMetrics', withMetrics(new InMemoryMetrics())],
      ['withSerializer', withSerializer(msgpackSerializer())],
      ['withDecoder', withDecoder(t.number)],
      ['withTracing', withTracing()],
      ['withClock', withClock(manualClock())],
      ['withL1', withL1()],
      ['withLease', withLease()],
      ['withFailSafe', withFailSafe()],
      ['withTimeouts', withTimeouts({ hardMs: 100 })],
      ['withRefreshAhead', withRefreshAhead()],
      ['withJitter', withJitter(0.1)],
      ['orElse', orElseUncached()], // orElseUncached is orElse(uncached())
      ['orElse', orElse(() => TE.right(0))],
    ]
    for (const [name, builtIn] of builtIns) {
      expect(() => builtIn(notCached)).toThrow(new RegExp(`\`${name}: self\``))
    }
  })
})

describe('around', () => {
  it('reads the key the cache uses, and may change the value and the error', async () => {
    const store = probeStore(memoryStore())
    const keys: Array<string> = []
    const described = pipe(
      double,
      cache(store),
      withKey('math.double'),
      around('described', (call) => {
        keys.push(E.getOrElse(() => 'none')(call.key()))
        return pipe(
          call.proceed,
          TE.map((n) => `${call.args[0]} doubled is ${n}`),
          TE.mapError((error) => ({ error, args: call.args })),
        )
      }),
    )
    expect(await described(21)()).toEqual(E.right('21 doubled is 42'))
    expect(keys).toEqual(store.keys.set)
  })

  it('nests in the order applied, and the steps after it still change the plan it wraps', async () => {
    const store = probeStore(memoryStore())
    const order: Array<string> = []
    const mark = (name: string) =>
      around<[n: number], CE.CacheError, number>(name, (call) => {
        order.push(`${name} in`)
        return pipe(
          call.proceed,
          TE.tap(() => TE.fromIO(() => order.push(`${name} out`))),
        )
      })
    const doubled = pipe(double, cache(store), withKey('math.double'), mark('inner'), mark('outer'), withTtl(7))
    await doubled(1)()
    expect(order).toEqual(['outer in', 'inner in', 'inner out', 'outer out'])
    const written = await store.get(store.keys.set[0] as string)()
    expect(E.isRight(written) && O.isSome(written.right)).toBe(true)
    expect(planOf(doubled).ttlSeconds).toBe(7)
    expect(planOf(doubled).around).toHaveLength(2)
  })

  it('does not run the call until the TaskEither runs, and may skip the cache', async () => {
    const store = probeStore(memoryStore())
    const skipping = pipe(
      double,
      cache(store),
      withKey('math.double'),
      around('skipping', (call) => (call.args[0] < 0 ? TE.right(0) : call.proceed)),
    )
    const task = skipping(5)
    expect(store.counts.get).toBe(0)
    expect(await task()).toEqual(E.right(10))
    expect(await skipping(-1)()).toEqual(E.right(0))
    expect(store.counts.get).toBe(1)
  })

  it('is refused without a name or a function', () => {
    expect(() => around(undefined as never, (call) => call.proceed)).toThrow(CacheOptionsError)
    expect(() => around('wrap', 3 as never)).toThrow(/`wrap: wrap`: expected a function/)
  })
})

describe('orElse', () => {
  it('recovers from a cache failure with what the fallback gives, and the error type is the fallback one', async () => {
    const fallback = probeStore(memoryStore())
    const fromFallback = pipe(double, cache(fallback), withKey('math.double'))
    const doubled = pipe(
      double,
      cache(brokenStore()),
      withKey('math.double'),
      orElse((error, [n]) => (CE.isCacheError(error) ? fromFallback(n) : TE.left(error))),
    )
    expect(await doubled(4)()).toEqual(E.right(8))
    expect(fallback.keys.set).toHaveLength(1)
  })

  it('sees the function own failure too, and what it does not recover stays the result', async () => {
    const failing = (n: number): TE.TaskEither<string, number> => (n > 0 ? TE.right(n) : TE.left(`bad ${n}`))
    const seen: Array<unknown> = []
    const kept = pipe(
      failing,
      cache(memoryStore()),
      withKey('failing'),
      orElse((error) => {
        seen.push(error)
        return TE.left(CE.isCacheError(error) ? 'cache' : error)
      }),
    )
    expect(await kept(-1)()).toEqual(E.left('bad -1'))
    expect(await kept(2)()).toEqual(E.right(2))
    expect(seen).toEqual(['bad -1'])
  })

  it('orElse(uncached()) recovers inside the single flight: callers of one computation share one uncached run', async () => {
    const run = async (fallback: 'engine' | 'after the call') => {
      let computed = 0
      const slow = (n: number): TE.TaskEither<never, number> => () => {
        computed++
        return new Promise((resolve) => setTimeout(() => resolve(E.right(n * 2)), 5))
      }
      const reported: Array<string | undefined> = []
      const recover = uncached({ onError: (key) => reported.push(key) })
      const doubled = pipe(
        slow,
        cache(brokenStore()),
        withKey('math.slow'),
        withDedup(),
        fallback === 'engine' ? orElse(recover) : orElse((error, args, call) => recover(error, args, call)),
      )
      const results = await Promise.all(Array.from({ length: 10 }, () => doubled(4)()))
      expect(results).toEqual(Array.from({ length: 10 }, () => E.right(8)))
      return { computed, reported: reported.length, key: reported[0] }
    }
    const inEngine = await run('engine')
    expect(inEngine).toMatchObject({ computed: 1, reported: 1 })
    expect(inEngine.key).toMatch(/^cache:math\.slow:/)
    // The same fallback called after the call, as a plain function: each caller recovers on its own.
    const after = await run('after the call')
    expect(after).toMatchObject({ computed: 10, reported: 10 })
    expect(after.key).toBe(inEngine.key)
  })

  it('orElseUncached is orElse(uncached()): the same results, a function failure kept', async () => {
    const failing = (n: number): TE.TaskEither<string, number> => (n > 0 ? TE.right(n) : TE.left('negative'))
    const quiet = { onError: () => undefined }
    for (const recovering of [orElseUncached(quiet), orElse(uncached(quiet))]) {
      const cached = pipe(failing, cache(brokenStore()), withKey('failing'), recovering)
      expect(await cached(3)()).toEqual(E.right(3))
      expect(await cached(-3)()).toEqual(E.left('negative'))
    }
  })

  it('is refused when f is not a function', () => {
    expect(() => orElse(undefined as never)).toThrow(CacheOptionsError)
  })
})

describe('plan and fromPlan', () => {
  it('build a cached function from a whole plan, as cache(store) and its steps would', async () => {
    const store = probeStore(memoryStore())
    const whole = { ...plan(store, double), name: 'math.double', ttlSeconds: 9 }
    const doubled = fromPlan<[n: number], CE.CacheError, number>(whole)
    expect(await doubled(5)()).toEqual(E.right(10))
    expect(store.keys.set).toEqual([expect.stringMatching(/^cache:math\.double:/)])
    expect(planOf(doubled)).toBe(whole)
    expect(() => plan(store, 'f' as never)).toThrow(CacheOptionsError)
    expect(() => planOf(double)).toThrow(/`planOf: self`/)
  })
})

/**
 * Fail-safe through the pipeline face, on the memory store with a manual clock: stale values for
 * failures (a `Left`, a throw), the throttle, the bound on staleness, invalidation, the companion
 * entry's key space, and the options (one codec, for both faces).
 */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { manualClock } from '../src/Clock.js'
import { cacheable } from '../src/cacheable.js'
import { CacheOptionsError } from '../src/errors.js'
import { failSafe, withFailSafe } from '../src/FailSafe.js'
import { InMemoryMetrics } from '../src/Metrics.js'
import { cache } from '../src/Cached.js'
import { orElseUncached, withClock, withDedup, withKey, withMetrics, withTtl } from '../src/Pipeline.js'
import { memoryStore } from '../src/stores/MemoryStore.js'

const quiet = orElseUncached({ onError: () => undefined })

const subject = (options: Parameters<typeof withFailSafe>[0] = true) => {
  const clock = manualClock(1_000_000)
  const store = memoryStore({ clock })
  const metrics = new InMemoryMetrics()
  const source = { failing: false, calls: 0 }
  const f = pipe(
    (id: number) => {
      source.calls++
      return source.failing ? TE.left(`source down for ${id}`) : TE.right({ id, at: clock.now() })
    },
    cache(store),
    withKey('fs.pipeline'),
    withTtl(10),
    withDedup(),
    withMetrics(metrics),
    withClock(clock),
    withFailSafe(options),
    quiet,
  )
  return { clock, store, metrics, source, f }
}

describe('withFailSafe', () => {
  it('stands in for a Left with the value that expired, and keeps it next to the value under <key>:meta', async () => {
    const { clock, store, metrics, source, f } = subject({ maxStaleSeconds: 60, throttleSeconds: 5 })
    expect(await f(1)()).toEqual(E.right({ id: 1, at: 1_000_000 }))
    // The value key and its companion, nothing else.
    expect(store.usage().entries).toBe(2)
    clock.advance(10_000)
    source.failing = true
    expect(await f(1)()).toEqual(E.right({ id: 1, at: 1_000_000 }))
    expect(metrics.getStats()).toMatchObject({ stale: 1, misses: 2 })
    // Resting: no call for five seconds, however many misses.
    for (let i = 0; i < 100; i++) await f(1)()
    expect(source.calls).toBe(2)
    clock.advance(5_000)
    expect(await f(1)()).toEqual(E.right({ id: 1, at: 1_000_000 }))
    expect(source.calls).toBe(3)
    // Back: the fresh value is written and served, and the rest is over.
    source.failing = false
    clock.advance(5_000)
    expect(await f(1)()).toEqual(E.right({ id: 1, at: 1_020_000 }))
    expect(await f(1)()).toEqual(E.right({ id: 1, at: 1_020_000 }))
    expect(source.calls).toBe(4)
  })

  it('lets the failure through once the value expired more than maxStaleSeconds ago', async () => {
    const { clock, source, f } = subject({ maxStaleSeconds: 30 })
    await f(1)()
    source.failing = true
    clock.advance(10_000 + 30_000 + 1)
    expect(await f(1)()).toEqual(E.left('source down for 1'))
  })

  it('stands in for a throw of a Promise function too (the facade)', async () => {
    const clock = manualClock(0)
    let failing = false
    const f = cacheable({ store: memoryStore({ clock }), clock, ttlSeconds: 1, failSafe: true, name: 'fs.facade', logger: { warn: () => undefined } })(
      async (id: number) => {
        if (failing) throw new Error('down')
        return id
      },
    )
    expect(await f(3)).toBe(3)
    failing = true
    clock.advance(1000)
    expect(await f(3)).toBe(3)
  })

  it('serves nothing stale after invalidate', async () => {
    const { clock, source, f } = subject()
    await f(1)()
    await f.invalidate(1)()
    source.failing = true
    clock.advance(1)
    expect(await f(1)()).toEqual(E.left('source down for 1'))
  })

  it('forgets a rest on invalidate: the function is asked again at once', async () => {
    const { clock, source, f } = subject({ throttleSeconds: 60 })
    await f(1)()
    source.failing = true
    clock.advance(10_000)
    await f(1)() // stale, resting
    source.failing = false
    await f.invalidate(1)()
    expect(await f(1)()).toEqual(E.right({ id: 1, at: clock.now() }))
  })

  it('keeps a bounded throttle', () => {
    const throttle = failSafe({ throttleSeconds: 1 })
    for (let i = 0; i < 10_050; i++) throttle.throttle(`k${i}`, i, 0)
    expect(throttle.size()).toBe(10_000)
    expect(throttle.throttled('k0', 0)).toBeUndefined()
    expect(throttle.throttled('k10049', 999)).toEqual({ until: 1000, value: 10_049 })
    expect(throttle.throttled('k10049', 1000)).toBeUndefined()
  })

  it('refuses bad options, naming them, in both faces', () => {
    expect(() => withFailSafe({ maxStaleSeconds: 0 })).toThrow('invalid option `failSafe.maxStaleSeconds`')
    expect(() => withFailSafe({ throttle: 5 } as never)).toThrow('did you mean `throttleSeconds`?')
    expect(() => cacheable({ store: memoryStore(), failSafe: { maxStaleSeconds: 1.5 } })).toThrow(CacheOptionsError)
    expect(() => cacheable({ store: memoryStore(), failSafe: { maxStaleSeconds: 1.5 } })).toThrow('failSafe.maxStaleSeconds')
  })
})

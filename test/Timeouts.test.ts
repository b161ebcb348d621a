/**
 * Timeouts through the pipeline face, on the memory store: the hard timeout as a typed value that
 * `orElseUncached` leaves in the error type, the soft timeout with fail-safe, background work that
 * lands after its callers left (or fails, or finds its store closed), and the options.
 */
import { expectTypeOf } from 'expect-type'
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import type { FunctionTimeout } from '../src/CacheError.js'
import * as CE from '../src/CacheError.js'
import { manualClock } from '../src/Clock.js'
import { cacheable } from '../src/cacheable.js'
import { CacheOptionsError } from '../src/errors.js'
import { withFailSafe } from '../src/FailSafe.js'
import type { Cached } from '../src/Cached.js'
import { cache } from '../src/Cached.js'
import { orElseUncached, withClock, withDedup, withKey } from '../src/Pipeline.js'
import { daprStore } from '../src/stores/DaprStore.js'
import { memoryStore } from '../src/stores/MemoryStore.js'
import { startTestSidecar } from '../src/testing/index.js'
import { withTimeouts } from '../src/Timeouts.js'
import { settled } from './freshnessScenarios.js'
import { deferred } from './helpers.js'

describe('withTimeouts', () => {
  it('gives a FunctionTimeout past hardMs, kept in the error type by orElseUncached, and writes the value when it lands', async () => {
    const store = memoryStore()
    const gate = deferred<number>()
    const f = pipe(
      (_: string) => () => gate.promise.then((n) => E.right(n)),
      cache(store),
      withKey('to.hard'),
      withDedup(),
      withTimeouts({ hardMs: 30 }),
      orElseUncached({ onError: () => undefined }),
    )
    expectTypeOf(f).toEqualTypeOf<Cached<[_: string], FunctionTimeout, number>>()
    const timedOut = await f('a')()
    expect(E.isLeft(timedOut) && CE.isFunctionTimeout(timedOut.left) && timedOut.left).toMatchObject({ code: 'E_CACHE_FUNCTION_TIMEOUT', timeoutMs: 30, key: expect.stringMatching(/^cache:to\.hard:[0-9a-f]{16}$/) as unknown })
    expect(f.pending()).toBe(1)
    gate.resolve(5)
    await settled(f)
    expect(store.usage().entries).toBe(1)
    expect(await f('a')()).toEqual(E.right(5))
  })

  it('leaves nothing behind when the computation it stopped waiting for fails', async () => {
    const gate = deferred()
    const f = pipe(
      (_: number) => () => gate.promise.then(() => E.left('late failure')),
      cache(memoryStore()),
      withKey('to.fails'),
      withTimeouts({ hardMs: 20 }),
      orElseUncached({ onError: () => undefined }),
    )
    expect(E.isLeft(await f(1)())).toBe(true)
    gate.resolve()
    await settled(f)
  })

  it('serves the stale value after softMs when fail-safe keeps one, and waits on when there is none', async () => {
    const clock = manualClock(0)
    const store = memoryStore({ clock })
    const source = { gate: Promise.resolve(), version: 0 }
    const f = pipe(
      (_: number) => async () => {
        await source.gate
        return E.right(++source.version)
      },
      cache(store),
      withKey('to.soft'),
      withClock(clock),
      withFailSafe(),
      withTimeouts({ softMs: 20, hardMs: 5000 }),
      orElseUncached({ onError: () => undefined }),
    )
    const first = deferred()
    source.gate = first.promise
    const cold = f(1)() // no stale value yet: waits past softMs for the function
    await new Promise((resolve) => setTimeout(resolve, 60))
    first.resolve()
    expect(await cold).toEqual(E.right(1))
    clock.advance(3600_000)
    const second = deferred()
    source.gate = second.promise
    expect(await f(1)()).toEqual(E.right(1)) // stale, after 20 ms
    second.resolve()
    await settled(f)
    expect(await f(1)()).toEqual(E.right(2))
  })

  it('ends background work whose store was closed meanwhile: its write fails and is counted, nothing is left', async () => {
    const sidecar = await startTestSidecar()
    const store = daprStore({ daprUrl: sidecar.url, env: {}, breaker: false })
    const gate = deferred()
    const errors: Array<string> = []
    const f = cacheable({ store, name: 'to.closed', timeouts: { hardMs: 20 }, logger: { warn: (line: string) => errors.push(line) } })(async (n: number) => {
      await gate.promise
      return n
    })
    await expect(f(1)).rejects.toThrow('did not answer within 20 ms')
    await store.close()
    gate.resolve()
    await settled(f)
    expect(errors.join('\n')).toContain('E_CACHE_')
    await sidecar.close()
  })

  it('refuses options that cannot work, naming them, in both faces', () => {
    expect(() => withTimeouts({})).toThrow('invalid option `timeouts.softMs`: expected softMs or hardMs')
    expect(() => withTimeouts({ softMs: 100, hardMs: 100 })).toThrow('invalid option `timeouts.softMs`: expected less than hardMs (100)')
    expect(() => withTimeouts({ hardMs: -1 })).toThrow('timeouts.hardMs')
    expect(() => cacheable({ store: memoryStore(), timeouts: { softMs: 50 } })).toThrow(CacheOptionsError)
    expect(() => cacheable({ store: memoryStore(), timeouts: { softMs: 50 } })).toThrow('failSafe as well')
    expect(() => cacheable({ store: memoryStore(), timeouts: { hardMs: 1.5 } })).toThrow('timeouts.hardMs')
  })

  it('keeps a plain TaskEither pipeline unchanged without it', async () => {
    const f = pipe((n: number) => TE.right(n), cache(memoryStore()), withKey('to.none'), orElseUncached())
    expectTypeOf(f).toEqualTypeOf<Cached<[n: number], never, number>>()
    expect(await f(2)()).toEqual(E.right(2))
  })
})

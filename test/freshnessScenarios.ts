/**
 * Fail-safe, timeouts and refresh ahead, end to end through `cacheable` over a Dapr store: one set of
 * scenarios, run on the test sidecar (where one manual clock drives both the sidecar's TTLs and the
 * library's ages, so nothing sleeps) and on real daprd with Redis (where the store's TTLs run on real
 * time and Redis reports no expiry time, so an entry's age can only come from the companion entry).
 */
import type { ManualClock } from '../src/Clock.js'
import { cacheable } from '../src/cacheable.js'
import { CacheFunctionTimeoutError } from '../src/errors.js'
import * as E from 'fp-ts/lib/Either.js'
import { makeKey } from '../src/Key.js'
import { InMemoryMetrics } from '../src/Metrics.js'
import type { Store } from '../src/Store.js'
import { deferred, pythonVectors, seededRandom } from './helpers.js'

export interface FreshnessSubject {
  readonly store: Store
  /** The library's clock (ages, staleness, throttles). */
  readonly clock: ManualClock
  /** Lets `ms` pass for the store's TTLs and for the library's clock. */
  readonly elapse: (ms: number) => Promise<void>
  /**
   * Ages entries by `ms` for the library (and for the store too where its clock is the same manual
   * one); a store on real time does not see it. For refresh ahead, whose whole point is that values
   * do not expire: on real daprd it shows that the age comes from the companion entry alone.
   */
  readonly age: (ms: number) => Promise<void>
  /** The value key read as the Python library reads it: the raw answer body, undefined for none. */
  readonly readAsPython: (key: string) => Promise<string | undefined>
  /** Saves `wire` (a base64 JSON string) under `key` as the Python library does, for `ttlSeconds`. */
  readonly seedAsPython: (key: string, wire: string, ttlSeconds: number) => Promise<void>
  readonly teardown: () => Promise<void>
}

const quiet = { warn: () => undefined }

/** Waits until `f` has nothing in flight and nothing in the background (bounded). */
export const settled = async (f: { readonly pending: () => number }): Promise<void> => {
  for (let i = 0; i < 2000 && f.pending() > 0; i++) await new Promise((resolve) => setTimeout(resolve, 1))
  expect(f.pending()).toBe(0)
}

export const describeFreshness = (label: string, setup: () => Promise<FreshnessSubject>): void => {
  describe(`fail-safe, timeouts and refresh ahead: ${label}`, () => {
    let subject: FreshnessSubject
    let run = 0

    beforeEach(async () => {
      subject = await setup()
      run++
    })
    afterEach(async () => {
      await subject.teardown()
    })

    it('serves the stale value when the function fails, rests the function, and lets the failure through past maxStaleSeconds', async () => {
      const metrics = new InMemoryMetrics()
      let calls = 0
      let failing = false
      const name = `fs.${run}.price`
      const price = cacheable({
        store: subject.store,
        ttlSeconds: 1,
        name,
        metrics,
        logger: quiet,
        clock: subject.clock,
        failSafe: { maxStaleSeconds: 3, throttleSeconds: 2 },
      })(async (sku: string) => {
        calls++
        if (failing) throw new Error('the source is down')
        return { sku, cents: 1999 }
      })
      expect(await price('a')).toEqual({ sku: 'a', cents: 1999 })
      failing = true
      await subject.elapse(1200) // the value expired

      // One after the other, so that each is a call of its own (concurrent ones would join one flight).
      // A hundred: on real daprd they must all fit in the two seconds the function rests, on a loaded host too.
      for (let i = 0; i < 100; i++) expect(await price('a')).toEqual({ sku: 'a', cents: 1999 })
      expect(calls).toBe(2) // once to fill, once to fail: the other 99 got the stale value while it rests
      expect(metrics.getStats().stale).toBe(100)
      // A Python reader of the key gets nothing: the stale value lives only in the companion entry.
      expect(await subject.readAsPython(keyOf(name, 'a'))).toBeUndefined()

      await subject.elapse(2100) // the rest is over: the function is tried once more, and fails again
      expect(await price('a')).toEqual({ sku: 'a', cents: 1999 })
      expect(calls).toBe(3)

      await subject.elapse(2500) // expired 4.8 s ago: past maxStaleSeconds
      await expect(price('a')).rejects.toThrow('the source is down')
      expect(calls).toBe(4)
      expect(metrics.getStats().stale).toBe(101)
    })

    it('passes the failure through when there is no stale value, and invalidate leaves none behind', async () => {
      let failing = false
      const quote = cacheable({ store: subject.store, ttlSeconds: 1, name: `fs.${run}.quote`, logger: quiet, clock: subject.clock, failSafe: true })(
        async (id: number) => {
          if (failing) throw new Error(`no quote ${id}`)
          return id * 2
        },
      )
      failing = true
      await expect(quote(1)).rejects.toThrow('no quote 1')
      failing = false
      expect(await quote(2)).toBe(4)
      await quote.invalidate(2)
      failing = true
      await expect(quote(2)).rejects.toThrow('no quote 2')
    })

    it('reads a value a Python service wrote, and never has a stale copy of it to serve (Python wrote no companion entry)', async () => {
      const [keyVector] = pythonVectors.keys
      const valueVector = pythonVectors.values.find((vector) => typeof vector.value === 'string')
      if (keyVector === undefined || valueVector === undefined) throw new Error('the interop fixture lacks a key or a string value')
      // One key per run: a name of our own, the arguments Python hashed.
      const name = `${keyVector.name}.${run}`
      const key = keyOf(name, ...keyVector.args)
      await subject.seedAsPython(key, valueVector.wire, 1)
      let failing = false
      const getUser = cacheable({
        store: subject.store,
        name,
        ttlSeconds: 1,
        logger: quiet,
        clock: subject.clock,
        failSafe: true,
        refreshAhead: { threshold: 0.1 },
      })(async (..._args: ReadonlyArray<unknown>) => {
        if (failing) throw new Error('the source is down')
        return 'computed here'
      })
      await subject.age(500) // half its TTL: a value of ours would be refreshed, Python's has no known age
      expect(await getUser(...keyVector.args)).toEqual(valueVector.value)
      await settled(getUser)
      expect(await subject.readAsPython(key)).toBe(valueVector.wire)
      failing = true
      await subject.elapse(1200)
      await expect(getUser(...keyVector.args)).rejects.toThrow('the source is down')
      expect(await subject.readAsPython(key)).toBeUndefined()
    })

    it('answers with the stale value after softMs, and the computation that lands is written and served next', async () => {
      const gate = deferred()
      let calls = 0
      let slow = false
      const report = cacheable({
        store: subject.store,
        ttlSeconds: 1,
        name: `soft.${run}.report`,
        logger: quiet,
        clock: subject.clock,
        failSafe: true,
        timeouts: { softMs: 50 },
      })(async (id: number) => {
        calls++
        if (slow) await gate.promise
        return { id, version: calls }
      })
      expect(await report(7)).toEqual({ id: 7, version: 1 })
      await subject.elapse(1200)
      slow = true
      const callers = await Promise.all(Array.from({ length: 10 }, () => report(7)))
      expect(callers).toEqual(Array(10).fill({ id: 7, version: 1 })) // stale, while version 2 computes
      expect(calls).toBe(2)
      expect(report.pending()).toBe(1) // the computation goes on in the background
      gate.resolve()
      await settled(report)
      expect(await report(7)).toEqual({ id: 7, version: 2 }) // written when it landed
      expect(calls).toBe(2)
    })

    it('stops waiting at hardMs with a CacheFunctionTimeoutError, and leaves nothing in flight once the computation lands', async () => {
      const gate = deferred()
      let calls = 0
      const slowSum = cacheable({ store: subject.store, ttlSeconds: 60, name: `hard.${run}.sum`, logger: quiet, clock: subject.clock, timeouts: { hardMs: 80 } })(
        async (a: number, b: number) => {
          calls++
          await gate.promise
          return a + b
        },
      )
      const failures = await Promise.allSettled([slowSum(1, 2), slowSum(1, 2)])
      for (const failure of failures) {
        expect(failure.status).toBe('rejected')
        const reason = (failure as PromiseRejectedResult).reason as CacheFunctionTimeoutError
        expect(reason).toBeInstanceOf(CacheFunctionTimeoutError)
        expect([reason.code, reason.timeoutMs]).toEqual(['E_CACHE_FUNCTION_TIMEOUT', 80])
      }
      expect(calls).toBe(1)
      expect(slowSum.pending()).toBe(1)
      // A later miss waits on the same computation (within its own hard timeout), not on a new one.
      const later = slowSum(1, 2)
      gate.resolve()
      expect(await later).toBe(3)
      await settled(slowSum)
      expect(await slowSum(1, 2)).toBe(3)
      expect(calls).toBe(1)
    })

    it('refreshes a hot key ahead of its expiry: over five TTLs of steady load only the first call waits for the function', async () => {
      const metrics = new InMemoryMetrics()
      let calls = 0
      const rate = cacheable({
        store: subject.store,
        ttlSeconds: 10,
        name: `ra.${run}.rate`,
        metrics,
        logger: quiet,
        clock: subject.clock,
        refreshAhead: { threshold: 0.8 },
      })(async (pair: string) => ({ pair, version: ++calls }))
      for (let second = 0; second < 50; second++) {
        const values = await Promise.all(Array.from({ length: 20 }, () => rate('EURUSD')))
        expect(new Set(values.map((value) => value.pair))).toEqual(new Set(['EURUSD']))
        await settled(rate) // the refresh a hit started, if any, has landed
        await subject.age(1000)
      }
      // 20 concurrent callers a second share one lookup (one hit, 19 coalesced); only the first missed.
      expect(metrics.getStats()).toMatchObject({ misses: 1, hits: 49, coalesced: 950 })
      // Refreshed at 80% of each TTL: once every 8 seconds, not once per caller.
      expect(calls).toBeGreaterThanOrEqual(5)
      expect(calls).toBeLessThanOrEqual(8)
    })

    it('refreshes ahead by XFetch with beta, and never makes a caller wait', async () => {
      // XFetch draws one number per hit, and the 20 callers of a second share one hit. With a mean
      // lead of 10 s (computeMs is floored at 1 ms), a TTL passes with no refresh about once in
      // 20,000; the draws come from a seeded generator all the same, so a run never depends on luck.
      const random = jest.spyOn(Math, 'random').mockImplementation(seededRandom(11))
      const metrics = new InMemoryMetrics()
      let calls = 0
      const rate = cacheable({
        store: subject.store,
        ttlSeconds: 10,
        name: `xf.${run}.rate`,
        metrics,
        logger: quiet,
        clock: subject.clock,
        // The function takes under a millisecond: a large beta makes XFetch refresh seconds ahead.
        refreshAhead: { beta: 10_000 },
      })(async (pair: string) => ({ pair, version: ++calls }))
      try {
        for (let second = 0; second < 30; second++) {
          await Promise.all(Array.from({ length: 20 }, () => rate('GBPUSD')))
          await settled(rate)
          await subject.age(1000)
        }
      } finally {
        random.mockRestore()
      }
      expect(metrics.getStats()).toMatchObject({ misses: 1, hits: 29 })
      expect(calls).toBeGreaterThanOrEqual(3)
      expect(calls).toBeLessThanOrEqual(30)
    })
  })
}

/** The key the default key builder gives a call of `name` with `args`. */
const keyOf = (name: string, ...args: ReadonlyArray<unknown>): string => {
  const key = makeKey('cache', name, args)
  if (E.isLeft(key)) throw new Error(key.left.message)
  return key.right
}

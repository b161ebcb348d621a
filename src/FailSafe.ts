/**
 * Fail-safe: when the function fails (throws, rejects, returns `Left`) or times out, and a value for
 * its key expired at most `maxStaleSeconds` ago, callers get that stale value instead of the failure.
 *
 * The stale copy lives in the value's companion entry, `<key>:meta` (see `internal/meta.ts`): written
 * next to every value, with the value's TTL plus `maxStaleSeconds`. The value key keeps its own TTL,
 * so a Python service reading it never gets a value older than that; nothing stale is ever written
 * back to it. After a failure was served stale, the function is not called again for that key for
 * `throttleSeconds`: misses get the same stale value at once, and a dead source is not hammered.
 * Every stale serving is counted (`recordStale`) and traced (`cache.result = stale`). With no stale
 * value, the failure passes through as it would without fail-safe.
 *
 * This module holds the options and the throttle; the engine decides when a stale value is served.
 *
 * @since 0.3.0
 */
import type * as t from 'io-ts'
import { checkOption, group, optional, seconds, trueOr } from './internal/options.js'
import type { FailSafe } from './internal/parts.js'
import type { Step } from './Cached.js'
import { step } from './Cached.js'

export type { FailSafe } from './internal/parts.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/**
 * The options of fail-safe, described once for `withFailSafe` and `cacheable({ failSafe })`:
 * `maxStaleSeconds` (default 86,400, a day: how long after its expiry a value may still stand in for
 * a failure; the stale copy is kept that much longer than the value) and `throttleSeconds` (default
 * 30: how long the function rests for a key after a failure was served stale).
 *
 * @category model
 * @since 0.3.0
 */
export const FailSafeOptionsCodec = group('FailSafeOptions', {
  maxStaleSeconds: optional(seconds),
  throttleSeconds: optional(seconds),
})

/**
 * @category model
 * @since 0.3.0
 */
export type FailSafeOptions = t.TypeOf<typeof FailSafeOptionsCodec>


const MAX_THROTTLED = 10_000

// -------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------

/**
 * Decodes the options of fail-safe as given to `withFailSafe` or `cacheable({ failSafe })` (`true`:
 * the defaults); a bad one throws a `CacheOptionsError` naming it (`failSafe.maxStaleSeconds`, ...).
 *
 * @category constructors
 * @since 0.3.0
 */
export const failSafeOptions = (option: string, value: unknown): FailSafeOptions => {
  const decoded = checkOption(option, trueOr(FailSafeOptionsCodec), value)
  return decoded === true ? {} : decoded
}

/**
 * A fail-safe with these (already decoded) options (`true`: the defaults) and an empty throttle.
 *
 * @category constructors
 * @since 0.3.0
 */
export const failSafe = (given: true | FailSafeOptions = true): FailSafe => {
  const options = given === true ? {} : given
  const throttleSeconds = options.throttleSeconds ?? 30
  const resting = new Map<string, { readonly until: number; readonly value: unknown }>()
  return {
    maxStaleSeconds: options.maxStaleSeconds ?? 86_400,
    throttleSeconds,
    throttled: (key, now) => {
      const rest = resting.get(key)
      if (rest === undefined) return undefined
      if (now < rest.until) return rest
      resting.delete(key)
      return undefined
    },
    throttle: (key, value, now) => {
      // Bounded: the oldest rest goes first (a Map iterates in insertion order).
      if (resting.size >= MAX_THROTTLED && !resting.has(key)) {
        const oldest = resting.keys().next()
        if (oldest.done !== true) resting.delete(oldest.value)
      }
      resting.delete(key)
      resting.set(key, { until: now + throttleSeconds * 1000, value })
    },
    forget: (key) => {
      resting.delete(key)
    },
    size: () => resting.size,
  }
}

// -------------------------------------------------------------------------------------
// combinators
// -------------------------------------------------------------------------------------

/**
 * Serves a stale value when the function fails or times out, for up to `maxStaleSeconds` after the
 * value expired, and rests the function for `throttleSeconds` after each such failure. Writes a
 * companion entry `<key>:meta` next to every value (one more key per value, kept `maxStaleSeconds`
 * longer). The throttle is made when the step is applied.
 *
 * @category combinators
 * @since 0.3.0
 */
export const withFailSafe = (options: true | FailSafeOptions = true): Step => {
  const decoded = failSafeOptions('failSafe', options)
  return step('withFailSafe', () => ({ failSafe: failSafe(decoded) }))
}

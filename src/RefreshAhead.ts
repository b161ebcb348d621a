/**
 * Refresh ahead: a hit on an entry near its expiry returns the cached value at once and starts one
 * background refresh of the key, so that a hot key is recomputed before it expires instead of
 * making a caller wait when it does.
 *
 * When is "near": past `threshold` of the entry's TTL (`0.8`: in its last fifth), or by probabilistic
 * early expiration (the XFetch rule: refresh when `now - computeMs * beta * ln(random())` reaches the
 * expiry, so that the closer the expiry and the longer the computation, the likelier a refresh;
 * `beta` 1 is the usual choice, larger refreshes earlier). The entry's age and its computation time
 * come from its companion entry, `<key>:meta`, written next to each value (Redis reports no expiry
 * time, so the store cannot say); a value without one (written by the Python library, say) is not
 * refreshed early.
 *
 * One refresh per key at a time, in the background: counted in `pending()`, traced with a link to
 * the call that started it, never an unhandled rejection. With `lease`, one replica refreshes: the
 * others see the lease taken and leave it. The engine starts the refresh; this module decides when.
 *
 * @since 0.3.0
 */
import type * as t from 'io-ts'
import { expiresAt } from './internal/meta.js'
import { checked, checkOption, fraction, group, optional, positiveNumber, trueOr } from './internal/options.js'
import type { RefreshAhead } from './internal/parts.js'
import type { Step } from './Cached.js'
import { step } from './Cached.js'

export type { RefreshAhead } from './internal/parts.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/**
 * The options of refresh ahead, described once for `withRefreshAhead` and `cacheable({ refreshAhead })`:
 * either `threshold` (a fraction of the TTL, between 0 and 1) or `beta` (the XFetch factor, above 0),
 * not both. `true` means `{ threshold: 0.8 }`.
 *
 * @category model
 * @since 0.3.0
 */
export const RefreshAheadOptionsCodec = checked(
  group('RefreshAheadOptions', {
    threshold: optional(fraction()),
    beta: optional(positiveNumber),
  }),
  (options) =>
    options.threshold === undefined && options.beta === undefined
      ? { field: 'threshold', expected: 'threshold (a fraction of the TTL) or beta (the XFetch factor)' }
      : options.threshold !== undefined && options.beta !== undefined
        ? { field: 'beta', expected: 'no beta when threshold is given (one rule or the other)' }
        : undefined,
)

/**
 * @category model
 * @since 0.3.0
 */
export type RefreshAheadOptions = t.TypeOf<typeof RefreshAheadOptionsCodec>


/** What `true` means. */
const DEFAULT_OPTIONS: RefreshAheadOptions = { threshold: 0.8 }

// -------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------

/**
 * Decodes the options of refresh ahead (`true`: `{ threshold: 0.8 }`); a bad one throws a
 * `CacheOptionsError` naming it (`refreshAhead.threshold`, ...).
 *
 * @category constructors
 * @since 0.3.0
 */
export const refreshAheadOptions = (option: string, value: unknown): RefreshAheadOptions => {
  const decoded = checkOption(option, trueOr(RefreshAheadOptionsCodec), value)
  return decoded === true ? DEFAULT_OPTIONS : decoded
}

/**
 * The rule for these (already decoded) options (`true`: `{ threshold: 0.8 }`); `random` (default
 * `Math.random`) draws XFetch's uniform number in [0, 1).
 *
 * @category constructors
 * @since 0.3.0
 */
export const refreshAhead = (options: true | RefreshAheadOptions, random: () => number = Math.random): RefreshAhead => {
  const { threshold, beta } = options === true ? DEFAULT_OPTIONS : options
  if (threshold !== undefined) return { due: (meta, now) => now - meta.writtenAt >= threshold * meta.ttlSeconds * 1000 }
  const factor = beta ?? 1
  return {
    // XFetch: -ln(u) is exponentially distributed, so early refreshes grow likelier near the expiry.
    due: (meta, now) => now - Math.max(meta.computeMs, 1) * factor * Math.log(1 - random()) >= expiresAt(meta),
  }
}

// -------------------------------------------------------------------------------------
// combinators
// -------------------------------------------------------------------------------------

/**
 * Refreshes a hot key in the background before it expires: a hit past `threshold` of its TTL (or
 * chosen by XFetch with `beta`) returns at once and starts one refresh for its key. Writes a
 * companion entry `<key>:meta` next to every value, for its age.
 *
 * @category combinators
 * @since 0.3.0
 */
export const withRefreshAhead = (options: true | RefreshAheadOptions = true): Step => {
  const decoded = refreshAheadOptions('refreshAhead', options)
  return step('withRefreshAhead', () => ({ refreshAhead: refreshAhead(decoded) }))
}

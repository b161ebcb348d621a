/**
 * Timeouts for the function: how long callers wait for it on a miss.
 *
 * Soft (`softMs`): if a stale value exists (fail-safe keeps one) and the function has not answered
 * within `softMs`, callers get the stale value and the computation goes on in the background, writing
 * its value when it lands. Without a stale value, callers keep waiting.
 * Hard (`hardMs`): callers stop waiting after `hardMs` and get a stale value if fail-safe has one, or
 * else a `FunctionTimeout` error (`CacheFunctionTimeoutError` in the facade); the computation may
 * still land, and is then written.
 *
 * A computation its callers stopped waiting for is background work: one per key (a later miss of the
 * key waits on it, with the same timeouts, instead of starting another), counted in `pending()`,
 * never an unhandled rejection. The engine applies the deadlines; this module holds the options.
 *
 * @since 0.3.0
 */
import type * as t from 'io-ts'
import type { FunctionTimeout } from './CacheError.js'
import { checked, checkOption, group, milliseconds, optional } from './internal/options.js'
import type { Cached } from './Cached.js'
import { step } from './Cached.js'

export type { Timeouts } from './internal/parts.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/**
 * The options of the timeouts, described once for `withTimeouts` and `cacheable({ timeouts })`:
 * `softMs` and `hardMs`, positive whole milliseconds, at least one of them, and `softMs` below
 * `hardMs` when both are given.
 *
 * @category model
 * @since 0.3.0
 */
export const TimeoutsOptionsCodec = checked(
  group('TimeoutsOptions', {
    softMs: optional(milliseconds),
    hardMs: optional(milliseconds),
  }),
  (options) =>
    options.softMs === undefined && options.hardMs === undefined
      ? { field: 'softMs', expected: 'softMs or hardMs (a positive integer number of milliseconds)' }
      : options.softMs !== undefined && options.hardMs !== undefined && options.softMs >= options.hardMs
        ? { field: 'softMs', expected: `less than hardMs (${options.hardMs})` }
        : undefined,
)

/**
 * @category model
 * @since 0.3.0
 */
export type TimeoutsOptions = t.TypeOf<typeof TimeoutsOptionsCodec>

// -------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------

/**
 * Decodes the timeouts as given to `withTimeouts` or `cacheable({ timeouts })`; a bad one throws a
 * `CacheOptionsError` naming it (`timeouts.softMs`, ...).
 *
 * @category constructors
 * @since 0.3.0
 */
export const timeoutsOptions = (option: string, value: unknown): TimeoutsOptions => checkOption(option, TimeoutsOptionsCodec, value)

// -------------------------------------------------------------------------------------
// combinators
// -------------------------------------------------------------------------------------

/**
 * Time-boxes the function on a miss: a stale value after `softMs` (with fail-safe), a stale value or
 * a `FunctionTimeout` after `hardMs`; the computation goes on and is written when it lands. The
 * timeout stays in the error type: `orElseUncached` does not recover from it.
 *
 * @category combinators
 * @since 0.3.0
 */
export const withTimeouts = (options: TimeoutsOptions) => {
  const decoded = timeoutsOptions('timeouts', options)
  const timeBoxed = step('withTimeouts', () => ({ timeouts: decoded }))
  return <Args extends ReadonlyArray<unknown>, Err, A>(self: Cached<Args, Err, A>): Cached<Args, Err | FunctionTimeout, A> =>
    timeBoxed(self)
}

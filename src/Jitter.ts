/**
 * TTL jitter: each write's TTL is spread by up to a fraction of itself, so that keys written together
 * do not expire together (and are not recomputed together). With `0.1`, a TTL of 100 s is written as
 * a whole number of seconds from 90 to 110. It changes only `ttlInSeconds` on the wire: the value,
 * its key and its format stay the same.
 *
 * @since 0.3.0
 */
import { checkOption, fraction } from './internal/options.js'
import type { Step } from './Cached.js'
import { step } from './Cached.js'

export { jittered } from './internal/jitter.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/**
 * The jitter, described once for `withJitter` and `cacheable({ jitter })`: a fraction of the TTL,
 * greater than 0 and less than 1.
 *
 * @category model
 * @since 0.3.0
 */
export const JitterCodec = fraction('a fraction of the TTL, greater than 0 and less than 1')

// -------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------


// -------------------------------------------------------------------------------------
// combinators
// -------------------------------------------------------------------------------------

/**
 * Spreads each write's TTL by up to `fraction` of itself (`0.1`: 90-110 s for 100 s).
 *
 * @category combinators
 * @since 0.3.0
 */
export const withJitter = (fraction: number): Step => {
  const checkedFraction = checkOption('jitter', JitterCodec, fraction)
  return step('withJitter', () => ({ jitter: checkedFraction }))
}

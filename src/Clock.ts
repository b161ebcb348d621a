/**
 * Where time comes from. Stores and metrics take a `Clock` so tests can move time by hand
 * instead of sleeping.
 *
 * @since 0.1.0
 */

/**
 * @category model
 * @since 0.1.0
 */
export interface Clock {
  /** Milliseconds, monotonic enough for TTLs and latencies. */
  readonly now: () => number
}

/**
 * Wall-clock time (`Date.now()`), for TTLs that must agree with other processes.
 *
 * @category instances
 * @since 0.1.0
 */
export const systemClock: Clock = { now: () => Date.now() }

/**
 * A clock that only moves when told to: for tests.
 *
 * @category constructors
 * @since 0.1.0
 */
export interface ManualClock extends Clock {
  /** Moves the time forward by `ms` milliseconds. */
  readonly advance: (ms: number) => void
  /** Sets the time to `ms` epoch milliseconds. */
  readonly set: (ms: number) => void
}

/**
 * @category constructors
 * @since 0.1.0
 */
export const manualClock = (start = 0): ManualClock => {
  let current = start
  return {
    now: () => current,
    advance: (ms) => {
      current += ms
    },
    set: (ms) => {
      current = ms
    },
  }
}

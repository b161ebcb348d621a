/**
 * A circuit breaker around a `Store`, so that a dead or hanging store costs a few calls one timeout
 * each and nearly nothing afterwards.
 *
 * Closed: operations go through; failures that say the store is in trouble (connection refused or
 * reset, timeouts, 5xx answers) are counted, and any success resets the count. After
 * `failureThreshold` such failures in a row the breaker opens: for `cooldownMs` every operation is a
 * `CircuitOpen` error at once, without a request. Then it is half-open: one operation goes through as
 * a probe while the others still fail fast; the probe's success closes the breaker, its failure opens
 * it for another cool-down (a store that throws or rejects instead of answering is passed on as it
 * is, counts as neither, and leaves the next call free to probe). Answers that are the caller's
 * problem (a 4xx, a corrupt value, a bad key) do not count: the store is fine.
 *
 * It does not retry, queue or time out anything itself: the store's own deadlines do that.
 *
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import type * as TE from 'fp-ts/lib/TaskEither.js'
import type { CacheError } from '../CacheError.js'
import * as CE from '../CacheError.js'
import type { Clock } from '../Clock.js'
import { systemClock } from '../Clock.js'
import { checkOption, clockCodec, group, milliseconds, optional, positiveInteger } from '../internal/options.js'
import type { Store, StoreEntry } from '../Store.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/**
 * @category model
 * @since 0.1.0
 */
export interface BreakerOptions {
  /** Consecutive store failures that open the breaker (default 5). */
  readonly failureThreshold?: number | undefined
  /** How long it stays open before one probe is let through, in milliseconds (default 5,000). */
  readonly cooldownMs?: number | undefined
  readonly clock?: Clock | undefined
}

/**
 * @category model
 * @since 0.1.0
 */
export type BreakerState = 'closed' | 'open' | 'half-open'

/**
 * A store behind a breaker, with its state visible.
 *
 * @category model
 * @since 0.1.0
 */
export interface BreakerStore extends Store {
  readonly breaker: {
    /** `closed`, `open` (failing fast) or `half-open` (one probe may go through). */
    readonly state: () => BreakerState
    /** Consecutive store failures counted so far. */
    readonly failures: () => number
    /** Closes it by hand (after maintenance, say). */
    readonly reset: () => void
  }
}

// -------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------

/**
 * Whether a failure says the store itself is in trouble (rather than the request being wrong).
 *
 * @category utils
 * @since 0.1.0
 */
export const isStoreTrouble = (error: CacheError): boolean =>
  error._tag === 'ConnectionError' || error._tag === 'TimeoutError' || (error._tag === 'StoreRejected' && error.status >= 500)

// -------------------------------------------------------------------------------------
// combinators
// -------------------------------------------------------------------------------------

const breakerCodec = group('breaker options', {
  failureThreshold: optional(positiveInteger),
  cooldownMs: optional(milliseconds),
  clock: optional(clockCodec),
})

/**
 * `store` behind a circuit breaker. Options are checked here.
 *
 * @category combinators
 * @since 0.1.0
 */
export const withBreaker = (store: Store, options: BreakerOptions = {}): BreakerStore => {
  const checked = checkOption('breaker', breakerCodec, options)
  const failureThreshold = checked.failureThreshold ?? 5
  const cooldownMs = checked.cooldownMs ?? 5_000
  const clock = checked.clock ?? systemClock

  let failures = 0
  let openUntil = 0 // 0: closed
  let probing = false

  const state = (): BreakerState => (openUntil === 0 ? 'closed' : clock.now() < openUntil ? 'open' : 'half-open')

  /** Counts the outcome of a request that went through (`probe`: the one let through when half-open). */
  const counted = <A>(result: E.Either<CacheError, A>, probe: boolean): E.Either<CacheError, A> => {
    if (probe) probing = false
    if (E.isLeft(result) && isStoreTrouble(result.left)) {
      failures++
      if (probe || failures >= failureThreshold) openUntil = clock.now() + cooldownMs
    } else {
      failures = 0
      openUntil = 0
    }
    return result
  }
  const closed = <A>(result: E.Either<CacheError, A>): E.Either<CacheError, A> => counted(result, false)
  const probed = <A>(result: E.Either<CacheError, A>): E.Either<CacheError, A> => counted(result, true)
  /** A probe whose store threw or rejected instead of answering: the next call may probe again. */
  const probeFailed = (failure: unknown): never => {
    probing = false
    throw failure
  }

  // A closed breaker adds one `then` to the request and allocates nothing else.
  const guard =
    <A>(task: TE.TaskEither<CacheError, A>, key: string): TE.TaskEither<CacheError, A> =>
    () => {
      let probe = false
      if (openUntil !== 0) {
        if (clock.now() < openUntil || probing) return Promise.resolve(E.left(CE.circuitOpen(store.name, Math.max(openUntil, clock.now()), { key })))
        probing = true // half-open: this call is the one probe
        probe = true
      }
      let running: Promise<E.Either<CacheError, A>>
      try {
        running = task()
      } catch (failure) {
        // A store that throws instead of answering: passed on as a rejection of what it threw.
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
        running = Promise.reject(failure)
      }
      return probe ? running.then(probed, probeFailed) : running.then(closed)
    }

  return {
    name: store.name,
    get: (key) => guard(store.get(key), key),
    set: (key, value, ttlSeconds) => guard(store.set(key, value, ttlSeconds), key),
    delete: (key) => guard(store.delete(key), key),
    ...(store.setMany === undefined ? {} : { setMany: (entries: ReadonlyArray<StoreEntry>) => guard((store.setMany as NonNullable<Store['setMany']>)(entries), entries[0]?.key ?? '') }),
    ...(store.getMany === undefined ? {} : { getMany: (keys: ReadonlyArray<string>) => guard((store.getMany as NonNullable<Store['getMany']>)(keys), keys[0] ?? '') }),
    ...(store.deleteMany === undefined ? {} : { deleteMany: (keys: ReadonlyArray<string>) => guard((store.deleteMany as NonNullable<Store['deleteMany']>)(keys), keys[0] ?? '') }),
    ...(store.create === undefined ? {} : { create: (key: string, value: Uint8Array, ttlSeconds: number) => guard((store.create as NonNullable<Store['create']>)(key, value, ttlSeconds), key) }),
    ...(store.supportsCreate === undefined ? {} : { supportsCreate: store.supportsCreate }),
    ...(store.getVersioned === undefined || store.setIf === undefined || store.deleteIf === undefined
      ? {}
      : {
          getVersioned: (key: string) => guard((store.getVersioned as NonNullable<Store['getVersioned']>)(key), key),
          setIf: (key: string, value: Uint8Array, ttlSeconds: number, etag: string | undefined) =>
            guard((store.setIf as NonNullable<Store['setIf']>)(key, value, ttlSeconds, etag), key),
          deleteIf: (key: string, etag: string) => guard((store.deleteIf as NonNullable<Store['deleteIf']>)(key, etag), key),
        }),
    ...(store.close === undefined ? {} : { close: store.close }),
    breaker: {
      state,
      failures: () => failures,
      reset: () => {
        failures = 0
        openUntil = 0
        probing = false
      },
    },
  }
}

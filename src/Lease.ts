/**
 * Single flight across replicas, and invalidation that wins across them, through the state store's
 * own concurrency control: no coordinator of ours.
 *
 * On a miss, a replica takes a lease on the key: a `first-write` save of `<key>:lease`, with a TTL of
 * `leaseSeconds` (`Store.create`). The holder reads the key once more (someone may have written it
 * meanwhile), computes, writes, and deletes its lease. The others poll the key with a growing delay
 * (`pollMs` up to `maxPollMs`), trying the lease again on each round, so a holder that died is
 * replaced as soon as its lease expires; after `maxWaitMs` they compute themselves.
 *
 * Invalidation: the lease brings the keys' generations with it (`withGenerations`): `invalidate`
 * first writes a new random generation under `<key>:gen`, then deletes the value, and a computation
 * whose generation changed while it ran deletes what it wrote (docs/replicas.md has the argument and
 * the window).
 *
 * Only `<key>:lease` and `<key>:gen` are new keys: the value key and its bytes stay exactly what the
 * Python library reads and writes. A store without `create` (or whose Dapr component lacks ETag
 * support) gets single flight per process only, said once in the log. The order of a call's steps is
 * in `internal/engine.ts`; this module holds the lease's options, state and store operations.
 *
 * @since 0.2.0
 */
import { randomBytes } from 'node:crypto'
import type * as t from 'io-ts'
import { generations } from './Generations.js'
import { checkOption, group, loggerCodec, milliseconds, optional, seconds, trueOr } from './internal/options.js'
import type { Step } from './Cached.js'
import { step } from './Cached.js'
import type { Generations, Lease } from './internal/parts.js'
import type { Store } from './Store.js'

export type { Lease } from './internal/parts.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/**
 * The options of the lease, described once for `withLease` and `cacheable({ lease })`:
 * `leaseSeconds` (default 10: how long a holder that died blocks the others; longer than the
 * function takes), `maxWaitMs` (default 10,000: how long a replica waits for the holder's value before
 * computing itself), `pollMs` (default 10) and `maxPollMs` (default 100: the first and the longest
 * delay between two looks at the key), and `logger` (default `console`, for the one warning about a
 * store without leases).
 *
 * @category model
 * @since 0.2.0
 */
export const LeaseOptionsCodec = group('LeaseOptions', {
  leaseSeconds: optional(seconds),
  maxWaitMs: optional(milliseconds),
  pollMs: optional(milliseconds),
  maxPollMs: optional(milliseconds),
  logger: optional(loggerCodec),
})

/**
 * @category model
 * @since 0.2.0
 */
export type LeaseOptions = t.TypeOf<typeof LeaseOptionsCodec>


/** The lease key of a value key: its own key space, never a value key. */
export const leaseKey = (key: string): string => `${key}:lease`

export { generationKey } from './Generations.js'

// -------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------

/**
 * Decodes the options of a lease as given to `withLease` or `cacheable({ lease })` (`true`: the
 * defaults); a bad one throws a `CacheOptionsError` naming it (`lease.maxWaitMs`, ...).
 *
 * @category constructors
 * @since 0.2.0
 */
export const leaseOptions = (option: string, value: unknown): LeaseOptions => {
  const decoded = checkOption(option, trueOr(LeaseOptionsCodec), value)
  return decoded === true ? {} : decoded
}

/**
 * The lease of one cached function over `store`, with this replica's own owner token.
 *
 * @category constructors
 * @since 0.2.0
 */
export const lease = (store: Store, options: LeaseOptions = {}): Lease => {
  const leaseSeconds = options.leaseSeconds ?? 10
  const pollMs = options.pollMs ?? 10
  const maxPollMs = Math.max(pollMs, options.maxPollMs ?? 100)
  const logger = options.logger ?? console
  const owner = randomBytes(12)
  let supported: Promise<boolean> | undefined

  return {
    leaseSeconds,
    maxWaitMs: options.maxWaitMs ?? 10_000,
    supported: () => {
      supported ??= (async () => {
        const can = store.create !== undefined && (store.supportsCreate === undefined || (await store.supportsCreate()))
        if (!can) {
          logger.warn(
            `dapr-state-cache: the store ${JSON.stringify(store.name)} cannot hold leases (no first-write create, or no ETag support): single flight is per process only`,
          )
        }
        return can
      })()
      return supported
    },
    acquire: (key) => (store.create as NonNullable<Store['create']>)(leaseKey(key), owner, leaseSeconds),
    release: async (key, acquiredAt) => {
      // Past its TTL the lease may be another replica's now: leave it to expire.
      if (Date.now() - acquiredAt < leaseSeconds * 1000 - 100) await store.delete(leaseKey(key))()
    },
    delays: () => {
      let next = pollMs
      return () => {
        const delay = next
        next = Math.min(maxPollMs, Math.ceil(next * 1.5))
        return delay
      }
    },
  }
}

/**
 * The generations a lease brings: each lives at least a minute, and at least as long as a lease, so
 * that a computation (the holder's, or a waiter's that stopped waiting) does not outlive the
 * generation it read.
 *
 * @category constructors
 * @since 0.4.0
 */
export const leaseGenerations =
  (options: LeaseOptions = {}) =>
  (store: Store): Generations =>
    generations(store, Math.max(60, options.leaseSeconds ?? 10))

// -------------------------------------------------------------------------------------
// combinators
// -------------------------------------------------------------------------------------

/**
 * Single flight across replicas: on a miss, one replica computes while the others wait for its
 * value; and an invalidation on any replica wins over a computation under way on another (the lease
 * brings `withGenerations` with it). Needs a store with `create` (the Dapr store and the memory store
 * have it). The lease is made for the store when the pipeline is built.
 *
 * @category combinators
 * @since 0.2.0
 */
export const withLease = (options: true | LeaseOptions = true): Step => {
  const decoded = leaseOptions('lease', options)
  return step('withLease', (plan) => ({ lease: (store) => lease(store, decoded), generations: plan.generations ?? leaseGenerations(decoded) }))
}

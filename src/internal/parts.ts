/**
 * The parts a cached function's plan is made of, as the engine sees them: what an in-process tier,
 * a lease, fail-safe, refresh ahead and timeouts must provide. Each capability's own module makes
 * them (`withL1`, `withLease`, ...) and re-exports these types; they sit here, below the pipeline's
 * model and the engine, so that the model never imports a capability (no import cycle).
 *
 * @since 0.4.0
 */
import type * as E from 'fp-ts/lib/Either.js'
import type * as TE from 'fp-ts/lib/TaskEither.js'
import type { CacheError } from '../CacheError.js'
import type { EntryMeta } from './meta.js'

/**
 * One process's in-memory tier for one cached function.
 *
 * @category model
 * @since 0.2.0
 */
export interface L1 {
  readonly values: 'copy' | 'frozen'
  /** The value for `key`, copied or frozen as configured, or undefined. */
  readonly get: (key: string) => { readonly value: unknown } | undefined
  /** Taken before a read of the store: a fill with it is dropped if `key` was invalidated since. */
  readonly ticket: () => number
  /**
   * Keeps `value` for `min(ttlSeconds, entryTtlSeconds)`. In frozen mode `value` itself is frozen
   * (so the caller that filled gets the same frozen value as later hits); in copy mode, and for a
   * value that cannot be frozen, the tier keeps a copy and the caller's value stays its own.
   */
  readonly fill: (key: string, value: unknown, sizeBytes: number, entryTtlSeconds: number, ticket: number) => void
  /**
   * Drops `key` at once, and refuses fills from reads that began before now; for a second after, it
   * keeps no value of the key at all, unless `replaced` (another replica wrote a new value: no
   * write from before an invalidation can be on its way).
   */
  readonly invalidate: (key: string, replaced?: boolean) => void
  /** Entries held now (expired ones not yet dropped included). */
  readonly size: () => number
  /** Drops every entry, and refuses fills from reads that began before now. */
  readonly clear: () => void
}

/**
 * One cached function's lease, over one store.
 *
 * @category model
 * @since 0.2.0
 */
export interface Lease {
  readonly leaseSeconds: number
  readonly maxWaitMs: number
  /** Whether the store can hold leases; asked once, and said once in the log when it cannot. */
  readonly supported: () => Promise<boolean>
  /** Tries to take the lease on `key`: true when this replica holds it now. */
  readonly acquire: (key: string) => TE.TaskEither<CacheError, boolean>
  /** Gives the lease on `key` back, if this replica may still hold it (not past its TTL). */
  readonly release: (key: string, acquiredAt: number) => Promise<void>
  /** The delays between two looks at the key: `pollMs`, growing by half up to `maxPollMs`. */
  readonly delays: () => () => number
}

/**
 * The generations of one cached function's keys, over one store: what makes an invalidation on one
 * replica win over a computation under way on another (see `withGenerations`).
 *
 * @category model
 * @since 0.4.0
 */
export interface Generations {
  /** The generation of `key` now (undefined: none written), or why it could not be read. */
  readonly read: (key: string) => Promise<E.Either<CacheError, string | undefined>>
  /** Writes a new generation of `key` (before its value is deleted), for at least `ttlSeconds`. */
  readonly bump: (key: string, ttlSeconds: number) => TE.TaskEither<CacheError, void>
}

/**
 * One cached function's fail-safe: its limits and its throttle (made when the step is applied).
 *
 * @category model
 * @since 0.3.0
 */
export interface FailSafe {
  readonly maxStaleSeconds: number
  readonly throttleSeconds: number
  /** The stale value misses of `key` get until its throttle ends (`now` in epoch ms), if any. */
  readonly throttled: (key: string, now: number) => { readonly value: unknown } | undefined
  /** A failure of `key` was served `value`: the function rests for `throttleSeconds`. */
  readonly throttle: (key: string, value: unknown, now: number) => void
  /** Forgets the throttle of `key` (it was invalidated). */
  readonly forget: (key: string) => void
  /** Keys resting now (expired ones not yet dropped included). */
  readonly size: () => number
}

/**
 * When one cached function refreshes ahead.
 *
 * @category model
 * @since 0.3.0
 */
export interface RefreshAhead {
  /** Whether a hit on the entry `meta` describes should start a refresh, at `now` (epoch ms). */
  readonly due: (meta: EntryMeta, now: number) => boolean
}

/**
 * How long callers wait for the function on a miss (see `withTimeouts`), decoded.
 *
 * @category model
 * @since 0.3.0
 */
export interface Timeouts {
  readonly softMs?: number | undefined
  readonly hardMs?: number | undefined
}

/**
 * One computation of the function, as a wrapper made with `aroundCompute` sees it: on a miss, or
 * when the call runs uncached (then `key` is undefined when no key could be built).
 *
 * @category model
 * @since 0.4.0
 */
export interface Computation {
  readonly self: unknown
  readonly args: ReadonlyArray<unknown>
  readonly key: string | undefined
  /**
   * Whether no invalidation of the key came since this computation began (always false when the
   * call runs uncached): a wrapper that stores something of its own writes it only while this
   * holds, and deletes it if it no longer does once written.
   */
  readonly current: () => boolean
  /**
   * `current`, and across replicas too when the plan has generations (`withGenerations`,
   * `withLease`): whether no invalidation of the key came since this computation began, here or on
   * any replica. Reads the key's generation (one round trip) when there are generations; a
   * generation that cannot be read counts as a change. Check it before writing an entry of your own
   * and again once it is written (delete it if it no longer holds).
   */
  readonly currentEverywhere: () => Promise<boolean>
  /**
   * Hands the engine a write of the wrapper's own, with the checks and the delete that follow it: an
   * invalidation of the key does not resolve before it has settled (as for the value's own write).
   */
  readonly landing: (work: Promise<unknown>) => void
  /**
   * Says the wrapper answered this computation from an entry of its own (a negative entry, say)
   * without running the function: the call is then not counted as a miss of the value, and the
   * wrapper counts its own kind of hit (`recordNegativeHit`, ...).
   */
  readonly ownHit: () => void
}

/**
 * What a computation ends with: the value, or the function's failure. `thrown` is true when the
 * function threw or rejected rather than returned a `Left`.
 *
 * @category model
 * @since 0.4.0
 */
export type Computed = E.Right<unknown> | (E.Left<unknown> & { readonly thrown?: boolean | undefined })

/**
 * Runs one computation: at once when it can, else a promise, which never rejects.
 *
 * @category model
 * @since 0.4.0
 */
export type Compute = (computation: Computation) => Computed | Promise<Computed>

/**
 * What a cached function hears from the backplane: keys another replica wrote (`set`) or invalidated
 * (`delete`), or `clear`: messages may have been missed, and the in-process tier starts afresh.
 *
 * @category model
 * @since 0.5.0
 */
export type BackplaneEvent = { readonly kind: 'set' | 'delete'; readonly keys: ReadonlyArray<string> } | { readonly kind: 'clear' }

/**
 * The backplane as the engine sees it (see `backplane()`): it tells the other replicas of this
 * one's changes and hands theirs to the cached functions subscribed.
 *
 * @category model
 * @since 0.5.0
 */
export interface Bus {
  /**
   * Tells the other replicas that `key` was written or invalidated here. Resolves with whether the
   * sidecar took the message, within the backplane's publish timeout; never rejects.
   */
  readonly publish: (kind: 'set' | 'delete', key: string) => Promise<boolean>
  /** Hears every other replica's changes until the returned function is called. */
  readonly subscribe: (listener: (event: BackplaneEvent) => void) => () => void
  /** Whether this replica hears the bus now: while it does not, the in-process tier is not used. */
  readonly trusted: () => boolean
  /** Optional: hands `event` to this process's own listeners too (a tag invalidation's keys, for its other functions). */
  readonly echo?: (event: BackplaneEvent) => void
}

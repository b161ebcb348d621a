/**
 * The pipeline's model as types: a cached function, the plan it runs, and what the step API hands
 * to a step. `Cached.ts` re-exports them with the constructors; they sit here, below the engine's
 * builder (`build.ts`), so that neither imports the other's module back.
 */
import type { Tracer } from '@opentelemetry/api'
import type * as E from 'fp-ts/lib/Either.js'
import type { Either } from 'fp-ts/lib/Either.js'
import type { Task } from 'fp-ts/lib/Task.js'
import type * as TE from 'fp-ts/lib/TaskEither.js'
import type { CacheError } from '../CacheError.js'
import type { Clock } from '../Clock.js'
import type { Dedup } from '../Dedup.js'
import type { KeyBuilder } from '../Key.js'
import type { ErrorReporter } from '../Logger.js'
import type { CacheMetrics } from '../Metrics.js'
import type { Serializer } from '../Serializer.js'
import type { Store } from '../Store.js'
import type { TagInvalidation } from './tags.js'
import type { Bus, Compute, FailSafe, Generations, L1, Lease, RefreshAhead, Timeouts } from './parts.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/**
 * A cached function: same arguments as the original, a `TaskEither` of its error or its value.
 *
 * @category model
 * @since 0.1.0
 */
export interface Cached<Args extends ReadonlyArray<unknown>, E, A> {
  (...args: Args): TE.TaskEither<E, A>
  /** Drops the entry for these arguments. A failure here is returned, never recovered from. */
  readonly invalidate: (...args: Args) => TE.TaskEither<CacheError, void>
  /**
   * Deletes every entry carrying one of these tags, from the store (see `withTags`), from this
   * function's tier, and, with a backplane, from every replica's. A failure is returned.
   */
  readonly invalidateTag: (tags: string | ReadonlyArray<string>) => TE.TaskEither<CacheError, TagInvalidation>
  /**
   * How many lookups are in flight in its single flight (always 0 without `withDedup`), plus the
   * background work no caller waits for (a refresh ahead, a computation past its timeout, a write
   * of `withBackgroundWrites` that its flight no longer holds).
   */
  readonly pending: () => number
  /**
   * Calls it once per argument list, as one batch: one bulk read for all their keys, the misses
   * computed (each under the single flight and the lease where they are on), one bulk save for the
   * values computed. Each call's own result, in the order asked; arguments with one key are looked
   * up once. It throws a `CacheOptionsError` at once when `argsList` is not an array of arrays.
   */
  readonly many: (argsList: ReadonlyArray<Args>) => Task<ReadonlyArray<Either<E, A>>>
}

/**
 * The error type of a lifted function: its own `E` for a `TaskEither`, `unknown` (whatever it throws
 * or rejects with) otherwise.
 *
 * @category model
 * @since 0.1.0
 */
export type ErrorOf<R> = R extends TE.TaskEither<infer E, unknown> ? E : unknown

/**
 * The value type of a lifted function: the `TaskEither`'s or the Promise's value, or the value itself.
 *
 * @category model
 * @since 0.1.0
 */
export type ValueOf<R> = R extends TE.TaskEither<unknown, infer A> ? A : Awaited<R>

/**
 * Everything a cached function runs on: its function and store, and the part every step chose. A
 * step made with `step` returns the parts it changes; the rest is kept. The engine reads the plan
 * once, when the step is applied, and runs its parts in a fixed order: key, in-process tier, single
 * flight, read, decode, validate; on a miss, compute, serialize, write.
 *
 * @category model
 * @since 0.4.0
 */
export interface Plan {
  /** The user's function; it returns a `TaskEither`, a Promise or a plain value (see `lift`). */
  readonly fn: (this: unknown, ...args: ReadonlyArray<never>) => unknown
  /** `'auto'`: a returned function is a `TaskEither`; `'promise'`: the result is a value or a Promise. */
  readonly lift: 'auto' | 'promise'
  /** Where values are kept. A step may wrap it (to log, to count, to fall back to a second store). */
  readonly store: Store
  /** The function's name in its keys (`{prefix}:{name}:{hash}`); without one, calls run uncached. */
  readonly name: string | undefined
  /** The first part of every key (default `"cache"`). */
  readonly prefix: string
  /** Builds the whole key instead of the default, Python-compatible builder. */
  readonly keyBuilder: KeyBuilder | undefined
  /** How long a written value lives, in whole seconds, or a function of the value. */
  readonly ttlSeconds: number | ((value: never) => number)
  /** How values become bytes (undefined: MessagePack, made when the plan is built). */
  readonly serializer: Serializer | undefined
  /** Checks a value read from the store before it is served (see `withDecoder`). */
  readonly decode: ((value: unknown) => E.Either<CacheError, unknown>) | undefined
  /** The single flight: concurrent calls of one key share one lookup (see `withDedup`). */
  readonly dedup: Dedup | undefined
  /** The in-process tier in front of the store (see `withL1`). */
  readonly l1: L1 | undefined
  /** Makes the lease across replicas for the store the plan ends with (see `withLease`). */
  readonly lease: ((store: Store) => Lease) | undefined
  /** Makes the generations of the keys for the store the plan ends with (see `withGenerations`; `withLease` sets them too). */
  readonly generations: ((store: Store) => Generations) | undefined
  /** The tags a computed value carries, from the call's arguments and the value (see `withTags`). */
  readonly tags: ((args: never, value: never) => ReadonlyArray<string>) | undefined
  /** Tells other replicas of this function's changes and hears theirs (see `withBackplane`). */
  readonly backplane: Bus | undefined
  /** Stale values for a failing function (see `withFailSafe`). */
  readonly failSafe: FailSafe | undefined
  /** How long callers wait for the function on a miss (see `withTimeouts`). */
  readonly timeouts: Timeouts | undefined
  /** When a hit starts a background refresh (see `withRefreshAhead`). */
  readonly refreshAhead: RefreshAhead | undefined
  /** The fraction each write's TTL is spread by; 0 for none. */
  readonly jitter: number
  /** Whether a miss answers its callers before its write has landed (see `withBackgroundWrites`). */
  readonly backgroundWrites: boolean
  /** Where the ages of entries come from (fail-safe, refresh ahead). */
  readonly clock: Clock
  /** Every sink that records hits, misses, writes and errors. */
  readonly metrics: ReadonlyArray<CacheMetrics>
  /**
   * Set: a cache failure is reported here and the call runs the function uncached (a failed write
   * still returns the computed value). Unset: the failure is the call's result (see `orElseUncached`).
   */
  readonly onCacheError: ErrorReporter | undefined
  /** Spans for every call when set (see `withTracing`). */
  readonly tracer: Tracer | undefined
  /** The wrappers of the whole call, innermost first (see `around`). */
  readonly around: ReadonlyArray<Around>
  /** The wrappers of the function's computation, innermost first (see `aroundCompute`). */
  readonly compute: ReadonlyArray<ComputeWrapper>
  /**
   * Keys of a step's own that belong to each value key (`(key) => \`${key}:mine\``): an
   * invalidation deletes them with the value. They must never be value keys of another function.
   */
  readonly companions: ReadonlyArray<(key: string) => string>
}

export type { Compute, Computation, Computed } from './parts.js'

/**
 * A wrapper of the function's computation, as a plan keeps it: given the computation inside it and
 * the finished plan (as every step left it), the computation to run instead.
 *
 * @category model
 * @since 0.4.0
 */
export type ComputeWrapper = (next: Compute, plan: Plan) => Compute

/**
 * One call, as a wrapper made with `around` sees it.
 *
 * @category model
 * @since 0.4.0
 */
export interface Invocation<Args extends ReadonlyArray<unknown>, E, A> {
  readonly args: Args
  /** The call's `this` (a method's receiver; the function gets it when it runs). */
  readonly self: unknown
  /** The key the cache reads and writes for these arguments, or why there is none. */
  readonly key: () => E.Either<CacheError, string>
  /** The rest of the pipeline for this call (the cache, and every wrapper applied before this one). */
  readonly proceed: TE.TaskEither<E, A>
  /** The plan the call runs. */
  readonly plan: Plan
}

/**
 * A wrapper of the whole call, as a plan keeps it.
 *
 * @category model
 * @since 0.4.0
 */
export type Around = (call: Invocation<ReadonlyArray<unknown>, unknown, unknown>) => TE.TaskEither<unknown, unknown>

/**
 * A step that keeps the types: what `step` makes.
 *
 * @category model
 * @since 0.4.0
 */
export type Step = <Args extends ReadonlyArray<unknown>, E, A>(self: Cached<Args, E, A>) => Cached<Args, E, A>

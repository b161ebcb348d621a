/**
 * What the engine runs on: the recipe a pipeline's combinators resolved, one call's lookup of one
 * key, and the small steps every part of a call shares (decoding, the TTL, the in-process tier, a
 * cache failure counted, background work kept). The order of a call's steps is in `engine.ts`.
 */
import type { Tracer } from '@opentelemetry/api'
import * as E from 'fp-ts/lib/Either.js'
import type { CacheError } from '../CacheError.js'
import * as CE from '../CacheError.js'
import type { Clock } from '../Clock.js'
import type { Dedup } from '../Dedup.js'
import type { ErrorReporter } from '../Logger.js'
import type { CacheMetrics, MetricsContext } from '../Metrics.js'
import type { SafeSerializer } from '../Serializer.js'
import type { Store } from '../Store.js'
import type { Fence } from './fence.js'
import type { Batch } from './batch.js'
import { MAX_INT32 } from './options.js'
import type { Bus, Compute, FailSafe, Generations, L1, Lease, RefreshAhead, Timeouts } from './parts.js'
import type { SyncReads, SyncWrites } from './sync.js'
import type { CallSpan } from './tracing.js'

/** Builds the key for one call's arguments (a class per kind of builder: see `sync.ts` for why). */
export interface Keys {
  keyOf(args: ReadonlyArray<unknown>): E.Either<CacheError, string>
}

/** What the engine runs: everything a pipeline's combinators decided, resolved. */
export interface Recipe {
  /** The user's function; returns a `TaskEither`, a Promise, or a plain value (see `lift`). */
  readonly fn: (this: unknown, ...args: ReadonlyArray<never>) => unknown
  /** `'auto'`: a returned function is a `TaskEither`; `'promise'`: the result is a value or a Promise. */
  readonly lift: 'auto' | 'promise'
  /** The function inside the wrappers the steps put around its computation, if any. */
  readonly compute: Compute | undefined
  /** Keys of the steps' own that belong to each value key: an invalidation deletes them with it. */
  readonly companions: ReadonlyArray<(key: string) => string>
  readonly store: Store
  /** The store's synchronous reads and writes, where it has them (see `sync.ts`). */
  readonly reads: SyncReads | undefined
  readonly writes: SyncWrites | undefined
  readonly name: string | undefined
  readonly keys: Keys
  readonly ttlSeconds: number | ((value: unknown) => number)
  readonly serializer: SafeSerializer
  readonly decode: ((value: unknown) => E.Either<CacheError, unknown>) | undefined
  readonly dedup: Dedup | undefined
  /** Keeps a computation that began before an invalidation from storing its value. */
  readonly fence: Fence
  /** The in-process tier, read before anything else and filled by every store hit and write. */
  readonly l1: L1 | undefined
  /** Single flight and invalidation across replicas, through the store; per process without it. */
  readonly lease: Lease | undefined
  /** The keys' generations: an invalidation here wins over a computation under way on another replica. */
  readonly generations: Generations | undefined
  /** The first part of every key, and of the tag indexes' keys. */
  readonly prefix: string
  /** The tags a computed value carries: its key joins their indexes before it is written. */
  readonly tags: ((args: ReadonlyArray<unknown>, value: unknown) => unknown) | undefined
  /** The backplane: every write and invalidation is published, and other replicas' are heard. */
  readonly backplane: Bus | undefined
  /**
   * With a backplane, when each key's last write of this process landed (`performance.now()`): a
   * write that landed shortly before another replica's invalidation was heard may hold a value
   * computed before it, and is deleted then (see `internal/backplane.ts`).
   */
  readonly landed: Map<string, number> | undefined
  /** `context` with `tier: 'l1'`, for hits the in-process tier served. */
  readonly l1Context: MetricsContext
  readonly metrics: CacheMetrics
  /** Whether anything records latencies (when not, no clock is read). */
  readonly timed: boolean
  /** Passed with every metrics record: which function, which store. */
  readonly context: MetricsContext
  /** Records a call that joined a flight, when a sink wants to know (made once per recipe). */
  readonly coalesced: ((key: string) => void) | undefined
  /** Spans for every call when set; nothing at all when not. */
  readonly tracer: Tracer | undefined
  /** Set: cache failures are reported here and the call runs uncached. Unset: they are the result. */
  readonly onCacheError: ErrorReporter | undefined
  /** Stale values for failures and timeouts, and the throttle of a failing function. */
  readonly failSafe: FailSafe | undefined
  /** How long callers wait for the function on a miss. */
  readonly timeouts: Timeouts | undefined
  /** When a hit starts a background refresh. */
  readonly refreshAhead: RefreshAhead | undefined
  /** The fraction each write's TTL is spread by; 0 for none. */
  readonly jitter: number
  /**
   * Whether an untraced miss answers as soon as its value is computed, before its write has landed:
   * background writes were asked for, under a single flight (which keeps the key until the write is
   * done), without a lease (which is held until the write lands, for the replicas waiting on it),
   * and with recovery from cache failures (a strict recipe must return a failed write).
   */
  readonly backgroundWrites: boolean
  /** Where the ages of entries come from. */
  readonly clock: Clock
  /** Whether each value gets its companion entry, `<key>:meta` (fail-safe or refresh ahead). */
  readonly keepsMeta: boolean
  /**
   * Work no caller waits for, one per key: refreshes ahead, computations past their timeouts. It
   * lands with an outcome, or with undefined when it made none (another replica refreshed the key).
   */
  readonly background: Map<string, Promise<Outcome | undefined>>
  /**
   * The writes still on their way to the store, one per key, each with what follows it (the check
   * that no invalidation came meanwhile, and the delete if one did): an invalidation of the key waits
   * for it, so that once it is done no write begun before it can land. For computations whose
   * callers were answered early (background writes), the key's flight waits for it too.
   */
  readonly landings: Map<string, Promise<unknown>>
}

/** What a call ends with: the function's failure or the value. */
export type Outcome = E.Either<unknown, unknown>

/** One call's lookup of one key: what every step after the key is built needs. */
export interface Lookup {
  readonly recipe: Recipe
  readonly key: string
  /** The function's `this` and arguments, for computing. */
  readonly self: unknown
  readonly args: ReadonlyArray<unknown>
  /** The call's spans, when it is traced. */
  readonly call: CallSpan | undefined
  /** The in-process tier's ticket, taken before the store was read (0 without a tier). */
  readonly ticket: number
  /** How many of this lookup's computations another replica's invalidation overtook (see `afterWrite`). */
  readonly overtaken?: number | undefined
  /** The tags whose indexes this lookup's key joined before its write (see `internal/tags.ts`). */
  readonly tags?: ReadonlyArray<string> | undefined
  /** The miss of this lookup, when a wrapper of the computation may still answer it as a hit of its own. */
  readonly miss?: PendingMiss | undefined
  /** The `many` call this lookup is part of: its first read and its write go out with the others'. */
  readonly batch?: Batch | undefined
}

/**
 * A miss whose count waits for the computation: a wrapper made with `aroundCompute` may answer it
 * from an entry of its own (`Computation.ownHit`), and then it is that wrapper's kind of hit, not a
 * miss. Counted at most once: when the computation is done, or when the lookup is.
 */
export class PendingMiss {
  private open = true

  constructor(
    private readonly recipe: Recipe,
    private readonly key: string,
    private readonly latencyMs: number,
  ) {}

  /** A wrapper answered: no miss. */
  claim(): void {
    this.open = false
  }

  /** Counts the miss, unless it was counted or claimed already. */
  record(): void {
    if (!this.open) return
    this.open = false
    this.recipe.metrics.recordMiss(this.key, this.latencyMs, this.recipe.context)
  }
}

/**
 * Counts the miss of `at` now, or defers it to the computation when a wrapper of the computation
 * may answer as a hit of its own: the lookup to carry on with.
 */
export const missOf = (at: Lookup, latencyMs: number): Lookup => {
  const { recipe } = at
  if (!recipe.timed) return at
  if (recipe.compute === undefined) {
    recipe.metrics.recordMiss(at.key, latencyMs, recipe.context)
    return at
  }
  return { ...at, miss: new PendingMiss(recipe, at.key, latencyMs) }
}

/** The TTL when it does not depend on the value; otherwise a day, for keys that must outlive any entry. */
export const ttlOr = (recipe: Recipe): number => (typeof recipe.ttlSeconds === 'number' ? recipe.ttlSeconds : 86_400)

/** The TTL for `value`: a positive whole number of seconds, or the error that says what was wrong. */
export const ttlFor = (recipe: Recipe, value: unknown): number | E.Left<CacheError> => {
  let ttl: unknown
  try {
    ttl = typeof recipe.ttlSeconds === 'number' ? recipe.ttlSeconds : recipe.ttlSeconds(value)
  } catch (failure) {
    // The user's TTL function threw: a cache failure of this value (not stored), never a rejection.
    return { _tag: 'Left', left: CE.invalidOptions('ttlSeconds', CE.NOT_SHOWN, `a function that returns a number of seconds; it threw ${String(failure)}`) }
  }
  return typeof ttl === 'number' && Number.isSafeInteger(ttl) && ttl > 0 && ttl <= MAX_INT32
    ? ttl
    : { _tag: 'Left', left: CE.invalidOptions('ttlSeconds', ttl, 'a positive integer number of seconds, at most 2147483647') }
}

/** Keeps a value just read or written in the in-process tier, if there is one. */
export const fillL1 = (recipe: Recipe, key: string, value: unknown, sizeBytes: number, ticket: number): void => {
  const ttl = ttlFor(recipe, value)
  if (typeof ttl === 'number') recipe.l1?.fill(key, value, sizeBytes, ttl, ticket)
}

/** Decodes stored bytes and, when the recipe has a decoder, validates them. */
export const read = (recipe: Recipe, bytes: Uint8Array): E.Either<CacheError, unknown> => {
  const value = recipe.serializer.tryDeserialize(bytes)
  return recipe.decode === undefined || E.isLeft(value) ? value : recipe.decode(value.right)
}

/**
 * A cache failure on the way: counted and traced; then it is the result (a strict recipe, returned
 * here), or it is reported and the caller recovers (undefined).
 */
export const cacheFailure = (
  recipe: Recipe,
  key: string | undefined,
  error: CacheError,
  call: CallSpan | undefined,
): E.Left<CacheError> | undefined => {
  const located = key === undefined ? error : CE.withKey(key)(error)
  recipe.metrics.recordError(key, located, recipe.context)
  call?.cacheFailure(located)
  if (recipe.onCacheError === undefined) {
    call?.result('error', located)
    return { _tag: 'Left', left: located }
  }
  recipe.onCacheError(key, located)
  call?.result('fallback')
  return undefined
}

/** Keeps `work` as the background work of `key` until it settles, whichever way (counted in `pending()`). */
export const background = (recipe: Recipe, key: string, work: Promise<Outcome | undefined>): void => {
  recipe.background.set(key, work)
  const done = (): void => {
    if (recipe.background.get(key) === work) recipe.background.delete(key)
  }
  work.then(done, done)
}

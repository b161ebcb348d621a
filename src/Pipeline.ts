/**
 * The functional face: lift a function into a cached one, then refine it with data-last combinators.
 *
 * ```ts
 * const getUser = pipe(
 *   loadUser,                 // (id: number) => TaskEither<LoadError, User>
 *   cache(store),             // Cached<[id: number], LoadError | CacheError, User>
 *   withKey('users.get'),
 *   withTtl(300),
 *   withDedup(),
 *   withMetrics(metrics),
 *   orElseUncached(),         // Cached<[id: number], LoadError, User>
 * )
 * ```
 *
 * A `Cached` is a function `(...args) => TaskEither<E, A>` with an `invalidate`. Each combinator
 * returns a new one built from the old one's recipe and one changed part; the order of the steps does
 * not change what a call does (the data flow is fixed, see `internal/engine.ts`), only the types.
 * Without `orElseUncached`, cache failures are values in `E` (as `CacheError`); with it they are
 * counted, reported and recovered from by running the function uncached, so `E` is the function's
 * own error type again. Mutable state (the in-flight map) is made by `withDedup()` when it is applied.
 *
 * @since 0.1.0
 */
import type { Tracer } from '@opentelemetry/api'
import { trace } from '@opentelemetry/api'
import * as E from 'fp-ts/lib/Either.js'
import type * as TE from 'fp-ts/lib/TaskEither.js'
import type { Decoder } from 'io-ts'
import { PathReporter } from 'io-ts/lib/PathReporter.js'
import type { CacheError } from './CacheError.js'
import * as CE from './CacheError.js'
import { dedup } from './Dedup.js'
import { toError } from './errors.js'
import type { Keys, Recipe } from './internal/engine.js'
import { fence } from './internal/fence.js'
import { keepSpare } from './internal/spare.js'
import { syncReads, syncWrites } from './internal/sync.js'
import * as engine from './internal/engine.js'
import type { AnyFunction, KeyBuilder, KeyMaker } from './Key.js'
import type { Clock } from './Clock.js'
import { systemClock } from './Clock.js'
import type { LeaseOptions } from './Lease.js'
import type { FailSafe, L1, RefreshAhead, Timeouts } from './internal/parts.js'
import { lease } from './Lease.js'
import { checkKey, functionName, pythonKeys } from './Key.js'
import { checkOption, clockCodec, keyBuilderCodec, keyPart, loggerCodec, metricsSinkCodec, seconds, serializerCodec, tracerCodec } from './internal/options.js'
import { guarded } from './internal/guardedStore.js'
import type { ErrorReporter, Logger } from './Logger.js'
import { cacheWarnings } from './Logger.js'
import type { CacheMetrics } from './Metrics.js'
import { combineMetrics } from './Metrics.js'
import type { Serializer } from './Serializer.js'
import { msgpackSerializer, toSafe } from './Serializer.js'
import type { Store } from './Store.js'

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
   * How many lookups are in flight in its single flight (always 0 without `withDedup`), plus the
   * background work no caller waits for (a refresh ahead, a computation past its timeout, a write
   * of `withBackgroundWrites` that its flight no longer holds).
   */
  readonly pending: () => number
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

/** What a combinator changes; the rest of the recipe is kept. */
export interface Parts {
  readonly name: string | undefined
  readonly prefix: string
  readonly keyBuilder: KeyBuilder | undefined
  readonly ttlSeconds: number | ((value: never) => number)
  /** Undefined for the default, MessagePack, made when the pipeline is built (not for a recipe that replaces it). */
  readonly serializer: Serializer | undefined
  readonly decode: ((value: unknown) => E.Either<CacheError, unknown>) | undefined
  readonly dedup: ReturnType<typeof dedup> | undefined
  readonly l1: L1 | undefined
  /** Options of the lease across replicas; the lease itself is made for the store at build. */
  readonly lease: LeaseOptions | undefined
  readonly failSafe: FailSafe | undefined
  readonly timeouts: Timeouts | undefined
  readonly refreshAhead: RefreshAhead | undefined
  /** The fraction each write's TTL is spread by; 0 for none. */
  readonly jitter: number
  /** Whether a miss answers its callers before its write has landed (see `withBackgroundWrites`). */
  readonly backgroundWrites: boolean
  /** Where the ages of entries come from (fail-safe, refresh ahead). */
  readonly clock: Clock
  readonly metrics: ReadonlyArray<CacheMetrics>
  readonly onCacheError: ErrorReporter | undefined
  readonly tracer: Tracer | undefined
}

/** A whole recipe before it is built; the Promise facade starts from one too. */
export interface Definition extends Parts {
  readonly fn: Recipe['fn']
  readonly lift: Recipe['lift']
  readonly store: Store
}

const DEFINITION = Symbol('dapr-state-cache/definition')
const RECIPE = Symbol('dapr-state-cache/recipe')

/**
 * The recipe a cached function runs, for the Promise facade: it calls the engine with it itself
 * (`engine.runNow`), without the `TaskEither` thunk, and gets the outcome at once when it is known.
 */
export const recipeOf = (cached: Cached<ReadonlyArray<unknown>, unknown, unknown>): Recipe => (cached as unknown as { [RECIPE]: Recipe })[RECIPE]

const DEFAULT_TTL_SECONDS = 3600
const DEFAULT_PREFIX = 'cache'

// -------------------------------------------------------------------------------------
// internal
// -------------------------------------------------------------------------------------

const fail = (error: CacheError): never => {
  throw toError(error)
}

/** The keys of a function without a name: none, and the call runs uncached. */
class Unnamed implements Keys {
  private readonly missing = E.left(CE.keyError('the cached function has no name: give it one with `withKey(name)` (anonymous functions have none)'))

  keyOf(): E.Either<CacheError, string> {
    return this.missing
  }
}

/** The default, Python-compatible keys of the function called `name`. */
class Named implements Keys {
  constructor(
    private readonly maker: KeyMaker,
    private readonly name: string,
  ) {}

  keyOf(args: ReadonlyArray<unknown>): E.Either<CacheError, string> {
    return this.maker.tryBuildKey(this.name, args)
  }
}

/** Keys from the user's own builder, checked; a throw is a `KeyError` for that call. */
class Custom implements Keys {
  constructor(
    private readonly builder: KeyBuilder,
    private readonly name: string,
  ) {}

  keyOf(args: ReadonlyArray<unknown>): E.Either<CacheError, string> {
    try {
      return checkKey(this.builder.buildKey(this.name, args))
    } catch (cause) {
      return E.left(CE.keyError(`the custom key builder failed: ${String(cause)}`, { cause }))
    }
  }
}

const keysOf = ({ name, keyBuilder, prefix }: Definition): Keys => {
  if (name === undefined) return new Unnamed()
  if (keyBuilder !== undefined) return new Custom(keyBuilder, name)
  keepSpare('Named', () => new Named(pythonKeys('cache'), 'spare'))
  return new Named(pythonKeys(prefix), name)
}

const build = <Args extends ReadonlyArray<unknown>, Err, A>(definition: Definition): Cached<Args, Err, A> => {
  const metrics = combineMetrics(definition.metrics)
  // A store of the user's own that throws instead of answering must not break the call either.
  const store = guarded(definition.store)
  const context = { name: definition.name, store: store.name }
  const recipe: Recipe = {
    fn: definition.fn,
    lift: definition.lift,
    store,
    reads: syncReads(store),
    writes: syncWrites(store),
    name: definition.name,
    keys: keysOf(definition),
    ttlSeconds: definition.ttlSeconds as Recipe['ttlSeconds'],
    serializer: toSafe(definition.serializer ?? msgpackSerializer()),
    decode: definition.decode,
    dedup: definition.dedup,
    fence: fence(),
    l1: definition.l1,
    lease: definition.lease === undefined ? undefined : lease(store, definition.lease),
    failSafe: definition.failSafe,
    timeouts: definition.timeouts,
    refreshAhead: definition.refreshAhead,
    jitter: definition.jitter,
    backgroundWrites:
      definition.backgroundWrites && definition.dedup !== undefined && definition.lease === undefined && definition.onCacheError !== undefined,
    clock: definition.clock,
    keepsMeta: definition.failSafe !== undefined || definition.refreshAhead !== undefined,
    background: new Map(),
    landings: new Map(),
    l1Context: { ...context, tier: 'l1' },
    metrics,
    timed: definition.metrics.length > 0,
    context,
    coalesced: metrics.recordCoalesced === undefined ? undefined : (key) => metrics.recordCoalesced?.(key, context),
    tracer: definition.tracer,
    onCacheError: definition.onCacheError,
  }
  const cached = function (this: unknown, ...args: Args) {
    return () => engine.run(recipe, this, args)
  } as Cached<Args, Err, A>
  Object.defineProperty(cached, 'invalidate', {
    value: (...args: Args) => () => engine.invalidate(recipe, args),
  })
  Object.defineProperty(cached, 'pending', { value: () => pending(recipe) })
  Object.defineProperty(cached, RECIPE, { value: recipe })
  Object.defineProperty(cached, DEFINITION, { value: definition })
  if (definition.name !== undefined) Object.defineProperty(cached, 'name', { value: definition.name })
  return cached
}

/**
 * Keys with work under way: in the single flight, in the background, or a background write that
 * neither holds any more (its flight was invalidated, or its callers stopped waiting at a timeout).
 */
const pending = (recipe: Recipe): number => {
  let writes = 0
  for (const key of recipe.landings.keys()) if (recipe.dedup?.join(key) === undefined && !recipe.background.has(key)) writes++
  return (recipe.dedup?.size() ?? 0) + recipe.background.size + writes
}

const definitionOf = (cached: unknown): Definition => {
  const definition =
    typeof cached === 'function' ? (cached as unknown as { [DEFINITION]?: Definition })[DEFINITION] : undefined
  return definition ?? fail(CE.invalidOptions('self', cached, 'a function made by `cache(store)`'))
}

/** A combinator that changes part of the recipe: the building block of every `with*` step. */
export const refine =
  (patch: (definition: Definition) => Partial<Parts>) =>
  <Args extends ReadonlyArray<unknown>, Err, A>(self: Cached<Args, Err, A>): Cached<Args, Err, A> => {
    const definition = definitionOf(self)
    return build({ ...definition, ...patch(definition) })
  }

// -------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------

/**
 * Lifts a function into a cached one over `store`. The function may return a `TaskEither`, a
 * Promise or a plain value (a returned function is taken to be a `TaskEither`). Defaults: the
 * function's own name, prefix `"cache"`, one hour, MessagePack, no single flight, no metrics, and
 * cache failures surfaced as `CacheError` values in the error channel.
 *
 * @category constructors
 * @since 0.1.0
 */
export const cache =
  (store: Store) =>
  <Args extends ReadonlyArray<unknown>, R>(f: (...args: Args) => R): Cached<Args, ErrorOf<R> | CacheError, ValueOf<R>> =>
    build(define(store, f, 'auto'))

/** The starting recipe for `f`, shared by `cache` and the Promise facade. */
export const define = (store: Store, f: AnyFunction, lift: Recipe['lift']): Definition => {
  if (typeof f !== 'function') fail(CE.invalidOptions('fn', f, 'a function'))
  if (!isStore(store)) fail(CE.invalidOptions('store', store, 'a Store (an object with get, set and delete)'))
  return {
    fn: f as Recipe['fn'],
    lift,
    store,
    name: functionName(f),
    prefix: DEFAULT_PREFIX,
    keyBuilder: undefined,
    ttlSeconds: DEFAULT_TTL_SECONDS,
    serializer: undefined,
    decode: undefined,
    dedup: undefined,
    l1: undefined,
    lease: undefined,
    failSafe: undefined,
    timeouts: undefined,
    refreshAhead: undefined,
    jitter: 0,
    backgroundWrites: false,
    clock: systemClock,
    metrics: [],
    onCacheError: undefined,
    tracer: undefined,
  }
}

const isStore = (u: unknown): u is Store =>
  typeof u === 'object' &&
  u !== null &&
  typeof (u as Store).get === 'function' &&
  typeof (u as Store).set === 'function' &&
  typeof (u as Store).delete === 'function'

/** Builds a `Cached` from a finished recipe: for the Promise facade. */
export const fromDefinition = build

// -------------------------------------------------------------------------------------
// combinators
// -------------------------------------------------------------------------------------

/**
 * @category model
 * @since 0.1.0
 */
export interface KeyOptions {
  /** The first part of every key (default `"cache"`). */
  readonly prefix?: string | undefined
  /** Builds the whole key instead of the default builder; `prefix` is then unused. */
  readonly keyBuilder?: KeyBuilder | undefined
}

/**
 * Names the cached function in its keys (`{prefix}:{name}:{hash}`): use the Python library's
 * `module.qualname` to share entries with a Python service.
 *
 * @category combinators
 * @since 0.1.0
 */
export const withKey = (name: string, options: KeyOptions = {}) => {
  const checkedName = checkOption('name', keyPart, name)
  const prefix = options.prefix === undefined ? DEFAULT_PREFIX : checkOption('keyPrefix', keyPart, options.prefix)
  const keyBuilder = options.keyBuilder === undefined ? undefined : checkOption('keyBuilder', keyBuilderCodec, options.keyBuilder)
  return refine(() => ({ name: checkedName, prefix, keyBuilder }))
}

/**
 * How long a written value lives, in whole seconds: a number, or a function of the value (so that,
 * say, an empty result can live shorter than a full one).
 *
 * @category combinators
 * @since 0.1.0
 */
export function withTtl(
  ttlSeconds: number,
): <Args extends ReadonlyArray<unknown>, Err, A>(self: Cached<Args, Err, A>) => Cached<Args, Err, A>
export function withTtl<A>(
  ttlSeconds: (value: A) => number,
): <Args extends ReadonlyArray<unknown>, Err, B extends A>(self: Cached<Args, Err, B>) => Cached<Args, Err, B>
export function withTtl(ttlSeconds: number | ((value: never) => number)) {
  if (typeof ttlSeconds !== 'function') checkOption('ttlSeconds', seconds, ttlSeconds)
  return refine(() => ({ ttlSeconds }))
}

/**
 * Concurrent calls with the same key share one read, one computation and one write. The in-flight
 * map is made here, when the step is applied.
 *
 * @category combinators
 * @since 0.1.0
 */
export const withDedup = () => refine(() => ({ dedup: dedup() }))

/**
 * A miss answers its callers as soon as the value is computed, and its write goes on in the
 * background: the key's single flight stays open until the write has landed, so calls meanwhile
 * join it (no second read or computation), `pending()` counts it, and an invalidation waits for it
 * (the write is dropped once it lands). It spares a miss one write to the store (a store that
 * writes at once, like the memory store, has none to put off); in exchange, after
 * a call returns its value may not be in the store yet, and a failed write is counted after it. It
 * applies where a failed write cannot be the result: with `withDedup` and `orElseUncached`, and to
 * untraced calls (a traced call's span covers its write). With `withLease` a miss still waits for
 * its write: the lease is held until then, so that the replicas waiting for it find the value.
 *
 * @category combinators
 * @since 0.3.0
 */
export const withBackgroundWrites = () => refine(() => ({ backgroundWrites: true }))

/**
 * Sends hits, misses, writes and errors to `metrics`. Applied more than once, every sink records.
 *
 * @category combinators
 * @since 0.1.0
 */
export const withMetrics = (metrics: CacheMetrics) => {
  checkOption('metrics', metricsSinkCodec, metrics)
  return refine((definition) => ({ metrics: [...definition.metrics, metrics] }))
}

/**
 * How values become bytes and back (default: MessagePack).
 *
 * @category combinators
 * @since 0.1.0
 */
export const withSerializer = (serializer: Serializer) => {
  checkOption('serializer', serializerCodec, serializer)
  return refine(() => ({ serializer }))
}

/**
 * Validates every cached value with an io-ts decoder before it is served. A value that fails is
 * counted as a `ValidationError`, recomputed and overwritten, so a deploy that changes a type never
 * serves the old shape. The result takes the decoder's type.
 *
 * @category combinators
 * @since 0.1.0
 */
export const withDecoder = <A>(decoder: Decoder<unknown, A>) => {
  if (typeof decoder?.decode !== 'function') {
    fail(CE.invalidOptions('decoder', decoder, 'an io-ts decoder'))
  }
  const decode = (value: unknown): E.Either<CacheError, unknown> => {
    const result = decoder.decode(value)
    return E.isRight(result)
      ? result
      : E.left(CE.validationError(`the cached value does not match the decoder: ${PathReporter.report(result).join('; ')}`))
  }
  return <Args extends ReadonlyArray<unknown>, Err>(self: Cached<Args, Err, A>): Cached<Args, Err, A> =>
    refine(() => ({ decode }))(self)
}

/**
 * Traces every call: a span per call (`cache <name>`, with `cache.result` = hit, miss, fallback,
 * error or coalesced) and child spans for each store round trip and for the computation on a miss.
 * The tracer defaults to the global one (`@opentelemetry/api`, a no-op until the application
 * registers an SDK). Without this step the engine makes no span and sets no attribute at all.
 *
 * @category combinators
 * @since 0.1.0
 */
export const withTracing = (tracer: Tracer = trace.getTracer('dapr-state-cache')) => {
  checkOption('tracer', tracerCodec, tracer)
  return refine(() => ({ tracer }))
}

/**
 * Where time comes from for the ages of entries (fail-safe's staleness, refresh ahead's age, the
 * companion entries' write times): default the system clock. For tests, a `manualClock`.
 *
 * @category combinators
 * @since 0.3.0
 */
export const withClock = (clock: Clock) => {
  const checkedClock = checkOption('clock', clockCodec, clock)
  return refine(() => ({ clock: checkedClock }))
}

/**
 * @category model
 * @since 0.1.0
 */
export interface FallbackOptions {
  /** Where warnings go (default `console`); they are rate-limited per error code. */
  readonly logger?: Logger | undefined
  /** Replaces the warnings altogether: called once per cache failure. */
  readonly onError?: ErrorReporter | undefined
}

/**
 * Best effort: a cache failure (key, read, decode, validation, write) is counted, reported, and the
 * call runs the function uncached instead (a failed write still returns the computed value). The
 * function's own failures are untouched: never swallowed, never cached. `CacheError` leaves the
 * error type (a `FunctionTimeout` from `withTimeouts`, which is not a failure of the cache, stays).
 *
 * @category combinators
 * @since 0.1.0
 */
export const orElseUncached = (options: FallbackOptions = {}) => {
  if (options.logger !== undefined) checkOption('logger', loggerCodec, options.logger)
  const onCacheError = options.onError ?? cacheWarnings({ logger: options.logger })
  return <Args extends ReadonlyArray<unknown>, Err, A>(
    self: Cached<Args, Err, A>,
  ): Cached<Args, Exclude<Err, CacheError>, A> => refine(() => ({ onCacheError }))(self) as Cached<Args, Exclude<Err, CacheError>, A>
}
